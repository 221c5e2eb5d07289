"""Off-screen pictures of a finished MTZ-FEM run.

Reads the results directory written by the solver (``fields/snapshot.vtu``,
``fields/snapshot.json``, ``probes.csv``) and writes PNG files into
``<result_dir>/renders/``. Nothing inside ``fields/`` is ever modified.

All pictures are made off screen (VTK falls back to software rendering when
there is no display). pyvista and matplotlib are imported lazily inside the
functions so that ``import fem.render`` stays cheap.

Conventions of the input (see the solver's output writer): coordinates in
micrometres, z up, skin surface at z = 0, tissue at z < 0. The metadata next
to the grid gives the treatment pattern (``layout``, ``extent_um``,
``columns_um``, ``mirror``); old files without it have one column on the line
x = y = 0. Symmetry planes listed in ``mirror`` are unfolded for display, so a
quarter cell is shown as the full unit cell, and the vertical cuts go through
the axis of the column nearest the centre of the domain.

:func:`render_all` draws a finished run, :func:`render_mesh` the mesh alone
(``mesh.vtu`` and ``mesh.json``, written by ``mtz mesh``).

Modules, one picture family each:

* :mod:`~fem.render.style`       window size, crop, colours and colour maps
* :mod:`~fem.render.snapshot`    :class:`View`, :class:`Snapshot`, reading the grids
* :mod:`~fem.render.geometry`    the cut, the cropped block, the skin surface, contours
* :mod:`~fem.render.draw`        the drawing toolkit: text, legends, scalar bars, rulers
* :mod:`~fem.render.cuts`        temperature, damage and stress cuts
* :mod:`~fem.render.views3d`     3D overview, isosurfaces, surface displacement
* :mod:`~fem.render.histology`   the H&E-like section
* :mod:`~fem.render.coverage`    the top view of the treated columns
* :mod:`~fem.render.interactive` the interactive 3D page (template ``viewer.html``)
* :mod:`~fem.render.animation`   the temperature GIF
* :mod:`~fem.render.probes`      the probe histories
* :mod:`~fem.render.mesh`        the mesh pictures
* :mod:`~fem.render.study_plots` the metrics of a study against its swept keys
* :mod:`~fem.render.all`         every picture of a run, a mesh or a study

May import: :mod:`fem.output` (file names, small-file writers) and the standard and
scientific libraries (numpy, pyvista/VTK, matplotlib, Pillow); nothing else of :mod:`fem`.
Everything is read from the result files, never from solver objects.
"""

from fem.render.all import render_all, render_mesh, render_study, study_view
from fem.render.snapshot import Snapshot, View, load_mesh, load_snapshot

__all__ = [
    "Snapshot",
    "View",
    "load_mesh",
    "load_snapshot",
    "render_all",
    "render_mesh",
    "render_study",
    "study_view",
]

"""MTZ-FEM: finite elements for fractional laser skin treatment.

The layers, each importing only those below it (``tests/test_architecture.py`` checks it):

* :mod:`fem.cli` (the ``mtz`` command) and :mod:`fem.bench` (benchmarks): the top;
* :mod:`fem.run`: one case (driver), sweeps (study), the schedule, the coupled loop,
  staggered mechanics, checkpoints, the mesh of a case;
* :mod:`fem.report` and :mod:`fem.render`: the HTML report and the pictures, from result
  files only;
* :mod:`fem.post` (metrics, probes, calibration) and :mod:`fem.output` (file names, atomic
  files, fields, provenance);
* :mod:`fem.physics`: one equation or law per module (heat, source, cooling, damage,
  mechanics, ...), typed settings in, DOLFINx objects out;
* :mod:`fem.config`: case files -> one typed case in SI, presets with their sources;
* :mod:`fem.solvers` (KSP/AMG, converged-reason checks) and :mod:`fem.parallel` (rank-0
  work, one failure mechanism for all ranks);
* :mod:`meshes` (pure gmsh builders and treatment patterns): the bottom, no ``fem``.

DOLFINx's own ``fem`` module is imported everywhere as ``import dolfinx.fem as dfem``.

The Python interface (:mod:`fem.api`, the top layer with the command line) is reached from
here lazily: ``fem.load_case``, ``fem.run``, ``fem.read_results``, ``fem.load_study``,
``fem.run_study``, ``fem.run_plan``, ``fem.run_calibration``, ``fem.make_mesh``,
``fem.report``; importing ``fem`` alone loads nothing else.
"""

# mpi4py must be imported before dolfinx/petsc4py (the mpich wheel provides libmpi).
import mpi4py.MPI  # noqa: F401

__version__ = "0.1.0"

_API = ("Result", "Results", "load_case", "load_study", "make_mesh", "read_results", "report",
        "run_calibration", "run_plan", "run_study")


def __getattr__(name: str):
    """``fem.<name>`` for the names of the Python interface, imported on first use;
    ``fem.run`` is the package :mod:`fem.run`, which called runs a case (``fem.api.run``)."""
    if name in _API:
        from fem import api

        return getattr(api, name)
    if name == "run":
        import fem.run

        return fem.run
    raise AttributeError(f"module 'fem' has no attribute {name!r}")

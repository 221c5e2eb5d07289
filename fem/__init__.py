"""MTZ-FEM: finite elements for fractional laser skin treatment.

Modules, one job each:

* :mod:`fem.config`   case files (TOML, units in key names) -> validated :class:`~fem.config.Case` in SI
* :mod:`fem.presets`  skin, laser and kinetics presets with their sources
* :mod:`fem.source`   Gaussian-beam Beer-Lambert laser source, energy-exact
* :mod:`fem.heat`     the Pennes bioheat problem (forms, solvers, energy ledger)
* :mod:`fem.damage`   Arrhenius damage integrals (log form)
* :mod:`fem.mechanics` eigenstrain elasticity, tightening
* :mod:`fem.coupled`  time schedule and the heat + damage loop
* :mod:`fem.metrics`  MTZ metrics from the damage contours
* :mod:`fem.probes`   parallel point evaluation
* :mod:`fem.io`       result files, snapshot, provenance
* :mod:`fem.render`   pyvista renders;  :mod:`fem.report` the HTML report
* :mod:`fem.driver`   one case end to end;  :mod:`fem.cli` the ``mtz`` command
"""

# mpi4py must be imported before dolfinx/petsc4py (the mpich wheel provides libmpi).
import mpi4py.MPI  # noqa: F401

__version__ = "0.1.0"

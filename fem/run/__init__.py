"""Running cases: one case end to end (:mod:`~fem.run.driver`), sweeps of cases
(:mod:`~fem.run.study`, :mod:`~fem.run.slurm`), the time schedule (:mod:`~fem.run.schedule`),
the coupled heat + damage loop (:mod:`~fem.run.coupled`), staggered mechanics
(:mod:`~fem.run.staggered`), checkpoints (:mod:`~fem.run.checkpoint`), the mesh of a case
(:mod:`~fem.run.mesh`) and the physics problems of a case (:mod:`~fem.run.problems`).

May import every layer below: render and report (to draw a finished case), post, output,
physics, config, solvers, parallel and meshes.
"""

import sys
import types


class _RunModule(types.ModuleType):
    """``fem.run`` is this package and, called, the Python interface's :func:`fem.api.run`
    (``fem.run(case, out)``): importing any ``fem.run.<module>`` binds the package as the
    attribute ``run`` of ``fem``, so the function could not live under that name otherwise."""

    def __call__(self, *args, **kwargs):
        from fem.api import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _RunModule

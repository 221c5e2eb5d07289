"""Running cases: one case end to end (:mod:`~fem.run.driver`), sweeps of cases
(:mod:`~fem.run.study`, :mod:`~fem.run.slurm`), the time schedule (:mod:`~fem.run.schedule`),
the coupled heat + damage loop (:mod:`~fem.run.coupled`), staggered mechanics
(:mod:`~fem.run.staggered`), checkpoints (:mod:`~fem.run.checkpoint`), the mesh of a case
(:mod:`~fem.run.mesh`) and the physics problems of a case (:mod:`~fem.run.problems`).

May import every layer below: render and report (to draw a finished case), post, output,
physics, config, solvers, parallel and meshes.
"""

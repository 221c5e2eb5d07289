"""Post-processing of a solved case: point probes (:mod:`~fem.post.probes`), the MTZ metrics
from the damage contours (:mod:`~fem.post.metrics`), the comparison with histology
(:mod:`~fem.post.calibration`) and the warnings for runs that look wrong
(:mod:`~fem.post.sanity`).

May import :mod:`fem.config`, :mod:`fem.physics` (constants), :mod:`fem.output` and
:mod:`meshes`; never the run layer.
"""

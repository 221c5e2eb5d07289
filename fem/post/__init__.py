"""Post-processing of a solved case: point probes (:mod:`~fem.post.probes`), the MTZ metrics
from the damage contours (:mod:`~fem.post.metrics`) and the comparison with histology
(:mod:`~fem.post.calibration`).

May import :mod:`fem.config`, :mod:`fem.physics` (constants), :mod:`fem.output` and
:mod:`meshes`; never the run layer.
"""

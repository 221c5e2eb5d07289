"""Result files: every file name (:mod:`~fem.output.names`), atomic small files
(:mod:`~fem.output.files`), fields for ParaView and the pictures (:mod:`~fem.output.fields`)
and provenance (:mod:`~fem.output.provenance`).

May import: :mod:`fem.parallel` and the standard/scientific libraries; nothing of the physics,
the configuration or the run (writers take plain values, arrays and DOLFINx functions).
"""

"""Self-contained HTML reports of a finished run and of a parameter study.

The pages use inline CSS only and reference the pictures by relative paths
(``renders/*.png``), so they open in a plain browser without network access
and keep working when the results directory is moved or archived.

Modules:

* :mod:`~fem.report.page`     units, number formatting, HTML helpers, CSS, the page write
* :mod:`~fem.report.captions` the captions of the pictures and their order
* :mod:`~fem.report.case`     the report of one case, :func:`write_report`
* :mod:`~fem.report.study`    the report of a study, :func:`write_study_report`

May import: :mod:`fem.output` (file names, small-file writers), :mod:`fem.render` (the caption
colour names and crop of :mod:`fem.render.style`, and :func:`fem.render.render_study`) and the
standard library; nothing else of :mod:`fem`. Everything is read from the result files.
"""

from fem.report.case import write_report
from fem.report.study import write_study_report

__all__ = ["write_report", "write_study_report"]

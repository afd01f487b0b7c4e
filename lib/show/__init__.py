"""What show_results.py and a run's report show: the data of each view read
from the database (history), the terminal views (views), one comparison's table,
verdict and JSON (comparison_view), one run's report in Markdown and JSON
(report), the self-contained HTML page (html_report), and
CSV/JSON exports (export).

May import: lib.core, lib.machine, lib.db, lib.builds, lib.judge, lib.explain.
"""

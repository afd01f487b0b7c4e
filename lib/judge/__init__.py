"""Judging results: statistics and the verdict rule (stats), two runs
compared endpoint by endpoint and metric by metric (compare), the one path
every view takes to a run's comparison with its baseline (comparison), and
series: what is comparable over time, steps and sparklines (series).

May import: lib.core, lib.machine, lib.db, lib.builds.
"""

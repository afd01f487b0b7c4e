"""The machine a run is measured on: which cores each side gets and what else
ran (cpus), whether that spoiled a result (disturbance), a process's CPU and
memory from /proc (procstats), and the machine, load and tool versions stored
with a run (environment).

May import: lib.core.
"""

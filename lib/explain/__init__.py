"""Why an endpoint is slow, failing or crashing: ask it once more alone
(probe), a crash's backtrace under gdb (backtrace), perf recording
(profiler), perf script text to folded stacks (stacks), a run's profiles as
the views show them (profiles), and flame graphs (flamegraph).

May import: lib.core, lib.server, lib.load.
"""

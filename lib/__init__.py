"""hbf-bench's library, in layers. Imports flow one way: a unit imports only
units listed above it here, and each package's __init__ names the ones it
uses ("May import:"). tests/test_layout.py checks both, and that no two
modules import each other in a circle.

Layers, lowest first:
    core         shared vocabulary: refusals, Ctrl-C, text and escaping, console lines, a load result
    machine      the machine: cores and pinning, /proc figures, where a run was measured
    parser.py    ab's text to numbers
    db.py        the results database: all SQL
    server.py    HBF server lifecycle: start, wait, watch, stop
    load         load generators: ab, wrk, the built-in Python engine
    builds       HBF builds and git: the checkout, revisions in a worktree, kept binaries, installing the skill
    judge        statistics and verdicts: comparing results, the one comparison path, series
    explain      why: probes, gdb backtraces, perf profiles, folded stacks, flame graphs
    run          one run top to bottom: flags, plan, measure, store, confirm, bisect
    show         what show_results.py prints: history, views, reports, the HTML page, exports

standin.py is a program of its own (the HBF stand-in for --demo and the
tests): it imports nothing from lib.

The packages' __init__ files hold no code, so importing one module of a
package imports nothing else of it: a view pays only for what it renders.
"""

"""The one base class of every refusal: an error the user must fix, not a bug.

Each module keeps its own subclass (UsageError, SuiteError, DbError, ...), so
its messages stay next to its code, and the scripts and the runner catch them
all as one: print the one line, exit with `exit_code`.
"""
from __future__ import annotations


class BenchError(Exception):
    """A refusal the user must fix; the message is one line naming the
    problem and the fix."""

    exit_code = 2

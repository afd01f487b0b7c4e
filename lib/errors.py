"""The one base class of every refusal: bad input or environment that the
user must fix. Its message is one line naming the problem and the fix; both
scripts print it and exit with its `exit_code`."""
from __future__ import annotations


class BenchError(Exception):
    """A refusal the user must fix; the message is one line naming the problem and the fix."""
    exit_code = 2

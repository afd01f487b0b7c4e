"""Ctrl-C (SIGINT) and SIGTERM as an exception the run can clean up after.

The first signal raises `Interrupted`; later ones are only reported, so the
cleanup they would interrupt always finishes. While a child process is being
spawned (`deferred()`), the exception waits until its Popen object exists:
raised in the middle of Popen, it would leave a child nobody knows the pid of.
"""
from __future__ import annotations

import signal
import sys
from contextlib import contextmanager

_state = {"seen": [], "deferring": 0, "pending": None}


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM arrived; `signum` says which. A
    BaseException like KeyboardInterrupt, so `except Exception` never eats it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum, frame):
    if _state["seen"]:
        print(f"hbf-bench: {signal.Signals(signum).name} again: still stopping servers...",
              file=sys.stderr, flush=True)
        return
    _state["seen"].append(signum)
    print(f"hbf-bench: {signal.Signals(signum).name}: stopping the servers and keeping what finished "
          "(a second one waits for that)", file=sys.stderr, flush=True)
    if _state["deferring"]:
        _state["pending"] = signum
        return
    raise Interrupted(signum)


@contextmanager
def signals_as_exceptions():
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    _state.update(seen=[], deferring=0, pending=None)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def deferred():
    """Hold a signal's exception until the block is done (then raise it)."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
        pending = _state["pending"]
        if pending is not None and not _state["deferring"]:
            _state["pending"] = None
            raise Interrupted(pending)

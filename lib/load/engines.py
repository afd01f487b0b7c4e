"""Pick a load engine, refuse up front an endpoint it cannot measure, and run
it: every engine hands back an EngineRun whose LoadResult looks the same, so
nothing after this cares who measured."""
from __future__ import annotations

import resource
import sys
import time

from lib.load import ab
from lib.load.ab import EngineRun
from lib.core.errors import BenchError

ENGINES = ("auto", "ab", "python", "wrk")


class EngineError(BenchError):
    """The chosen engine cannot run here; the message says how to fix it."""


def resolve(name: str) -> str:
    """'auto' -> ab when installed, else the built-in python engine."""
    if name == "auto":
        if ab.ab_path():
            return "ab"
        print("hbf-bench: ab is not installed, so the built-in Python load engine is measuring "
              "(install ab with `apt-get install apache2-utils` for ab's numbers)",
              file=sys.stderr, flush=True)
        return "python"
    if name == "ab" and not ab.ab_path():
        raise EngineError("ab (ApacheBench) is not installed: `apt-get install apache2-utils` "
                          "(Debian/Ubuntu) or pass --engine python")
    if name == "wrk":
        from lib.load import wrk
        if wrk.wrk_version() is None:
            raise EngineError("wrk is not installed: `apt-get install wrk`, or pass --engine ab|python")
    return name


def check_endpoint(engine: str, endpoint) -> None:
    """Refuse, before anything starts, an endpoint the engine cannot measure
    (wrk and HEAD): the engine itself would only refuse it mid-run."""
    if engine == "wrk":
        from lib.load import wrk
        reason = wrk.unsupported(endpoint.method)
        if reason:
            raise EngineError(f"endpoint {endpoint.name!r}: {reason}")


def version(name: str) -> str | None:
    if name == "ab":
        return ab.ab_version()
    if name == "wrk":
        from lib.load import wrk
        return wrk.wrk_version()
    return "builtin-" + ".".join(map(str, sys.version_info[:3]))


def run(engine: str, url: str, endpoint, *, requests: int, concurrency: int, timeout_s: float,
        keepalive: bool = False, rate: float | None = None, progress=None) -> EngineRun:
    if engine == "ab":
        return ab.run_ab(url, method=endpoint.method, requests=requests, concurrency=concurrency,
                         timeout_s=timeout_s, body=endpoint.body, content_type=endpoint.content_type,
                         headers=endpoint.headers, variable_length=endpoint.variable_length,
                         keepalive=keepalive, progress=progress)
    started = time.monotonic()
    if engine == "python":
        from lib.load import pyload
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        result = pyload.run_load(url, requests=requests, concurrency=concurrency,
                                 method=endpoint.method, body=endpoint.body,
                                 content_type=endpoint.content_type, headers=dict(endpoint.headers),
                                 keepalive=keepalive, timeout_s=timeout_s, rate=rate,
                                 progress=progress)
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
        command = ["builtin-python-engine", endpoint.method, url]
    elif engine == "wrk":
        from lib.load import wrk
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = wrk.run_wrk(url, requests=requests, concurrency=concurrency,
                             method=endpoint.method, body=endpoint.body,
                             content_type=endpoint.content_type, headers=dict(endpoint.headers),
                             timeout_s=timeout_s, keepalive=keepalive)
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = ["wrk", url]
    else:
        raise EngineError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    cpu = (usage_after.ru_utime + usage_after.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    return EngineRun(result=result, command=command, wall_s=time.monotonic() - started,
                     client_cpu_s=cpu)

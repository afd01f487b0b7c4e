"""Limits: absolute bounds an endpoint's stored figure must keep ("p99 at most
50 ms", "at least 500 req/s", "no failed request"), from a suite file or
`--limit`. Unlike a verdict, which asks whether a figure moved against a
baseline, a limit needs no history: a crossed one fails the run on its own.

Pure functions: parsing the two spellings, then checking a result row.
"""
from __future__ import annotations

import fnmatch
import json
import operator
import re
from dataclasses import dataclass

from lib.judge.compare import METRICS, metric_named

# The figure a limit reads from a result row: the judged metrics (their
# stored value is the median of the samples) and `failed`, every request that
# did not get a good answer (failed requests plus non-2xx answers).
FAILED = "failed"
LIMIT_METRICS = tuple(m.name for m in METRICS) + (FAILED,)
# Which way a bare suite bound points: req/s is a floor, the rest ceilings.
LOWER_BOUNDED = {"requests_per_sec"}
OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
# Only measured on a server this tool started (it reads the process's /proc).
NEEDS_OWN_SERVER = {"server_cpu_us_per_req"}
_FLAG = re.compile(r"^(?P<glob>.+):(?P<metric>[A-Za-z0-9_/]+)\s*(?P<op><=|>=|<|>)\s*(?P<bound>\S+)$")
_UNITS = {"p50_ms": "ms", "p99_ms": "ms", "server_cpu_us_per_req": "µs/req", "requests_per_sec": "req/s",
          FAILED: "failed"}


class LimitError(ValueError):
    """A limit that cannot be checked; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class Limit:
    endpoints: str  # a glob over endpoint names and categories, as --only takes them
    metric: str  # one of LIMIT_METRICS
    op: str  # one of OPERATORS
    bound: float
    source: str  # where it was written, for messages: "--limit ..." or "suite FILE"

    def applies_to(self, name: str, category: str) -> bool:
        return fnmatch.fnmatchcase(name, self.endpoints) or fnmatch.fnmatchcase(category, self.endpoints)

    def holds(self, value: float | None) -> bool:
        """A figure that was not measured (a crash leaves no p99) cannot keep a bound."""
        if value is None:
            return False
        return OPERATORS[self.op](value, self.bound)


@dataclass(frozen=True)
class LimitCheck:
    """One limit checked against one result: what the JSON's `limits` lists."""
    metric: str
    op: str
    bound: float
    value: float | None
    passed: bool

    def to_json(self) -> dict:
        return {"metric": self.metric, "op": self.op, "bound": self.bound, "value": self.value,
                "passed": self.passed}


def limit_metric(text: str) -> str | None:
    """A limit's metric from what a user types: --fail-on's names, or `failed`."""
    name = text.strip().lower()
    return FAILED if name in (FAILED, "failed_requests") else metric_named(name)


def _metric_hint() -> str:
    return "req/s, p50, p99, cpu, failed (or " + ", ".join(LIMIT_METRICS[:-1]) + ")"


def parse_flag(text: str) -> Limit:
    """`--limit "/hello:p99<50"`: ENDPOINT-GLOB:METRIC, an operator, a number.
    Messages start with the text itself: argparse names the flag."""
    found = _FLAG.match(text.strip())
    if not found:
        raise LimitError(f"{text!r} is not ENDPOINT-GLOB:METRIC<VALUE or >VALUE "
                         "(e.g. --limit '/hello:p99<50' or --limit '*:req/s>500')")
    metric = limit_metric(found["metric"])
    if metric is None:
        raise LimitError(f"{text!r}: {found['metric']!r} is not a metric a limit can bound; "
                         f"use {_metric_hint()}")
    return Limit(found["glob"].strip(), metric, found["op"], _number(found["bound"], repr(text)),
                 f"--limit {text}")


def parse_table(table, where: str, endpoints: str = "*") -> list[Limit]:
    """A suite's `limits = { p99_ms = 50, requests_per_sec = 500, failed = 0 }`,
    for the whole suite (endpoints "*") or one endpoint (its name): upper
    bounds for latency, CPU and failures, a lower bound for req/s, both inclusive."""
    if not isinstance(table, dict) or not table:
        raise LimitError(f"{where}: 'limits' must be a table like "
                         "{ p99_ms = 50, requests_per_sec = 500, failed = 0 }")
    out = []
    for key, bound in table.items():
        metric = limit_metric(key)
        if metric is None:
            raise LimitError(f"{where}: limits key {key!r} is not a metric a limit can bound; "
                             f"use {_metric_hint()}")
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise LimitError(f"{where}: limit {key} = {bound!r} must be a number")
        out.append(Limit(endpoints, metric, ">=" if metric in LOWER_BOUNDED else "<=",
                         _number(str(bound), f"{where}: limit {key}"), where))
    return out


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LimitError(f"{where}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise LimitError(f"{where}: the bound must be a number 0 or more, not {text}")
    return value


def check_applicable(limits: list[Limit], endpoints, *, own_servers: bool) -> None:
    """Before anything starts: every limit bounds at least one endpoint of the
    suite, with a metric this run measures. Raises LimitError."""
    for limit in limits:
        if not any(limit.applies_to(e.name, e.category) for e in endpoints):
            names = ", ".join(e.name for e in endpoints)
            raise LimitError(f"{limit.source}: {limit.endpoints!r} matches no endpoint of the suite "
                             f"(they are: {names})")
        if limit.metric in NEEDS_OWN_SERVER and not own_servers:
            raise LimitError(f"{limit.source}: server CPU is measured only on servers this tool starts, "
                             "not on a --url server; drop that limit or measure --demo/--binary/a build")


def figure(row: dict, metric: str) -> float | None:
    """The stored figure a limit reads (the median of the samples)."""
    if metric == FAILED:
        if row.get("complete_requests") is None and row.get("failed_requests") is None:
            return None
        return float((row.get("failed_requests") or 0) + (row.get("non_2xx") or 0))
    value = row.get(metric)
    return None if value is None else float(value)


def check(limits: list[Limit], row: dict) -> list[LimitCheck]:
    """Every limit that applies to this result row, checked."""
    out = []
    for limit in limits:
        if limit.applies_to(row["endpoint"], row["category"]):
            value = figure(row, limit.metric)
            out.append(LimitCheck(limit.metric, limit.op, limit.bound, value, limit.holds(value)))
    return out


def crossed_text(endpoint: str, entry: dict) -> str:
    """'/hello p99_ms 57.2 ms, limit <= 50' (endpoint unescaped: the caller escapes it)."""
    value = "not measured" if entry["value"] is None else f"{entry['value']:g} {_UNITS.get(entry['metric'], '')}".rstrip()
    return f"{endpoint} {entry['metric']} {value}, limit {entry['op']} {entry['bound']:g}"


def crossed(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(result row, limit entry) for every stored limit a result did not keep."""
    return [(row, entry) for row in rows for entry in stored(row) if not entry["passed"]]


def stored(row: dict) -> list[dict]:
    """A result row's `limits` column back as the JSON's list of dicts."""
    return json.loads(row["limits"]) if row.get("limits") else []

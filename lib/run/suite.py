"""Suites as data: which endpoints a run measures, read from a TOML file.

The code holds no endpoint list of its own: the seven endpoints of the original
bash tool live in suites/hbf-test-pod.toml. A pod may carry its own suite at
pods/<name>/benchmark.toml in the HBF checkout. Every problem in a suite file
is found before anything starts and named with the file and the entry.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lib.core.errors import BenchError
from lib.judge import limits as limit_rules

SUITES_DIR = Path(__file__).resolve().parents[2] / "suites"  # lib/run/suite.py -> the checkout
DEFAULT_SUITE = SUITES_DIR / "hbf-test-pod.toml"

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
SERVERS = ("normal", "dev")
_TOP_KEYS = {"name", "description", "endpoints", "limits"}
_ENDPOINT_KEYS = {
    "name", "category", "method", "path", "headers", "body", "body_file",
    "content_type", "server", "expect_status", "variable_length", "requests",
    "concurrency", "limits", "setup",
}
_SETUP_KEYS = {"method", "path", "body", "content_type", "count"}
MAX_SETUP_REQUESTS = 100_000
_CATEGORY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SuiteError(BenchError, ValueError):
    """A suite file that cannot be used; the message names file, entry and problem."""


@dataclass(frozen=True)
class SetupRequest:
    """One request of an endpoint's `setup`, sent `count` times before its
    warmup (not measured); "{i}" in path and body counts from 1. Shaped like
    an Endpoint where lib/explain/probe.py reads one, so probe.ask sends it."""
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    count: int = 1
    headers: tuple[tuple[str, str], ...] = ()

    def numbered(self, i: int) -> "SetupRequest":
        body = None if self.body is None else self.body.replace(b"{i}", str(i).encode())
        return SetupRequest(self.method, self.path.replace("{i}", str(i)), body, self.content_type, 1)


@dataclass(frozen=True)
class Endpoint:
    name: str
    category: str
    path: str  # path and query, starting with "/"
    method: str = "GET"
    server: str = "normal"  # "normal" or "dev": which HBF server answers it
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str | None = None
    expect_status: tuple[int, ...] = ()  # empty: any 2xx
    variable_length: bool = False  # ab -l: the body length varies between answers
    requests: int | None = None  # None: the run's --requests
    concurrency: int | None = None  # None: the run's --concurrency
    limits: tuple[limit_rules.Limit, ...] = ()  # its own `limits = {...}` (lib/judge/limits.py)
    setup: tuple[SetupRequest, ...] = ()  # sent before its warmup, not measured

    @property
    def setup_fingerprint(self) -> str | None:
        """What its setup does, in 16 hex digits (None: no setup); stored with
        each result, so results measured over another setup are told apart."""
        if not self.setup:
            return None
        text = json.dumps([[r.method, r.path, (r.body or b"").decode("utf-8", "replace"), r.content_type,
                            r.count] for r in self.setup])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    path: Path
    endpoints: tuple[Endpoint, ...]
    limits: tuple[limit_rules.Limit, ...] = ()  # the suite-wide `limits = {...}`

    @property
    def setup_fingerprint(self) -> str | None:
        """The run's: which endpoints have which setup (None: none has one).
        A comparability field (lib/db.py COMPARABLE_FIELDS): a listing measured
        over 200 seeded files is not compared with one over an empty folder."""
        with_setup = {e.name: e.setup_fingerprint for e in self.endpoints if e.setup}
        if not with_setup:
            return None
        return hashlib.sha256(json.dumps(with_setup, sort_keys=True).encode()).hexdigest()[:16]

    def all_limits(self) -> list[limit_rules.Limit]:
        """The suite's limits and its endpoints' own, as one list."""
        return [*self.limits, *(limit for e in self.endpoints for limit in e.limits)]

    @property
    def servers(self) -> list[str]:
        """Which servers the suite needs, in start order."""
        return [s for s in SERVERS if any(e.server == s for e in self.endpoints)]

    def select(self, patterns: list[str]) -> "Suite":
        """Keep endpoints whose category or name matches any glob in patterns."""
        if not patterns:
            return self
        kept = tuple(e for e in self.endpoints
                     if any(fnmatch.fnmatchcase(e.category, p) or fnmatch.fnmatchcase(e.name, p)
                            for p in patterns))
        if not kept:
            names = ", ".join(sorted({e.category for e in self.endpoints}) + [e.name for e in self.endpoints])
            raise SuiteError(f"--only {' '.join(patterns)} matches no endpoint of suite "
                             f"{self.name!r}; known categories and names: {names}")
        return Suite(self.name, self.description, self.path, kept, self.limits)


def load_suite(path: Path) -> Suite:
    """Read and check a suite file. Raises SuiteError naming file, entry and problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"suite file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"suite file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"suite file {path} is not valid TOML: {exc}") from None
    return parse_suite(data, path)


def parse_suite(data: dict, path: Path) -> Suite:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SuiteError(f"suite {path}: unknown top-level key {sorted(unknown)[0]!r} "
                         f"(allowed: {', '.join(sorted(_TOP_KEYS))})")
    entries = data.get("endpoints")
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"suite {path}: needs at least one [[endpoints]] table")
    endpoints = [_parse_endpoint(entry, index, path) for index, entry in enumerate(entries, 1)]
    seen = set()
    for endpoint in endpoints:
        if endpoint.name in seen:
            raise SuiteError(f"suite {path}: two endpoints are named {endpoint.name!r}; names must be unique")
        seen.add(endpoint.name)
    name = data.get("name", path.stem)
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise SuiteError(f"suite {path}: 'name' and 'description' must be strings")
    suite_limits = _limits(data["limits"], f"suite {path}", "*") if "limits" in data else ()
    return Suite(name, description, path, tuple(endpoints), suite_limits)


def _limits(table, where: str, endpoints: str) -> tuple[limit_rules.Limit, ...]:
    try:
        return tuple(limit_rules.parse_table(table, where, endpoints))
    except limit_rules.LimitError as exc:
        raise SuiteError(str(exc)) from None


def _parse_endpoint(entry, index: int, path: Path) -> Endpoint:
    where = f"suite {path}: endpoint #{index}"
    if not isinstance(entry, dict):
        raise SuiteError(f"{where}: must be a table")
    if "name" in entry:
        where += f" ({entry['name']!r})"
    elif "path" in entry:
        where += f" ({entry['path']!r})"

    def fail(problem: str):
        raise SuiteError(f"{where}: {problem}")

    unknown = set(entry) - _ENDPOINT_KEYS
    if unknown:
        fail(f"unknown key {sorted(unknown)[0]!r} (allowed: {', '.join(sorted(_ENDPOINT_KEYS))})")
    for key in ("category", "path"):
        if key not in entry:
            fail(f"missing required key {key!r}")
    for key in ("name", "category", "method", "path", "body", "body_file", "content_type", "server"):
        if key in entry and not isinstance(entry[key], str):
            fail(f"{key!r} must be a string")
    category = entry["category"]
    if not _CATEGORY.match(category):
        fail(f"category {category!r} must be 1-64 letters, digits, '_', '-' or '.'")
    endpoint_path = entry["path"]
    if not endpoint_path.startswith("/") or any(c.isspace() for c in endpoint_path):
        fail(f"path {endpoint_path!r} must start with '/' and hold no spaces")
    method = entry.get("method", "GET").upper()
    if method not in METHODS:
        fail(f"method {entry['method']!r} is not one of {', '.join(METHODS)}")
    server = entry.get("server", "normal")
    if server not in SERVERS:
        fail(f"server {server!r} must be 'normal' or 'dev'")
    body = _body(entry, path, fail)
    if body is not None and method in ("GET", "HEAD"):
        fail(f"a {method} request cannot carry a body (ab sends bodies only with POST or PUT)")
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in headers.items()):
        fail("'headers' must be a table of string values")
    for key, value in headers.items():
        if not re.match(r"^[A-Za-z0-9-]+$", key) or "\n" in value or "\r" in value:
            fail(f"header {key!r} has a bad name or a line break in its value")
    expect = entry.get("expect_status", [])
    if isinstance(expect, int):
        expect = [expect]
    if not isinstance(expect, list) or not all(isinstance(s, int) and 100 <= s <= 599 for s in expect):
        fail("'expect_status' must be a status code or a list of them (100-599)")
    if not isinstance(entry.get("variable_length", False), bool):
        fail("'variable_length' must be true or false")
    for key in ("requests", "concurrency"):
        if key in entry and (not isinstance(entry[key], int) or isinstance(entry[key], bool)
                             or entry[key] < 1):
            fail(f"{key!r} must be a positive whole number")
    if "requests" in entry and "concurrency" in entry and entry["concurrency"] > entry["requests"]:
        fail("'concurrency' cannot exceed 'requests'")
    default_name = endpoint_path if method == "GET" else f"{method} {endpoint_path}"
    name = entry.get("name", default_name)
    setup = _setup(entry["setup"], fail) if "setup" in entry else ()
    own_limits = _limits(entry["limits"], where, _exactly(name)) if "limits" in entry else ()
    return Endpoint(
        name=name,
        category=category,
        path=endpoint_path,
        method=method,
        server=server,
        headers=tuple(sorted(headers.items())),
        body=body,
        content_type=entry.get("content_type", "text/plain" if body is not None else None),
        expect_status=tuple(expect),
        variable_length=entry.get("variable_length", False),
        requests=entry.get("requests"),
        concurrency=entry.get("concurrency"),
        limits=own_limits,
        setup=setup,
    )


def _setup(entries, fail) -> tuple[SetupRequest, ...]:
    """`setup = [{ method = "PUT", path = "/__dev/api/file?name=static/seed-{i}.txt", body = "x", count = 200 }]`."""
    if not isinstance(entries, list) or not entries:
        fail("'setup' must be a list of tables like { method = \"PUT\", path = \"/...\", count = 200 }")
    out = []
    for number, item in enumerate(entries, 1):
        where = f"setup #{number}"
        if not isinstance(item, dict):
            fail(f"{where} must be a table")
        unknown = set(item) - _SETUP_KEYS
        if unknown:
            fail(f"{where}: unknown key {sorted(unknown)[0]!r} (allowed: {', '.join(sorted(_SETUP_KEYS))})")
        for key in ("method", "path", "body", "content_type"):
            if key in item and not isinstance(item[key], str):
                fail(f"{where}: {key!r} must be a string")
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
            fail(f"{where}: needs a 'path' starting with '/' and holding no spaces")
        method = item.get("method", "GET").upper()
        if method not in METHODS:
            fail(f"{where}: method {item['method']!r} is not one of {', '.join(METHODS)}")
        count = item.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_SETUP_REQUESTS:
            fail(f"{where}: 'count' must be a whole number from 1 to {MAX_SETUP_REQUESTS:,}")
        body = item["body"].encode("utf-8") if "body" in item else None
        out.append(SetupRequest(method, path, body,
                                item.get("content_type", "text/plain" if body is not None else None), count))
    return tuple(out)


def _exactly(name: str) -> str:
    """A glob that matches this one name ("?" and "[" in a path are no wildcards)."""
    return re.sub(r"([*?[])", r"[\1]", name)


def _body(entry: dict, path: Path, fail) -> bytes | None:
    """The request body: `body` text, or the bytes of `body_file` (relative to the suite)."""
    if "body" in entry and "body_file" in entry:
        fail("give 'body' or 'body_file', not both")
    if "body" in entry:
        return entry["body"].encode("utf-8")
    if "body_file" in entry:
        body_path = (path.parent / entry["body_file"]).resolve()
        try:
            return body_path.read_bytes()
        except OSError as exc:
            fail(f"body_file {entry['body_file']!r} cannot be read ({body_path}): {exc.strerror or exc}")
    return None


def find_suite(suite_arg: str | None, pod: str, workspace: Path | None) -> Path:
    """--suite FILE wins; else the pod's own pods/<pod>/benchmark.toml; else the default."""
    if suite_arg:
        return Path(suite_arg)
    if workspace is not None:
        pod_suite = workspace / "pods" / pod / "benchmark.toml"
        if pod_suite.is_file():
            return pod_suite
    return DEFAULT_SUITE

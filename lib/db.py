"""The results database: every line of SQL the tool runs lives here.

The bash tool's tables and columns stay as they were (benchmark_runs,
benchmark_results), so an old database and old SQL keep working; what the
Python tool adds are new columns, the benchmark_samples and
benchmark_profiles tables and indexes, tracked with PRAGMA user_version.

Opening rules:
- writing (benchmark.py): an older database is upgraded in place, after a
  backup copy `<name>.bak-<timestamp>` next to it; WAL mode and a busy
  timeout let two runs share one file.
- reading (show_results.py): nothing on disk is written, and every query sees
  one schema. A bash-tool file (version 0) is read as it is, through TEMP views
  that present it as the upgrade would (_LEGACY_VIEWS): no copy, no upgrade,
  so a view of 10,000 old runs answers in milliseconds. A version 1 or 2
  file is read through TEMP views that add the columns it lacks (as NULL).
- not a SQLite file, or a schema newer than this tool: DbError, file untouched.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

from lib.core.errors import BenchError

SCHEMA_VERSION = 3


class DbError(BenchError):
    """A database problem the user must fix; the message says what and how."""


_RUN_COLUMNS_V1 = (
    # (column, declaration, value for rows written by the bash tool)
    ("status", "TEXT", "'complete'"),
    ("pod", "TEXT", "'test'"),
    ("suite", "TEXT", "'hbf-test-pod'"),
    ("requests", "INTEGER", None),
    ("concurrency", "TEXT", None),  # "10", or "1,10,50" for a sweep
    ("repeat", "INTEGER", "1"),
    ("warmup", "INTEGER", "0"),
    ("engine", "TEXT", "'ab'"),
    ("keepalive", "INTEGER", "0"),
    ("rate", "REAL", None),  # open-loop requests per second, or NULL for closed loop
    ("engine_version", "TEXT", None),
    ("target", "TEXT", None),  # binary path or URL that was measured
    ("finished_at", "TEXT", None),
    ("duration_s", "REAL", None),
    ("exit_code", "INTEGER", None),
    ("error", "TEXT", None),
    ("environment", "TEXT", None),  # JSON: cpu, cores, load, versions, hostname
)

_RUN_COLUMNS_V2 = (
    # A side-by-side measurement (--side-by-side) stores two runs whose samples
    # were interleaved: `side` says which one this is, `paired_with` the other.
    ("side", "TEXT", None),  # 'baseline' or 'candidate'; NULL for an ordinary run
    ("paired_with", "INTEGER", None),
)

_RUN_COLUMNS_V3 = (
    # The measured binary's SHA-256 (the stand-in's: of its script and flags),
    # the key of its kept copy (lib/builds/binaries.py); the servers' extra flags.
    ("binary_sha256", "TEXT", None),
    ("server_args", "TEXT", None),  # JSON list, or NULL when none were known
    # 1 once a later run was measured against this one (--baseline, --against,
    # confirmation): its kept binary outlives the newest-N retention.
    ("named_as_baseline", "INTEGER", None),
    # Confirmation (lib/run/confirm.py): the record on the run it confirms (JSON),
    # and on both runs of the confirming side-by-side pair, the run confirmed.
    ("confirmation", "TEXT", None),
    ("confirms", "INTEGER", None),
    # --pin: where the servers and the load generator ran ("server 0 / load 1");
    # NULL when not pinned (as every run of older versions).
    ("pinned", "TEXT", None),
    # Which endpoints were measured over a `setup` (lib/run/suite.py), as one
    # fingerprint; NULL when none was (every run before setups existed).
    ("setup", "TEXT", None),
)

_RUN_COLUMNS_ALL = _RUN_COLUMNS_V1 + _RUN_COLUMNS_V2 + _RUN_COLUMNS_V3
RUN_COLUMNS = tuple(name for name, _, _ in _RUN_COLUMNS_ALL)

# DDL cannot take parameters: these statements are built once, from the
# constants above only.
_RUN_COLUMN_DDL = tuple(
    (name, f"ALTER TABLE benchmark_runs ADD COLUMN {name} {declaration}",
     f"UPDATE benchmark_runs SET {name} = {legacy}" if legacy is not None else None)
    for name, declaration, legacy in _RUN_COLUMNS_ALL)
_SET_SCHEMA_VERSION = f"PRAGMA user_version = {SCHEMA_VERSION}"

_LEGACY_RESULT_COLUMNS = (
    "result_id", "run_id", "category", "endpoint", "requests", "concurrency",
    "time_taken", "requests_per_sec", "time_per_request", "transfer_rate",
    "failed_requests",
)

# What can be known of a row the bash tool wrote: measured by ab, one
# sample, no warmup, the method in the name. One definition for the on-disk
# upgrade (copied into the new table) and for the read-only view of a legacy
# file (_LEGACY_VIEWS); the caveats are added by _LEGACY_CAVEATS.
_LEGACY_RESULT_VALUES = {
    "status": "'ok'",
    "complete_requests": "requests",
    "method": "CASE WHEN endpoint LIKE 'PUT %' THEN 'PUT' ELSE 'GET' END",
    "path": "CASE WHEN endpoint LIKE '% /%' THEN substr(endpoint, instr(endpoint, ' ') + 1) ELSE endpoint END",
    "server": "CASE WHEN category IN ('fs_read', 'fs_write') THEN 'dev' ELSE 'normal' END",
    "engine": "'ab'",
    "sample_count": "1",
    "warmup_requests": "0",
}
_OLD_COLUMNS = ", ".join(_LEGACY_RESULT_COLUMNS)
_COPY_LEGACY_RESULTS = (
    f"INSERT INTO benchmark_results_v1 ({_OLD_COLUMNS}, {', '.join(_LEGACY_RESULT_VALUES)})"
    f" SELECT {_OLD_COLUMNS}, {', '.join(_LEGACY_RESULT_VALUES.values())} FROM benchmark_results")

# The new columns of benchmark_results, in order. Figures an endpoint did not
# produce (a crash leaves no req/s) are NULL, never a made-up zero.
RESULT_COLUMNS = (
    "status", "error", "caveat", "method", "path", "server",
    "complete_requests", "non_2xx",
    "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms",
    "time_per_request_all", "failed_connect", "failed_receive", "failed_length",
    "failed_exceptions", "write_errors", "connection_times", "percentiles_source",
    "engine", "engine_version", "keepalive", "warmup_requests", "sample_count",
    "rps_min", "rps_max",
    "server_cpu_us_per_req", "server_rss_kb_before", "server_rss_kb_after",
    "server_rss_kb_peak", "server_rss_kb_growth", "client_cpu_pct", "client_bound",
    "server_log_lines", "server_errors", "crash_signal", "server_log_tail", "backtrace",
    "started_at", "finished_at",
    # Version 3: what a failed endpoint answered when asked once more, alone
    # (lib/explain/probe.py), and why a crash has or lacks a backtrace (lib/explain/backtrace.py).
    "probe", "backtrace_status", "backtrace_port",
    "warmup_s",  # the load generator's time for the warmup requests (not a measurement)
    # The median over samples of the CPU time the hypervisor stole and of the
    # machine's other load (lib/machine/cpus.py); a version 3 file lacking them gains them.
    "steal_pct", "other_busy_pct",
    # The limits checked on this result (lib/judge/limits.py), as the JSON's
    # list of {metric, op, bound, value, passed}; NULL when none applied.
    "limits",
    "setup_fingerprint",  # of the endpoint's setup requests (lib/run/suite.py); NULL: none
)
_RESULT_TYPES = {
    "complete_requests": "INTEGER", "non_2xx": "INTEGER", "failed_connect": "INTEGER",
    "failed_receive": "INTEGER", "failed_length": "INTEGER", "failed_exceptions": "INTEGER",
    "write_errors": "INTEGER", "keepalive": "INTEGER", "warmup_requests": "INTEGER",
    "sample_count": "INTEGER", "server_rss_kb_before": "INTEGER", "server_rss_kb_after": "INTEGER",
    "server_rss_kb_peak": "INTEGER", "server_rss_kb_growth": "INTEGER", "client_bound": "INTEGER",
    "server_log_lines": "INTEGER", "backtrace_port": "INTEGER",
}
for _name in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "time_per_request_all",
              "rps_min", "rps_max", "server_cpu_us_per_req", "client_cpu_pct", "warmup_s",
              "steal_pct", "other_busy_pct"):
    _RESULT_TYPES[_name] = "REAL"
_ADD_RESULT_COLUMN = {name: f"ALTER TABLE benchmark_results ADD COLUMN {name} {_RESULT_TYPES.get(name, 'TEXT')}"
                      for name in RESULT_COLUMNS}

SAMPLE_COLUMNS = (
    "time_taken", "requests_per_sec", "time_per_request", "transfer_rate",
    "complete_requests", "failed_requests", "non_2xx",
    "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms",
    "server_cpu_us_per_req", "server_rss_kb_before", "server_rss_kb_after",
    "server_rss_kb_peak", "client_cpu_pct", "client_bound",
    "steal_pct", "other_busy_pct",  # added within version 3: see _migrate
)

_CREATE_RUNS_LEGACY = """
CREATE TABLE IF NOT EXISTS benchmark_runs (
run_id INTEGER PRIMARY KEY AUTOINCREMENT,
timestamp TEXT NOT NULL,
git_commit TEXT,
git_branch TEXT,
build_mode TEXT,
notes TEXT
)"""


def _create_results_sql(table: str) -> str:
    new_columns = ",\n".join(f"{name} {_RESULT_TYPES.get(name, 'TEXT')}" for name in RESULT_COLUMNS)
    # The bash tool declared the four measures NOT NULL; a crashed endpoint has
    # none, so the upgraded table drops that constraint (names and types stay).
    return f"""
CREATE TABLE {table} (
result_id INTEGER PRIMARY KEY AUTOINCREMENT,
run_id INTEGER NOT NULL,
category TEXT NOT NULL,
endpoint TEXT NOT NULL,
requests INTEGER NOT NULL,
concurrency INTEGER NOT NULL,
time_taken REAL,
requests_per_sec REAL,
time_per_request REAL,
transfer_rate REAL,
failed_requests INTEGER,
{new_columns},
FOREIGN KEY (run_id) REFERENCES benchmark_runs(run_id)
)"""


_SAMPLE_TYPES = {c: 'INTEGER' if c in ('complete_requests', 'failed_requests', 'non_2xx', 'client_bound',
                                        'server_rss_kb_before', 'server_rss_kb_after',
                                        'server_rss_kb_peak') else 'REAL' for c in SAMPLE_COLUMNS}
_CREATE_SAMPLES = """
CREATE TABLE IF NOT EXISTS benchmark_samples (
sample_id INTEGER PRIMARY KEY AUTOINCREMENT,
result_id INTEGER NOT NULL REFERENCES benchmark_results(result_id),
sample_number INTEGER NOT NULL,
""" + ",\n".join(f"{c} {_SAMPLE_TYPES[c]}" for c in SAMPLE_COLUMNS) + """,
UNIQUE (result_id, sample_number)
)"""
_ADD_SAMPLE_COLUMN = {name: f"ALTER TABLE benchmark_samples ADD COLUMN {name} {_SAMPLE_TYPES[name]}"
                      for name in SAMPLE_COLUMNS}

# Version 3: a server's stacks sampled by perf during one extra sample of an
# endpoint (--profile), folded ("frame;frame;frame count" lines) and stored
# zlib-compressed; the figures a report needs without unpacking them beside.
PROFILE_COLUMNS = ("result_id", "samples", "frequency", "perf_version", "requests",
                   "requests_per_sec", "kinds", "has_symbols", "folded")
_CREATE_PROFILES = """
CREATE TABLE IF NOT EXISTS benchmark_profiles (
profile_id INTEGER PRIMARY KEY AUTOINCREMENT,
result_id INTEGER NOT NULL REFERENCES benchmark_results(result_id),
samples INTEGER NOT NULL,
frequency INTEGER NOT NULL,
perf_version TEXT,
requests INTEGER,
requests_per_sec REAL,
kinds TEXT,
has_symbols INTEGER,
folded BLOB NOT NULL
)"""
_INDEX_PROFILES = "CREATE INDEX IF NOT EXISTS idx_profiles_result ON benchmark_profiles(result_id)"

# The bash tool created these three itself (see tests/fixtures/legacy-results.db).
_BASH_TOOL_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_run_timestamp ON benchmark_runs(timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_result_run ON benchmark_results(run_id)",
    "CREATE INDEX IF NOT EXISTS idx_result_endpoint ON benchmark_results(endpoint)",
)
_INDEXES = _BASH_TOOL_INDEXES + (
    # Trends read one endpoint's newest rows first.
    "CREATE INDEX IF NOT EXISTS idx_result_endpoint_run ON benchmark_results(endpoint, run_id)",
    "CREATE INDEX IF NOT EXISTS idx_sample_result ON benchmark_samples(result_id)",
)

# Rows the bash tool wrote that measured something else than their name says.
_LEGACY_CAVEATS = (
    ("fs_write", "bash tool sent POST (ab -p); HBF answered 404, so these figures timed 404 answers"),
    ("/static/favicon.ico", "HBF builds of the bash tool's time answered 404 for the empty favicon; "
                            "the bash tool did not count non-2xx answers"),
)

# The figures of a run the bash tool kept per result only: its requests and
# concurrency follow from its results (one grouped pass on upgrade; per run
# in the read-only view, through the bash tool's idx_result_run).
_LEGACY_RUN_FIGURES = {
    "requests": "max(r.requests)",
    "concurrency": "CAST(max(r.concurrency) AS TEXT)",
}
# Grouped once into an indexed TEMP table, then read per run (UPDATE ... FROM
# would do it in one statement, but needs SQLite 3.33).
_FILL_LEGACY_RUN_FIGURES = (
    "CREATE TEMP TABLE legacy_run_figures AS SELECT r.run_id AS run_id, "
    + ", ".join(f"{value} AS {name}" for name, value in _LEGACY_RUN_FIGURES.items())
    + " FROM benchmark_results_v1 r GROUP BY r.run_id",
    "CREATE INDEX temp.idx_legacy_run_figures ON legacy_run_figures(run_id)",
    "UPDATE benchmark_runs SET "
    + ", ".join(f"{name} = (SELECT g.{name} FROM legacy_run_figures g WHERE g.run_id = benchmark_runs.run_id)"
                for name in _LEGACY_RUN_FIGURES),
    "DROP TABLE legacy_run_figures",
)

# A bash-tool file opened read-only is not copied nor upgraded: TEMP views
# named like its tables present it in the current schema (an unqualified name
# is looked up in temp first), with the values the upgrade would store. A
# view takes no parameters, so the caveats come from a TEMP table filled with
# parameters; later entries of _LEGACY_CAVEATS win, as their UPDATEs do.
_LEGACY_RUN_COLUMNS = ("run_id", "timestamp", "git_commit", "git_branch", "build_mode", "notes")
_LEGACY_CAVEAT_TABLE = "CREATE TEMP TABLE legacy_caveats (rank INTEGER PRIMARY KEY, match TEXT, caveat TEXT)"
_LEGACY_CAVEAT_ROW = "INSERT INTO legacy_caveats (rank, match, caveat) VALUES (?, ?, ?)"
# Whether an endpoint (both parameters) has a row without a caveat. Every row
# of the favicon and fs_write endpoints of a legacy file carries one, so
# endpoint_history, which wants rows without, would walk all 70,000 rows of
# 10,000 runs for nothing (15-20 ms each); this answers in one seek (a caveat
# by name) or one read of the endpoint's rows through idx_result_endpoint (by
# category, 6 ms).
_LEGACY_UNCAVEATED_ROWS = (
    "SELECT ? NOT IN (SELECT match FROM legacy_caveats) AND EXISTS (SELECT 1 FROM main.benchmark_results e"
    " WHERE e.endpoint = ? AND e.category NOT IN (SELECT match FROM legacy_caveats))")


def _legacy_run_value(name: str, legacy: str | None) -> str:
    if name in _LEGACY_RUN_FIGURES:
        return (f"(SELECT {_LEGACY_RUN_FIGURES[name]} FROM main.benchmark_results r"
                " WHERE r.run_id = b.run_id)")
    return "NULL" if legacy is None else legacy


def _legacy_result_value(name: str) -> str:
    if name == "caveat":
        return ("(SELECT c.caveat FROM legacy_caveats c WHERE c.match IN (category, endpoint)"
                " ORDER BY c.rank DESC LIMIT 1)")
    return _LEGACY_RESULT_VALUES.get(name, "NULL")


_LEGACY_VIEWS = (
    "CREATE TEMP VIEW benchmark_runs AS SELECT "
    + ", ".join([f"b.{name}" for name in _LEGACY_RUN_COLUMNS]
                + [f"{_legacy_run_value(name, legacy)} AS {name}"
                   for name, _, legacy in _RUN_COLUMNS_ALL])
    + " FROM main.benchmark_runs b",
    "CREATE TEMP VIEW benchmark_results AS SELECT "
    + ", ".join(list(_LEGACY_RESULT_COLUMNS)
                + [f"{_legacy_result_value(name)} AS {name}" for name in RESULT_COLUMNS])
    + " FROM main.benchmark_results",
    _CREATE_SAMPLES.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE"),
    _CREATE_PROFILES.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE"),
)


def _busy_timeout() -> float:
    return float(os.environ.get("HBF_BENCH_DB_BUSY_TIMEOUT", "30"))


def open_db(path: Path, *, readonly: bool = False) -> "Database":
    """Open (and for writing, create or upgrade) the results database."""
    path = Path(path)
    if readonly:
        if not path.exists():
            raise DbError(f"no results database at {path}: run benchmark.py first, or pass --db PATH")
        conn = _connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        version = _schema_version(conn, path)
        legacy = version == 0 and _has_legacy_tables(conn)
        if legacy:
            if not _has_legacy_indexes(conn):
                # Not as the bash tool left it: a copy with its indexes, so
                # that the views' queries need not read every row.
                conn = _in_memory(conn)
                for statement in _BASH_TOOL_INDEXES[1:]:  # the two on benchmark_results
                    conn.execute(statement)
            _present_legacy(conn)
        elif version < SCHEMA_VERSION or _lacks_columns(conn):
            _present_missing_columns(conn)
        return Database(conn, path, readonly=True, legacy=legacy)

    directory = path.parent
    if not directory.exists():
        try:
            directory.mkdir(parents=True)
        except OSError as exc:
            raise DbError(f"cannot create the database folder {directory}: {exc.strerror}; "
                          "pass --db PATH in a writable folder") from None
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DbError(f"the database {path} is not writable (folder or file permissions); "
                      "pass --db PATH in a writable folder")
    conn = _connect(str(path))
    version = _schema_version(conn, path)
    try:
        if version < SCHEMA_VERSION or _lacks_columns(conn):
            with _transaction(conn):
                # Re-read inside the write lock: another run may have upgraded it.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version < SCHEMA_VERSION or _lacks_columns(conn):
                    if _has_legacy_tables(conn):
                        _backup(path)  # byte for byte, while our lock keeps writers out
                    _migrate(conn, version)
        # WAL lets a reader (show_results) and a second run work beside a run.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        conn.close()
        raise DbError(f"cannot prepare the database {path}: {exc}") from None
    return Database(conn, path, readonly=False)


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, uri=uri, timeout=_busy_timeout(), isolation_level=None)
    except sqlite3.Error as exc:
        raise DbError(f"cannot open the database {target}: {exc}") from None
    conn.row_factory = sqlite3.Row
    return conn


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DbError(f"{path} is not a results database ({exc}); "
                      "pass --db with another path or move the file away") from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise DbError(f"{path} has schema version {version}, newer than this tool knows "
                      f"({SCHEMA_VERSION}); update hbf-bench or use another --db")
    if version == 0 and conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]:
        if not _has_legacy_tables(conn):
            conn.close()
            raise DbError(f"{path} is a SQLite database but not a results database (no "
                          "benchmark_runs/benchmark_results tables); pass --db with another path")
    return version


def _in_memory(conn: sqlite3.Connection) -> sqlite3.Connection:
    """A copy of the database in memory (closing `conn`), free to be changed."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    memory.row_factory = sqlite3.Row
    conn.backup(memory)
    conn.close()
    return memory


def _has_legacy_indexes(conn: sqlite3.Connection) -> bool:
    """Whether benchmark_results has what _BASH_TOOL_INDEXES give: an index
    led by run_id and one led by endpoint."""
    leading = {row[0] for row in conn.execute(
        "SELECT info.name FROM pragma_index_list(?) AS list, pragma_index_info(list.name) AS info"
        " WHERE info.seqno = 0", ("benchmark_results",))}
    return {"run_id", "endpoint"} <= leading


def _has_legacy_tables(conn: sqlite3.Connection) -> bool:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"benchmark_runs", "benchmark_results"} <= names


def _backup(path: Path) -> Path:
    """Copy the file as it is to `<name>.bak-<timestamp>` before upgrading it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
    shutil.copy2(path, target)
    return target


@contextmanager
def _transaction(conn: sqlite3.Connection):
    """All writes inside land together or not at all (an error, a full disk
    or Ctrl-C between them rolls back)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _present_legacy(conn: sqlite3.Connection) -> None:
    """Show a bash-tool file, opened read-only, in the current schema without
    copying it (_LEGACY_VIEWS): every query runs on the file as it is."""
    conn.execute("PRAGMA temp_store = MEMORY")  # no temp file next to anything
    conn.execute(_LEGACY_CAVEAT_TABLE)
    conn.executemany(_LEGACY_CAVEAT_ROW, [(rank, match, caveat)
                                          for rank, (match, caveat) in enumerate(_LEGACY_CAVEATS)])
    for statement in _LEGACY_VIEWS:
        conn.execute(statement)


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database at `version` to SCHEMA_VERSION (inside the caller's
    transaction). Versions 1 to 3 only added columns: adding whichever a file
    lacks upgrades any of them, also a version 3 file written before a
    column was added within version 3 (runs' `pinned`, samples' and results'
    `steal_pct` and `other_busy_pct`)."""
    legacy = version == 0 and _has_legacy_tables(conn)
    conn.execute(_CREATE_RUNS_LEGACY)
    for add_column, fill_legacy in _missing_run_columns(conn):
        conn.execute(add_column)
        if legacy and fill_legacy:
            conn.execute(fill_legacy)
    if version == 0:
        conn.execute(_create_results_sql("benchmark_results_v1"))
        if legacy:
            conn.execute(_COPY_LEGACY_RESULTS)
            for match, caveat in _LEGACY_CAVEATS:
                conn.execute("UPDATE benchmark_results_v1 SET caveat = ? WHERE category = ? OR endpoint = ?",
                             (caveat, match, match))
            # The queries above fixed every row, so the runs' requests/concurrency
            # follow: one grouped pass (a subquery per run, before any index
            # exists on the new table, read it all once per run: 64 s at 10,000 runs).
            for statement in _FILL_LEGACY_RUN_FIGURES:
                conn.execute(statement)
            conn.execute("DROP TABLE benchmark_results")
        conn.execute("ALTER TABLE benchmark_results_v1 RENAME TO benchmark_results")
        conn.execute(_CREATE_SAMPLES)
        for statement in _INDEXES:
            conn.execute(statement)
    else:
        for name in _missing_columns(conn, "benchmark_results", RESULT_COLUMNS):
            conn.execute(_ADD_RESULT_COLUMN[name])
        conn.execute(_CREATE_SAMPLES)
        for name in _missing_columns(conn, "benchmark_samples", SAMPLE_COLUMNS):
            conn.execute(_ADD_SAMPLE_COLUMN[name])
    conn.execute(_CREATE_PROFILES)
    conn.execute(_INDEX_PROFILES)
    conn.execute(_SET_SCHEMA_VERSION)


def _missing_columns(conn: sqlite3.Connection, table: str, wanted) -> list[str]:
    existing = {row["name"] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))}
    return [name for name in wanted if name not in existing]


def _lacks_columns(conn: sqlite3.Connection) -> bool:
    """A file at SCHEMA_VERSION written before a column or the profiles
    table was added within that version: _migrate adds what it lacks."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "benchmark_runs" in tables and "benchmark_profiles" not in tables:
        return True
    return any(table in tables and _missing_columns(conn, table, wanted)
               for table, wanted in _column_sets())


def _column_sets() -> tuple[tuple[str, list[str]], ...]:
    """Every table and the columns the current schema gives it beyond the bash tool's."""
    return (("benchmark_runs", [name for name, _, _ in _RUN_COLUMN_DDL]),
            ("benchmark_results", list(RESULT_COLUMNS)),
            ("benchmark_samples", list(SAMPLE_COLUMNS)))


def _missing_run_columns(conn: sqlite3.Connection) -> list[tuple[str, str | None]]:
    missing = set(_missing_columns(conn, "benchmark_runs", [name for name, _, _ in _RUN_COLUMN_DDL]))
    return [(add, fill) for name, add, fill in _RUN_COLUMN_DDL if name in missing]


def _present_missing_columns(conn: sqlite3.Connection) -> None:
    """Show an older file (version 1 or 2, or a version 3 file from before a
    column was added), opened read-only, in the current schema without
    copying it: TEMP views named like its tables add the columns it lacks,
    as NULL (what the upgrade would store)."""
    conn.execute("PRAGMA temp_store = MEMORY")
    for table, wanted in _column_sets():
        missing = _missing_columns(conn, table, wanted)
        if missing:
            conn.execute(_view_with_columns(table, missing))
    if _missing_columns(conn, "benchmark_profiles", ["profile_id"]):  # no such table before version 3
        conn.execute(_CREATE_PROFILES.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE"))


def _view_with_columns(table: str, missing: list[str]) -> str:
    """DDL takes no parameters: `table` and `missing` are names from this
    module's constants only (checked against them by the caller's lists)."""
    return (f"CREATE TEMP VIEW {table} AS SELECT *, "
            + ", ".join(f"NULL AS {name}" for name in missing) + f" FROM main.{table}")


def _row(row: sqlite3.Row | None) -> dict | None:
    return dict(row) if row is not None else None


class Database:
    """A thin layer over one connection: named queries, dict rows."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool, legacy: bool = False):
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._inode = _inode(path) if not readonly else None
        # A bash-tool file read through _LEGACY_VIEWS has no index on (endpoint,
        # run_id), only idx_result_endpoint(endpoint), in result_id order: a
        # query for one endpoint's newest rows by run_id would read all of
        # that endpoint's rows and sort them (10,000 at 10,000 runs, with a
        # view's subqueries on each). `+` keeps that index out, so SQLite walks
        # idx_result_run backwards and stops at the LIMIT.
        self._endpoint_is = "+res.endpoint = ?" if legacy else "res.endpoint = ?"
        self._legacy = legacy

    def close(self) -> None:
        self.conn.close()

    # ---- writing ------------------------------------------------------------

    def _write(self, sql: str, params=()) -> sqlite3.Cursor:
        """One committed statement. Refuses to write into a file that was
        deleted or replaced under us (the rows would vanish with the old inode)."""
        if _inode(self.path) != self._inode:
            raise DbError(f"the database {self.path} was deleted or replaced during the run; "
                          "finished results up to now were stored in the old file")
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise DbError(f"cannot write to the database {self.path}: {exc}") from None

    @contextmanager
    def _transaction(self):
        """_transaction on this connection, with _write's checks and errors."""
        self._write("SELECT 1")  # the inode check, before anything starts
        try:
            with _transaction(self.conn):
                yield
        except sqlite3.Error as exc:
            raise DbError(f"cannot write to the database {self.path}: {exc}") from None

    def create_run(self, run: dict) -> int:
        _check_columns(run, ["timestamp", "git_commit", "git_branch", "build_mode", "notes"]
                       + list(RUN_COLUMNS))
        columns = ", ".join(run)
        marks = ", ".join("?" for _ in run)
        cursor = self._write(f"INSERT INTO benchmark_runs ({columns}) VALUES ({marks})",
                             tuple(run.values()))
        return cursor.lastrowid

    def create_run_pair(self, baseline: dict, candidate: dict) -> tuple[int, int]:
        """The two runs of a side-by-side measurement, naming each other, in
        one transaction: never one without the other."""
        with self._transaction():
            baseline_id = self.create_run({**baseline, "side": "baseline"})
            candidate_id = self.create_run({**candidate, "side": "candidate", "paired_with": baseline_id})
            self._write("UPDATE benchmark_runs SET paired_with = ? WHERE run_id = ?",
                        (candidate_id, baseline_id))
        return baseline_id, candidate_id

    def add_result(self, run_id: int, result: dict, samples: list[dict] = ()) -> int:
        """Store one endpoint's result and its samples in one transaction."""
        row = {"run_id": run_id, **result}
        _check_columns(row, _LEGACY_RESULT_COLUMNS + RESULT_COLUMNS)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._transaction():
            result_id = self._write(f"INSERT INTO benchmark_results ({columns}) VALUES ({marks})",
                                    tuple(row.values())).lastrowid
            for number, sample in enumerate(samples, 1):
                sample_row = {"result_id": result_id, "sample_number": number,
                              **{k: sample.get(k) for k in SAMPLE_COLUMNS}}
                self._write(f"INSERT INTO benchmark_samples ({', '.join(sample_row)})"
                            f" VALUES ({', '.join('?' for _ in sample_row)})",
                            tuple(sample_row.values()))
        return result_id

    def set_backtrace(self, result_id: int, status: str, backtrace: str | None = None,
                      port: int | None = None) -> None:
        self._write("UPDATE benchmark_results SET backtrace_status = ?, backtrace = ?, backtrace_port = ?"
                    " WHERE result_id = ?", (status, backtrace, port, result_id))

    def add_profile(self, result_id: int, profile: dict) -> None:
        """One endpoint's profile; `folded` is text, stored compressed."""
        row = {**profile, "result_id": result_id,
               "folded": zlib.compress(profile["folded"].encode("utf-8"), 6)}
        _check_columns(row, PROFILE_COLUMNS)
        columns, marks = ", ".join(row), ", ".join("?" for _ in row)
        self._write(f"INSERT INTO benchmark_profiles ({columns}) VALUES ({marks})", tuple(row.values()))

    def profiles(self, run_id: int) -> list[dict]:
        """The run's profiles with their result's endpoint, folded text unpacked."""
        rows = self.conn.execute(
            "SELECT p.*, r.endpoint, r.category, r.concurrency, r.requests_per_sec AS measured_rps"
            " FROM benchmark_profiles p JOIN benchmark_results r ON r.result_id = p.result_id"
            " WHERE r.run_id = ? ORDER BY p.result_id", (run_id,))
        out = []
        for row in rows:
            profile = dict(row)
            profile["folded"] = zlib.decompress(profile["folded"]).decode("utf-8")
            out.append(profile)
        return out

    def mark_named_as_baseline(self, run_id: int) -> None:
        self._write("UPDATE benchmark_runs SET named_as_baseline = 1 WHERE run_id = ?", (run_id,))

    def binaries_to_keep(self, newest: int) -> set[str]:
        """The hashes of the newest `newest` runs' binaries and (when
        newest > 0) of every run named as a baseline; always those of runs
        still running: a side-by-side run starts fresh servers from its kept
        binary at every sample, and another run's pruning must not pull it
        away (many short runs beside it can push it out of the newest N)."""
        rows = self.conn.execute(
            "SELECT binary_sha256 FROM (SELECT binary_sha256 FROM benchmark_runs"
            " WHERE binary_sha256 IS NOT NULL ORDER BY run_id DESC LIMIT ?)"
            " UNION SELECT binary_sha256 FROM benchmark_runs WHERE binary_sha256 IS NOT NULL"
            " AND (status = 'running' OR (named_as_baseline = 1 AND ? > 0))",
            (max(newest, 0), newest))
        return {row[0] for row in rows}

    def binary_hashes(self) -> set[str]:
        """Every binary any run of this database measured."""
        return {row[0] for row in self.conn.execute(
            "SELECT DISTINCT binary_sha256 FROM benchmark_runs WHERE binary_sha256 IS NOT NULL")}

    def runs_with_binaries(self, hashes: set[str], limit: int = 10) -> list[int]:
        """The newest runs (ids) whose binary is among `hashes`."""
        if not hashes:
            return []
        marks = ", ".join("?" for _ in hashes)
        return [row[0] for row in self.conn.execute(
            f"SELECT run_id FROM benchmark_runs WHERE binary_sha256 IN ({marks})"
            " ORDER BY run_id DESC LIMIT ?", (*sorted(hashes), limit))]

    def update_run(self, run_id: int, **fields) -> None:
        _check_columns(fields, list(RUN_COLUMNS) + ["notes"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._write(f"UPDATE benchmark_runs SET {assignments} WHERE run_id = ?",
                    (*fields.values(), run_id))

    # ---- reading ------------------------------------------------------------

    def run(self, run_id: int) -> dict | None:
        return _row(self.conn.execute("SELECT * FROM benchmark_runs WHERE run_id = ?",
                                      (run_id,)).fetchone())

    def latest_run_ids(self, count: int) -> list[int]:
        return [r[0] for r in self.conn.execute(
            "SELECT run_id FROM benchmark_runs ORDER BY run_id DESC LIMIT ?", (count,))]

    def list_runs(self, *, limit: int, branch=None, build_mode=None, pod=None, since=None,
                  status=None) -> list[dict]:
        """Newest first, with a count of results and of failed ones."""
        clause, params = _run_filters(branch=branch, build_mode=build_mode, pod=pod, since=since,
                                      status=status, table="r.")
        rows = self.conn.execute(
            f"SELECT r.* FROM benchmark_runs r {clause} ORDER BY r.run_id DESC LIMIT ?",
            (*params, limit)).fetchall()
        runs = [dict(row) for row in rows]
        if runs:
            ids = [run["run_id"] for run in runs]
            marks = ", ".join("?" for _ in ids)
            counts = {row[0]: (row[1], row[2]) for row in self.conn.execute(
                f"SELECT run_id, count(*), sum(coalesce(status, 'ok') != 'ok')"
                f" FROM benchmark_results WHERE run_id IN ({marks}) GROUP BY run_id", ids)}
            for run in runs:
                run["result_count"], run["problem_count"] = counts.get(run["run_id"], (0, 0))
        return runs

    def results(self, run_id: int, *, with_samples: bool = True) -> list[dict]:
        rows = [dict(r) for r in self.conn.execute(
            "SELECT * FROM benchmark_results WHERE run_id = ? ORDER BY result_id", (run_id,))]
        if with_samples and rows:
            ids = [row["result_id"] for row in rows]
            marks = ", ".join("?" for _ in ids)
            samples: dict[int, list[dict]] = {}
            for sample in self.conn.execute(
                    f"SELECT * FROM benchmark_samples WHERE result_id IN ({marks})"
                    " ORDER BY result_id, sample_number", ids):
                samples.setdefault(sample["result_id"], []).append(dict(sample))
            for row in rows:
                row["samples"] = samples.get(row["result_id"], [])
        return rows

    def resolve_run(self, ref: str) -> int | None:
        """A run id, 'latest', 'previous' or '~N' (N runs before the latest) -> run id."""
        ref = ref.strip()
        if ref in ("latest", "previous") or ref.startswith("~"):
            offset = {"latest": 0, "previous": 1}.get(ref)
            if offset is None:
                try:
                    offset = int(ref[1:])
                except ValueError:
                    return None
                if offset < 0:
                    return None
            # A confirmation's pair is part of the run it confirms: not `latest`.
            row = self.conn.execute("SELECT run_id FROM benchmark_runs WHERE confirms IS NULL"
                                    " ORDER BY run_id DESC LIMIT 1 OFFSET ?", (offset,)).fetchone()
            return row[0] if row else None
        if ref.isdigit():
            row = self.conn.execute("SELECT run_id FROM benchmark_runs WHERE run_id = ?",
                                    (int(ref),)).fetchone()
            return row[0] if row else None
        return None

    def baseline_run(self, run: dict) -> int | None:
        """The latest earlier run comparable to `run` (COMPARABLE_FIELDS) that
        stored at least one ok result. The baseline side of a side-by-side run
        is never picked: it may be another binary than the one history follows."""
        where, params = _comparable("benchmark_runs", run)
        row = self.conn.execute(
            f"SELECT run_id FROM benchmark_runs WHERE run_id < ? AND {where} AND {_COULD_BE_BASELINE}"
            " ORDER BY run_id DESC LIMIT 1", (run["run_id"], *params)).fetchone()
        return row[0] if row else None

    def runs_before(self, run_id: int, limit: int = 50) -> list[dict]:
        """The newest earlier runs that could be a baseline but for their
        parameters (not a side-by-side baseline side, with an ok result): to
        say which field kept them out when no baseline is found."""
        return [dict(r) for r in self.conn.execute(
            f"SELECT * FROM benchmark_runs WHERE run_id < ? AND {_COULD_BE_BASELINE}"
            " ORDER BY run_id DESC LIMIT ?", (run_id, limit))]

    def endpoint_history(self, run: dict, endpoint: str, concurrency: int, requests: int, *,
                         before_run_id: int, limit: int = 10) -> list[dict]:
        """ok results of one endpoint (at this concurrency and request count) in
        earlier runs comparable to `run` (the same rule as baseline_run), oldest first."""
        if self._legacy and not self.conn.execute(_LEGACY_UNCAVEATED_ROWS, (endpoint, endpoint)).fetchone()[0]:
            return []
        where, params = _comparable("run", run)
        rows = self.conn.execute(
            "SELECT res.run_id, res.requests_per_sec, res.p50_ms, res.p99_ms, res.server_cpu_us_per_req"
            " FROM benchmark_results res JOIN benchmark_runs run ON run.run_id = res.run_id"
            f" WHERE {self._endpoint_is} AND res.concurrency = ? AND res.requests = ? AND res.run_id < ?"
            " AND coalesce(res.status, 'ok') = 'ok' AND res.caveat IS NULL"
            f" AND {where} AND {_FOLLOWED_RUN}"
            " ORDER BY res.run_id DESC LIMIT ?",
            (endpoint, concurrency, requests, before_run_id, *params, limit)).fetchall()
        return [dict(r) for r in reversed(rows)]

    def run_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM benchmark_runs").fetchone()[0]

    # ---- history views (show_results.py) ------------------------------------

    def distinct_endpoints(self) -> list[str]:
        """Every endpoint name, sorted, in one index seek per name through
        idx_result_endpoint (a skip scan) instead of reading every result row."""
        return [r[0] for r in self.conn.execute(
            "WITH RECURSIVE names(endpoint) AS ("
            " SELECT min(endpoint) FROM benchmark_results"
            " UNION ALL"
            " SELECT (SELECT min(r.endpoint) FROM benchmark_results r WHERE r.endpoint > names.endpoint)"
            " FROM names WHERE names.endpoint IS NOT NULL)"
            " SELECT endpoint FROM names WHERE endpoint IS NOT NULL")]

    def has_endpoint(self, endpoint: str) -> bool:
        return self.conn.execute("SELECT 1 FROM benchmark_results WHERE endpoint = ? LIMIT 1",
                                 (endpoint,)).fetchone() is not None

    def endpoint_categories(self) -> dict[str, str]:
        """{endpoint: category of its newest result}, one index seek per endpoint."""
        return {name: self.conn.execute(
            f"SELECT category FROM benchmark_results res WHERE {self._endpoint_is}"
            " ORDER BY run_id DESC LIMIT 1", (name,)).fetchone()[0] for name in self.distinct_endpoints()}

    def select_run_ids(self, *, limit: int | None = None, branch=None, build_mode=None, pod=None,
                       since=None, status=None) -> list[int]:
        """Ids of the runs matching the filters (the same as list_runs), newest first;
        all of them when limit is None."""
        clause, params = _run_filters(branch=branch, build_mode=build_mode, pod=pod, since=since,
                                      status=status)
        return [r[0] for r in self.conn.execute(
            f"SELECT run_id FROM benchmark_runs {clause} ORDER BY run_id DESC LIMIT ?",
            (*params, -1 if limit is None else limit))]

    def endpoint_trend(self, endpoint: str, *, limit: int, pod=None, build_mode=None, branch=None,
                       since=None, concurrency=None) -> list[dict]:
        """One endpoint's newest `limit` results (any status), oldest first, each with
        its run's metadata; walks idx_result_endpoint_run backwards. The baseline
        side of a side-by-side run is left out: it may be another binary."""
        where, params = [self._endpoint_is, _FOLLOWED_RUN], [endpoint]
        if concurrency is not None:
            where.append("res.concurrency = ?")
            params.append(concurrency)
        for column, value in (("pod", pod), ("build_mode", build_mode), ("git_branch", branch)):
            if value is not None:
                where.append(f"run.{column} = ?")
                params.append(value)
        if since is not None:
            where.append("run.timestamp >= ?")
            params.append(since)
        rows = self.conn.execute(
            "SELECT res.result_id, res.run_id, res.category, res.endpoint, res.requests,"
            " res.concurrency, res.requests_per_sec, res.time_per_request, res.p50_ms, res.p99_ms,"
            " res.server_cpu_us_per_req, res.status, res.error, res.caveat, res.crash_signal, res.probe,"
            " res.sample_count, res.rps_min, res.rps_max,"
            " run.timestamp, run.git_commit, run.git_branch, run.build_mode, run.pod,"
            " run.engine, run.keepalive, run.rate, run.status AS run_status"
            " FROM benchmark_results res JOIN benchmark_runs run ON run.run_id = res.run_id"
            f" WHERE {' AND '.join(where)} ORDER BY res.run_id DESC, res.result_id DESC LIMIT ?",
            (*params, limit)).fetchall()
        return [dict(r) for r in reversed(rows)]

    def export_cursor(self, run_ids: list[int] | None = None) -> tuple[list[str], sqlite3.Cursor]:
        """(column names, a cursor of plain tuples): every result joined with its
        run, the run's columns named run_<column>, oldest first. A cursor, not
        dicts, so an export of 70,000 rows streams in about a second."""
        result_columns = list(_LEGACY_RESULT_COLUMNS) + list(RESULT_COLUMNS)
        run_columns = ["timestamp", "git_commit", "git_branch", "build_mode", "notes"]
        run_columns += list(RUN_COLUMNS)
        select = ", ".join([f"res.{c}" for c in result_columns] + [f"run.{c}" for c in run_columns])
        sql = (f"SELECT {select} FROM benchmark_results res"
               " JOIN benchmark_runs run ON run.run_id = res.run_id")
        params: tuple = ()
        if run_ids is not None:
            sql += f" WHERE res.run_id IN ({', '.join('?' for _ in run_ids)})"
            params = tuple(run_ids)
        cursor = self.conn.cursor()
        cursor.row_factory = None
        cursor.execute(sql + " ORDER BY res.run_id, res.result_id", params)
        return result_columns + [f"run_{c}" for c in run_columns], cursor

    def chart_rows(self, run_ids: list[int]) -> list[dict]:
        """The figures a chart draws for the results of these runs, oldest first."""
        out: list[dict] = []
        ids = list(run_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out += [dict(r) for r in self.conn.execute(
                "SELECT result_id, run_id, category, endpoint, requests, concurrency,"
                " requests_per_sec, time_per_request, p50_ms, p99_ms, server_cpu_us_per_req,"
                " status, error, caveat, crash_signal, probe, sample_count, rps_min, rps_max"
                f" FROM benchmark_results WHERE run_id IN ({', '.join('?' for _ in chunk)})"
                # As in endpoint_trend: a side-by-side baseline may be another binary.
                f" AND run_id IN (SELECT run_id FROM benchmark_runs run WHERE {_FOLLOWED_RUN})",
                chunk)]
        out.sort(key=lambda r: (r["run_id"], r["result_id"]))
        return out


# What makes two runs comparable, and the value a NULL stands for (rows of
# older versions). Comparable does not need the same --repeat: the tests
# handle unequal sample counts. Both the baseline and the history behind the
# noise guard are picked by this rule (`_comparable`), and a report that found
# no baseline names the fields that differ (`comparable_differences`).
COMPARABLE_FIELDS = (("pod", "test"), ("build_mode", None), ("requests", None), ("concurrency", None),
                     ("engine", "ab"), ("keepalive", 0), ("rate", None),
                     # Pinned and unpinned runs measure differently (that is the point of --pin).
                     ("pinned", "not pinned"),
                     # A listing over 200 seeded files is another measurement than over none.
                     ("setup", "none"))


# A run whose results history follows (trends, charts, the noise of earlier
# runs, baselines): not the baseline side of a side-by-side run (it may be
# another binary than the one history follows), nor a confirmation's pair
# (a second look at a run history already has). `{run}` names the table.
# Written as NOT (... OR ...): as "side IS NOT 'baseline' AND confirms IS
# NULL" SQLite 3.40 planned endpoint_history with a temporary B-tree for its
# ORDER BY, reading all of an endpoint's rows (14 ms instead of 0.1 ms a query
# on 10,000 runs; bench/history_speed.py).
_FOLLOWED = "NOT ({run}.side IS 'baseline' OR {run}.confirms IS NOT NULL)"
_FOLLOWED_RUN = _FOLLOWED.format(run="run")  # for queries that name benchmark_runs `run`

# A run another run may be compared with, whatever its parameters: not the
# baseline side of a side-by-side run (it may be another binary than the one
# history follows), and with at least one ok result. baseline_run adds the
# comparable fields; runs_before looks for the nearest when none matched.
_COULD_BE_BASELINE = (
    _FOLLOWED.format(run="benchmark_runs")
    + " AND EXISTS (SELECT 1 FROM benchmark_results r WHERE r.run_id = benchmark_runs.run_id"
    " AND coalesce(r.status, 'ok') = 'ok')")


def comparable_value(run: dict, field: str):
    value = run.get(field)
    return dict(COMPARABLE_FIELDS)[field] if value is None else value


def comparable_differences(a: dict, b: dict) -> list[str]:
    """The COMPARABLE_FIELDS in which runs a and b differ."""
    return [name for name, _ in COMPARABLE_FIELDS if comparable_value(a, name) != comparable_value(b, name)]


def _comparable(table: str, run: dict) -> tuple[str, list]:
    """A WHERE clause (names fixed here, values as parameters) matching runs
    comparable to `run`."""
    where, params = [], []
    for name, default in COMPARABLE_FIELDS:
        # The value comes from the same column of another row, so it compares
        # as stored (no text round trip: SQL and Python print floats differently).
        where.append(f"coalesce({table}.{name}, ?) IS ?")
        params += [default, comparable_value(run, name)]
    return " AND ".join(where), params


def _run_filters(*, branch=None, build_mode=None, pod=None, since=None, status=None,
                 table: str = "") -> tuple[str, list]:
    """A WHERE clause (names fixed here, values as parameters) for the run filters."""
    where, params = [], []
    for column, value in (("git_branch", branch), ("build_mode", build_mode), ("pod", pod),
                          ("status", status)):
        if value is not None:
            where.append(f"{table}{column} = ?")
            params.append(value)
    if since is not None:
        where.append(f"{table}timestamp >= ?")
        params.append(since)
    return ("WHERE " + " AND ".join(where)) if where else "", params


def _check_columns(row: dict, allowed) -> None:
    """Column names go into SQL text, so only known names may pass."""
    unknown = set(row) - set(allowed) - {"run_id"}
    if unknown:
        raise ValueError(f"unknown column(s): {sorted(unknown)}")


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def dumps(value) -> str | None:
    """JSON text for a column, or NULL for nothing."""
    return None if value in (None, [], {}) else json.dumps(value, ensure_ascii=False)

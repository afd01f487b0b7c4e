"""Exports for other tools: every result as CSV or JSON rows, one run for
github-action-benchmark (`customBiggerIsBetter`) or Bencher (BMF JSON).

Column names are stable: the run's columns prefixed `run_` (run_id first),
then the result's columns as stored (docs/show-results.md, "Exports"). The schema
only ever gains columns, so new ones are appended at the end.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lib.db import RESULT_COLUMNS
from lib.core.errors import BenchError
from lib.core.text import build_text, commit_text, result_key, sweeps, timestamp_text

RUN_EXPORT_COLUMNS = (
    "run_id", "run_timestamp", "run_git_commit", "run_git_branch", "run_build_mode", "run_pod",
    "run_status", "run_suite", "run_requests", "run_concurrency", "run_repeat", "run_warmup",
    "run_engine", "run_engine_version", "run_target", "run_finished_at", "run_duration_s",
    "run_exit_code", "run_error", "run_notes", "run_environment", "run_keepalive", "run_rate",
    "run_side", "run_paired_with", "run_binary_sha256", "run_server_args", "run_named_as_baseline",
    "run_confirmation", "run_confirms",
)
RESULT_EXPORT_COLUMNS = (
    "result_id", "category", "endpoint", "requests", "concurrency", "time_taken",
    "requests_per_sec", "time_per_request", "transfer_rate", "failed_requests",
)
# Columns added after these were listed go at the very end, in the order they
# came, so every earlier column keeps its place.
LATER_EXPORT_COLUMNS = ("run_pinned", "limits", "setup_fingerprint", "run_setup")
RESULT_EXPORT_COLUMNS += tuple(c for c in RESULT_COLUMNS if c not in LATER_EXPORT_COLUMNS)
EXPORT_COLUMNS = RUN_EXPORT_COLUMNS + RESULT_EXPORT_COLUMNS + LATER_EXPORT_COLUMNS
TIMESTAMP_COLUMNS = ("run_timestamp", "run_finished_at", "started_at", "finished_at")
# Columns holding JSON text: objects in the JSON export, the text itself in CSV.
JSON_TEXT_COLUMNS = ("run_environment", "connection_times", "server_errors", "limits")


class ExportError(BenchError):
    """Cannot export (nothing to export, unwritable output): exit 2 with this line."""


def rows_for(db, run_ids: list[int] | None):
    """(columns, rows as tuples in that order) for these runs (all when None),
    oldest first; rows is an iterator, so any size streams."""
    if run_ids is None:
        names, cursor = db.export_cursor()
        cursors = [cursor]
    else:
        ordered = sorted(run_ids)
        cursors = []
        for start in range(0, len(ordered), 500):
            names, cursor = db.export_cursor(ordered[start:start + 500])
            cursors.append(cursor)
        if not cursors:
            names, _ = db.export_cursor([])
    columns = list(EXPORT_COLUMNS) + [c for c in names if c not in EXPORT_COLUMNS]
    where = [names.index(c) for c in columns]
    # Times in the one format (rows of older versions hold ISO 8601 with an offset).
    times = {columns.index(c) for c in TIMESTAMP_COLUMNS}
    return columns, (tuple(timestamp_text(row[i]) if n in times else row[i] for n, i in enumerate(where))
                     for cursor in cursors for row in cursor)


def to_csv(columns: list[str], rows) -> Iterator[str]:
    """CSV text in chunks: a header line, then one line per row (NULL -> empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % 2000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def to_json_rows(columns: list[str], rows) -> Iterator[str]:
    """A JSON array of objects, one per line; JSON text columns as objects."""
    parsed = [columns.index(c) for c in JSON_TEXT_COLUMNS if c in columns]
    yield "["
    first = True
    for row in rows:
        item = dict(zip(columns, row))
        for i in parsed:
            value = row[i]
            if isinstance(value, str):
                try:
                    item[columns[i]] = json.loads(value)
                except ValueError:
                    pass  # not JSON after all: keep the text
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n"


def _measured(db, run_id: int) -> tuple[dict, list[dict], bool, list[str]]:
    """(run, ok rows with a req/s figure, sweep?, warnings about skipped rows)."""
    run = db.run(run_id)
    rows = db.results(run_id, with_samples=False)
    several = sweeps(rows)
    kept, warnings = [], []
    for row in rows:
        if (row.get("status") or "ok") != "ok" or row.get("requests_per_sec") is None:
            warnings.append(f"run {run_id}: {result_key(row, several)} is {row.get('status')}: "
                            "left out (no req/s to report)")
        else:
            kept.append(row)
    return run, kept, several, warnings


def github_action_benchmark(db, run_id: int) -> tuple[str, list[str]]:
    """The list github-action-benchmark reads with `tool: customBiggerIsBetter`:
    [{name, unit, value, range, extra}], one entry per ok endpoint of the run."""
    run, rows, several, warnings = _measured(db, run_id)
    out = []
    for row in rows:
        entry = {"name": result_key(row, several), "unit": "req/s", "value": row["requests_per_sec"]}
        if (row.get("sample_count") or 1) > 1 and row.get("rps_min") is not None \
                and row.get("rps_max") is not None:
            entry["range"] = f"± {(row['rps_max'] - row['rps_min']) / 2:.2f}"
        extra = [f"run {run['run_id']}, {run.get('timestamp')}",
                 commit_text(run), f"{build_text(run)}, pod {run.get('pod')}",
                 f"{row.get('requests')} requests x concurrency {row.get('concurrency')}, "
                 f"{row.get('sample_count') or 1} sample(s)"]
        latency = [f"{p} {row[f'{p}_ms']:.2f} ms" for p in ("p50", "p99") if row.get(f"{p}_ms") is not None]
        if latency:
            extra.append(", ".join(latency))
        if row.get("caveat"):
            extra.append("untrusted: " + row["caveat"])
        entry["extra"] = "\n".join(extra)
        out.append(entry)
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n", warnings


def bmf(db, run_id: int) -> tuple[str, list[str]]:
    """Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}.
    `throughput` is req/s (lower/upper: the slowest and fastest sample when
    there are several); `latency` is the median (p50) in nanoseconds, with the
    p99 as upper_value -- Bencher's built-in measures and units."""
    _run, rows, several, warnings = _measured(db, run_id)
    out = {}
    for row in rows:
        throughput = {"value": row["requests_per_sec"]}
        if (row.get("sample_count") or 1) > 1 and row.get("rps_min") is not None \
                and row.get("rps_max") is not None:
            throughput["lower_value"] = row["rps_min"]
            throughput["upper_value"] = row["rps_max"]
        measures = {"throughput": throughput}
        if row.get("p50_ms") is not None:
            latency = {"value": round(row["p50_ms"] * 1e6, 1)}
            if row.get("p99_ms") is not None:
                latency["upper_value"] = round(row["p99_ms"] * 1e6, 1)
            measures["latency"] = latency
        out[result_key(row, several)] = measures
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n", warnings


def write_output(text, output: str | None, flag: str = "--output") -> None:
    """Text (or an iterable of text chunks) to stdout, or to FILE written whole
    (a temporary file renamed into place, so a failed export never leaves half
    a file)."""
    chunks = [text] if isinstance(text, str) else text
    if output is None or output == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"{flag} {output}: the folder {folder} does not exist; create it or "
                          "write somewhere else")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise ExportError(f"{flag} {output}: cannot write there ({exc.strerror}); "
                          "choose a writable folder") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ExportError(f"{flag} {output}: cannot write ({exc.strerror}); "
                              "choose another file") from None
        raise

"""What a run says on the console while it runs: its stderr lines, the live
request counter of a sample, and the one-line summary of a finished endpoint.
stdout is kept for the report."""
from __future__ import annotations

import sys

from lib.core.text import safe

_tty = sys.stderr.isatty()


def say(message: str) -> None:
    """One line on stderr. It may quote endpoint names, the server's or the
    load generator's words: made inert like every text from outside."""
    print(f"hbf-bench: {safe(message)}", file=sys.stderr, flush=True)


def progress_printer(side: str, sample: int, repeat: int):
    """A `progress(done, total)` for the load engines: one line rewritten in
    place on a terminal, a line per update otherwise."""
    prefix = f"  {side}sample {sample}/{repeat}: " if repeat > 1 else f"  {side}"

    def show(done: int, total: int) -> None:
        text = f"{prefix}Completed {done}/{total} requests"
        if _tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)
    return show


def end_progress() -> None:
    """Clear the progress line on a terminal."""
    if _tty:
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def one_line(row: dict) -> str:
    """A result row as one line: status, req/s, p99, client-bound, error."""
    rps = row.get("requests_per_sec")
    parts = [row["status"]]
    if rps is not None:
        parts.append(f"{rps:,.1f} req/s")
    if row.get("p99_ms") is not None:
        parts.append(f"p99 {row['p99_ms']:.2f} ms")
    if row.get("client_bound"):
        parts.append(f"client-bound: {row['engine']} used {row['client_cpu_pct']:.0f}% of a core, "
                     "so the load generator, not the server, was the limit")
    if row.get("error"):
        parts.append(row["error"])
    return ", ".join(parts)


def append_to(path: str, text: str, flag: str) -> None:
    """Add text to a file the user named (`--summary`: a job summary collects
    several steps' answers). A failure to write costs that file, never the
    run's result or exit status: said in one line."""
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        print(f"benchmark.py: error: {flag} {path}: {exc.strerror or exc}", file=sys.stderr)

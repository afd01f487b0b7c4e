"""Text helpers every terminal and Markdown view uses: escaping text that
comes from outside (notes, suite names, git, server logs), table cells,
numbers, percentages, padded tables, an endpoint's display key, and the one
timestamp format. Pure functions; the HTML page escapes with html.escape.
"""
from __future__ import annotations

import re
import time
from datetime import datetime


# Every timestamp the tool writes or prints: local time, to the second, the
# format the bash tool stored (and `--since` compares with).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_text() -> str:
    return time.strftime(TIMESTAMP_FORMAT)


def timestamp_text(value) -> str | None:
    """A stored timestamp in the one format: older rows hold ISO 8601 with a
    UTC offset ("2026-11-28T04:36:44+00:00"), shown in local time like the rest."""
    if value is None or not isinstance(value, str) or "T" not in value:
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime(TIMESTAMP_FORMAT)


def safe(value) -> str:
    """Text from outside made inert for a terminal: newlines shown as ⏎, tabs
    as spaces, control characters (ESC would move the cursor or clear the
    screen) and bidi overrides (they reorder the rest of the line) spelled out."""
    if value is None:
        return "–"
    out = []
    for ch in str(value).replace("\r\n", "\n"):
        code = ord(ch)
        if ch == "\n":
            out.append("⏎")
        elif ch == "\t":
            out.append(" ")
        elif code < 0x20 or 0x7f <= code < 0xa0:
            out.append(f"\\x{code:02x}")
        elif 0x202a <= code <= 0x202e or 0x2066 <= code <= 0x2069 or code in (0x200e, 0x200f, 0x061c):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


# Characters that make Markdown (GitHub's too) more than text: a table's
# column break, code spans, links and images ([...](...)), raw HTML and
# entities (&#64; would become an @ after rendering). Emphasis (* _ ~) is
# left: it cannot link, notify or break anything, and escaping it would make
# every "/__dev/api/files" in a terminal read "/\_\_dev".
_MARKDOWN_SPECIAL = re.compile(r"([`\[\]<>|&])")
_ESCAPING_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)")  # or ends the text: what we append could follow
_LINE_START = re.compile(r"^([#>+*=-]|\d+[.)])")  # a heading, quote, list or rule if it began a line
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp)(?=:)|\b(www)(?=\.)")
_BREAK = "\u200b"  # zero-width space: breaks "@name" and "https://" apart, prints as nothing


def md(value) -> str:
    """Text from outside made inert in Markdown: `safe` (one line, no control
    characters), then nothing in it can break a table, open a code span,
    make a link, image or HTML element, or notify anyone (@name). The one
    Markdown escape: table cells (`cell`), the reports and the pull-request summary use it."""
    # A backslash is literal unless punctuation follows it; `safe`'s own
    # spellings (\x1b, \u202e) stay as they read.
    text = _ESCAPING_BACKSLASH.sub(r"\\\\", safe(value))
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)
    text = _AUTOLINK.sub(lambda m: (m.group(1) or m.group(2)) + _BREAK, text)
    return text.replace("@", "@" + _BREAK)


def cell(value, width: int | None = None) -> str:
    """One Markdown table cell: `md`, optionally cut to `width` characters
    (of the text as it reads) with an ellipsis."""
    text = safe(value)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return md(text)


def num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if not isinstance(value, (int, float)):
        return cell(value)  # text where a number belongs (a hand-edited database)
    return f"{value:,.{digits}f}"


def pct(value) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f}%" if isinstance(value, (int, float)) else cell(value)


def width(text: str) -> int:
    """Columns the text takes in a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    import unicodedata  # only for text that is not ASCII: most views never need it
    columns = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        columns += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return columns


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    """A Markdown table padded into columns (readable raw in a terminal).
    Cells must already be escaped (`cell`, `num`, `pct`)."""
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(values):
        parts = []
        for i, value in enumerate(values):
            pad = " " * (widths[i] - width(value))
            parts.append(pad + value if i in right else value + pad)
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return [line(headers), rule] + [line(r) for r in rows]


def build_text(run: dict) -> str:
    """A run's build mode, or what stands for none (a --url server's is unknown)."""
    return run.get("build_mode") or "build unknown"


def commit_text(run: dict) -> str:
    """What was measured, in words: "abc1234 on main", or "commit unknown"
    with what ran instead (a --baseline-binary, the stand-in, a --url)."""
    if run.get("git_commit") is None:
        return "commit unknown" + (f" ({run['target']})" if run.get("target") else "")
    return f"{run['git_commit']} on {run.get('git_branch') or 'an unknown branch'}"


def result_key(row: dict, several_levels: bool) -> str:
    """An endpoint's name, plus its concurrency when a run swept several levels:
    the key of a result in a comparison, a report and the exports."""
    return f"{row['endpoint']} @c={row['concurrency']}" if several_levels else row["endpoint"]


def sweeps(rows: list[dict]) -> bool:
    return len({row["concurrency"] for row in rows}) > 1


def levels(text) -> list[int]:
    """A run's concurrency column ("10" or "1,10,50") as a list."""
    return [int(x) for x in str(text or "").split(",") if x.strip().isdigit()]


def slug(name: str) -> str:
    """An endpoint name as a piece of a file name: letters, digits and '-'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:60] or "endpoint"


def status_text(row: dict) -> str:
    """A result's status as every view shows it: "ok", "crashed (SIGSEGV)",
    "failed (404 Not Found)" (what a failed endpoint answered when asked
    alone). Raw text: each view escapes it its own way."""
    text = row.get("status") or "ok"
    detail = row.get("crash_signal") or status_line(row.get("probe"))
    return f"{text} ({detail})" if detail else text


def status_line(answer: str | None) -> str | None:
    """"404 Not Found" out of a stored probe answer (lib/explain/probe.py asks
    and words it); None when there was no answer."""
    if not answer or answer.startswith("no answer"):
        return None
    return answer.split(":", 1)[0]

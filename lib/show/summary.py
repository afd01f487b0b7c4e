"""A run's answer for a pull request (`benchmark.py --summary FILE`, the
workflow passes $GITHUB_STEP_SUMMARY): GitHub-flavoured Markdown, first line
the verdict in words, then one table (endpoint by metric: change, p and the
call), failures with what the endpoint answered alone and the server's first
log line, crossed limits, the machine note when the runner was noisy, and the
command that measures it again.

Pure: it renders a lib/show/report.py RunReport. Every text from outside
goes through lib/core/text.py `md` (or `cell`), as in the run's report.
"""
from __future__ import annotations

import json

from lib.core.text import cell, md, num, pct, result_key, safe, status_text, sweeps
from lib.judge import limits as limit_rules
from lib.judge import stats
from lib.judge.compare import METRIC_BY_NAME, METRICS
from lib.show.comparison_view import comparison_verdict, unclear_entries, unclear_moves

MAX_CHARS = 60_000  # GitHub refuses a step summary over 1 MiB; a readable one is far shorter
MAX_ROWS = 150  # endpoint rows shown; the rest are counted


def verdict(report) -> str:
    """The first line: what failed, what crossed a limit, every call with its
    change and p (in table order), then how many endpoints did not move.
    Plain text: the caller escapes it."""
    rows, comparison = report.results, report.comparison
    several = sweeps(rows) or comparison.several
    parts = [f"{result_key(r, several)} {status_text(r)}" for r in rows if (r.get("status") or "ok") != "ok"]
    parts += ["limit crossed: " + limit_rules.crossed_text(result_key(row, several), entry)
              for row, entry in limit_rules.crossed(rows)]
    if not comparison.compared:
        why = comparison.notes[0] if comparison.notes else "no earlier comparable run"
        return "; ".join(parts + [f"{sum(1 for r in rows if (r.get('status') or 'ok') == 'ok')} of "
                                  f"{len(rows)} endpoints ok, not compared ({why})"])
    if comparison.same_binary:
        return "; ".join(parts + [comparison_verdict(comparison)])
    how = "side by side" if comparison.paired else "one run after the other"
    per_endpoint: dict[str, list[str]] = {}
    for call in comparison.summary.calls:
        metric = comparison.endpoints[call.endpoint].metrics[call.metric]
        label = METRIC_BY_NAME[call.metric].label
        said = per_endpoint.setdefault(call.endpoint, [])
        why = ([] if said else [how]) + ([stats.format_p(metric.p_adjusted)] if metric.p_adjusted is not None else [])
        said.append(f"{label} {call.verdict} {pct(call.change_pct)}" + (f" ({', '.join(why)})" if why else ""))
    parts += [f"{key} " + ", ".join(said) for key, said in per_endpoint.items()]
    parts += unclear_moves(comparison)  # worded as the report words them: one wording
    moved = set(per_endpoint) | {entry.key for entry in unclear_entries(comparison)}
    unchanged = sum(1 for key, e in comparison.endpoints.items()
                    if e.compared and key not in moved and e.rps.verdict != stats.INSUFFICIENT)
    plural = "s" if unchanged != 1 else ""
    if moved and unchanged:
        parts.append(f"{unchanged} endpoint{plural} unchanged")
    elif unchanged:
        parts.append(f"no significant change on any of {unchanged} endpoint{plural}")
    undecided = comparison.summary.undecided
    if undecided:
        parts.append(f"{undecided} endpoint{'s' if undecided != 1 else ''} not judged: insufficient data "
                     "(measure side by side, or with --repeat 5)")
    return "; ".join(parts)


def render(report, command: list[str] | None = None) -> str:
    """The whole summary, at most MAX_CHARS characters."""
    rows, comparison = report.results, report.comparison
    several = sweeps(rows) or comparison.several
    run = report.run
    out = [f"**HBF benchmark:** {md(verdict(report))}", ""]
    base = comparison.baseline
    out.append(f"Run {run['run_id']} ({md(run.get('git_commit') or run.get('target') or 'unknown')})"
               + (f" against run {base['run_id']} ({md(base.get('git_commit') or base.get('target') or 'unknown')})"
                  + (", side by side" if comparison.paired else "") if base else "") + ".")
    out += [""] + _table(report, several)
    out += _failures(rows, several)
    out += _limits(rows, several)
    notes = sorted({e.machine_note for e in comparison.endpoints.values() if e.machine_note})
    if notes:
        out += ["**The runner was noisy**, so a change may be hidden or made up: "
                + "; ".join(md(n) for n in notes), ""]
    if command:
        shown = " ".join(_quoted(word) for word in command)
        out += ["Measure it again locally:", "", "```", shown.replace("`", "'"), "```", ""]
    text = "\n".join(out) + "\n"
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS - 200].rsplit("\n", 1)[0] + "\n\n(summary cut here to stay under "\
               f"{MAX_CHARS:,} characters: `show_results.py --run {run['run_id']}` has it all)\n"
    return text


def _quoted(word: str) -> str:
    import shlex
    return shlex.quote(safe(word))


def _table(report, several: bool) -> list[str]:
    comparison = report.comparison
    out = ["| endpoint | status | " + " | ".join(m.label for m in METRICS) + " |",
           "|---|---|" + "---:|" * len(METRICS)]
    shown = report.results[:MAX_ROWS]
    for row in shown:
        key = result_key(row, several)
        entry = comparison.endpoints.get(key)
        cells = [_metric_cell(entry.metrics[m.name]) if entry is not None and entry.compared
                 else num(row.get(m.name), m.digits) for m in METRICS]
        out.append(f"| {cell(key)} | {cell(row.get('status') or 'ok')} | " + " | ".join(cells) + " |")
    if len(report.results) > len(shown):
        out.append(f"| {len(report.results) - len(shown)} more | | " + " | " * (len(METRICS) - 1) + " |")
    return out + ["", "Each metric: change, p (adjusted for the number of figures judged), and the "
                      "call when there is one; a figure alone when nothing was compared.", ""]


def _metric_cell(verdict) -> str:
    if verdict.change_pct is None:
        return "–"
    text = pct(verdict.change_pct)
    if verdict.p_adjusted is not None:
        text += f", {stats.format_p(verdict.p_adjusted)}"
    if verdict.verdict in (stats.REGRESSED, stats.IMPROVED):
        text += f" **{verdict.verdict}**"
    return text


def _failures(rows: list[dict], several: bool) -> list[str]:
    failed = [r for r in rows if (r.get("status") or "ok") != "ok"]
    if not failed:
        return []
    out = ["**Failures**", ""]
    for row in failed:
        line = f"- {md(result_key(row, several))}: {md(status_text(row))}"
        if row.get("error"):
            line += f": {md(row['error'])}"
        if row.get("probe"):
            line += f"; asked alone it answered: {md(row['probe'])}"
        errors = json.loads(row["server_errors"]) if row.get("server_errors") else []
        if errors:
            line += f"; the server's first log line: {md(errors[0]['line'])}"
        out.append(line)
    return out + [""]


def _limits(rows: list[dict], several: bool) -> list[str]:
    crossed = limit_rules.crossed(rows)
    if not crossed:
        return []
    return ["**Limits crossed**", ""] + [
        f"- {md(limit_rules.crossed_text(result_key(row, several), entry))}" for row, entry in crossed] + [""]

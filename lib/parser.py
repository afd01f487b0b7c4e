"""ab's text to numbers: pure functions, no I/O.

`parse_ab(stdout, stderr)` turns what ApacheBench printed into a LoadResult;
`parse_percentile_csv(text)` reads the file ab writes with `-e`. A normal run
must carry every summary line we rely on, or AbParseError names what is
missing. A run that ab cut short (server died, request timed out) prints
`Total of N requests completed` and no summary: that parses to a partial
result (finished=False) carrying the completed count and ab's complaint.
"""
from __future__ import annotations

import re

from lib.core.loadresult import LoadResult


class AbParseError(ValueError):
    """ab printed something we do not recognise; the message names what is missing."""


_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"

# Summary lines: (field, regex, type). The first group is the value.
_REQUIRED = (
    ("time_taken_s", rf"^Time taken for tests:\s+{_NUMBER} seconds", float),
    ("complete_requests", r"^Complete requests:\s+(\d+)", int),
    ("failed_requests", r"^Failed requests:\s+(\d+)", int),
)
_OPTIONAL = (
    ("write_errors", r"^Write errors:\s+(\d+)", int),
    ("non_2xx", r"^Non-2xx responses:\s+(\d+)", int),
    ("keepalive_requests", r"^Keep-Alive requests:\s+(\d+)", int),
    ("total_transferred", r"^Total transferred:\s+(\d+) bytes", int),
    ("html_transferred", r"^HTML transferred:\s+(\d+) bytes", int),
    ("requests_per_sec", rf"^Requests per second:\s+{_NUMBER} \[#/sec\] \(mean\)$", float),
    ("time_per_request_ms", rf"^Time per request:\s+{_NUMBER} \[ms\] \(mean\)$", float),
    ("time_per_request_all_ms",
     rf"^Time per request:\s+{_NUMBER} \[ms\] \(mean, across all concurrent requests\)", float),
    ("transfer_rate_kbps", rf"^Transfer rate:\s+{_NUMBER} \[Kbytes/sec\] received", float),
)
_FAILED_BREAKDOWN = re.compile(
    r"^\s+\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", re.M)
_DOCUMENT_LENGTH = re.compile(r"^Document Length:\s+(?:(\d+) bytes|Variable)", re.M)
# For 150 requests or fewer ab prints no progress lines, so this follows
# "Benchmarking ... (be patient)..." on the same line.
_TOTAL_COMPLETED = re.compile(r"Total of (\d+) requests completed")
_CONNECTION_ROW = re.compile(
    rf"^(Connect|Processing|Waiting|Total):\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s*$",
    re.M)
_PERCENT_ROW = re.compile(r"^\s*(\d+)%\s+(\d+)", re.M)
# ab's own errors on stderr look like "apr_socket_recv: Connection reset by peer (104)".
_AB_ERROR = re.compile(r"^(apr_\w+.*|ab: .*|Test aborted after .*|Invalid .*)$", re.M)


def parse_ab(stdout: str, stderr: str = "") -> LoadResult:
    """Parse one ab run. Raises AbParseError when neither a summary nor a
    "Total of N requests completed" line is there."""
    error = ab_error(stderr)
    if "Complete requests:" not in stdout:
        completed = _TOTAL_COMPLETED.search(stdout)
        if completed is None:
            if error:
                # ab gave up before finishing a single request (refused, bad URL).
                return LoadResult(finished=False, error=error)
            raise AbParseError(
                "ab output has neither a summary ('Complete requests:') nor "
                "'Total of N requests completed'; first line: "
                + (stdout.strip().splitlines() or ["<empty>"])[0][:120])
        return LoadResult(finished=False, error=error,
                          complete_requests=int(completed.group(1)))

    result = LoadResult(error=error)
    missing = []
    for name, pattern, kind in _REQUIRED:
        match = re.search(pattern, stdout, re.M)
        if match is None:
            missing.append(name)
        else:
            setattr(result, name, kind(match.group(1)))
    if missing:
        raise AbParseError("ab summary is missing: " + ", ".join(missing))
    for name, pattern, kind in _OPTIONAL:
        match = re.search(pattern, stdout, re.M)
        if match is not None:
            setattr(result, name, kind(match.group(1)))

    breakdown = _FAILED_BREAKDOWN.search(stdout)
    if breakdown:
        (result.failed_connect, result.failed_receive,
         result.failed_length, result.failed_exceptions) = map(int, breakdown.groups())
    elif result.failed_requests:
        raise AbParseError("ab reported failed requests without the "
                           "(Connect, Receive, Length, Exceptions) breakdown")

    length = _DOCUMENT_LENGTH.search(stdout)
    if length and length.group(1) is not None:
        result.document_length = int(length.group(1))

    for row in _CONNECTION_ROW.finditer(stdout):
        name, low, mean, sd, median, high = row.groups()
        result.connection_times[name.lower()] = {
            "min": float(low), "mean": float(mean), "sd": float(sd),
            "median": float(median), "max": float(high)}

    table = {float(p): float(ms) for p, ms in _PERCENT_ROW.findall(_percent_section(stdout))}
    if table:
        result.percentiles = table
        result.percentiles_source = "table"
    return result


def _percent_section(stdout: str) -> str:
    marker = "Percentage of the requests served within a certain time"
    index = stdout.find(marker)
    return stdout[index + len(marker):] if index >= 0 else ""


def ab_error(stderr: str) -> str | None:
    """ab's own complaint from its stderr (progress lines skipped), or None."""
    lines = _AB_ERROR.findall(stderr or "")
    return "; ".join(line.strip() for line in lines) or None


def parse_percentile_csv(text: str) -> dict[float, float]:
    """ab -e CSV: header 'Percentage served,Time in ms', then 'p,ms' rows for
    p = 0..100. Returns {p: ms}. Raises AbParseError on anything else."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Percentage served"):
        raise AbParseError("percentile CSV lacks its 'Percentage served,Time in ms' header")
    values: dict[float, float] = {}
    for line in lines[1:]:
        try:
            percent, ms = line.split(",")
            values[float(percent)] = float(ms)
        except ValueError:
            raise AbParseError(f"percentile CSV row is not 'percent,ms': {line[:60]!r}") from None
    if 100.0 not in values:
        raise AbParseError("percentile CSV has no 100% row")
    return values


def with_csv_percentiles(result: LoadResult, csv_text: str | None) -> LoadResult:
    """Prefer the -e CSV (microseconds) over the whole-millisecond table.

    ab writes the CSV even for runs that printed no summary; a missing or empty
    file (ab died before writing it) leaves the table values in place."""
    if csv_text and csv_text.strip() and result.complete_requests > 0:
        values = parse_percentile_csv(csv_text)
        done = result.complete_requests
        for percent in range(1, 100):
            # ab reads row p at index round(done * p / 100): past the end of
            # its array for small runs (p99 below 51 requests), where the
            # value is garbage. The longest request is the right answer there.
            if int(0.5 + done * percent / 100) >= done:
                values[float(percent)] = values[100.0]
        result.percentiles = values
        result.percentiles_source = "csv"
    return result

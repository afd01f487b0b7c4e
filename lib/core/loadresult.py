"""The value every load engine returns: what one load run against one URL measured.

ab's text (lib/parser.py), the built-in Python engine (lib/pyload.py) and wrk
(lib/wrk.py) all produce a LoadResult, so storing, comparing and reporting never
care which engine measured.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadResult:
    engine: str = "ab"
    # False when the run ended early (server died, timeout): the figures below
    # then cover only what completed and the rate lines may be missing.
    finished: bool = True
    # The engine's own complaint, e.g. "apr_socket_recv: Connection reset by peer (104)".
    error: str | None = None
    time_taken_s: float | None = None
    complete_requests: int = 0
    failed_requests: int = 0
    # ab's breakdown of failed_requests.
    failed_connect: int = 0
    failed_receive: int = 0
    failed_length: int = 0
    failed_exceptions: int = 0
    write_errors: int = 0
    non_2xx: int = 0
    keepalive_requests: int | None = None
    document_length: int | None = None  # None when variable (-l) or unknown
    total_transferred: int | None = None
    html_transferred: int | None = None
    requests_per_sec: float | None = None
    time_per_request_ms: float | None = None  # mean latency: concurrency * time / done
    time_per_request_all_ms: float | None = None  # time / done, across all concurrent requests
    transfer_rate_kbps: float | None = None
    # ab's "Connection Times (ms)": {"connect"|"processing"|"waiting"|"total":
    #   {"min", "mean", "sd", "median", "max"}}
    connection_times: dict[str, dict[str, float]] = field(default_factory=dict)
    # percentile (0..100) -> milliseconds. From ab's -e CSV when present
    # (microsecond resolution), else from its whole-millisecond table.
    percentiles: dict[float, float] = field(default_factory=dict)
    percentiles_source: str | None = None  # "csv" (ab -e), "table" (printed rows), "exact" (python), "wrk" (lua histogram)

    def percentile(self, p: float) -> float | None:
        return self.percentiles.get(float(p))

    @property
    def p50_ms(self) -> float | None:
        return self.percentile(50)

    @property
    def p90_ms(self) -> float | None:
        return self.percentile(90)

    @property
    def p95_ms(self) -> float | None:
        return self.percentile(95)

    @property
    def p99_ms(self) -> float | None:
        return self.percentile(99)

    @property
    def max_ms(self) -> float | None:
        return self.percentile(100)

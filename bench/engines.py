#!/usr/bin/env python3
"""How do the load engines compare? ab, wrk and the built-in Python engine,
side by side, against a fast C server (nginx serving a small static file)
and against the stand-in, at concurrency 10, with and without keep-alive.

Runs alternate engine by engine within each round; the table shows medians
of --rounds rounds (default 5): req/s, p50, and each engine's req/s and p50
as a ratio of ab's. nginx comes from Debian's packages (apt-get install
nginx-light); this script starts its own instance on a free loopback port
with a temporary prefix and stops it by PID.

Usage: python3 bench/engines.py [--rounds 5] [--requests 5000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from lib.load import engines  # noqa: E402
from lib.server import free_port  # noqa: E402
from lib.run.suite import Endpoint  # noqa: E402

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location / {{ }}
    }}
}}
"""


def start_nginx(folder: Path) -> tuple[subprocess.Popen, str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        sys.exit("nginx is not installed: apt-get install -y nginx-light")
    port = free_port()
    (folder / "www").mkdir()
    (folder / "www" / "small.txt").write_text("x" * 130)  # the size of HBF's style.css
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=folder, port=port))
    proc = subprocess.Popen([nginx, "-p", str(folder), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def start_standin(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-S", str(REPO / "lib" / "standin.py"), "--port", str(port),
                             "--log-level", "error", "--inmem",
                             "--no-stop-poll"],  # stop() sends no connection to end its poll
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def wait_for_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        import socket
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    sys.exit("server did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    available = [e for e in ("ab", "wrk", "python") if e == "python" or shutil.which(e)]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, engines: "
          + ", ".join(f"{e} {engines.version(e)}" for e in available)
          + f"; {args.requests} requests (wrk: same count over a derived duration), c={args.concurrency}, "
            f"medians of {args.rounds} alternating rounds\n", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for target, starter, path in (("nginx", start_nginx, "/small.txt"), ("stand-in", start_standin, "/hello")):
            folder = Path(tmp) / target
            folder.mkdir()
            proc, url = starter(folder)
            endpoint = Endpoint(name=path, category="static", path=path)
            try:
                # The last setting compares latency at the same, light load:
                # one connection, where no engine is bound by its own CPU.
                for keepalive, concurrency in ((False, args.concurrency), (True, args.concurrency),
                                               (False, 1)):
                    figures = {e: {"rps": [], "p50": [], "cpu": []} for e in available}
                    for _ in range(args.rounds):
                        for engine in available:
                            run = engines.run(engine, url + path, endpoint,
                                              requests=args.requests if concurrency > 1 else args.requests // 5,
                                              concurrency=concurrency, timeout_s=10, keepalive=keepalive)
                            result = run.result
                            if result.requests_per_sec:
                                figures[engine]["rps"].append(result.requests_per_sec)
                            if result.p50_ms is not None:
                                figures[engine]["p50"].append(result.p50_ms)
                            if run.client_cpu_s is not None:
                                figures[engine]["cpu"].append(100 * run.client_cpu_s / run.wall_s)
                    ab_rps = statistics.median(figures["ab"]["rps"]) if "ab" in figures else None
                    ab_p50 = statistics.median(figures["ab"]["p50"]) if "ab" in figures else None
                    for engine in available:
                        rps = statistics.median(figures[engine]["rps"]) if figures[engine]["rps"] else None
                        p50 = statistics.median(figures[engine]["p50"]) if figures[engine]["p50"] else None
                        cpu = statistics.median(figures[engine]["cpu"]) if figures[engine]["cpu"] else None
                        rows.append((target, f"{'on' if keepalive else 'off'}, c={concurrency}", engine, rps, p50, cpu,
                                     rps / ab_rps if rps and ab_rps else None,
                                     p50 / ab_p50 if p50 and ab_p50 else None))
                    print(f"  done: {target}, keep-alive {'on' if keepalive else 'off'}, c={concurrency}",
                          flush=True)
            finally:
                stop(proc)
    print()
    print("| server | keep-alive, c | engine | req/s | p50 ms | client CPU % | req/s vs ab | p50 vs ab |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for target, keepalive, engine, rps, p50, cpu, rps_ratio, p50_ratio in rows:
        fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
        print(f"| {target} | {keepalive} | {engine} | {fmt(rps, ',.0f')} | {fmt(p50, '.3f')} | {fmt(cpu, '.0f')} | "
              f"{fmt(rps_ratio, '.2f')} | {fmt(p50_ratio, '.2f')} |")


if __name__ == "__main__":
    main()

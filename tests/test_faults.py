"""Every fault a benchmark meets, provoked for real: signals, crashes, hangs,
servers that never come up, missing programs, database trouble.

Each test checks what the user sees (exit status, one clear line), what the
database keeps, and that no process is left behind.
"""
import json
import os
import shutil
import signal
import sqlite3
import stat
import sys
import textwrap
import threading
import time
import unittest
from pathlib import Path

from lib.db import SCHEMA_VERSION
from lib.server import STOP_GRACE_S, HbfServer, start_servers, stop_servers
from tests.cli import LiveBenchmark, demo_args, run_benchmark, run_show
from tests.support import STANDIN, TempDirTestCase, free_port, requires_ab, wait_idle, wait_until
from tests.test_zz_leftovers import tagged_processes


def runs(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT run_id, status, error FROM benchmark_runs ORDER BY run_id").fetchall()


def results(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT endpoint, status, error, crash_signal FROM benchmark_results"
                            " ORDER BY result_id").fetchall()


def no_leftovers(test):
    wait_until(lambda: not tagged_processes(), timeout=10,
               message=lambda: f"left running: {tagged_processes()}")


def slow_suite(tmp: Path) -> Path:
    """normal, dev, normal: to act on one server while the other is measured."""
    suite = tmp / "suite.toml"
    suite.write_text(textwrap.dedent("""
        [[endpoints]]
        category = "runtime"
        path = "/hello"
        [[endpoints]]
        name = "GET /__dev/api/files"
        category = "fs_read"
        path = "/__dev/api/files"
        server = "dev"
        variable_length = true
        [[endpoints]]
        category = "runtime"
        path = "/echo"
    """))
    return suite


class WithTmp(TempDirTestCase):
    def tearDown(self):
        super().tearDown()
        no_leftovers(self)


@requires_ab
class Interrupts(WithTmp):
    def _interrupt_during_third_endpoint(self, sig, twice=False):
        # 800 requests at 5 ms and c=4: about a second an endpoint, time enough to act in the third.
        live = LiveBenchmark(*demo_args(self.db, "--only", "static", "--only", "runtime",
                                        "--server-arg=--delay-ms", "--server-arg=5",
                                        requests=800, concurrency=4))
        live.wait_for("[3/5]")
        live.signal(sig)
        if twice:
            live.signal(sig)
        code = live.finish()
        return code, live

    def test_ctrl_c_during_ab_keeps_finished_results(self):
        code, live = self._interrupt_during_third_endpoint(signal.SIGINT)
        self.assertEqual(code, 130, live.stderr[-2000:])
        (run_id, status, error), = runs(self.db)
        self.assertEqual(status, "interrupted")
        self.assertIn("SIGINT", error)
        stored = results(self.db)
        self.assertEqual([r[0] for r in stored], ["/static/style.css", "/static/favicon.ico"])
        self.assertTrue(all(r[1] == "ok" for r in stored))
        self.assertIn("INTERRUPTED", live.stdout)

    def test_sigterm_exits_143(self):
        code, live = self._interrupt_during_third_endpoint(signal.SIGTERM)
        self.assertEqual(code, 143, live.stderr[-2000:])
        self.assertEqual(runs(self.db)[0][1], "interrupted")

    def test_second_ctrl_c_leaves_no_orphans(self):
        code, live = self._interrupt_during_third_endpoint(signal.SIGINT, twice=True)
        self.assertEqual(code, 130, live.stderr[-2000:])
        self.assertEqual(runs(self.db)[0][1], "interrupted")

    def test_a_second_ctrl_c_during_cleanup_is_ignored(self):
        # Servers that ignore SIGTERM keep the cleanup busy for its grace
        # period: the second Ctrl-C lands inside it, is said, and changes nothing.
        live = LiveBenchmark(*demo_args(self.db, "--only", "/hello", "--server-arg=--ignore-sigterm",
                                        "--server-arg=--delay-ms", "--server-arg=5",
                                        requests=2000, concurrency=4))
        try:
            live.wait_for("[1/1]")
            live.signal(signal.SIGINT)
            live.wait_for("SIGINT: stopping the servers")
            live.signal(signal.SIGINT)
            code = live.finish()
            left = [p for p in tagged_processes() if "standin.py" in p]
        finally:  # a stand-in left behind must not outlive the test
            live.kill()
            for line in tagged_processes():
                if "--ignore-sigterm" in line:
                    os.kill(int(line.split()[1].rstrip(":")), signal.SIGKILL)
        self.assertEqual(code, 130, live.stderr[-2000:])
        said = live.stderr
        self.assertIn("SIGINT again: still stopping servers", said)
        # The second one came while the servers were being stopped, and the
        # stop went on to its end: the grace ran out and the fallback killed.
        self.assertIn("killed (SIGKILL)", said)
        self.assertLess(said.index("SIGINT again"), said.index("killed (SIGKILL)"))
        self.assertEqual(runs(self.db)[0][1], "interrupted")
        self.assertEqual(left, [])

    def test_ctrl_c_during_startup(self):
        live = LiveBenchmark(*demo_args(self.db, "--server-arg=--startup-delay-ms",
                                        "--server-arg=20000", requests=50, concurrency=2))
        live.wait_for("starting")
        live.signal(signal.SIGINT)
        self.assertEqual(live.finish(), 130, live.stderr[-2000:])
        self.assertEqual(runs(self.db)[0][1], "interrupted")
        self.assertEqual(results(self.db), [])

    def test_ctrl_c_during_build(self):
        workspace = self.tmp / "hbf"
        workspace.mkdir()
        (workspace / "MODULE.bazel").write_text('module(name = "hbf", version = "0.1.0")\n')
        bindir = self.tmp / "bin"
        bindir.mkdir()
        fake_bazel = bindir / "bazel"
        # A stand-in for a long bazel build: prints, then works for a long time.
        fake_bazel.write_text("#!/bin/sh\necho 'INFO: Analyzed target //:hbf_test' >&2\nexec sleep 60\n")
        fake_bazel.chmod(0o755)
        env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
        live = LiveBenchmark("--workspace", workspace, "--db", self.db, "--requests", 10,
                             "--concurrency", 1, env=env)
        live.wait_for("Analyzed target")
        live.signal(signal.SIGINT)
        self.assertEqual(live.finish(), 130, live.stderr[-2000:])
        self.assertEqual(runs(self.db)[0][1], "interrupted")


@requires_ab
class Crashes(WithTmp):
    def test_crash_between_endpoints_restarts_the_server(self):
        dumps = self.tmp / "dumps"
        dumps.mkdir()
        live = LiveBenchmark(*demo_args(self.db, "--suite", slow_suite(self.tmp), "--json",
                                        "--server-arg=--delay-ms", "--server-arg=20",
                                        requests=120, concurrency=2))
        live.wait_for("[2/3]")
        # The normal server dies while the dev server is being measured (1.2 s of it).
        normal = [p for p in tagged_processes() if "standin.py" in p and "--dev" not in p]
        self.assertEqual(len(normal), 1, normal)
        os.kill(int(normal[0].split()[1].rstrip(":")), signal.SIGSEGV)
        code = live.finish()
        self.assertEqual(code, 1, live.stderr[-2000:])
        report = json.loads(live.stdout)
        self.assertEqual(report["status"], "partial")
        self.assertEqual([r["status"] for r in report["results"]], ["ok", "ok", "ok"])
        self.assertIn("between endpoints", report["error"])
        self.assertIn("SIGSEGV", report["error"])

    def test_server_that_crashes_again_at_restart_is_given_up(self):
        marker = self.tmp / "started-once"
        suite = self.tmp / "suite.toml"
        suite.write_text('[[endpoints]]\ncategory = "runtime"\npath = "/hello"\n'
                         '[[endpoints]]\ncategory = "runtime"\npath = "/echo"\n'
                         '[[endpoints]]\ncategory = "runtime"\npath = "/user/42"\n')
        done = run_benchmark(*demo_args(self.db, "--suite", suite, "--json", "--warmup", 0,
                                        "--server-arg=--crash-on", "--server-arg=/hello",
                                        "--server-arg=--crash-after", "--server-arg=20",
                                        "--server-arg=--crash-at-start-if-exists",
                                        f"--server-arg={marker}", requests=100, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        report = json.loads(done.stdout)
        statuses = [(r["endpoint"], r["status"]) for r in report["results"]]
        self.assertEqual(statuses, [("/hello", "crashed"), ("/echo", "failed"), ("/user/42", "failed")])
        self.assertIn("did not come back", report["results"][1]["error"])
        self.assertEqual(done.stderr.count("restarting the normal server"), 1)

    def test_hung_server_is_a_timeout_and_is_restarted(self):
        suite = self.tmp / "suite.toml"
        suite.write_text('[[endpoints]]\ncategory = "runtime"\npath = "/hello"\n'
                         '[[endpoints]]\ncategory = "runtime"\npath = "/echo"\n')
        done = run_benchmark(*demo_args(self.db, "--suite", suite, "--json", "--warmup", 0,
                                        "--request-timeout", 1,
                                        "--server-arg=--hang-on", "--server-arg=/hello",
                                        "--server-arg=--hang-after", "--server-arg=30",
                                        requests=200, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        hello, echo = json.loads(done.stdout)["results"]
        self.assertEqual(hello["status"], "timeout")
        self.assertIn("request timeout", hello["error"])
        self.assertGreaterEqual(hello["complete_requests"], 20)
        self.assertEqual(echo["status"], "ok")
        self.assertIn("restarting the normal server", done.stderr)


class Stopping(WithTmp):
    """Servers are stopped by SIGTERM and then a connection to their port: the
    stand-in, like HBF, otherwise exits only at the end of its 2-second poll.
    One that ignores SIGTERM is killed after the grace period."""

    def two_servers(self, *extra) -> list[HbfServer]:
        ports = [free_port()]
        while len(ports) < 2:
            ports = list({*ports, free_port()})
        servers = [HbfServer(role, [sys.executable, str(STANDIN)], port, self.tmp / f"{role}.log",
                             extra_args=list(extra)) for role, port in zip(("normal", "dev"), ports)]
        self.addCleanup(stop_servers, servers, 0.1)
        start_servers(servers, timeout=20)
        for server in servers:  # done with /health: the main thread takes the SIGTERM
            wait_idle(server.pid)
        return servers

    def test_two_servers_stop_together_well_under_the_poll(self):
        servers = self.two_servers()
        started = time.monotonic()
        unclean = stop_servers(servers)
        elapsed = time.monotonic() - started
        self.assertEqual(unclean, [])
        self.assertEqual([s.proc.returncode for s in servers], [0, 0])
        self.assertLess(elapsed, 1.0)  # the poll alone would take up to 2 s

    def test_servers_that_ignore_sigterm_are_killed_after_one_grace(self):
        servers = self.two_servers("--ignore-sigterm")
        started = time.monotonic()
        returned = []
        stopper = threading.Thread(target=lambda: returned.append(stop_servers(servers, grace=0.5)),
                                   daemon=True)
        stopper.start()
        stopper.join(10)
        if stopper.is_alive():  # no SIGKILL after the grace: end them here, and fail
            for server in servers:
                os.killpg(server.pid, signal.SIGKILL)
            self.fail("stop_servers never returned: servers that ignore SIGTERM were not killed")
        elapsed = time.monotonic() - started
        unclean, = returned
        codes = [s.proc.poll() for s in servers]
        for server in servers:  # one left running fails here, not in every later test
            if server.proc.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.proc.wait()
        self.assertEqual(codes, [-signal.SIGKILL] * 2)
        self.assertEqual([(server.role, sentence) for server, sentence in unclean], [
            ("normal", "the normal server did not exit within 0.5 s of SIGTERM and was killed (SIGKILL)"),
            ("dev", "the dev server did not exit within 0.5 s of SIGTERM and was killed (SIGKILL)")])
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLess(elapsed, 1.0)  # waited for together, not one grace after the other

    def test_a_bad_exit_status_when_stopped_is_said(self):
        servers = self.two_servers("--dump-on-exit", "/proc/no-such-dir")  # cannot write: status 1
        unclean = stop_servers(servers)
        self.assertEqual([sentence for _, sentence in unclean], [
            "the normal server exited with status 1 when asked to stop (SIGTERM)",
            "the dev server exited with status 1 when asked to stop (SIGTERM)"])

    @requires_ab
    def test_a_run_stops_its_server_well_under_the_poll(self):
        live = LiveBenchmark(*demo_args(self.db, "--only", "/hello", requests=100, concurrency=2))
        live.wait_for("/hello: ok")
        measured = time.monotonic()
        self.assertEqual(live.finish(), 0, live.stderr[-2000:])
        # Stopping, storing the outcome, the report and the interpreter's exit:
        # waiting out the stand-in's poll alone would take about 2 s.
        self.assertLess(time.monotonic() - measured, 1.0)
        self.assertEqual(runs(self.db)[0][1:], ("complete", None))

    @requires_ab
    def test_a_server_that_ignores_sigterm_is_killed_and_the_run_still_finishes(self):
        live = LiveBenchmark(*demo_args(self.db, "--only", "/hello", "--server-arg=--ignore-sigterm",
                                        requests=50, concurrency=2))
        try:
            code = live.finish(timeout=30)
            left = tagged_processes()  # benchmark.py has reaped what it killed
        finally:  # a stand-in left behind must not outlive the test
            for line in tagged_processes():
                if "--ignore-sigterm" in line:
                    os.kill(int(line.split()[1].rstrip(":")), signal.SIGKILL)
        self.assertEqual(left, [])
        self.assertEqual(code, 0, live.stderr[-2000:])
        said = (f"the normal server did not exit within {STOP_GRACE_S:g} s of SIGTERM "
                "and was killed (SIGKILL)")
        self.assertIn(said, live.stderr)
        self.assertIn(f"> - run: {said}", live.stdout)  # the report says so
        self.assertEqual(runs(self.db), [(1, "complete", said)])
        self.assertEqual([r[:2] for r in results(self.db)], [("/hello", "ok")])


class ServersThatNeverServe(WithTmp):
    def test_never_ready(self):
        done = run_benchmark(*demo_args(self.db, "--startup-timeout", 0.5,
                                        "--server-arg=--startup-delay-ms", "--server-arg=30000"))
        self.assertEqual(done.returncode, 2)
        first = done.stderr.strip().splitlines()
        self.assertTrue(any("did not answer GET /health" in line for line in first), done.stderr)
        self.assertEqual(runs(self.db)[0][1], "failed")

    def test_exits_at_start_with_its_log(self):
        done = run_benchmark(*demo_args(self.db, "--server-arg=--no-such-flag"))
        self.assertEqual(done.returncode, 2)
        self.assertIn("exited with status 1 while starting", done.stderr)
        self.assertIn("--no-such-flag", done.stderr)  # the server's own complaint, from its log

    def test_port_taken_inside_the_server(self):
        import socket
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            busy = squatter.getsockname()[1]
            # A later --port wins in the server's own parsing: it binds a taken port.
            done = run_benchmark(*demo_args(self.db, "--server-arg=--port", f"--server-arg={busy}"))
        self.assertEqual(done.returncode, 2)
        self.assertIn("Failed to start HTTP server", done.stderr)

    def test_binary_missing_or_not_executable(self):
        script = self.tmp / "hbf"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(stat.S_IRUSR | stat.S_IWUSR)
        for binary in (self.tmp / "missing", script):
            with self.subTest(binary=binary.name):
                done = run_benchmark("--binary", binary, "--db", self.db)
                self.assertEqual(done.returncode, 2)
                self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
                self.assertIn("not an executable file", done.stderr)
        self.assertFalse(self.db.exists())


class LoadGeneratorTrouble(WithTmp):
    def test_ab_missing(self):
        empty = self.tmp / "empty-bin"
        empty.mkdir()
        env = dict(os.environ, PATH=str(empty))
        done = run_benchmark(*demo_args(self.db, "--engine", "ab"), env=env)
        self.assertEqual(done.returncode, 2)
        self.assertIn("ab (ApacheBench) is not installed", done.stderr)
        self.assertIn("apt-get install apache2-utils", done.stderr)
        self.assertFalse(self.db.exists())

    def test_ab_failing_for_its_own_reason_is_stored_with_its_words(self):
        bindir = self.tmp / "bin"
        bindir.mkdir()
        fake = bindir / "ab"
        # Answers -V like ab, refuses every run like ab does on a bad URL.
        fake.write_text("#!/bin/sh\nif [ \"$1\" = -V ]; then echo 'This is ApacheBench, Version 2.3'; exit 0; fi\n"
                        "echo 'ab: invalid URL' >&2\nexit 22\n")
        fake.chmod(0o755)
        env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
        done = run_benchmark(*demo_args(self.db, "--only", "/hello", "--json", requests=20,
                                        concurrency=2), env=env)
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        result = json.loads(done.stdout)["results"][0]
        self.assertEqual(result["status"], "failed")
        self.assertIn("ab: invalid URL", result["error"])


@requires_ab
class DatabaseTrouble(WithTmp):
    def test_database_deleted_mid_run(self):
        live = LiveBenchmark(*demo_args(self.db, "--only", "static", "--only", "runtime",
                                        "--server-arg=--delay-ms", "--server-arg=5",
                                        requests=600, concurrency=4))
        live.wait_for("[2/5]")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        code = live.finish()
        self.assertEqual(code, 2, live.stderr[-2000:])
        self.assertIn("was deleted or replaced during the run", live.stderr)

    def test_database_locked_mid_run(self):
        env = dict(os.environ, HBF_BENCH_DB_BUSY_TIMEOUT="1")
        live = LiveBenchmark(*demo_args(self.db, "--only", "static", "--only", "runtime",
                                        "--server-arg=--delay-ms", "--server-arg=5",
                                        requests=600, concurrency=4), env=env)
        live.wait_for("[2/5]")
        locker = sqlite3.connect(self.db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            code = live.finish()
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        self.assertEqual(code, 2, live.stderr[-2000:])
        self.assertIn("database is locked", live.stderr)
        # What finished before the lock is kept.
        self.assertEqual(results(self.db)[0][:2], ("/static/style.css", "ok"))

    def test_two_runs_at_once_on_one_database_and_the_same_ports(self):
        ports = ["--port", free_port(), "--dev-port", free_port()]
        args = ["--demo", "--requests", 200, "--concurrency", 2, "--only", "runtime",
                "--db", self.db, *ports, "--json"]
        first, second = LiveBenchmark(*args), LiveBenchmark(*args)
        codes = [first.finish(), second.finish()]
        self.assertEqual(codes, [0, 0], first.stderr[-1500:] + second.stderr[-1500:])
        ids = {json.loads(first.stdout)["run_id"], json.loads(second.stdout)["run_id"]}
        self.assertEqual(ids, {1, 2})
        with sqlite3.connect(self.db) as conn:
            counts = conn.execute("SELECT run_id, count(*) FROM benchmark_results GROUP BY run_id").fetchall()
        self.assertEqual(sorted(counts), [(1, 3), (2, 3)])


    def test_several_runs_started_at_once_all_finish(self):
        # Each round starts three runs on the same ports at the same moment:
        # one takes a port the others just checked; they move on (lib/runner.py).
        for round_number in range(3):
            with self.subTest(round=round_number):
                ports = ["--port", free_port(), "--dev-port", free_port()]
                runs_at_once = [LiveBenchmark("--demo", "--requests", 20, "--concurrency", 2, "--only", "/hello",
                                              "--warmup", 0, "--db", self.db, *ports) for _ in range(3)]
                codes = [live.finish() for live in runs_at_once]
                self.assertEqual(codes, [0, 0, 0], "".join(live.stderr[-800:] for live in runs_at_once))
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("SELECT count(*), min(status), max(status) FROM benchmark_runs")
                             .fetchone(), (9, "complete", "complete"))


class DatabaseFiles(WithTmp):
    def test_legacy_database_is_upgraded_once_with_a_backup(self):
        legacy = Path(__file__).parent / "fixtures" / "legacy-results.db"
        shutil.copy(legacy, self.db)
        done = run_benchmark(*demo_args(self.db, "--only", "/hello", requests=20, concurrency=2))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        backups = list(self.tmp.glob("r.db.bak-*"))
        self.assertEqual(len(backups), 1)
        self.assertEqual(backups[0].read_bytes(), legacy.read_bytes())
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)
            old = conn.execute("SELECT status, pod FROM benchmark_runs WHERE run_id <= 3").fetchall()
            self.assertEqual(old, [("complete", "test")] * 3)
            self.assertEqual(conn.execute("SELECT count(*), min(status), max(status) FROM benchmark_results"
                                          " WHERE run_id <= 3").fetchone(), (21, "ok", "ok"))
            caveats = conn.execute("SELECT count(*) FROM benchmark_results WHERE caveat IS NOT NULL").fetchone()[0]
            self.assertEqual(caveats, 6)  # favicon and POST-as-PUT rows of three runs
            self.assertEqual(conn.execute("SELECT notes FROM benchmark_runs WHERE run_id = 1").fetchone()[0],
                             "baseline before optimization")
        again = run_benchmark(*demo_args(self.db, "--only", "/hello", requests=20, concurrency=2))
        self.assertEqual(again.returncode, 0, again.stderr[-2000:])
        self.assertEqual(len(list(self.tmp.glob("r.db.bak-*"))), 1)

    def test_version_1_database_gains_the_side_by_side_and_probe_columns(self):
        first = run_benchmark(*demo_args(self.db, "--only", "/hello", requests=20, concurrency=2))
        self.assertEqual(first.returncode, 0, first.stderr[-2000:])
        with sqlite3.connect(self.db) as conn:  # as release 1 left it
            conn.execute("ALTER TABLE benchmark_runs DROP COLUMN side")
            conn.execute("ALTER TABLE benchmark_runs DROP COLUMN paired_with")
            for column in ("probe", "backtrace_status", "backtrace_port", "warmup_s"):
                conn.execute(f"ALTER TABLE benchmark_results DROP COLUMN {column}")
            conn.execute("PRAGMA user_version = 1")
        before = self.db.read_bytes()
        shown = run_show("--db", self.db, "--run", "1", "--json")  # read-only: presented, not upgraded
        self.assertEqual(shown.returncode, 0, shown.stderr)
        result = json.loads(shown.stdout)["results"][0]
        self.assertEqual((result["status"], result["probe"], result["backtrace_status"]), ("ok", None, None))
        self.assertEqual(self.db.read_bytes(), before)
        again = run_benchmark(*demo_args(self.db, "--only", "/hello", requests=20, concurrency=2))
        self.assertEqual(again.returncode, 0, again.stderr[-2000:])
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)
            self.assertEqual(conn.execute("SELECT run_id, side, paired_with, status FROM benchmark_runs"
                                          " ORDER BY run_id").fetchall(),
                             [(1, None, None, "complete"), (2, None, None, "complete")])
        self.assertEqual(len(list(self.tmp.glob("r.db.bak-*"))), 1)  # every upgrade keeps a copy first

    def test_version_3_database_from_before_pinning_gains_its_columns(self):
        first = run_benchmark(*demo_args(self.db, "--only", "/hello", requests=20, concurrency=2))
        self.assertEqual(first.returncode, 0, first.stderr[-2000:])
        with sqlite3.connect(self.db) as conn:  # as version 3 was first released
            conn.execute("ALTER TABLE benchmark_runs DROP COLUMN pinned")
            for table in ("benchmark_results", "benchmark_samples"):
                for column in ("steal_pct", "other_busy_pct"):
                    conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
            self.assertEqual(conn.execute("PRAGMA user_version").fetchone()[0], 3)
        before = self.db.read_bytes()
        shown = run_show("--db", self.db, "--run", "1", "--json")  # read-only: presented, not upgraded
        self.assertEqual(shown.returncode, 0, shown.stderr)
        out = json.loads(shown.stdout)
        result = out["results"][0]
        self.assertEqual((out["pinned"], result["steal_pct"], result["samples"][0]["other_busy_pct"]),
                         (None, None, None))
        self.assertEqual(self.db.read_bytes(), before)
        again = run_benchmark(*demo_args(self.db, "--only", "/hello", requests=20, concurrency=2))
        self.assertEqual(again.returncode, 0, again.stderr[-2000:])
        with sqlite3.connect(self.db) as conn:
            for table in ("benchmark_runs", "benchmark_results", "benchmark_samples"):
                names = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                wanted = {"pinned"} if table == "benchmark_runs" else {"steal_pct", "other_busy_pct"}
                self.assertLessEqual(wanted, names, table)
            self.assertEqual(conn.execute("SELECT count(*) FROM benchmark_samples").fetchone()[0], 2)
        self.assertEqual(len(list(self.tmp.glob("r.db.bak-*"))), 1)  # a copy first, as for any upgrade

    def test_not_a_database(self):
        self.db.write_bytes(b"this is a text file, not SQLite\n" * 10)
        before = self.db.read_bytes()
        done = run_benchmark(*demo_args(self.db))
        self.assertEqual(done.returncode, 2)
        self.assertIn("is not a results database", done.stderr)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1)
        self.assertEqual(self.db.read_bytes(), before)

    def test_newer_schema(self):
        with sqlite3.connect(self.db) as conn:
            conn.execute("CREATE TABLE benchmark_runs (run_id INTEGER PRIMARY KEY, timestamp TEXT)")
            conn.execute("PRAGMA user_version = 99")
        before = self.db.read_bytes()
        done = run_benchmark(*demo_args(self.db))
        self.assertEqual(done.returncode, 2)
        self.assertIn("newer than this tool knows", done.stderr)
        self.assertEqual(self.db.read_bytes(), before)

    def test_unwritable_place(self):
        # /proc refuses new folders even to root, unlike chmod'ed ones.
        done = run_benchmark(*demo_args("/proc/hbf-bench-test/results.db"))
        self.assertEqual(done.returncode, 2)
        self.assertIn("cannot create the database folder", done.stderr)


if __name__ == "__main__":
    unittest.main()

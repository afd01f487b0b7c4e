"""show_results.py as a user runs it: a subprocess per view, on databases
written by real benchmark.py --demo runs (real ab), by lib/db.py, and by the
old bash tool (a copy of tests/fixtures/legacy-results.db, never changed)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import unittest
from pathlib import Path

from tests.cli import demo_args, run_benchmark, run_show
from lib.db import open_db
from tests.support import REPO, requires_ab
from tests.test_views import HOSTILE, SUITE, make_history

LEGACY = REPO / "tests" / "fixtures" / "legacy-results.db"
DEMO_NOTES = ("'; DROP TABLE benchmark_runs; --", "line one\nline two <script>alert(1)</script> ünï ✓")


def fingerprint(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns, stat.st_size


class CliCase(unittest.TestCase):
    def show(self, *args, code=0, cwd=REPO):
        done = run_show(*args, cwd=cwd)
        self.assertEqual(done.returncode, code, f"show_results.py {args}: {done.stderr}\n{done.stdout[-2000:]}")
        return done

    def refused(self, *args, mention: str, cwd=REPO):
        done = self.show(*args, code=2, cwd=cwd)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertTrue(lines[0].startswith("show_results.py: error: "), lines[0])
        self.assertIn(mention, lines[0])
        self.assertEqual(done.stdout, "")
        return lines[0]


@requires_ab
class DemoRuns(CliCase):
    """Two real runs; the report of each, printed again, is what benchmark.py printed."""

    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="show-results-test-"))
        cls.db = cls.dir / "results.db"
        first = run_benchmark(*demo_args(cls.db, "--notes", DEMO_NOTES[0], requests=200))
        second = run_benchmark(*demo_args(cls.db, "--notes", DEMO_NOTES[1], "--json", requests=200))
        for done in (first, second):
            if done.returncode != 0:
                raise AssertionError(f"benchmark.py --demo failed: {done.stderr[-2000:]}")
        cls.first_markdown, cls.second_json = first.stdout, json.loads(second.stdout)
        cls.before = fingerprint(cls.db)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_run_prints_what_benchmark_printed(self):
        done = self.show("--db", self.db, "--run", "1")
        self.assertEqual(done.stdout, self.first_markdown)
        done = self.show("--db", self.db, "--run", "latest", "--json")
        self.assertEqual(json.loads(done.stdout), self.second_json)
        self.assertEqual(self.show("--db", self.db, "--run", "previous").stdout, self.first_markdown)
        self.assertEqual(self.show("--db", self.db, "--run", "~1").stdout, self.first_markdown)

    def test_list(self):
        done = self.show("--db", self.db)
        lines = done.stdout.splitlines()
        self.assertRegex(lines[2], r"^\|\s+2 \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| ")
        self.assertIn("| demo | complete | 7/7 |", lines[2])
        # Cut at 40 as it reads, then made inert for Markdown (no raw HTML).
        self.assertIn("| line one⏎line two \\<script\\>alert(1)\\</scr… |", lines[2])
        self.assertIn("'; DROP TABLE benchmark_runs; --", lines[3])
        self.assertEqual(done.stderr, "")
        data = json.loads(self.show("--db", self.db, "--json").stdout)
        self.assertEqual([r["run_id"] for r in data["runs"]], [2, 1])
        self.assertEqual([r["notes"] for r in data["runs"]], list(DEMO_NOTES[::-1]))
        self.assertEqual(data["runs"][0]["results_ok"], 7)
        self.assertEqual(data["runs"][0]["pod"], "demo")
        one = json.loads(self.show("--db", self.db, "--json", "--limit", "1", "--pod", "demo",
                                   "--status", "complete", "--since", "2000-01-01").stdout)
        self.assertEqual([r["run_id"] for r in one["runs"]], [2])

    def test_compare(self):
        done = self.show("--db", self.db, "--compare", "previous", "latest")
        self.assertIn("# Run 1 → run 2", done.stdout)
        for endpoint in ("/static/style.css", "/hello", "PUT /__dev/api/file?name=static/bench.txt"):
            self.assertIn(f"| {endpoint} ", done.stdout)
        self.assertIn("Geometric mean of req/s ratios (run 2 / run 1) over 7 shared endpoint(s)", done.stdout)
        data = json.loads(self.show("--db", self.db, "--compare", "1", "2", "--json").stdout)
        self.assertEqual(len(data["endpoints"]), 7)
        entry = data["endpoints"][0]
        for field in ("previous", "current", "change_pct", "verdict", "explanation", "previous_p50_ms",
                      "current_p99_ms", "previous_cpu_us_per_req", "current_cpu_us_per_req"):
            self.assertIn(field, entry)
        self.assertGreater(data["geometric_mean_ratio"], 0)
        self.assertEqual(data["current"]["notes"], DEMO_NOTES[1])

    def test_trend(self):
        done = self.show("--db", self.db, "--trend", "hello")
        self.assertIn("# Trend of /hello: 2 result(s), runs 1..2", done.stdout)
        self.assertIn("req/s, oldest → newest: ", done.stdout)
        self.assertIn("Statistics over 2 ok result(s)", done.stdout)
        self.assertIn("'hello' matched the endpoint '/hello'", done.stderr)
        data = json.loads(self.show("--db", self.db, "--trend", "/hello", "--json").stdout)
        self.assertEqual([p["run_id"] for p in data["points"]], [1, 2])
        self.assertEqual(data["statistics"]["count"], 2)
        everything = json.loads(self.show("--db", self.db, "--trend", "all", "--json").stdout)
        self.assertEqual(len(everything["endpoints"]), 7)

    def test_exports(self):
        out = self.dir / "export.csv"
        done = self.show("--db", self.db, "--export", "csv", "--output", out)
        self.assertEqual(done.stdout, "")
        self.assertIn("wrote 14 result row(s)", done.stderr)
        with out.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        self.assertEqual(len(rows), 14)
        self.assertEqual({r["run_notes"] for r in rows}, set(DEMO_NOTES))
        self.assertEqual(rows[-1]["endpoint"], "PUT /__dev/api/file?name=static/bench.txt")
        self.assertEqual(rows[-1]["method"], "PUT")
        one = json.loads(self.show("--db", self.db, "--export", "json", "--run", "latest").stdout)
        self.assertEqual({r["run_id"] for r in one}, {2})
        gab = json.loads(self.show("--db", self.db, "--export", "github-action-benchmark").stdout)
        self.assertEqual(len(gab), 7)
        self.assertEqual({e["unit"] for e in gab}, {"req/s"})
        self.assertTrue(all(isinstance(e["value"], float) and e["value"] > 0 for e in gab))
        self.assertIn("run 2", gab[0]["extra"])
        bmf = json.loads(self.show("--db", self.db, "--export", "bmf", "--run", "1").stdout)
        self.assertEqual(len(bmf), 7)
        self.assertGreater(bmf["/hello"]["throughput"]["value"], 0)
        self.assertGreater(bmf["/hello"]["latency"]["upper_value"], bmf["/hello"]["latency"]["value"])

    def test_html(self):
        page = self.dir / "page.html"
        done = self.show("--db", self.db, "--html", page)
        self.assertEqual(done.stdout, "")
        text = page.read_text(encoding="utf-8")
        self.assertEqual(text.count("<svg"), 7)
        self.assertNotIn("<script>alert(1)", text)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; ünï ✓", text)
        self.assertIn("&#x27;; DROP TABLE benchmark_runs; --", text)

    def test_zz_database_bytes_unchanged(self):  # last, under unittest (names) and pytest (order)
        self.assertEqual(fingerprint(self.db), self.before)


class SyntheticHistory(CliCase):
    """A longer history written through lib/db.py: steps, crashes, filters."""

    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="show-results-hist-"))
        cls.db = cls.dir / "r.db"
        cls.ids = make_history(cls.db, runs=30, step_at=15, dbg=(28,), fail={20: {"/hello": "crashed"}},
                               notes={i: n for i, n in enumerate(HOSTILE)})
        cls.before = fingerprint(cls.db)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_trend_marks_the_step_and_the_crash(self):
        done = self.show("--db", self.db, "--trend", "/hello", "--limit", "30")
        self.assertRegex(done.stdout, rf"\|\s+{self.ids[15]} \|.*▲ step \+2\d\.\d%")
        self.assertRegex(done.stdout, rf"\|\s+{self.ids[20]} \|.*\*\*crashed \(SIGSEGV\)\*\*")
        self.assertRegex(done.stdout, rf"\|\s+{self.ids[28]} \|.*other configuration")
        self.assertIn(f"Level shifts: run {self.ids[15]} ▲ step", done.stdout)
        self.assertIn("Statistics over 28 ok result(s)", done.stdout)
        self.assertIn("warning: 1 of these 30 results were measured otherwise", done.stderr)
        data = json.loads(self.show("--db", self.db, "--trend", "/hello", "--limit", "30", "--json").stdout)
        self.assertEqual([s["run_id"] for s in data["steps"]], [self.ids[15]])
        limited = json.loads(self.show("--db", self.db, "--trend", "/hello", "--json", "--limit", "3",
                                       "--build-mode", "opt").stdout)
        self.assertEqual([p["run_id"] for p in limited["points"]], [self.ids[26], self.ids[27], self.ids[29]])

    def test_trend_all(self):
        done = self.show("--db", self.db, "--trend", "all", "--limit", "30")
        lines = [l for l in done.stdout.splitlines() if l.startswith("| ")][1:]
        self.assertEqual([l.split("|")[1].strip() for l in lines], [e for _, e, _ in SUITE])
        self.assertIn(f"run {self.ids[15]} ▲ step", done.stdout)

    def test_compare_and_run_take_the_threshold(self):
        # /hello's req/s steps up 25% at run 15, far beyond the ±1% noise of
        # the 14 runs before: improved at the default 5%, not at --threshold 30.
        before, after = str(self.ids[14]), str(self.ids[15])

        def hello(*args):
            data = json.loads(self.show("--db", self.db, *args, "--json").stdout)
            entries = data["endpoints"] if "endpoints" in data else list(data["comparison"].values())
            entry, = [e for e in entries if e["endpoint"] == "/hello"]
            return data, entry

        for args in (["--compare", before, after], ["--run", after]):
            with self.subTest(args=args):
                data, default = hello(*args)
                self.assertEqual(data["baseline"]["run_id"] if "baseline" in data else data["baseline_run_id"],
                                 self.ids[14])
                self.assertEqual(default["verdict"], "improved", default["explanation"])
                self.assertGreater(default["change_pct"], 20)
                data, strict = hello(*args, "--threshold", "30")
                self.assertEqual(strict["verdict"], "no significant change", strict["explanation"])
                self.assertIn("below the 30% threshold", strict["explanation"])
                self.assertEqual(strict["change_pct"], default["change_pct"])
                _, loose = hello(*args, "--threshold", "20")
                self.assertEqual(loose["verdict"], "improved", loose["explanation"])
        text = self.show("--db", self.db, "--compare", before, after, "--threshold", "30").stdout
        row, = [line for line in text.splitlines() if line.startswith("| /hello ")]
        self.assertIn("| no significant change |", row)
        self.assertIn("below the 30% threshold", text)

    def test_list_filters_and_hostile_notes(self):
        data = json.loads(self.show("--db", self.db, "--json", "--limit", "30").stdout)
        notes = {r["run_id"]: r["notes"] for r in data["runs"]}
        for i, note in enumerate(HOSTILE):
            self.assertEqual(notes[self.ids[i]], note)
        done = self.show("--db", self.db, "--limit", "30")
        self.assertNotIn("\x1b", done.stdout)
        self.assertIn("two⏎lines \\| pipe", done.stdout)
        partial = json.loads(self.show("--db", self.db, "--status", "partial", "--json").stdout)
        self.assertEqual([r["run_id"] for r in partial["runs"]], [self.ids[20]])
        branch = json.loads(self.show("--db", self.db, "--branch", "feature", "--build-mode", "opt",
                                      "--json").stdout)
        self.assertEqual([r["run_id"] for r in branch["runs"]], [self.ids[29], self.ids[19], self.ids[9]])
        none = self.show("--db", self.db, "--pod", "nope")
        self.assertIn("No runs match --pod nope", none.stdout)

    def test_export_scope(self):
        rows = json.loads(self.show("--db", self.db, "--export", "json", "--branch", "feature").stdout)
        self.assertEqual(sorted({r["run_id"] for r in rows}), [self.ids[9], self.ids[19], self.ids[29]])
        everything = self.show("--db", self.db, "--export", "csv").stdout
        self.assertEqual(len(list(csv.DictReader(io.StringIO(everything)))), 30 * len(SUITE))
        latest = self.show("--db", self.db, "--export", "csv", "--limit", "2").stdout
        self.assertEqual(len(list(csv.DictReader(io.StringIO(latest)))), 2 * len(SUITE))

    def test_bad_input_is_one_line_and_exit_2(self):
        db = ("--db", self.db)
        self.refused(*db, "--run", "12345", mention="no run 12345 (the latest is run 30")
        self.refused(*db, "--run", "lastest", mention="did you mean 'latest'")
        self.refused(*db, "--compare", "latest", "~99", mention="only 30 run(s)")
        self.refused(*db, "--compare", "latest", "30", mention="both name run 30")
        self.refused(*db, "--trend", "/helo", mention="did you mean '/hello'")
        self.refused(*db, "--since", "last week", mention="YYYY-MM-DD")
        self.refused(*db, "--limit", "0", mention="--limit")
        self.refused(*db, "--limit", "ten", mention="not a whole number")
        self.refused(*db, "--threshold", "x", mention="--threshold")
        self.refused(*db, "--status", "happy", mention="invalid choice")
        self.refused(*db, "--trend", "/hello", "--compare", "1", "2", mention="different views")
        self.refused(*db, "--run", "1", "--html", self.dir / "x.html", mention="different views")
        self.refused(*db, "--output", self.dir / "x.csv", mention="--output goes with --export")
        self.refused(*db, "--export", "bmf", "--branch", "x", mention="exports one run")
        self.refused(*db, "--run", "1", "--branch", "master", mention="take run ids")
        self.refused(*db, "--export", "csv", "--output", self.dir / "no" / "x.csv", mention="does not exist")
        self.refused("--db", self.dir / "missing.db", mention="no results database")
        self.refused("--workspace", self.dir, mention="no MODULE.bazel")
        not_sqlite = self.dir / "notes.txt"
        not_sqlite.write_text("hello")
        self.refused("--db", not_sqlite, mention="not a results database")
        self.refused(*db, "--export", "yaml", mention="invalid choice")

    def test_html_written_and_refused_when_empty(self):
        page = self.dir / "page.html"
        done = self.show("--db", self.db, "--html", page, "--json")
        self.assertEqual(json.loads(done.stdout)["html"], str(page))
        self.assertEqual(page.read_text(encoding="utf-8").count("<svg"), len(SUITE))
        self.refused("--db", self.db, "--html", page, "--pod", "nope", mention="no runs to draw")

    def test_default_database_from_the_workspace(self):
        workspace = self.dir / "hbf"
        (workspace / ".benchmark").mkdir(parents=True, exist_ok=True)
        (workspace / "sub").mkdir(exist_ok=True)
        (workspace / "MODULE.bazel").write_text('module(name = "hbf", version = "0.1")\n')
        shutil.copy(self.db, workspace / ".benchmark" / "results.db")
        walked = json.loads(self.show("--json", cwd=workspace / "sub").stdout)
        self.assertEqual(walked["database"], str(workspace / ".benchmark" / "results.db"))
        self.assertEqual(len(walked["runs"]), 10)
        named = json.loads(self.show("--json", "--workspace", workspace, cwd=self.dir).stdout)
        self.assertEqual(named["runs"], walked["runs"])

    def test_zz_unchanged(self):  # last, under unittest (names) and pytest (order)
        self.assertEqual(fingerprint(self.db), self.before)


class LegacyDatabase(CliCase):
    """The bash tool's database: shown, never written (not even upgraded)."""

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="show-results-legacy-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = self.dir / "results.db"
        shutil.copy2(LEGACY, self.db)
        os.chmod(self.db, 0o644)

    def test_every_view_reads_it_without_changing_it(self):
        before = fingerprint(self.db)
        listing = json.loads(self.show("--db", self.db, "--json").stdout)
        self.assertEqual([r["run_id"] for r in listing["runs"]], [3, 2, 1])
        self.assertEqual(listing["runs"][2]["notes"], "baseline before optimization")
        self.assertEqual(listing["runs"][0]["results_total"], 7)
        report = self.show("--db", self.db, "--run", "2").stdout
        self.assertIn("# HBF benchmark run 2", report)
        self.assertIn("ok (untrusted)", report)
        compared = self.show("--db", self.db, "--compare", "1", "2").stdout
        self.assertIn("/static/favicon.ico: not compared: baseline not trusted", compared)
        self.assertIn("over 5 shared endpoint(s)", compared)
        trend = self.show("--db", self.db, "--trend", "fs_write").stdout
        self.assertIn("ok (untrusted)", trend)
        self.show("--db", self.db, "--trend", "all", "--json")
        rows = list(csv.DictReader(io.StringIO(self.show("--db", self.db, "--export", "csv").stdout)))
        self.assertEqual(len(rows), 21)
        self.assertEqual(rows[0]["run_status"], "complete")
        self.show("--db", self.db, "--export", "bmf")
        self.show("--db", self.db, "--html", self.dir / "legacy.html")
        self.assertEqual(fingerprint(self.db), before)
        self.assertEqual(fingerprint(LEGACY)[0], hashlib.sha256(self.db.read_bytes()).hexdigest())
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["legacy.html", "results.db"])

    def test_read_only_file_and_folder(self):
        os.chmod(self.db, 0o444)
        os.chmod(self.dir, 0o555)
        self.addCleanup(os.chmod, self.dir, 0o755)
        done = self.show("--db", self.db, "--compare", "previous", "latest", "--json")
        self.assertEqual(len(json.loads(done.stdout)["endpoints"]), 7)



def write_legacy(path: Path, runs: int, *, seed: int = 7) -> None:
    """A bash-tool database of the fixture's 3 runs and `runs` more, inserted
    as the bash tool did (its tables and indexes, plain INSERTs), with what a
    long history holds: dbg builds, other request counts and concurrency, a
    run without results, an endpoint of the early runs only, one measured
    twice in a run, a run mixing concurrency levels, notes with SQL and
    control characters, and two runs whose results were stored out of order."""
    import random
    import sqlite3
    shutil.copy2(LEGACY, path)
    os.chmod(path, 0o644)
    rng = random.Random(seed)
    suite = [(category, endpoint, rps) for category, endpoint, rps in SUITE] + [
        ("static", "/static/favicon.ico", 9000.0)]
    blocks = []
    with sqlite3.connect(path) as conn:
        for i in range(runs):
            mode = "dbg" if i % 17 == 5 else "opt"
            run_id = conn.execute(
                "INSERT INTO benchmark_runs (timestamp, git_commit, git_branch, build_mode, notes)"
                " VALUES (?, ?, ?, ?, ?)",
                (f"2026-11-{1 + i // 24:02d} {i % 24:02d}:30:00", f"{rng.getrandbits(28):07x}",
                 "feature" if i % 9 == 4 else "master", mode, HOSTILE[i % len(HOSTILE)] if i % 7 == 0 else None),
            ).lastrowid
            requests, concurrency = (200, 5) if i < runs // 3 else (1000, 10)
            rows = []
            for category, endpoint, rps in suite + ([("runtime", "/old", 300.0)] if i < 5 else []):
                level = 50 if (i == runs // 2 and endpoint == "/hello") else concurrency
                value = round(rps * (0.4 if mode == "dbg" else 1.0) * rng.uniform(0.95, 1.05), 2)
                rows += [(run_id, category, endpoint, requests, level, round(requests / value, 3), value,
                          round(1000 * level / value, 3), round(value * 0.25, 2), 0)] * (
                    2 if (i == runs - 4 and endpoint == "/user/42") else 1)
            blocks.append([] if i == runs - 10 else rows)
        blocks[-7], blocks[-6] = blocks[-6], blocks[-7]  # stored out of order
        for rows in blocks:
            conn.executemany(
                "INSERT INTO benchmark_results (run_id, category, endpoint, requests, concurrency, time_taken,"
                " requests_per_sec, time_per_request, transfer_rate, failed_requests)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


class LegacyHistory(unittest.TestCase):
    """A bash-tool file of a few hundred runs, read as it is (lib/db.py's
    _LEGACY_VIEWS), shows exactly what the same file upgraded on disk shows,
    in every query and every view, and is never changed."""

    RUNS = 300

    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="show-results-legacy-history-"))
        cls.legacy = cls.dir / "legacy" / "results.db"
        cls.upgraded = cls.dir / "upgraded" / "results.db"
        cls.unindexed = cls.dir / "unindexed.db"  # read from a copy given the bash tool's indexes
        cls.legacy.parent.mkdir()
        cls.upgraded.parent.mkdir()
        write_legacy(cls.legacy, cls.RUNS)
        shutil.copy2(cls.legacy, cls.upgraded)
        shutil.copy2(cls.legacy, cls.unindexed)
        open_db(cls.upgraded).close()  # benchmark.py's upgrade, on disk
        import sqlite3
        with sqlite3.connect(cls.unindexed) as conn:
            for name in ("idx_run_timestamp", "idx_result_run", "idx_result_endpoint"):
                conn.execute(f"DROP INDEX {name}")
        conn.close()
        cls.before = fingerprint(cls.legacy)
        cls.unindexed_before = fingerprint(cls.unindexed)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tearDown(self):
        self.assertEqual(fingerprint(self.legacy), self.before)
        self.assertEqual(fingerprint(self.unindexed), self.unindexed_before)
        self.assertEqual(os.listdir(self.legacy.parent), ["results.db"])

    def open_both(self, legacy=None):
        old, new = open_db(legacy or self.legacy, readonly=True), open_db(self.upgraded, readonly=True)
        self.addCleanup(old.close)
        self.addCleanup(new.close)
        return old, new

    def same(self, got, want):
        """assertEqual that names the first difference (difflib on 70,000
        export rows would take minutes)."""
        if got == want:
            return
        if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
            for index, (a, b) in enumerate(zip(got, want)):
                if a != b:
                    self.fail(f"item {index} differs: {a!r:.600} != {b!r:.600}")
            self.fail(f"{len(got)} items != {len(want)}")
        self.fail(f"{got!r:.1500} != {want!r:.1500}")

    def test_every_query_answers_as_on_the_upgraded_file(self):
        self.answers_as_upgraded(self.legacy)

    def test_without_the_bash_tool_indexes_too(self):
        self.answers_as_upgraded(self.unindexed)

    def answers_as_upgraded(self, legacy: Path):
        old, new = self.open_both(legacy)
        self.assertEqual(old.conn.execute("PRAGMA main.user_version").fetchone()[0], 0)  # not upgraded
        ids = new.latest_run_ids(10_000)
        self.assertEqual(len(ids), self.RUNS + 3)
        same = self.same
        for name, call in (
                ("latest_run_ids", lambda db: db.latest_run_ids(10_000)), ("run_count", lambda db: db.run_count()),
                ("distinct_endpoints", lambda db: db.distinct_endpoints()),
                ("endpoint_categories", lambda db: db.endpoint_categories()),
                ("select_run_ids", lambda db: db.select_run_ids(branch="feature", since="2026-11-05")),
                ("chart_rows", lambda db: db.chart_rows(ids[:200])),
                ("export", lambda db: (lambda columns, cursor: (columns, cursor.fetchall()))(*db.export_cursor())),
                ("list_runs", lambda db: [db.list_runs(limit=limit, build_mode=mode) for limit in (10, 500)
                                          for mode in (None, "dbg")]),
                ("resolve_run", lambda db: [db.resolve_run(ref) for ref in ("latest", "previous", "~40", "~999",
                                                                            "1", "150", "9999", "x")])):
            with self.subTest(name):
                same(call(old), call(new))
        endpoints = new.distinct_endpoints()
        self.assertEqual(len(endpoints), 8)  # the loop below compares each of them
        for endpoint in endpoints + ["nope"]:
            with self.subTest(endpoint=endpoint):
                same(old.has_endpoint(endpoint), new.has_endpoint(endpoint))
                for filters in ({}, {"build_mode": "dbg"}, {"branch": "feature", "concurrency": 5},
                                {"since": "2026-11-10", "pod": "test"}):
                    same(old.endpoint_trend(endpoint, limit=25, **filters),
                         new.endpoint_trend(endpoint, limit=25, **filters))
        histories = 0
        for run_id in ids:
            with self.subTest(run=run_id):
                run = new.run(run_id)
                same(old.run(run_id), run)
                same(old.results(run_id), new.results(run_id))
                same(old.baseline_run(run), new.baseline_run(run))
                same(old.runs_before(run_id, 5), new.runs_before(run_id, 5))
                for row in new.results(run_id, with_samples=False):
                    histories += 1
                    same(old.endpoint_history(run, row["endpoint"], row["concurrency"], row["requests"],
                                              before_run_id=run_id),
                         new.endpoint_history(run, row["endpoint"], row["concurrency"], row["requests"],
                                              before_run_id=run_id))
        # Every stored result's history was compared: none skipped, and there were some.
        total, = new.conn.execute("SELECT count(*) FROM benchmark_results").fetchone()
        self.assertEqual(histories, total)
        self.assertGreater(total, 6 * self.RUNS)

    def test_every_view_shows_what_the_upgraded_file_shows(self):
        import contextlib
        import importlib.util
        spec = importlib.util.spec_from_file_location("show_results_module", REPO / "show_results.py")
        show = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(show)
        latest = self.RUNS + 3
        views = [[], ["--limit", "40", "--build-mode", "dbg"], ["--run", "latest"], ["--run", str(latest - 5)],
                 ["--run", "2"], ["--compare", "previous", "latest"], ["--compare", "1", str(latest)],
                 ["--trend", "/hello"], ["--trend", "user"], ["--trend", "fs_write", "--limit", "400"],
                 ["--trend", "/old"], ["--trend", "all"], ["--export", "csv"], ["--export", "bmf"]]
        for view in views:
            for output in ([], ["--json"]):
                args = view + output
                shown = []
                for path in (self.legacy, self.upgraded):
                    out, err = io.StringIO(), io.StringIO()
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                        code = show.main(["--db", str(path), *args])
                    shown.append((code, out.getvalue().replace(str(path), "DB").replace(str(path.parent), "DIR"),
                                  err.getvalue()))
                with self.subTest(args=args):
                    self.assertEqual(shown[0][0], 0, shown[0][2])
                    self.assertGreater(len(shown[0][1]), 50)
                    self.same(shown[0][0:1] + tuple(shown[0][1].splitlines()) + shown[0][2:],
                              shown[1][0:1] + tuple(shown[1][1].splitlines()) + shown[1][2:])
        pages = []
        for path in (self.legacy, self.upgraded):
            page = self.dir / "page.html"
            with contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(show.main(["--db", str(path), "--html", str(page), "--limit", "400"]), 0)
            pages.append(re.sub(r"generated [0-9: -]+", "", page.read_text().replace(str(path), "DB")))
        self.assertTrue(f"(runs 1..{latest})" in pages[0], "the page leaves runs out")
        self.assertTrue(pages[0] == pages[1], "the HTML pages differ")

    def test_what_the_upgrade_derives(self):
        old, _ = self.open_both()
        empty = self.RUNS + 3 - 9
        self.assertEqual(old.results(empty), [])
        self.assertEqual((old.run(empty)["requests"], old.run(empty)["concurrency"]), (None, None))
        mixed = old.run(3 + self.RUNS // 2 + 1)
        self.assertEqual((mixed["requests"], mixed["concurrency"], mixed["status"]), (1000, "50", "complete"))
        self.assertEqual(sum(1 for r in old.results(self.RUNS + 3 - 3) if r["endpoint"] == "/user/42"), 2)
        caveats = {r["endpoint"]: r["caveat"] for r in old.results(5)}
        self.assertIn("HBF answered 404", caveats["PUT /__dev/api/file?name=static/bench.txt"])
        self.assertIn("favicon", caveats["/static/favicon.ico"])
        self.assertIsNone(caveats["/hello"])


if __name__ == "__main__":
    unittest.main()

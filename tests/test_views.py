"""lib/show/views.py, lib/show/export.py and the history queries of lib/db.py, in process,
on databases these tests build through lib/db.py itself (no mocks)."""
from __future__ import annotations

import csv
import io
import json
import random
import shutil
import tempfile
import unittest
from pathlib import Path

from lib.show import comparison_view, export, history, report, views
from lib.judge import stats
from lib.core.text import width
from lib.db import open_db
from lib.machine.environment import differences

HOSTILE = ("'; DROP TABLE benchmark_runs; --", "two\nlines | pipe", "<script>alert('x')</script> & \"q\"",
           "ünïcödé ✓ 速度 \x1b[2J")
SUITE = (
    # category, endpoint, req/s
    ("static", "/static/style.css", 5000.0),
    ("runtime", "/hello", 2000.0),
    ("runtime", "/user/42", 1900.0),
    ("fs_read", "GET /__dev/api/files", 22.0),
    ("fs_write", "PUT /__dev/api/file?name=static/bench.txt", 480.0),
)


def make_history(path: Path, runs: int = 30, *, step_at: int | None = None, step: float = 1.25,
                 fail: dict | None = None, dbg: tuple = (), notes: dict | None = None,
                 environment: dict | None = None, start_day: int = 1, seed: int = 3,
                 drop: dict | None = None, samples: int = 1, bump: dict | None = None) -> list[int]:
    """A results database of `runs` runs of SUITE, written through lib/db.py.

    /hello's req/s jumps by `step` from run index `step_at` on; `fail` maps run
    index -> {endpoint: status} (crashed/failed rows without figures); `dbg`:
    run indexes built in dbg mode (req/s x 0.4); `notes`: index -> text;
    `drop`: index -> endpoints left out of that run; `bump`: index ->
    {endpoint: req/s factor} for that run alone. Returns the run ids."""
    rng = random.Random(seed)
    fail, notes, drop, bump = fail or {}, notes or {}, drop or {}, bump or {}
    db = open_db(path)
    ids = []
    for i in range(runs):
        mode = "dbg" if i in dbg else "opt"
        env = environment or {"hostname": "box", "cpu_model": "test cpu", "cpu_count": 4,
                              "engine": "ab", "engine_version": "2.3"}
        run_id = db.create_run({
            "timestamp": f"2026-03-{start_day + i // 24:02d} {i % 24:02d}:00:00",
            "git_commit": f"c{i:06x}", "git_branch": "feature" if i % 10 == 9 else "master",
            "build_mode": mode, "notes": notes.get(i, f"run {i}"), "status": "running",
            "pod": "test", "suite": "hbf-test-pod", "requests": 1000, "concurrency": "10",
            "repeat": samples, "warmup": 10, "engine": "ab", "engine_version": "2.3",
            "environment": json.dumps(env)})
        problems = 0
        for category, endpoint, base in SUITE:
            if endpoint in drop.get(i, ()):
                continue
            row = {"category": category, "endpoint": endpoint, "requests": 1000, "concurrency": 10,
                   "method": "PUT" if endpoint.startswith("PUT") else "GET", "engine": "ab",
                   "sample_count": samples}
            status = fail.get(i, {}).get(endpoint)
            if status:
                problems += 1
                row.update(status=status, error=f"{status} on purpose",
                           crash_signal="SIGSEGV" if status == "crashed" else None,
                           complete_requests=17, failed_requests=0, non_2xx=0)
                db.add_result(run_id, row)
                continue
            factor = (step if step_at is not None and i >= step_at and endpoint == "/hello" else 1.0)
            factor *= 0.4 if mode == "dbg" else 1.0
            factor *= bump.get(i, {}).get(endpoint, 1.0)
            values = [round(base * factor * (1 + rng.uniform(-0.01, 0.01)), 2) for _ in range(samples)]
            rps = sorted(values)[len(values) // 2]
            sample_rows = [{"requests_per_sec": v, "time_per_request": round(10_000 / v, 3),
                            "p50_ms": round(4000 / v, 3), "p99_ms": round(9000 / v, 3),
                            "server_cpu_us_per_req": 400.0, "complete_requests": 1000,
                            "failed_requests": 0, "non_2xx": 0} for v in values]
            row.update(status="ok", complete_requests=1000, failed_requests=0, non_2xx=0,
                       requests_per_sec=rps, time_per_request=round(10_000 / rps, 3),
                       time_taken=round(1000 / rps, 3), transfer_rate=12.5,
                       p50_ms=round(4000 / rps, 3), p90_ms=round(7000 / rps, 3),
                       p95_ms=round(8000 / rps, 3), p99_ms=round(9000 / rps, 3),
                       max_ms=round(12000 / rps, 3), rps_min=min(values), rps_max=max(values),
                       server_cpu_us_per_req=400.0)
            db.add_result(run_id, row, sample_rows)
        db.update_run(run_id, status="partial" if problems else "complete",
                      exit_code=1 if problems else 0)
        ids.append(run_id)
    db.close()
    return ids


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="views-test-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def history(self, **kwargs):
        path = self.dir / f"r{len(list(self.dir.iterdir()))}.db"
        ids = make_history(path, **kwargs)
        db = open_db(path, readonly=True)
        self.addCleanup(db.close)
        return db, ids


class ListView(TempDir):
    def test_newest_first_with_counts_and_full_notes(self):
        db, ids = self.history(runs=12, fail={11: {"/hello": "crashed"}}, notes={11: HOSTILE[1]})
        data = history.list_data(db, limit=5)
        self.assertEqual([r["run_id"] for r in data["runs"]], ids[::-1][:5])
        newest = data["runs"][0]
        self.assertEqual((newest["results_ok"], newest["results_total"]), (4, 5))
        self.assertEqual(newest["status"], "partial")
        self.assertEqual(newest["notes"], HOSTILE[1])  # exact in JSON
        self.assertEqual(newest["concurrency"], [10])
        self.assertEqual(newest["environment"]["cpu_count"], 4)
        self.assertEqual(data["total_runs"], 12)
        json.dumps(data)  # serialisable as it is

    def test_filters(self):
        db, ids = self.history(runs=30, dbg=(3, 4))
        self.assertEqual([r["run_id"] for r in history.list_data(db, limit=10, build_mode="dbg")["runs"]],
                         [ids[4], ids[3]])
        feature = history.list_data(db, limit=10, branch="feature")["runs"]
        self.assertEqual([r["run_id"] for r in feature], [ids[29], ids[19], ids[9]])
        since = history.list_data(db, limit=100, since="2026-03-02 00:00:00")["runs"]
        self.assertEqual(len(since), 30 - 24)
        self.assertEqual(history.list_data(db, limit=10, status="partial")["runs"], [])
        self.assertEqual(history.list_data(db, limit=10, pod="nope")["runs"], [])
        text = views.render_list(history.list_data(db, limit=10, pod="nope"))
        self.assertIn("No runs match --pod nope", text)

    def test_text_cuts_and_neutralises_notes(self):
        long_note = "x" * 100
        db, ids = self.history(runs=4, notes={0: HOSTILE[1], 1: HOSTILE[3], 2: long_note, 3: HOSTILE[0]})
        text = views.render_list(history.list_data(db, limit=10))
        self.assertIn("two⏎lines \\| pipe", text)
        self.assertIn("\\x1b\\[2J", text)  # no raw escape sequence reaches the terminal (its "[" escaped)
        self.assertNotIn("\x1b", text)
        self.assertIn("x" * (views.NOTES_WIDTH - 1) + "…", text)
        self.assertIn("'; DROP TABLE benchmark_runs; --", text)
        lines = [l for l in text.splitlines() if l.startswith("|")]
        self.assertEqual(len({width(l) for l in lines}), 1, "columns stay aligned")

    def test_empty_database(self):
        db = open_db(self.dir / "empty.db")
        db.close()
        db = open_db(self.dir / "empty.db", readonly=True)
        self.addCleanup(db.close)
        self.assertIn("No runs in", views.render_list(history.list_data(db, limit=10)))


class Input(TempDir):
    def test_since(self):
        self.assertEqual(history.parse_since("2026-03-01"), "2026-03-01 00:00:00")
        self.assertEqual(history.parse_since("2026-03-01 12:30"), "2026-03-01 12:30:00")
        self.assertEqual(history.parse_since("2026-03-01T12:30:05"), "2026-03-01 12:30:05")
        for text in ("7d", "12h", "2w", "today", "yesterday"):
            self.assertRegex(history.parse_since(text), r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertLess(history.parse_since("2d"), history.parse_since("1d"))
        for bad in ("last tuesday", "2026-13-01", "7x", "", "2026-03-01; DROP"):
            with self.assertRaises(history.ViewError) as caught:
                history.parse_since(bad)
            self.assertIn("YYYY-MM-DD", str(caught.exception))

    def test_run_references(self):
        db, ids = self.history(runs=5)
        self.assertEqual(history.resolve_run(db, "latest"), ids[-1])
        self.assertEqual(history.resolve_run(db, "previous"), ids[-2])
        self.assertEqual(history.resolve_run(db, "~4"), ids[0])
        self.assertEqual(history.resolve_run(db, str(ids[2])), ids[2])
        cases = {"~5": "only 5 run(s)", "99": "the latest is run 5", "lates": "did you mean 'latest'",
                 "prev": "did you mean 'previous'", "-1": "use a run id", "~x": "use a run id"}
        for ref, hint in cases.items():
            with self.assertRaises(history.ViewError) as caught:
                history.resolve_run(db, ref)
            self.assertIn(hint, str(caught.exception), ref)

    def test_endpoint_names(self):
        db, _ = self.history(runs=3)
        self.assertEqual(history.resolve_endpoint(db, "/hello"), "/hello")
        self.assertEqual(history.resolve_endpoint(db, "hello"), "/hello")
        self.assertEqual(history.resolve_endpoint(db, "HELLO"), "/hello")
        self.assertEqual(history.resolve_endpoint(db, "fs_write"), SUITE[4][1])  # a category
        with self.assertRaises(history.ViewError) as caught:
            history.resolve_endpoint(db, "static")
        self.assertIn("ambiguous", str(caught.exception))
        self.assertIn("'/static/style.css'", str(caught.exception))
        self.assertIn("PUT /__dev/api/file?name=static/bench.txt", str(caught.exception))
        with self.assertRaises(history.ViewError) as caught:
            history.resolve_endpoint(db, "/helo")
        self.assertIn("did you mean '/hello'", str(caught.exception))
        self.assertIn("known endpoints", str(caught.exception))


class Compare(TempDir):
    def test_per_endpoint_figures_verdicts_and_geomean(self):
        db, ids = self.history(runs=20, step_at=19)
        comparison = history.compare_runs(db, "previous", "latest", threshold_pct=5.0)
        data = comparison_view.compare_json(comparison, 5.0)
        self.assertEqual((data["baseline"]["run_id"], data["current"]["run_id"]), (ids[-2], ids[-1]))
        by_key = {e["key"]: e for e in data["endpoints"]}
        self.assertEqual(set(by_key), {e for _, e, _ in SUITE})
        hello = by_key["/hello"]
        self.assertEqual(hello["verdict"], stats.IMPROVED)
        self.assertAlmostEqual(hello["change_pct"], (hello["current"] / hello["previous"] - 1) * 100, places=1)
        for field in ("previous_p50_ms", "current_p50_ms", "previous_p99_ms", "current_p99_ms",
                      "previous_cpu_us_per_req", "current_cpu_us_per_req"):
            self.assertIsNotNone(hello[field], field)
        ratios = [e["current"] / e["previous"] for e in data["endpoints"]]
        self.assertAlmostEqual(data["geometric_mean_ratio"], stats.geometric_mean(ratios), places=3)
        self.assertEqual(data["geometric_mean_endpoints"], len(SUITE))
        self.assertEqual(data["improved"], ["/hello"])
        self.assertEqual(data["comparison"]["/hello"], hello)  # one shape: the run JSON's
        self.assertEqual(data["comparison_summary"]["improved"], ["/hello"])
        rendered = views.render_compare(comparison)
        self.assertIn("/hello", rendered)
        self.assertIn("improved", rendered)
        self.assertIn("Geometric mean of req/s ratios", rendered)
        json.dumps(data)

    def test_one_sided_endpoints_and_differences(self):
        db, ids = self.history(runs=3, drop={1: ["/user/42"], 2: ["/hello"]}, dbg=(2,),
                               fail={2: {"GET /__dev/api/files": "crashed"}})
        comparison = history.compare_runs(db, str(ids[1]), str(ids[2]), threshold_pct=5.0)
        data = comparison_view.compare_json(comparison, 5.0)
        self.assertEqual(data["only_in_baseline"], ["/hello"])
        self.assertEqual(data["only_in_current"], ["/user/42"])
        self.assertTrue(any(n.startswith("build_mode differs") for n in data["differences"]))
        self.assertEqual(data["current"]["status"], "partial")
        files = next(e for e in data["endpoints"] if e["key"] == "GET /__dev/api/files")
        self.assertEqual((files["compared"], files["not_compared_reason"]), (False, "current crashed"))
        rendered = views.render_compare(comparison)
        self.assertIn("Endpoints only in run 2: /hello", rendered)
        self.assertIn("Endpoints only in run 3: /user/42", rendered)
        self.assertIn("GET /__dev/api/files: not compared: current crashed", rendered)
        self.assertRegex(rendered, r"\| status +\| complete +\| partial +\|")

    def test_environment_and_same_run(self):
        db, ids = self.history(runs=2)
        with self.assertRaises(history.ViewError):
            history.compare_runs(db, "latest", str(ids[-1]), threshold_pct=5.0)
        a = {"hostname": "a", "cpu_model": "x", "cpu_count": 4, "engine": "ab", "engine_version": "2.3"}
        self.assertEqual(differences(a, dict(a)), [])
        self.assertEqual(differences(a, dict(a, hostname="b")), ["hostname: a vs b"])
        self.assertEqual(differences(a, None), [])


class Baselines(TempDir):
    """What is comparable: one rule for the baseline and the history behind the noise guard."""

    def test_another_repeat_is_comparable_and_a_missing_baseline_is_explained(self):
        from lib.judge.comparison import compare_with_baseline
        path = self.dir / "b.db"
        ids = make_history(path, runs=6)
        db = open_db(path)
        self.addCleanup(db.close)
        db.update_run(ids[-1], repeat=5)  # measured again "with --repeat 5", as the advice says
        comparison = compare_with_baseline(db, ids[-1], threshold_pct=5)
        self.assertEqual(comparison.baseline["run_id"], ids[-2])
        self.assertIn("repeat differs: run 5 1 vs run 6 5", comparison.notes)
        # One sample against five: judged against the history before run 5 (4 runs: too few).
        self.assertIn("only 4 earlier runs", comparison.endpoints["/hello"].rps.explanation)
        db.update_run(ids[-1], keepalive=1)
        comparison = compare_with_baseline(db, ids[-1], threshold_pct=5)
        self.assertIsNone(comparison.baseline)
        self.assertEqual(comparison.notes, [
            "no earlier comparable run: the nearest, run 5, differs in keepalive (0 vs 1); "
            "compare with it anyway: show_results.py --compare 5 6 (or benchmark.py --baseline 5 for a new run)"])
        first = compare_with_baseline(db, ids[0], threshold_pct=5)
        self.assertEqual(first.notes, ["no earlier run with an ok result in this database to compare with"])

    def test_history_follows_the_baseline_rule(self):
        path = self.dir / "h.db"
        ids = make_history(path, runs=8)
        db = open_db(path)
        self.addCleanup(db.close)
        run = db.run(ids[-1])
        self.assertEqual(len(db.endpoint_history(run, "/hello", 10, 1000, before_run_id=ids[-1])), 7)
        db.update_run(ids[2], keepalive=1)  # keep-alive runs are not history for a closed-loop run
        db.update_run(ids[3], rate=50.0)  # nor are open-loop ones
        history = db.endpoint_history(run, "/hello", 10, 1000, before_run_id=ids[-1])
        self.assertEqual([h["run_id"] for h in history], [i for i in ids[:-1] if i not in (ids[2], ids[3])])


class Trend(TempDir):
    def test_steps_failures_statistics(self):
        db, ids = self.history(runs=24, step_at=12, fail={5: {"/hello": "crashed"}, 20: {"/hello": "failed"}})
        data = history.trend_data(db, "hello", limit=50)
        self.assertEqual(data["endpoint"], "/hello")
        points = data["points"]
        self.assertEqual([p["run_id"] for p in points], ids)
        self.assertEqual([s["run_id"] for s in data["steps"]], [ids[12]])
        self.assertEqual(data["steps"][0]["direction"], "up")
        self.assertAlmostEqual(data["steps"][0]["change_pct"], 25.0, delta=3)
        self.assertEqual(points[5]["status"], "crashed")
        self.assertFalse(points[5]["used_in_statistics"])
        ok = [p["requests_per_sec"] for p in points if p["status"] == "ok"]
        self.assertEqual(data["statistics"]["count"], 22)
        self.assertAlmostEqual(data["statistics"]["mean"], sum(ok) / len(ok), places=1)
        self.assertEqual(data["statistics"]["min"], round(min(ok), 2))
        self.assertEqual(len(data["sparkline"]), 24)
        self.assertEqual(data["sparkline"][5], " ")
        text = views.render_trend(data)
        self.assertIn("▲ step +", text)
        self.assertIn("**crashed (SIGSEGV)**", text)
        self.assertIn("**failed**", text)
        self.assertIn("Statistics over 22 ok result(s)", text)
        self.assertIn(data["sparkline"], text)

    def test_limit_and_other_configurations(self):
        db, ids = self.history(runs=15, dbg=(13,))
        data = history.trend_data(db, "/hello", limit=5)
        self.assertEqual([p["run_id"] for p in data["points"]], ids[-5:])
        dbg = data["points"][-2]
        self.assertFalse(dbg["same_configuration"])
        self.assertFalse(dbg["used_in_statistics"])
        self.assertEqual(data["statistics"]["count"], 4)
        self.assertEqual(len(data["warnings"]), 1)
        self.assertIn("dbg", data["warnings"][0])
        self.assertIn("other configuration", views.render_trend(data))
        only_dbg = history.trend_data(db, "/hello", limit=5, build_mode="dbg")
        self.assertEqual([p["run_id"] for p in only_dbg["points"]], [ids[13]])
        self.assertEqual(only_dbg["warnings"], [])

    def test_all(self):
        db, ids = self.history(runs=24, step_at=12)
        data = history.trend_all_data(db, limit=20)
        self.assertEqual([e["endpoint"] for e in data["endpoints"]], [e for _, e, _ in SUITE])
        hello = data["endpoints"][1]
        self.assertEqual(hello["results"], 20)
        self.assertEqual([s["run_id"] for s in hello["steps"]], [ids[12]])
        self.assertEqual(hello["latest_run_id"], ids[-1])
        text = views.render_trend_all(data)
        self.assertIn(hello["sparkline"].rstrip(), text)
        self.assertIn(f"run {ids[12]} ▲ step", text)


class Queries(TempDir):
    """The queries behind the views read through indexes, not whole tables."""

    def plan(self, db, sql, params=()):
        return " ".join(r[-1] for r in db.conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    def test_distinct_endpoints_and_index_use(self):
        db, ids = self.history(runs=6)
        self.assertEqual(db.distinct_endpoints(),
                         [r[0] for r in db.conn.execute("SELECT DISTINCT endpoint FROM benchmark_results"
                                                        " ORDER BY endpoint")])
        self.assertEqual(db.endpoint_categories()["/hello"], "runtime")
        self.assertTrue(db.has_endpoint("/hello"))
        self.assertFalse(db.has_endpoint("/nope"))
        trend_plan = self.plan(db, "SELECT res.run_id FROM benchmark_results res JOIN benchmark_runs run"
                                   " ON run.run_id = res.run_id WHERE res.endpoint = ?"
                                   " ORDER BY res.run_id DESC, res.result_id DESC LIMIT 5", ("/hello",))
        self.assertIn("idx_result_endpoint", trend_plan)
        self.assertNotIn("SCAN res", trend_plan.replace("SCAN res USING", ""))
        list_plan = self.plan(db, "SELECT r.* FROM benchmark_runs r ORDER BY r.run_id DESC LIMIT 10")
        self.assertNotIn("TEMP B-TREE", list_plan)

    def test_select_run_ids_and_rows(self):
        db, ids = self.history(runs=12, dbg=(2, 7))
        self.assertEqual(db.select_run_ids(build_mode="dbg"), [ids[7], ids[2]])
        self.assertEqual(db.select_run_ids(limit=3), ids[::-1][:3])
        self.assertEqual(len(db.select_run_ids()), 12)
        rows = db.chart_rows(ids[:3])
        self.assertEqual(len(rows), 3 * len(SUITE))
        self.assertEqual(rows, sorted(rows, key=lambda r: (r["run_id"], r["result_id"])))
        trend = db.endpoint_trend("/hello", limit=4, since="2026-03-01 09:00:00")
        self.assertEqual([r["run_id"] for r in trend], ids[9:12])  # run 8 is at 08:00


class Exports(TempDir):
    def test_csv_every_column_stable_names_and_exact_text(self):
        db, ids = self.history(runs=4, notes={i: n for i, n in enumerate(HOSTILE)})
        columns, rows = export.rows_for(db, None)
        rows = [dict(zip(columns, row)) for row in rows]
        self.assertEqual(columns, list(export.EXPORT_COLUMNS))
        self.assertEqual(len(rows), 4 * len(SUITE))
        table_columns = {r[1] for r in db.conn.execute("PRAGMA table_info(benchmark_results)")}
        run_columns = {"run_" + r[1] for r in db.conn.execute("PRAGMA table_info(benchmark_runs)")
                       if r[1] != "run_id"}
        self.assertEqual(set(columns), table_columns | run_columns)
        _, again = export.rows_for(db, None)
        parsed = list(csv.DictReader(io.StringIO("".join(export.to_csv(columns, again)))))
        self.assertEqual(len(parsed), len(rows))
        self.assertEqual(list(parsed[0]), columns)
        self.assertEqual([p["run_notes"] for p in parsed[::len(SUITE)]], list(HOSTILE))
        self.assertEqual(parsed[0]["endpoint"], SUITE[0][1])
        self.assertEqual(float(parsed[0]["requests_per_sec"]), rows[0]["requests_per_sec"])

    def test_json_rows(self):
        db, ids = self.history(runs=2, notes={1: HOSTILE[2]})
        columns, rows = export.rows_for(db, [ids[1]])
        items = json.loads("".join(export.to_json_rows(columns, rows)))
        self.assertEqual(len(items), len(SUITE))
        self.assertEqual(list(items[0]), columns)
        self.assertEqual(items[0]["run_notes"], HOSTILE[2])
        self.assertEqual(items[0]["run_environment"]["hostname"], "box")  # parsed JSON column

    def test_github_action_benchmark_and_bmf(self):
        db, ids = self.history(runs=2, samples=3, fail={1: {"/user/42": "crashed"}})
        text, warnings = export.github_action_benchmark(db, ids[1])
        entries = json.loads(text)
        self.assertEqual([e["name"] for e in entries], [e for _, e, _ in SUITE if e != "/user/42"])
        for entry in entries:
            self.assertEqual(entry["unit"], "req/s")
            self.assertIsInstance(entry["value"], float)
            self.assertRegex(entry["range"], r"^± \d+\.\d\d$")
            self.assertIn("c000001 on master", entry["extra"])
        self.assertEqual(len(warnings), 1)
        self.assertIn("/user/42 is crashed", warnings[0])
        bmf = json.loads(export.bmf(db, ids[1])[0])
        hello = bmf["/hello"]
        self.assertLessEqual(hello["throughput"]["lower_value"], hello["throughput"]["value"])
        self.assertLessEqual(hello["throughput"]["value"], hello["throughput"]["upper_value"])
        self.assertGreater(hello["latency"]["value"], 1e5)  # nanoseconds
        self.assertGreater(hello["latency"]["upper_value"], hello["latency"]["value"])
        self.assertNotIn("/user/42", bmf)

    def test_empty_selection_and_chunks(self):
        db, ids = self.history(runs=3)
        columns, rows = export.rows_for(db, [])
        self.assertEqual(list(rows), [])
        self.assertEqual(json.loads("".join(export.to_json_rows(columns, iter(())))), [])
        self.assertEqual("".join(export.to_csv(columns, iter(()))).strip(), ",".join(columns))

    def test_write_output_whole_file_or_nothing(self):
        target = self.dir / "out.csv"
        export.write_output("a,b\n", str(target))
        self.assertEqual(target.read_text(), "a,b\n")
        with self.assertRaises(export.ExportError) as caught:
            export.write_output("x", str(self.dir / "missing" / "out.csv"))
        self.assertIn("does not exist", str(caught.exception))
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["out.csv"])


if __name__ == "__main__":
    unittest.main()

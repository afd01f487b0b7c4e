"""lib/judge/compare.py on fixed rows: known inputs, known verdicts for every metric."""
import unittest

from lib.judge import compare, stats


def samples(field="requests_per_sec", *values):
    return [{"sample_number": n, field: v} for n, v in enumerate(values, 1)]


def row(rps, rates=(), status="ok", endpoint="/hello", cpu=None, p50=1.0, p99=2.0, **per_sample):
    """A result row; `rates` are its samples' req/s, `per_sample` other metrics' sample values."""
    count = max([len(rates)] + [len(v) for v in per_sample.values()])
    rows = [{"sample_number": n} for n in range(1, count + 1)]
    for field, values in (("requests_per_sec", rates), *per_sample.items()):
        for sample, value in zip(rows, values):
            sample[field] = value
    return {"endpoint": endpoint, "category": "runtime", "concurrency": 10, "status": status,
            "requests_per_sec": rps, "p50_ms": p50, "p99_ms": p99, "server_cpu_us_per_req": cpu,
            "samples": rows}


def judge(base, cur, *, history=None, paired=False, threshold=5.0):
    return compare.judge_endpoint("/hello", base, cur, threshold_pct=threshold,
                                  history=history or {}, paired=paired)


class OneMetric(unittest.TestCase):
    def test_separated_samples_regress(self):
        entry = judge(row(100, [98, 99, 100, 101, 102]), row(80, [78, 79, 80, 81, 82]))
        self.assertEqual(entry.rps.verdict, stats.REGRESSED)
        self.assertEqual(entry.rps.change_pct, -20.0)
        self.assertAlmostEqual(entry.rps.p_value, 2 / 252, places=6)

    def test_the_threshold_is_each_metric_s(self):
        base = row(100, [98, 99, 100, 101, 102], p99_ms=[2, 2.01, 1.99, 2.02, 1.98])
        slower = row(80, [78, 79, 80, 81, 82], p99_ms=[2.5, 2.51, 2.49, 2.52, 2.48])
        for paired in (False, True):
            entry = judge(base, slower, paired=paired, threshold=30)
            self.assertEqual(entry.rps.verdict, stats.NO_CHANGE)
            self.assertIn("below the 30% threshold", entry.rps.explanation)
            self.assertEqual(entry.metrics["p99_ms"].verdict, stats.NO_CHANGE)  # +25% < 30%
            self.assertEqual(judge(base, slower, paired=paired, threshold=20).metrics["p99_ms"].verdict,
                             stats.REGRESSED)

    def test_overlapping_samples_are_no_change(self):
        entry = judge(row(100, [90, 110, 100, 95, 105]), row(101, [92, 108, 101, 97, 104]))
        self.assertEqual(entry.rps.verdict, stats.NO_CHANGE)

    def test_single_sample_needs_history(self):
        entry = judge(row(100), row(80), history={"requests_per_sec": [100, 101]})
        self.assertEqual((entry.rps.verdict, entry.rps.change_pct), (stats.INSUFFICIENT, -20.0))
        quiet = [100, 101, 99, 100, 100, 101, 99, 100]
        self.assertEqual(judge(row(100), row(80), history={"requests_per_sec": quiet}).rps.verdict,
                         stats.REGRESSED)
        noisy = [70, 130, 90, 110, 60, 140, 100, 100]
        self.assertEqual(judge(row(100), row(80), history={"requests_per_sec": noisy}).rps.verdict,
                         stats.NO_CHANGE)

    def test_unequal_sample_counts_are_judged(self):
        # --repeat 5 against an earlier --repeat 1 run: the single side is judged against history.
        quiet = [100, 101, 99, 100, 100, 101, 99, 100]
        entry = judge(row(100), row(80, [79, 80, 81, 80, 80]), history={"requests_per_sec": quiet})
        self.assertEqual((entry.rps.verdict, entry.rps.method), (stats.REGRESSED, stats.METHOD_HISTORY))

    def test_a_crashed_side_is_not_compared_and_says_so_in_a_field(self):
        entry = judge(row(100), row(None, status="crashed"))
        self.assertFalse(entry.compared)
        self.assertEqual(entry.not_compared_reason, "current crashed")
        for verdict in entry.metrics.values():
            self.assertEqual(verdict.verdict, stats.INSUFFICIENT)

    def test_a_metric_nobody_measured_is_said_so(self):
        entry = judge(row(100, [100] * 5), row(100, [100] * 5))  # no server CPU (a --url run)
        cpu = entry.metrics["server_cpu_us_per_req"]
        self.assertEqual((cpu.verdict, cpu.explanation), (stats.INSUFFICIENT, "server CPU/request not measured"))


class EveryMetric(unittest.TestCase):
    """Lower is better for latency and CPU: higher means regressed."""

    def test_latency_tail_grows_while_req_s_holds(self):
        # Side by side, 5 pairs: req/s within 2%, p99 five times longer, p50
        # and CPU per request lower in every pair (requests now wait on a lock).
        base = row(700, [700, 705, 695, 702, 698], p50_ms=[12, 12.2, 11.8, 12.1, 11.9],
                   p99_ms=[18.7, 19, 18.5, 18.8, 18.6], server_cpu_us_per_req=[1960, 1950, 1970, 1960, 1955])
        cur = row(686, [686, 690, 681, 688, 684], p50_ms=[8.7, 8.8, 8.6, 8.75, 8.65],
                  p99_ms=[95, 97, 93, 96, 94], server_cpu_us_per_req=[1280, 1290, 1270, 1285, 1275])
        entry = judge(base, cur, paired=True)
        calls = {m.metric: m.verdict for m in entry.metrics.values()}
        self.assertEqual(calls, {"requests_per_sec": stats.NO_CHANGE, "p50_ms": stats.IMPROVED,
                                 "p99_ms": stats.REGRESSED, "server_cpu_us_per_req": stats.IMPROVED})
        p99 = entry.metrics["p99_ms"]
        self.assertEqual((p99.method, p99.paired), (stats.METHOD_PAIRED, True))
        self.assertGreater(p99.change_pct, 390)
        self.assertIn("p99 rose", p99.explanation)

    def test_the_change_beside_two_figures_is_theirs_unless_paired(self):
        entry = judge(row(100, [99, 100, 101], cpu=200, server_cpu_us_per_req=[190, 200, 210]),
                      row(80, [79, 80, 81], cpu=260, server_cpu_us_per_req=[250, 260, 270]))
        cpu = entry.metrics["server_cpu_us_per_req"]
        self.assertEqual((cpu.previous, cpu.current, cpu.change_pct, cpu.paired), (200, 260, 30.0, False))
        self.assertIn("rose 30.0%", cpu.explanation)
        # Side by side the change is the pairs' geometric mean, and says so.
        paired = judge(row(100, [100, 200, 100]), row(100, [110, 200, 90]), paired=True)
        self.assertTrue(paired.rps.paired)
        self.assertNotEqual(paired.rps.change_pct, 0.0)

    def test_run_to_run_noise_guards_each_metric(self):
        base = row(1000, [1000, 1010, 990, 1005, 995], p99_ms=[2.0, 2.02, 1.98, 2.01, 1.99])
        slower = row(920, [920, 925, 915, 930, 910], p99_ms=[2.16, 2.17, 2.15, 2.18, 2.14])
        history = {"requests_per_sec": [1000, 1060, 940, 1050, 950, 1000, 1065, 935],
                   "p99_ms": [2.0, 2.0, 2.01, 1.99, 2.0, 2.0]}
        entry = judge(base, slower, history=history)
        self.assertEqual(entry.rps.verdict, stats.NO_CHANGE)
        self.assertIn("run-to-run noise", entry.rps.explanation)
        self.assertEqual(entry.metrics["p99_ms"].verdict, stats.REGRESSED)  # its history is quiet
        # Side by side the samples alternated: the paired test alone decides.
        paired = judge(base, slower, history=history, paired=True)
        self.assertEqual((paired.rps.verdict, paired.rps.method), (stats.REGRESSED, stats.METHOD_PAIRED))
        self.assertAlmostEqual(paired.rps.change_pct, -8.0, delta=0.05)

    def test_pairs_follow_sample_numbers_and_skip_a_missing_side(self):
        base = {**row(1000), "samples": samples("requests_per_sec", 1000, 1200, 1100, None)}
        slower = {**row(920), "samples": samples("requests_per_sec", 800, 960, 880, 700)[::-1]}
        entry = judge(base, slower, paired=True)
        self.assertEqual((entry.rps.verdict, entry.rps.change_pct), (stats.REGRESSED, -20.0))
        self.assertIn("3 alternating pairs", entry.rps.explanation)


class Guards(unittest.TestCase):
    def test_server_cpu_in_too_few_clock_ticks_is_not_judged(self):
        # 100 requests at 300 µs: 3 ticks of 10 ms a sample. Samples that agree
        # to the tick would otherwise look like perfect evidence.
        base = {**row(100, [100] * 3, cpu=300.0, server_cpu_us_per_req=[300.0] * 3), "complete_requests": 100}
        cur = {**row(100, [100] * 3, cpu=400.0, server_cpu_us_per_req=[400.0] * 3), "complete_requests": 100}
        cpu = judge(base, cur).metrics["server_cpu_us_per_req"]
        self.assertEqual(cpu.verdict, stats.INSUFFICIENT)
        self.assertIn("only 3 clock ticks", cpu.explanation)
        # 1000 requests at 300 µs: 30 ticks, judged.
        base["complete_requests"] = cur["complete_requests"] = 1000
        self.assertEqual(judge(base, cur).metrics["server_cpu_us_per_req"].verdict, stats.REGRESSED)

    def test_without_run_to_run_history_a_call_says_to_confirm_it(self):
        entry = judge(row(100, [98, 99, 100, 101, 102]), row(80, [78, 79, 80, 81, 82]))
        self.assertEqual(entry.rps.verdict, stats.REGRESSED)
        self.assertIn("confirm side by side", entry.rps.explanation)

    def test_the_guard_is_three_deviations_of_a_difference_of_two_runs(self):
        # Runs wander ±2% (robust): a 10% change is beyond 3 x 2% but inside 3 x sqrt(2) x 2%.
        history = {"requests_per_sec": [100, 102, 98, 100, 102, 98, 100]}
        noise = compare.run_to_run_noise_pct(history["requests_per_sec"])
        self.assertAlmostEqual(noise, 2.965, places=2)
        entry = judge(row(100, [99.5, 100, 100.5, 100.2, 99.8]), row(89, [88.5, 89, 89.5, 89.2, 88.8]),
                      history=history)
        self.assertEqual(entry.rps.verdict, stats.NO_CHANGE)
        self.assertIn("within 3 standard deviations of the run-to-run noise", entry.rps.explanation)
        entry = judge(row(100, [99.5, 100, 100.5, 100.2, 99.8]), row(80, [79.5, 80, 80.5, 80.2, 79.8]),
                      history=history)
        self.assertEqual(entry.rps.verdict, stats.REGRESSED)

    def test_history_calls_have_a_p_and_are_judged_together(self):
        quiet = [100, 101, 99, 100, 100, 101, 99, 100]
        endpoints, _ = compare.judge_runs([row(100, endpoint=f"/e{i}") for i in range(7)],
                                          [row(93, endpoint="/e0")] + [row(100, endpoint=f"/e{i}") for i in range(1, 7)],
                                          threshold_pct=5, history_for=lambda r: {"requests_per_sec": quiet})
        lone = endpoints["/e0"].rps
        self.assertEqual(lone.method, stats.METHOD_HISTORY)
        self.assertLess(lone.p_value, 0.05)
        self.assertGreater(lone.p_adjusted, lone.p_value)


class Runs(unittest.TestCase):
    def test_summary(self):
        base = [row(100, [100, 101, 99], endpoint="/a"), row(50, endpoint="/gone")]
        cur = [row(200, [200, 201, 199], endpoint="/a"), row(10, endpoint="/new")]
        endpoints, summary = compare.judge_runs(base, cur, threshold_pct=5)
        self.assertEqual(list(endpoints), ["/a"])
        self.assertEqual((summary.only_in_baseline, summary.only_in_current), (["/gone"], ["/new"]))
        self.assertAlmostEqual(summary.geometric_mean_ratio, 2.0, places=2)

    def test_every_endpoint_and_metric_is_judged_together(self):
        # Alone, this req/s is a regression at p = 2/252 (Mann-Whitney, 5 v 5,
        # fully separated). Among 7 endpoints x 4 metrics (none else moved,
        # each tested) it is not: Benjamini-Hochberg asks the smallest of 28
        # p-values for 0.05/28.
        steady = dict(p50_ms=[1, 1.1, 0.9, 1.05, 0.95], p99_ms=[2, 2.2, 1.8, 2.1, 1.9],
                      server_cpu_us_per_req=[100, 110, 90, 105, 95])
        lone = [row(100, [98, 99, 100, 101, 102], endpoint="/a", **steady)]
        lone_cur = [row(80, [78, 79, 80, 81, 82], endpoint="/a", **steady)]
        still = [row(100, [90, 110, 100, 95, 105], endpoint=f"/s{i}", **steady) for i in range(6)]
        endpoints, summary = compare.judge_runs(lone + still, lone_cur + still, threshold_pct=5)
        rps = endpoints["/a"].rps
        self.assertEqual(rps.verdict, stats.NO_CHANGE)
        self.assertAlmostEqual(rps.p_adjusted, 28 * 2 / 252, places=4)
        self.assertIn("28 figures of 7 endpoint(s) are judged together", rps.explanation)
        self.assertEqual((summary.regressed, summary.calls), ([], []))
        # Three endpoints that all moved: the largest p, times 3/3, still counts.
        three = [f"/b{i}" for i in range(3)]
        endpoints, summary = compare.judge_runs(
            [row(100, [98, 99, 100, 101, 102], endpoint=e) for e in three],
            [row(80, [78, 79, 80, 81, 82], endpoint=e) for e in three], threshold_pct=5)
        self.assertEqual(summary.regressed, three)
        self.assertEqual([(c.endpoint, c.metric) for c in summary.calls],
                         [(e, "requests_per_sec") for e in three])
        self.assertAlmostEqual(endpoints["/b0"].rps.p_adjusted, 2 / 252, places=6)

    def test_fail_on_picks_the_metrics(self):
        endpoints, _ = compare.judge_runs(
            [row(100, [98, 99, 100, 101, 102], p99_ms=[2, 2.1, 1.9, 2.05, 1.95])],
            [row(100, [98, 99, 100, 101, 102], p99_ms=[4, 4.1, 3.9, 4.05, 3.95])], threshold_pct=5)
        self.assertEqual(compare.regressions(endpoints, ["requests_per_sec"], 5), [])
        (key, p99), = compare.regressions(endpoints, ["requests_per_sec", "p99_ms"], 5)
        self.assertEqual((key, p99.metric, p99.change_pct), ("/hello", "p99_ms", 100.0))
        self.assertEqual(compare.regressions(endpoints, ["p99_ms"], 150), [])
        self.assertEqual(compare.metric_named(" P99 "), "p99_ms")
        self.assertIsNone(compare.metric_named("p98"))


if __name__ == "__main__":
    unittest.main()

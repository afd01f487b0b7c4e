"""What a load run means (lib/run/results.py), on constructed LoadResults: the
status of a run, the sample row, the result row over samples, the server log
summary. No process is started here; the end-to-end runs of tests/test_faults.py
and tests/test_benchmark_e2e.py keep one run per kind of fault."""
import json
import unittest

from lib.run import results
from lib.load.ab import EngineRun
from lib.core.loadresult import LoadResult
from lib.machine.procstats import ProcSnapshot


def load(**fields) -> LoadResult:
    """A finished run of 100 requests, every answer 2xx, unless told otherwise."""
    return LoadResult(**{"complete_requests": 100, **fields})


def classify(result, requests=100, **kwargs):
    return results.classify(result, requests, server_name="normal", **kwargs)


class Classify(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(classify(load()), ("ok", None, None))

    def test_non_2xx_answers_fail_even_when_ab_counts_no_failed_requests(self):
        self.assertEqual(classify(load(non_2xx=100)), ("failed", "100 non-2xx answers", None))

    def test_length_failures_of_non_2xx_answers_are_not_counted_twice(self):
        # ab counts the error pages' other length as failed (length) requests.
        result = load(non_2xx=4, failed_requests=4, failed_length=4)
        self.assertEqual(classify(result), ("failed", "4 non-2xx answers", None))

    def test_expected_non_2xx(self):
        self.assertEqual(classify(load(non_2xx=100), expect_status=(404,)), ("ok", None, None))
        self.assertEqual(classify(load(non_2xx=97), expect_status=(403, 404)),
                         ("failed", "3 answers were 2xx, expected 403/404", None))

    def test_an_expected_2xx_among_the_statuses_means_any_2xx(self):
        self.assertEqual(classify(load(non_2xx=100), expect_status=(200, 404))[:2],
                         ("failed", "100 non-2xx answers"))
        self.assertEqual(classify(load(), expect_status=(200, 404)), ("ok", None, None))

    def test_failed_requests_with_their_breakdown(self):
        result = load(failed_requests=3, failed_connect=1, failed_receive=2)
        self.assertEqual(classify(result), ("failed", "3 failed requests (1 connect, 2 receive)", None))
        self.assertEqual(classify(load(failed_requests=2))[1], "2 failed requests (no breakdown)")
        result = load(failed_requests=3, failed_length=1, failed_exceptions=2)
        self.assertEqual(classify(result)[1], "3 failed requests (1 length, 2 exception)")

    def test_incomplete(self):
        self.assertEqual(classify(load(complete_requests=90)),
                         ("failed", "only 90 of 100 requests completed", None))

    def test_every_problem_is_named(self):
        result = load(complete_requests=90, non_2xx=5, failed_requests=1, failed_receive=1)
        self.assertEqual(classify(result)[1], "5 non-2xx answers; 1 failed requests (1 receive); "
                                              "only 90 of 100 requests completed")

    def test_stopped_early_for_its_own_reason(self):
        result = load(finished=False, complete_requests=0, error="ab exited with status 22: ab: invalid URL")
        self.assertEqual(classify(result), ("failed", "ab exited with status 22: ab: invalid URL", None))
        self.assertEqual(classify(load(finished=False, complete_requests=3)),
                         ("failed", "the load generator stopped early", None))

    def test_timeout(self):
        result = load(finished=False, complete_requests=40,
                      error="apr_pollset_poll: The timeout specified has expired (70007)")
        status, error, crash = classify(result)
        self.assertEqual((status, crash), ("timeout", None))
        self.assertEqual(error, "no answer within the request timeout after 40 of 100 requests "
                                "(apr_pollset_poll: The timeout specified has expired (70007))")
        # ab's APR_TIMEUP status alone is a timeout too.
        self.assertEqual(classify(load(finished=False, error="apr_poll (70007)"))[0], "timeout")
        self.assertEqual(classify(load(finished=False, error="Timeout: no answer within 1 s"))[0], "timeout")

    def test_crashed_with_a_signal(self):
        result = load(finished=False, complete_requests=31,
                      error="apr_socket_recv: Connection reset by peer (104)")
        self.assertEqual(classify(result, server_exit_code=-11), (
            "crashed", "normal server killed by SIGSEGV after 31 of 100 requests "
                       "(apr_socket_recv: Connection reset by peer (104))", "SIGSEGV"))

    def test_a_server_that_exits_is_crashed_even_after_a_finished_run(self):
        self.assertEqual(classify(load(), server_exit_code=1),
                         ("crashed", "normal server exited with status 1 after 100 of 100 requests", None))

    def test_a_url_server_that_stopped_answering(self):
        result = load(finished=False, complete_requests=30, error="Connection refused")
        self.assertEqual(classify(result, url="http://127.0.0.1:5309", url_answers=False), (
            "crashed", "server at http://127.0.0.1:5309 stopped answering after 30 of 100 requests "
                       "(Connection refused)", None))
        # Still answering: the run failed, the server did not crash.
        self.assertEqual(classify(result, url="http://127.0.0.1:5309", url_answers=True)[0], "failed")
        # A hung server does not answer either: that is a timeout.
        hung = load(finished=False, complete_requests=30, error="timeout")
        self.assertEqual(classify(hung, url="http://127.0.0.1:5309", url_answers=False)[0], "timeout")

    def test_when_to_ask(self):
        self.assertFalse(results.url_check_needed(load()))
        self.assertFalse(results.url_check_needed(load(finished=False, error="Timeout")))
        self.assertTrue(results.url_check_needed(load(finished=False, error="Connection refused")))
        self.assertTrue(results.connection_lost(load(finished=False, error="Connection reset by peer")))
        self.assertTrue(results.connection_lost(load(finished=False, error="Broken pipe")))
        self.assertFalse(results.connection_lost(load(finished=False, error="timeout")))
        self.assertFalse(results.connection_lost(load(error="Connection refused")))

    def test_which_runs_end_the_endpoint(self):
        self.assertTrue(results.ends_endpoint("crashed", load()))
        self.assertTrue(results.ends_endpoint("timeout", load(finished=False)))
        self.assertTrue(results.ends_endpoint("failed", load(finished=False)))
        self.assertFalse(results.ends_endpoint("failed", load(non_2xx=3)))
        self.assertFalse(results.ends_endpoint("ok", load()))

    def test_severity_order(self):
        self.assertEqual(sorted(results.SEVERITY, key=results.SEVERITY.get),
                         ["ok", "failed", "timeout", "crashed"])


def engine_run(rps=1000.0, cpu_s=0.5, wall_s=1.0, **fields) -> EngineRun:
    result = load(requests_per_sec=rps, time_taken_s=0.1, time_per_request_ms=1.0,
                  transfer_rate_kbps=50.0, percentiles={50.0: 1.0, 90.0: 2.0, 95.0: 3.0,
                                                        99.0: 4.0, 100.0: 9.0}, **fields)
    return EngineRun(result=result, command=["ab"], wall_s=wall_s, client_cpu_s=cpu_s)


class SampleRow(unittest.TestCase):
    def test_figures_and_proc_snapshots(self):
        row = results.sample_row(engine_run(), ProcSnapshot(1.0, 1000, 1200), ProcSnapshot(1.25, 1100, 1500))
        self.assertEqual(row["requests_per_sec"], 1000.0)
        self.assertEqual((row["p50_ms"], row["p99_ms"], row["max_ms"]), (1.0, 4.0, 9.0))
        self.assertAlmostEqual(row["server_cpu_us_per_req"], 2500.0)  # 0.25 s over 100 requests
        self.assertEqual((row["server_rss_kb_before"], row["server_rss_kb_after"],
                          row["server_rss_kb_peak"]), (1000, 1100, 1500))
        self.assertEqual((row["client_cpu_pct"], row["client_bound"]), (50.0, 0))

    def test_client_bound_from_80_percent_of_a_core(self):
        self.assertEqual(results.sample_row(engine_run(cpu_s=0.8), None, None)["client_bound"], 1)
        self.assertEqual(results.sample_row(engine_run(cpu_s=0.7999), None, None)["client_bound"], 0)

    def test_unknown_figures_stay_null(self):
        row = results.sample_row(engine_run(cpu_s=None), None, None)
        self.assertIsNone(row["client_cpu_pct"])
        self.assertIsNone(row["client_bound"])
        self.assertIsNone(row["server_cpu_us_per_req"])
        self.assertIsNone(row["server_rss_kb_peak"])
        self.assertIsNone(results.sample_row(engine_run(wall_s=0), None, None)["client_cpu_pct"])


def sample(rps, complete=100, failed=0, non_2xx=0, before=None, after=None, peak=None, bound=None):
    return {"requests_per_sec": rps, "time_taken": 100 / rps if rps else None, "p99_ms": rps and 1000 / rps,
            "complete_requests": complete, "failed_requests": failed, "non_2xx": non_2xx,
            "server_rss_kb_before": before, "server_rss_kb_after": after, "server_rss_kb_peak": peak,
            "client_bound": bound, "client_cpu_pct": None if bound is None else 90.0 * bound}


class Aggregate(unittest.TestCase):
    def test_medians_and_the_spread_of_rates(self):
        row = results.aggregate([sample(100.0), sample(300.0), sample(200.0)])
        self.assertEqual(row["requests_per_sec"], 200.0)
        self.assertEqual(row["time_taken"], 0.5)
        self.assertEqual((row["rps_min"], row["rps_max"]), (100.0, 300.0))
        self.assertIsNone(row["p50_ms"])  # no sample had it: NULL, not zero
        # A sample without a figure does not count towards its median.
        self.assertEqual(results.aggregate([sample(None), sample(200.0)])["requests_per_sec"], 200.0)

    def test_a_typical_completion_count_but_the_worst_failures(self):
        row = results.aggregate([sample(1.0, complete=100), sample(1.0, complete=60, failed=40, non_2xx=2),
                                 sample(1.0, complete=100, non_2xx=7)])
        self.assertEqual(row["complete_requests"], 100)
        self.assertEqual((row["failed_requests"], row["non_2xx"]), (40, 7))
        # Of an even count, the lower middle: a count that was reached.
        self.assertEqual(results.aggregate([sample(1.0, complete=90), sample(1.0, complete=100)])
                         ["complete_requests"], 90)

    def test_rss_growth_of_one_process_spans_every_sample(self):
        samples = [sample(1.0, before=1000, after=1100, peak=1150),
                   sample(1.0, before=1100, after=1400, peak=1450)]
        row = results.aggregate(samples, same_process=True)
        self.assertEqual((row["server_rss_kb_before"], row["server_rss_kb_after"],
                          row["server_rss_kb_peak"], row["server_rss_kb_growth"]), (1000, 1400, 1450, 400))

    def test_rss_growth_with_a_fresh_process_per_sample_is_the_largest_within_one(self):
        samples = [sample(1.0, before=1000, after=1250), sample(1.0, before=900, after=1000)]
        self.assertEqual(results.aggregate(samples, same_process=False)["server_rss_kb_growth"], 250)
        self.assertIsNone(results.aggregate([sample(1.0)], same_process=False)["server_rss_kb_growth"])

    def test_client_bound_when_most_samples_were(self):
        def bound(*flags):
            return results.aggregate([sample(1.0, bound=f) for f in flags])["client_bound"]
        self.assertEqual(bound(1, 1, 0), 1)
        self.assertEqual(bound(1, 0), 0)  # half is not most
        self.assertEqual(bound(None, None), None)

    def test_no_samples(self):
        row = results.aggregate([])
        self.assertEqual((row["complete_requests"], row["failed_requests"], row["non_2xx"]), (0, 0, 0))
        self.assertIsNone(row["requests_per_sec"])
        self.assertIsNone(row["rps_min"])
        self.assertIsNone(row["server_rss_kb_growth"])


class Detail(unittest.TestCase):
    def test_the_last_samples_breakdowns(self):
        result = load(failed_connect=1, failed_receive=2, failed_length=3, failed_exceptions=4,
                      write_errors=5, time_per_request_all_ms=0.25, percentiles_source="csv",
                      connection_times={"total": {"min": 1.0, "median": 2.0}})
        row = results.detail(result)
        self.assertEqual((row["failed_connect"], row["failed_receive"], row["failed_length"],
                          row["failed_exceptions"], row["write_errors"]), (1, 2, 3, 4, 5))
        self.assertEqual(json.loads(row["connection_times"]), {"total": {"min": 1.0, "median": 2.0}})
        self.assertEqual((row["time_per_request_all"], row["percentiles_source"]), (0.25, "csv"))
        self.assertIsNone(results.detail(load())["connection_times"])  # nothing: NULL, not "{}"


class LogSummary(unittest.TestCase):
    def test_line_count_and_first_distinct_lines(self):
        text = "\n".join(["--- hbf-bench: starting normal server", "",
                          "[ERROR] 404 /a", "[ERROR] 404 /a", "[ERROR] 500 /b", *(f"[ERROR] other {i}" for i in range(5)),
                          "[ERROR] 404 /a   "]) + "\n"
        summary = results.log_summary(text)
        self.assertEqual(summary["server_log_lines"], 9)  # hbf-bench's marker and blank lines not counted
        listed = json.loads(summary["server_errors"])
        self.assertEqual(len(listed), results.DISTINCT_LOG_LINES)
        self.assertEqual(listed[:2], [{"line": "[ERROR] 404 /a", "count": 3}, {"line": "[ERROR] 500 /b", "count": 1}])
        self.assertEqual([e["line"] for e in listed[2:]], ["[ERROR] other 0", "[ERROR] other 1", "[ERROR] other 2"])

    def test_long_lines_are_cut_and_nothing_is_null(self):
        summary = results.log_summary("x" * 1000 + "\n")
        self.assertEqual(len(json.loads(summary["server_errors"])[0]["line"]), 400)
        self.assertEqual(results.log_summary(""), {"server_log_lines": 0, "server_errors": None})


if __name__ == "__main__":
    unittest.main()

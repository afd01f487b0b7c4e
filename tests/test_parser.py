"""lib/parser.py on real ab captures (tests/fixtures/ab, copied from shared/fixtures)."""
import unittest
from pathlib import Path

from lib.parser import AbParseError, parse_ab, parse_percentile_csv, with_csv_percentiles

AB = Path(__file__).resolve().parent / "fixtures" / "ab"


def capture(name: str):
    return parse_ab((AB / f"{name}.txt").read_text(), (AB / f"{name}.stderr").read_text())


class NormalRuns(unittest.TestCase):
    def test_hello_summary(self):
        r = capture("hello_ok")
        self.assertTrue(r.finished)
        self.assertEqual(r.complete_requests, 2000)
        self.assertEqual(r.failed_requests, 0)
        self.assertEqual(r.non_2xx, 0)
        self.assertAlmostEqual(r.time_taken_s, 3.956)
        self.assertAlmostEqual(r.requests_per_sec, 505.53)
        self.assertAlmostEqual(r.time_per_request_ms, 19.781)
        self.assertAlmostEqual(r.time_per_request_all_ms, 1.978)
        self.assertAlmostEqual(r.transfer_rate_kbps, 57.76)
        self.assertEqual(r.document_length, 27)
        self.assertEqual(r.total_transferred, 234000)
        self.assertEqual(r.html_transferred, 54000)
        self.assertEqual(r.connection_times["total"],
                         {"min": 4.0, "mean": 20.0, "sd": 2.7, "median": 19.0, "max": 31.0})
        self.assertEqual(set(r.connection_times), {"connect", "processing", "waiting", "total"})
        # The whole-millisecond table until the CSV is merged.
        self.assertEqual(r.percentiles_source, "table")
        self.assertEqual((r.p50_ms, r.p90_ms, r.p95_ms, r.p99_ms, r.max_ms), (19, 23, 24, 27, 31))

    def test_csv_gives_microsecond_percentiles(self):
        r = with_csv_percentiles(capture("hello_ok"), (AB / "hello_ok.csv").read_text())
        self.assertEqual(r.percentiles_source, "csv")
        self.assertEqual(len(r.percentiles), 101)
        self.assertEqual(r.percentile(0), 4.181)
        self.assertEqual(r.p50_ms, 19.497)
        self.assertEqual(r.p99_ms, 26.656)
        self.assertEqual(r.max_ms, 30.86)
        # Sanity against ab's own whole-ms table: same numbers, finer.
        self.assertLess(abs(r.p50_ms - 19), 1)

    def test_variable_length(self):
        r = capture("user42_ok")
        self.assertIsNone(r.document_length)
        self.assertEqual(r.failed_requests, 0)

    def test_put_with_failures_and_non_2xx(self):
        r = capture("put_ok")
        self.assertEqual(r.failed_requests, 17)
        self.assertEqual((r.failed_connect, r.failed_receive, r.failed_length, r.failed_exceptions),
                         (0, 0, 17, 0))
        self.assertEqual(r.non_2xx, 17)
        self.assertAlmostEqual(r.transfer_rate_kbps, 43.21)

    def test_non_2xx_that_ab_calls_successful(self):
        for name, count in (("favicon_404", 1000), ("post_404", 500), ("dev_on_normal_403", 200)):
            with self.subTest(name):
                r = capture(name)
                self.assertEqual(r.failed_requests, 0)
                self.assertEqual(r.non_2xx, count)

    def test_length_failures(self):
        r = capture("files_length_failures")
        self.assertEqual(r.failed_requests, 149)
        self.assertEqual(r.failed_length, 149)
        self.assertEqual(r.non_2xx, 0)


class CutShortRuns(unittest.TestCase):
    def test_crash_is_partial(self):
        r = capture("crash_reset")
        self.assertFalse(r.finished)
        self.assertEqual(r.complete_requests, 293)
        self.assertEqual(r.error, "apr_socket_recv: Connection reset by peer (104)")
        self.assertIsNone(r.requests_per_sec)

    def test_crash_of_a_short_run_on_the_banner_line(self):
        # ab prints no progress lines for n <= 150: the count follows the banner.
        text = ("This is ApacheBench, Version 2.3 <$Revision$>\n\n"
                "Benchmarking 127.0.0.1 (be patient)...Total of 31 requests completed\n")
        r = parse_ab(text, "apr_socket_recv: Connection reset by peer (104)\n")
        self.assertFalse(r.finished)
        self.assertEqual(r.complete_requests, 31)

    def test_timeout_is_partial(self):
        r = capture("hang_timeout")
        self.assertFalse(r.finished)
        self.assertEqual(r.complete_requests, 174)
        self.assertIn("timeout specified has expired", r.error)

    def test_refused_before_any_request(self):
        r = capture("refused")
        self.assertFalse(r.finished)
        self.assertEqual(r.complete_requests, 0)
        self.assertIn("Connection refused", r.error)

    def test_usage_error_keeps_abs_words(self):
        r = capture("c_gt_n")
        self.assertFalse(r.finished)
        self.assertIn("Cannot use concurrency level greater than total number of requests", r.error)


class Unrecognised(unittest.TestCase):
    def test_garbage_names_what_is_missing(self):
        with self.assertRaises(AbParseError) as caught:
            parse_ab("hello world\n")
        self.assertIn("Complete requests", str(caught.exception))

    def test_summary_without_time_taken(self):
        text = (AB / "hello_ok.txt").read_text().replace("Time taken for tests", "Time spent")
        with self.assertRaises(AbParseError) as caught:
            parse_ab(text)
        self.assertIn("time_taken_s", str(caught.exception))

    def test_failed_without_breakdown(self):
        text = (AB / "put_ok.txt").read_text().replace("   (Connect: 0, Receive: 0, Length: 17, Exceptions: 0)\n", "")
        with self.assertRaises(AbParseError):
            parse_ab(text)

    def test_bad_csv(self):
        with self.assertRaises(AbParseError):
            parse_percentile_csv("p,ms\n1,2\n")
        with self.assertRaises(AbParseError):
            parse_percentile_csv("Percentage served,Time in ms\n0,1.0\nfifty,2\n")

    def test_small_runs_do_not_take_abs_out_of_range_rows(self):
        # A real 20-request run: ab's p99 row read past its array (0.257 < p90).
        rows = {0: 0.2, 50: 0.442, 90: 0.697, 95: 0.9, 99: 0.257, 100: 1.074}
        csv = "Percentage served,Time in ms\n" + "".join(
            f"{p},{rows.get(p, 0.5 if p < 90 else 0.8)}\n" for p in range(101))
        r = capture("hello_ok")
        r.complete_requests = 20
        r = with_csv_percentiles(r, csv)
        self.assertEqual(r.p99_ms, 1.074)
        self.assertEqual(r.p95_ms, 0.9)  # index round(19.0) = 19: still inside ab's array
        self.assertEqual(r.p90_ms, 0.697)
        self.assertEqual(r.p50_ms, 0.442)

    def test_empty_csv_keeps_table(self):
        r = with_csv_percentiles(capture("hello_ok"), "")
        self.assertEqual(r.percentiles_source, "table")


if __name__ == "__main__":
    unittest.main()

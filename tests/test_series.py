"""Known-answer tests for lib/judge/series.py: step detection, sparklines, the leak check."""
import random
import unittest

from lib.judge import series


def noisy(level, n, rel_sigma, seed):
    rng = random.Random(seed)
    return [level * (1 + rng.gauss(0, rel_sigma)) for _ in range(n)]


class TestDetectSteps(unittest.TestCase):
    def test_flat_noisy(self):
        for seed in range(20):
            self.assertEqual(series.detect_steps(noisy(1000, 40, 0.02, seed)), [], seed)
            self.assertEqual(series.detect_steps(noisy(1000, 12, 0.08, seed)), [], seed)

    def test_quantized_jitter_is_not_a_step(self):
        # ab prints whole milliseconds: 10/11 ms jitter is noise
        for seed in range(20):
            rng = random.Random(seed)
            self.assertEqual(series.detect_steps([rng.choice([10, 11]) for _ in range(40)]), [])

    def test_clear_step_with_noise(self):
        for seed in range(10):
            values = noisy(1000, 20, 0.01, seed) + noisy(800, 20, 0.01, seed + 100)
            self.assertEqual(series.detect_steps(values), [20], seed)

    def test_clean_step(self):
        self.assertEqual(series.detect_steps([100, 100, 100, 80, 80, 80]), [3])
        self.assertEqual(series.detect_steps([100, 101, 99, 100, 80, 81, 79, 80]), [4])

    def test_two_steps(self):
        values = noisy(100, 10, 0.01, 1) + noisy(80, 10, 0.01, 2) + noisy(100, 10, 0.01, 3)
        self.assertEqual(series.detect_steps(values), [10, 20])
        values = noisy(100, 10, 0.01, 4) + noisy(90, 10, 0.01, 5) + noisy(80, 10, 0.01, 6)
        self.assertEqual(series.detect_steps(values), [10, 20])

    def test_small_step_below_threshold(self):
        self.assertEqual(series.detect_steps([100] * 10 + [103] * 10), [])
        self.assertEqual(series.detect_steps([100] * 10 + [103] * 10, threshold_pct=2), [10])

    def test_min_size(self):
        # splits keep >= min_size points per side, so a step 2 points from the
        # start is reported at 3 with the default and exactly with min_size=2
        self.assertEqual(series.detect_steps([100, 100, 80, 80, 80, 80]), [3])
        self.assertEqual(series.detect_steps([100, 100, 80, 80, 80, 80], min_size=2), [2])
        # one odd last run is not a step
        self.assertEqual(series.detect_steps([100] * 10 + [80]), [])
        self.assertEqual(series.detect_steps([100] * 5 + [80] + [100] * 5), [])

    def test_edges(self):
        self.assertEqual(series.detect_steps([]), [])
        self.assertEqual(series.detect_steps([5]), [])
        self.assertEqual(series.detect_steps([7] * 20), [])

    def test_none_keeps_positions(self):
        values = [100, 101, None, 99, 100, 120, 121, 119, None, 120]
        self.assertEqual(series.detect_steps(values), [5])


class TestSparkline(unittest.TestCase):
    def test_ramp(self):
        self.assertEqual(series.sparkline([1, 2, 3, 4, 5, 6, 7, 8]), "▁▂▃▄▅▆▇█")
        self.assertEqual(series.sparkline([0, 10]), "▁█")

    def test_constant_and_empty(self):
        self.assertEqual(series.sparkline([5, 5, 5]), "▄▄▄")
        self.assertEqual(series.sparkline([]), "")
        self.assertEqual(series.sparkline([None, None]), "  ")

    def test_none_is_blank(self):
        self.assertEqual(series.sparkline([0, None, 7]), "▁ █")

    def test_width_averages_buckets(self):
        self.assertEqual(series.sparkline([0, 0, 10, 10], width=2), "▁█")
        self.assertEqual(series.sparkline([0, 2, None, None, 8, 10], width=3), "▁ █")
        self.assertEqual(len(series.sparkline(range(100), width=7)), 7)
        self.assertEqual(series.sparkline([1, 2, 3], width=10), series.sparkline([1, 2, 3]))


class TestMemory(unittest.TestCase):
    def test_looks_like_leak(self):
        self.assertTrue(series.looks_like_leak([100000, 100600, 101200, 101800]))
        self.assertTrue(series.looks_like_leak([100000, 100000, 101024]))
        self.assertFalse(series.looks_like_leak([100000, 100600, 100500, 101800]))  # freed once
        self.assertFalse(series.looks_like_leak([100000, 100300, 100600]))  # grew < 1 MiB
        self.assertFalse(series.looks_like_leak([100000, 200000]))  # too few points
        self.assertTrue(series.looks_like_leak([100000, 200000], min_points=2))
        self.assertFalse(series.looks_like_leak([]))
        self.assertTrue(series.looks_like_leak([1000, None, 1500, 2100]))


class Series(unittest.TestCase):
    def test_configuration_splits_on_the_engine_too(self):
        ab = {"pod": "demo", "build_mode": "opt", "requests": 300, "concurrency": 10, "engine": "ab"}
        self.assertNotEqual(series.configuration(ab), series.configuration(dict(ab, engine="python")))
        self.assertEqual(series.configuration(dict(ab, engine=None)), series.configuration(ab))

    def test_counted_and_level_shifts(self):
        rows = [{"pod": "t", "build_mode": "opt", "requests": 10, "concurrency": 1, "engine": "ab",
                 "status": "ok", "requests_per_sec": v} for v in [100] * 6 + [80] * 6]
        rows[2]["status"] = "crashed"
        rows[3]["build_mode"] = "dbg"
        main, counted = series.counted(rows)
        self.assertIn("opt", main)
        self.assertEqual(counted, [True, True, False, False] + [True] * 8)
        steps = series.steps_of(rows, counted)
        self.assertEqual(list(steps), [6])
        self.assertEqual((steps[6]["direction"], steps[6]["change_pct"]), ("down", -20.0))


if __name__ == "__main__":
    unittest.main()

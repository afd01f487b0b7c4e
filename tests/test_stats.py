"""Known-answer tests for lib/judge/stats.py.

Expected p-values were worked out by hand (exact U distributions, normal
approximation formulas) and cross-checked once against scipy, which the
module itself does not use.
"""
import math
import random
import unittest

from lib.judge import stats


def noisy(level, n, rel_sigma, seed):
    rng = random.Random(seed)
    return [level * (1 + rng.gauss(0, rel_sigma)) for _ in range(n)]


class TestBasics(unittest.TestCase):
    def test_median(self):
        self.assertEqual(stats.median([3, 1, 2]), 2)
        self.assertEqual(stats.median([4, 1, 3, 2]), 2.5)
        self.assertEqual(stats.median([7]), 7)
        self.assertIsNone(stats.median([]))
        self.assertIsNone(stats.median([None]))
        self.assertEqual(stats.median([1, None, 3]), 2)

    def test_mean(self):
        self.assertEqual(stats.mean([1, 2, 3, 4]), 2.5)
        self.assertIsNone(stats.mean([]))
        self.assertEqual(stats.mean([0.1] * 10), 0.1)

    def test_stdev(self):
        # sum of squared deviations 32, n - 1 = 7
        self.assertAlmostEqual(stats.stdev([2, 4, 4, 4, 5, 5, 7, 9]), math.sqrt(32 / 7))
        self.assertEqual(stats.stdev([3, 3, 3]), 0.0)
        self.assertIsNone(stats.stdev([5]))
        self.assertIsNone(stats.stdev([]))

    def test_summarize(self):
        s = stats.summarize([4, 1, 3, 2])
        self.assertEqual(s["count"], 4)
        self.assertEqual((s["min"], s["max"], s["mean"], s["median"]), (1, 4, 2.5, 2.5))
        self.assertAlmostEqual(s["stdev"], math.sqrt(5 / 3))
        self.assertEqual(stats.summarize([]), dict(count=0, min=None, max=None, mean=None,
                                                   median=None, stdev=None))
        one = stats.summarize([7])
        self.assertEqual((one["count"], one["median"], one["stdev"]), (1, 7, None))

    def test_geometric_mean(self):
        self.assertAlmostEqual(stats.geometric_mean([1, 4]), 2.0)
        self.assertAlmostEqual(stats.geometric_mean([2, 8, 4]), 4.0)
        self.assertAlmostEqual(stats.geometric_mean([0.5, 2.0]), 1.0)
        self.assertIsNone(stats.geometric_mean([]))
        self.assertIsNone(stats.geometric_mean([1, 0]))
        self.assertIsNone(stats.geometric_mean([1, -2]))


class TestMannWhitney(unittest.TestCase):
    def test_exact_complete_separation(self):
        u, p = stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        self.assertEqual(u, 0)
        self.assertAlmostEqual(p, 2 / 252)  # 1 of C(10,5) orderings, both tails

    def test_u_is_for_first_sample(self):
        u, p = stats.mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
        self.assertEqual(u, 25)
        self.assertAlmostEqual(p, 2 / 252)

    def test_exact_table_values(self):
        # 5 vs 5: counts of U = 0, 1, 2 are 1, 1, 2 -> P(U <= 2) = 4/252
        u, p = stats.mann_whitney_u([1, 2, 3, 4, 7], [5, 6, 8, 9, 10])
        self.assertEqual(u, 2)
        self.assertAlmostEqual(p, 8 / 252)
        # 3 vs 3 interleaved: U = 3, counts 1,1,2,3 -> P(U <= 3) = 7/20
        u, p = stats.mann_whitney_u([1, 3, 5], [2, 4, 6])
        self.assertEqual(u, 3)
        self.assertAlmostEqual(p, 0.7)
        # smallest p possible for 3 vs 3 and 4 vs 4
        self.assertAlmostEqual(stats.mann_whitney_u([1, 2, 3], [4, 5, 6])[1], 0.1)
        self.assertAlmostEqual(stats.mann_whitney_u([1, 2, 3, 4], [5, 6, 7, 8])[1], 2 / 70)

    def test_exact_middle_is_one(self):
        u, p = stats.mann_whitney_u([1, 4], [2, 3])
        self.assertEqual(u, 2)
        self.assertEqual(p, 1.0)

    def test_ties_use_normal_approximation(self):
        # ranks: 1 | 3 3 3 | 6 6 6 | 8 | 9 ; R_a = 13, U = 3
        # sigma^2 = 20/12 * (10 - 48/72) = 140/9 ; z = (7 - 0.5) / sqrt(140/9)
        u, p = stats.mann_whitney_u([1, 2, 2, 3], [2, 3, 3, 4, 5])
        self.assertEqual(u, 3)
        z = 6.5 / math.sqrt(140 / 9)
        self.assertAlmostEqual(z, 1.648046, places=5)
        self.assertAlmostEqual(p, 0.0993422, places=6)

    def test_large_samples_use_normal_approximation(self):
        # 25 vs 25, no ties: mu 312.5, sigma^2 = 625 * 51 / 12, z = 312 / sigma
        u, p = stats.mann_whitney_u(range(25), range(25, 50))
        self.assertEqual(u, 0)
        self.assertAlmostEqual(p, 1.41566e-9, delta=1e-13)

    def test_all_equal(self):
        u, p = stats.mann_whitney_u([5, 5, 5], [5, 5, 5, 5])
        self.assertEqual(u, 6)
        self.assertEqual(p, 1.0)

    def test_single_values(self):
        u, p = stats.mann_whitney_u([1], [2])
        self.assertEqual((u, p), (0, 1.0))

    def test_empty_raises(self):
        with self.assertRaises(ValueError):
            stats.mann_whitney_u([], [1, 2])


class TestWelch(unittest.TestCase):
    def test_known_values(self):
        t, df, p = stats.welch_t_test([100, 102, 98], [80, 81, 79])
        self.assertAlmostEqual(t, -20 / math.sqrt(4 / 3 + 1 / 3))
        self.assertAlmostEqual(df, (5 / 3) ** 2 / ((4 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2))
        self.assertAlmostEqual(p, 0.00065145, places=7)

    def test_t_distribution_critical_values(self):
        # two-sided 5% critical values from any t table
        for t, df in [(12.7062, 1), (4.302653, 2), (2.776445, 4), (2.228139, 10)]:
            self.assertAlmostEqual(stats._t_two_sided_p(t, df), 0.05, places=6)
        self.assertEqual(stats._t_two_sided_p(0.0, 5), 1.0)

    def test_degenerate(self):
        self.assertIsNone(stats.welch_t_test([1], [1, 2]))
        self.assertEqual(stats.welch_t_test([3, 3], [3, 3])[2], 1.0)
        t, _df, p = stats.welch_t_test([3, 3], [4, 4])
        self.assertEqual((t, p), (math.inf, 0.0))


def t4_two_sided_p(t):
    """Student's t with 4 degrees of freedom in closed form, independent of
    the incomplete beta function lib/judge/stats.py uses."""
    t = abs(t)
    x = t * t
    cdf = 0.5 + (3 / 8) * (t / math.sqrt(1 + x / 4)) * (1 - x / (12 * (1 + x / 4)))
    return 2 * (1 - cdf)


class TestPairedCompare(unittest.TestCase):
    # Machine drift: the baseline wanders 1000 -> 1400, the candidate rides
    # 20% below it in every pair. As two groups the samples overlap.
    BASE = [1000, 1400, 1100, 1300, 1200]
    RATIOS = [0.80, 0.82, 0.78, 0.81, 0.79]

    def cand(self, ratios=None):
        return [b * r for b, r in zip(self.BASE, ratios or self.RATIOS)]

    def test_known_answer(self):
        logs = [math.log(r) for r in self.RATIOS]
        mean = sum(logs) / 5
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 4)
        t = mean / (sd / math.sqrt(5))
        r = stats.paired_compare(self.BASE, self.cand(), metric="req/s")
        self.assertEqual((r.verdict, r.method), ("regressed", "paired t-test"))
        self.assertAlmostEqual(r.change_pct, (math.exp(mean) - 1) * 100, places=9)
        self.assertAlmostEqual(r.change_pct, -20.01, places=2)
        self.assertAlmostEqual(r.p_value, t4_two_sided_p(t), places=12)
        self.assertLess(r.p_value, 1e-4)
        self.assertIn("5 alternating pairs", r.explanation)

    def test_pairs_see_through_drift_that_groups_cannot(self):
        self.assertEqual(stats.compare(self.BASE, self.cand(), metric="req/s").verdict,
                         "no significant change")

    def test_a_a_pairs_that_disagree_are_within_noise(self):
        ratios = [1.04, 0.95, 1.03, 0.97, 1.02]
        r = stats.paired_compare(self.BASE, self.cand(ratios))
        self.assertEqual(r.verdict, "no significant change")
        logs = [math.log(x) for x in ratios]
        mean = sum(logs) / 5
        t = mean / (math.sqrt(sum((x - mean) ** 2 for x in logs) / 4) / math.sqrt(5))
        self.assertAlmostEqual(r.p_value, t4_two_sided_p(t), places=12)
        self.assertGreater(r.p_value, 0.9)

    def test_consistent_but_below_threshold(self):
        r = stats.paired_compare(self.BASE, self.cand([0.97, 0.975, 0.965, 0.97, 0.97]))
        self.assertEqual(r.verdict, "no significant change")
        self.assertIn("below the 5% threshold", r.explanation)

    def test_lower_is_better_and_constant_ratios(self):
        r = stats.paired_compare([10, 12, 11], [13, 15.6, 14.3], higher_is_better=False)
        self.assertEqual((r.verdict, r.p_value), ("regressed", 0.0))
        self.assertAlmostEqual(r.change_pct, 30.0)

    def test_too_few_or_unequal_pairs_fall_back_to_compare(self):
        r = stats.paired_compare([100, 101], [80, 81], history=[100, 101, 99, 100, 100])
        self.assertEqual(r.method, "history z-score")
        r = stats.paired_compare([100, 101, 99, 100], [80, 81, 79])
        self.assertEqual(r.method, "welch t-test")


class TestBenjaminiHochberg(unittest.TestCase):
    def test_known_values(self):
        # R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "BH") = 0.04 0.0533 0.0533 0.5
        adjusted = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
        for got, want in zip(adjusted, [0.04, 0.16 / 3, 0.16 / 3, 0.5]):
            self.assertAlmostEqual(got, want, places=12)

    def test_one_value_and_none_are_unchanged(self):
        self.assertEqual(stats.benjamini_hochberg([0.02]), [0.02])
        self.assertEqual(stats.benjamini_hochberg([]), [])

    def test_a_smaller_p_never_gets_a_larger_adjusted_p(self):
        # 0.8 * 2 / 1 = 1.6, but a smaller p cannot need more than a larger one.
        self.assertEqual(stats.benjamini_hochberg([0.9, 0.8]), [0.9, 0.9])


class TestCompare(unittest.TestCase):
    def test_verdict_strings(self):
        self.assertEqual(stats.VERDICTS, ("regressed", "improved", "no significant change",
                                          "insufficient data"))

    def test_empty_side(self):
        for b, c in ([], [1, 2, 3]), ([1, 2, 3], []), ([], []), ([None], [1]):
            r = stats.compare(b, c)
            self.assertEqual(r.verdict, "insufficient data")
            self.assertEqual(r.method, "none")
            self.assertIsNone(r.change_pct)

    def test_clear_regression_five_vs_five(self):
        r = stats.compare([99, 100, 101, 100.5, 99.5], [79, 80, 81, 80.5, 79.5], metric="req/s")
        self.assertEqual(r.verdict, "regressed")
        self.assertEqual(r.change_pct, -20.0)
        self.assertEqual(r.method, "mann-whitney")
        self.assertAlmostEqual(r.p_value, 2 / 252)
        self.assertIsNone(r.z)
        self.assertEqual(r.explanation, "req/s fell 20.0% (p=0.008, 5 vs 5 samples)")
        self.assertEqual((r.baseline_median, r.candidate_median), (100, 80))
        self.assertEqual((r.n_baseline, r.n_candidate), (5, 5))

    def test_clear_improvement(self):
        r = stats.compare([99, 100, 101, 100.5, 99.5], [119, 120, 121, 120.5, 119.5])
        self.assertEqual(r.verdict, "improved")
        self.assertAlmostEqual(r.change_pct, 20.0)

    def test_three_vs_three_clear_regression(self):
        # Mann-Whitney cannot go below p=0.1 at 3 vs 3, so Welch decides.
        r = stats.compare([100, 102, 98], [80, 81, 79])
        self.assertEqual(r.verdict, "regressed")
        self.assertEqual(r.method, "welch t-test")
        self.assertLess(r.p_value, 0.001)
        self.assertAlmostEqual(r.change_pct, -20.0)

    def test_three_vs_three_overlapping(self):
        r = stats.compare([100, 120, 80], [90, 110, 70])
        self.assertEqual(r.verdict, "no significant change")
        self.assertEqual(r.method, "welch t-test")

    def test_identical_noisy_samples(self):
        s = noisy(1000, 8, 0.05, seed=3)
        r = stats.compare(s, list(s))
        self.assertEqual(r.verdict, "no significant change")
        self.assertEqual(r.change_pct, 0.0)
        self.assertEqual(r.p_value, 1.0)

    def test_noisy_overlap_not_significant(self):
        r = stats.compare(noisy(1000, 10, 0.10, seed=1), noisy(950, 10, 0.10, seed=2))
        self.assertEqual(r.verdict, "no significant change")
        self.assertGreaterEqual(r.p_value, 0.05)
        self.assertIn("within noise", r.explanation)

    def test_significant_but_below_threshold(self):
        r = stats.compare([100, 100.5, 101, 100.2, 100.7], [102, 102.5, 103, 102.2, 102.7])
        self.assertAlmostEqual(r.p_value, 2 / 252)
        self.assertAlmostEqual(r.change_pct, 200 / 100.5)  # medians 100.5 -> 102.5
        self.assertEqual(r.verdict, "no significant change")
        self.assertIn("below the 5% threshold", r.explanation)
        # the same data with a 1% threshold is a real improvement
        r = stats.compare([100, 100.5, 101, 100.2, 100.7], [102, 102.5, 103, 102.2, 102.7],
                          threshold_pct=1.0)
        self.assertEqual(r.verdict, "improved")

    def test_alpha(self):
        b, c = [1, 2, 3, 4, 7], [5, 6, 8, 9, 10]  # p = 8/252 = 0.032, medians 3 -> 8
        self.assertEqual(stats.compare(b, c).verdict, "improved")
        self.assertEqual(stats.compare(b, c, alpha=0.01).verdict, "no significant change")

    def test_lower_is_better(self):
        base, slower = [10, 10.2, 9.9, 10.1, 10], [12, 12.1, 11.9, 12.2, 12]
        r = stats.compare(base, slower, higher_is_better=False, metric="latency")
        self.assertEqual(r.verdict, "regressed")
        self.assertAlmostEqual(r.change_pct, 20.0)
        self.assertTrue(r.explanation.startswith("latency rose 20.0%"))
        r = stats.compare(slower, base, higher_is_better=False)
        self.assertEqual(r.verdict, "improved")
        self.assertLess(r.change_pct, 0)

    def test_single_sample_little_history(self):
        r = stats.compare([100], [80], history=[99, 101])
        self.assertEqual(r.verdict, "insufficient data")
        self.assertEqual(r.change_pct, -20.0)
        self.assertEqual(r.method, "none")
        self.assertEqual(r.explanation,
                         "single sample and only 2 earlier runs: not enough history to judge noise")
        self.assertEqual(stats.compare([100], [80]).verdict, "insufficient data")

    def test_single_sample_quiet_history_big_drop(self):
        history = [100, 101, 99, 100.5, 99.5, 100, 101, 99, 100.2, 99.8]
        r = stats.compare([100], [80], history=history, metric="req/s")
        self.assertEqual(r.verdict, "regressed")
        self.assertEqual(r.method, "history z-score")
        self.assertEqual(r.change_pct, -20.0)
        noise_pct = stats.stdev(history) / stats.mean(history) * 100
        # The difference of two runs spreads sqrt(2) times one run's noise.
        self.assertAlmostEqual(r.z, -20.0 / (noise_pct * 2 ** 0.5))
        self.assertLess(r.z, -3)
        self.assertLess(r.p_value, 1e-6)  # Student's t, 9 degrees of freedom
        self.assertTrue(r.explanation.startswith("req/s fell 20.0% (p<0.001, z="), r.explanation)

    def test_history_test_is_students_t_on_the_difference_of_two_runs(self):
        z, p = stats.history_test(10.0, 5.0 / 2 ** 0.5, 11)  # z = 2, 10 degrees of freedom
        self.assertAlmostEqual(z, 2.0)
        self.assertAlmostEqual(p, 0.07339, places=4)  # t table: P(|T10| >= 2) = 0.0734
        self.assertEqual(stats.history_test(3.0, 0.0, 8), (None, 0.0))
        self.assertEqual(stats.history_test(0.0, 0.0, 8), (None, 1.0))

    def test_single_sample_noisy_history(self):
        history = noisy(100, 10, 0.10, seed=4)  # ~10% noise: 20% is within 3x
        r = stats.compare([100], [80], history=history)
        self.assertEqual(r.verdict, "no significant change")
        self.assertEqual(r.method, "history z-score")
        self.assertGreater(r.z, -3)

    def test_single_sample_below_threshold(self):
        history = [100, 100.1, 99.9, 100, 100.05, 99.95]
        r = stats.compare([100], [97], history=history)
        self.assertEqual(r.verdict, "no significant change")
        self.assertLess(r.z, -3)  # beyond noise, but only 3%

    def test_flat_history(self):
        r = stats.compare([100], [90], history=[100] * 6)
        self.assertEqual(r.verdict, "regressed")
        self.assertIsNone(r.z)

    def test_two_samples_use_history(self):
        r = stats.compare([100, 101], [80, 81, 79, 80], history=[100] * 3)
        self.assertEqual(r.verdict, "insufficient data")
        self.assertTrue(r.explanation.startswith("only 2 samples"))
        r = stats.compare([100, 100], [80, 80, 80], history=[100, 101, 99, 100, 100])
        self.assertEqual(r.verdict, "regressed")

    def test_min_history(self):
        history = [100, 101, 99]
        self.assertEqual(stats.compare([100], [80], history=history).verdict, "insufficient data")
        self.assertEqual(stats.compare([100], [80], history=history, min_history=3).verdict,
                         "regressed")

    def test_zero_baseline(self):
        r = stats.compare([0, 0, 0], [1, 2, 3])
        self.assertEqual(r.verdict, "insufficient data")
        self.assertIsNone(r.change_pct)
        self.assertEqual(stats.compare([0, 0, 0], [0, 0, 0]).verdict, "no significant change")

    def test_none_samples_ignored(self):
        r = stats.compare([99, None, 100, 101, 100.5, 99.5], [79, 80, 81, 80.5, 79.5])
        self.assertEqual(r.verdict, "regressed")
        self.assertEqual(r.n_baseline, 5)


class RobustNoise(unittest.TestCase):
    def test_one_odd_run_does_not_inflate_it(self):
        from lib.judge.stats import robust_noise_pct
        quiet = [100, 101, 99, 100, 102, 98, 100]
        self.assertAlmostEqual(robust_noise_pct(quiet), 1.4826, places=3)  # MAD 1 around 100
        self.assertAlmostEqual(robust_noise_pct(quiet + [160]), 1.4826, places=3)
        self.assertIsNone(robust_noise_pct([]))
        self.assertIsNone(robust_noise_pct([0, 0, 0]))


if __name__ == "__main__":
    unittest.main()

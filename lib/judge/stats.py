"""Statistics for hbf-bench: summaries, significance tests and the verdict.

Pure functions, standard library only, no I/O. Conventions shared by every
function here:

* ``None`` means "undefined" (empty input, a stdev of one value, a ratio over
  zero) instead of raising or returning a misleading 0.0.
* ``None`` (and NaN) entries in an input list are dropped before computing:
  a run that did not report a metric must not break a summary.

Series over time (level shifts, sparklines, the leak check) are in
lib/series.py. No `statistics` or `dataclasses` here: show_results imports
this module for every comparison, and they cost start-up time.

The verdict (``compare``) follows pyperf's idea (significance test AND a
minimum effect size) and its wording follows criterion.rs; see ``compare``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

REGRESSED = "regressed"
IMPROVED = "improved"
NO_CHANGE = "no significant change"
INSUFFICIENT = "insufficient data"
VERDICTS = (REGRESSED, IMPROVED, NO_CHANGE, INSUFFICIENT)

METHOD_MANN_WHITNEY = "mann-whitney"
ALPHA = 0.05  # the significance level of every test the tool calls a change on
METHOD_WELCH = "welch t-test"  # only when Mann-Whitney cannot reach alpha at all
METHOD_HISTORY = "history z-score"
METHOD_PAIRED = "paired t-test"  # side by side: log ratios of alternating samples
METHOD_NONE = "none"

# Exact Mann-Whitney when there are no ties and both sides have at most this
# many samples (the U distribution then has at most 401 points).
EXACT_MAX_N = 20


# ---------------------------------------------------------------- basics

def _clean(values) -> list[float]:
    """The numbers of ``values`` without None/NaN (missing measurements)."""
    if values is None:
        return []
    out = []
    for v in values:
        if v is None:
            continue
        v = float(v)
        if math.isnan(v):
            continue
        out.append(v)
    return out


def median(values) -> float | None:
    """Middle value; the mean of the two middle ones for an even count.

    Note this interpolates, so it can differ from ``percentile(values, 50)``,
    which always returns a sample (as ab does). None when empty.
    """
    xs = _clean(values)
    return _median(xs) if xs else None


def _median(xs: list[float]) -> float:
    """Median of a non-empty list of numbers."""
    ordered = sorted(xs)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def mean(values) -> float | None:
    """Arithmetic mean (accurate summation). None when empty."""
    xs = _clean(values)
    return math.fsum(xs) / len(xs) if xs else None


def stdev(values) -> float | None:
    """Sample standard deviation (n - 1 denominator).

    None for fewer than 2 values: the spread of one run is unknown, not zero,
    and a 0.0 would look like a perfectly quiet benchmark.
    """
    xs = _clean(values)
    n = len(xs)
    if n < 2:
        return None
    m = math.fsum(xs) / n
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (n - 1))


def summarize(values) -> dict:
    """dict(count, min, max, mean, median, stdev); None where undefined."""
    xs = _clean(values)
    return {
        "count": len(xs),
        "min": min(xs) if xs else None,
        "max": max(xs) if xs else None,
        "mean": mean(xs),
        "median": median(xs),
        "stdev": stdev(xs),
    }


def geometric_mean(values) -> float | None:
    """Geometric mean, the right average for ratios (e.g. speedups).

    None when empty or when any value is <= 0 (undefined there).
    """
    xs = _clean(values)
    if not xs or any(x <= 0 for x in xs):
        return None
    return math.exp(math.fsum(math.log(x) for x in xs) / len(xs))


# ---------------------------------------------------------- significance

def _ranks(pooled: list[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of ``pooled`` in input order, and tie sizes."""
    order = sorted(range(len(pooled)), key=pooled.__getitem__)
    ranks = [0.0] * len(pooled)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and pooled[order[j + 1]] == pooled[order[i]]:
            j += 1
        avg = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = avg
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _u_counts(n1: int, n2: int) -> list[int]:
    """How many of the C(n1+n2, n1) orderings give each U = 0..n1*n2.

    Dynamic programming on f(i, j)[u] = f(i-1, j)[u-j] + f(i, j-1)[u]:
    the largest of all i+j values belongs to sample 1 (it beats all j values
    of sample 2) or to sample 2 (it adds nothing).
    """
    # row[j] = f(i, j) for the current i
    row = [[1] for _ in range(n2 + 1)]  # f(0, j): only U = 0
    for i in range(1, n1 + 1):
        new = [[1]]  # f(i, 0)
        for j in range(1, n2 + 1):
            up = row[j]  # f(i-1, j), shifted by j
            left = new[j - 1]  # f(i, j-1)
            cur = [0] * (i * j + 1)
            for u, c in enumerate(left):
                cur[u] += c
            for u, c in enumerate(up):
                cur[u + j] += c
            new.append(cur)
        row = new
    return row[n2]


def mann_whitney_u(a, b) -> tuple[float, float]:
    """Mann-Whitney U test: (U of ``a``, two-sided p-value).

    U counts the pairs (x in a, y in b) with x > y, ties counting 1/2 (scipy's
    U1); tables list min(U, len(a)*len(b) - U). The p-value is exact
    (enumerated U distribution) when there are no ties and both samples have
    at most 20 values, else the normal approximation with tie and continuity
    correction. Rank-based, so one wild outlier cannot fake a change.
    Raises ValueError when a side is empty.
    """
    xs, ys = _clean(a), _clean(b)
    n1, n2 = len(xs), len(ys)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u needs at least one value on each side")
    ranks, ties = _ranks(xs + ys)
    u1 = math.fsum(ranks[:n1]) - n1 * (n1 + 1) / 2.0
    nn = n1 * n2
    if not ties and n1 <= EXACT_MAX_N and n2 <= EXACT_MAX_N:
        counts = _u_counts(n1, n2)
        k = int(round(min(u1, nn - u1)))  # distribution is symmetric
        p = 2.0 * sum(counts[: k + 1]) / sum(counts)
        return u1, min(1.0, p)
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    var = nn / 12.0 * ((n + 1) - tie_term)
    if var <= 0:  # every value equal: nothing to tell apart
        return u1, 1.0
    z = max(0.0, abs(u1 - nn / 2.0) - 0.5) / math.sqrt(var)
    return u1, min(1.0, math.erfc(z / math.sqrt(2.0)))


def _mw_min_p(n1: int, n2: int) -> float:
    """Smallest two-sided p Mann-Whitney can give for these sizes (no ties)."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return min(1.0, _betainc(df / 2.0, 0.5, df / (df + t * t)))


def welch_t_test(a, b) -> tuple[float, float, float] | None:
    """Welch's unequal-variance t-test: (t, df, two-sided p); t > 0 if b > a.

    ``compare`` uses it only for 3 vs 3 / 3 vs 4 samples, where even a perfect
    separation gives Mann-Whitney p >= 0.057. Two constant samples give
    p = 0.0 when their values differ (t = +-inf) and 1.0 when equal.
    None when a side has fewer than 2 values.
    """
    xs, ys = _clean(a), _clean(b)
    n1, n2 = len(xs), len(ys)
    if n1 < 2 or n2 < 2:
        return None
    m1, m2 = math.fsum(xs) / n1, math.fsum(ys) / n2
    v1 = math.fsum((x - m1) ** 2 for x in xs) / (n1 - 1) / n1
    v2 = math.fsum((y - m2) ** 2 for y in ys) / (n2 - 1) / n2
    se2 = v1 + v2
    if se2 == 0.0:
        if m1 == m2:
            return 0.0, float(n1 + n2 - 2), 1.0
        return math.copysign(math.inf, m2 - m1), float(n1 + n2 - 2), 0.0
    t = (m2 - m1) / math.sqrt(se2)
    df = se2 ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
    return t, df, _t_two_sided_p(t, df)


def robust_noise_pct(values) -> float | None:
    """Run-to-run noise in percent of the median: 1.4826 x the median absolute
    deviation (the stdev, for normal data), so one odd run (a neighbour's job,
    a step in the machine's load) does not blind the verdicts that follow."""
    xs = _clean(values)
    if not xs:
        return None
    center = _median(xs)
    if center == 0:
        return None
    return 1.4826 * _median([abs(x - center) for x in xs]) / abs(center) * 100.0


# --------------------------------------------------------------- verdict

class Comparison(NamedTuple):
    verdict: str  # one of VERDICTS
    change_pct: float | None  # candidate median vs baseline median, signed as the raw value moves
    method: str  # METHOD_MANN_WHITNEY, METHOD_WELCH, METHOD_PAIRED, METHOD_HISTORY or METHOD_NONE
    p_value: float | None
    z: float | None
    explanation: str
    baseline_median: float | None = None
    candidate_median: float | None = None
    n_baseline: int = 0
    n_candidate: int = 0


def format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _moved(metric: str, change_pct: float) -> str:
    if change_pct == 0:
        return f"{metric} unchanged"
    word = "rose" if change_pct > 0 else "fell"
    return f"{metric} {word} {abs(change_pct):.1f}%"


def _direction(change_pct: float, higher_is_better: bool) -> str:
    better = change_pct > 0 if higher_is_better else change_pct < 0
    return IMPROVED if better else REGRESSED


def compare(baseline, candidate, *, threshold_pct: float = 5.0,
            higher_is_better: bool = True, history=None, alpha: float = ALPHA,
            min_history: int = 5, metric: str = "median") -> Comparison:
    """Did ``candidate`` get better or worse than ``baseline``?

    ``baseline`` and ``candidate`` are samples (one value per run) of one
    metric; ``higher_is_better`` is True for req/s, False for latency or CPU
    per request. change_pct = (median(cand) - median(base)) / |median(base)|
    * 100, signed as the raw value moves (req/s 100 -> 80 is -20.0). A change
    is only called when it is both real (beyond noise) and big enough to care
    about (|change_pct| >= threshold_pct):

    * a side is empty -> "insufficient data";
    * baseline median 0 -> change_pct None and "insufficient data" (or
      "no significant change" when the candidate median is 0 too);
    * >= 3 samples on both sides -> Mann-Whitney two-sided p < alpha and
      |change_pct| >= threshold_pct gives regressed/improved, else
      "no significant change". When the sizes are so small that Mann-Whitney
      cannot reach alpha even for perfectly separated samples (3 vs 3 and
      3 vs 4 at alpha 0.05) Welch's t-test supplies p instead
      (method "welch t-test");
    * fewer than 3 samples on a side -> judged against ``history`` (earlier
      comparable runs' values of this metric, not including baseline or
      candidate). Fewer than ``min_history`` points -> "insufficient data".
      Otherwise noise = stdev(history) / |mean(history)| in percent and
      ``history_test`` gives z = change_pct / (noise * sqrt(2)) and its p
      (Student's t, len(history) - 1 degrees of freedom); a change is called
      when p < alpha AND |change_pct| >= threshold_pct. Having a p, these
      calls go through the same multiple-comparison correction as the others.

    ``metric`` names the value in the explanation, e.g. "req/s".
    """
    base, cand = _clean(baseline), _clean(candidate)
    nb, nc = len(base), len(cand)
    res = dict(baseline_median=median(base), candidate_median=median(cand),
               n_baseline=nb, n_candidate=nc)

    if nb == 0 or nc == 0:
        which = ("baseline" if nb == 0 else "candidate") if nb or nc else "baseline or candidate"
        return Comparison(INSUFFICIENT, None, METHOD_NONE, None, None,
                          f"no {which} samples", **res)

    bm, cm = res["baseline_median"], res["candidate_median"]
    if bm == 0:
        if cm == 0:
            return Comparison(NO_CHANGE, None, METHOD_NONE, None, None,
                              f"{metric} is 0 on both sides", **res)
        return Comparison(INSUFFICIENT, None, METHOD_NONE, None, None,
                          f"baseline {metric} is 0: a percent change is undefined", **res)
    change = (cm - bm) / abs(bm) * 100.0
    moved = _moved(metric, change)
    big_enough = abs(change) >= threshold_pct
    sizes = f"{nb} vs {nc} samples"

    if nb >= 3 and nc >= 3:
        if _mw_min_p(nb, nc) >= alpha:
            method = METHOD_WELCH
            t, _df, p = welch_t_test(base, cand)
            how = f"{format_p(p)}, {sizes}, t-test"
        else:
            method = METHOD_MANN_WHITNEY
            _u, p = mann_whitney_u(base, cand)
            how = f"{format_p(p)}, {sizes}"
        if p < alpha and big_enough and change != 0:
            return Comparison(_direction(change, higher_is_better), change, method, p, None,
                              f"{moved} ({how})", **res)
        if p < alpha:
            why = f"{moved} ({how}): below the {threshold_pct:g}% threshold"
        else:
            why = f"{moved} but {how}: within noise"
        return Comparison(NO_CHANGE, change, method, p, None, why, **res)

    # Too few samples to measure noise from the runs themselves: use history.
    few = min(nb, nc)
    few_txt = "single sample" if few == 1 else f"only {few} samples"
    hist = _clean(history)
    if len(hist) < min_history:
        runs = "earlier run" if len(hist) == 1 else "earlier runs"
        return Comparison(INSUFFICIENT, change, METHOD_NONE, None, None,
                          f"{few_txt} and only {len(hist)} {runs}: "
                          f"not enough history to judge noise", **res)
    hmean, hsd = mean(hist), stdev(hist)
    if hmean == 0:
        return Comparison(INSUFFICIENT, change, METHOD_NONE, None, None,
                          f"earlier runs average 0 {metric}: cannot judge noise", **res)
    noise_pct = hsd / abs(hmean) * 100.0
    z, p = history_test(change, noise_pct, len(hist))
    ctx = f"{len(hist)} earlier runs, noise ±{noise_pct:.1f}%"
    how = f"{format_p(p)}, z={z:+.1f} against {ctx}" if z is not None else f"flat history: {ctx}"
    if p < alpha and big_enough and change != 0:
        return Comparison(_direction(change, higher_is_better), change, METHOD_HISTORY, p, z,
                          f"{moved} ({how})", **res)
    why = (f"{moved} ({how}): below the {threshold_pct:g}% threshold" if p < alpha
           else f"{moved} but {how}: within the noise")
    return Comparison(NO_CHANGE, change, METHOD_HISTORY, p, z, why, **res)


def history_test(change_pct: float, noise_pct: float, runs: int) -> tuple[float | None, float]:
    """(z, two-sided p) of a change between two single runs against the
    run-to-run noise of `runs` earlier runs: the difference of two runs
    spreads sqrt(2) times one run's noise, and the noise itself is an
    estimate from `runs` values, so z follows Student's t with runs - 1
    degrees of freedom. A flat history (noise 0) gives z None and p 0 for
    any change (1 for none)."""
    if noise_pct <= 0:
        return None, (0.0 if change_pct else 1.0)
    z = change_pct / (noise_pct * math.sqrt(2.0))
    return z, _t_two_sided_p(z, runs - 1)


def paired_compare(baseline, candidate, *, threshold_pct: float = 5.0,
                   higher_is_better: bool = True, alpha: float = ALPHA,
                   metric: str = "median", **fallback) -> Comparison:
    """Like ``compare``, for samples taken in alternation: baseline[i] and
    candidate[i] were measured next to each other (side by side, ABBA order).

    Each pair's ratio candidate/baseline cancels whatever the machine was
    doing at that moment, so the test looks at the ratios alone: a one-sample
    t-test on log(ratio) (4 degrees of freedom for 5 pairs; Wilcoxon's
    signed-rank test cannot reach p < 0.05 with fewer than 6 pairs).
    change_pct is the geometric mean of the ratios, minus 1, in percent.
    A change is called when p < alpha and |change_pct| >= threshold_pct.

    A pair with a value missing (None/NaN) is left out whole. Fewer than 3
    pairs, unequal sides (a side stopped early) or values <= 0:
    ``compare`` decides instead (``fallback`` carries its history).
    """
    pairs = [(b, c) for b, c in zip(baseline, candidate) if _clean([b]) and _clean([c])]
    base, cand = [float(b) for b, _ in pairs], [float(c) for _, c in pairs]
    if len(baseline) != len(candidate) or len(pairs) < 3 or min(base + cand) <= 0:
        return compare(baseline, candidate, threshold_pct=threshold_pct, higher_is_better=higher_is_better,
                       alpha=alpha, metric=metric, **fallback)
    n = len(base)
    logs = [math.log(c / b) for b, c in zip(base, cand)]
    mean_log = math.fsum(logs) / n
    spread = math.sqrt(math.fsum((x - mean_log) ** 2 for x in logs) / (n - 1))
    if spread == 0.0:
        p = 1.0 if mean_log == 0 else 0.0
    else:
        p = _t_two_sided_p(mean_log / (spread / math.sqrt(n)), n - 1)
    change = (math.exp(mean_log) - 1.0) * 100.0
    res = dict(baseline_median=median(base), candidate_median=median(cand),
               n_baseline=n, n_candidate=n)
    moved = _moved(metric, change)
    how = f"{format_p(p)}, {n} alternating pairs, paired t-test"
    if p < alpha and abs(change) >= threshold_pct and change != 0:
        return Comparison(_direction(change, higher_is_better), change, METHOD_PAIRED, p, None,
                          f"{moved} ({how})", **res)
    why = (f"{moved} ({how}): below the {threshold_pct:g}% threshold" if p < alpha
           else f"{moved} but {how}: within noise")
    return Comparison(NO_CHANGE, change, METHOD_PAIRED, p, None, why, **res)


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the order given.

    A run compares many endpoints at once; at alpha 0.05 each, seven
    endpoints that did not change still give about a 30% chance that one is
    called changed. Calling only those whose adjusted p is below alpha keeps
    that chance at alpha when nothing changed (the false discovery rate,
    which then equals the chance of any false call), and costs little
    power when several endpoints moved together. adjusted(i) = min over
    j >= i (in ascending order of p) of p(j) * m / j, capped at 1.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p down
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted

"""Statistics for comparing runs honestly: summaries with confidence intervals and paired tests.

A claim such as "quantum noise improves accuracy" needs several seeds per condition, run in pairs
(same seed, same data order, only the noise source differs), a confidence interval on the mean
difference and a test of it. :func:`summarize` and :func:`compare_paired` do exactly that with
SciPy and say what the numbers support, whatever it is. A comparison knows which direction of
its metric is better (``higher_is_better``), is never called significant with fewer than
:data:`MIN_SEEDS` paired seeds, and reports the t-test as not testable (p-value ``nan``) when
the paired differences have zero variance.

Example:
    >>> a = [0.951, 0.948, 0.953, 0.950, 0.949]
    >>> b = [0.950, 0.949, 0.951, 0.951, 0.948]
    >>> result = compare_paired(a, b, names=("aer", "prng"), metric="test accuracy")
    >>> result.significant
    False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from hybridqml.exceptions import InputError

__all__ = [
    "DEFAULT_CONFIDENCE",
    "MIN_SEEDS",
    "PairedComparison",
    "Summary",
    "compare_paired",
    "holm_adjust",
    "summarize",
]

#: Confidence level of reported intervals.
DEFAULT_CONFIDENCE = 0.95

#: Fewest paired seeds for which a comparison may be called significant.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and a Student-t confidence interval of the mean.

    Attributes:
        n: Number of values.
        mean: Sample mean.
        std: Sample standard deviation (ddof=1; 0 for one value).
        ci_low: Lower end of the confidence interval (``nan`` for one value).
        ci_high: Upper end of the confidence interval (``nan`` for one value).
        confidence: The confidence level.
    """

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    confidence: float = DEFAULT_CONFIDENCE

    def __str__(self) -> str:
        pct = round(self.confidence * 100)
        return (
            f"{self.mean:.4f} ± {self.std:.4f} (n={self.n}, "
            f"{pct}% CI [{self.ci_low:.4f}, {self.ci_high:.4f}])"
        )


@dataclass(frozen=True)
class PairedComparison:
    """A paired comparison of two conditions run with the same seeds.

    Attributes:
        names: Labels of the two conditions (a, b).
        a: Summary of condition a.
        b: Summary of condition b.
        difference: Summary of the per-seed differences a - b (its CI is the CI of the effect).
        t_pvalue: Two-sided paired t-test p-value; ``nan`` when the test is not testable
            because every paired difference is the same (zero variance: the t statistic is
            undefined, whether the differences are all zero or all equal and non-zero).
        wilcoxon_pvalue: Two-sided Wilcoxon signed-rank p-value (``nan`` when all differences
            are zero).
        alpha: Significance level used for :attr:`significant`.
        adjusted_pvalue: The t-test p-value adjusted for multiple comparisons (see
            :func:`holm_adjust`), or ``None`` when this comparison stands alone.
        metric: Name of the measured quantity, used in the conclusion (e.g. ``"test accuracy"``).
        higher_is_better: Direction of the metric: ``True`` for accuracy or coverage, ``False``
            for a distance or a loss.
        min_seeds: Fewest paired seeds for which the comparison may be called significant.
    """

    names: tuple[str, str]
    a: Summary
    b: Summary
    difference: Summary
    t_pvalue: float
    wilcoxon_pvalue: float
    alpha: float
    adjusted_pvalue: float | None = None
    metric: str = "the metric"
    higher_is_better: bool = True
    min_seeds: int = MIN_SEEDS

    @property
    def pvalue(self) -> float:
        """The p-value that decides significance: adjusted when there is one."""
        return self.t_pvalue if self.adjusted_pvalue is None else self.adjusted_pvalue

    @property
    def enough_seeds(self) -> bool:
        """True when there are at least :attr:`min_seeds` paired seeds."""
        return self.difference.n >= self.min_seeds

    @property
    def testable(self) -> bool:
        """True when the paired t-test is defined (the differences are not all equal)."""
        return not math.isnan(self.t_pvalue)

    @property
    def significant(self) -> bool:
        """True when the paired t-test (adjusted if applicable) rejects "no difference".

        Never true with fewer than :attr:`min_seeds` seeds or when the test is not testable.
        """
        if not (self.enough_seeds and self.testable):
            return False
        return bool(self.pvalue < self.alpha)

    @property
    def status(self) -> str:
        """``"too few seeds"``, ``"not testable"``, ``"significant"`` or ``"not significant"``."""
        if not self.enough_seeds:
            return "too few seeds"
        if not self.testable:
            return "not testable"
        return "significant" if self.significant else "not significant"

    @property
    def better(self) -> str | None:
        """The condition whose mean is better in the metric's direction (``None`` on a tie)."""
        d = self.difference.mean
        if d == 0:
            return None
        a_ahead = d > 0 if self.higher_is_better else d < 0
        return self.names[0] if a_ahead else self.names[1]

    def conclusion(self) -> str:
        """One sentence stating what the numbers support."""
        a, b = self.names
        d = self.difference
        pct = round(d.confidence * 100)
        direction = "higher" if self.higher_is_better else "lower"
        on = f"on {self.metric} ({direction} is better)"
        seeds = f"n={d.n} seeds"
        interval = (
            f"mean difference {a} - {b} {d.mean:+.4f}, "
            f"{pct}% CI [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        )
        if self.testable:
            test = f"paired t-test p={self.t_pvalue:.3g}"
            if self.adjusted_pvalue is not None:
                test += f", Holm-adjusted p={_format_p(self.adjusted_pvalue)}"
        else:
            test = "paired t-test not testable: the differences have zero variance"
            if not math.isnan(self.wilcoxon_pvalue):
                test += f"; Wilcoxon p={self.wilcoxon_pvalue:.3g}"
        if not self.enough_seeds:
            return (
                f"Too few seeds to test {a} against {b} {on}: {seeds}, at least "
                f"{self.min_seeds} needed ({interval}; {test}); not called significant."
            )
        if not self.testable:
            if d.mean == 0:
                return (
                    f"No difference between {a} and {b} {on}: identical on every seed, so the "
                    f"paired t-test is not testable ({seeds})."
                )
            return (
                f"Not testable {on}: {a} - {b} is {d.mean:+.4f} on every seed, so the paired "
                f"t-test is undefined (zero variance of the differences); not called "
                f"significant (Wilcoxon p={self.wilcoxon_pvalue:.3g}, {seeds})."
            )
        if self.significant:
            worse = b if self.better == a else a
            return f"{self.better} is better than {worse} {on} ({interval}; {test}, {seeds})."
        return f"No significant difference between {a} and {b} {on} ({interval}; {test}, {seeds})."


def _format_p(p: float) -> str:
    return "not testable" if math.isnan(p) else f"{p:.3g}"


def _values(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be a non-empty 1-D sequence of numbers")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    return arr


def summarize(
    values: Sequence[float] | np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE
) -> Summary:
    """Summarize values with a Student-t confidence interval of the mean.

    Args:
        values: The measurements (e.g. one accuracy per seed).
        confidence: Confidence level of the interval.

    Raises:
        InputError: empty input or non-finite values.

    Example:
        >>> s = summarize([1.0, 2.0, 3.0])
        >>> (s.mean, round(s.ci_low, 3), round(s.ci_high, 3))
        (2.0, -0.484, 4.484)
    """
    arr = _values(values, "values")
    n = arr.size
    mean = float(arr.mean())
    if n == 1:
        return Summary(1, mean, 0.0, math.nan, math.nan, confidence)
    std = float(arr.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, confidence)


def compare_paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    names: tuple[str, str] = ("a", "b"),
    metric: str = "the metric",
    higher_is_better: bool = True,
    alpha: float = 0.05,
    confidence: float = DEFAULT_CONFIDENCE,
    min_seeds: int = MIN_SEEDS,
) -> PairedComparison:
    """Compare two conditions measured on the same seeds.

    The paired t-test is reported as not testable (p-value ``nan``) when every per-seed
    difference is the same up to floating-point rounding: its statistic is then 0/0 or x/0, not
    evidence. With fewer than ``min_seeds`` seeds the p-value is still reported, but the
    comparison is never called significant.

    Args:
        a: Measurements of condition a, one per seed.
        b: Measurements of condition b, same seeds in the same order.
        names: Labels used in the conclusion.
        metric: Name of the measured quantity, used in the conclusion.
        higher_is_better: Direction of the metric (``False`` for a distance or a loss).
        alpha: Significance level.
        confidence: Confidence level of the intervals.
        min_seeds: Fewest paired seeds for which the comparison may be called significant.

    Raises:
        InputError: different lengths, fewer than two pairs, non-finite values, or
            ``min_seeds`` below 2.

    Example:
        >>> c = compare_paired([12.0, 11.0, 13.0], [11.0, 10.0, 12.0], names=("aer", "prng"),
        ...                    metric="Fréchet distance", higher_is_better=False)
        >>> math.isnan(c.t_pvalue), c.significant, c.better
        (True, False, 'prng')
    """
    arr_a, arr_b = _values(a, "a"), _values(b, "b")
    if arr_a.size != arr_b.size:
        raise InputError(f"paired samples need equal lengths, got {arr_a.size} and {arr_b.size}")
    if arr_a.size < 2:
        raise InputError("a paired comparison needs at least two seeds")
    if min_seeds < 2:
        raise InputError(f"min_seeds must be at least 2, got {min_seeds}")
    diff = arr_a - arr_b
    scale = max(float(np.abs(arr_a).max()), float(np.abs(arr_b).max()))
    if np.ptp(diff) <= 16 * np.finfo(float).eps * scale:
        # the differences are all equal (up to the rounding of a - b): zero variance, so the
        # t statistic is undefined; scipy would return p=0 (or nan) and a precision warning
        t_p = math.nan
    else:
        t_p = float(stats.ttest_rel(arr_a, arr_b).pvalue)
    w_p = math.nan if np.all(diff == 0) else float(stats.wilcoxon(diff).pvalue)
    return PairedComparison(
        names=names,
        a=summarize(arr_a, confidence=confidence),
        b=summarize(arr_b, confidence=confidence),
        difference=summarize(diff, confidence=confidence),
        t_pvalue=t_p,
        wilcoxon_pvalue=w_p,
        alpha=alpha,
        metric=metric,
        higher_is_better=higher_is_better,
        min_seeds=min_seeds,
    )


def holm_adjust(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values for a family of tests.

    Testing several pairs at 5% each finds a "significant" difference by chance far more often
    than 5% of the time; comparing the adjusted p-values with ``alpha`` keeps the chance of any
    false positive in the family at or below ``alpha`` (Holm, Scand. J. Statist. 6, 65 (1979)).

    A ``nan`` p-value (a test that was not testable) stays ``nan`` and is not counted in the
    family: the others are adjusted as a family of the remaining tests.

    Args:
        pvalues: The family's raw p-values (``nan`` for tests that could not be run).

    Returns:
        Adjusted p-values, in the input order.

    Example:
        >>> [round(p, 3) for p in holm_adjust([0.01, 0.04, 0.03])]
        [0.03, 0.06, 0.06]
        >>> [round(p, 3) for p in holm_adjust([0.01, float("nan"), 0.04, 0.03])]
        [0.03, nan, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    out = np.full(p.size, math.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    if m:
        order = tested[np.argsort(p[tested])]
        out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out.tolist()

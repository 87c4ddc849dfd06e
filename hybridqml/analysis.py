"""Statistics for comparing runs honestly: summaries with confidence intervals and paired tests.

A claim such as "quantum noise improves accuracy" needs several seeds per condition, run in pairs
(same seed, same data order, only the noise source differs), a confidence interval on the mean
difference and a test of it. :func:`summarize` and :func:`compare_paired` do exactly that with
SciPy and say what the numbers support, whatever it is.

Example:
    >>> a = [0.951, 0.948, 0.953, 0.950, 0.949]
    >>> b = [0.950, 0.949, 0.951, 0.951, 0.948]
    >>> result = compare_paired(a, b, names=("aer", "prng"))
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
    "PairedComparison",
    "Summary",
    "compare_paired",
    "holm_adjust",
    "summarize",
]

#: Confidence level of reported intervals.
DEFAULT_CONFIDENCE = 0.95


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
        t_pvalue: Two-sided paired t-test p-value.
        wilcoxon_pvalue: Two-sided Wilcoxon signed-rank p-value (``nan`` when all differences
            are zero).
        alpha: Significance level used for :attr:`significant`.
        adjusted_pvalue: The t-test p-value adjusted for multiple comparisons (see
            :func:`holm_adjust`), or ``None`` when this comparison stands alone.
    """

    names: tuple[str, str]
    a: Summary
    b: Summary
    difference: Summary
    t_pvalue: float
    wilcoxon_pvalue: float
    alpha: float
    adjusted_pvalue: float | None = None

    @property
    def pvalue(self) -> float:
        """The p-value that decides significance: adjusted when there is one."""
        return self.t_pvalue if self.adjusted_pvalue is None else self.adjusted_pvalue

    @property
    def significant(self) -> bool:
        """True when the paired t-test (adjusted if applicable) rejects "no difference"."""
        return bool(self.pvalue < self.alpha)

    def conclusion(self) -> str:
        """One sentence stating what the numbers support."""
        a, b = self.names
        d = self.difference
        pct = round(d.confidence * 100)
        interval = f"mean difference {d.mean:+.4f}, {pct}% CI [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        test = f"paired t-test p={self.t_pvalue:.3g}"
        if self.adjusted_pvalue is not None:
            test += f", Holm-adjusted p={self.adjusted_pvalue:.3g}"
        if self.significant:
            better = a if d.mean > 0 else b
            return f"{better} scores higher ({interval}; {test}, n={d.n} seeds)."
        return f"No significant difference between {a} and {b} ({interval}; {test}, n={d.n} seeds)."


def _values(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be a non-empty 1-D sequence of numbers")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    return arr


def summarize(values: Sequence[float], *, confidence: float = DEFAULT_CONFIDENCE) -> Summary:
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
    alpha: float = 0.05,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedComparison:
    """Compare two conditions measured on the same seeds.

    Args:
        a: Measurements of condition a, one per seed.
        b: Measurements of condition b, same seeds in the same order.
        names: Labels used in the conclusion.
        alpha: Significance level.
        confidence: Confidence level of the intervals.

    Raises:
        InputError: different lengths, fewer than two pairs, or non-finite values.
    """
    arr_a, arr_b = _values(a, "a"), _values(b, "b")
    if arr_a.size != arr_b.size:
        raise InputError(f"paired samples need equal lengths, got {arr_a.size} and {arr_b.size}")
    if arr_a.size < 2:
        raise InputError("a paired comparison needs at least two seeds")
    diff = arr_a - arr_b
    if np.all(diff == diff[0]):
        # constant differences: the t statistic is undefined (zero variance)
        t_p = 1.0 if diff[0] == 0 else 0.0
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
    )


def holm_adjust(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values for a family of tests.

    Testing several pairs at 5% each finds a "significant" difference by chance far more often
    than 5% of the time; comparing the adjusted p-values with ``alpha`` keeps the chance of any
    false positive in the family at or below ``alpha`` (Holm, Scand. J. Statist. 6, 65 (1979)).

    Args:
        pvalues: The family's raw p-values.

    Returns:
        Adjusted p-values, in the input order.

    Example:
        >>> [round(p, 3) for p in holm_adjust([0.01, 0.04, 0.03])]
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()

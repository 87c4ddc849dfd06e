import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from hybridqml.analysis import compare_paired, holm_adjust, summarize
from hybridqml.exceptions import InputError


def test_summary_matches_textbook_t_interval():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    half = stats.t.ppf(0.975, 3) * np.std([1, 2, 3, 4], ddof=1) / 2
    assert s.mean == 2.5
    assert s.ci_low == pytest.approx(2.5 - half)
    assert s.ci_high == pytest.approx(2.5 + half)
    assert "n=4" in str(s)


def test_single_value_has_no_interval():
    s = summarize([0.9])
    assert s.std == 0 and math.isnan(s.ci_low)


def test_interval_coverage_is_about_95_percent():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        s = summarize(rng.normal(1.0, 2.0, size=6))
        hits += s.ci_low <= 1.0 <= s.ci_high
    assert 0.93 < hits / 2000 < 0.97


def test_paired_detects_a_real_difference():
    rng = np.random.default_rng(1)
    base = rng.normal(0.9, 0.02, size=8)
    result = compare_paired(base + 0.01 + rng.normal(0, 0.001, 8), base, names=("x", "y"))
    assert result.significant
    assert result.difference.ci_low > 0
    assert result.conclusion().startswith("x is better than y on the metric (higher is better)")


def test_paired_reports_no_difference_when_there_is_none():
    rng = np.random.default_rng(2)
    base = rng.normal(0.9, 0.02, size=8)
    result = compare_paired(base + rng.normal(0, 0.003, 8), base + rng.normal(0, 0.003, 8))
    assert not result.significant
    assert result.difference.ci_low < 0 < result.difference.ci_high
    assert result.conclusion().startswith("No significant difference")


def test_pairing_matters():
    # large seed-to-seed spread, small consistent effect: paired test sees it, unpaired would not
    base = np.array([0.80, 0.90, 0.85, 0.95, 0.70, 0.88])
    shifted = base + 0.005 + np.array([0, 1, -1, 2, -2, 0]) * 1e-4
    result = compare_paired(shifted, base)
    assert result.t_pvalue < 1e-5 and result.significant
    assert stats.ttest_ind(shifted, base).pvalue > 0.5


def test_identical_conditions_are_not_testable():
    result = compare_paired([0.5, 0.6, 0.7], [0.5, 0.6, 0.7], names=("x", "y"))
    assert math.isnan(result.t_pvalue) and math.isnan(result.wilcoxon_pvalue)
    assert not result.significant and result.status == "not testable"
    assert result.conclusion().startswith("No difference between x and y")
    assert "identical on every seed" in result.conclusion()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.75, 0.5, 0.875, 0.625, 0.25], [0.5, 0.25, 0.625, 0.375, 0.0]),  # exactly +0.25
        ([0.3, 0.7, 1.1], [0.1, 0.5, 0.9]),  # +0.2 up to the rounding of a - b
    ],
)
def test_zero_variance_differences_are_not_testable(a, b):
    # every seed moves by the same amount: t = d / 0 is undefined, not "p = 0, significant"
    result = compare_paired(a, b, names=("prng", "aer"), metric="test accuracy")
    assert math.isnan(result.t_pvalue)
    assert not result.testable and not result.significant
    assert result.status == "not testable"
    text = result.conclusion()
    assert text.startswith("Not testable on test accuracy (higher is better): prng - aer is +0.2")
    assert "not called significant" in text and "t-test p=" not in text


def test_two_seeds_are_too_few_to_call_significant():
    # a large, consistent effect on two seeds: the t-test (1 degree of freedom) gives p < 0.01
    a, b = [1.0, 2.01], [0.0, 1.0]
    result = compare_paired(a, b, names=("x", "y"))
    assert result.t_pvalue < 0.01
    assert not result.significant and result.status == "too few seeds"
    assert result.conclusion().startswith("Too few seeds to test x against y")
    assert "at least 3 needed" in result.conclusion()
    # the same effect on a third seed may be called significant
    assert compare_paired([*a, 3.02], [*b, 2.0]).significant


def test_the_audited_two_seed_quick_run_is_not_significant():
    # a quick run: 2 seeds, equal non-zero differences, adjusted in a family with a nan
    c = compare_paired([0.9, 0.8], [0.8, 0.7], names=("prng", "os"), metric="test accuracy")
    adjusted = holm_adjust([c.t_pvalue, 0.5])
    c = dataclasses.replace(c, adjusted_pvalue=adjusted[0])
    assert math.isnan(c.t_pvalue) and math.isnan(c.pvalue) and adjusted[1] == 0.5
    assert not c.significant and c.status == "too few seeds"
    text = c.conclusion()
    assert "not testable" in text and "not called significant" in text
    assert "t-test p=" not in text and " is better than " not in text


def test_lower_is_better_metric_names_the_lower_condition_better():
    rng = np.random.default_rng(4)
    base = rng.normal(30.0, 3.0, size=8)
    fd_aer = base - 2.0 + rng.normal(0, 0.1, 8)  # lower Fréchet distance: aer is better
    result = compare_paired(
        fd_aer, base, names=("aer", "prng"), metric="Fréchet distance", higher_is_better=False
    )
    assert result.significant and result.better == "aer"
    assert result.conclusion().startswith(
        "aer is better than prng on Fréchet distance (lower is better)"
    )
    flipped = compare_paired(base, fd_aer, names=("prng", "aer"), higher_is_better=False)
    assert flipped.better == "aer"
    assert flipped.conclusion().startswith("aer is better than prng")
    assert compare_paired(fd_aer, base, names=("aer", "prng")).better == "prng"


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1.0, 2.0], [1.0], "equal lengths"),
        ([1.0], [1.0], "at least two"),
        ([1.0, float("nan")], [1.0, 2.0], "NaN"),
        ([], [], "non-empty"),
    ],
)
def test_bad_input(a, b, message):
    with pytest.raises(InputError, match=message):
        compare_paired(a, b)


def test_min_seeds_below_two_is_refused():
    with pytest.raises(InputError, match="min_seeds"):
        compare_paired([1.0, 2.0], [0.0, 0.5], min_seeds=1)


def test_holm_controls_the_family_wise_error():
    rng = np.random.default_rng(3)
    raw_hits = holm_hits = 0
    for _ in range(400):
        p = rng.uniform(size=6)  # six true null hypotheses
        raw_hits += bool((p < 0.05).any())
        holm_hits += bool((np.array(holm_adjust(p)) < 0.05).any())
    assert raw_hits / 400 > 0.2  # six raw tests: ~26% chance of a false "significant"
    assert holm_hits / 400 < 0.08


def test_adjusted_pvalue_decides_significance():
    base = np.array([0.80, 0.90, 0.85, 0.95, 0.70, 0.88])
    c = compare_paired(base + 0.01 + np.array([0, 1, -1, 2, -2, 0]) * 1e-3, base)
    assert c.significant
    adjusted = dataclasses.replace(c, adjusted_pvalue=0.2)
    assert not adjusted.significant
    assert "Holm-adjusted p=0.2" in adjusted.conclusion()


def test_holm_leaves_nan_and_adjusts_the_rest_as_their_own_family():
    got = holm_adjust([0.01, math.nan, 0.04, math.nan, 0.03])
    assert math.isnan(got[1]) and math.isnan(got[3])
    # three tested p-values: the family size is 3, not 5
    assert [got[0], got[2], got[4]] == pytest.approx(holm_adjust([0.01, 0.04, 0.03]))
    assert [got[0], got[2], got[4]] == pytest.approx([0.03, 0.06, 0.06])
    assert all(math.isnan(p) for p in holm_adjust([math.nan, math.nan]))
    assert holm_adjust([]) == []


def test_nan_adjusted_pvalue_is_never_significant():
    base = np.array([0.80, 0.90, 0.85, 0.95, 0.70, 0.88])
    c = compare_paired(base + 0.01 + np.array([0, 1, -1, 2, -2, 0]) * 1e-3, base)
    adjusted = dataclasses.replace(c, adjusted_pvalue=math.nan)
    assert c.significant and not adjusted.significant
    assert "Holm-adjusted p=not testable" in adjusted.conclusion()

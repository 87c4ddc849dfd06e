import math

import numpy as np
import pytest
from scipy import stats

from hybridqml.analysis import compare_paired, summarize
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
    assert result.conclusion().startswith("x scores higher")


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
    result = compare_paired(base + 0.005, base)
    assert result.t_pvalue == 0.0 and result.significant
    assert stats.ttest_ind(base + 0.005, base).pvalue > 0.5


def test_identical_conditions():
    result = compare_paired([0.5, 0.6], [0.5, 0.6])
    assert result.t_pvalue == 1.0 and math.isnan(result.wilcoxon_pvalue)


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


def test_holm_controls_the_family_wise_error():
    from hybridqml.analysis import holm_adjust

    rng = np.random.default_rng(3)
    raw_hits = holm_hits = 0
    for _ in range(400):
        p = rng.uniform(size=6)  # six true null hypotheses
        raw_hits += bool((p < 0.05).any())
        holm_hits += bool((np.array(holm_adjust(p)) < 0.05).any())
    assert raw_hits / 400 > 0.2  # six raw tests: ~26% chance of a false "significant"
    assert holm_hits / 400 < 0.08


def test_adjusted_pvalue_decides_significance():
    import dataclasses

    base = np.array([0.80, 0.90, 0.85, 0.95, 0.70, 0.88])
    c = compare_paired(base + 0.01 + np.array([0, 1, -1, 2, -2, 0]) * 1e-3, base)
    assert c.significant
    adjusted = dataclasses.replace(c, adjusted_pvalue=0.2)
    assert not adjusted.significant
    assert "Holm-adjusted p=0.2" in adjusted.conclusion()

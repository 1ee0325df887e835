"""lmm.fdr against R's qvalue 2.30.0 and smooth.spline (R 4.2.2): the tables in
tests/reference/qvalue/ (made by make_qvalue_reference.R there), to REF_TOL; and properties:
Benjamini-Hochberg (scipy's false_discovery_control) when pi0 = 1, monotone q-values, the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lmm.errors import InputError
from lmm.fdr import DEFAULT_LAMBDAS, pi0est, qvalue, smooth_spline_df

pd = pytest.importorskip("pandas")

REF = Path(__file__).resolve().parents[1] / "reference" / "qvalue"
#: Agreement asked of R's figures (observed: about 1e-12).
REF_TOL = 1e-8
SETS = ["uniform", "mixture_pi0_80", "mixture_pi0_30", "spline_above_one", "ties", "small_m", "with_na",
        "large_formula"]


def _large_formula_pvalues():
    """The m = 20,000 set of make_qvalue_reference.R, from its formula (IEEE products, as in R)."""
    i = np.arange(1, 20001)
    u = (i * 0.6180339887498949) % 1
    return np.where(i % 10 == 0, u * u * u * u * u * u, u)


def _reference_set(name):
    table = pd.read_csv(REF / f"{name}.tsv", sep="\t", na_values=["NA"])
    if name != "large_formula":
        return table["p"].to_numpy(), np.arange(len(table)), table["qvalue"].to_numpy()
    p = _large_formula_pvalues()
    rows = table["index"].to_numpy() - 1
    np.testing.assert_array_equal(p[rows], table["p"].to_numpy())
    return p, rows, table["qvalue"].to_numpy()


@pytest.mark.parametrize("name", SETS)
def test_qvalues_and_pi0_match_r(name):
    p, rows, q_ref = _reference_set(name)
    ref = pd.read_csv(REF / "pi0.tsv", sep="\t", index_col=0).loc[name]
    result = qvalue(p)
    estimate = pi0est(p)
    assert abs(result.pi0 - ref["pi0"]) <= REF_TOL
    assert estimate.pi0 == result.pi0
    np.testing.assert_allclose(estimate.pi0_smooth, ref.iloc[1:].to_numpy(float), rtol=0, atol=REF_TOL)
    q = result.qvalues[rows]
    np.testing.assert_array_equal(np.isnan(q), np.isnan(q_ref))
    np.testing.assert_allclose(q[~np.isnan(q)], q_ref[~np.isnan(q_ref)], rtol=0, atol=REF_TOL)


def test_reference_sets_cover_the_cases():
    """The sets hold what they are named for: a smoothed pi0 above 1 (capped), ties, NaN, small m."""
    pi0 = pd.read_csv(REF / "pi0.tsv", sep="\t", index_col=0)
    assert pi0.loc["spline_above_one", "smooth_0.95"] > 1 and pi0.loc["spline_above_one", "pi0"] == 1
    assert 0.3 < pi0.loc["mixture_pi0_30", "pi0"] < 0.6 < pi0.loc["mixture_pi0_80", "pi0"] < 0.9
    ties, _, _ = _reference_set("ties")
    assert np.unique(ties).size < ties.size / 2
    with_na, _, q_na = _reference_set("with_na")
    assert np.isnan(with_na).sum() == 3 and np.isnan(q_na).sum() == 3
    assert _reference_set("small_m")[0].size == 10


def test_smooth_spline_matches_r():
    table = pd.read_csv(REF / "smooth_spline.tsv", sep="\t")
    for _, case in table.groupby("case"):
        fit = smooth_spline_df(case["x"], case["y"], 3)
        np.testing.assert_allclose(fit.fitted, case["fitted"], rtol=0, atol=REF_TOL)
        assert abs(fit.spar - case["spar"].iloc[0]) <= REF_TOL
        assert abs(fit.lam / case["lambda"].iloc[0] - 1) <= REF_TOL
        assert abs(fit.df - case["df"].iloc[0]) <= REF_TOL


def test_smooth_spline_properties():
    """Degrees of freedom near the target (the search's tolerance); a straight line is kept exactly
    (the penalty ignores it); the fit does not depend on the order of the points."""
    x = np.linspace(0.0, 2.0, 12)
    rng = np.random.default_rng(3)
    y = np.cos(2 * x) + rng.normal(0, 0.1, x.size)
    fit = smooth_spline_df(x, y, 4.0)
    assert abs(fit.df - 4.0) < 1e-2
    line = smooth_spline_df(x, 1.5 - 0.25 * x, 3.0)
    np.testing.assert_allclose(line.fitted, 1.5 - 0.25 * x, atol=1e-10)
    perm = rng.permutation(x.size)
    np.testing.assert_allclose(smooth_spline_df(x[perm], y[perm], 4.0).fitted, fit.fitted[perm], atol=1e-12)


def test_pi0_one_is_benjamini_hochberg():
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(size=300), rng.beta(0.2, 6, size=100)])
    np.testing.assert_allclose(qvalue(p, pi0=1.0).qvalues, stats.false_discovery_control(p), rtol=1e-13)


def test_qvalues_monotone_in_p_and_scaled_by_pi0():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(size=500), rng.beta(0.3, 5, size=200)]).reshape(35, 20)
    result = qvalue(p)
    assert result.qvalues.shape == p.shape and 0 < result.pi0 < 1
    order = np.argsort(p, axis=None)
    assert (np.diff(result.qvalues.ravel()[order]) >= 0).all()
    np.testing.assert_allclose(qvalue(p, pi0=0.5).qvalues, 0.5 * qvalue(p, pi0=1.0).qvalues, rtol=1e-15)


def test_single_lambda():
    p = np.linspace(0.001, 1, 1000)
    estimate = pi0est(p, lambdas=[0.5])
    assert estimate.pi0 == min(np.mean(p >= 0.5) / 0.5, 1.0)
    assert DEFAULT_LAMBDAS.size == 19 and DEFAULT_LAMBDAS[-1] == 0.95


@pytest.mark.parametrize("p, kwargs, match", [
    ([0.1, 1.2, 0.5], {}, r"\[0, 1\].*position 1"),
    ([0.1, 0.2, 0.5, 0.9], {}, "largest p-value .* below the largest lambda"),
    ([0.1, 0.2, 0.99], {"lambdas": [0.1, 0.5, 0.9]}, "one value or at least four"),
    ([np.nan, np.nan], {}, "at least one p-value"),
    ([0.1, 0.5], {"pi0": 0.0}, r"pi0 must lie in \(0, 1\]"),
])
def test_refusals(p, kwargs, match):
    with pytest.raises(InputError, match=match):
        qvalue(p, **kwargs)

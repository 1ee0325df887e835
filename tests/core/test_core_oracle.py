"""An independent oracle for the core: dense likelihoods on the ORIGINAL (unrotated) data.

``calc_ll`` uses lmmlite's constants, so it equals the exact likelihood up to an additive
constant that depends on ``n`` and ``p`` only. Derived in ``tests/_core_data.py`` and checked
here numerically:

* ML:   ``calc_ll(reml=False) = log N(y; Xβ̂, σ̂²V₀) + (n/2)(1 + log(2π/n))``, with β̂ the GLS
  estimate and ``σ̂² = rss/n`` (the ML maximum; lmmlite's *reported* sigmasq is rss/(n−p)).
* REML: ``calc_ll(reml=True) = R + ½((n−p) + n·log(2π/(n−p)))`` where
  ``R = −½(log|V| + log|XᵀV⁻¹X| − log|XᵀX| + rᵀV⁻¹r + (n−p) log 2π)`` at ``V = σ̂²V₀``,
  ``σ̂² = rss/(n−p)``; equivalently ``R = log N(y; Xβ̂, V) + (p/2) log 2π − ½log|XᵀV⁻¹X|
  + ½log|XᵀX|``. (The constant is ``((n−p)/2)(1 + log(2π/(n−p))) + (p/2)·log(2π/(n−p))``;
  the module docstring of lmm/likelihood.py omits the second term.)

``V₀ = hsq·K + (1 − hsq)·I``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import lmm

try:
    from _core_data import (dense_loglik, dense_optimum, gls, ml_constant, random_kinship,
                            random_X, reml_constant, simulate_y)
except ImportError:  # tests/ made a package by someone else
    from tests._core_data import (dense_loglik, dense_optimum, gls, ml_constant, random_kinship,
                                  random_X, reml_constant, simulate_y)


def _mvn_ml(K, y, X, h):
    """Exact ML log-likelihood at (β̂, σ̂² = rss/n) with scipy's dense density."""
    n = len(y)
    V0, beta, _, rss, _ = gls(K, y, X, h)
    return multivariate_normal.logpdf(y, mean=X @ beta, cov=rss / n * V0)


def _mvn_reml(K, y, X, h):
    """Exact restricted log-likelihood at σ̂² = rss/(n−p), from scipy's dense density."""
    n, p = X.shape
    V0, beta, _, rss, _ = gls(K, y, X, h)
    V = rss / (n - p) * V0
    XViX = X.T @ np.linalg.solve(V, X)
    return (multivariate_normal.logpdf(y, mean=X @ beta, cov=V) + 0.5 * p * np.log(2 * np.pi)
            - 0.5 * np.linalg.slogdet(XViX)[1] + 0.5 * np.linalg.slogdet(X.T @ X)[1])


# (seed, n, p, number of exact zero eigenvalues of K)
CASES = [
    (1, 30, 1, 0), (2, 30, 2, 3), (3, 30, 4, 0),
    (4, 80, 1, 5), (5, 80, 3, 0), (6, 80, 2, 0),
    (7, 150, 2, 0), (8, 150, 4, 10), (9, 150, 1, 0),
]


def _case(seed, n, p, n_zero, true_hsq=0.5, m=None):
    rng = np.random.default_rng(seed)
    K = random_kinship(rng, n, n_zero=n_zero)
    X = random_X(rng, n, p)
    y = simulate_y(rng, K, X, true_hsq, m=m)
    return K, X, y


@pytest.mark.parametrize("seed,n,p,n_zero", CASES)
def test_calc_ll_equals_dense_mvn(seed, n, p, n_zero):
    K, X, y = _case(seed, n, p, n_zero)
    rot = lmm.eigen_rotation(K, y, X)
    hsqs = [0.0, 1e-6, 0.3, 0.999999] + ([1.0] if n_zero == 0 else [])
    ll_ml = lmm.calc_ll(np.array(hsqs), rot.kva, rot.y, rot.X, reml=False).loglik
    ll_reml = lmm.calc_ll(np.array(hsqs), rot.kva, rot.y, rot.X, reml=True).loglik
    for i, h in enumerate(hsqs):
        # the conditioning of V₀ grows like 1/(1 − hsq) near 1 with zero eigenvalues
        atol = 1e-7 if (n_zero and h > 0.99) else 1e-9
        ml = _mvn_ml(K, y, X, h)
        reml = _mvn_reml(K, y, X, h)
        # the Cholesky oracle used for the optimum below agrees with scipy's density
        np.testing.assert_allclose(dense_loglik(K, y, X, h, False), ml, rtol=1e-11, atol=atol)
        np.testing.assert_allclose(dense_loglik(K, y, X, h, True), reml, rtol=1e-11, atol=atol)
        np.testing.assert_allclose(ll_ml[i] - ml, ml_constant(n), rtol=0, atol=atol * max(1, abs(ml)),
                                   err_msg=f"ML at hsq={h}")
        np.testing.assert_allclose(ll_reml[i] - reml, reml_constant(n, p), rtol=0,
                                   atol=atol * max(1, abs(reml)), err_msg=f"REML at hsq={h}")
        # scalar path: β̂ and the reported σ̂² = rss/(n − p)
        sc = lmm.calc_ll(h, rot.kva, rot.y, rot.X, reml=True)
        _, beta, _, rss, _ = gls(K, y, X, h)
        np.testing.assert_allclose(sc.loglik, ll_reml[i], rtol=1e-12)
        np.testing.assert_allclose(sc.beta, beta, rtol=1e-7, atol=1e-8 * np.abs(beta).max())
        np.testing.assert_allclose(sc.sigmasq, rss / (n - p), rtol=1e-8)
        np.testing.assert_allclose(sc.rss, rss, rtol=1e-8)


@pytest.mark.parametrize("seed,n,p,n_zero", CASES[:4])
def test_get_ml_soln_equals_dense_gls(seed, n, p, n_zero):
    K, X, y = _case(seed, n, p, n_zero)
    rot = lmm.eigen_rotation(K, y, X)
    for h in (0.0, 0.3, 0.9):
        s = lmm.get_ml_soln(h, rot.kva, rot.y, rot.X, reml=True)
        V0, beta, _, rss, c = gls(K, y, X, h)
        np.testing.assert_allclose(s.beta, beta, rtol=1e-8, atol=1e-9 * np.abs(beta).max())
        np.testing.assert_allclose(s.rss, rss, rtol=1e-9)
        np.testing.assert_allclose(s.sigmasq, rss / (n - p), rtol=1e-9)
        XV0X = X.T @ np.linalg.solve(V0, X)
        np.testing.assert_allclose(s.logdet_xsx, np.linalg.slogdet(XV0X)[1], rtol=1e-9, atol=1e-9)


def test_reml_constant_is_not_the_documented_one():
    """Pin the derived REML constant: it differs from ((n−p)/2)(1 + log(2π/(n−p))) by
    (p/2)·log(2π/(n−p)) — non-zero for p ≥ 1 — so a change of lmmlite's constants shows here."""
    rng = np.random.default_rng(11)
    n, p = 40, 3
    K = random_kinship(rng, n)
    X = random_X(rng, n, p)
    y = simulate_y(rng, K, X, 0.4)
    rot = lmm.eigen_rotation(K, y, X)
    diff = float(lmm.calc_ll(0.4, rot.kva, rot.y, rot.X).loglik) - _mvn_reml(K, y, X, 0.4)
    documented = 0.5 * (n - p) * (1 + np.log(2 * np.pi / (n - p)))
    assert abs(diff - reml_constant(n, p)) < 1e-9
    assert abs(diff - documented - 0.5 * p * np.log(2 * np.pi / (n - p))) < 1e-9


# (seed, n, p, n_zero, true hsq): interior and boundary cases
FIT_CASES = [
    (21, 30, 1, 0, 0.5), (22, 30, 2, 0, 0.0), (23, 30, 3, 0, 1.0),
    (24, 80, 2, 0, 0.3), (25, 80, 1, 4, 0.02), (26, 80, 4, 0, 0.98),
    (27, 150, 2, 0, 0.6), (28, 150, 3, 6, 0.0), (29, 150, 1, 0, 1.0),
]


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("seed,n,p,n_zero,true_hsq", FIT_CASES)
def test_fit_matches_dense_optimiser(seed, n, p, n_zero, true_hsq, reml):
    K, X, y = _case(seed, n, p, n_zero, true_hsq)
    rot = lmm.eigen_rotation(K, y, X)
    h_star, ll_star = dense_optimum(K, y, X, reml)
    const = reml_constant(n, p) if reml else ml_constant(n)

    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml)  # default tol = 1e-4
    ll_fit = fit.loglik - const
    assert abs(fit.hsq - h_star) <= 1e-4, (fit.hsq, h_star)
    assert ll_fit <= ll_star + 1e-9          # nobody beats the true maximum
    assert ll_fit >= ll_star - 1e-6          # default tol: within 1e-6 of it
    # the reported loglik is the likelihood at the reported hsq
    np.testing.assert_allclose(ll_fit, dense_loglik(K, y, X, fit.hsq, reml), rtol=0, atol=1e-8)

    tight = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, tol=1e-8)
    assert abs(tight.hsq - h_star) <= 1e-5, (tight.hsq, h_star)
    assert abs((tight.loglik - const) - ll_star) <= 1e-7
    if h_star in (0.0, 1.0):
        assert tight.hsq == h_star and fit.hsq == h_star
        assert fit.boundary == ("lower" if h_star == 0.0 else "upper")
    else:
        assert fit.boundary == "none"
    # β̂ and σ̂² at the estimate are the dense GLS ones
    _, beta, _, rss, _ = gls(K, y, X, fit.hsq)
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-7, atol=1e-8 * np.abs(beta).max())
    np.testing.assert_allclose(fit.sigmasq, rss / (n - p), rtol=1e-8)


def test_fit_cases_cover_both_boundaries():
    """The FIT_CASES above really exercise interior, lower and upper optima (ML and REML)."""
    seen = set()
    for seed, n, p, n_zero, true_hsq in FIT_CASES:
        K, X, y = _case(seed, n, p, n_zero, true_hsq)
        rot = lmm.eigen_rotation(K, y, X)
        for reml in (False, True):
            seen.add(str(lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_ci=False).boundary))
    assert seen == {"none", "lower", "upper"}, seen


# ---------------------------------------------------------------------------------------------
# ill-conditioned weights: hsq = 1 with an eigenvalue at round-off level

# kva[0] = 1e-16 is what eigen_decompose leaves for a rank-deficient K when round-off makes the
# eigenvalue positive (only negative ones are clipped). X explains y in that direction.
ILL_KVA = np.array([1e-16, 2.138303, 2.545490, 2.527697, 0.458595, 1.318253])
ILL_Y = np.array([2.0, 0.93426138, -1.30481346, 2.23895768, -1.13942214, -0.70512106])
ILL_X = np.array([[1.0], [0.46729], [-0.651653], [1.118623], [-0.569248], [-0.352729]])
# ℓ_ML(1) for exactly these numbers, by mpmath at 60 digits (a = kva at hsq = 1):
# β̂ = 2.000000000000000000213, rss = 4.05577952875337696e-6, ℓ = 54.60760176138011523
ILL_LL1_ML = 54.60760176138011523
ILL_RSS1 = 4.05577952875337696e-6


def test_near_singular_weights_calc_ll_accurate():
    """rss must not be formed by cancelling 1/λ-sized terms (ySy − bᵀM⁻¹b): with weights up
    to 1e16 that loses every digit. Weighted residuals give ~12 digits here. (kva[0] = 1e-16 is
    below the one zero-eigenvalue rule, n·ε·λ_max, so it is given here as 1e-16 · 50: above it.)"""
    kva = ILL_KVA.copy()
    kva[0] = 5e-15
    ll = lmm.calc_ll(np.array([0.5, 1.0 - 1e-12]), kva, ILL_Y, ILL_X, reml=False)
    assert np.all(np.isfinite(ll.loglik)) and np.all(ll.rss > 0)
    # a round-off eigenvalue counts as zero; X spans the null direction, so the ML likelihood
    # is unbounded at hsq = 1 (ℓ ≈ −(z/2) log(1 − hsq)): +inf, not a number from cancellation
    assert lmm.calc_ll(1.0, ILL_KVA, ILL_Y, ILL_X, reml=False).loglik == np.inf
    assert ll.loglik[1] > ll.loglik[0]


def test_near_singular_weights_fit_is_sane():
    """fit_lmm must not report a finite loglik with σ̂² ≤ 0 at hsq = 1 (it picked hsq = 1 from a
    boundary value computed with rss ≤ 0 by cancellation): the likelihood is unbounded there
    and says so."""
    fit = lmm.fit_lmm(ILL_KVA, ILL_Y, ILL_X, reml=False)
    assert fit.status == "unbounded" and fit.hsq == 1.0 and fit.boundary == "upper", fit
    assert np.isnan(fit.hsq_ci_lower) and np.isnan(fit.ci_cutoff)
    reml = lmm.fit_lmm(ILL_KVA, ILL_Y, ILL_X, reml=True)   # REML: z = rank(Q_Z): finite limit
    assert reml.status == "ok" and np.isfinite(reml.loglik) and reml.sigmasq > 0


def test_phenotype_explained_exactly_calc_ll_not_nan():
    """calc_ll / get_ml_soln on a phenotype the covariates explain exactly: rss is 0 up to
    round-off and may come out negative, so log(rss) is NaN. fit_lmm raises an InputError for
    such a column; calc_ll and get_ml_soln must raise the same or return no NaN."""
    K = np.array([[1.0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1]])
    rot = lmm.eigen_rotation(K, np.array([1.0, 0, 0, 0]), np.array([[1.0], [0], [0], [0]]))
    grid = np.linspace(0.0, 0.9, 10)
    for reml in (False, True):
        try:
            ll = lmm.calc_ll(grid, rot.kva, rot.y, rot.X, reml=reml)
        except lmm.InputError as exc:
            assert "explained exactly" in str(exc)
        else:
            assert not np.any(np.isnan(ll.loglik)), ll.loglik
            assert np.all(np.asarray(ll.sigmasq) >= 0), ll.sigmasq
    with pytest.raises(lmm.InputError, match="explained exactly"):
        lmm.fit_lmm(rot.kva, rot.y, rot.X)

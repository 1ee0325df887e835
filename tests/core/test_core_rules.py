"""Issue 9's core items: units, one rule per check, fits that are not estimates.

Oracles: the dense likelihood of tests/_core_data.py (no rotation) and scipy's
multivariate normal density with a singular covariance.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import lmm
from lmm.checks import explained_columns, rank_deficient_columns

try:
    from _core_data import PHENO1, dense_loglik, random_kinship, random_X, recla, recla_decomposition, simulate_y
except ImportError:  # tests/ made a package by someone else
    from tests._core_data import (PHENO1, dense_loglik, random_kinship, random_X, recla,
                                  recla_decomposition, simulate_y)


def _recla_arrays():
    K, pheno, covar = recla()
    return K.to_numpy(), pheno, covar[["intercept", "sex"]].to_numpy(dtype=float)


# ---------------------------------------------------------------------------------------------
# units


#: Where the maximum of ℓ lies is resolved in doubles only to Δh ≈ √(2ε|ℓ|/|ℓ″|) ≈ 2e-7 on
#: recla phenotype 1 (|ℓ| ≈ 2333, ℓ″ ≈ −16): data that differ by one rounding (y·3.7 against y)
#: agree to that; data that are exact rescalings (c a power of two) agree to 1e-9 (bit for bit).
RESOLUTION = 1e-6


@pytest.mark.parametrize("c", [2.0 ** -664, 2.0 ** -40, 2.0 ** 40, 2.0 ** 664,
                               1e-200, 1e-100, 1e-10, 3.7, 1e10, 1e100, 1e200])
def test_hsq_does_not_depend_on_the_units_of_y(c):
    K, pheno, X = _recla_arrays()
    y = pheno[PHENO1].to_numpy()
    rot = recla_decomposition().rotate(np.column_stack([y, y * c]), X)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, tol=1e-12)
    # σ² ∝ c² leaves float64 for |log10 c| ≳ 150: reported for y·2^−k, with a status saying so
    k = int(fit.y_scale_log2[1])
    out = abs(np.log10(c)) > 150
    assert fit.status[0] == "ok" and fit.y_scale_log2[0] == 0
    assert fit.status[1] == ("ok" if not out else "scale_overflow" if c > 1 else "scale_underflow")
    assert (k != 0) == out
    assert np.isfinite(fit.sigmasq).all() and np.isfinite(fit.beta).all()
    exact = np.frexp(c)[0] == 0.5
    assert abs(fit.hsq[1] - fit.hsq[0]) <= (1e-9 if exact else RESOLUTION)
    c_k = np.ldexp(c, -k)                       # the data of column 1 are y·c = (y·c_k)·2^k
    np.testing.assert_allclose(fit.beta[:, 1], fit.beta[:, 0] * c_k, rtol=1e-12 if exact else 1e-5)
    np.testing.assert_allclose(fit.sigmasq[1], fit.sigmasq[0] * c_k ** 2, rtol=1e-12 if exact else 1e-5)
    # REML: ℓ(y·c) = ℓ(y) − (n − p)·log c
    np.testing.assert_allclose(fit.loglik[1], fit.loglik[0] - (261 - 2) * np.log(c), rtol=1e-11)
    ml = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=False, tol=1e-12)
    np.testing.assert_allclose(ml.loglik[1], ml.loglik[0] - 261 * np.log(c), rtol=1e-11)


@pytest.mark.parametrize("c", [1e-150, 1e-8, 1e8, 1e150])
def test_hsq_does_not_depend_on_the_units_of_a_covariate(c):
    K, pheno, X = _recla_arrays()
    y = pheno[PHENO1].to_numpy()
    dec = recla_decomposition()
    a = dec.rotate(y, X)
    b = dec.rotate(y, X * np.array([1.0, c]))
    fa = lmm.fit_lmm(a.kva, a.y, a.X, tol=1e-12)
    fb = lmm.fit_lmm(b.kva, b.y, b.X, tol=1e-12)
    assert abs(fa.hsq - fb.hsq) <= RESOLUTION
    np.testing.assert_allclose(fb.beta[1] * c, fa.beta[1], rtol=1e-5)


@pytest.mark.parametrize("offset", [1e3, 1e6, 1e9, 1e12])
def test_hsq_does_not_depend_on_an_offset_of_y(offset):
    """``y + c`` against ``(y + c) − c`` (the data doubles can hold), on the masked path, which
    takes unrotated data (one value missing) and removes the offset exactly."""
    K, pheno, X = _recla_arrays()
    y = pheno[PHENO1].to_numpy().copy()
    y[5] = np.nan
    shifted = y + offset
    back = shifted - offset
    dec = recla_decomposition()
    fit = lmm.fit_lmm_masked(dec, np.column_stack([back, shifted]), X, tol=1e-12)
    assert np.all(fit.status == "ok")
    assert abs(fit.hsq[1] - fit.hsq[0]) <= RESOLUTION
    np.testing.assert_allclose(fit.beta[0, 1] - offset, fit.beta[0, 0], rtol=1e-8,
                               atol=max(1e-6, 1e-14 * offset))


# ---------------------------------------------------------------------------------------------
# one rule per check


def test_rank_rule_catches_a_nearly_duplicated_covariate_in_any_units():
    rng = np.random.default_rng(3)
    w = rng.normal(size=80)
    X = np.column_stack([np.ones(80), w, w + 1e-11 * rng.normal(size=80)])
    for c in (1e-200, 1.0, 1e200):
        assert rank_deficient_columns(X * c) == [2]
    with pytest.raises(lmm.InputError, match="column 2 is a linear combination"):
        lmm.eigen_rotation(np.eye(80), rng.normal(size=80), X)
    assert rank_deficient_columns(np.column_stack([np.ones(80), w, rng.normal(size=80)])) == []


def test_explained_rule_is_the_same_in_fit_lmm_fit_lmm_masked_and_the_workflow():
    from lmm.pipeline.batch import explained_by_covariates

    K, pheno, X = _recla_arrays()
    rng = np.random.default_rng(1)
    y = X @ np.array([3.0, 1.0]) * (1 + 1e-15 * rng.normal(size=261))   # explained to round-off
    dec = recla_decomposition()
    rot = dec.rotate(y, X)
    with pytest.raises(lmm.InputError, match="explained exactly"):
        lmm.fit_lmm(rot.kva, rot.y, rot.X)
    y1 = y.copy(); y1[0] = np.nan
    with pytest.raises(lmm.InputError, match="explained exactly"):
        lmm.fit_lmm_masked(dec, y1, X)
    assert explained_by_covariates(y[:, None], X).all()
    assert explained_columns(rot.y[:, None], np.linalg.qr(rot.X)[0]).all()
    # an offset of 1e12 on a phenotype of unit spread is not "explained"
    z = rng.normal(size=261) + 1e12
    assert not explained_by_covariates(z[:, None], X).any()


def test_n_clipped_counts_every_eigenvalue_set_to_zero():
    rng = np.random.default_rng(2)
    G = rng.normal(size=(40, 5))
    dec = lmm.eigen_decompose(G @ G.T)
    assert dec.n_clipped == int(np.sum(dec.kva == 0)) == 35


# ---------------------------------------------------------------------------------------------
# fits that are not estimates


def test_kinship_proportional_to_identity_is_flagged_flat():
    rng = np.random.default_rng(4)
    n = 60
    X = random_X(rng, n, 2)
    y = rng.normal(size=(n, 3))
    for masked in (False, True):
        if masked:
            y2 = y.copy(); y2[0, 1] = np.nan
            fit = lmm.fit_lmm_masked(lmm.eigen_decompose(2.0 * np.eye(n)), y2, X)
        else:
            rot = lmm.eigen_rotation(2.0 * np.eye(n), y, X)
            fit = lmm.fit_lmm(rot.kva, rot.y, rot.X)
        assert list(fit.status) == ["flat_likelihood"] * 3
    K = random_kinship(rng, n)
    rot = lmm.eigen_rotation(K, simulate_y(rng, K, X, 0.5), X)
    assert lmm.fit_lmm(rot.kva, rot.y, rot.X).status == "ok"


def _duplicated_recla():
    """recla with mouse 0 duplicated (identical kinship row; K singular), the copy last."""
    K, pheno, X = _recla_arrays()
    idx = np.r_[np.arange(261), 0]
    return K[np.ix_(idx, idx)], pheno.to_numpy()[idx], X[idx]


def test_singular_kinship_upper_boundary_is_exact_on_the_masked_path():
    """Issue 9: a duplicated mouse made the Schur path give hsq 0.999934 (boundary none) where the
    exact answer is 1 (upper, SE NaN). The copy is missing from the phenotype: K_oo is regular."""
    Kd, P, Xd = _duplicated_recla()
    dec = lmm.eigen_decompose(Kd)
    assert dec.n_clipped == 1
    complete = [j for j in range(P.shape[1]) if not np.isnan(P[:261, j]).any()]
    Y = P[:, complete].copy()
    Y[-1] = np.nan                                      # the copy not observed
    fit = lmm.fit_lmm_masked(dec, Y, Xd, compute_se=True)
    K, _, X = _recla_arrays()
    rot = recla_decomposition().rotate(P[:261, complete], X)
    ref = lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True)
    np.testing.assert_allclose(fit.hsq, ref.hsq, atol=1e-9)
    np.testing.assert_allclose(fit.loglik, ref.loglik, rtol=1e-9)
    assert list(fit.boundary) == list(ref.boundary) and (ref.boundary == "upper").sum() >= 3
    assert np.all(np.isnan(fit.hsq_se[fit.boundary == "upper"]))


def test_unbounded_likelihood_is_flagged_and_matches_the_dense_limit():
    """A phenotype equal on a mouse and its copy: ℓ → +∞ as hsq → 1 (checked on the dense
    likelihood); a different value: ℓ(1) = −∞ and an interior or lower estimate."""
    Kd, P, Xd = _duplicated_recla()
    y_same = P[:, 0].copy()                             # the copy has mouse 0's value
    y_diff = y_same.copy(); y_diff[-1] += 100.0
    rot = lmm.eigen_rotation(Kd, np.column_stack([y_same, y_diff]), Xd)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X)
    assert list(fit.status) == ["unbounded", "ok"]
    assert fit.hsq[0] == 1.0 and fit.boundary[0] == "upper" and fit.loglik[0] == np.inf
    assert fit.hsq[1] < 1.0
    ll = lmm.calc_ll(1.0, rot.kva, rot.y, rot.X)
    assert ll.loglik[0] == np.inf and ll.loglik[1] == -np.inf
    # dense oracle (no rotation): ℓ grows like −½ log(1 − hsq) for the first, falls for the second
    hs = [1 - 1e-4, 1 - 1e-6]
    d_same = [dense_loglik(Kd, y_same, Xd, h, True) for h in hs]
    d_diff = [dense_loglik(Kd, y_diff, Xd, h, True) for h in hs]
    np.testing.assert_allclose(d_same[1] - d_same[0], 0.5 * np.log(100.0), rtol=1e-3)
    assert d_diff[1] < d_diff[0] - 1.0
    # rotated and dense agree near the limit
    np.testing.assert_allclose(lmm.calc_ll(hs[0], rot.kva, rot.y, rot.X).loglik[0]
                               - lmm.calc_ll(0.5, rot.kva, rot.y, rot.X).loglik[0],
                               d_same[0] - dense_loglik(Kd, y_same, Xd, 0.5, True), rtol=1e-6)


def test_finite_reml_limit_at_one_matches_the_singular_density():
    """REML with the covariates spanning K's null space (z = rank Q_Z): ℓ(1) is the finite limit;
    compare with calc_ll just inside and with scipy's density of a singular normal (ML part)."""
    rng = np.random.default_rng(7)
    n = 40
    K = random_kinship(rng, n, n_zero=1)
    dec = lmm.eigen_decompose(K)
    null = dec.kve_t[0]                                   # the null direction of K
    X = np.column_stack([np.ones(n), null + 0.1 * rng.normal(size=n)])
    y = simulate_y(rng, K, X, 0.9)
    rot = dec.rotate(y, X)
    l1 = lmm.calc_ll(1.0, rot.kva, rot.y, rot.X).loglik
    near = lmm.calc_ll(1 - 1e-9, rot.kva, rot.y, rot.X).loglik
    assert np.isfinite(l1)
    np.testing.assert_allclose(l1, near, atol=1e-5)
    # β̂ at hsq = 1 satisfies the constraint: the residual has no null-space component
    b = lmm.calc_ll(1.0, rot.kva, rot.y, rot.X).beta
    assert abs(null @ (y - X @ b)) <= 1e-8 * np.linalg.norm(y)
    # the ML density at (β̂, σ²) on the support is finite: scipy's singular normal agrees it exists
    s2 = float(lmm.calc_ll(1.0, rot.kva, rot.y, rot.X, reml=False).loglik)
    assert s2 == np.inf                                   # ML: unbounded (X spans the null space)
    lp = scipy.stats.multivariate_normal(X @ b, K, allow_singular=True).logpdf(y)
    assert np.isfinite(lp)


def test_ci_cutoff_is_recorded():
    K, pheno, X = _recla_arrays()
    rot = recla_decomposition().rotate(pheno[["OF_distance_first4", "OF_distance",
                                              "OF_center_pct"]].to_numpy(), X)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X)
    assert list(fit.boundary) == ["none", "upper", "lower"]
    np.testing.assert_array_equal(fit.ci_cutoff, [lmm.CHI2_95, lmm.CHI2_MIX_95, lmm.CHI2_MIX_95])
    assert np.all(np.isnan(lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_ci=False).ci_cutoff))


@pytest.mark.parametrize("c, status", [(1e200, "scale_overflow"), (1e-200, "scale_underflow")])
def test_variances_out_of_float64_range_are_reported_scaled_with_a_status(c, status):
    """y·1e±200 has σ² ≈ 1e±400: hsq and ℓ as for y, σ² and β of y·c·2^−k (k reported), all
    finite, and a status saying so (lmm.search, note 7)."""
    K, pheno, X = _recla_arrays()
    y = pheno[PHENO1].to_numpy()
    rot = recla_decomposition().rotate(np.column_stack([y, y * c]), X)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True, polish=True)
    assert fit.status.tolist() == ["ok", status] and status in lmm.STATUSES
    assert abs(fit.hsq[1] - fit.hsq[0]) <= 1e-10
    k = int(fit.y_scale_log2[1])
    assert fit.y_scale_log2[0] == 0 and k == np.frexp(np.max(np.abs(rot.y[:, 1])))[1]
    for name in ("hsq", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "hsq_se", "hsq_ci_lower",
                 "hsq_ci_upper", "beta"):
        assert np.isfinite(getattr(fit, name)).all(), name
    c_k = np.ldexp(c, -k)
    np.testing.assert_allclose(fit.sigmasq[1], fit.sigmasq[0] * c_k ** 2, rtol=1e-9)
    np.testing.assert_allclose(fit.beta[:, 1], fit.beta[:, 0] * c_k, rtol=1e-9)
    np.testing.assert_allclose(fit.loglik[1], fit.loglik[0] - (261 - 2) * np.log(c), rtol=1e-11)
    one = lmm.fit_lmm(rot.kva, rot.y[:, 1], rot.X, polish=True)   # 1-D y: scalars
    assert one.status == status and one.y_scale_log2 == k

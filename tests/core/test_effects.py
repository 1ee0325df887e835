"""lmm.effects (fit1, scan1coef, scan1blup) against dense brute force on seeded random data, and
their properties (zerosum, units, batching, bad input)."""

from __future__ import annotations

import numpy as np
import pytest

import lmm
from lmm.effects import fit1, scan1blup, scan1coef


def _data(seed=1, n=60, q=5, k=4):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 30))
    K = Z @ Z.T / 30
    P = rng.dirichlet(np.full(k, 0.5), size=(n, q))           # (n, q, k), rows sum to one
    sex = rng.integers(0, 2, n).astype(float)
    y = 3.0 + 2.0 * sex + P[:, 2] @ np.array([4.0, -3.0, 1.0, 0.0][:k]) + rng.normal(size=n) + Z[:, 0]
    return K, P, sex, y


def _gls(K, W, y, h):
    """Dense GLS: V = hsq·K + (1 − hsq)·I, whitened by its Cholesky factor, numpy lstsq."""
    L = np.linalg.cholesky(h * K + (1 - h) * np.eye(len(y)))
    Wt, yt = np.linalg.solve(L, W), np.linalg.solve(L, y)
    b, *_ = np.linalg.lstsq(Wt, yt, rcond=None)
    r = yt - Wt @ b
    cov = np.linalg.inv(Wt.T @ Wt) * (r @ r) / (len(y) - W.shape[1])
    return b, cov, r @ r


def test_scan1coef_and_fit1_match_dense_gls():
    K, P, sex, y = _data()
    h = 0.4
    res = scan1coef(P, y, K, sex, se=True, zerosum=False, hsq=h)
    zs = scan1coef(P, y, K, sex, se=True, hsq=h)
    for j in range(P.shape[1]):
        W = np.column_stack([P[:, j], sex])
        b, cov, rss = _gls(K, W, y, h)
        np.testing.assert_allclose(res.coef[j], b, rtol=1e-9)
        np.testing.assert_allclose(res.se[j], np.sqrt(np.diag(cov)), rtol=1e-9)
        f = fit1(P[:, j], y, K, sex, hsq=h, zerosum=False)
        np.testing.assert_allclose(f.coef, b, rtol=1e-9)
        np.testing.assert_allclose(f.se, np.sqrt(np.diag(cov)), rtol=1e-9)
        _, _, rss0 = _gls(K, np.column_stack([np.ones_like(y), sex]), y, h)
        assert f.lod == pytest.approx(len(y) / 2 * np.log10(rss0 / rss), rel=1e-9)
        np.testing.assert_allclose(f.fitted + f.resid, y, rtol=1e-12)
        # zerosum: fit1 transforms the covariance; scan1coef centres only
        k = P.shape[2]
        A = np.zeros((k + 2, k + 1))
        A[:k, :k] = np.eye(k) - 1 / k
        A[k, k] = 1
        A[k + 1, :k] = 1 / k
        fz = fit1(P[:, j], y, K, sex, hsq=h)
        np.testing.assert_allclose(fz.coef, A @ b, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fz.se, np.sqrt(np.diag(A @ cov @ A.T)), rtol=1e-9)
        np.testing.assert_allclose(zs.coef[j], A @ b, rtol=1e-9, atol=1e-12)
        se_u = np.sqrt(np.diag(cov))
        np.testing.assert_allclose(zs.se[j], np.r_[se_u, np.sqrt(np.mean(se_u[:k] ** 2))], rtol=1e-9)
    assert fz.names == ("A", "B", "C", "D", "covar1", "intercept")


def test_scan1blup_matches_dense_mixed_model_equations():
    K, P, sex, y = _data(2)
    h = 0.3
    res = scan1blup(P, y, K, sex, se=True, hsq=h)
    L = np.linalg.cholesky(h * K + (1 - h) * np.eye(len(y)))
    X = np.linalg.solve(L, np.column_stack([np.ones_like(y), sex]))
    yt = np.linalg.solve(L, y)
    n, p = X.shape
    for j in range(P.shape[1]):
        Z = np.linalg.solve(L, P[:, j])
        eta = res.qtl_hsq[j]
        if eta == 0:
            assert np.all(res.coef[j, :4] == 0) and np.all(res.se[j, :4] == 0)
            continue
        # dense V = η ZZᵀ + (1 − η) I: GLS β and BLUP u = η Zᵀ V⁻¹ (y − Xβ)
        V = eta * Z @ Z.T + (1 - eta) * np.eye(n)
        Vi = np.linalg.inv(V)
        beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ yt)
        u = eta * Z.T @ Vi @ (yt - X @ beta)
        np.testing.assert_allclose(res.coef[j], np.r_[u, beta], rtol=1e-8)
        # SEs: σ̂² C⁻¹ of the mixed-model equations (PEV of u, GLS of β)
        tau = eta / (1 - eta)
        W = np.column_stack([X, Z])
        C = W.T @ W
        C[p:, p:] += np.eye(4) / tau
        rhs = W.T @ yt
        sol = np.linalg.solve(C, rhs)
        sig = (yt @ yt - sol @ rhs) / (n - p)
        se = np.sqrt(np.diag(np.linalg.inv(C)) * sig)
        np.testing.assert_allclose(res.se[j], np.r_[se[p:], se[:p]], rtol=1e-8)
    assert res.names == ("A", "B", "C", "D", "intercept", "covar1")


def test_blup_variance_is_the_reml_optimum():
    K, P, sex, y = _data(3)
    h = 0.3
    res = scan1blup(P, y, K, sex, hsq=h)
    L = np.linalg.cholesky(h * K + (1 - h) * np.eye(len(y)))
    X = np.linalg.solve(L, np.column_stack([np.ones_like(y), sex]))
    yt = np.linalg.solve(L, y)

    def nreml(Z, e):
        V = e * Z @ Z.T + (1 - e) * np.eye(len(yt))
        Vi = np.linalg.inv(V)
        P_ = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
        nr = len(yt) - X.shape[1]
        return 0.5 * (nr * np.log(yt @ P_ @ yt) + np.linalg.slogdet(V)[1] + np.linalg.slogdet(X.T @ Vi @ X)[1])

    for j in range(P.shape[1]):
        Z = np.linalg.solve(L, P[:, j])
        grid = np.linspace(0, 0.999, 400)
        best = min(nreml(Z, e) for e in grid)
        assert nreml(Z, res.qtl_hsq[j]) <= best + 1e-9


def test_properties_zerosum_units_batching():
    K, P, sex, y = _data(4)
    h = 0.5
    a = scan1coef(P, y, K, sex, se=True, hsq=h)
    np.testing.assert_allclose(a.coef[:, :4].sum(axis=1), 0, atol=1e-10)
    b = scan1coef(P, y * 1e3, K, sex, se=True, hsq=h)
    np.testing.assert_allclose(b.coef, a.coef * 1e3, rtol=1e-9)
    np.testing.assert_allclose(b.se, a.se * 1e3, rtol=1e-9)
    bl, bl3 = scan1blup(P, y, K, sex, se=True, hsq=h), scan1blup(P, y * 1e3, K, sex, se=True, hsq=h)
    np.testing.assert_allclose(bl3.coef, bl.coef * 1e3, rtol=1e-7, atol=1e-9)
    for j in range(P.shape[1]):
        one = scan1coef(P[:, j:j + 1], y, K, sex, se=True, hsq=h)
        np.testing.assert_allclose(one.coef[0], a.coef[j], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(one.se[0], a.se[j], rtol=1e-12)
        f = fit1(P[:, j], y, K, sex, hsq=h)
        np.testing.assert_allclose(f.coef, a.coef[j], rtol=1e-9, atol=1e-10)
        ob = scan1blup(P[:, j:j + 1], y, K, sex, se=True, hsq=h)
        np.testing.assert_allclose(ob.coef[0], bl.coef[j], rtol=1e-12, atol=1e-12)


def test_missing_values_use_complete_cases_and_own_hsq():
    K, P, sex, y = _data(5)
    ym = y.copy()
    ym[[3, 17]] = np.nan
    keep = ~np.isnan(ym)
    a = scan1coef(P, ym[:, None], K, sex, se=True)
    b = scan1coef(P[keep], y[keep], K[np.ix_(keep, keep)], sex[keep], se=True)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    assert a.n == keep.sum() and a.hsq == pytest.approx(b.hsq, abs=1e-12)
    null = lmm.scan.engine.fit_null_group(lmm.eigen_decompose(K[np.ix_(keep, keep)]), y[keep, None],
                                          np.column_stack([np.ones(keep.sum()), sex[keep]]))
    assert a.hsq == pytest.approx(float(null.hsq[0]), abs=1e-12)


def test_bad_input():
    K, P, sex, y = _data(6)
    with pytest.raises(lmm.InputError, match="one phenotype"):
        fit1(P[:, 0], np.column_stack([y, y]), K)
    with pytest.raises(lmm.InputError, match="genoprobs"):
        scan1coef(P[:, 0], y, K)
    with pytest.raises(lmm.InputError, match="kinship"):
        scan1coef(P, y, K[:5, :5])
    with pytest.raises(lmm.InputError, match="intercept"):
        fit1(P[:, 0], y, K, np.column_stack([np.ones_like(y), sex]))
    with pytest.raises(lmm.InputError, match="hsq"):
        scan1blup(P, y, K, hsq=1.5)
    with pytest.raises(lmm.InputError, match="infinite"):
        fit1(P[:, 0], np.where(np.arange(len(y)) == 0, np.inf, y), K)
    Q = P[:, 0].copy()
    Q[:, 3] = 0
    with pytest.raises(lmm.InputError, match="rank-deficient"):
        fit1(Q, y, K, hsq=0.5)
    Pq = P.copy()
    Pq[:, 1, 3] = 0
    assert np.isnan(scan1coef(Pq, y, K, hsq=0.5).coef[1]).all()

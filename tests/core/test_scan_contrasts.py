"""The scan on error contrasts (lmm.scan.contrasts) gives the LODs of the scan with covariates: to 1e-8
against the kernel's other path and against the frozen results of the code before it
(tests/reference/scan/frozen.npz), with phenotype-specific covariates, degenerate markers and hsq at
the boundaries; the cost rule takes it where it pays and never at hsq = 1."""

import numpy as np
import pytest

import lmm
import lmm.scan.kernel as kernel
from lmm.scan.contrasts import transform, worthwhile

from test_scan_frozen import REFERENCE, do_case, results


def _case(d, p, seed):
    rng = np.random.default_rng(seed)
    n, q, m = 80, 40, 30
    G = rng.dirichlet(np.ones(d + 1), (n, q))[:, :, 1:].reshape(n, q * d) if d > 1 else \
        rng.integers(0, 3, (n, q)).astype(float)
    X = np.ones((n, p))
    X[:, 1:] = rng.integers(0, 2, (n, p - 1))
    G[:, :d] = 0.25                                   # marker 0 monomorphic: collinear with the intercept
    if d == 1:
        G[:, 1] = X[:, 1] * 2.0                       # marker 1 a multiple of a covariate
    K = G @ G.T / q + 0.05 * np.eye(n)
    dec = lmm.eigen_decompose(K)
    y = rng.standard_normal((n, m)) + X[:, 1:] @ rng.standard_normal((p - 1, m))
    y[:, :10] += 2.0 * G[:, 5 * d:5 * d + 1] / G[:, 5 * d].std()
    hsq = np.concatenate([[0.0, 0.999], rng.uniform(0, 0.95, m - 2)])
    return dec, y, X, G, hsq


@pytest.mark.parametrize("d,p", [(1, 2), (1, 5), (7, 6), (3, 3)])
def test_contrasts_equal_the_scan_with_covariates(d, p):
    dec, y, X, G, hsq = _case(d, p, 10 * d + p)
    args = (dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G, d)
    plain = lmm.scan_rotated(*args, contrasts=False)
    fast = lmm.scan_rotated(*args, contrasts=True)
    np.testing.assert_allclose(fast.lod, plain.lod, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(fast.df, plain.df)
    np.testing.assert_allclose(fast.rss0, plain.rss0, rtol=1e-10)
    assert fast.n == plain.n == 80
    assert plain.df[0] == 0 and fast.lod[0].max() == 0.0          # the monomorphic marker
    if d == 1:
        assert fast.df[1] == 0 and fast.lod[1].max() == 0.0
    np.testing.assert_array_equal(fast.argmax, plain.argmax)
    assert plain.lod.max() > 5 and np.median(fast.argmax[:10]) == 5             # the planted QTL


def test_contrasts_with_phenotype_specific_covariates_and_maxima():
    dec, y, X, G, hsq = _case(7, 6, 3)
    rng = np.random.default_rng(4)
    miss = rng.random(y.shape) < 0.04
    rows = np.flatnonzero(miss.any(axis=1))
    y0 = dec.kve_t @ np.where(miss, 0.0, y)
    args = (dec.kva, y0, dec.kve_t @ X, hsq, dec.kve_t @ G, 7)
    extra = dict(extra=dec.kve_t[:, rows], extra_used=miss[rows])
    plain = lmm.scan_rotated(*args, **extra, contrasts=False)
    fast = lmm.scan_rotated(*args, **extra, contrasts=True)
    np.testing.assert_allclose(fast.lod, plain.lod, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(fast.df, plain.df)
    best = lmm.scan_rotated(*args, **extra, contrasts=True, reduce="max")
    np.testing.assert_allclose(best.max_lod, plain.max_lod, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(best.argmax, plain.argmax)


def test_contrasts_through_scan1_equal_the_frozen_results(monkeypatch):
    monkeypatch.setattr(kernel, "worthwhile", lambda *args: True)        # every scan on contrasts
    ref, now = np.load(REFERENCE), results()
    np.testing.assert_allclose(now["do_lod"], ref["do_lod"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(now["do_hsq"], ref["do_hsq"], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(now["do_df"], ref["do_df"])
    np.testing.assert_allclose(now["one_df_max"], ref["one_df_max"], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(now["one_df_argmax"], ref["one_df_argmax"])


def test_transform_is_the_contrast_basis():
    dec, y, X, G, hsq = _case(1, 3, 7)
    Xr = dec.kve_t @ X
    ct = transform(dec.kva, dec.kve_t @ y, Xr, dec.kve_t @ G)
    assert ct.y.shape == (77, 30) and ct.G.shape == (77, 40) and ct.n == 80
    np.testing.assert_allclose(ct.norms, np.sum(G ** 2, axis=0), rtol=1e-12)
    # R = VᵀCᵀ itself (the transform of the identity): R Rᵀ = I, R X̃ = 0, R Λ Rᵀ = diag(λ*)
    R = transform(dec.kva, np.eye(80), Xr, Xr).y
    np.testing.assert_allclose(R @ R.T, np.eye(77), atol=1e-12)
    np.testing.assert_allclose(R @ Xr, 0.0, atol=1e-12)
    np.testing.assert_allclose(R @ np.diag(dec.kva) @ R.T, np.diag(ct.kva), atol=1e-12)
    assert (np.diff(ct.kva) >= 0).all() and ct.kva.min() >= 0


def test_cost_rule():
    big = dict(n=500, p=6, m=21771, q=2500, d=7, r=0)
    assert worthwhile(**big)
    assert not worthwhile(**{**big, "p": 1})
    assert not worthwhile(**{**big, "m": 0})                                   # every hsq = 1
    assert not worthwhile(n=80, p=6, m=30, q=40, d=7, r=0)                      # too small to pay


@pytest.mark.parametrize("singular", [False, True])
def test_phenotypes_at_hsq_one_leave_the_contrasts(singular, monkeypatch):
    """hsq = 1 (with a singular kinship: the kernel's constrained limit): those phenotypes are
    scanned on the kernel's own path, the others on contrasts, with the LODs of the plain scan."""
    dec, y, X, G, hsq = _case(7, 4, 21)
    kva = dec.kva.copy()
    if singular:
        kva[:2] = 0.0                                    # two zero eigenvalues, whose rotated
        X = np.column_stack([X, dec.kve_t.T[:, :2]])     # directions the covariates span
    hsq[[3, 17]] = 1.0
    args = (kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G, 7)
    calls = []
    real = kernel.transform
    monkeypatch.setattr(kernel, "transform", lambda *a: calls.append(a[1].shape[1]) or real(*a))
    plain = lmm.scan_rotated(*args, contrasts=False)
    assert calls == []
    fast = lmm.scan_rotated(*args, contrasts=True)
    assert calls == [28]                          # the 28 phenotypes below 1, once
    np.testing.assert_allclose(fast.lod, plain.lod, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(fast.df, plain.df)
    np.testing.assert_allclose(fast.rss0, plain.rss0, rtol=1e-10)
    ones = lmm.scan_rotated(kva, args[1][:, [3, 17]], args[2], hsq[[3, 17]], args[4], 7, contrasts=True)
    assert len(calls) == 1                        # all at 1: no contrasts
    np.testing.assert_allclose(ones.lod, plain.lod[:, [3, 17]], rtol=0, atol=1e-12)
    if not singular:                              # (the constrained limit reports no progress)
        seen = []
        lmm.scan_rotated(*args, contrasts=True, progress=seen.append, block_elements=5_000)
        assert len(seen) > 1 and seen[-1] == 40 and seen == sorted(seen)


def _do_models():
    """test_scan_frozen's DO-like case with an X chromosome, Xcovar and an interactive covariate."""
    designs, kins, y, X = do_case()
    xcov = np.column_stack([X[:, 1], (np.arange(X.shape[0]) % 3 == 0)])
    return designs, kins, y, X, dict(is_x=[False, True], x_covar=xcov)


def _forced(monkeypatch, flag, fn):
    monkeypatch.setattr(kernel, "worthwhile", lambda *args: flag)
    return fn()


@pytest.mark.parametrize("interactive", [False, True])
def test_scan1_on_contrasts_with_x_and_interactive_covariates(interactive, monkeypatch):
    designs, kins, y, X, xs = _do_models()
    ic = dict(int_covar=X[:, [1]]) if interactive else {}
    run = lambda: lmm.scan1(designs, kins, y, X, n_alleles=8, **xs, **ic)
    plain, fast = (_forced(monkeypatch, flag, run) for flag in (False, True))
    np.testing.assert_array_equal(fast.hsq, plain.hsq)
    np.testing.assert_allclose(fast.lod, plain.lod, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(fast.df, plain.df)
    assert np.nanmax(plain.lod) > 5 and np.isnan(y).any()


def test_scan1perm_on_contrasts(monkeypatch):
    designs, kins, y, X, xs = _do_models()
    run = lambda: lmm.scan1perm(designs, kins, y[:, :10], X, n_alleles=8, n_perm=4, seed=2, **xs,
                                int_covar=X[:, [1]])
    plain, fast = (_forced(monkeypatch, flag, run) for flag in (False, True))
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-8)
    assert np.isnan(y[:, :10]).any()

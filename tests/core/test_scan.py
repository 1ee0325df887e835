"""Tests of the genome scan (lmm.scan) and of peak finding (lmm.peaks).

Oracles: a brute-force weighted least-squares fit per marker and phenotype
(``np.linalg.lstsq`` on ``sqrt(W)·[X G]``), the dense multivariate normal
likelihood without rotation, and R/qtl2 0.43-5's published figures on the
recla data (``data/recla/genotypes/README.md``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import stats

import lmm
from _qtl2_reference import HSQ_TOL, LOD_TOL, LOD_TOL_EXCEPTIONS, QTL2_HSQ, QTL2_PEAKS, recla_inputs
from lmm.errors import InputError
from lmm.peaks import find_peaks, maxlod_per_chromosome
from lmm.rotation import eigen_decompose
from lmm.scan import (COLLINEAR_RTOL, lod_to_pvalue, permutation_threshold, rotate_genotypes,
                      scan1, scan1perm, scan_rotated)

LN10 = np.log(10.0)


# --------------------------------------------------------------------------- helpers


def _kinship(rng, n, n_markers=200):
    Z = rng.normal(size=(n, n_markers))
    return Z @ Z.T / n_markers + 0.05 * np.eye(n)


def _allele_probs(rng, n, q, k=8, alpha=0.3):
    """(n, q, k) probabilities summing to one (exactly up to the last bit)."""
    P = rng.gamma(alpha, size=(n, q, k))
    return P / P.sum(axis=2, keepdims=True)


def oracle_lod(kva, kve_t, y, X, hsq, G, d):
    """Brute force: weighted lstsq on sqrt(W)·[X G_k] for every marker and phenotype."""
    n, m = y.shape
    q = G.shape[1] // d
    yr, Xr, Gr = kve_t @ y, kve_t @ X, kve_t @ G
    out = np.empty((q, m))
    for j in range(m):
        sw = np.sqrt(1.0 / (hsq[j] * kva + 1.0 - hsq[j]))
        b = sw * yr[:, j]
        A0 = sw[:, None] * Xr
        r0 = b - A0 @ np.linalg.lstsq(A0, b, rcond=None)[0]
        for k in range(q):
            A1 = np.column_stack([A0, sw[:, None] * Gr[:, k * d:(k + 1) * d]])
            r1 = b - A1 @ np.linalg.lstsq(A1, b, rcond=None)[0]
            out[k, j] = n / 2 * np.log10((r0 @ r0) / (r1 @ r1))
    return out


def _close(a, b, rtol):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))


@pytest.fixture(scope="module")
def small():
    """n = 70 individuals, 3 covariates, 4 phenotypes with random hsq."""
    rng = np.random.default_rng(20261129)
    n, m = 70, 4
    K = _kinship(rng, n)
    dec = eigen_decompose(K)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    hsq = rng.uniform(0.05, 0.95, m)
    y = rng.normal(size=(n, m)) * [1, 10, 0.1, 3] + [0, 100, -5, 1e3]
    return rng, K, dec, X, hsq, y


def _rot(dec, y, X, G):
    return dec.kve_t @ y, dec.kve_t @ X, rotate_genotypes(dec, G)


# --------------------------------------------------------------------------- oracles


def test_one_df_matches_weighted_lstsq(small):
    rng, K, dec, X, hsq, y = small
    G = rng.integers(0, 3, size=(y.shape[0], 25)).astype(float)
    y = y + 0.8 * G[:, [3]]                       # one real effect
    res = scan_rotated(dec.kva, *_rot(dec, y, X, G)[:2], hsq, _rot(dec, y, X, G)[2], 1)
    ref = oracle_lod(dec.kva, dec.kve_t, y, X, hsq, G, 1)
    assert res.lod.shape == (25, 4)
    assert _close(res.lod, ref, 0) < 1e-10
    assert (res.df == 1).all()
    np.testing.assert_array_equal(res.argmax, np.argmax(ref, axis=0))
    np.testing.assert_allclose(res.max_lod, ref.max(axis=0), rtol=1e-10)


def test_eight_allele_markers_match_weighted_lstsq(small):
    rng, K, dec, X, hsq, y = small
    n = y.shape[0]
    P = _allele_probs(rng, n, 12)
    G = P[:, :, 1:].reshape(n, -1)                 # first allele column dropped: 7 per marker
    res = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, rotate_genotypes(dec, G), 7)
    ref = oracle_lod(dec.kva, dec.kve_t, y, X, hsq, G, 7)
    assert _close(res.lod, ref, 0) < 1e-10
    assert (res.df == 7).all()


def test_lod_equals_dense_likelihood_ratio(small):
    """LOD = (ℓ_alt − ℓ_null)/ln 10 at ML β, σ² with hsq fixed, dense MVN without rotation."""
    rng, K, dec, X, hsq, y = small
    n = y.shape[0]
    G = np.column_stack([rng.integers(0, 3, n), rng.normal(size=n)]).astype(float)
    res = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G, 1)

    def ml_loglik(M, yj, h):
        V0 = h * K + (1 - h) * np.eye(n)
        Vi = np.linalg.inv(V0)
        beta = np.linalg.solve(M.T @ Vi @ M, M.T @ Vi @ yj)
        r = yj - M @ beta
        s2 = r @ Vi @ r / n
        return stats.multivariate_normal(M @ beta, s2 * V0).logpdf(yj)

    for j in range(y.shape[1]):
        l0 = ml_loglik(X, y[:, j], hsq[j])
        for k in range(2):
            l1 = ml_loglik(np.column_stack([X, G[:, k]]), y[:, j], hsq[j])
            assert res.lod[k, j] == pytest.approx((l1 - l0) / LN10, rel=1e-8, abs=1e-9)


def test_pvalue_is_chi2_of_the_likelihood_ratio():
    lod = np.array([[0.0, 1.0], [3.0, 10.0]])
    p = lod_to_pvalue(lod, np.array([1, 7]))
    np.testing.assert_allclose(p[0], stats.chi2.sf(2 * LN10 * lod[0], 1))
    np.testing.assert_allclose(p[1], stats.chi2.sf(2 * LN10 * lod[1], 7))
    assert lod_to_pvalue(np.array([[2.0]]), np.array([0]))[0, 0] == 1.0


# --------------------------------------------------------------------------- properties


def test_invariant_to_the_allele_column_dropped():
    rng = np.random.default_rng(5)
    n = 60
    K = _kinship(rng, n)
    P = _allele_probs(rng, n, 6, k=4)
    y = rng.normal(size=(n, 2))
    a = scan1(P, K, y, n_alleles=4, drop_allele=0)
    b = scan1(P, K, y, n_alleles=4, drop_allele=2)
    np.testing.assert_allclose(a.lod, b.lod, rtol=1e-9, atol=1e-11)
    assert (a.df == 3).all()


def test_invariant_to_permuting_individuals_and_scaling():
    rng = np.random.default_rng(6)
    n = 50
    K = _kinship(rng, n)
    G = rng.integers(0, 3, (n, 15)).astype(float)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=(n, 3))
    base = scan1(G, K, y, X)
    perm = rng.permutation(n)
    pm = scan1(G[perm], K[np.ix_(perm, perm)], y[perm], X[perm])
    # hsq from the Brent search moves by ~1e-8 with the rounding of the permuted data
    np.testing.assert_allclose(pm.hsq, base.hsq, atol=1e-7)
    np.testing.assert_allclose(pm.lod, base.lod, atol=1e-6)
    dec = eigen_decompose(K)
    h = base.hsq[0]
    dp = eigen_decompose(K[np.ix_(perm, perm)])
    rp = scan_rotated(dp.kva, dp.kve_t @ y[perm], dp.kve_t @ X[perm], h, dp.kve_t @ G[perm])
    r1 = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ X, h, dec.kve_t @ G)
    r2 = scan_rotated(dec.kva, dec.kve_t @ (y * 1e4 - 7), dec.kve_t @ X, h, dec.kve_t @ (G * 1e-3 + 2))
    np.testing.assert_allclose(r2.lod, r1.lod, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(rp.lod, r1.lod, rtol=1e-9, atol=1e-11)


def test_blocks_and_batches_do_not_change_results(small):
    rng, K, dec, X, hsq, y = small
    n = y.shape[0]
    G = np.concatenate([rng.integers(0, 3, (n, 40)).astype(float), _allele_probs(rng, n, 1, 3)[:, 0, :2]], axis=1)
    yr, Xr, Gr = _rot(dec, y, X, G[:, :40])
    all_ = scan_rotated(dec.kva, yr, Xr, hsq, Gr)
    tiny = scan_rotated(dec.kva, yr, Xr, hsq, Gr, block_elements=1)
    np.testing.assert_allclose(tiny.lod, all_.lod, rtol=1e-12, atol=1e-13)
    for j in range(y.shape[1]):
        one = scan_rotated(dec.kva, yr[:, j], Xr, hsq[j], Gr)
        np.testing.assert_allclose(one.lod[:, 0], all_.lod[:, j], rtol=1e-12, atol=1e-13)
    mx = scan_rotated(dec.kva, yr, Xr, hsq, Gr, reduce="max")
    assert mx.lod is None
    np.testing.assert_allclose(mx.max_lod, all_.lod.max(axis=0), rtol=1e-13)
    G7 = _allele_probs(rng, n, 9)[:, :, 1:].reshape(n, -1)
    a = scan_rotated(dec.kva, yr, Xr, hsq, dec.kve_t @ G7, 7)
    b = scan_rotated(dec.kva, yr, Xr, hsq, dec.kve_t @ G7, 7, block_elements=1)
    np.testing.assert_allclose(b.lod, a.lod, rtol=1e-12, atol=1e-13)


# --------------------------------------------------------------------------- numerical cases


def test_degenerate_markers(small):
    rng, K, dec, X, hsq, y = small
    n = y.shape[0]
    g_mono = np.full(n, 2.0)
    g_mono[17] = 1.0                                  # one individual differs
    g_cov = X[:, 1].copy()                            # identical to a covariate
    g_cov9 = X[:, 1] + 1e-9 * rng.normal(size=n)      # within 1e-6 of collinear: dropped
    g_cov4 = X[:, 1] + 1e-4 * rng.normal(size=n)      # collinear to 1e-4 only: kept, accurate
    g_const = np.full(n, 3.0)                         # monomorphic (= intercept)
    g_big = rng.integers(0, 3, n) + 1e4               # large mean (kept: 7e-9 of its norm left)
    G = np.column_stack([g_mono, g_cov, g_cov9, g_cov4, g_const, g_big])
    res = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G)
    ref = oracle_lod(dec.kva, dec.kve_t, y, X, hsq, G, 1)
    np.testing.assert_array_equal(res.df, [1, 0, 0, 1, 0, 1])
    assert (res.lod[[1, 2, 4]] == 0).all()
    for k, tol in [(0, 1e-10), (3, 1e-7), (5, 1e-9)]:
        assert _close(res.lod[k], ref[k], 0) < tol, k
    # an allele absent from the sample: a zero column, one df fewer, same fit as lstsq
    P = _allele_probs(rng, n, 3, k=5)
    P[:, 1, 3] = 0.0
    P[:, 1] /= P[:, 1].sum(axis=1, keepdims=True)
    G5 = P[:, :, 1:].reshape(n, -1)
    r5 = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G5, 4)
    np.testing.assert_array_equal(r5.df, [4, 3, 4])
    assert _close(r5.lod, oracle_lod(dec.kva, dec.kve_t, y, X, hsq, G5, 4), 0) < 1e-10
    # two identical allele columns: the second is dropped
    G5[:, 4 + 1] = G5[:, 4 + 0]
    r6 = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G5, 4)
    assert r6.df[1] == 2
    assert _close(r6.lod, oracle_lod(dec.kva, dec.kve_t, y, X, hsq, G5, 4), 0) < 1e-9
    assert COLLINEAR_RTOL == 1e-12


def test_bad_input():
    rng = np.random.default_rng(1)
    n = 20
    dec = eigen_decompose(_kinship(rng, n))
    y = rng.normal(size=(n, 2))
    X = dec.kve_t @ np.ones((n, 1))
    G = rng.normal(size=(n, 6))
    with pytest.raises(InputError):
        scan_rotated(dec.kva, y, X, [0.5, 0.5, 0.5], G)  # hsq count
    with pytest.raises(InputError):
        scan_rotated(dec.kva, y, X, [0.5, 1.5], G)      # hsq out of range
    with pytest.raises(InputError):
        scan_rotated(dec.kva, y, X, [0.5, 0.5], G, 4)   # columns not a multiple
    with pytest.raises(InputError):
        scan_rotated(dec.kva, y, None, [0.5, 0.5], G)
    with pytest.raises(InputError):
        scan_rotated(dec.kva, y[:-1], X, [0.5, 0.5], G)
    Gn = G.copy()
    Gn[0, 0] = np.nan
    with pytest.raises(InputError):
        scan_rotated(dec.kva, y, X, [0.5, 0.5], Gn)
    with pytest.raises(InputError):
        scan1(G, np.eye(n + 1), y)


def test_scan1_missing_values_use_complete_cases():
    rng = np.random.default_rng(8)
    n = 60
    K = _kinship(rng, n)
    G = [rng.integers(0, 3, (n, 7)).astype(float), rng.integers(0, 3, (n, 5)).astype(float)]
    kins = [K, 0.5 * K + 0.5 * np.eye(n)]
    y = rng.normal(size=(n, 3))
    y[[3, 9], 1] = np.nan
    res = scan1(G, kins, y)
    assert res.lod.shape == (12, 3) and res.hsq.shape == (2, 3)
    np.testing.assert_array_equal(res.n, [60, 58, 60])
    np.testing.assert_array_equal(res.chr_start, [0, 7, 12])
    ok = ~np.isnan(y[:, 1])
    alone = scan1([g[ok] for g in G], [k[np.ix_(ok, ok)] for k in kins], y[ok, 1])
    np.testing.assert_allclose(alone.lod[:, 0], res.lod[:, 1], rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------- permutations


def test_permutations_deterministic_and_equal_to_scans_of_permuted_genotypes():
    rng = np.random.default_rng(9)
    n = 40
    K = _kinship(rng, n)
    G = [rng.integers(0, 3, (n, 6)).astype(float), rng.integers(0, 3, (n, 4)).astype(float)]
    y = rng.normal(size=(n, 2))
    a = scan1perm(G, K, y, n_perm=5, seed=42)
    b = scan1perm(G, K, y, n_perm=5, seed=42, block_elements=1)
    assert a.shape == (5, 2)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    c = scan1perm(G, K, y, n_perm=5, seed=43)
    assert not np.allclose(a, c)
    # replicate b is the scan of genotypes permuted by the b-th draw of the stream of the
    # phenotypes' observed individuals (all n here), hsq from the real data
    perms = np.random.default_rng([42, *np.frombuffer(
        hashlib.sha256(n.to_bytes(8, "little") + np.packbits(np.ones(n, bool)).tobytes()).digest(), "<u4").tolist()])
    pis = [perms.permutation(n) for _ in range(5)]
    h = scan1(G, K, y).hsq[0]
    dec = eigen_decompose(K)
    for bb, pi in enumerate(pis):
        Gp = np.concatenate([g[pi] for g in G], axis=1)
        r = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ np.ones((n, 1)), h, dec.kve_t @ Gp)
        np.testing.assert_allclose(a[bb], r.lod.max(axis=0), rtol=1e-10)
    thr = permutation_threshold(a, 0.2)
    np.testing.assert_allclose(thr, np.quantile(a, 0.8, axis=0))


# --------------------------------------------------------------------------- peaks


def test_find_peaks_semantics():
    lod = np.array([1, 5, 2, 4.5, 3, 0.5,      # chr 0: peaks 5 and 4.5 separated by a drop of 2.5
                    7, 7, 1, 2, 1.9, 8.0]).reshape(-1, 1)   # chr 1: tie 7,7 then 8
    cs = [0, 6, 12]
    pos = np.array([0, 10, 20, 30, 40, 50, 0, 5, 10, 15, 20, 25.0])
    one = find_peaks(lod, cs, pos, threshold=3)
    np.testing.assert_array_equal(one.chr, [0, 1])
    np.testing.assert_array_equal(one.lod, [5, 8])
    np.testing.assert_array_equal(one.pos, [10, 25])
    two = find_peaks(lod, cs, pos, threshold=3, peakdrop=2, drop=1.5)
    np.testing.assert_array_equal(two.lod, [5, 4.5, 7, 8])
    np.testing.assert_array_equal(two.pos, [10, 30, 2.5, 25])     # the tie: mean position
    np.testing.assert_array_equal(two.ci_lo, [0, 20, 0, 20])      # lmm.peaks' notes; tests/core/test_peaks.py
    np.testing.assert_array_equal(two.ci_hi, [20, 50, 10, 25])
    three = find_peaks(lod, cs, pos, threshold=3, peakdrop=3)      # 4.5 needs a drop to 1.5
    np.testing.assert_array_equal(three.lod, [5, 7, 8])
    np.testing.assert_array_equal(maxlod_per_chromosome(lod, cs)[:, 0], [5, 8])
    assert len(find_peaks(lod, cs, pos, threshold=9)) == 0
    with pytest.raises(InputError):
        find_peaks(lod, cs, pos, peakdrop=1, drop=2)


def test_find_peaks_edge_peak_needs_no_drop_beyond_the_end():
    lod = np.array([10, 4, 9, 8.5])[:, None]
    p = find_peaks(lod, threshold=3, peakdrop=1)
    np.testing.assert_array_equal(p.lod, [10, 9])


# --------------------------------------------------------------------------- R/qtl2 reference



@pytest.fixture(scope="module")
def recla_scan():
    r = recla_inputs()
    res = scan1([r.P[:, r.chrs == c] for c in r.chr_names], [r.kinship[c] for c in r.chr_names],
                r.pheno.to_numpy(float), n_alleles=8)
    return res, list(r.pheno.columns), r.chr_names, r.pos


def test_recla_matches_qtl2_peaks_and_hsq(recla_scan):
    res, names, chr_names, pos = recla_scan
    assert res.lod.shape == (6394, 26)
    peaks = find_peaks(res.lod, res.chr_start, pos, threshold=6.5)
    got = sorted((names[j], chr_names[c], p, v) for j, c, p, v in
                 zip(peaks.lodindex, peaks.chr, peaks.pos, peaks.lod))
    want = sorted(QTL2_PEAKS)
    assert [(a, b, c) for a, b, c, _ in got] == [(a, b, c) for a, b, c, _ in want]
    # LOD to 1e-6 (2e-6 where qtl2's own null fit stopped short of the optimum: _qtl2_reference)
    for (ph, _, _, v), (_, _, _, ref) in zip(got, want):
        assert v == pytest.approx(ref, abs=LOD_TOL_EXCEPTIONS.get(ph, LOD_TOL)), ph
    for (ph, c), ref in QTL2_HSQ.items():
        assert res.hsq[chr_names.index(c), names.index(ph)] == pytest.approx(ref, abs=HSQ_TOL)
    # 8 founder alleles: 7 columns per marker, one fewer where an allele is absent from the data
    assert res.df.max() == 7 and res.df.min() >= 6


@pytest.mark.parametrize("p", [1, 2])
def test_hsq_one_with_a_singular_kinship_is_the_limit(p):
    """A kinship of centred genotypes has a zero eigenvalue (its direction: the intercept); at
    hsq = 1 the scan is the limit of hsq → 1 (constrained fits), not an error."""
    rng = np.random.default_rng(3)
    n = 60
    G = rng.integers(0, 3, (n, 300)).astype(float)
    W = G - G.mean(axis=0)
    dec = lmm.eigen_decompose(W @ W.T / 300)
    assert dec.kva[0] == 0.0
    X = dec.kve_t @ np.column_stack([np.ones(n), rng.integers(0, 2, n)])[:, :p]
    y = dec.kve_t @ rng.normal(size=(n, 2))
    Gr = dec.kve_t @ G[:, :8]
    at_one = scan_rotated(dec.kva, y, X, [1.0, 0.4], Gr)
    for eps in (1e-7, 1e-9):
        near = scan_rotated(dec.kva, y, X, [1.0 - eps, 0.4], Gr)
        np.testing.assert_allclose(at_one.lod, near.lod, atol=50 * eps, rtol=0)
    np.testing.assert_allclose(at_one.lod[:, 1], scan_rotated(dec.kva, y[:, 1:], X, 0.4, Gr).lod[:, 0], rtol=1e-12)


# --------------------------------------------------------------------------- phenotype-specific covariates


def _missing_case(rng, n, m, d):
    """A kinship, covariates, phenotypes with scattered missing values, and markers (two of
    them collinear with the covariates among one phenotype's complete cases only)."""
    K = _kinship(rng, n, 40)
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    G = rng.integers(0, 3, (n, 30)).astype(float) if d == 1 else _allele_probs(rng, n, 30, d + 1)[:, :, 1:].reshape(n, -1)
    y = rng.normal(size=(n, m)) + 0.5 * G[:, :1]
    miss = np.zeros((n, m), dtype=bool)
    miss[[0, 5], 1] = True
    miss[7, 2] = True
    miss[[3, 4, 9], 4] = True
    miss[0, 6] = True
    # marker 5 is non-zero only where phenotype 4 is missing: nothing left among its complete cases
    G[:, 5 * d:6 * d] = 0.0
    G[[3, 4], 5 * d] = [1.0, 2.0]
    if d > 1:  # marker 6's second column equals its first among phenotype 4's complete cases
        G[:, 6 * d + 1] = G[:, 6 * d]
        G[[3, 9], 6 * d + 1] += [0.3, -0.2]
    return K, X, G, y, miss


@pytest.mark.parametrize("d", [1, 3])
def test_extra_covariates_give_each_phenotypes_complete_case_scan(d):
    """Indicator covariates (extra columns kve_t[:, i]) for each phenotype's missing individuals:
    the LOD (× n_j/n) and df equal the scan of its complete cases with its own decomposition,
    whatever the block size, and markers collinear among the complete cases get df 0 / fewer."""
    rng = np.random.default_rng(11 + d)
    n, m = 60, 7
    K, X, G, y, miss = _missing_case(rng, n, m, d)
    hsq = rng.uniform(0.1, 0.9, m)
    dec = eigen_decompose(K)
    union = np.flatnonzero(miss.any(axis=1))
    args = (dec.kva, dec.kve_t @ np.where(miss, 0.0, y), dec.kve_t @ X, hsq, dec.kve_t @ G, d)
    res = scan_rotated(*args, extra=dec.kve_t[:, union], extra_used=miss[union])
    tiny = scan_rotated(*args, extra=dec.kve_t[:, union], extra_used=miss[union], block_elements=1)
    assert res.df.shape == (30, m)
    np.testing.assert_allclose(tiny.lod, res.lod, rtol=0, atol=1e-12)
    for j in range(m):
        obs = ~miss[:, j]
        dj = eigen_decompose(K[np.ix_(obs, obs)])
        own = scan_rotated(dj.kva, dj.kve_t @ y[obs, j], dj.kve_t @ X[obs], hsq[j], dj.kve_t @ G[obs], d)
        ref = oracle_lod(dj.kva, dj.kve_t, y[obs][:, [j]], X[obs], hsq[[j]], G[obs], d)[:, 0]
        np.testing.assert_allclose(res.lod[:, j] * obs.sum() / n, ref, rtol=1e-9, atol=1e-10)
        np.testing.assert_array_equal(res.df[:, j], own.df)
    assert res.df[5, 4] == 0 and res.lod[5, 4] == 0.0
    assert (res.df[5, [0, 1, 2, 3, 5, 6]] == 1).all()
    if d > 1:
        assert res.df[6, 4] == d - 1 and (res.df[6, [0, 1, 2, 3, 5, 6]] == d).all()


def test_extra_covariates_at_the_upper_limit():
    """hsq = 1 with a singular kinship and extras: each such phenotype as a scan with its extras
    as ordinary covariates; the others unchanged."""
    rng = np.random.default_rng(5)
    n = 50
    G = rng.integers(0, 3, (n, 200)).astype(float)
    W = G - G.mean(axis=0)
    dec = eigen_decompose(W @ W.T / 200)
    X = dec.kve_t @ np.ones((n, 1))
    y = dec.kve_t @ rng.normal(size=(n, 3))
    H = dec.kve_t[:, [2, 7]]
    used = np.array([[True, False, True], [False, False, True]])
    Gr = dec.kve_t @ G[:, :6]
    res = scan_rotated(dec.kva, y, X, [1.0, 0.3, 0.6], Gr, extra=H, extra_used=used)
    one = scan_rotated(dec.kva, y[:, [0]], np.hstack([X, H[:, :1]]), [1.0], Gr)
    np.testing.assert_allclose(res.lod[:, 0], one.lod[:, 0], rtol=1e-12)
    rest = scan_rotated(dec.kva, y[:, 1:], X, [0.3, 0.6], Gr, extra=H, extra_used=used[:, 1:])
    np.testing.assert_allclose(res.lod[:, 1:], rest.lod, rtol=1e-12)


def test_extra_covariates_refused_when_wrong():
    rng = np.random.default_rng(2)
    n = 30
    dec = eigen_decompose(_kinship(rng, n))
    y, X = rng.normal(size=(n, 2)), dec.kve_t @ np.ones((n, 1))
    G = dec.kve_t @ rng.integers(0, 3, (n, 4)).astype(float)
    H = dec.kve_t[:, [1, 2]]
    with pytest.raises(InputError, match="go together"):
        scan_rotated(dec.kva, y, X, [0.5, 0.5], G, extra=H)
    with pytest.raises(InputError, match="boolean"):
        scan_rotated(dec.kva, y, X, [0.5, 0.5], G, extra=H, extra_used=np.ones((2, 3), bool))
    with pytest.raises(InputError, match="phenotype column 1: its extra covariates are collinear"):
        scan_rotated(dec.kva, y, X, [0.5, 0.5], G, extra=np.hstack([H, H[:, :1]]),
                     extra_used=np.array([[False, True], [False, False], [False, True]]))

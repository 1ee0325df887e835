"""lmm.effects.fit_effects (the batched entry point of the workflow's effects stage) against fit1 and
scan1blup called one phenotype at a time on the complete cases, against a dense GLS oracle, and
against R/qtl2 0.43-5's fit1 table (tests/reference/qtl2/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lmm
from lmm.effects import fit1, fit_effects, scan1blup, scan1coef

REF = Path(__file__).resolve().parents[1] / "reference" / "qtl2"


def _kinship(rng, n):
    Z = rng.normal(size=(n, 40))
    return 0.9 * Z @ Z.T / 40 + 0.1 * np.eye(n)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    n, q, k = 70, 6, 4
    P = rng.dirichlet(np.full(k, 0.7), size=(n, q))
    K = _kinship(rng, n)
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)]).astype(float)
    Y = rng.normal(size=(n, 3)) + 3.0 * P[:, 2, :1] + 40.0
    Y[[4, 9, 30], :] = np.nan                   # one missing-data pattern for the three columns
    return P, K, X, Y, np.array([0.25, 0.6, 0.0])


def test_pairs_equal_fit1_and_scan1blup_on_the_complete_cases(problem):
    P, K, X, Y, h = problem
    res = fit_effects(lmm.eigen_decompose(K), h, Y, P, X, covar_names=["sex", "w"])
    assert res.names == ("A", "B", "C", "D", "sex", "w", "intercept")
    assert (res.n_obs == 67).all() and res.pheno.size == 3 * 6
    obs = ~np.isnan(Y[:, 0])
    Ko = K[np.ix_(obs, obs)]
    blups = [scan1blup(P[obs], Y[obs, j], Ko, X[obs], hsq=h[j], se=True) for j in range(3)]
    order = [0, 1, 2, 3, 5, 6, 4]               # scan1blup: alleles, intercept, covariates
    for t, (j, m) in enumerate(zip(res.pheno, res.marker)):
        ref = fit1(P[obs, m], Y[obs, j], Ko, X[obs], hsq=h[j])
        np.testing.assert_allclose(res.coef[t], ref.coef, rtol=1e-9, atol=1e-9 * np.abs(ref.coef).max())
        np.testing.assert_allclose(res.se[t], ref.se, rtol=1e-9)
        assert res.lod[t] == pytest.approx(ref.lod, rel=1e-9, abs=1e-10)
        # the BLUPs follow η, found by the same Brent search on another rounding of the same
        # function (flat at its optimum: η to ~1e-8)
        np.testing.assert_allclose(res.blup[t], blups[j].coef[m, order], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(res.blup_se[t], blups[j].se[m, order], rtol=1e-6, atol=1e-8)
        assert res.qtl_hsq[t] == pytest.approx(blups[j].qtl_hsq[m], abs=1e-6)   # a flat REML optimum


def test_selected_pairs_and_phenotype_shift(problem):
    P, K, X, Y, h = problem
    dec = lmm.eigen_decompose(K)
    full = fit_effects(dec, h, Y, P, X)
    some = fit_effects(dec, h, Y, P, X, pairs=([2, 0], [5, 1]))
    for t, (j, m) in enumerate([(2, 5), (0, 1)]):
        u = j * 6 + m
        np.testing.assert_allclose(some.coef[t], full.coef[u], rtol=1e-10)
        np.testing.assert_allclose(some.blup[t], full.blup[u], rtol=1e-8)
    # y + c: only the intercept moves, by c (fixed and BLUP), SEs and LOD unchanged
    moved = fit_effects(dec, h, Y + 1e4, P, X)
    np.testing.assert_allclose(moved.coef[:, :-1], full.coef[:, :-1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(moved.coef[:, -1] - full.coef[:, -1], 1e4, rtol=1e-9)
    np.testing.assert_allclose(moved.blup[:, -1] - full.blup[:, -1], 1e4, rtol=1e-9)
    np.testing.assert_allclose(moved.se, full.se, rtol=1e-6)
    np.testing.assert_allclose(moved.lod, full.lod, rtol=1e-6)


def test_columns_with_their_own_missing_individuals_equal_one_call_each(problem):
    """Per-column missing-data patterns in one call (indicators profiled out per pattern, one η
    search for all pairs) equal one call per column, BLUPs included."""
    P, K, X, Y, h = problem
    dec = lmm.eigen_decompose(K)
    Z = Y.copy()
    Z[0, 1] = np.nan
    Z[[4, 9, 30], 2] = 1.5                                  # column 2: complete
    both = fit_effects(dec, h, Z, P, X)
    assert both.n_obs.tolist() == [67] * 6 + [66] * 6 + [70] * 6
    for j in range(3):
        one = fit_effects(dec, h[j:j + 1], Z[:, j:j + 1], P, X)
        rows = both.pheno == j
        np.testing.assert_allclose(both.coef[rows], one.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(both.se[rows], one.se, rtol=1e-10)
        np.testing.assert_allclose(both.lod[rows], one.lod, rtol=1e-10)
        # the BLUPs follow η, a Brent optimum of a flat function (as against scan1blup above)
        np.testing.assert_allclose(both.blup[rows], one.blup, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(both.blup_se[rows], one.blup_se, rtol=1e-6, atol=1e-8)


def test_dosage_against_dense_gls(problem):
    P, K, X, Y, h = problem
    rng = np.random.default_rng(3)
    D = rng.integers(0, 3, size=(K.shape[0], 4, 1)).astype(float)
    res = fit_effects(lmm.eigen_decompose(K), h, Y, D, X)
    assert res.names == ("dosage", "covar1", "covar2", "intercept")
    obs = ~np.isnan(Y[:, 0])
    for t, (j, m) in enumerate(zip(res.pheno, res.marker)):
        V = h[j] * K[np.ix_(obs, obs)] + (1 - h[j]) * np.eye(obs.sum())
        W = np.column_stack([D[obs, m, 0], X[obs], np.ones(obs.sum())])
        Vi = np.linalg.inv(V)
        A = np.linalg.inv(W.T @ Vi @ W)
        b = A @ W.T @ Vi @ Y[obs, j]
        r = Y[obs, j] - W @ b
        s2 = r @ Vi @ r / (obs.sum() - W.shape[1])
        np.testing.assert_allclose(res.coef[t], b, rtol=1e-8)
        np.testing.assert_allclose(res.se[t], np.sqrt(np.diag(A) * s2), rtol=1e-8)
    ref = scan1blup(D[obs], Y[obs, 1], K[np.ix_(obs, obs)], X[obs], hsq=h[1], se=True)
    np.testing.assert_allclose(res.blup[res.pheno == 1][:, [0, 3, 1, 2]], ref.coef, rtol=1e-6, atol=1e-8)


def test_absent_allele_gives_nan_not_an_error(problem):
    P, K, X, Y, h = problem
    P = P.copy()
    P[:, 3, 1] = 0.0
    P[:, 3] /= P[:, 3].sum(axis=1, keepdims=True)
    res = fit_effects(lmm.eigen_decompose(K), h, Y, P, X)
    bad = res.marker == 3
    assert np.isnan(res.coef[bad]).all() and np.isnan(res.lod[bad]).all()
    assert np.isfinite(res.coef[~bad]).all()


def test_bad_inputs_are_input_errors(problem):
    P, K, X, Y, h = problem
    dec = lmm.eigen_decompose(K)
    with pytest.raises(lmm.InputError, match="rank-deficient"):
        fit_effects(dec, h, Y, P, np.column_stack([X, np.ones(len(X))]))
    with pytest.raises(lmm.InputError, match="one value per column"):
        fit_effects(dec, [0.1, 0.2], Y, P, X)
    with pytest.raises(lmm.InputError, match="genotypes must be"):
        fit_effects(dec, h, Y, P[:, 0], X)


def test_a_covariate_constant_on_one_columns_observed_individuals_is_named(problem):
    """The rank of [1, X] over each column's own observed individuals: a column that misses the only
    individual where a covariate differs is refused, naming the column and the covariate; a column
    with too few observed individuals is named."""
    P, K, X, Y, h = problem
    dec = lmm.eigen_decompose(K)
    Xc = np.column_stack([X[:, 1], np.r_[1.0, np.zeros(len(X) - 1)]])     # 'spike' is non-zero on row 0 only
    Z = np.where(np.isnan(Y), 0.5, Y)
    Z[0, 2] = np.nan                                                      # column 2 misses row 0
    with pytest.raises(lmm.InputError, match=r"pheno column 2: spike"):
        fit_effects(dec, h, Z, P, Xc, covar_names=["w", "spike"])
    assert fit_effects(dec, h[:2], Z[:, :2], P, Xc).lod.size == 12        # the others are fine
    Z[6:, 1] = np.nan                                                     # column 1: 6 observed
    with pytest.raises(lmm.InputError, match=r"6 observed individuals \(pheno column 1\): too few"):
        fit_effects(dec, h, Z, P, Xc)


def test_the_batched_rank_test_agrees_with_the_exact_rule():
    """check_observed's eigenvalue test lets a column through only where the exact rule
    (rank_deficient_columns, pivoted QR) finds [1, X] of full rank: columns near and at collinearity."""
    from lmm.checks import rank_deficient_columns
    from lmm.effects_columns import check_observed

    rng = np.random.default_rng(5)
    n = 40
    x = rng.normal(size=n)
    for eps in (1e-2, 1e-5, 1e-7, 1e-9, 1e-12, 0.0):
        X1 = np.column_stack([np.ones(n), x, 2 * x + 3 + eps * np.r_[1.0, 0.0, rng.normal(size=n - 2)]])
        for drop in ([], [0], [1], [0, 1]):
            miss = np.zeros((n, 1), dtype=bool)
            miss[drop, 0] = True
            bad = rank_deficient_columns(X1[~miss[:, 0]])
            if bad:
                with pytest.raises(lmm.InputError, match="rank-deficient"):
                    check_observed(X1, miss, 1, 2, ["x", "z"])
            else:
                check_observed(X1, miss, 1, 2, ["x", "z"])


def _centred_kinship(rng, n, markers=200):
    """A kinship of centred genotypes: singular, its null eigenvector ``1/√n`` (rank n − 1)."""
    Z = rng.binomial(2, 0.4, size=(n, markers)).astype(float)
    Z -= Z.mean(axis=0)
    return Z @ Z.T / markers


def _constrained_fit(K, D, y):
    """Dense oracle of the GLS limit hsq → 1 on a singular K: ``min rᵀK⁺r`` subject to ``Nᵀr = 0``
    (N: K's null space, r = y − Dθ); the estimator ``θ̂ = L y`` is linear, so ``Cov(θ̂)/σ² = L K Lᵀ``."""
    from scipy import linalg

    lam, U = np.linalg.eigh(K)
    zero = lam < 1e-9 * lam.max()
    N, W = U[:, zero], U[:, ~zero] / np.sqrt(lam[~zero])        # whitening of the other directions
    B = linalg.null_space(N.T @ D)

    def estimate(v):
        t0 = np.linalg.lstsq(N.T @ D, N.T @ v, rcond=None)[0]
        t, *_ = np.linalg.lstsq(W.T @ D @ B, W.T @ (v - D @ t0), rcond=None)
        return t0 + B @ t

    theta = estimate(y)
    r = W.T @ (y - D @ theta)
    L = np.column_stack([estimate(e) for e in np.eye(len(y))])
    return theta, L @ K @ L.T, r @ r


def test_hsq_one_on_a_singular_kinship_is_the_constrained_limit():
    """hsq = 1 on a kinship of centred genotypes: the dense constrained GLS (estimates, SEs, LOD),
    continuity with hsq = 1 − 1e-7 (BLUPs and their SEs too), and the complete cases of a
    phenotype with missing individuals (K_oo is regular there: fit1 at hsq = 1)."""
    rng = np.random.default_rng(5)
    n, q, k = 60, 3, 4
    K = _centred_kinship(rng, n)
    P = rng.dirichlet(np.full(k, 0.7), size=(n, q))
    X = rng.normal(size=(n, 1))
    Y = rng.normal(size=(n, 2)) + 2.0 * P[:, 1, :1] + 5.0
    dec = lmm.eigen_decompose(K)
    assert (dec.kva <= 1e-12 * dec.kva.max()).sum() == 1
    res = fit_effects(dec, [1.0, 1.0], Y, P, X)
    near = fit_effects(dec, [1 - 1e-7, 1 - 1e-7], Y, P, X)
    A = np.zeros((k + 2, k + 1))
    A[:k, :k] = np.eye(k) - 1 / k
    A[k, k] = 1
    A[k + 1, :k] = 1 / k
    for t, (j, m) in enumerate(zip(res.pheno, res.marker)):
        theta, V, rss = _constrained_fit(K, np.column_stack([P[:, m], X]), Y[:, j])
        _, _, rss0 = _constrained_fit(K, np.column_stack([np.ones(n), X]), Y[:, j])
        np.testing.assert_allclose(res.coef[t], A @ theta, rtol=1e-8, atol=1e-10 * np.abs(theta).max())
        se = np.sqrt(np.diag(A @ V @ A.T) * rss / (n - k - 1))
        np.testing.assert_allclose(res.se[t], se, rtol=1e-7)
        assert res.lod[t] == pytest.approx(n / 2 * np.log10(rss0 / rss), rel=1e-9)
    for key in ("coef", "se", "lod"):
        np.testing.assert_allclose(getattr(res, key), getattr(near, key), rtol=1e-5, atol=1e-7, err_msg=key)
    # the BLUPs follow η, the Brent optimum of a flat function, which the step of 1e-7 in hsq (a
    # weight of 1e7 on the null row) and the BLAS's rounding move by up to about 1e-4
    for key in ("blup", "blup_se", "qtl_hsq"):
        np.testing.assert_allclose(getattr(res, key), getattr(near, key), rtol=1e-3, atol=1e-3, err_msg=key)
    # missing individuals: the limit is the complete cases' fit with their (regular) kinship
    Ym = Y.copy()
    Ym[[3, 17], :] = np.nan
    obs = ~np.isnan(Ym[:, 0])
    miss = fit_effects(dec, [1.0, 1.0], Ym, P, X)
    Koo = K[np.ix_(obs, obs)]
    blups = [scan1blup(P[obs], Ym[obs, j], Koo, X[obs], hsq=1.0, se=True) for j in range(2)]
    order = [0, 1, 2, 3, 5, 4]                       # scan1blup: alleles, intercept, covariates
    for t, (j, m) in enumerate(zip(miss.pheno, miss.marker)):
        ref = fit1(P[obs, m], Ym[obs, j], Koo, X[obs], hsq=1.0)
        np.testing.assert_allclose(miss.coef[t], ref.coef, rtol=1e-8, atol=1e-10 * np.abs(ref.coef).max())
        np.testing.assert_allclose(miss.se[t], ref.se, rtol=1e-7)
        assert miss.lod[t] == pytest.approx(ref.lod, rel=1e-8)
        # the BLUPs and their SEs (the intercept's extrapolated), η to its search's flatness as above
        np.testing.assert_allclose(miss.blup[t], blups[j].coef[m, order], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(miss.blup_se[t], blups[j].se[m, order], rtol=1e-5, atol=1e-6)


def test_hsq_one_with_a_null_direction_outside_the_covariates_is_refused():
    """A duplicated individual: K's null eigenvector e_i − e_j, which [1, X] does not span."""
    rng = np.random.default_rng(6)
    n = 40
    Z = rng.normal(size=(n, 80))
    Z[7] = Z[3]
    K = Z @ Z.T / 80
    P = rng.dirichlet(np.full(3, 0.7), size=(n, 2))
    Y = rng.normal(size=(n, 2))
    dec = lmm.eigen_decompose(K)
    with pytest.raises(lmm.InputError, match=r"hsq = 1 for phenotype column\(s\) 1 .*do not span"):
        fit_effects(dec, [0.5, 1.0], Y, P)
    assert np.isfinite(fit_effects(dec, [0.5, 0.9], Y, P).coef).all()


def test_recla_peak_equals_qtl2_fit1():
    """OF_immobile_pct's chr-2 peak, sex the only covariate: the estimates and SEs of R/qtl2's fit1."""
    from _qtl2_reference import recla_inputs

    pd = pytest.importorskip("pandas")
    r = recla_inputs()
    on2 = r.chrs == "2"
    P, y, sex = r.P[:, on2], r.pheno["OF_immobile_pct"].to_numpy(float), r.covar["sex"].to_numpy(float)
    m = list(r.markers[on2]).index("backupUNC021331957")
    hsq = 0.471123078084028                     # effects_OF_immobile_pct_chr2_info.tsv
    obs = ~np.isnan(y)
    dec = lmm.eigen_decompose(r.kinship["2"][np.ix_(obs, obs)])
    res = fit_effects(dec, hsq, y[obs, None], P[obs], sex[obs], pairs=([0], [m]), covar_names=["sex"])
    ref = pd.read_csv(REF / "fit1_OF_immobile_pct_chr2.tsv", sep="\t")
    ref = ref[ref["zerosum"].astype(str).str.upper() == "TRUE"].set_index("coefficient").loc[list(res.names)]
    np.testing.assert_allclose(res.coef[0], ref["estimate"], rtol=1e-9)
    np.testing.assert_allclose(res.se[0], ref["se"], rtol=1e-9)
    # scan1blup's estimates at the peak: qtl2's to its 1e-4 (test_effects_qtl2)
    blup = pd.read_csv(REF / "scan1blup_OF_immobile_pct_chr2.tsv", sep="\t")
    blup = blup[blup["marker"] == "backupUNC021331957"].set_index("coefficient").loc[list(res.names), "estimate"]
    assert np.max(np.abs(res.blup[0] - blup) / np.abs(blup).max()) < 1e-4
    # and scan1coef's estimates along the chromosome (the effects figure's curve)
    along = fit_effects(dec, hsq, y[obs, None], P[obs], sex[obs], blup=False)
    coef = scan1coef(P[obs], y[obs], r.kinship["2"][np.ix_(obs, obs)], sex[obs], hsq=hsq)
    scale = np.abs(coef.coef).max(axis=1, keepdims=True)
    assert np.max(np.abs(along.coef - coef.coef) / scale) < 1e-9

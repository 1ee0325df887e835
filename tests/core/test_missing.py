"""Phenotypes with missing values through one decomposition (Schur complement), lmm.missing.

Checked against the re-decomposition of the observed individuals' kinship (to 1e-8) for
k = 1 ... 50 missing individuals, and against the dense Gaussian likelihood.
"""

import numpy as np
import pytest

import lmm
from lmm.missing import MaskedEvaluator
from _core_data import dense_loglik, ml_constant, random_kinship, random_X, reml_constant, simulate_y

N = 120


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    K = random_kinship(rng, N)
    X = random_X(rng, N, 3)
    m = 51
    hsq = np.linspace(0.02, 0.98, m)
    Y = np.column_stack([simulate_y(rng, K, X, h) for h in hsq]) + 50.0
    for j in range(1, m):  # column j misses j individuals (k = 1 ... 50)
        Y[rng.choice(N, j, replace=False), j] = np.nan
    return K, Y, X, lmm.eigen_decompose(K)


def _redecomposed(K, y, X, reml, **kw):
    o = ~np.isnan(y)
    rot = lmm.eigen_rotation(K[np.ix_(o, o)], y[o], X[o])
    return lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, **kw), rot


@pytest.mark.parametrize("reml", [True, False])
def test_masked_fit_equals_redecomposition(data, reml):
    K, Y, X, dec = data
    fit = lmm.fit_lmm_masked(dec, Y, X, reml=reml, compute_se=True)
    assert fit.n.tolist() == [N - j for j in range(Y.shape[1])]
    for j in range(Y.shape[1]):
        ref, _ = _redecomposed(K, Y[:, j], X, reml, compute_se=True)
        got = fit.column(j)
        assert got.boundary == ref.boundary, j
        for key in ("hsq", "loglik", "sigmasq", "sigmasq_g", "hsq_ci_lower", "hsq_ci_upper"):
            np.testing.assert_allclose(getattr(got, key), getattr(ref, key), rtol=1e-8, atol=1e-10,
                                       err_msg=f"{key}, column {j}")
        np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-8, atol=1e-8, err_msg=f"beta {j}")
        # the SE of the masked path is a Richardson-extrapolated difference
        np.testing.assert_allclose(got.hsq_se, ref.hsq_se, rtol=1e-6, err_msg=f"se {j}")


@pytest.mark.parametrize("reml", [True, False])
def test_masked_loglik_equals_dense_oracle(data, reml):
    K, Y, X, dec = data
    grid = np.array([0.0, 1e-6, 0.25, 0.5, 0.75, 0.999999])
    ll = lmm.calc_ll_masked(grid, dec, Y[:, :12], X, reml=reml).loglik   # (g, 12)
    for j in range(12):
        o = ~np.isnan(Y[:, j])
        n_o = int(o.sum())
        const = reml_constant(n_o, X.shape[1]) if reml else ml_constant(n_o)
        for g, h in enumerate(grid):
            dense = dense_loglik(K[np.ix_(o, o)], Y[o, j], X[o], h, reml)
            np.testing.assert_allclose(ll[g, j] - const, dense, rtol=1e-9, err_msg=f"{j}, {h}")


def test_masked_calc_ll_shapes_and_redecomposition(data):
    K, Y, X, dec = data
    j = 30
    _, rot = _redecomposed(K, Y[:, j], X, True)
    grid = np.linspace(0, 1, 7)
    np.testing.assert_allclose(lmm.calc_ll_masked(grid, dec, Y[:, j], X).loglik,
                               lmm.calc_ll(grid, rot.kva, rot.y, rot.X).loglik, rtol=1e-10)
    assert np.ndim(lmm.calc_ll_masked(0.5, dec, Y[:, j], X).loglik) == 0
    assert lmm.calc_ll_masked(grid, dec, Y[:, :3], X).loglik.shape == (7, 3)
    assert lmm.calc_ll_masked(0.5, dec, Y[:, :3], X).beta.shape == (3, 3)


def test_masked_chunks_do_not_change_results(data):
    K, Y, X, dec = data
    a = lmm.fit_lmm_masked(dec, Y, X)
    b = lmm.fit_lmm_masked(dec, Y, X, block_elements=1)   # one column per block
    for key in ("hsq", "loglik", "beta", "hsq_ci_lower", "hsq_ci_upper"):
        np.testing.assert_allclose(getattr(a, key), getattr(b, key), rtol=1e-10, err_msg=key)


def test_masked_does_not_modify_inputs(data):
    K, Y, X, dec = data
    Y0, X0, kva0 = Y.copy(), X.copy(), dec.kva.copy()
    lmm.fit_lmm_masked(dec, Y[:, :5], X)
    np.testing.assert_array_equal(Y, Y0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(dec.kva, kva0)


def test_masked_input_checks(data):
    K, Y, X, dec = data
    with pytest.raises(lmm.InputError, match="decomposition must be"):
        lmm.fit_lmm_masked(K, Y, X)
    with pytest.raises(lmm.InputError, match="119 rows but the decomposition is of 120"):
        lmm.fit_lmm_masked(dec, Y[1:], X)
    y = Y[:, 3].copy()
    y[5] = np.inf
    with pytest.raises(lmm.InputError, match="infinite"):
        lmm.fit_lmm_masked(dec, y, X)
    y = np.full(N, np.nan)
    y[:4] = 1.0
    with pytest.raises(lmm.InputError, match=r"column 0 has 4 observed values, too few for p = 3"):
        lmm.fit_lmm_masked(dec, y, X)
    y = np.where(np.isnan(Y[:, 5]), np.nan, 7.0)
    with pytest.raises(lmm.InputError, match="explained exactly by the covariates"):
        lmm.fit_lmm_masked(dec, np.column_stack([Y[:, 4], y]), X)
    # a covariate that is constant on the observed individuals only
    Xc = X.copy()
    Xc[:, 1] = 0.0
    Xc[:3, 1] = 1.0
    y = Y[:, 0].copy()
    y[:3] = np.nan
    with pytest.raises(lmm.InputError, match="collinear on the observed individuals of column 1"):
        lmm.fit_lmm_masked(dec, np.column_stack([Y[:, 0], y]), Xc)


# --------------------------------------------------------------------------- singular K


def _centred_kinship(rng, n, q=400):
    """A kinship of centred genotypes (GEMMA's -gk 1): K·1 = 0, one zero eigenvalue."""
    G = rng.integers(0, 3, (n, q)).astype(float)
    W = G - G.mean(axis=0)
    return W @ W.T / q


@pytest.mark.parametrize("reml", [True, False])
def test_singular_kinship_masked_fit_equals_redecomposition(reml):
    """With K singular, hsq = 1 goes through K̃ = K + NNᵀ (Woodbury, determinant lemma) instead of
    one decomposition per pattern: ℓ over the whole grid (hsq = 1 included) and the fit equal the
    decomposition of K_oo; phenotypes near hsq = 1 reach the upper boundary the same way."""
    rng = np.random.default_rng(8)
    n = 90
    K = _centred_kinship(rng, n)
    dec = lmm.eigen_decompose(K)
    assert dec.n_clipped == 1
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    hsq = [0.0, 0.3, 0.7, 0.97, 1.0, 1.0]
    L = np.linalg.cholesky(K + 1e-9 * np.eye(n))
    Y = np.column_stack([np.sqrt(h) * L @ rng.normal(size=n) + np.sqrt(1 - h) * rng.normal(size=n)
                         for h in hsq]) + 3.0
    for j in range(Y.shape[1]):
        Y[rng.choice(n, 1 + j % 3, replace=False), j] = np.nan
    fit = lmm.fit_lmm_masked(dec, Y, X, reml=reml, polish=True)
    grid = np.array([0.0, 0.5, 0.999, 1.0])
    ll = lmm.calc_ll_masked(grid, dec, Y, X, reml=reml).loglik
    for j in range(Y.shape[1]):
        ref, rot = _redecomposed(K, Y[:, j], X, reml, polish=True)
        assert fit.hsq[j] == pytest.approx(ref.hsq, abs=1e-8)
        assert fit.boundary[j] == ref.boundary
        assert fit.loglik[j] == pytest.approx(ref.loglik, rel=1e-10)
        np.testing.assert_allclose(ll[:, j], lmm.calc_ll(grid, rot.kva, rot.y, rot.X, reml).loglik, rtol=1e-9)
        o = ~np.isnan(Y[:, j])
        dense = dense_loglik(K[np.ix_(o, o)], Y[o, j], X[o], 1.0, reml)
        const = reml_constant(o.sum(), X.shape[1]) if reml else ml_constant(o.sum())
        assert ll[-1, j] - const == pytest.approx(dense, rel=1e-9)
    assert (fit.boundary == "upper").any() and (fit.boundary == "none").any()


def _duplicated_individual():
    """K singular (individual 0 twice, as row n) and two phenotypes: the first observed on both
    copies (K_oo singular: its own decomposition), the second missing the copy (K_oo regular: the
    Schur complement); the copies differ, so ℓ(1) = −∞ and the optimum is interior.
    Returns ``(n, K, dec, X, Y)``."""
    rng = np.random.default_rng(4)
    n = 60
    K0 = random_kinship(rng, n)
    idx = np.r_[np.arange(n), 0]
    K = K0[np.ix_(idx, idx)]
    dec = lmm.eigen_decompose(K)
    X = np.ones((n + 1, 1))
    Y = rng.normal(size=(n + 1, 2)) + np.linalg.cholesky(K + 1e-9 * np.eye(n + 1)) @ rng.normal(size=(n + 1, 2))
    Y[5, 0] = np.nan
    Y[-1, 1] = np.nan
    Y[0, 0] = Y[-1, 0] + 0.5
    return n, K, dec, X, Y


def test_singular_observed_block_gets_its_own_decomposition():
    """K singular with a duplicated individual: a phenotype observed on both copies has a singular
    K_oo (I − N_oᵀK̃_oo⁻¹N_o singular) and is fitted from its own decomposition; one that misses a
    copy goes through the Schur complement; both equal the re-decomposition."""
    n, K, dec, X, Y = _duplicated_individual()
    assert dec.n_clipped == 1
    ev = MaskedEvaluator(np.ascontiguousarray(dec.kve_t.T), dec.kva, dec.kve_t @ np.linalg.qr(X)[0],
                             *np.linalg.qr(X), Y, np.array([[5], [n]]), True)
    np.testing.assert_array_equal(ev.regular, [False, True])
    fit = lmm.fit_lmm_masked(dec, Y, X, polish=True)
    for j in range(2):
        ref, _ = _redecomposed(K, Y[:, j], X, True, polish=True)
        assert fit.hsq[j] == pytest.approx(ref.hsq, abs=1e-8)
        assert fit.loglik[j] == pytest.approx(ref.loglik, rel=1e-10)


# --------------------------------------------------------------------------- units out of range


def _assert_same_fit_on_scale(got, ref, c, n_obs, p, reml):
    """``got`` is the fit of ``y·c`` (c = 1e±200), ``ref`` that of ``y``: hsq equal, every field
    finite, σ²·4^k = σ²_ref·c² and β·2^k = β_ref·c (compared in log space: σ²_ref·c² is out of
    range), ℓ = ℓ_ref − dof·log c."""
    k = np.asarray(got.y_scale_log2)
    np.testing.assert_allclose(got.hsq, ref.hsq, rtol=0, atol=1e-10)
    for key in ("hsq", "beta", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "hsq_se",
                "hsq_ci_lower", "hsq_ci_upper", "ci_cutoff"):
        assert np.isfinite(getattr(got, key)).all(), key
    assert (k != 0).all()
    for key in ("sigmasq", "sigmasq_g", "sigmasq_e"):
        np.testing.assert_allclose(np.log(getattr(got, key)) + k * np.log(4.0),
                                   np.log(getattr(ref, key)) + 2.0 * np.log(c),
                                   rtol=0, atol=1e-10, err_msg=key)
    # β: ldexp is exact; relative to the largest coefficient of the column
    b_got = np.ldexp(got.beta, k[None, :]) / c
    np.testing.assert_allclose(b_got, ref.beta, rtol=0,
                               atol=1e-10 * np.abs(ref.beta).max(axis=0).max())
    dof = n_obs - (p if reml else 0)
    np.testing.assert_allclose(got.loglik, ref.loglik - dof * np.log(c), rtol=1e-10)
    np.testing.assert_allclose(got.hsq_ci_lower, ref.hsq_ci_lower, atol=1e-8)
    np.testing.assert_allclose(got.hsq_ci_upper, ref.hsq_ci_upper, atol=1e-8)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("c, status", [(1e200, "scale_overflow"), (1e-200, "scale_underflow")])
def test_masked_fit_out_of_float64_range(data, c, status, reml):
    """y·1e200 and y·1e-200 with missing values, and a column without (fitted by fit_lmm in the
    same call): σ² and β for y·2^−k (y_scale_log2 = k), status scale_overflow / scale_underflow,
    every number finite, hsq as for y; calc_ll_masked still scales back itself."""
    K, Y, X, dec = data
    cols = [0, 1, 7, 30]                 # 0, 1, 7 and 30 missing values
    y = Y[:, cols]
    ref = lmm.fit_lmm_masked(dec, y, X, reml=reml, polish=True, compute_se=True)
    assert (ref.status == "ok").all() and (ref.y_scale_log2 == 0).all()
    assert (ref.boundary == "none").all()
    got = lmm.fit_lmm_masked(dec, y * c, X, reml=reml, polish=True, compute_se=True)
    assert got.status.tolist() == [status] * len(cols)
    _assert_same_fit_on_scale(got, ref, c, got.n, X.shape[1], reml)
    np.testing.assert_array_equal(got.n, ref.n)
    # one column, 1-D y: a scalar exponent
    one = lmm.fit_lmm_masked(dec, y[:, 2] * c, X, reml=reml, polish=True)
    assert one.status == status and np.isfinite(one.sigmasq) and one.y_scale_log2 == got.y_scale_log2[2]
    # calc_ll_masked: the user's units (σ² out of range: inf or 0), ℓ and β as for y
    grid = np.array([0.1, 0.6])
    ll_ref = lmm.calc_ll_masked(grid, dec, y, X, reml=reml)
    with np.errstate(over="ignore", under="ignore"):
        ll = lmm.calc_ll_masked(grid, dec, y * c, X, reml=reml)
    dof = got.n - (X.shape[1] if reml else 0)
    np.testing.assert_allclose(ll.loglik, ll_ref.loglik - dof * np.log(c), rtol=1e-10)
    np.testing.assert_allclose(ll.beta / c, ll_ref.beta, rtol=1e-9, atol=1e-9)
    assert (ll.sigmasq == (np.inf if c > 1 else 0.0)).all()


@pytest.mark.parametrize("c, status", [(1e200, "scale_overflow"), (1e-200, "scale_underflow")])
def test_masked_fit_out_of_range_own_decomposition(c, status):
    """A column fitted from its own decomposition of K_oo (K singular, K_oo singular) keeps its
    y_scale_log2 too, beside one through the Schur complement."""
    _, _, dec, X, Y = _duplicated_individual()
    ref = lmm.fit_lmm_masked(dec, Y, X, polish=True, compute_se=True)
    assert (ref.status == "ok").all() and (ref.boundary == "none").all()
    got = lmm.fit_lmm_masked(dec, Y * c, X, polish=True, compute_se=True)
    assert got.status.tolist() == [status] * 2
    _assert_same_fit_on_scale(got, ref, c, got.n, 1, True)

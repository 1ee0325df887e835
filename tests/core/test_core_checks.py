"""Input checks of the public functions of the core, each with its message; and a hypothesis
property: random shapes and values give either a sane result or an InputError/ValueError with a
message — never another exception type, never a silent NaN."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lmm

N = 12


@pytest.fixture(scope="module")
def good():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(N, 2 * N))
    K = G @ G.T / (2 * N)
    X = np.column_stack([np.ones(N), (np.arange(N) % 2).astype(float), rng.normal(size=N)])
    y = rng.normal(size=N)
    rot = lmm.eigen_rotation(K, y, X)
    return K, X, y, rot


def _core_calls(kva, y, X, **kw):
    """The three functions taking rotated data, each as a thunk."""
    return {
        "get_ml_soln": lambda: lmm.get_ml_soln(0.5, kva, y, X, **kw),
        "calc_ll": lambda: lmm.calc_ll(0.5, kva, y, X, **kw),
        "fit_lmm": lambda: lmm.fit_lmm(kva, y, X, **kw),
    }


def test_input_error_is_value_error():
    assert issubclass(lmm.InputError, ValueError)


# ---------------------------------------------------------------------------------------------
# shapes


def test_eigen_rotation_shapes(good):
    K, X, y, _ = good
    with pytest.raises(lmm.InputError, match=r"y has 11 rows but K is 12 x 12"):
        lmm.eigen_rotation(K, y[:-1], X)
    with pytest.raises(lmm.InputError, match=r"X has 10 rows but y has 12"):
        lmm.eigen_rotation(K, y, X[:-2])
    with pytest.raises(lmm.InputError, match=r"K must be a square matrix, got shape \(12, 11\)"):
        lmm.eigen_rotation(K[:, :-1], y, X)
    with pytest.raises(lmm.InputError, match=r"K must be a square matrix, got shape \(12,\)"):
        lmm.eigen_rotation(K[0], y, X)
    with pytest.raises(lmm.InputError, match=r"y must be 1-D \(n,\) or 2-D \(n, m\), got shape \(12, 1, 1\)"):
        lmm.eigen_rotation(K, y[:, None, None], X)
    with pytest.raises(lmm.InputError, match=r"y has no columns"):
        lmm.eigen_rotation(K, np.empty((N, 0)), X)
    with pytest.raises(lmm.InputError, match=r"X must be 2-D"):
        lmm.eigen_rotation(K, y, X[:, :, None])
    with pytest.raises(lmm.InputError, match=r"X has no columns"):
        lmm.eigen_rotation(K, y, np.empty((N, 0)))
    with pytest.raises(lmm.InputError, match=r"K is empty"):
        lmm.eigen_rotation(np.empty((0, 0)), np.empty(0))


def test_rotate_with_decomposition_shapes(good):
    _, X, y, rot = good
    with pytest.raises(lmm.InputError, match=r"y has 13 rows but K is 12 x 12"):
        rot.rotate(np.ones(13))
    with pytest.raises(lmm.InputError, match=r"X has 11 rows but y has 12"):
        rot.decomposition.rotate(y, X[1:])


@pytest.mark.parametrize("func", ["get_ml_soln", "calc_ll", "fit_lmm"])
def test_rotated_data_shapes(good, func):
    _, _, _, rot = good
    with pytest.raises(lmm.InputError, match=r"kva has 11 eigenvalues but y has 12 rows"):
        _core_calls(rot.kva[:-1], rot.y, rot.X)[func]()
    with pytest.raises(lmm.InputError, match=r"X has 11 rows but y has 12"):
        _core_calls(rot.kva, rot.y, rot.X[:-1])[func]()
    with pytest.raises(lmm.InputError, match=r"kva must be 1-D \(n,\), got shape \(12, 1\)"):
        _core_calls(rot.kva[:, None], rot.y, rot.X)[func]()
    with pytest.raises(lmm.InputError, match=r"y must be 1-D"):
        _core_calls(rot.kva, rot.y[:, None, None], rot.X)[func]()
    with pytest.raises(lmm.InputError, match=r"kva has 12 eigenvalues but y has 3 rows"):
        _core_calls(rot.kva, rot.y[:3], rot.X[:3])[func]()


# ---------------------------------------------------------------------------------------------
# values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(good, bad):
    K, X, y, rot = good
    y2 = y.copy(); y2[3] = bad
    with pytest.raises(lmm.InputError, match=r"y has 1 non-finite value\(s\) \(NaN or Inf\) at position\(s\) 3\b"):
        lmm.eigen_rotation(K, y2, X)
    X2 = X.copy(); X2[5, 2] = bad
    with pytest.raises(lmm.InputError, match=r"X has 1 non-finite value\(s\).*\(5, 2\)"):
        lmm.eigen_rotation(K, y, X2)
    K2 = K.copy(); K2[1, 2] = K2[2, 1] = bad
    with pytest.raises(lmm.InputError, match=r"K has 2 non-finite value\(s\).*\(1, 2\), \(2, 1\)"):
        lmm.eigen_rotation(K2, y, X)
    Y = np.column_stack([y, y]); Y[7, 1] = bad
    with pytest.raises(lmm.InputError, match=r"y has 1 non-finite value\(s\).*\(7, 1\)"):
        lmm.eigen_rotation(K, Y, X)
    kva = rot.kva.copy(); kva[0] = bad
    for name, call in _core_calls(kva, rot.y, rot.X).items():
        with pytest.raises(lmm.InputError, match=r"kva has 1 non-finite value\(s\).*position\(s\) 0\b"):
            call()
    for name, call in _core_calls(rot.kva, y2, rot.X).items():
        with pytest.raises(lmm.InputError, match=r"y has 1 non-finite"):
            call()
    for name, call in _core_calls(rot.kva, rot.y, X2).items():
        with pytest.raises(lmm.InputError, match=r"X has 1 non-finite"):
            call()
    with pytest.raises(lmm.InputError, match=r"hsq has 1 non-finite"):
        lmm.calc_ll(np.array([0.5, bad]), rot.kva, rot.y, rot.X)


def test_many_non_finite_values_are_counted(good):
    K, X, y, _ = good
    y2 = y.copy(); y2[:8] = np.nan
    with pytest.raises(lmm.InputError, match=r"y has 8 non-finite value\(s\).*0, 1, 2, 3, 4, \.\.\. \(8 in all\)"):
        lmm.eigen_rotation(K, y2, X)


def test_non_numeric(good):
    K, X, y, _ = good
    with pytest.raises(lmm.InputError, match=r"y must be numeric"):
        lmm.eigen_rotation(K, np.array(["a"] * N, dtype=object), X)
    with pytest.raises(lmm.InputError, match=r"K must be numeric"):
        lmm.eigen_rotation([["a", "b"], ["c", "d"]], y[:2])


def test_kinship_not_symmetric(good):
    K, X, y, _ = good
    K2 = K.copy(); K2[2, 7] += 1e-3
    with pytest.raises(lmm.InputError, match=r"K is not symmetric: \|K\[(2,7|7,2)\] - K\[(7,2|2,7)\]\| = 0\.001"):
        lmm.eigen_rotation(K2, y, X)
    with pytest.raises(lmm.InputError, match=r"K is not symmetric"):
        lmm.eigen_decompose(K2)
    # round-off asymmetry is accepted
    K3 = K.copy(); K3[2, 7] += 1e-14
    lmm.eigen_rotation(K3, y, X)


def test_kinship_not_psd(good):
    K, X, y, _ = good
    K2 = K - 0.5 * np.eye(N) * np.linalg.eigvalsh(K).max()
    with pytest.raises(lmm.InputError, match=r"K is not positive semi-definite: \d+ eigenvalue\(s\) are materially negative"):
        lmm.eigen_rotation(K2, y, X)
    with pytest.raises(lmm.InputError, match=r"not positive semi-definite"):
        lmm.eigen_decompose(K2)
    # round-off negative eigenvalues (rank-deficient K) are clipped to 0 and counted
    rng = np.random.default_rng(5)
    G = rng.normal(size=(N, 3))
    dec = lmm.eigen_decompose(G @ G.T - 1e-10 * np.eye(N))  # N - 3 eigenvalues at -1e-10
    assert np.all(dec.kva >= 0) and np.sum(dec.kva == 0) == N - 3
    assert dec.n_clipped == N - 3
    np.testing.assert_allclose(dec.min_eigenvalue, -1e-10, rtol=1e-3)


@pytest.mark.parametrize("func", ["get_ml_soln", "calc_ll", "fit_lmm"])
def test_negative_eigenvalues(good, func):
    _, _, _, rot = good
    kva = rot.kva.copy(); kva[0] = -0.3
    with pytest.raises(lmm.InputError, match=r"kva has negative eigenvalue\(s\) down to -0\.3"):
        _core_calls(kva, rot.y, rot.X)[func]()
    kva[0] = -1e-14  # round-off: accepted
    _core_calls(kva, rot.y, rot.X)[func]()


# ---------------------------------------------------------------------------------------------
# covariates


def test_rank_deficient_X(good):
    K, X, y, rot = good
    Xd = np.column_stack([X, X[:, 1] * 2 - X[:, 0]])
    with pytest.raises(lmm.InputError, match=r"X is rank-deficient: column 3 is a linear combination"):
        lmm.eigen_rotation(K, y, Xd)
    Xz = np.column_stack([X[:, :2], np.zeros(N), X[:, 2], X[:, 2] + X[:, 1]])
    with pytest.raises(lmm.InputError, match=r"X is rank-deficient: column 2, column 4 are linear combinations"):
        lmm.eigen_rotation(K, y, Xz)
    # on rotated data, with names
    Xr = rot.kve_t @ Xd
    names = ["intercept", "sex", "age", "sex2"]
    for name, call in _core_calls(rot.kva, rot.y, Xr, x_names=names).items():
        with pytest.raises(lmm.InputError, match=r"X is rank-deficient: sex2 is a linear combination .*drop it"):
            call()
    for name, call in _core_calls(rot.kva, rot.y, Xr).items():
        with pytest.raises(lmm.InputError, match=r"X is rank-deficient: column 3 is"):
            call()


@pytest.mark.parametrize("func", ["get_ml_soln", "calc_ll", "fit_lmm"])
def test_too_few_individuals(func):
    rng = np.random.default_rng(1)
    n = 3
    kva = np.array([0.5, 1.0, 1.5])
    X = rng.normal(size=(n, 3))
    with pytest.raises(lmm.InputError, match=r"too few individuals: n = 3 is not larger than the number of covariates p = 3"):
        _core_calls(kva, rng.normal(size=n), X)[func]()
    with pytest.raises(lmm.InputError, match=r"n = 3 is not larger than the number of covariates p = 4"):
        _core_calls(kva, rng.normal(size=n), rng.normal(size=(n, 4)))[func]()


def test_too_few_individuals_rotation():
    with pytest.raises(lmm.InputError, match=r"n = 2 is not larger than the number of covariates p = 2"):
        lmm.eigen_rotation(np.eye(2), np.ones(2), np.array([[1.0, 0.0], [1.0, 1.0]]))


@pytest.mark.parametrize("func", ["get_ml_soln", "calc_ll", "fit_lmm"])
def test_too_few_individuals_intercept_only(func):
    """An intercept with n = 1 is n ≤ p too; without the check, calc_ll and
    get_ml_soln return NaN (σ̂² = 0/0) and fit_lmm blames the phenotype."""
    with pytest.raises(lmm.InputError, match=r"n = 1 is not larger than the number of covariates p = 1"):
        _core_calls(np.array([1.0]), np.array([2.0]), np.ones((1, 1)), reml=True)[func]()


@pytest.mark.parametrize("func", ["get_ml_soln", "calc_ll", "fit_lmm"])
def test_rotated_data_need_rotated_X(good, func):
    """X=None on rotated data would be an unrotated intercept (issue 9: hsq 0.067 for 0.526)."""
    _, _, _, rot = good
    with pytest.raises(lmm.InputError, match=r"X is required with rotated data: pass the rotated "
                                             r"covariates rot.X"):
        _core_calls(rot.kva, rot.y, None)[func]()
    # the Rotation made without X carries the rotated intercept
    r0 = rot.decomposition.rotate(rot.kve_t.T @ rot.y)
    np.testing.assert_allclose(r0.X[:, 0], rot.kve_t @ np.ones(N), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# scalars


@pytest.mark.parametrize("tol", [0, -1e-4, np.nan, np.inf, "abc", None])
def test_tol(good, tol):
    _, _, _, rot = good
    with pytest.raises(lmm.InputError, match=r"tol must be a positive number, got " + re.escape(repr(tol))):
        lmm.fit_lmm(rot.kva, rot.y, rot.X, tol=tol)


@pytest.mark.parametrize("hsq", [-0.1, 1.0 + 1e-12, 2.0, [0.5, -1e-9]])
def test_hsq_outside_unit_interval(good, hsq):
    _, _, _, rot = good
    with pytest.raises(lmm.InputError, match=r"hsq must lie in \[0, 1\]; got values from"):
        lmm.calc_ll(hsq, rot.kva, rot.y, rot.X)
    if np.ndim(hsq) == 0:
        with pytest.raises(lmm.InputError, match=r"hsq must lie in \[0, 1\]"):
            lmm.get_ml_soln(hsq, rot.kva, rot.y, rot.X)


def test_hsq_shapes(good):
    _, _, _, rot = good
    with pytest.raises(lmm.InputError, match=r"hsq must be a scalar or 1-D, got shape \(2, 2\)"):
        lmm.calc_ll(np.full((2, 2), 0.5), rot.kva, rot.y, rot.X)
    with pytest.raises(lmm.InputError, match=r"get_ml_soln takes a scalar hsq; use calc_ll for a grid"):
        lmm.get_ml_soln(np.array([0.1, 0.2]), rot.kva, rot.y, rot.X)
    with pytest.raises(lmm.InputError, match=r"hsq must be numeric"):
        lmm.calc_ll("half", rot.kva, rot.y, rot.X)


# ---------------------------------------------------------------------------------------------
# hypothesis: anything goes in, only sane results or ValueErrors with a message come out


@st.composite
def problems(draw):
    n = draw(st.integers(1, 9))
    p = draw(st.integers(0, 3))            # 0: X=None (intercept)
    m = draw(st.sampled_from([None, 1, 3]))
    k = draw(st.integers(1, 10))           # columns of G: K = G Gᵀ / k has rank ≤ k
    finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
    small = st.integers(-3, 3).map(float)  # ties, zeros and exact collinearity
    el = st.one_of(finite, small)
    G = np.array(draw(st.lists(el, min_size=n * k, max_size=n * k)), dtype=float).reshape(n, k)
    K = G @ G.T / k + draw(st.sampled_from([0.0, 0.0, 1e-3, 1.0])) * np.eye(n)
    ny = n + draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, -1]))
    ny = max(ny, 0)
    y = np.array(draw(st.lists(el, min_size=ny * (m or 1), max_size=ny * (m or 1))), dtype=float)
    y = y.reshape(ny) if m is None else y.reshape(ny, m)
    X = None
    if p:
        X = np.array(draw(st.lists(el, min_size=n * p, max_size=n * p)), dtype=float).reshape(n, p)
        if draw(st.booleans()):
            X[:, 0] = 1.0
    spoil = draw(st.sampled_from(["none"] * 6 + ["nan_y", "inf_K", "asym_K", "neg_K", "nan_X"]))
    if spoil == "nan_y" and y.size:
        y.flat[draw(st.integers(0, y.size - 1))] = np.nan
    elif spoil == "inf_K":
        K[0, -1] = np.inf
    elif spoil == "asym_K" and n > 1:
        K[0, 1] += 1.0
    elif spoil == "neg_K":
        K -= (abs(K).max() + 1.0) * np.eye(n)
    elif spoil == "nan_X" and X is not None:
        X[-1, -1] = np.nan
    hsq = draw(st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1)))
    reml = draw(st.booleans())
    return K, y, X, hsq, reml


def _message_ok(exc):
    assert isinstance(exc, ValueError)
    assert str(exc).strip(), f"{type(exc).__name__} without a message"


@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_inputs_give_results_or_value_errors(problem):
    K, y, X, hsq, reml = problem
    try:
        rot = lmm.eigen_rotation(K, y, X)
    except ValueError as exc:  # InputError, or numpy's LinAlgError (a ValueError)
        _message_ok(exc)
        return
    n = K.shape[0]
    assert rot.kva.shape == (n,) and np.all(rot.kva >= 0) and np.all(np.isfinite(rot.kve_t))
    assert rot.y.shape == np.shape(y) and np.all(np.isfinite(rot.y)) and rot.X.shape[0] == n

    try:
        ll = lmm.calc_ll(hsq, rot.kva, rot.y, rot.X, reml=reml)
    except ValueError as exc:
        _message_ok(exc)
    else:
        loglik = np.asarray(ll.loglik)
        assert not np.any(np.isnan(loglik)), "calc_ll returned NaN"
        # hsq = 1 with an eigenvalue that is 0 in floating point: ℓ = -inf by definition
        singular = 1.0 + hsq * (rot.kva.min() - 1.0) <= 0.0
        if singular:
            assert np.all(loglik == -np.inf)
        else:
            # finite, except +inf for a column the covariates explain exactly (rss = 0)
            assert np.all(np.isfinite(loglik) | ((loglik == np.inf) & (np.asarray(ll.rss) <= 0)))
            assert not np.any(np.isnan(ll.beta)) and not np.any(np.isnan(ll.sigmasq))

    try:
        fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True)
    except ValueError as exc:
        _message_ok(exc)
        return
    h = np.atleast_1d(fit.hsq)
    assert np.all(np.isfinite(h)) and np.all((h >= 0) & (h <= 1))
    assert np.all(np.isfinite(fit.loglik)), "fit_lmm returned a non-finite loglik"
    assert np.all(np.isfinite(fit.beta)) and np.all(np.isfinite(fit.sigmasq))
    assert np.all(np.asarray(fit.sigmasq) > 0)
    lo, hi = np.atleast_1d(fit.hsq_ci_lower), np.atleast_1d(fit.hsq_ci_upper)
    assert np.all((0 <= lo) & (lo <= h) & (h <= hi) & (hi <= 1)), (lo, h, hi)
    se = np.atleast_1d(fit.hsq_se)
    b = np.atleast_1d(fit.boundary)
    assert np.all(np.isnan(se[b != "none"]))
    assert np.all(np.isnan(se) | (se > 0))
    assert np.all((b == "none") | ((b == "lower") & (h == 0)) | ((b == "upper") & (h == 1)))
    # the fit is at least as good as a coarse grid
    grid = lmm.calc_ll(np.linspace(0, 1, 11), rot.kva, rot.y, rot.X, reml=reml).loglik
    best = np.max(np.where(np.isfinite(grid), grid, -np.inf), axis=0)
    assert np.all(np.asarray(fit.loglik) >= best - 1e-6 * np.maximum(1, np.abs(best)))


def test_times_pow2_is_ldexp_bit_for_bit():
    """The scaling by powers of two of the fits (one multiplication where ``2^e`` is normal) gives
    numpy.ldexp's values exactly: subnormal results, overflow and exponents beyond the normal
    range (ldexp then) included."""
    from lmm.checks import times_pow2
    rng = np.random.default_rng(7)
    a = rng.normal(size=(200, 30)) * np.exp(rng.uniform(-700, 700, size=(200, 30)))
    a[0, 0], a[1, 1] = 0.0, 5e-324
    for e in (rng.integers(-60, 60, 30), rng.integers(-1022, 1024, 30), rng.integers(-1100, 1100, 30)):
        with np.errstate(over="ignore"):
            got, want = times_pow2(a, e[None, :]), np.ldexp(a, e[None, :])
        assert np.array_equal(got, want)
        assert got.dtype == want.dtype
    out = np.empty_like(a)
    assert times_pow2(a, -3, out=out) is out and np.array_equal(out, a / 8)

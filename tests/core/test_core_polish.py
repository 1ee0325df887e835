"""The polish of interior optima (lmm.search, note 4): Newton's method on the analytic score.

* the scores of both evaluators (:mod:`lmm.evaluators`, :mod:`lmm.missing`) against
  central differences of their own ``ℓ``, and against each other on complete data;
* the polished ``ĥ`` is a root of the score to round-off and agrees with the root of a
  finite-difference score of ``ℓ`` computed in extended precision (``np.longdouble``),
  written here from the formulas without the package;
* ``hsq`` identical to 1e-9 relative (in fact ~1e-13) for ``y·c``, ``c = 1e-200 … 1e200``,
  through both fit paths, and for ``y + c``, ``c ≤ 1e12``, through the Schur path
  (:func:`lmm.fit_lmm_masked` on columns with missing values), which removes the offset
  exactly. Rotated data (:func:`lmm.fit_lmm`) carry the offset as ``Uᵀ(y + c)``, rounded
  to ``~ε·c``: there ``hsq`` is invariant only as far as that rounding allows (to 1e-9 for
  ``c`` up to ~1e5 times the spread of ``y``; 1e-7 at 1e9, 1e-3 at 1e12);
* ``polish=False`` is the Brent search alone, whose optimum moves by up to ~1e-7 with the
  units (the reason for the polish);
* the grid start (``start="grid"``, the scan's null fits) reaches the optimum that Brent's
  start reaches, to 1e-10, except next to a boundary where Brent's point was worse than the
  boundary and the grid's polished interior point is better; the masked evaluator's grid in
  one matrix product equals its points one by one.
"""

from __future__ import annotations

import numpy as np
import pytest

import lmm
from lmm.errors import InputError
from lmm.evaluators import RotatedEvaluator
from lmm.likelihood import prepare
from lmm.missing import MaskedEvaluator
from lmm.result import assemble
from lmm.search import GRID_START, search

try:
    from _core_data import random_kinship, random_X, simulate_y
except ImportError:  # tests/ made a package by someone else
    from tests._core_data import random_kinship, random_X, simulate_y

N = 90
HSQ = [0.1, 0.3, 0.5, 0.7, 0.85]
SCALES = [1e-200, 1e-50, 3.7, 1e50, 1e200]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2024)
    K = random_kinship(rng, N)
    X = random_X(rng, N, 3)
    Y = np.column_stack([simulate_y(rng, K, X, h) for h in HSQ])
    Ym = Y.copy()
    for j in range(Y.shape[1]):                      # 1 … 5 missing values per column
        Ym[rng.choice(N, j + 1, replace=False), j] = np.nan
    return K, X, Y, Ym, lmm.eigen_decompose(K)


def _masked_evaluator(dec, y, X, reml):
    """A :class:`MaskedEvaluator` of columns that all miss the same (possibly no) rows."""
    miss = np.isnan(y[:, 0])
    M = np.tile(np.flatnonzero(miss), (y.shape[1], 1))
    Q, R = np.linalg.qr(X)
    return MaskedEvaluator(np.ascontiguousarray(dec.kve_t.T), dec.kva, dec.kve_t @ Q, Q, R, y, M,
                           reml)


def _fit(ev, n, p, reml, polish=True):
    return assemble(search(ev, True, 1e-4, False, False, polish=polish), n, p, reml)


# ---------------------------------------------------------------------------------------------
# the score


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_score_against_central_differences(data, reml):
    K, X, Y, Ym, dec = data
    rot = dec.rotate(Y, X)
    h = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
    cols = np.arange(Y.shape[1])
    Yk = Y.copy()
    Yk[[3, 17, 40], :] = np.nan
    evs = [RotatedEvaluator(prepare(rot.kva, rot.y, rot.X), reml),
           _masked_evaluator(dec, Yk, X, reml)]
    for ev in evs:
        g = ev.first_derivative(h, cols)
        for delta in (1e-4, 1e-5):    # error O(δ²) + O(ε/δ): both estimates agree with g
            fd = (ev(h + delta, cols) - ev(h - delta, cols)) / (2 * delta)
            np.testing.assert_allclose(fd, g, rtol=1e-6, atol=1e-6, err_msg=type(ev).__name__)


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_masked_score_with_distinct_patterns(data, reml):
    """Each column with its own missing rows (the fit path's layout) against differences."""
    K, X, Y, Ym, dec = data
    n, p = X.shape
    Q, R = np.linalg.qr(X)
    k = 4
    rng = np.random.default_rng(5)
    M = np.sort(np.stack([rng.choice(n, k, replace=False) for _ in range(Y.shape[1])]), axis=1)
    y = Y.copy()
    for j in range(Y.shape[1]):
        y[M[j], j] = np.nan
    ev = MaskedEvaluator(np.ascontiguousarray(dec.kve_t.T), dec.kva, dec.kve_t @ Q, Q, R, y, M,
                         reml)
    h = np.array([0.2, 0.4, 0.6, 0.75, 0.9])
    cols = np.arange(y.shape[1])
    delta = 1e-5
    fd = (ev(h + delta, cols) - ev(h - delta, cols)) / (2 * delta)
    np.testing.assert_allclose(fd, ev.first_derivative(h, cols), rtol=1e-6, atol=1e-6)


def test_masked_columns_asked_for_several_times_equal_one_at_a_time(data):
    """A column asked for at several points in one call (the polish's two points, any order)
    gives what each point gives alone: value and score."""
    K, X, Y, Ym, dec = data
    Yk = Y.copy()
    Yk[[3, 17], :] = np.nan
    ev = _masked_evaluator(dec, Yk, X, True)
    idx = np.array([4, 1, 4, 0, 1, 4, 2])
    h = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    alone_ll = np.array([ev(h[i:i + 1], idx[i:i + 1])[0] for i in range(idx.size)])
    alone_g = np.array([ev.first_derivative(h[i:i + 1], idx[i:i + 1])[0] for i in range(idx.size)])
    np.testing.assert_allclose(ev(h, idx), alone_ll, rtol=1e-13)
    np.testing.assert_allclose(ev.first_derivative(h, idx), alone_g, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_evaluators_agree_on_complete_data(data, reml):
    """Rotated and Schur (k = 0) evaluators: the same score, and the same polished hsq to 1e-12."""
    K, X, Y, Ym, dec = data
    n, p = X.shape
    rot = dec.rotate(Y, X)
    ev_r = RotatedEvaluator(prepare(rot.kva, rot.y, rot.X), reml)
    ev_m = _masked_evaluator(dec, Y, X, reml)
    h = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    cols = np.arange(Y.shape[1])
    np.testing.assert_allclose(ev_m.first_derivative(h, cols), ev_r.first_derivative(h, cols),
                               rtol=1e-10, atol=1e-10)
    f_r, f_m = _fit(ev_r, n, p, reml), _fit(ev_m, n, p, reml)
    assert list(f_r.boundary) == list(f_m.boundary) == ["none"] * Y.shape[1]
    np.testing.assert_allclose(f_m.hsq, f_r.hsq, rtol=1e-12, atol=0)
    # the Brent search alone agrees only to its tolerance
    g_r, g_m = _fit(ev_r, n, p, reml, polish=False), _fit(ev_m, n, p, reml, polish=False)
    np.testing.assert_allclose(g_m.hsq, g_r.hsq, rtol=0, atol=1e-4)


@pytest.mark.parametrize("tol", [1e-4, 1e-8])
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_every_interior_optimum_is_polished(reml, tol):
    """Many columns of all heritabilities, at lmmlite's tol and at a tol where Brent's
    comparisons of ``ℓ`` are round-off (its bracket may then miss the root): every interior
    optimum is a root of the score to 1e-12, with an ℓ no lower than Brent's."""
    rng = np.random.default_rng(77)
    n = 80
    K = random_kinship(rng, n)
    X = random_X(rng, n, 2)
    Y = np.column_stack([simulate_y(rng, K, X, h) for h in rng.uniform(0, 1, 120)])
    rot = lmm.eigen_rotation(K, Y, X)
    ev = RotatedEvaluator(prepare(rot.kva, rot.y, rot.X), reml)
    brent = search(ev, True, tol, False, False, polish=False)
    out = search(ev, True, tol, False, False)
    i = np.flatnonzero(out.boundary == "none")
    assert 50 < i.size < Y.shape[1]
    np.testing.assert_array_equal(out.boundary, brent.boundary)
    g, H = ev.first_derivative(out.hsq[i], i), ev.second_derivative(out.hsq[i], i)
    assert np.all(np.abs(g / H) <= 1e-12)
    assert np.all(out.loglik >= brent.loglik - 1e-12 * np.abs(brent.loglik))
    assert np.all(out.hsq[brent.boundary != "none"] == brent.hsq[brent.boundary != "none"])


# ---------------------------------------------------------------------------------------------
# the polished optimum against an extended-precision reference


def _solve_ld(A, b):
    """Gaussian elimination with partial pivoting for a small system, in ``A``'s precision."""
    A = A.copy()
    b = b.copy()
    p = A.shape[0]
    for j in range(p):
        piv = j + int(np.argmax(np.abs(A[j:, j])))
        A[[j, piv]], b[[j, piv]] = A[[piv, j]], b[[piv, j]]
        for i in range(j + 1, p):
            f = A[i, j] / A[j, j]
            A[i, j:] -= f * A[j, j:]
            b[i] -= f * b[j]
    x = np.zeros_like(b)
    for i in reversed(range(p)):
        x[i] = (b[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]
    return x


def _loglik_ld(h, lam, y, X, reml):
    """ℓ(h) on rotated data in ``np.longdouble``, up to a constant (lmm.likelihood's formula)."""
    a = h * lam + (1 - h)
    s = 1 / a
    Xs = X * s[:, None]
    M = Xs.T @ X
    b = _solve_ld(M, Xs.T @ y)
    r = y - X @ b
    r = r - X @ _solve_ld(M, Xs.T @ r)                   # one step of refinement
    rss = np.sum(s * r * r)
    n, p = X.shape
    ll = -0.5 * (np.sum(np.log(a)) + n * np.log(rss))
    if reml:
        A = M.copy()                                     # log|M| by elimination
        logdet = 0
        for j in range(p):
            logdet += np.log(A[j, j])
            A[j + 1:, j:] -= np.outer(A[j + 1:, j] / A[j, j], A[j, j:])
        ll += 0.5 * (p * np.log(rss) - logdet)
    return ll


def _reference_root(h0, lam, y, X, reml, width=1e-7, delta=1e-5):
    """Root of the fourth-order central difference of ``ℓ`` near ``h0`` by bisection, in
    long double (truncation ``O(δ⁴)``, round-off ``~1e-19·|ℓ|/δ``)."""
    L = np.longdouble
    lam, y, X = lam.astype(L), y.astype(L), X.astype(L)
    d = L(delta)

    def score(h):
        f = [_loglik_ld(h + k * d, lam, y, X, reml) for k in (-2, -1, 1, 2)]
        return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * d)

    lo, hi = L(h0) - L(width), L(h0) + L(width)
    g_lo, g_hi = score(lo), score(hi)
    assert g_lo > 0 > g_hi, (g_lo, g_hi)                 # a maximum within h0 ± width
    for _ in range(50):
        mid = (lo + hi) / 2
        if score(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="long double is double here")
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_polished_optimum_is_the_root(data, reml):
    K, X, Y, Ym, dec = data
    rot = dec.rotate(Y, X)
    ev = RotatedEvaluator(prepare(rot.kva, rot.y, rot.X), reml)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, polish=True)
    cols = np.arange(Y.shape[1])
    assert list(fit.boundary) == ["none"] * Y.shape[1]
    g = ev.first_derivative(fit.hsq, cols)
    H = ev.second_derivative(fit.hsq, cols)
    # the score vanishes to round-off: ĥ is its root to 1e-12
    assert np.all(np.abs(g / H) <= 1e-12), g / H
    brent = _fit(ev, *X.shape, reml, polish=False).hsq
    ref = np.array([float(_reference_root(fit.hsq[j], rot.kva, rot.y[:, j], rot.X, reml))
                    for j in cols])
    assert np.all(np.abs(fit.hsq - ref) <= 1e-12), fit.hsq - ref
    assert np.max(np.abs(brent - ref)) > 1e-10            # Brent alone is far coarser
    # polishing raises ℓ (to round-off), never lowers it
    ll_b = ev(brent, cols)
    assert np.all(ev(fit.hsq, cols) >= ll_b - 1e-12 * np.abs(ll_b))


# ---------------------------------------------------------------------------------------------
# units and offsets


def _rel_spread(a, b):
    return float(np.max(np.abs(a / b - 1.0)))


@pytest.mark.parametrize("polish", [False, True], ids=["brent", "polished"])
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_hsq_identical_for_units_of_y(data, reml, polish):
    tol = 1e-12 if polish else 1e-9
    K, X, Y, Ym, dec = data
    rot = dec.rotate(Y, X)
    base = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, polish=polish)
    base_m = lmm.fit_lmm_masked(dec, Ym, X, reml=reml, polish=polish)
    assert np.all(base.boundary == "none") and np.all(base_m.boundary == "none")
    for c in SCALES:
        f = lmm.fit_lmm(rot.kva, rot.y * c, rot.X, reml=reml, polish=polish)
        assert _rel_spread(f.hsq, base.hsq) <= tol, c
        fm = lmm.fit_lmm_masked(dec, Ym * c, X, reml=reml, polish=polish)
        assert _rel_spread(fm.hsq, base_m.hsq) <= tol, c


@pytest.mark.parametrize("polish", [False, True], ids=["brent", "polished"])
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_hsq_identical_for_offsets_of_y(data, reml, polish):
    tol = 1e-9  # rounding of y + c (and of its rotation, at ~ε·c) bounds both paths
    """``y + c`` against ``(y + c) − c`` (the same data in doubles, exactly, less the offset)."""
    K, X, Y, Ym, dec = data
    for c in (1.0, 1e3, 1e6, 1e9, 1e12):
        shifted = Ym + c
        base = lmm.fit_lmm_masked(dec, shifted - c, X, reml=reml, polish=polish)
        f = lmm.fit_lmm_masked(dec, shifted, X, reml=reml, polish=polish)
        assert np.all(f.boundary == "none")
        assert _rel_spread(f.hsq, base.hsq) <= tol, c
    # rotated data: the rotation of y + c rounds at ~ε·c (module notes)
    for c in (1.0, 1e3, 1e5):
        shifted = Y + c
        r0, r1 = dec.rotate(shifted - c, X), dec.rotate(shifted, X)
        f0 = lmm.fit_lmm(r0.kva, r0.y, r0.X, reml=reml, polish=polish)
        f1 = lmm.fit_lmm(r1.kva, r1.y, r1.X, reml=reml, polish=polish)
        assert _rel_spread(f1.hsq, f0.hsq) <= tol, c


# ---------------------------------------------------------------------------------------------
# the grid start


def _start_pairs(reml, n_zero):
    """Brent's and the grid's outcomes on the same evaluators: complete columns (rotated) and
    columns missing one or two individuals each (Schur, packed), heritabilities from 0 to 1."""
    rng = np.random.default_rng(31 + n_zero)
    n = 120
    K = random_kinship(rng, n, n_zero=n_zero)
    X = random_X(rng, n, 2)
    h = np.concatenate([np.zeros(8), rng.uniform(0.0, 1.0, 100), np.full(8, 0.995)])
    Y = np.column_stack([simulate_y(rng, K, X, v) for v in h])
    dec = lmm.eigen_decompose(K)
    rot = dec.rotate(Y, X)
    Q, R = np.linalg.qr(X)
    out = []
    for k in (0, 1, 2):
        if k == 0:
            ev = RotatedEvaluator(prepare(rot.kva, rot.y, rot.X), reml)
        else:
            M = np.sort(np.stack([rng.choice(n, k, replace=False) for _ in h]), axis=1)
            y = Y.copy()
            y[M.T, np.arange(h.size)] = np.nan
            args = (np.ascontiguousarray(dec.kve_t.T), dec.kva, dec.kve_t @ Q, Q, R)
            ev = MaskedEvaluator(*args, y, M, reml)
            if not ev.regular.all():      # a singular K_oo needs its own decomposition
                good = np.flatnonzero(ev.regular)
                ev = MaskedEvaluator(*args, y[:, good], M[good], reml)
            assert ev.packed is not None and ev.regular.all() and ev.m > 100
        out.append((ev, search(ev, True, 1e-4, False, False), search(ev, True, 1e-4, False, False,
                                                                    start="grid")))
    return out


@pytest.mark.parametrize("n_zero", [0, 1], ids=["regular", "singular K"])
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_grid_start_reaches_brents_optimum(reml, n_zero):
    for ev, brent, grid in _start_pairs(reml, n_zero):
        name = type(ev).__name__
        same = np.abs(grid.hsq - brent.hsq) <= 1e-10
        # the only other outcome: Brent's point next to a boundary was worse than the boundary,
        # and the grid's polished interior point is better than both (a maximum within 1e-3)
        other = np.flatnonzero(~same)
        assert other.size <= 3, (name, grid.hsq[other], brent.hsq[other])
        assert np.all(brent.boundary[other] != "none"), name
        assert np.all(grid.boundary[other] == "none"), name
        assert np.all(np.minimum(grid.hsq[other], 1.0 - grid.hsq[other]) < 1e-3), name
        assert np.all(grid.loglik[other] > brent.loglik[other]), name
        np.testing.assert_array_equal(grid.boundary[same], brent.boundary[same], err_msg=name)
        np.testing.assert_array_equal(grid.status, brent.status, err_msg=name)
        fin = np.isfinite(brent.loglik)           # +inf: unbounded at 1 (ML with a singular K)
        assert np.all(grid.loglik[fin] >= brent.loglik[fin] - 1e-12 * np.abs(brent.loglik[fin])), name
        np.testing.assert_array_equal(grid.loglik[~fin], brent.loglik[~fin], err_msg=name)
        assert {"lower", "none"} <= set(brent.boundary) or set(brent.status) == {"unbounded"}, name
        # every interior optimum of the grid start is a root of the score
        i = np.flatnonzero(grid.boundary == "none")
        g = ev.first_derivative(grid.hsq[i], i)
        d = 1e-6
        H = (ev.first_derivative(grid.hsq[i] + d, i) - ev.first_derivative(grid.hsq[i] - d, i)) / (2 * d)
        assert np.all(np.abs(g / H) <= 1e-11), (name, np.max(np.abs(g / H)))


@pytest.mark.parametrize("n_zero", [0, 1], ids=["regular", "singular K"])
def test_masked_grid_in_one_product_equals_each_point(n_zero):
    """``MaskedEvaluator.shared``: the grid's sums in one matrix product (the point ``hsq = 1``
    alone with a singular K) against the columns evaluated at each point in turn."""
    rng = np.random.default_rng(8)
    n = 60
    K = random_kinship(rng, n, n_zero=n_zero)
    X = random_X(rng, n, 3)
    Y = np.column_stack([simulate_y(rng, K, X, v) for v in (0.0, 0.3, 0.6, 0.9)])
    M = np.array([[2], [5], [5], [40]])
    Y[M[:, 0], np.arange(4)] = np.nan
    Q, R = np.linalg.qr(X)
    dec = lmm.eigen_decompose(K)
    for reml in (False, True):
        ev = MaskedEvaluator(np.ascontiguousarray(dec.kve_t.T), dec.kva, dec.kve_t @ Q, Q, R, Y, M,
                             reml)
        cols = np.arange(4)
        each = np.stack([ev(np.full(4, v), cols) for v in GRID_START])
        np.testing.assert_allclose(ev.shared(GRID_START), each, rtol=1e-12, atol=0)


def test_grid_start_needs_the_polish(data):
    K, X, Y, Ym, dec = data
    rot = dec.rotate(Y, X)
    with pytest.raises(InputError, match="needs polish"):
        lmm.fit_lmm(rot.kva, rot.y, rot.X, polish=False, start="grid")
    with pytest.raises(InputError, match="start must be one of brent, grid"):
        lmm.fit_lmm_masked(dec, Ym, X, polish=True, start="golden")


@pytest.mark.parametrize("n_zero", [0, 1], ids=["regular", "singular K"])
def test_masked_fit_from_the_callers_rotation(n_zero):
    """``fit_lmm_masked(..., y_rot=kve_t @ y)`` (the scan's null fits: y already rotated) against
    the rotation formed inside: the evaluator's rotated residuals to 1e-13 of ``‖y‖``, and the same
    fits (hsq to 1e-10) for complete columns, columns missing 1, 2 (packed: the grid start) and 6
    (Brent's start) individuals, on the scan's centred phenotypes."""
    from lmm.scan.engine import standardize

    rng = np.random.default_rng(77 + n_zero)
    n = 90
    K = random_kinship(rng, n, n_zero=n_zero)
    X = random_X(rng, n, 2)
    h = rng.uniform(0.0, 0.95, 24)
    Y = np.column_stack([simulate_y(rng, K, X, v) for v in h]) + 40.0
    for j, k in enumerate(np.repeat([0, 1, 2, 6], 6)):
        Y[rng.choice(n, k, replace=False), j] = np.nan
    missing = np.isnan(Y)
    ys = standardize(Y, X, missing)
    dec = lmm.eigen_decompose(K)
    y_rot = dec.kve_t @ np.where(missing, 0.0, ys)
    Q, R = np.linalg.qr(X)
    cols = np.arange(6, 12)
    M = np.sort(np.stack([np.flatnonzero(missing[:, j]) for j in cols]), axis=1)
    args = (np.ascontiguousarray(dec.kve_t.T), dec.kva, dec.kve_t @ Q, Q, R, ys[:, cols], M, True)
    inside, given = MaskedEvaluator(*args), MaskedEvaluator(*args, y_rot=y_rot[:, cols])
    scale = np.abs(inside.Z[:, :, 0]).max()
    np.testing.assert_allclose(given.Z, inside.Z, rtol=0, atol=1e-13 * scale)
    for reml in (False, True):
        options = dict(reml=reml, compute_ci=False, polish=True, start="grid")
        a = lmm.fit_lmm_masked(dec, ys, X, **options)
        b = lmm.fit_lmm_masked(dec, ys, X, **options, y_rot=y_rot)
        np.testing.assert_array_equal(b.status, a.status)
        np.testing.assert_array_equal(b.boundary, a.boundary)
        np.testing.assert_allclose(b.hsq, a.hsq, rtol=0, atol=1e-10)
        np.testing.assert_allclose(b.loglik, a.loglik, rtol=1e-12)
    with pytest.raises(InputError, match="y_rot must have the shape of y"):
        lmm.fit_lmm_masked(dec, ys, X, y_rot=y_rot[:, :3])

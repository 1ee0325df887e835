"""Properties of the numerical core that hold whatever the data.

Invariances (eigenvector signs, order of individuals, scale and shift of y), matrix path ==
one column at a time (also in small blocks), grid == scalar loop, the analytic SE against a
finite-difference curvature, the profile-likelihood interval's defining equation, boundary
handling, and the singular covariance at hsq = 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import lmm

try:
    from _core_data import random_kinship, random_X, simulate_y
except ImportError:  # tests/ made a package by someone else
    from tests._core_data import random_kinship, random_X, simulate_y

FIELDS = ("hsq", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "hsq_se", "hsq_ci_lower",
          "hsq_ci_upper")


def _data(seed, n, p, hsqs, n_zero=0):
    """K, X and a (n, m) y whose columns have the true heritabilities ``hsqs``."""
    rng = np.random.default_rng(seed)
    K = random_kinship(rng, n, n_zero=n_zero)
    X = random_X(rng, n, p)
    y = np.column_stack([simulate_y(rng, K, X, h) for h in hsqs])
    return K, X, y


MIXED = [0.0, 0.05, 0.3, 0.5, 0.7, 0.95, 1.0, 0.5]


def assert_same_fit(a, b, rtol, atol=1e-12):
    for k in FIELDS:
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=rtol, atol=atol, err_msg=k,
                                   equal_nan=True)
    np.testing.assert_allclose(a.beta, b.beta, rtol=rtol, atol=atol * max(1.0, np.abs(a.beta).max()))
    np.testing.assert_array_equal(a.boundary, b.boundary)


# ---------------------------------------------------------------------------------------------
# invariances


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("seed", [1, 2])
def test_invariant_to_eigenvector_signs(seed, reml):
    K, X, y = _data(seed, 60, 2, MIXED)
    dec = lmm.eigen_decompose(K)
    flips = np.random.default_rng(100 + seed).choice([-1.0, 1.0], size=dec.n)
    flips[0] = -1.0
    flipped = lmm.EigenDecomposition(dec.kva, dec.kve_t * flips[:, None])
    np.testing.assert_allclose(flipped.kve_t.T @ np.diag(flipped.kva) @ flipped.kve_t, K, atol=1e-12)
    r1, r2 = dec.rotate(y, X), flipped.rotate(y, X)
    assert not np.allclose(r1.y, r2.y)
    f1 = lmm.fit_lmm(r1.kva, r1.y, r1.X, reml=reml, compute_se=True)
    f2 = lmm.fit_lmm(r2.kva, r2.y, r2.X, reml=reml, compute_se=True)
    assert_same_fit(f1, f2, rtol=1e-9)


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("seed", [3, 4])
def test_invariant_to_order_of_individuals(seed, reml):
    K, X, y = _data(seed, 70, 3, MIXED)
    perm = np.random.default_rng(200 + seed).permutation(K.shape[0])
    r1 = lmm.eigen_rotation(K, y, X)
    r2 = lmm.eigen_rotation(K[np.ix_(perm, perm)], y[perm], X[perm])
    f1 = lmm.fit_lmm(r1.kva, r1.y, r1.X, reml=reml, compute_se=True)
    f2 = lmm.fit_lmm(r2.kva, r2.y, r2.X, reml=reml, compute_se=True)
    assert_same_fit(f1, f2, rtol=1e-9)


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_scale_of_y(reml):
    """y → c·y: same hsq, SE and CI; β → cβ; σ² → c²σ²; ℓ shifts by −(n or n−p)·log|c|."""
    K, X, y = _data(5, 50, 2, [0.2, 0.6, 0.9])
    n, p = X.shape
    rot = lmm.eigen_rotation(K, y, X)
    base = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True)
    for c in (1e-90, -3.0, 1e90):
        f = lmm.fit_lmm(rot.kva, c * rot.y, rot.X, reml=reml, compute_se=True)
        for k in ("hsq", "hsq_se", "hsq_ci_lower", "hsq_ci_upper"):
            np.testing.assert_allclose(getattr(f, k), getattr(base, k), rtol=1e-9, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(f.sigmasq, c * c * base.sigmasq, rtol=1e-9)
        dof = n - p if reml else n
        np.testing.assert_allclose(f.loglik, base.loglik - dof * np.log(abs(c)), rtol=1e-11)
        np.testing.assert_allclose(f.beta, c * base.beta, rtol=1e-9, atol=1e-12 * abs(c))


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_shift_of_y_by_covariates(reml):
    """y → y + Xγ with a large γ (a phenotype with a large mean and a small spread): same hsq
    and ℓ, β → β + γ. The shifted data carry ~|γ|·ε of rounding, so agreement is to ~1e-8."""
    K, X, y = _data(6, 50, 2, [0.2, 0.6, 0.9])
    rot = lmm.eigen_rotation(K, y, X)
    base = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True, tol=1e-8)
    gamma = np.array([[1e5, -3e4, 5.0], [2e4, 1.0, -7e3]])
    r = rot.rotate(y + X @ gamma, X)
    f = lmm.fit_lmm(r.kva, r.y, r.X, reml=reml, compute_se=True, tol=1e-8)
    # the Brent path may differ in round-off: hsq agrees to a few tol1 (≈ 1e-8)
    np.testing.assert_allclose(f.hsq, base.hsq, rtol=0, atol=2e-7)
    np.testing.assert_allclose(f.loglik, base.loglik, rtol=1e-11)
    np.testing.assert_allclose(f.sigmasq, base.sigmasq, rtol=1e-7)
    np.testing.assert_allclose(f.hsq_se, base.hsq_se, rtol=1e-6, equal_nan=True)
    for k in ("hsq_ci_lower", "hsq_ci_upper"):
        np.testing.assert_allclose(getattr(f, k), getattr(base, k), rtol=1e-7, atol=1e-9, err_msg=k)
    np.testing.assert_allclose(f.beta, base.beta + gamma, rtol=1e-9, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# matrix path == column by column; grid == scalar loop


def _matrix_and_column_fits(p, reml):
    K, X, y = _data(10 + p, 45, p, MIXED * 2)
    rot = lmm.eigen_rotation(K, y, X)
    n, m = y.shape
    full = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True)
    blocks = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True, block_elements=3 * n)
    ones = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True, block_elements=1)
    assert set(full.boundary) == {"none", "lower", "upper"}  # the data exercise all three
    singles = [lmm.fit_lmm(rot.kva, rot.y[:, j], rot.X, reml=reml, compute_se=True)
               for j in range(m)]
    return (full, blocks, ones), singles


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("p", [1, 3])
def test_matrix_fit_equals_column_fits(p, reml):
    """hsq, β, σ², ℓ, SE, boundary: matrix path (whole, blocks of 3, blocks of 1) == 1-D fits."""
    multis, singles = _matrix_and_column_fits(p, reml)
    fields = [k for k in FIELDS if not k.startswith("hsq_ci")]
    for j, single in enumerate(singles):
        for multi in multis:
            col = multi.column(j)
            for k in fields:
                np.testing.assert_allclose(getattr(col, k), getattr(single, k), rtol=1e-10, atol=1e-14,
                                           equal_nan=True, err_msg=k)
            np.testing.assert_allclose(col.beta, single.beta, rtol=1e-10,
                                       atol=1e-14 * np.abs(single.beta).max())
            assert col.boundary == single.boundary
            assert bool(col.converged) == bool(single.converged)


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("p", [1, 3])
def test_matrix_ci_equals_column_ci(p, reml):
    """The profile-likelihood interval: matrix path == 1-D fits to 1e-10 relative (issue 2)."""
    multis, singles = _matrix_and_column_fits(p, reml)
    for j, single in enumerate(singles):
        for multi in multis:
            col = multi.column(j)
            for k in ("hsq_ci_lower", "hsq_ci_upper"):
                np.testing.assert_allclose(getattr(col, k), getattr(single, k), rtol=1e-10, atol=0,
                                           err_msg=f"{k} of column {j}")


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_calc_ll_grid_equals_scalar_loop(reml):
    K, X, y = _data(7, 40, 3, [0.1, 0.5, 0.9])
    rot = lmm.eigen_rotation(K, y, X)
    grid = np.array([0.0, 1e-9, 0.1, 0.37, 0.5, 0.999, 1.0])
    g = lmm.calc_ll(grid, rot.kva, rot.y, rot.X, reml=reml)
    m = y.shape[1]
    assert np.shape(g.loglik) == (grid.size, m) and np.shape(g.beta) == (3, grid.size, m)
    assert np.shape(g.sigmasq) == (grid.size, m) and np.shape(g.rss) == (grid.size, m)
    g1 = lmm.calc_ll(grid, rot.kva, rot.y[:, 1], rot.X, reml=reml)
    assert np.shape(g1.loglik) == (grid.size,) and np.shape(g1.beta) == (3, grid.size)
    np.testing.assert_allclose(g1.loglik, g.loglik[:, 1], rtol=1e-12)
    for i, h in enumerate(grid):
        s = lmm.calc_ll(h, rot.kva, rot.y, rot.X, reml=reml)
        assert np.shape(s.loglik) == (m,) and np.shape(s.beta) == (3, m)
        np.testing.assert_allclose(s.loglik, g.loglik[i], rtol=1e-12)
        np.testing.assert_allclose(s.beta, g.beta[:, i, :], rtol=1e-10, atol=1e-12)
        sol = lmm.get_ml_soln(h, rot.kva, rot.y, rot.X, reml=True)
        np.testing.assert_allclose(sol.beta, g.beta[:, i, :], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(sol.sigmasq, g.sigmasq[i], rtol=1e-12)
        np.testing.assert_allclose(sol.rss, g.rss[i], rtol=1e-12)
        for j in range(m):
            sj = lmm.calc_ll(h, rot.kva, rot.y[:, j], rot.X, reml=reml)
            assert np.ndim(sj.loglik) == 0 and np.shape(sj.beta) == (3,)
            np.testing.assert_allclose(sj.loglik, g.loglik[i, j], rtol=1e-12)
            np.testing.assert_allclose(float(sj), g.loglik[i, j], rtol=1e-12)
            soln = lmm.get_ml_soln(h, rot.kva, rot.y[:, j], rot.X, reml=True)
            np.testing.assert_allclose(soln.logdet_xsx, sol.logdet_xsx[j], rtol=1e-12, atol=1e-12)


def test_rotate_with_existing_decomposition():
    K, X, y = _data(8, 30, 2, [0.4, 0.6])
    rot = lmm.eigen_rotation(K, y[:, 0], X)
    again = rot.rotate(y[:, 1], X)
    direct = lmm.eigen_rotation(K, y[:, 1], X)
    np.testing.assert_allclose(again.y, direct.y, atol=1e-12)
    np.testing.assert_array_equal(again.kva, rot.kva)
    intercept = rot.decomposition.rotate(y)  # X=None: intercept
    np.testing.assert_allclose(intercept.X[:, 0], rot.kve_t @ np.ones(30), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# standard error and confidence interval


def _fd_curvature(rot, j, h, reml, delta=1e-3):
    """Richardson-extrapolated central second difference of calc_ll (error O(δ⁴))."""
    pts = h + delta * np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    f = lmm.calc_ll(pts, rot.kva, rot.y[:, j], rot.X, reml=reml).loglik
    d1 = (f[3] - 2 * f[2] + f[1]) / delta ** 2
    d2 = (f[4] - 2 * f[2] + f[0]) / (2 * delta) ** 2
    return (4 * d1 - d2) / 3


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("p", [1, 2, 4])
def test_se_matches_finite_difference_curvature(p, reml):
    # more zero eigenvalues than covariates: with z ≤ p, X spans K's null space and the ML
    # likelihood is unbounded at hsq = 1 (tests/test_core_singular.py)
    K, X, y = _data(30 + p, 120, p, [0.2, 0.4, 0.5, 0.6, 0.8, 0.5], n_zero=3 if p < 3 else p + 1)
    rot = lmm.eigen_rotation(K, y, X)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True)
    checked = 0
    for j in range(y.shape[1]):
        h = float(fit.hsq[j])
        if fit.boundary[j] != "none":
            assert np.isnan(fit.hsq_se[j])
            continue
        if not (0.01 < h < 0.99):
            continue
        curv = _fd_curvature(rot, j, h, reml)
        assert curv < 0
        np.testing.assert_allclose(fit.hsq_se[j], 1.0 / np.sqrt(-curv), rtol=1e-5)
        checked += 1
    assert checked >= 3


def test_se_matches_finite_difference_near_the_ends():
    """Optima near 0.03 and 0.97 check the analytic curvature far from 0.5 as well (tight tol,
    a difference step that stays inside [0, 1])."""
    K, X, y = _data(59, 150, 2, [0.03, 0.97, 0.97, 0.03, 0.02, 0.98])  # optima 0.013 .. 0.996
    rot = lmm.eigen_rotation(K, y, X)
    checked = 0
    for reml in (False, True):
        fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True, tol=1e-8)
        for j in range(y.shape[1]):
            h = float(fit.hsq[j])
            if fit.boundary[j] != "none" or not (0.002 < h < 0.998):
                continue
            delta = min(1e-3, h / 3, (1 - h) / 3)
            np.testing.assert_allclose(fit.hsq_se[j], 1 / np.sqrt(-_fd_curvature(rot, j, h, reml, delta)),
                                       rtol=1e-5)
            checked += h < 0.05 or h > 0.95
    assert checked >= 6


def test_chi2_constant():
    np.testing.assert_allclose(lmm.CHI2_95, scipy.stats.chi2.ppf(0.95, 1), rtol=1e-14)


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_ci_endpoints_solve_the_likelihood_ratio_equation(reml):
    K, X, y = _data(50, 100, 2, MIXED + [0.1, 0.2, 0.85])
    rot = lmm.eigen_rotation(K, y, X)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml)
    n_interior_ends = 0
    for j in range(y.shape[1]):
        h, ll = float(fit.hsq[j]), float(fit.loglik[j])
        lo, hi = float(fit.hsq_ci_lower[j]), float(fit.hsq_ci_upper[j])
        assert 0.0 <= lo <= h <= hi <= 1.0

        def lr(x):
            return 2.0 * (ll - lmm.calc_ll(x, rot.kva, rot.y[:, j], rot.X, reml=reml).loglik)

        # the cutoff: chi2_1 95% inside, the chi2_0:chi2_1 mixture's 95% on a boundary
        cut = float(fit.ci_cutoff[j])
        assert cut == (lmm.CHI2_95 if fit.boundary[j] == "none" else lmm.CHI2_MIX_95)
        # an end is exactly 0 (1) when, and only when, the criterion holds at 0 (1)
        if h > 0.0:
            assert (lo == 0.0) == (lr(0.0) <= cut)
        if h < 1.0:
            assert (hi == 1.0) == (lr(1.0) <= cut)
        for end, outward in ((lo, -1.0), (hi, 1.0)):
            if end in (0.0, 1.0) and end != h:
                assert lr(end) <= cut   # the criterion holds at the end itself
            elif end != h:
                n_interior_ends += 1
                assert abs(lr(end) - cut) <= 1e-6
                assert lr(end + outward * 1e-3) > cut
        # inside the interval the criterion holds everywhere (on a grid)
        inside = np.linspace(lo, hi, 41)
        lrs = 2.0 * (ll - lmm.calc_ll(inside, rot.kva, rot.y[:, j], rot.X, reml=reml).loglik)
        assert np.all(lrs <= cut + 1e-6)
    assert n_interior_ends >= 5


# ---------------------------------------------------------------------------------------------
# boundaries, options, degenerate data


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no numpy noise at a singular V
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_boundary_solutions(reml):
    # many pure-noise columns (true hsq 0) and many pure-K columns (true hsq 1, K full rank)
    K, X, y = _data(60, 40, 2, [0.0] * 12 + [1.0] * 12)
    rot = lmm.eigen_rotation(K, y, X)
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, compute_se=True)
    lower, upper = fit.boundary == "lower", fit.boundary == "upper"
    assert lower.any() and upper.any() and (fit.boundary == "none").any()
    assert np.all(fit.hsq[lower] == 0.0) and np.all(fit.hsq[upper] == 1.0)
    assert np.all(np.isnan(fit.hsq_se[lower | upper]))
    assert np.all(fit.hsq_ci_lower[lower] == 0.0) and np.all(fit.hsq_ci_upper[upper] == 1.0)
    interior = ~(lower | upper)
    assert np.all((fit.hsq[interior] > 0) & (fit.hsq[interior] < 1))
    assert np.all(np.isfinite(fit.hsq_se[interior]) & (fit.hsq_se[interior] > 0))
    # a boundary estimate really is the maximum: nothing on a fine grid beats it
    grid = np.linspace(0, 1, 201)
    prof = lmm.calc_ll(grid, rot.kva, rot.y, rot.X, reml=reml).loglik  # (g, m)
    assert np.all(fit.loglik >= prof.max(axis=0) - 1e-9)
    # sigmasq_g / sigmasq_e at the boundaries
    np.testing.assert_array_equal(fit.sigmasq_g[lower], 0.0)
    np.testing.assert_array_equal(fit.sigmasq_e[upper], 0.0)
    np.testing.assert_allclose(fit.sigmasq_g + fit.sigmasq_e, fit.sigmasq, rtol=1e-14)

    nob = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=reml, check_boundary=False)
    assert np.all(nob.boundary == "none")
    assert np.all((nob.hsq > 0) & (nob.hsq < 1))
    assert np.all(nob.loglik <= fit.loglik + 1e-12)
    np.testing.assert_array_equal(nob.hsq[interior], fit.hsq[interior])


def test_options_give_nan():
    K, X, y = _data(61, 40, 1, [0.5, 0.5])
    rot = lmm.eigen_rotation(K, y, X)
    f = lmm.fit_lmm(rot.kva, rot.y, rot.X)
    assert np.all(np.isnan(f.hsq_se))              # compute_se=False is the default
    assert np.all(np.isfinite(f.hsq_ci_lower)) and np.all(np.isfinite(f.hsq_ci_upper))
    g = lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True, compute_ci=False)
    assert np.all(np.isnan(g.hsq_ci_lower)) and np.all(np.isnan(g.hsq_ci_upper))
    np.testing.assert_array_equal(g.hsq, f.hsq)
    one = lmm.fit_lmm(rot.kva, rot.y[:, 0], rot.X, compute_se=False)
    assert np.isnan(one.hsq_se) and np.isfinite(one.hsq) and one.hsq_ci.shape == (2,)


@pytest.mark.parametrize("which", ["constant", "covariate-combination"])
def test_phenotype_explained_by_covariates_raises(which):
    K, X, y = _data(62, 30, 2, [0.5, 0.5, 0.5])
    bad = np.full(30, 7.25) if which == "constant" else 2.0 - 3.0 * X[:, 1]
    y[:, 2] = bad
    rot = lmm.eigen_rotation(K, y, X)
    with pytest.raises(lmm.InputError, match=r"phenotype column 2 is explained exactly"):
        lmm.fit_lmm(rot.kva, rot.y, rot.X)
    with pytest.raises(lmm.InputError, match=r"explained exactly by the covariates"):
        lmm.fit_lmm(rot.kva, rot.y[:, 2], rot.X)
    # the other columns are fine on their own
    ok = lmm.fit_lmm(rot.kva, rot.y[:, :2], rot.X)
    assert np.all(np.isfinite(ok.loglik))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no numpy noise at a singular V
@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_hsq_one_with_zero_eigenvalue(reml):
    K, X, y = _data(63, 60, 2, [0.999, 0.9, 0.99], n_zero=4)
    rot = lmm.eigen_rotation(K, y, X)
    kva = rot.kva.copy()
    kva[:4] = 0.0                        # exact zeros (the decomposition gives ~1e-16)
    assert np.all(kva[4:] > 1e-6)
    ll1 = lmm.calc_ll(1.0, kva, rot.y[:, 0], rot.X, reml=reml).loglik
    assert ll1 == -np.inf
    grid = lmm.calc_ll(np.array([0.5, 1 - 1e-9, 1.0]), kva, rot.y, rot.X, reml=reml).loglik
    assert np.all(np.isfinite(grid[:2])) and np.all(grid[2] == -np.inf)
    fit = lmm.fit_lmm(kva, rot.y, rot.X, reml=reml, compute_se=True)
    assert np.all(fit.hsq < 1.0) and not np.any(fit.boundary == "upper")
    assert np.all(np.isfinite(fit.loglik)) and np.all(fit.hsq_ci_upper < 1.0)
    assert np.all(fit.hsq_ci_lower <= fit.hsq) and np.all(fit.hsq <= fit.hsq_ci_upper)


# ---------------------------------------------------------------------------------------------
# inputs are not modified


@pytest.mark.parametrize("layout", ["1-D", "one column", "Fortran order", "C order"])
def test_inputs_are_not_modified(layout):
    """No public function writes into the caller's arrays (a 1-D y, an (n, 1) y and a
    Fortran-ordered y all have a C-contiguous transpose, the case a no-copy shortcut misses)."""
    K, X, y = _data(70, 25, 2, [0.3, 0.7, 0.5])
    y = y + 100.0                            # a large mean: OLS residuals differ visibly from y
    rot = lmm.eigen_rotation(K, y, X)
    yr = {"1-D": rot.y[:, 0].copy(), "one column": rot.y[:, :1].copy(),
          "Fortran order": np.asfortranarray(rot.y), "C order": np.ascontiguousarray(rot.y)}[layout]
    Xr, kva = np.asfortranarray(rot.X), rot.kva.copy()
    saved = (yr.copy(), Xr.copy(), kva.copy())
    first = lmm.get_ml_soln(0.5, kva, yr, Xr).beta
    lmm.calc_ll(0.5, kva, yr, Xr)
    lmm.calc_ll(np.array([0.2, 0.8]), kva, yr, Xr, reml=False)
    lmm.fit_lmm(kva, yr, Xr, compute_se=True)
    for before, after in zip(saved, (yr, Xr, kva)):
        np.testing.assert_array_equal(after, before)
    np.testing.assert_array_equal(lmm.get_ml_soln(0.5, kva, yr, Xr).beta, first)
    y0 = y[:, 0].copy()
    lmm.eigen_rotation(K, y[:, 0], X)
    np.testing.assert_array_equal(y[:, 0], y0)

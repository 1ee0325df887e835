r"""Maximum (restricted) likelihood estimate of the heritability, many phenotypes at once.

Notes
-----
``fit_lmm`` maximises the profile log-likelihood ``ℓ(hsq)`` of
:mod:`lmm.likelihood` over ``[0, 1]`` with Brent's method (the algorithm and
tolerance convention of R's ``optimize``, as lmmlite uses), then, with
``check_boundary``, evaluates ``ℓ(0)`` and ``ℓ(1)`` exactly and keeps the best
of the three. All phenotype columns are searched in lockstep
(:func:`lmm.brent.fmin_lockstep`): each evaluation computes the weighted sums of
every column still searching in a few array operations.

Standard error: ``hsq_se = (−d²ℓ/dhsq²)^(−1/2)`` at the estimate, the observed
information of the profile likelihood, from the analytic second derivative
(below). It is NaN at a boundary, where the estimate is not at a stationary
point, and where the curvature is not negative.

Confidence interval: ``{h ∈ [0, 1] : 2(ℓ(ĥ) − ℓ(h)) ≤ χ²₁,₀.₉₅ = 3.8415}``, the
profile-likelihood interval; each end is ``0`` or ``1`` when the criterion is
met there, otherwise the crossing found by bracketed root finding between the
estimate and that end. It remains meaningful when ``ĥ`` is on a boundary.

Second derivative. With ``aᵢ = 1 + hsq·dᵢ``, ``dᵢ = λᵢ − 1``, ``Sᵢ = 1/aᵢ``,
``S′ᵢ = −dᵢSᵢ²``, ``S″ᵢ = 2dᵢ²Sᵢ³``, residuals ``r = y − Xβ̂``, ``M = XᵀSX``::

    rss′  = Σ S′ᵢ rᵢ²                                   (envelope theorem)
    rss″  = Σ S″ᵢ rᵢ² − 2 uᵀ M⁻¹ u,          u = XᵀS′r
    ℓ″_ML = ½ Σ dᵢ² Sᵢ² − (n/2) (rss″/rss − (rss′/rss)²)
    ℓ″_REML = ½ Σ dᵢ² Sᵢ² − ((n−p)/2) (rss″/rss − (rss′/rss)²)
              − ½ (tr(M⁻¹XᵀS″X) − tr((M⁻¹XᵀS′X)²))
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._checks import check_tol
from .brent import fmin_lockstep, root_lockstep
from .likelihood import SUB_BLOCK, Prepared, Workspace, check_explained, checked_inputs, finish, prepare, stats_per_column, stats_shared

__all__ = ["FitResult", "fit_lmm", "CHI2_95"]

#: 95% quantile of the chi-squared distribution with one degree of freedom.
CHI2_95 = 3.841458820694124

#: Columns fitted together in one lockstep search: bounds memory at about
#: ``10 * n * block`` doubles and keeps the arrays cache-sized.
DEFAULT_BLOCK_ELEMENTS = 1 << 19


@dataclass(frozen=True, eq=False)
class FitResult:
    """Result of :func:`fit_lmm`.

    For 1-D ``y`` every field is a scalar and ``beta`` is (p,); for ``y`` of
    shape (n, m) the per-phenotype fields are arrays (m,) and ``beta`` is (p, m).

    Attributes
    ----------
    hsq : heritability ``σ²_g / (σ²_g + σ²_e)``, in [0, 1], on the scale of
        the K given (see the README on the kinship scale).
    beta : fixed effects, one row per column of ``X``.
    sigmasq : total variance ``σ² = rss / (n − p)``.
    sigmasq_g : ``hsq · σ²``.
    sigmasq_e : ``(1 − hsq) · σ²``.
    loglik : ``ℓ(hsq)``, lmmlite's constants (see :func:`lmm.calc_ll`).
    hsq_se : standard error from the observed information; NaN when not
        computed, at a boundary or where the curvature is not negative.
    hsq_ci_lower, hsq_ci_upper : 95% profile-likelihood interval (NaN when
        ``compute_ci=False``).
    boundary : ``'none'``, ``'lower'`` (hsq = 0) or ``'upper'`` (hsq = 1).
    converged : the Brent search met its tolerance.
    n_eval : likelihood evaluations of the search.
    n, p : individuals and covariates (``n`` is an array (m,) of observed
        counts from :func:`lmm.fit_lmm_masked`).
    method : ``'reml'`` or ``'ml'``.
    """

    hsq: float | np.ndarray
    beta: np.ndarray
    sigmasq: float | np.ndarray
    sigmasq_g: float | np.ndarray
    sigmasq_e: float | np.ndarray
    loglik: float | np.ndarray
    hsq_se: float | np.ndarray
    hsq_ci_lower: float | np.ndarray
    hsq_ci_upper: float | np.ndarray
    boundary: str | np.ndarray
    converged: bool | np.ndarray
    n_eval: int | np.ndarray
    n: int
    p: int
    method: str
    _fields_per_column: ClassVar[tuple] = (
        "hsq", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "hsq_se",
        "hsq_ci_lower", "hsq_ci_upper", "boundary", "converged", "n_eval")

    @property
    def hsq_ci(self) -> np.ndarray:
        """``[lower, upper]``: shape (2,) or (2, m)."""
        return np.stack([np.asarray(self.hsq_ci_lower), np.asarray(self.hsq_ci_upper)])

    @property
    def m(self) -> int:
        """Number of phenotypes (1 for a 1-D ``y``)."""
        return int(np.size(self.hsq))

    def column(self, j: int) -> "FitResult":
        """The result of phenotype ``j`` alone, as if fitted with a 1-D ``y``."""
        if np.ndim(self.hsq) == 0:
            if j != 0:
                raise IndexError(j)
            return self
        kw = {k: _scalar(getattr(self, k)[j]) for k in self._fields_per_column}
        n = int(self.n[j]) if np.ndim(self.n) else self.n
        return FitResult(beta=self.beta[:, j].copy(), n=n, p=self.p, method=self.method, **kw)


def _scalar(v):
    return v.item() if isinstance(v, np.generic) else v


def fit_lmm(kva, y, X, reml=True, check_boundary=True, tol=1e-4, compute_se=False,
            compute_ci=True, *, x_names=None, block_elements=DEFAULT_BLOCK_ELEMENTS,
            n_threads=1) -> FitResult:
    """Fit the linear mixed model to one or many phenotypes (lmmlite's ``fitLMM``).

    Parameters
    ----------
    kva : array_like, shape (n,)
        Eigenvalues of the kinship matrix.
    y : array_like, shape (n,) or (n, m)
        Rotated phenotypes (``Rotation.y``); the ``m`` columns are fitted together.
    X : array_like, shape (n, p)
        Rotated covariates (``Rotation.X``), full column rank.
    reml : bool
        Restricted (default) or plain maximum likelihood.
    check_boundary : bool
        Compare the Brent optimum with ``hsq = 0`` and ``hsq = 1`` exactly.
    tol : float
        Tolerance of the Brent search (R's ``optimize``), default ``1e-4``.
    compute_se : bool
        Compute ``hsq_se`` (observed information).
    compute_ci : bool
        Compute the 95% profile-likelihood interval.
    x_names : sequence of str, optional
        Covariate names for error messages.
    block_elements : int
        Columns are searched in blocks of about ``block_elements / n``
        (results do not depend on it beyond round-off).
    n_threads : int
        Blocks fitted at the same time, in threads (numpy releases the GIL in
        its array operations). The blocks do not depend on ``n_threads``, so
        neither do the results, bit for bit, as long as the BLAS library is
        deterministic (pin its threads, as the workflow does).

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        Shapes that disagree, non-finite values, X rank-deficient, ``n ≤ p``,
        ``tol ≤ 0``, or a phenotype column that the covariates explain exactly
        (for example a constant one), which has no likelihood maximum.

    Examples
    --------
    >>> import numpy as np, lmm
    >>> rng = np.random.default_rng(0)
    >>> G = rng.normal(size=(200, 500)); K = G @ G.T / 500
    >>> y = rng.multivariate_normal(np.zeros(200), 0.6 * K + 0.4 * np.eye(200))
    >>> rot = lmm.eigen_rotation(K, y)
    >>> fit = lmm.fit_lmm(rot.kva, rot.y, rot.X)
    >>> bool(0 <= fit.hsq <= 1)
    True
    """
    tol = check_tol(tol)
    kva, y2d, X, one_y = checked_inputs(kva, y, X, x_names)
    n, p = X.shape
    m = y2d.shape[1]
    block = max(1, int(block_elements // max(n, 1)))

    def one(s):
        return _fit_block(kva, y2d[:, s:s + block], X, reml, check_boundary, tol, compute_se,
                          compute_ci, col0=s)

    starts = range(0, m, block)
    if n_threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=int(n_threads)) as pool:
            parts = list(pool.map(one, starts))
    else:
        parts = [one(s) for s in starts]
    out = {k: np.concatenate([pt[k] for pt in parts], axis=-1) for k in parts[0]}
    res = _assemble(out, n, p, reml)
    return res.column(0) if one_y else res


def _assemble(out, n, p, reml) -> FitResult:
    """A :class:`FitResult` from the per-column arrays of :func:`search`."""
    hsq = out["hsq"]
    sigmasq = out["sigmasq"]
    b = out["boundary"]
    return FitResult(
        hsq=hsq, beta=out["beta"], sigmasq=sigmasq, sigmasq_g=hsq * sigmasq,
        sigmasq_e=(1.0 - hsq) * sigmasq, loglik=out["loglik"], hsq_se=out["hsq_se"],
        hsq_ci_lower=out["ci_lo"], hsq_ci_upper=out["ci_hi"],
        boundary=np.where(b < 0, "lower", np.where(b > 0, "upper", "none")),
        converged=out["converged"], n_eval=out["n_eval"], n=n, p=p,
        method="reml" if reml else "ml")


def _fit_block(kva, y, X, reml, check_boundary, tol, compute_se, compute_ci, col0=0):
    prep = prepare(kva, y, X)
    check_explained(prep, y, col0)
    return search(_Evaluator(prep, reml), check_boundary, tol, compute_se, compute_ci)


def search(ev, check_boundary, tol, compute_se, compute_ci):
    """Brent search, boundary check, SE and CI for every column of an evaluator.

    ``ev`` provides ``m``, ``ev(u, idx)`` (ℓ of column ``idx[k]`` at ``u[k]``),
    ``ev.shared(h)`` (ℓ of every column at each common ``h``, shape (g, m)),
    ``ev.solution(h)`` (a :class:`~lmm.likelihood.Solution` at per-column
    ``h``), ``ev.second_derivative(h, cols)`` and ``ev.ci_grid``.
    """
    m = ev.m
    x, fx, converged, n_eval = fmin_lockstep(lambda u, idx: -ev(u, idx), np.zeros(m), np.ones(m), tol)
    hsq = x
    ll = -fx
    boundary = np.zeros(m, dtype=np.int8)
    if check_boundary:
        ll0, ll1 = ev.shared(np.array([0.0, 1.0]))
        # keep the best of the three; ties favour the interior optimum, then 0
        use0 = (ll0 > ll) & (ll0 >= ll1)
        use1 = (ll1 > ll) & (ll1 > ll0)
        hsq = np.where(use0, 0.0, np.where(use1, 1.0, hsq))
        boundary = np.where(use0, -1, np.where(use1, 1, 0)).astype(np.int8)
    sol = ev.solution(hsq)
    se = np.full(m, np.nan)
    if compute_se:
        interior = np.flatnonzero(boundary == 0)
        if interior.size:
            d2 = ev.second_derivative(hsq[interior], interior)
            with np.errstate(invalid="ignore", divide="ignore"):
                se[interior] = np.where(d2 < 0, 1.0 / np.sqrt(-d2), np.nan)
    ci_lo = np.full(m, np.nan)
    ci_hi = np.full(m, np.nan)
    if compute_ci:
        ci_lo, ci_hi = _profile_ci(ev, hsq, sol.loglik, ev.ci_grid)
    return dict(hsq=hsq, beta=sol.beta, sigmasq=sol.sigmasq, loglik=sol.loglik, hsq_se=se,
                ci_lo=ci_lo, ci_hi=ci_hi, boundary=boundary, converged=converged, n_eval=n_eval)


class _Evaluator:
    """``ℓ`` of column ``idx[k]`` at ``u[k]``; keeps a column subset while it stays useful."""

    def __init__(self, prep: Prepared, reml: bool):
        self.full = prep
        self.reml = reml
        self.cols = np.arange(prep.m)
        self.work = prep
        self.ws = Workspace(min(prep.m, SUB_BLOCK), prep.lam.shape[0])

    def _eval(self, h):
        st = stats_per_column(self.work, h, self.ws)
        return finish(self.work, st, self.reml, want_beta=False).loglik

    def __call__(self, u, idx):
        if u.size > 1 and (u == u[0]).all() and idx.size == self.full.m:
            return self.shared(u[:1])[0]  # one common point: matrix products
        if idx.size == self.cols.size and np.array_equal(idx, self.cols):
            return self._eval(u)
        if idx.size * 2 < self.cols.size or not np.isin(idx, self.cols).all():
            self.cols = idx.copy()
            self.work = self.full.columns(idx)
            return self._eval(u)
        # evaluate the whole working set (others at 0.5, unused) and pick ours
        pos = np.searchsorted(self.cols, idx)
        h = np.full(self.cols.size, 0.5)
        h[pos] = u
        return self._eval(h)[pos]

    ci_grid = np.linspace(0.0, 1.0, 41)

    @property
    def m(self):
        return self.full.m

    def shared(self, h):
        """``ℓ`` of every column at each of the common values ``h`` (g,): (g, m)."""
        return finish(self.full, stats_shared(self.full, np.asarray(h, dtype=float)), self.reml,
                      want_beta=False).loglik

    def solution(self, h):
        """β̂, σ̂², ℓ of every column at its own ``h`` (m,)."""
        return finish(self.full, stats_per_column(self.full, h), self.reml)

    def second_derivative(self, h, cols):
        """Analytic ``d²ℓ/dhsq²`` of columns ``cols`` at ``h``."""
        return second_derivative(self.full.columns(cols), h, self.reml)


def _profile_ci(ev, hsq, ll_hat, grid):
    """95% profile-likelihood interval around ``hsq`` for every column.

    The profile is first evaluated on ``grid`` for all columns at once
    (matrix products for complete data); on each side of ``ĥ`` the grid point nearest to ``ĥ``
    outside the interval brackets the crossing, which root finding then
    locates to about ``1e-13`` relative. The interval is thus the one containing ``ĥ`` (to the
    grid's resolution, should the profile have several modes).
    """
    m = hsq.size
    gg = 2.0 * (ll_hat[None, :] - ev.shared(grid)) - CHI2_95      # (g, m)
    gg = np.where(np.isnan(gg), np.inf, gg)
    out = np.arange(grid.size)[:, None]
    below = (grid[:, None] < hsq[None, :]) & (gg > 0)
    above = (grid[:, None] > hsq[None, :]) & (gg > 0)
    k_lo = np.where(below, out, -1).max(axis=0)                   # last outside point below ĥ
    k_hi = np.where(above, out, grid.size).min(axis=0)            # first outside point above ĥ
    lo = np.zeros(m)
    hi = np.ones(m)
    cols = np.arange(m)

    def g(h, k, c):
        return 2.0 * (ll_hat[c[k]] - ev(h, c[k])) - CHI2_95

    c = cols[k_lo >= 0]
    if c.size:
        k = k_lo[c]
        right = np.minimum(grid[k + 1], hsq[c])
        g_right = np.where(grid[k + 1] < hsq[c], gg[k + 1, c], -CHI2_95)
        lo[c] = root_lockstep(lambda h, j: g(h, j, c), grid[k], right, gg[k, c], g_right)
    c = cols[k_hi < grid.size]
    if c.size:
        k = k_hi[c]
        left = np.maximum(grid[k - 1], hsq[c])
        g_left = np.where(grid[k - 1] > hsq[c], gg[k - 1, c], -CHI2_95)
        hi[c] = root_lockstep(lambda h, j: g(h, j, c), left, grid[k], g_left, gg[k, c])
    return lo, hi


def second_derivative(prep: Prepared, hsq, reml: bool):
    """Analytic ``d²ℓ/dhsq²`` of each column at its ``hsq`` (formulas in the module notes).

    Every sum over individuals is a matrix product over the (m, n) weight arrays.
    """
    n, p = prep.n, prep.p
    m = hsq.shape[0]
    d = prep.d[None, :n]                                    # (1, n)
    A = hsq[:, None] * prep.lam[None, :n] + (1.0 - hsq)[:, None]
    S = 1.0 / A                                             # (m, n)
    dS = d * S
    S1 = -dS * S                                            # dS/dhsq
    S2 = 2.0 * dS * dS * S                                  # d²S/dhsq²
    Q = prep.Q

    def gram(W):                                            # Σᵢ Wⱼᵢ Qᵢₖ Qᵢₗ, (m, p, p)
        return (W @ prep.QQ_full).reshape(m, p, p)

    M = gram(S)
    yr = prep.resid                                         # (m, n)
    bq = np.linalg.solve(M, ((S * yr) @ Q)[:, :, None])[:, :, 0]   # (m, p)
    r = yr - bq @ Q.T                                       # residuals, (m, n)
    r2 = r * r
    rss = np.einsum("ji,ji->j", S, r2)
    rss1 = np.einsum("ji,ji->j", S1, r2)
    u = (S1 * r) @ Q                                        # (m, p)
    Minv_u = np.linalg.solve(M, u[:, :, None])[:, :, 0]
    rss2 = np.einsum("ji,ji->j", S2, r2) - 2.0 * np.einsum("jk,jk->j", u, Minv_u)
    curv = rss2 / rss - (rss1 / rss) ** 2
    dof = n - p if reml else n
    out = 0.5 * np.einsum("ji,ji->j", dS, dS) - 0.5 * dof * curv
    if reml:
        MA1 = np.linalg.solve(M, gram(S1))
        MA2 = np.linalg.solve(M, gram(S2))
        out = out - 0.5 * (np.trace(MA2, axis1=1, axis2=2)
                           - np.einsum("jkl,jlk->j", MA1, MA1))
    return out

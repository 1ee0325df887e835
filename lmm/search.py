r"""The search driver shared by every fit path: Brent search, boundaries, flags, SE, interval.

:func:`search` maximises the profile log-likelihood ``ℓ(hsq)`` of ``m``
phenotype columns over ``[0, 1]`` for any object that satisfies the
:class:`Evaluator` protocol; it knows nothing of how ``ℓ`` is computed. The
evaluators of this package are :class:`lmm.evaluators.RotatedEvaluator`
(eigen-rotated data, :func:`lmm.fit_lmm`) and
:class:`lmm.missing.MaskedEvaluator` (Schur complement, :func:`lmm.fit_lmm_masked`);
a new one (a genome scan, LOCO) needs only the six members of the protocol.

Notes
-----
1. **Search.** Brent's method (the algorithm and tolerance convention of R's
   ``optimize``, as lmmlite uses) on ``[0, 1]``, all columns in lockstep
   (:func:`lmm.brent.fmin_lockstep`). With ``start="grid"`` (the genome scan's null
   fits) there is no Brent search: ``ℓ`` of every column on :data:`GRID_START` (21
   points, one matrix product of the whole block instead of a dozen evaluations
   column by column) brackets the best maximum inside (0, 1), and the polish of
   note 4 starts from the vertex of the parabola through the best grid point and its
   neighbours. Both locate the same root of the score (to ~1e-13, the tests check
   1e-10); where ``ℓ`` has several local maxima the grid takes the one nearest its
   best point, Brent's search any of them.
2. **Boundaries.** ``ℓ(0)``, ``ℓ(½)`` and ``ℓ(1)`` are evaluated exactly for
   every column. With ``check_boundary`` the best of ``ĥ``, 0 and 1 is kept
   (ties favour the interior optimum, then 0). ``ℓ(1) = +∞`` (an unbounded
   likelihood, see :mod:`lmm.likelihood`) always gives ``hsq = 1`` and status
   ``'unbounded'``.
3. **Flat likelihood.** When ``ℓ`` at 0, ½, 1 and ``ĥ`` agree to
   ``FLAT_LOGLIK_RTOL · max(1, |ℓ(ĥ)|)`` (``1e-10``; ``ℓ`` is then constant to
   round-off, as when K ∝ I, where every ``aᵢ`` is the same and ``hsq`` is not
   identifiable) the status is ``'flat_likelihood'``.
4. **Polish.** Brent's search compares values of ``ℓ``, which is flat to ~ε
   near its maximum, so it can place a smooth maximum only to about
   ``√ε·|ĥ| ≈ 1e-8`` (and, at the default ``tol``, to about ``tol``): two
   data sets with the same ``hsq`` (``y`` and ``y·3.7``) could differ by up to ~1e-7.
   With ``polish`` (the default) every column whose optimum is interior
   (boundary ``'none'``, status ``'ok'``) is then refined by a safeguarded
   Newton iteration on the score ``ℓ′(h) = 0`` (:func:`polish`), which the
   evaluators compute analytically (``Evaluator.first_derivative``, formulas
   in :mod:`lmm.evaluators` and :mod:`lmm.missing`) to relative precision ~ε:
   its root is located to ~1e-13 or better, the same whatever the units,
   offset or evaluator. ``tol`` keeps its meaning for the Brent phase
   (``converged`` and ``n_eval`` are the Brent search's); ``polish=False``
   gives lmmlite's answer (the point where R's ``optimize`` stops).
5. **Standard error.** ``(−d²ℓ/dhsq²)^(−1/2)`` at an interior ``ĥ`` with negative
   curvature (``Evaluator.second_derivative``); NaN otherwise.
6. **Interval.** ``{h ∈ [0, 1] : 2(ℓ(ĥ) − ℓ(h)) ≤ c}``: the profile is evaluated
   on :data:`CI_GRID` (the same for every evaluator); on each side of ``ĥ`` the
   grid point nearest to ``ĥ`` outside the interval brackets the crossing,
   located by root finding to about ``1e-13`` relative; an end is 0 or 1 when
   the criterion holds there. The cutoff ``c`` is ``CHI2_95 = 3.8415`` (χ²₁, 95%)
   for an interior ``ĥ``. For ``ĥ`` on a boundary the likelihood-ratio statistic
   of a value on the boundary is a 50:50 mixture of χ²₀ and χ²₁ (Self and Liang
   1987), whose 95% quantile is χ²₁'s 90% quantile, ``CHI2_MIX_95 = 2.7055``;
   that cutoff is used then. The cutoff of each interval is returned
   (``ci_cutoff``).
7. **Scale.** ``hsq``, its interval and ``ℓ`` (shifted by ``−dof·log c``) are in range whatever
   the units of ``y``; ``σ̂² ∝ c²`` and ``β̂ ∝ c`` are not (``y·1e200`` has ``σ̂² ≈ 1e400``,
   ``y·1e-200`` ``σ̂² ≈ 1e-400``). They are reported in the data's units where float64
   represents them; for a column where it does not they are reported for the data
   ``y·2^−k`` (``k`` the exponent with ``max|y·2^−k|`` in [0.5, 1), given as
   ``y_scale_log2``; 0 otherwise) and, when the status would be ``'ok'``, it is
   ``'scale_overflow'`` or ``'scale_underflow'`` (:func:`to_data_scale`). So every number
   is finite (NaN where it is not computed) and ``σ̂²_data = sigmasq·4^y_scale_log2``.

References
----------
Self, S. G. and Liang, K.-Y. (1987) Asymptotic properties of maximum likelihood
estimators and likelihood ratio tests under nonstandard conditions.
*JASA* 82, 605–610.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import numpy as np

from .brent import fmin_lockstep, root_lockstep
from .checks import (FLAT_LOGLIK_RTOL, POLISH_BRACKET_MARGIN, POLISH_LOGLIK_RTOL, POLISH_SECANT_MIN_STEP,
                     POLISH_SLOPE_STEP, POLISH_STEP_RTOL)
from .errors import InputError

__all__ = ["Evaluator", "Solution", "SearchOutcome", "search", "polish", "profile_ci", "to_data_scale",
           "CI_GRID",
           "CHI2_95", "CHI2_MIX_95", "POLISH_MAX_ITER"]

#: 95% quantile of the chi-squared distribution with one degree of freedom.
CHI2_95 = 3.841458820694124
#: 95% quantile of the 50:50 mixture of χ²₀ and χ²₁ (= χ²₁'s 90% quantile).
CHI2_MIX_95 = 2.705543454095404
#: Grid on which every evaluator's profile is evaluated to bracket the interval's ends.
CI_GRID = np.linspace(0.0, 1.0, 21)
#: Newton steps of the polish (note 4) at most.
POLISH_MAX_ITER = 6
#: The grid of the search's ``start="grid"`` (note 1): ``ℓ`` of every column at these points, in
#: one matrix product per block, brackets each column's maximum for the polish. It holds 0, ½
#: and 1, the points of notes 2 and 3.
GRID_START = np.linspace(0.0, 1.0, 21)
#: Newton steps of the polish from the grid (its start is ~1e-3 from the root, not Brent's ~1e-5).
GRID_POLISH_MAX_ITER = 12
#: The starts a search knows (note 1).
SEARCH_STARTS = ("brent", "grid")
_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True, eq=False)
class Solution:
    """Everything at given ``hsq`` for a batch of entries (arrays of the batch shape ``B``).

    Attributes
    ----------
    loglik : ndarray B
    beta : ndarray (p, *B), in the user's parametrisation of ``X``
    rss : ndarray B
    sigmasq : ndarray B
        ``rss / (n − p)``.
    logdet_xsx : ndarray B
        ``log|XᵀSX|``.
    y_scale_log2 : ndarray of int (m,) or None
        ``beta``, ``rss`` and ``sigmasq`` are those of the data ``y·2^−y_scale_log2`` (one
        exponent per column, the last axis); ``None``: the data's own units. ``loglik`` is
        always in the data's units. An evaluator that scales the data internally returns its
        scaled values and exponents, so that :func:`search` can report them in the data's
        units where float64 represents them (:func:`to_data_scale`).
    """

    loglik: np.ndarray
    beta: np.ndarray
    rss: np.ndarray
    sigmasq: np.ndarray
    logdet_xsx: np.ndarray
    y_scale_log2: np.ndarray | None = None


@runtime_checkable
class Evaluator(Protocol):
    """What :func:`search` needs of the profile log-likelihood of ``m`` columns.

    ``solution(h).loglik`` is ``ℓ`` of :func:`lmm.calc_ll` (lmmlite's constants)
    in the user's units; ``__call__`` and ``shared`` may return it less a
    constant per column (the same for both: an evaluator that scales the data
    internally returns the scaled data's ``ℓ``, so that the search takes the same
    steps whatever the units). ``−inf`` where the covariance is singular and the
    data do not allow it, ``+inf`` where the likelihood is unbounded.
    """

    @property
    def m(self) -> int:
        """Number of phenotype columns."""

    def __call__(self, h: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``ℓ`` of column ``idx[k]`` at ``h[k]``; ``h``, ``idx`` and the result have shape (k,)."""

    def shared(self, h: np.ndarray) -> np.ndarray:
        """``ℓ`` of every column at each common value ``h`` (g,): shape (g, m)."""

    def solution(self, h: np.ndarray) -> Solution:
        """:class:`Solution` of every column at its own ``h`` (m,) (``beta`` (p, m))."""

    def first_derivative(self, h: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``dℓ/dhsq`` (the score) of columns ``cols`` (k,) at ``h`` (k,), interior points only,
        to relative precision ~ε (an analytic formula, not differences of ``ℓ``: the polish
        of note 4 finds its root)."""

    def second_derivative(self, h: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``d²ℓ/dhsq²`` of columns ``cols`` (k,) at ``h`` (k,), interior points only."""


@dataclass(frozen=True, eq=False)
class SearchOutcome:
    """Per-column results of :func:`search`: arrays (m,), ``beta`` (p, m).

    ``boundary`` and ``status`` are string arrays (see :class:`lmm.FitResult`); ``sigmasq``
    and ``beta`` are those of ``y·2^−y_scale_log2`` (:func:`to_data_scale`; ``None``: all 0).
    """

    hsq: np.ndarray
    beta: np.ndarray
    sigmasq: np.ndarray
    loglik: np.ndarray
    hsq_se: np.ndarray
    hsq_ci_lower: np.ndarray
    hsq_ci_upper: np.ndarray
    ci_cutoff: np.ndarray
    boundary: np.ndarray
    status: np.ndarray
    converged: np.ndarray
    n_eval: np.ndarray
    y_scale_log2: np.ndarray | None = None

    def scale_log2(self) -> np.ndarray:
        """``y_scale_log2`` as an array (m,) of int (zeros when ``None``)."""
        if self.y_scale_log2 is None:
            return np.zeros(np.shape(self.hsq)[-1:] or (1,), dtype=np.int64)
        return np.asarray(self.y_scale_log2, dtype=np.int64)

    @staticmethod
    def concatenate(parts, order=None) -> "SearchOutcome":
        """Join the outcomes of blocks of columns; ``order`` (m,), if given, is the column of
        the caller that each concatenated column is, and the result is put in that order."""
        out = {}
        for f in fields(SearchOutcome):
            if f.name == "y_scale_log2":
                a = np.concatenate([pt.scale_log2() for pt in parts])
            else:
                a = np.concatenate([getattr(pt, f.name) for pt in parts], axis=-1)
            if order is not None:
                inv = np.empty_like(order)
                inv[order] = np.arange(order.size)
                a = a[..., inv]
            out[f.name] = a
        return SearchOutcome(**out)


def search(ev: Evaluator, check_boundary: bool, tol: float, compute_se: bool,
           compute_ci: bool, polish: bool = True, start: str = "brent") -> SearchOutcome:
    """Maximise ``ℓ`` of every column of ``ev`` over [0, 1]; flags, SE and interval (module notes).

    Parameters
    ----------
    ev : Evaluator
    check_boundary : bool
        Compare the optimum found inside with ``hsq = 0`` and ``hsq = 1``.
    tol : float
        Brent tolerance (R's ``optimize``).
    compute_se, compute_ci : bool
    polish : bool
        Refine interior optima by Newton's method on the score (note 4; default).
        ``False`` stops where Brent's search (and lmmlite) stops.
    start : {"brent", "grid"}
        How the polish is started (note 1): from Brent's search (default), or from the profile
        on :data:`GRID_START` (needs ``polish``; ``tol`` is then used only where the grid cannot
        tell whether a maximum lies just below 1: :func:`_grid_search`).

    Returns
    -------
    SearchOutcome
    """
    if start not in SEARCH_STARTS:
        raise InputError(f"start must be one of {', '.join(SEARCH_STARTS)}, got {start!r}")
    if start == "grid" and not polish:
        raise InputError("start='grid' needs polish=True: the grid only brackets the maximum")
    m = ev.m
    if start == "grid":
        hsq, ll, (ll0, llh, ll1) = _grid_search(ev, tol)
        converged, n_eval = np.ones(m, dtype=bool), np.full(m, GRID_START.size)
    else:
        x, fx, converged, n_eval = fmin_lockstep(lambda u, idx: -ev(u, idx), np.zeros(m),
                                                 np.ones(m), tol)
        hsq, ll = x, -fx
        ll0, llh, ll1 = ev.shared(np.array([0.0, 0.5, 1.0]))
    unbounded = ll1 == np.inf
    b = np.zeros(m, dtype=np.int8)
    if check_boundary:
        use0 = (ll0 > ll) & (ll0 >= ll1)
        use1 = (ll1 > ll) & (ll1 > ll0)
        b = np.where(use0, -1, np.where(use1, 1, 0)).astype(np.int8)
    b = np.where(unbounded, 1, b).astype(np.int8)
    hsq = np.where(b < 0, 0.0, np.where(b > 0, 1.0, hsq))
    if start == "grid":                          # ℓ of the polished points is known
        ll_hat = np.where(b < 0, ll0, np.where(b > 0, ll1, ll))
    else:
        ll_hat = ev(hsq, np.arange(m))          # on the evaluator's own scale, as ll0, ll1
    flat = _flat(np.stack([ll0, llh, ll1, ll_hat]), ll_hat)
    status = np.where(unbounded, "unbounded", np.where(flat, "flat_likelihood", "ok"))
    if polish and start == "brent":
        cols = np.flatnonzero((b == 0) & (status == "ok") & np.isfinite(ll_hat))
        if cols.size:
            hsq[cols], ll_hat[cols] = _polish(ev, hsq[cols], ll_hat[cols], cols, tol,
                                              converged[cols])
    sol = ev.solution(hsq)
    sigmasq, beta, scale, out_of_range = to_data_scale(sol)
    status = np.where((status == "ok") & (out_of_range != ""), out_of_range, status)
    se = np.full(m, np.nan)
    if compute_se:
        interior = np.flatnonzero((b == 0) & ~unbounded)
        if interior.size:
            d2 = ev.second_derivative(hsq[interior], interior)
            with np.errstate(invalid="ignore", divide="ignore"):
                se[interior] = np.where(d2 < 0, 1.0 / np.sqrt(-d2), np.nan)
    ci_lo = np.full(m, np.nan)
    ci_hi = np.full(m, np.nan)
    cutoff = np.full(m, np.nan)
    if compute_ci:
        cols = np.flatnonzero(np.isfinite(ll_hat))
        if cols.size:
            cut = np.where(b[cols] != 0, CHI2_MIX_95, CHI2_95)
            ci_lo[cols], ci_hi[cols] = profile_ci(ev, hsq, ll_hat, cols, cut)
            cutoff[cols] = cut
    return SearchOutcome(
        hsq=hsq, beta=beta, sigmasq=sigmasq, loglik=sol.loglik, hsq_se=se,
        hsq_ci_lower=ci_lo, hsq_ci_upper=ci_hi, ci_cutoff=cutoff,
        boundary=np.where(b < 0, "lower", np.where(b > 0, "upper", "none")),
        status=status, converged=converged, n_eval=n_eval, y_scale_log2=scale)


def to_data_scale(sol: Solution):
    """``σ̂²`` and ``β̂`` of a :class:`Solution` of ``m`` columns in the data's units where float64
    represents them, else on the scale the evaluator used (note 7).

    Returns
    -------
    sigmasq : ndarray (m,)
    beta : ndarray (p, m)
        ``σ̂²·4^−k`` and ``β̂·2^−k``: the estimates of the data ``y·2^−k``.
    k : ndarray (m,) of int
        0 where the data's own ``σ̂²`` and ``β̂`` are representable (finite, and each non-zero
        value at least the smallest normal float64, about 2.2e-308); else the evaluator's
        exponent (``max|y·2^−k|`` in [0.5, 1), so the values are of the order of the data's
        scale of 1).
    out_of_range : ndarray (m,) of str
        ``''``, ``'scale_overflow'`` (a value would exceed about 1.8e308) or
        ``'scale_underflow'`` (a non-zero value would fall below about 2.2e-308, or to 0).
    """
    m = np.shape(sol.sigmasq)[-1]
    e = np.zeros(m, dtype=np.int64) if sol.y_scale_log2 is None else np.asarray(
        sol.y_scale_log2, dtype=np.int64)
    tiny = np.finfo(np.float64).tiny
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        s_data = np.ldexp(sol.sigmasq, 2 * e)
        b_data = np.ldexp(sol.beta, e)
        # ±inf (σ̂² of a fitted column is finite and positive) or 0 from an evaluator that
        # scaled back itself (y_scale_log2 None) are flagged too, though they cannot be undone
        over = ((np.isfinite(sol.sigmasq) & ~np.isfinite(s_data)) | np.isinf(sol.sigmasq)
                | (np.isfinite(sol.beta) & ~np.isfinite(b_data)).any(axis=0)
                | np.isinf(sol.beta).any(axis=0))
        under = (((sol.sigmasq != 0) & (np.abs(s_data) < tiny)) | (sol.sigmasq == 0)
                 | ((sol.beta != 0) & (np.abs(b_data) < tiny)).any(axis=0))
    bad = over | under
    k = np.where(bad, e, 0)
    sigmasq = np.where(bad, sol.sigmasq, s_data)
    beta = np.where(bad, sol.beta, b_data)
    flag = np.where(over, "scale_overflow", np.where(under, "scale_underflow", ""))
    return sigmasq, beta, k, flag


def _flat(pts, ref):
    """Note 3's rule: every value of ``pts`` (k, m) finite and their spread per column at most
    ``FLAT_LOGLIK_RTOL · max(1, |ref|)``, ``ref`` (m,)."""
    with np.errstate(invalid="ignore"):
        return (np.isfinite(pts).all(axis=0)
                & (pts.max(axis=0) - pts.min(axis=0) <= FLAT_LOGLIK_RTOL * np.maximum(1.0, np.abs(ref))))


def _grid_search(ev, tol):
    """The start ``"grid"`` (note 1): each column's maximum inside (0, 1), polished.

    ``ℓ`` of every column on :data:`GRID_START` (``ev.shared``); the best point ``h_i`` inside
    (not 0 or 1) and its neighbours bracket a maximum; the polish starts at the vertex of the
    parabola through the three, with its curvature as the first slope of the score (at ``h_i``
    with a bisection where the vertex is not inside the bracket). Where ``ℓ(h_i)`` is above both
    neighbours a root of the score lies between them (even next to a singular ``ℓ(1) = −∞``);
    else the polish's test of the end applies; where that test cannot be made (``ℓ(1)`` above
    ``ℓ(h_i)`` and the score at 1 not finite: a singular K), the column is searched as with the
    start ``"brent"`` (``tol``). Columns whose grid profile is flat to round-off (note 3) or
    unbounded at 1 are not polished.

    Returns
    -------
    hsq, ll : ndarray (m,)
        The polished maxima and ``ℓ`` there (the evaluator's scale).
    ends : tuple of ndarray (m,)
        ``ℓ`` at 0, ½ and 1.
    """
    grid = GRID_START
    L = np.asarray(ev.shared(grid), dtype=float)                    # (g, m)
    m = L.shape[1]
    at = np.arange(m)
    inner = np.where(np.isnan(L[1:-1]), -np.inf, L[1:-1])
    i = np.argmax(inner, axis=0) + 1
    lm, l0, lp = L[i - 1, at], L[i, at], L[i + 1, at]
    step = grid[1] - grid[0]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        curv = (lp - 2.0 * l0 + lm) / (step * step)                 # ℓ″ of the parabola
        off = -(lp - lm) / (2.0 * step * curv)
        ok = np.isfinite(off) & (curv < 0) & (np.abs(off) < step)    # a vertex inside the bracket
    flat = _flat(L, L.max(axis=0))
    hsq = grid[i].copy()
    ll = l0.copy()
    todo = np.isfinite(l0) & ~flat & (L[-1] != np.inf)
    bracketed = (l0 > lm) & (l0 > lp)
    # ℓ(1) finite and above ℓ(h_i) with a score at 1 that is not (a singular K): whether a
    # maximum lies just below 1 is Brent's search to find, as with the start "brent"
    near1 = np.flatnonzero(todo & ~bracketed & (i == grid.size - 2) & (lp >= l0))
    if near1.size:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            g1 = np.asarray(ev.first_derivative(np.ones(near1.size), near1), dtype=float)
        brent = near1[~np.isfinite(g1)]
        if brent.size:
            x, fx, converged, _ = fmin_lockstep(lambda u, j: -ev(u, brent[j]), np.zeros(brent.size),
                                                np.ones(brent.size), tol)
            hsq[brent], ll[brent] = _polish(ev, x, -fx, brent, tol, converged)
            todo[brent] = False
    cols = np.flatnonzero(todo)
    if cols.size:
        x0 = np.where(ok, hsq + off, hsq)[cols]
        hsq[cols], ll[cols] = polish(ev, hsq[cols], ll[cols], cols, grid[i - 1][cols],
                                     grid[i + 1][cols], GRID_POLISH_MAX_ITER, start=x0,
                                     slope=np.where(ok, curv, np.nan)[cols],
                                     bracketed=bracketed[cols])
    return hsq, ll, (L[0], L[(grid.size - 1) // 2], L[-1])


def _polish(ev, h, ll, cols, tol, converged):
    """:func:`polish` of the columns ``cols``, bracketed by Brent's bracket widened by
    :data:`POLISH_BRACKET_MARGIN`."""
    w = np.where(converged, 4.0 * (_SQRT_EPS * np.abs(h) + tol / 3.0) + POLISH_BRACKET_MARGIN,
                 1.0)
    return polish(ev, h, ll, cols, np.maximum(0.0, h - w), np.minimum(1.0, h + w))


def polish(ev: Evaluator, h, ll, cols, lo, hi, max_iter: int = POLISH_MAX_ITER, *, start=None,
           slope=None, bracketed=None):
    """Refine interior maxima of ``ℓ`` by a safeguarded Newton iteration on the score (note 4).

    Parameters
    ----------
    ev : Evaluator
    h, ll : ndarray (k,)
        Brent's optima of columns ``cols`` and ``ℓ`` there (on the evaluator's scale).
    cols : ndarray (k,) of int
    lo, hi : ndarray (k,)
        A bracket of each maximum within [0, 1]. Brent's search stops with a bracket
        ``[a, b] ∋ ĥ`` of length at most ``4·tol1`` (``tol1 = √ε·|ĥ| + tol/3``: the
        stopping rule of :mod:`lmm.brent`), so ``ĥ ± 4·tol1`` holds it.
    max_iter : int
    start, slope : ndarray (k,), optional
        Where the iteration starts (default ``h``) and a first slope of the score there (NaN:
        none, the first step bisects); both or neither. Without them the slope is the difference
        of the scores at ``h`` and ``h ± POLISH_SLOPE_STEP``.
    bracketed : ndarray (k,) of bool, optional
        Columns known to have a root of the score inside ``(lo, hi)`` (``ℓ`` at ``h`` above ``ℓ``
        at both ends): the test of an end of [0, 1] (notes) is skipped for them.

    Returns
    -------
    h, ll : ndarray (k,)
        The refined optima and ``ℓ`` there.

    Notes
    -----
    All columns are iterated in lockstep. Each step: the sign of the score ``g = ℓ′(h)``
    narrows the bracket (``g > 0``: the root is above ``h``); the Newton step
    ``−g/H`` is taken when ``H < 0`` and it lands inside the bracket, else the bracket is
    bisected. ``H`` is first the slope of the score between Brent's point and a point
    ``POLISH_SLOPE_STEP`` (1e-6) away, then the secant slope of the last step when that
    step is long enough (``≥ 1e-8·max(1, |h|)``) for the difference of scores to be free
    of round-off: the iteration converges superlinearly with one evaluation of the score
    per step (two at the start) and no second derivative. A column stops when its Newton step is
    at most ``POLISH_STEP_RTOL·max(1, |h|)``, its score is 0 or not finite, or after
    ``max_iter`` steps. A column whose score at ``h`` points to an end of [0, 1] within
    its bracket is polished only if the score at that end points back (then a root lies
    between); otherwise the maximum may be the end (with ``check_boundary=False``) and
    the column is left as it is. Finally a refined point is kept only where ``ℓ`` is at least the
    starting ``ℓ`` less ``POLISH_LOGLIK_RTOL·max(1, |ℓ|)``.
    """
    h0 = np.asarray(h, dtype=float)
    x = h0.copy() if start is None else np.array(start, dtype=float)
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    k = x.size
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if start is None:
            delta = np.where(x < 0.5, POLISH_SLOPE_STEP, -POLISH_SLOPE_STEP)  # towards the inside
            gg = np.asarray(ev.first_derivative(np.concatenate([x, x + delta]),
                                                np.concatenate([cols, cols])), dtype=float)
            g = gg[:k]
            H = (gg[k:] - g) / delta
        else:
            g = np.asarray(ev.first_derivative(x, cols), dtype=float)
            H = np.array(slope, dtype=float)
    # the score points to an end of [0, 1] inside the bracket: go on only if the score at
    # that end points back (an interior maximum between), else the maximum may be the end
    outward = ((lo <= 0.0) & (g < 0)) | ((hi >= 1.0) & (g > 0))
    outward = np.flatnonzero(outward if bracketed is None else outward & ~np.asarray(bracketed))
    if outward.size:
        end = np.where(g[outward] < 0, 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            g_end = np.asarray(ev.first_derivative(end, cols[outward]), dtype=float)
        back = np.where(end == 0.0, g_end > 0, g_end < 0)      # False where not finite
        g[outward[~back]] = 0.0                                  # left as it is
    active = np.flatnonzero(np.isfinite(g) & (g != 0))
    for _ in range(max_iter):
        if active.size == 0:
            break
        xa, ga, Ha = x[active], g[active], H[active]
        scale = np.maximum(1.0, np.abs(xa))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dn = -ga / Ha                                       # the Newton step
        newton = np.isfinite(dn) & (Ha < 0)
        go = ~(newton & (np.abs(dn) <= POLISH_STEP_RTOL * scale))    # else converged: stop
        active, xa, ga, dn, newton, scale = (v[go] for v in (active, xa, ga, dn, newton, scale))
        if active.size == 0:
            break
        la = np.where(ga > 0, np.maximum(lo[active], xa), lo[active])
        ha = np.where(ga < 0, np.minimum(hi[active], xa), hi[active])
        lo[active], hi[active] = la, ha
        xn = xa + dn
        newton &= (xn > la) & (xn < ha)
        xn = np.where(newton, xn, 0.5 * (la + ha))
        step = xn - xa
        x[active] = xn
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            gn = np.asarray(ev.first_derivative(xn, cols[active]), dtype=float)
            slope = (gn - ga) / step
        update = np.isfinite(slope) & (slope < 0) & (np.abs(step) >= POLISH_SECANT_MIN_STEP * scale)
        H[active] = np.where(update, slope, H[active])
        g[active] = gn
        active = active[np.isfinite(gn) & (gn != 0)]
    moved = np.flatnonzero(x != h0)
    ll = np.array(ll, dtype=float)
    if moved.size:
        ll_new = np.asarray(ev(x[moved], cols[moved]), dtype=float)
        keep = np.isfinite(ll_new) & (ll_new >= ll[moved] - POLISH_LOGLIK_RTOL
                                      * np.maximum(1.0, np.abs(ll[moved])))
        x[moved] = np.where(keep, x[moved], h0[moved])
        ll[moved] = np.where(keep, ll_new, ll[moved])
    return x, ll


def profile_ci(ev: Evaluator, hsq, ll_hat, cols, cutoff, grid=CI_GRID):
    """Profile-likelihood interval ``{h : 2(ℓ(ĥ) − ℓ(h)) ≤ cutoff}`` of columns ``cols``.

    Parameters
    ----------
    ev : Evaluator
    hsq, ll_hat : ndarray (m,)
        The estimates and ``ℓ`` there, for all ``ev.m`` columns.
    cols : ndarray (k,) of int
        Columns to do (with finite ``ll_hat``).
    cutoff : ndarray (k,)
    grid : ndarray (g,)
        Bracketing grid (module notes, item 5).

    Returns
    -------
    lower, upper : ndarray (k,)
        The interval is the one containing ``ĥ`` (to the grid's resolution,
        should the profile have several modes).
    """
    h_c = hsq[cols]
    l_c = ll_hat[cols]
    gg = 2.0 * (l_c[None, :] - ev.shared(grid)[:, cols]) - cutoff[None, :]   # (g, k)
    gg = np.where(np.isnan(gg), np.inf, gg)
    out = np.arange(grid.size)[:, None]
    below = (grid[:, None] < h_c[None, :]) & (gg > 0)
    above = (grid[:, None] > h_c[None, :]) & (gg > 0)
    k_lo = np.where(below, out, -1).max(axis=0)                   # last outside point below ĥ
    k_hi = np.where(above, out, grid.size).min(axis=0)            # first outside point above ĥ
    k = cols.size
    lo = np.zeros(k)
    hi = np.ones(k)
    pos = np.arange(k)

    def g(h, j, sel):
        s = sel[j]
        return 2.0 * (l_c[s] - ev(h, cols[s])) - cutoff[s]

    s = pos[k_lo >= 0]
    if s.size:
        kk = k_lo[s]
        right = np.minimum(grid[kk + 1], h_c[s])
        g_right = np.where(grid[kk + 1] < h_c[s], gg[kk + 1, s], -cutoff[s])
        lo[s] = root_lockstep(lambda h, j: g(h, j, s), grid[kk], right, gg[kk, s], g_right)
    s = pos[k_hi < grid.size]
    if s.size:
        kk = k_hi[s]
        left = np.maximum(grid[kk - 1], h_c[s])
        g_left = np.where(grid[kk - 1] > h_c[s], gg[kk - 1, s], -cutoff[s])
        hi[s] = root_lockstep(lambda h, j: g(h, j, s), left, grid[kk], g_left, gg[kk, s])
    return lo, hi

r"""Storey's q-values and the proportion of true nulls π0, as R's ``qvalue`` 2.30 computes them.

:func:`qvalue` and :func:`pi0est` follow the defaults of R's ``qvalue(p)`` (Storey 2002; Storey
& Tibshirani 2003): ``lambda = seq(0.05, 0.95, 0.05)``, ``pi0.method = "smoother"``,
``smooth.df = 3``, ``smooth.log.pi0 = FALSE``, ``pfdr = FALSE``. :func:`smooth_spline_df` is R's
``smooth.spline(x, y, df = df)`` for the few points the smoother needs. The results equal R's
to about 1e-12 (``tests/reference/qvalue/``, made by R 4.2.2 and qvalue 2.30.0).

Notes
-----
**π0.** For each ``λ`` of the grid, ``π̂0(λ) = #{p_i ≥ λ} / (m·(1 − λ))``. A cubic smoothing
spline with 3 degrees of freedom is fitted to the points ``(λ, π̂0(λ))`` and evaluated at the
largest ``λ``; ``π0 = min(that, 1)``.

**q-values.** With the ``m`` p-values sorted in decreasing order and ``i = m, m − 1, …, 1`` their
ranks, ``q_(i) = π0 · min(1, min_{j ≤ i} m·p_(j)/j)`` (a cumulative minimum from the largest
p-value down; tied p-values get the q-value of the last of them, ``m·p/#{p_k ≤ p}``). Missing
p-values (NaN) are left out and get NaN.

**The smoothing spline** (R's ``smooth.spline``, from its documentation and, where that is
silent, from the matrices R returns with ``keep.stuff = TRUE``): ``x`` is scaled to [0, 1]; the
basis is the cubic B-splines on the knots ``0, 0, 0, x̄_1, …, x̄_n, 1, 1, 1`` (every point is a
knot for ``n < 50``), ``X_ij = B_j(x̄_i)``; ``Σ_jk = ∫ B_j″ B_k″``, computed interval by interval
from the linear ``B″ = u + v·s`` (``s ∈ [0, 1]`` across the interval of width ``h``) as
``h·(u_j u_k + (u_j v_k + v_j u_k)/2 + 0.333·v_j v_k)``: R integrates ``s²`` as 0.333, not 1/3.
The coefficients minimise ``‖y − Xc‖² + λ·cᵀΣc`` (unit weights), so ``c = (XᵀX + λΣ)⁻¹Xᵀy`` and
``df = tr((XᵀX + λΣ)⁻¹XᵀX)``, with ``λ = r·256^(3·spar − 1)`` and
``r = Σ_{j=3}^{n−1} (XᵀX)_jj / Σ_{j=3}^{n−1} Σ_jj`` (1-based: the traces of the ``n − 3``
interior basis functions, R's ``ratio``). ``spar`` minimises ``3 + (df_target − df(spar))²`` by
Brent's method on [−1.5, 1.5] (:func:`lmm.brent.fmin_lockstep` with R's ``control.spar``
tolerances, :data:`lmm.checks.SPLINE_SPAR_TOL` and :data:`~lmm.checks.SPLINE_SPAR_EPS`). R reports
Brent's final ``spar`` but its fit, ``λ`` and ``df`` are those of the *last evaluated* ``spar``
(within ``tol1`` of it); so are this function's, which is why they agree with R's to round-off
rather than to the search's tolerance (about 1e-5 in π0).

References
----------
Storey JD (2002) A direct approach to false discovery rates. JRSS B 64:479–498.
Storey JD, Tibshirani R (2003) Statistical significance for genomewide studies. PNAS 100:9440–9445.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg

from .brent import fmin_lockstep
from .checks import SPLINE_SPAR_EPS, SPLINE_SPAR_TOL, as_float_array
from .errors import InputError

__all__ = ["DEFAULT_LAMBDAS", "SmoothSpline", "Pi0Estimate", "QValues", "smooth_spline_df", "pi0est",
           "qvalue"]

#: R's ``qvalue`` default grid of ``λ``, ``seq(0.05, 0.95, 0.05)``, to the bit: R's ``seq`` gives
#: ``from + k·by`` (capped at ``to``), which is not always the double nearest ``0.05·(k + 1)``
#: (``0.15000000000000002``); p-values equal to a grid point (rounded ones) are counted as R counts them.
DEFAULT_LAMBDAS = np.minimum(0.05 + np.arange(19) * 0.05, 0.95)

#: R's ``smooth.spline`` integrates ``s²`` over [0, 1] as this (not 1/3) in its penalty matrix.
_R_ONE_THIRD = 0.333
#: Points from which R's ``smooth.spline`` uses fewer knots than points (not emulated here).
_ALL_KNOTS_BELOW = 50


class SmoothSpline(NamedTuple):
    """A smoothing spline fitted by :func:`smooth_spline_df`: what R's ``smooth.spline`` reports.

    ``fitted``: the spline at ``x``, shape (n,); ``spar``, ``lam`` (R's ``lambda``), ``df``: floats.
    """

    fitted: np.ndarray
    spar: float
    lam: float
    df: float


class Pi0Estimate(NamedTuple):
    """:func:`pi0est`'s result: ``pi0`` (float), and per ``λ`` (shape (k,)): ``lambdas``,
    ``pi0_lambda`` (``π̂0(λ)``), ``pi0_smooth`` (the spline at ``λ``; equal to ``pi0_lambda`` for
    one ``λ``)."""

    pi0: float
    lambdas: np.ndarray
    pi0_lambda: np.ndarray
    pi0_smooth: np.ndarray


class QValues(NamedTuple):
    """:func:`qvalue`'s result: ``qvalues`` (the shape of ``p``, NaN where ``p`` is) and ``pi0``."""

    qvalues: np.ndarray
    pi0: float


def _spline_matrices(x: np.ndarray):
    """``X`` (n, n+2), ``XᵀX`` and the penalty ``Σ`` (n+2, n+2) of R's smooth.spline on sorted ``x``."""
    from scipy.interpolate import BSpline   # here: scipy.interpolate costs every job 0.2 s to import

    xbar = (x - x[0]) / (x[-1] - x[0])
    knots = np.concatenate([[0.0, 0.0, 0.0], xbar, [1.0, 1.0, 1.0]])
    nb = x.size + 2
    X = BSpline.design_matrix(xbar, knots, 3).toarray()
    basis = BSpline(knots, np.eye(nb), 3)
    left, width = xbar[:-1], np.diff(xbar)
    u = basis.derivative(2)(left)                      # B″ at each interval's left end, (n−1, nb)
    v = basis.derivative(3)(left) * width[:, None]     # its change across the interval
    sigma = (np.einsum("i,ij,ik->jk", width, u, u)
             + 0.5 * (np.einsum("i,ij,ik->jk", width, u, v) + np.einsum("i,ij,ik->jk", width, v, u))
             + _R_ONE_THIRD * np.einsum("i,ij,ik->jk", width, v, v))
    return X, X.T @ X, sigma


def smooth_spline_df(x, y, df: float = 3.0) -> SmoothSpline:
    """R's ``smooth.spline(x, y, df = df)`` (unit weights), for fewer than 50 distinct points.

    Parameters
    ----------
    x : array_like, shape (n,)
        Distinct values, ``4 ≤ n < 50`` (sorted here).
    y : array_like, shape (n,)
        Finite.
    df : float
        The wanted equivalent degrees of freedom, ``1 < df ≤ n``.

    Returns
    -------
    SmoothSpline
        The fitted values at ``x`` (in ``x``'s order), ``spar``, ``lam`` and ``df`` as R reports them.

    Notes
    -----
    The model, the penalty, R's parametrisation of ``λ`` by ``spar`` and its search are in the
    module's notes.
    """
    x = as_float_array(x, "x").ravel()
    y = as_float_array(y, "y").ravel()
    if x.shape != y.shape or not np.isfinite(x).all() or not np.isfinite(y).all():
        raise InputError(f"x and y must be finite and of one length, got {x.size} and {y.size} values")
    n = x.size
    if not 4 <= n < _ALL_KNOTS_BELOW or np.unique(x).size != n:
        raise InputError(f"smooth_spline_df needs 4 to {_ALL_KNOTS_BELOW - 1} distinct x values, got {n} "
                         f"({np.unique(x).size} distinct)")
    if not 1.0 < df <= n:
        raise InputError(f"df must lie in (1, {n}], got {df}")
    order = np.argsort(x)
    X, xtx, sigma = _spline_matrices(x[order])
    xty = X.T @ y[order]
    nb = n + 2
    ratio = np.trace(xtx[2:nb - 3, 2:nb - 3]) / np.trace(sigma[2:nb - 3, 2:nb - 3])

    def solve(spar: float):
        lam = ratio * 256.0 ** (3.0 * spar - 1.0)
        factor = scipy.linalg.cho_factor(xtx + lam * sigma)
        return lam, factor, float(np.trace(scipy.linalg.cho_solve(factor, xtx)))

    last = []

    def criterion(spar, _idx):
        last[:] = [float(spar[0])]
        return np.array([3.0 + (df - solve(last[0])[2]) ** 2])

    best, _, _, _ = fmin_lockstep(criterion, np.array([-1.5]), np.array([1.5]), SPLINE_SPAR_TOL,
                                  rel_tol=SPLINE_SPAR_EPS)
    lam, factor, df_fit = solve(last[0])
    fitted = np.empty(n)
    fitted[order] = X @ scipy.linalg.cho_solve(factor, xty)
    return SmoothSpline(fitted, float(best[0]), float(lam), df_fit)


def _check_pvalues(p, name: str = "p") -> np.ndarray:
    p = as_float_array(p, name)
    bad = ~np.isnan(p) & ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        where = np.flatnonzero(bad.ravel())
        raise InputError(f"{name} must lie in [0, 1] (NaN for missing); {where.size} value(s) do not, "
                         f"the first at position {int(where[0])}: {p.ravel()[where[0]]}")
    return p


def pi0est(p, lambdas=DEFAULT_LAMBDAS, smooth_df: float = 3.0) -> Pi0Estimate:
    """Proportion of true null hypotheses among p-values (R's ``pi0est(p)``, the smoother method).

    Parameters
    ----------
    p : array_like
        P-values in [0, 1]; NaN are left out.
    lambdas : array_like
        One value, or at least four, in [0, 1) (default 0.05, 0.10, …, 0.95).
    smooth_df : float
        Degrees of freedom of the smoothing spline (R's ``smooth.df``).

    Returns
    -------
    Pi0Estimate

    Raises
    ------
    InputError
        No p-value; two or three ``λ``; the largest p-value below the largest ``λ`` (R's
        ``pi0est`` fails there too, with an unrelated message); an estimate ``≤ 0``.

    Notes
    -----
    ``π̂0(λ) = #{p ≥ λ}/(m(1 − λ))``; with several ``λ``, the smoothing spline of
    :func:`smooth_spline_df` through ``(λ, π̂0(λ))`` at the largest ``λ``, capped at 1.
    """
    p = _check_pvalues(p).ravel()
    p = np.sort(p[~np.isnan(p)])
    lam = np.sort(as_float_array(lambdas, "lambdas").ravel())
    if p.size == 0:
        raise InputError("pi0est needs at least one p-value that is not missing")
    if lam.size in (0, 2, 3) or not ((lam >= 0.0) & (lam < 1.0)).all():
        raise InputError(f"lambdas must be one value or at least four, in [0, 1); got {lam.tolist()}")
    if p[-1] < lam[-1]:
        raise InputError(f"the largest p-value ({p[-1]:.6g}) is below the largest lambda ({lam[-1]:.6g}): "
                         "pi0 cannot be estimated; give lambdas within the p-values' range, or pi0 "
                         "(pi0 = 1 gives Benjamini-Hochberg's adjusted p-values)")
    pi0_lambda = (p.size - np.searchsorted(p, lam, side="left")) / (p.size * (1.0 - lam))
    smooth = pi0_lambda if lam.size == 1 else smooth_spline_df(lam, pi0_lambda, smooth_df).fitted
    pi0 = min(float(smooth[-1]), 1.0)
    if pi0 <= 0.0:
        raise InputError(f"the estimated pi0 is {pi0:.6g} (<= 0): check that the p-values are valid, or "
                         "give other lambdas")
    return Pi0Estimate(pi0, lam, pi0_lambda, smooth)


def qvalue(p, pi0: float | None = None, lambdas=DEFAULT_LAMBDAS, smooth_df: float = 3.0) -> QValues:
    """Storey's q-values of p-values (R's ``qvalue(p)$qvalues``, ``pfdr = FALSE``).

    Parameters
    ----------
    p : array_like
        P-values in [0, 1], any shape; NaN (missing) get NaN and are not counted in ``m``.
    pi0 : float, optional
        The proportion of true nulls, in (0, 1]; estimated by :func:`pi0est` when not given
        (``pi0 = 1`` gives Benjamini and Hochberg's adjusted p-values).
    lambdas, smooth_df
        As for :func:`pi0est`.

    Returns
    -------
    QValues

    Notes
    -----
    ``q_(i) = π0 · min(1, min_{j ≤ i} m·p_(j)/j)``, p-values in decreasing order (module notes).
    """
    p = _check_pvalues(p)
    if pi0 is None:
        pi0 = pi0est(p, lambdas, smooth_df).pi0
    elif not 0.0 < pi0 <= 1.0:
        raise InputError(f"pi0 must lie in (0, 1], got {pi0}")
    flat = p.ravel()
    keep = np.flatnonzero(~np.isnan(flat))
    values = flat[keep]
    m = values.size
    order = np.argsort(-values, kind="stable")
    ranks = np.arange(m, 0, -1)
    q_sorted = pi0 * np.minimum(1.0, np.minimum.accumulate(values[order] * m / ranks))
    q = np.full(flat.shape, np.nan)
    q[keep[order]] = q_sorted
    return QValues(q.reshape(p.shape), float(pi0))

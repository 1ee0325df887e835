"""Brent's methods, run in lockstep over many independent problems.

:func:`fmin_lockstep` is Brent's (1973, ch. 5) minimiser on an interval —
golden-section search with parabolic interpolation — the algorithm of R's
``optimize`` and of Netlib's ``fmin``, with its stopping rule: stop when
``|x − (a+b)/2| ≤ 2·tol1 − (b − a)/2`` where ``tol1 = √ε·|x| + tol/3``. Each
problem keeps its own state in numpy arrays and all problems still running are
evaluated in one call of the objective per iteration, so ``m`` problems cost
about as many Python-level steps as one.

:func:`root_lockstep` finds a sign change of many functions on their own
brackets at once (the Illinois variant of regula falsi, with bisection steps
whenever the bracket shrinks too slowly).

References
----------
Brent, R. P. (1973) *Algorithms for Minimization without Derivatives*,
Prentice-Hall, chapter 5.
Dowell, M. and Jarratt, P. (1971) A modified regula falsi method for computing
the root of an equation. *BIT* 11, 168–174.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["fmin_lockstep", "root_lockstep"]

_GOLDEN = 0.5 * (3.0 - np.sqrt(5.0))
_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def fmin_lockstep(f: Callable[[np.ndarray, np.ndarray], np.ndarray], lower, upper,
                  tol: float, maxiter: int = 500, rel_tol: float = _SQRT_EPS):
    """Minimise ``m`` univariate functions on their intervals, in lockstep.

    Parameters
    ----------
    f : callable ``f(u, idx) -> values``
        Evaluates problem ``idx[k]`` at ``u[k]``; ``u`` and ``idx`` have shape (k,).
    lower, upper : ndarray, shape (m,)
        The intervals.
    tol : float
        R's ``optimize`` tolerance.
    maxiter : int
        Iterations at most (Brent's method needs far fewer).
    rel_tol : float
        The relative part of ``tol1 = rel_tol·|x| + tol/3``: ``√ε`` (R's ``optimize``) unless
        given (R's ``smooth.spline`` uses its ``control.spar$eps``, 2e-8).

    Returns
    -------
    x : ndarray (m,)
        The minimisers found.
    fx : ndarray (m,)
        ``f`` there.
    converged : ndarray (m,) of bool
    n_eval : ndarray (m,) of int
        Evaluations of each problem.
    """
    a = np.array(lower, dtype=float)
    b = np.array(upper, dtype=float)
    m = a.shape[0]
    x = a + _GOLDEN * (b - a)
    v = x.copy()
    w = x.copy()
    d = np.zeros(m)
    e = np.zeros(m)
    fx = _clean(f(x, np.arange(m)))
    fv = fx.copy()
    fw = fx.copy()
    tol3 = tol / 3.0
    n_eval = np.ones(m, dtype=np.int64)
    active = np.arange(m)
    converged = np.zeros(m, dtype=bool)
    for _ in range(maxiter):
        xa, aa, ba = x[active], a[active], b[active]
        xm = 0.5 * (aa + ba)
        tol1 = rel_tol * np.abs(xa) + tol3
        t2 = 2.0 * tol1
        stop = np.abs(xa - xm) <= t2 - 0.5 * (ba - aa)
        if stop.any():
            converged[active[stop]] = True
            keep = ~stop
            active = active[keep]
            if active.size == 0:
                break
            xa, aa, ba, xm, tol1, t2 = xa[keep], aa[keep], ba[keep], xm[keep], tol1[keep], t2[keep]
        wa, va, da, ea = w[active], v[active], d[active], e[active]
        fxa, fwa, fva = fx[active], fw[active], fv[active]

        # trial parabola through (v, fv), (w, fw), (x, fx)
        fit = np.abs(ea) > tol1
        r = (xa - wa) * (fxa - fva)
        q = (xa - va) * (fxa - fwa)
        p = (xa - va) * q - (xa - wa) * r
        q = 2.0 * (q - r)
        p = np.where(q > 0.0, -p, p)
        q = np.abs(q)
        p = np.where(fit, p, 0.0)
        q = np.where(fit, q, 0.0)
        r = np.where(fit, ea, 0.0)
        ea = np.where(fit, da, ea)

        golden = (np.abs(p) >= np.abs(0.5 * q * r)) | (p <= q * (aa - xa)) | (p >= q * (ba - xa))
        e_gold = np.where(xa < xm, ba - xa, aa - xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_par = p / q
        u_par = xa + d_par
        too_close = (u_par - aa < t2) | (ba - u_par < t2)
        d_par = np.where(too_close, np.where(xa >= xm, -tol1, tol1), d_par)
        ea = np.where(golden, e_gold, ea)
        da = np.where(golden, _GOLDEN * e_gold, d_par)

        # never evaluate closer than tol1 to x
        u = np.where(np.abs(da) >= tol1, xa + da, np.where(da > 0.0, xa + tol1, xa - tol1))
        fu = _clean(f(u, active))
        n_eval[active] += 1

        better = fu <= fxa
        left = u < xa
        # better: shrink towards u, shift v <- w <- x <- u
        a_new = np.where(better, np.where(left, aa, xa), np.where(left, u, aa))
        b_new = np.where(better, np.where(left, xa, ba), np.where(left, ba, u))
        # not better: u may become w or v
        to_w = ~better & ((fu <= fwa) | (wa == xa))
        to_v = ~better & ~to_w & ((fu <= fva) | (va == xa) | (va == wa))
        v_new = np.where(better | to_w, wa, np.where(to_v, u, va))
        fv_new = np.where(better | to_w, fwa, np.where(to_v, fu, fva))
        w_new = np.where(better, xa, np.where(to_w, u, wa))
        fw_new = np.where(better, fxa, np.where(to_w, fu, fwa))
        x[active] = np.where(better, u, xa)
        fx[active] = np.where(better, fu, fxa)
        a[active], b[active] = a_new, b_new
        v[active], fv[active], w[active], fw[active] = v_new, fv_new, w_new, fw_new
        d[active], e[active] = da, ea
    return x, fx, converged, n_eval


def _clean(values):
    """NaN objective values count as +inf (never chosen as a minimum)."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isnan(values), np.inf, values)


def root_lockstep(g: Callable[[np.ndarray, np.ndarray], np.ndarray], lo, hi, glo, ghi,
                  xtol: float = 1e-13, maxiter: int = 200):
    """Find a root of each of ``m`` functions on a bracket with a sign change.

    Parameters
    ----------
    g : callable ``g(x, idx) -> values``
        Evaluates function ``idx[k]`` at ``x[k]``.
    lo, hi : ndarray (m,)
        Brackets, ``lo < hi`` or ``lo > hi``.
    glo, ghi : ndarray (m,)
        ``g`` at the ends, of opposite signs (``ghi`` may be ``+inf``).
    xtol : float
        Stop when the bracket is shorter than ``xtol·|x| + 1e-15`` (relative,
        so that small roots are found as precisely as large ones).

    Returns
    -------
    root : ndarray (m,)
        A point within the tolerance of a sign change (the end with the smaller
        ``|g|`` of the final bracket).
    """
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    glo = np.array(glo, dtype=float)
    ghi = np.array(ghi, dtype=float)
    m = lo.shape[0]
    active = np.arange(m)
    side = np.zeros(m, dtype=np.int8)  # which end was kept last time: -1 lo, +1 hi
    width0 = np.abs(hi - lo)
    for it in range(maxiter):
        width = np.abs(hi[active] - lo[active])
        scale = np.maximum(np.abs(hi[active]), np.abs(lo[active]))
        done = (width <= xtol * scale + 1e-15) | (glo[active] == 0) | (ghi[active] == 0)
        active = active[~done]
        if active.size == 0:
            break
        l, h, gl, gh = lo[active], hi[active], glo[active], ghi[active]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = h - gh * (h - l) / (gh - gl)
        bisect = ~np.isfinite(x) | ~(np.minimum(l, h) < x) | ~(x < np.maximum(l, h))
        # bisect every fourth step unless the bracket has shrunk fast enough
        if it % 4 == 3:
            bisect |= np.abs(h - l) > 0.25 * width0[active]
            width0[active] = np.abs(h - l)
        x = np.where(bisect, 0.5 * (l + h), x)
        gx = np.asarray(g(x, active), dtype=float)
        gx = np.where(np.isnan(gx), np.inf, gx)
        same_as_lo = np.sign(gx) == np.sign(gl)
        # Illinois: when the same end survives twice, halve its function value
        s = side[active]
        new_lo = np.where(same_as_lo, x, l)
        new_glo = np.where(same_as_lo, gx, np.where(s == -1, 0.5 * gl, gl))
        new_hi = np.where(same_as_lo, h, x)
        new_ghi = np.where(same_as_lo, np.where(s == 1, 0.5 * gh, gh), gx)
        side[active] = np.where(same_as_lo, 1, -1)
        lo[active], glo[active], hi[active], ghi[active] = new_lo, new_glo, new_hi, new_ghi
    return np.where(np.abs(glo) <= np.abs(ghi), lo, hi)

r"""The evaluator of eigen-rotated data: :class:`RotatedEvaluator` (an :class:`lmm.search.Evaluator`).

Notes
-----
``ℓ`` is that of :mod:`lmm.likelihood` on the :class:`~lmm.likelihood.Prepared`
data of a block of columns. Each evaluation computes the weighted sums of every
column asked for in a few array operations; while the lockstep search narrows
the set of columns still searching, the evaluator keeps a working subset.

Second derivative (for the standard error). With ``aᵢ = 1 + hsq·dᵢ``,
``dᵢ = λᵢ − 1``, ``Sᵢ = 1/aᵢ``, ``S′ᵢ = −dᵢSᵢ²``, ``S″ᵢ = 2dᵢ²Sᵢ³``, residuals
``r = y − Xβ̂``, ``M = XᵀSX``::

    rss′  = Σ S′ᵢ rᵢ²                                   (envelope theorem)
    rss″  = Σ S″ᵢ rᵢ² − 2 uᵀ M⁻¹ u,          u = XᵀS′r
    ℓ″_ML = ½ Σ dᵢ² Sᵢ² − (n/2) (rss″/rss − (rss′/rss)²)
    ℓ″_REML = ½ Σ dᵢ² Sᵢ² − ((n−p)/2) (rss″/rss − (rss′/rss)²)
              − ½ (tr(M⁻¹XᵀS″X) − tr((M⁻¹XᵀS′X)²))

Both are invariant to the scale of ``y``, so the scaled data of ``Prepared`` serve.
"""

from __future__ import annotations

import numpy as np

from .likelihood import SUB_BLOCK, Prepared, Workspace, finish, stats_per_column, stats_shared
from .search import Solution

__all__ = ["RotatedEvaluator", "second_derivative"]


class RotatedEvaluator:
    """Profile log-likelihood of the columns of a :class:`~lmm.likelihood.Prepared` block.

    Parameters
    ----------
    prep : Prepared
        Rotated data of ``m`` columns (:func:`lmm.likelihood.prepare`).
    reml : bool
    """

    def __init__(self, prep: Prepared, reml: bool):
        self.full = prep
        self.reml = reml
        self.cols = np.arange(prep.m)
        self.work = prep
        self.ws = Workspace(min(prep.m, SUB_BLOCK), prep.lam.shape[0])

    @property
    def m(self) -> int:
        return self.full.m

    def _eval(self, h):
        st = stats_per_column(self.work, h, self.ws)
        return finish(self.work, st, self.reml, want_beta=False, user_units=False).loglik

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

    def shared(self, h):
        """``ℓ`` of every column at each of the common values ``h`` (g,): (g, m), on the
        scaled data (the user's ``ℓ`` less a constant per column, as ``__call__``)."""
        return finish(self.full, stats_shared(self.full, np.asarray(h, dtype=float)), self.reml,
                      want_beta=False, user_units=False).loglik

    def solution(self, h) -> Solution:
        """β̂, σ̂², ℓ of every column at its own ``h`` (m,)."""
        return finish(self.full, stats_per_column(self.full, h), self.reml)

    def second_derivative(self, h, cols):
        """Analytic ``d²ℓ/dhsq²`` of columns ``cols`` at ``h`` (module notes)."""
        return second_derivative(self.full.columns(cols), h, self.reml)


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

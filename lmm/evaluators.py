r"""The evaluator of eigen-rotated data: :class:`RotatedEvaluator` (an :class:`lmm.search.Evaluator`).

Notes
-----
``ℓ`` is that of :mod:`lmm.likelihood` on the :class:`~lmm.likelihood.Prepared`
data of a block of columns. Each evaluation computes the weighted sums of every
column asked for in a few array operations; while the lockstep search narrows
the set of columns still searching, the evaluator keeps a working subset.

Derivatives in ``hsq``. With ``aᵢ = hsq·λᵢ + 1 − hsq``, ``dᵢ = λᵢ − 1 = daᵢ/dhsq``,
``Sᵢ = 1/aᵢ``, ``S′ᵢ = −dᵢSᵢ²``, ``S″ᵢ = 2dᵢ²Sᵢ³``, residuals ``r = y − Xβ̂``,
``M = XᵀSX`` and ``rss = Σ Sᵢ rᵢ² = min_β Σ Sᵢ (yᵢ − xᵢβ)²``::

    rss′  = Σ S′ᵢ rᵢ²                                   (envelope theorem: ∂rss/∂β̂ = 0)
    rss″  = Σ S″ᵢ rᵢ² − 2 uᵀ M⁻¹ u,          u = XᵀS′r

First derivative (the score, for the polish of :func:`lmm.search.polish`; the
``−½ log|XᵀX|`` of lmmlite's REML constant does not depend on ``hsq``)::

    ℓ′_ML   = −½ Σ dᵢ Sᵢ − (n/2) rss′/rss
    ℓ′_REML = −½ Σ dᵢ Sᵢ − ((n−p)/2) rss′/rss − ½ tr(M⁻¹XᵀS′X)

(REML: ``ℓ = −½(Σ log aᵢ + (n−p) log rss + log|M|) + const``, and
``d log|M| = tr(M⁻¹ dM)``, ``dM/dhsq = XᵀS′X``.) Each term is a sum of ``n``
products evaluated to relative precision ~ε, so the root of ``ℓ′`` is located to
about ``ε·Σ|terms| / |ℓ″|``, far better than the ``√ε`` of a search on ``ℓ``
itself, where ``ℓ`` is flat to ~ε.

Second derivative (for the standard error and the polish)::

    ℓ″_ML = ½ Σ dᵢ² Sᵢ² − (n/2) (rss″/rss − (rss′/rss)²)
    ℓ″_REML = ½ Σ dᵢ² Sᵢ² − ((n−p)/2) (rss″/rss − (rss′/rss)²)
              − ½ (tr(M⁻¹XᵀS″X) − tr((M⁻¹XᵀS′X)²))

All are invariant to the scale of ``y``, so the scaled data of ``Prepared`` serve, and
to the basis of the covariates (``X̃ = QR``: ``Q`` stands for ``X``, ``log|R|²`` is a constant).
"""

from __future__ import annotations

import numpy as np

from .likelihood import (SUB_BLOCK, Prepared, Workspace, triu_pairs, finish, stats_per_column,
                         stats_shared)
from .search import Solution

__all__ = ["RotatedEvaluator", "first_derivative", "second_derivative"]


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
        """β̂, σ̂², ℓ of every column at its own ``h`` (m,); ``ℓ`` in the user's units, β̂ and σ̂²
        those of the scaled data ``y·2^−y_scale_log2`` (nothing overflows: see
        :func:`lmm.search.to_data_scale`)."""
        return finish(self.full, stats_per_column(self.full, h), self.reml, keep_scale=True)

    def first_derivative(self, h, cols):
        """Analytic ``dℓ/dhsq`` of columns ``cols`` at ``h`` (module notes)."""
        return first_derivative(self.full, h, self.reml, cols)

    def second_derivative(self, h, cols):
        """Analytic ``d²ℓ/dhsq²`` of columns ``cols`` at ``h`` (module notes)."""
        return second_derivative(self.full.columns(cols), h, self.reml)


def _weights_and_residuals(prep: Prepared, hsq):
    """``d`` (1, n), ``S``, ``dS = d·S``, the GLS residuals ``r`` (m, n) and ``M = QᵀSQ`` (m, p, p)."""
    n, p = prep.n, prep.p
    m = hsq.shape[0]
    d = prep.d[None, :n]                                    # (1, n)
    A = hsq[:, None] * prep.lam[None, :n] + (1.0 - hsq)[:, None]
    S = 1.0 / A                                             # (m, n)
    Q = prep.Q
    M = (S @ prep.QQ_full).reshape(m, p, p)
    yr = prep.resid                                         # (m, n), OLS residuals
    bq = np.linalg.solve(M, ((S * yr) @ Q)[:, :, None])[:, :, 0]   # (m, p)
    r = yr - bq @ Q.T                                       # GLS residuals
    return d, S, d * S, r, M


def first_derivative(prep: Prepared, hsq, reml: bool, cols=None):
    """Analytic ``dℓ/dhsq`` of each column (of columns ``cols``) at its ``hsq``
    (formulas in the module notes).

    The sums are those of :func:`lmm.likelihood.stats_per_column` with the weights ``S``
    and ``S′``, over the products stored in ``Prepared`` (``r₀²``, ``r₀qₖ``, ``qₖqₗ`` of the
    OLS residuals ``r₀``), a few columns at a time: with ``b`` the GLS coefficients in the
    ``Q`` basis, ``r = r₀ − Qb`` and ``rss′ = Σ S′r₀² − 2bᵀ Σ S′r₀q + bᵀ(QᵀS′Q)b``, whose
    last two terms are small (``r₀`` is orthogonal to ``Q``).
    """
    n, p = prep.n, prep.p
    m = hsq.shape[0]
    q = prep.QQ.shape[1]
    D, d = prep.D, prep.d                                   # d = 0 on the padding
    sums = np.empty((2, m, 1 + p))                          # Σ S·[r₀², r₀q], Σ S′·[…]
    G = np.empty((2, m, q))                                 # QᵀSQ, QᵀS′Q (upper triangles)
    tr_dS = np.empty(m)                                     # Σ dᵢSᵢ
    c = min(m, SUB_BLOCK)
    H = np.empty((c, 2))
    S = np.empty((c, D.shape[1]))
    S1 = np.empty_like(S)
    for s in range(0, m, SUB_BLOCK):
        e = min(s + SUB_BLOCK, m)
        k = e - s
        Hk, Sk, S1k = H[:k], S[:k], S1[:k]
        Hk[:, 0] = hsq[s:e]
        np.subtract(1.0, hsq[s:e], out=Hk[:, 1])
        np.matmul(Hk, D, out=Sk)                            # aᵢ
        np.reciprocal(Sk, out=Sk)                           # Sᵢ
        np.multiply(Sk, Sk, out=S1k)
        np.multiply(S1k, -d, out=S1k)                       # S′ᵢ = −dᵢSᵢ²
        np.matmul(Sk, d, out=tr_dS[s:e])
        C = prep.C[s:e] if cols is None else prep.C[cols[s:e]]
        np.matmul(C, Sk[:, :, None], out=sums[0, s:e, :, None])
        np.matmul(C, S1k[:, :, None], out=sums[1, s:e, :, None])
        np.matmul(Sk, prep.QQ, out=G[0, s:e])
        np.matmul(S1k, prep.QQ, out=G[1, s:e])
    kk, ll = np.array(triu_pairs(p)).T
    M = np.empty((2, m, p, p))
    M[:, :, kk, ll] = G
    M[:, :, ll, kk] = G
    bq = np.linalg.solve(M[0], sums[0, :, 1:, None])[:, :, 0]          # (m, p)
    rss = sums[0, :, 0] - np.einsum("jk,jk->j", sums[0, :, 1:], bq)
    rss1 = (sums[1, :, 0] - 2.0 * np.einsum("jk,jk->j", sums[1, :, 1:], bq)
            + np.einsum("jk,jkl,jl->j", bq, M[1], bq))
    dof = n - p if reml else n
    out = -0.5 * tr_dS - 0.5 * dof * (rss1 / rss)
    if reml:
        out = out - 0.5 * np.trace(np.linalg.solve(M[0], M[1]), axis1=1, axis2=2)
    return out


def second_derivative(prep: Prepared, hsq, reml: bool):
    """Analytic ``d²ℓ/dhsq²`` of each column at its ``hsq`` (formulas in the module notes).

    Every sum over individuals is a matrix product over the (m, n) weight arrays.
    """
    n, p = prep.n, prep.p
    m = hsq.shape[0]
    d, S, dS, r, M = _weights_and_residuals(prep, hsq)
    S1 = -dS * S                                            # dS/dhsq
    S2 = 2.0 * dS * dS * S                                  # d²S/dhsq²
    Q = prep.Q

    def gram(W):                                            # Σᵢ Wⱼᵢ Qᵢₖ Qᵢₗ, (m, p, p)
        return (W @ prep.QQ_full).reshape(m, p, p)

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

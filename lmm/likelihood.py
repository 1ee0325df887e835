r"""The profile likelihood of the heritability, on eigen-rotated data.

Model
-----
``y = Xβ + ε``, ``ε ~ N(0, σ² (hsq·K + (1 − hsq)·I))``, ``K = U diag(λ) Uᵀ``.
On rotated data (``ỹ = Uᵀy``, ``X̃ = UᵀX``) the covariance is diagonal with entries
``σ² aᵢ``, ``aᵢ(hsq) = hsq·λᵢ + 1 − hsq``. Write ``S = diag(1/aᵢ)``. For fixed
``hsq``:

* ``β̂ = (X̃ᵀSX̃)⁻¹ X̃ᵀSỹ`` (generalised least squares),
* ``rss = (ỹ − X̃β̂)ᵀ S (ỹ − X̃β̂)``,
* ``σ̂² = rss / (n − p)`` (reported for both ML and REML, as lmmlite does).

The log-likelihoods, with lmmlite's constant terms (that is, *up to an additive
constant* that depends on ``n`` and ``p`` only, never on ``hsq``, ``y`` or ``X``)::

    ℓ_ML(hsq)   = −½ ( Σᵢ log aᵢ + n·log rss )
    ℓ_REML(hsq) = ℓ_ML(hsq) + ½ ( p·log(2π σ̂²) + log|XᵀX| − log|X̃ᵀSX̃| )

The exact Gaussian log-likelihood at the ML estimates of ``β`` and ``σ²`` is
``ℓ_ML − (n/2)(1 + log(2π/n))``. The exact restricted log-likelihood (Harville
1974: ``−½(log|V| + log|XᵀV⁻¹X| − log|XᵀX| + rᵀV⁻¹r + (n−p) log 2π)``) at
``σ̂² = rss/(n−p)`` is ``ℓ_REML − (n−p)/2 − (n/2)·log(2π/(n−p))``; the
tests check both against a dense multivariate normal density computed without
the rotation.

Numerics
--------
Internally ``X̃ = QR`` (thin QR), the likelihood is computed with the orthonormal
``Q`` (``log|XᵀX| − log|X̃ᵀSX̃| = −log|QᵀSQ|`` exactly), and ``ỹ`` is replaced by
its residual from ordinary least squares (which leaves ``rss`` and ``ℓ``
unchanged and shifts ``β̂`` by the OLS coefficients, added back at the end), so
that ``rss`` does not lose digits to cancellation when the phenotype's mean is
large compared with its spread. Each phenotype column is first multiplied by a
power of two ``2^−e`` (exact in floating point) so that its largest value is of
order 1: ``β̂``, ``rss`` and ``σ̂²`` are scaled back (``×2^e``, ``×4^e``) and
``ℓ`` shifted back (``−n·e·log 2`` for ML, ``−(n−p)·e·log 2`` for REML), so
results are in the user's units and ``hsq`` does not depend on them (a
phenotype ``y·1e200`` gives the ``hsq`` of ``y``). Covariate columns need no
scaling: only their orthonormal basis ``Q`` enters ``ℓ``.

The upper boundary with a singular K
------------------------------------
Let ``Z = {i : λᵢ = 0}`` (``z`` zero eigenvalues, :func:`lmm.checks.zero_eigenvalues`)
and ``N`` the others. At ``hsq = 1 − ε`` the weights of ``Z`` are ``1/ε``, so
``ℓ(1)`` is the limit ``ε → 0``. With ``r`` the OLS residuals, ``Q_Z`` the rows
``Z`` of ``Q`` (rank ``r_Z``, singular values above ``RANK_RTOL``) and
``c = min_b ‖r_Z − Q_Z b‖²``::

    rss(ε) = c/ε + rss_c + O(ε),  Σ log aᵢ = Σ_N log λᵢ + z log ε,
    log|QᵀSQ| = −r_Z log ε + O(1),

where ``rss_c = min Σ_N (rᵢ − qᵢb)²/λᵢ`` over ``b`` with ``Q_Z b = r_Z``. Hence

* ``c > 0`` (the usual case: the data are not constant along the null space of K):
  ``ℓ → −∞`` as ``(n − z)/2 · log ε`` (ML) — hsq = 1 is impossible;
* ``c = 0`` (by the explained-exactly rule: ``√c ≤ EXPLAINED_RTOL·‖y‖``; for
  example a phenotype constant within each group of identical individuals):
  ``ℓ_ML ≈ −(z/2) log ε → +∞`` and ``ℓ_REML ≈ −((z − r_Z)/2) log ε``, which is
  ``+∞`` when ``z > r_Z``: the likelihood is **unbounded** (reported as ``+inf``);
* REML with ``c = 0`` and ``z = r_Z``: the ``log ε`` terms cancel and the limit is
  finite, with ``A = Q_NᵀS_NQ_N``, ``W = Q_Zᵀ``::

      ℓ_REML(1) = −½(Σ_N log λᵢ + n log rss_c) + ½(p log(2π rss_c/(n−p)) − log|A| − log|WᵀA⁻¹W|),
      b̂ = b_u + A⁻¹W (WᵀA⁻¹W)⁻¹ (r_Z − Wᵀb_u),   b_u = A⁻¹ Q_NᵀS_N r_N

  (the constrained weighted least squares solution, from the Lagrangian).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .checks import (EXPLAINED_RTOL, RANK_RTOL, check_hsq, check_kva, check_X, check_y,
                      pow2_scale, times_pow2)
from .errors import InputError
from .search import Solution

__all__ = ["MLSolution", "LogLik", "get_ml_soln", "calc_ll", "EXPLAINED_RTOL"]

LOG_2 = float(np.log(2.0))

LOG_2PI = float(np.log(2.0 * np.pi))


#: Rows are padded (with λ = 1 and zero data, which contribute nothing) to a
#: multiple of this, so that ``Σ log aᵢ`` can be taken as the log of products of
#: ``LOG_GROUP`` factors: one logarithm per group instead of per individual.
LOG_GROUP = 8


@dataclass(frozen=True, eq=False)
class Prepared:
    """Rotated data put in the form the likelihood evaluations use.

    Attributes
    ----------
    n : int
        Individuals (before padding).
    lam : ndarray (n_pad,)
        Eigenvalues ``λ``, so that ``aᵢ = hsq·λᵢ + (1 − hsq)``; 1 on the padding
        rows. (``aᵢ`` is never formed as ``1 + hsq·(λᵢ − 1)``, which would lose
        a tiny ``λᵢ`` at ``hsq = 1``.)
    Q : ndarray (n, p)
        Orthonormal basis of the rotated covariates, ``X̃ = Q R``.
    R : ndarray (p, p)
        Upper triangular.
    gamma : ndarray (p, m)
        ``Qᵀ ỹ`` (OLS coefficients in the ``Q`` basis).
    C : ndarray (m, 1 + p, n_pad)
        Per phenotype: ``r²`` and ``Q[:, k]·r``, ``r = ỹ − Q gamma`` the OLS
        residuals; zero on the padding.
    QQ : ndarray (n_pad, p·(p+1)/2)
        Products ``Q[:, k] Q[:, l]``, ``k ≤ l``, in row-major upper-triangle order.
    logdet_xtx : float
        ``log|XᵀX| = 2 Σ log|R_kk|``.
    resid : ndarray (m, n)
        The OLS residuals ``r``.
    y_exp : ndarray (m,) of int
        The data of column ``j`` are ``y[:, j] · 2^−y_exp[j]`` (see the module notes).
    yss : ndarray (m,)
        ``‖y[:, j] · 2^−y_exp[j]‖²``.
    """

    n: int
    lam: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    gamma: np.ndarray
    C: np.ndarray
    QQ: np.ndarray
    logdet_xtx: float
    resid: np.ndarray
    y_exp: np.ndarray
    yss: np.ndarray

    @property
    def p(self) -> int:
        return int(self.Q.shape[1])

    @functools.cached_property
    def D(self) -> np.ndarray:
        """``[λ; 1]``, shape (2, n_pad): ``[hsq, 1 − hsq] @ D`` gives the ``aᵢ``."""
        return np.vstack([self.lam, np.ones_like(self.lam)])

    @functools.cached_property
    def QQ_full(self) -> np.ndarray:
        """All products ``Q[:, k] Q[:, l]``, shape (n, p·p): ``W @ QQ_full`` gives ``QᵀWQ``."""
        Q = self.Q
        return (Q[:, :, None] * Q[:, None, :]).reshape(self.n, -1)

    @property
    def d(self) -> np.ndarray:
        """``λ − 1 = daᵢ/dhsq``."""
        return self.lam - 1.0

    @property
    def m(self) -> int:
        return int(self.C.shape[0])

    def columns(self, idx) -> "Prepared":
        """The same data restricted to phenotype columns ``idx``."""
        return Prepared(self.n, self.lam, self.Q, self.R, self.gamma[:, idx], self.C[idx],
                        self.QQ, self.logdet_xtx, self.resid[idx], self.y_exp[idx], self.yss[idx])


def triu_pairs(p: int) -> list[tuple[int, int]]:
    """The pairs ``(k, l)``, ``k ≤ l < p``, in row-major upper-triangle order (the columns of
    :attr:`Prepared.QQ` and the rows of the packed matrices of :func:`chol_solve`)."""
    return [(k, l) for k in range(p) for l in range(k, p)]


def prepare(kva: np.ndarray, y2d: np.ndarray, X: np.ndarray) -> Prepared:
    """Build :class:`Prepared` from checked ``kva`` (n,), ``y`` (n, m), ``X`` (n, p)."""
    n, p = X.shape
    m = y2d.shape[1]
    Q, R = np.linalg.qr(X)
    n_pad = -(-n // LOG_GROUP) * LOG_GROUP
    lam = np.ones(n_pad)
    lam[:n] = kva
    # Large temporaries are costly (fresh pages): work in C's own slots.
    C = np.empty((m, 1 + p, n_pad))
    C[:, :, n:] = 0.0
    y_exp = pow2_scale(y2d, axis=0)                   # (m,): columns scaled to max |y| ~ 1
    resid = times_pow2(y2d.T, -y_exp[:, None])          # (m, n), a copy: one row per phenotype
    resid = np.ascontiguousarray(resid)
    yss = np.einsum("ji,ji->j", resid, resid)
    Qt = np.ascontiguousarray(Q.T)                    # (p, n): contiguous rows
    tmp = C[:, 1, :n]
    gamma = np.zeros((m, p))
    for _ in range(2):  # twice: orthogonal to Q to round-off
        B = np.column_stack([resid @ Qt[k] for k in range(p)])  # p matrix-vector products
        gamma += B
        np.matmul(B, Q.T, out=tmp)
        resid -= tmp
    gamma = np.ascontiguousarray(gamma.T)             # (p, m)
    np.multiply(resid, resid, out=C[:, 0, :n])
    for k in range(p):
        np.multiply(resid, Qt[k], out=C[:, 1 + k, :n])
    pairs = triu_pairs(p)
    QQ = np.zeros((n_pad, len(pairs)))
    for c, (k, l) in enumerate(pairs):
        QQ[:n, c] = Q[:, k] * Q[:, l]
    logdet_xtx = float(2.0 * np.sum(np.log(np.abs(np.diag(R)))))
    return Prepared(n, lam, Q, R, gamma, C, QQ, logdet_xtx, resid, y_exp, yss)


@dataclass(frozen=True, eq=False)
class Stats:
    """Weighted sums at given ``hsq``; leading axis ``p`` then batch shape ``B``."""

    ySy: np.ndarray      # B
    QSy: np.ndarray      # (p, *B)
    QSQ: np.ndarray      # (q, *B') broadcastable to B
    logdet_a: np.ndarray  # broadcastable to B
    singular: np.ndarray  # broadcastable to B: some aᵢ ≤ 0 (hsq = 1 with λᵢ = 0)
    h: np.ndarray        # broadcastable to B: the hsq of each entry


class Workspace:
    """Reusable buffers for :func:`stats_per_column` on up to ``m`` columns.

    Fresh large arrays cost page faults on every call; the lockstep search
    evaluates the same shapes dozens of times, so it reuses these.
    """

    def __init__(self, m: int, n_pad: int):
        self.A = np.empty((m, n_pad))
        self.P = np.empty((m, n_pad // LOG_GROUP))
        self.H = np.ones((m, 2))

    def views(self, k: int):
        return self.A[:k], self.P[:k], self.H[:k]


def sum_log_rows(A: np.ndarray, P: np.ndarray | None = None) -> np.ndarray:
    """``Σᵢ log A[j, i]`` for each row ``j`` of ``A`` (m, n_pad).

    Multiplies the factors in groups of ``LOG_GROUP`` (= 8) and takes one
    logarithm per group. Rows whose group products leave the safe range
    (below 1e-250 or above 1e250, which needs factors below 1e-31 or above
    1e31) fall back to summing logarithms.
    """
    m, n_pad = A.shape
    if n_pad % LOG_GROUP:                         # the last n_pad mod 8 factors one by one
        cut = n_pad - n_pad % LOG_GROUP
        with np.errstate(divide="ignore", invalid="ignore"):
            rest = np.log(A[:, cut:]).sum(axis=1)
        return (sum_log_rows(A[:, :cut]) if cut else 0.0) + rest
    if P is None:
        P = np.empty((m, n_pad // LOG_GROUP))
    np.prod(A.reshape(m, LOG_GROUP, n_pad // LOG_GROUP), axis=1, out=P)
    lo = P.min(axis=1)
    hi = P.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(P, out=P).sum(axis=1)
    risky = ~np.isfinite(out) | (lo < 1e-250) | (hi > 1e250)
    if risky.any():
        rows = np.flatnonzero(risky)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rows] = np.log(A[rows]).sum(axis=1)
    return out


#: Columns evaluated per pass of :func:`stats_per_column`: small enough for the
#: weights and data of a pass to stay in a core's cache.
SUB_BLOCK = 32


def stats_per_column(prep: Prepared, h: np.ndarray, ws: Workspace | None = None) -> Stats:
    """Sums for column ``j`` at its own ``h[j]``; ``h`` shape (m,), results (m,)."""
    m = h.shape[0]
    if ws is None:
        ws = Workspace(min(m, SUB_BLOCK), prep.lam.shape[0])
    D = prep.D
    sums = np.empty((m, 1 + prep.p))
    QSQ = np.empty((m, prep.QQ.shape[1]))
    logdet = np.empty(m)
    for s in range(0, m, SUB_BLOCK):
        e = min(s + SUB_BLOCK, m)
        A, P, H = ws.views(e - s)
        H[:, 0] = h[s:e]
        np.subtract(1.0, h[s:e], out=H[:, 1])
        np.matmul(H, D, out=A)                    # aⱼᵢ = hⱼ·λᵢ + (1 − hⱼ)
        logdet[s:e] = sum_log_rows(A, P)
        with np.errstate(divide="ignore", invalid="ignore"):
            S = np.reciprocal(A, out=A)
            np.matmul(prep.C[s:e], S[:, :, None], out=sums[s:e, :, None])
            np.matmul(S, prep.QQ, out=QSQ[s:e])
    # aᵢ is smallest at the smallest λᵢ
    singular = h * prep.lam.min() + (1.0 - h) <= 0.0
    return Stats(sums[:, 0], sums[:, 1:].T, QSQ.T, logdet, singular, h)


def stats_shared(prep: Prepared, h: np.ndarray) -> Stats:
    """Sums for every column at every ``h`` of a grid; ``h`` (g,), results (g, m)."""
    A = np.multiply.outer(h, prep.lam) + (1.0 - h)[:, None]   # (g, n_pad)
    singular = (A <= 0).any(axis=1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        logdet = np.log(A).sum(axis=1)[:, None]    # (g, 1)
        S = 1.0 / A
        m, k, n_pad = prep.C.shape
        # one matrix product: (m·(1 + p), n_pad) @ (n_pad, g)
        sums = (prep.C.reshape(m * k, n_pad) @ S.T).reshape(m, k, -1).transpose(1, 2, 0)
        QSQ = (S @ prep.QQ).T[:, :, None]           # (q, g, 1)
    return Stats(sums[0], sums[1:], QSQ, logdet, singular, h[:, None])


def chol_solve(M: np.ndarray, b: np.ndarray, p: int):
    """Solve ``M x = b`` for a batch of small SPD matrices, and ``log|M|``.

    Parameters
    ----------
    M : ndarray (q, *B)
        Upper triangles (row-major, ``q = p(p+1)/2``) of the symmetric matrices.
    b : ndarray (p, *B)
    p : int

    Returns
    -------
    x : ndarray (p, *B)
    logdet : ndarray B
    """
    idx = {pair: c for c, pair in enumerate(triu_pairs(p))}
    shape = np.broadcast_shapes(M.shape[1:], b.shape[1:])
    L = [[None] * p for _ in range(p)]
    logdet = np.zeros(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(p):
            s = M[idx[(j, j)]] - sum(L[j][k] ** 2 for k in range(j)) if j else M[idx[(j, j)]]
            ljj = np.sqrt(s)
            L[j][j] = ljj
            logdet = logdet + 2.0 * np.log(ljj)
            for i in range(j + 1, p):
                s = M[idx[(j, i)]] - sum(L[i][k] * L[j][k] for k in range(j)) if j else M[idx[(j, i)]]
                L[i][j] = s / ljj
        z = [None] * p
        for i in range(p):
            s = b[i] - sum(L[i][k] * z[k] for k in range(i)) if i else b[i]
            z[i] = s / L[i][i]
        x = [None] * p
        for i in reversed(range(p)):
            s = z[i] - sum(L[k][i] * x[k] for k in range(i + 1, p)) if i < p - 1 else z[i]
            x[i] = s / L[i][i]
    x = np.stack([np.broadcast_to(xi, shape) for xi in x])
    return x, np.broadcast_to(logdet, shape)



#: Above this ratio of the largest weight ``1/aᵢ`` to 1, ``rss = ySy − bᵀM⁻¹b``
#: would lose digits to cancellation; ``rss`` is then summed from explicit residuals.
WEIGHT_RATIO_REFINE = 1e6


def _refine_rss(prep: Prepared, st: Stats, bq, rss):
    """Recompute ``β̂`` and ``rss = Σ rᵢ²/aᵢ`` from residuals where the weights span a huge range.

    Only entries with ``max 1/aᵢ > WEIGHT_RATIO_REFINE`` (``hsq`` at or next to 1
    with a round-off eigenvalue) or a non-positive ``rss`` are redone, by two
    steps of iterative refinement of the weighted least-squares solution on
    explicit residuals. Returns ``bq`` and ``rss`` (copies where changed).
    """
    shape = rss.shape
    h = np.broadcast_to(st.h, shape)
    with np.errstate(divide="ignore"):
        max_weight = 1.0 / (h * prep.lam.min() + (1.0 - h))
    redo = ((max_weight > WEIGHT_RATIO_REFINE) | ~(rss > 0)) & ~np.broadcast_to(st.singular, shape)
    if not redo.any():
        return bq, rss
    rss = rss.copy()
    bq = np.array(np.broadcast_to(bq, (prep.p, *shape)))
    pos = np.nonzero(redo)
    he = h[pos]                                             # (E,) entries to redo
    Q = prep.Q
    n, p = Q.shape
    s = 1.0 / (he[:, None] * prep.lam[None, :n] + (1.0 - he)[:, None])   # (E, n)
    Minv = np.linalg.pinv((s @ prep.QQ_full).reshape(-1, p, p))   # (E, p, p)
    b = bq[(slice(None), *pos)].T.copy()                    # (E, p)
    r = prep.resid[pos[-1]] - b @ Q.T                       # (E, n)
    for _ in range(2):                                      # iterative refinement
        delta = np.einsum("ekl,el->ek", Minv, (s * r) @ Q)
        b += delta
        r -= delta @ Q.T
    bq[(slice(None), *pos)] = b.T
    rss[pos] = np.einsum("ei,ei->e", s, r * r)
    return bq, rss


def upper_limit(prep: Prepared, cols: np.ndarray, reml: bool):
    """``ℓ``, ``b̂`` (in the ``Q`` basis, from the residuals) and ``rss`` at ``hsq = 1`` as the
    limit ``hsq → 1`` when K has zero eigenvalues (module notes), for columns ``cols``.

    Returns ``loglik`` (c,) (``−inf``, finite, or ``+inf`` for an unbounded
    likelihood), ``bq`` (c, p) and ``rss`` (c,) (NaN where ``ℓ`` is infinite), on
    the scaled data.
    """
    n, p = prep.n, prep.p
    lam = prep.lam[:n]
    Zm = lam == 0.0
    z = int(Zm.sum())
    c = cols.size
    loglik = np.full(c, -np.inf)
    bq = np.full((c, p), np.nan)
    rss = np.full(c, np.nan)
    if z == 0 or c == 0:
        return loglik, bq, rss
    Q = prep.Q
    QZ, QN, lamN = Q[Zm], Q[~Zm], lam[~Zm]
    r = prep.resid[cols]
    rZ, rN = r[:, Zm], r[:, ~Zm]
    Uz, sv, _ = np.linalg.svd(QZ, full_matrices=False)
    rank = int(np.sum(sv > RANK_RTOL))                      # Q has unit-norm columns
    Ur = Uz[:, :rank]
    off = rZ - (rZ @ Ur) @ Ur.T                              # part of r_Z outside col(Q_Z)
    feasible = np.linalg.norm(off, axis=1) <= EXPLAINED_RTOL * np.sqrt(prep.yss[cols])
    unbounded = feasible & ((z > rank) if reml else True)
    loglik[unbounded] = np.inf
    finite = np.flatnonzero(feasible & ~unbounded)
    if finite.size and QN.shape[0] > p:
        A = (QN / lamN[:, None]).T @ QN                      # (p, p)
        W = QZ.T                                             # (p, z), rank z
        b = (rN[finite] / lamN) @ QN                         # (f, p)
        bu = np.linalg.solve(A, b.T)                         # (p, f)
        AW = np.linalg.solve(A, W)
        G = W.T @ AW                                         # (z, z)
        bc = bu + AW @ np.linalg.solve(G, rZ[finite].T - W.T @ bu)
        res = rN[finite] - (QN @ bc).T
        rc = np.einsum("fi,fi->f", res / lamN, res)
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = -0.5 * (np.log(lamN).sum() + n * np.log(rc))
            ll = ll + 0.5 * (p * (LOG_2PI + np.log(rc / (n - p)))
                             - np.linalg.slogdet(A)[1] - np.linalg.slogdet(G)[1])
        loglik[finite] = np.where(rc > 0, ll, -np.inf)
        bq[finite] = bc.T
        rss[finite] = rc
    return loglik, bq, rss


def finish(prep: Prepared, st: Stats, reml: bool, want_beta: bool = True,
           user_units: bool = True, keep_scale: bool = False) -> Solution:
    """Turn weighted sums into β̂, rss, σ̂² and the log-likelihood, in the user's units.

    Where the covariance is singular (``hsq = 1`` with zero eigenvalues) ``ℓ`` is
    the limit of :func:`upper_limit` (``−inf``, finite or ``+inf``); ``ℓ = −inf``
    where ``rss`` is not positive.

    With ``keep_scale`` (and ``user_units``) only ``ℓ`` is put in the user's units: ``β̂``,
    ``rss`` and ``σ̂²`` stay those of the scaled data ``y·2^−y_exp`` and the solution's
    ``y_scale_log2`` is ``prep.y_exp``, so that nothing overflows or underflows (the search
    decides what to report: :func:`lmm.search.to_data_scale`).
    """
    n, p = prep.n, prep.p
    bq, logdet_qsq = chol_solve(st.QSQ, st.QSy, p)
    rss = st.ySy - np.einsum("k...,k...->...", st.QSy, bq)
    bq, rss = _refine_rss(prep, st, bq, np.asarray(rss))
    with np.errstate(divide="ignore", invalid="ignore"):
        sigmasq = rss / (n - p)
        loglik = -0.5 * (st.logdet_a + n * np.log(rss))
        if reml:
            loglik = loglik + 0.5 * (p * (LOG_2PI + np.log(sigmasq)) - logdet_qsq)
    shape = np.shape(loglik)
    singular = np.broadcast_to(st.singular, shape)
    bad = singular | ~(rss > 0) | np.isnan(loglik)
    loglik = np.where(bad, -np.inf, loglik)
    limit = singular & (np.broadcast_to(st.h, shape) == 1.0)
    if limit.any():
        pos = np.nonzero(limit)
        ucols, inv = np.unique(pos[-1], return_inverse=True)
        ll_u, bq_u, rss_u = upper_limit(prep, ucols, reml)
        loglik = np.array(loglik)
        loglik[pos] = ll_u[inv]
        rss = np.array(np.broadcast_to(rss, shape))
        rss[pos] = rss_u[inv]
        sigmasq = rss / (n - p)
        bq = np.array(np.broadcast_to(bq, (p, *shape)))
        bq[(slice(None), *pos)] = bq_u[inv].T
        logdet_qsq = np.array(np.broadcast_to(logdet_qsq, shape))
        logdet_qsq[pos] = np.inf
    # back to the user's units: y was scaled by 2^-e per column (last axis)
    e = prep.y_exp
    rescale = user_units and not keep_scale and e.any()
    if user_units and e.any():
        dof = n - p if reml else n
        loglik = loglik - dof * LOG_2 * e
    if rescale:
        rss = np.ldexp(rss, 2 * e)
        sigmasq = np.ldexp(sigmasq, 2 * e)
    beta = None
    if want_beta:
        gshape = (p,) + (1,) * (bq.ndim - 2) + (prep.m,)
        bq_full = bq + prep.gamma.reshape(gshape)
        beta = np.linalg.solve(prep.R, bq_full.reshape(p, -1)).reshape(bq_full.shape)
        if rescale:
            beta = np.ldexp(beta, e.reshape(gshape[1:]))
    return Solution(loglik, beta, rss, sigmasq, logdet_qsq + prep.logdet_xtx,
                    y_scale_log2=e.copy() if user_units and keep_scale else None)


def explained(prep: Prepared) -> np.ndarray:
    """Columns explained exactly by the covariates: ``‖r‖ ≤ EXPLAINED_RTOL·‖y‖`` on the scaled
    data (the rule of :func:`lmm.checks.explained_columns`), shape (m,)."""
    rss0 = prep.C[:, 0, :].sum(axis=1)
    return np.sqrt(rss0) <= EXPLAINED_RTOL * np.sqrt(prep.yss)


def check_explained(prep: Prepared, y2d: np.ndarray | None = None, col0: int = 0) -> None:
    """Raise if a phenotype column is explained exactly by the covariates (e.g. constant).

    Its residual sum of squares is zero for every ``hsq``: the likelihood has no
    maximum and ``hsq`` is not defined.
    """
    flat = explained(prep)
    if flat.any():
        j = int(np.flatnonzero(flat)[0]) + col0
        raise InputError(
            f"phenotype column {j} is explained exactly by the covariates (for example "
            "it is constant): its heritability is not defined"
            + (f"; {int(flat.sum())} such columns" if flat.sum() > 1 else ""))


def checked_inputs(kva, y, X, x_names=None):
    """Validate ``kva``, ``y``, ``X``; return ``kva`` (n,), ``y`` (n, m), ``X`` (n, p), ``y`` was 1-D."""
    y = check_y(y)
    kva = check_kva(kva, y.shape[0])
    X = check_X(X, y.shape[0], x_names, rotated=True)
    return kva, (y[:, None] if y.ndim == 1 else y), X, y.ndim == 1


def _at_grid(hsq, kva, y, X, reml, x_names=None):
    h = check_hsq(hsq)
    kva, y2d, X, one_y = checked_inputs(kva, y, X, x_names)
    prep = prepare(kva, y2d, X)
    check_explained(prep, y2d)
    sol = finish(prep, stats_shared(prep, np.atleast_1d(h)), reml)
    return sol, lambda a: squeeze_grid(a, h.ndim == 0, one_y)


def squeeze_grid(a, scalar_hsq: bool, one_y: bool):
    """``a`` of shape (..., g, m) without the ``g`` axis for a scalar ``hsq`` and the ``m``
    axis for a 1-D ``y``; a 0-d result becomes a numpy scalar."""
    if one_y:
        a = a[..., 0]
    if scalar_hsq:
        a = a[..., 0] if one_y else a[..., 0, :]
    return a[()] if np.ndim(a) == 0 else a


@dataclass(frozen=True, eq=False)
class MLSolution:
    """Result of :func:`get_ml_soln`.

    Attributes
    ----------
    beta : ndarray, shape (p,) or (p, m)
    sigmasq : float or ndarray (m,)
        ``rss / (n − p)``.
    rss : float or ndarray (m,)
    logdet_xsx : float or ndarray (m,) or None
        ``log|X̃ᵀSX̃|`` (only when ``reml=True``).
    """

    beta: np.ndarray
    sigmasq: float | np.ndarray
    rss: float | np.ndarray
    logdet_xsx: float | np.ndarray | None


def get_ml_soln(hsq, kva, y, X, reml=True, *, x_names=None) -> MLSolution:
    """Closed-form GLS solution at fixed heritability (lmmlite's ``getMLsoln``).

    Parameters
    ----------
    hsq : float
        Heritability in [0, 1].
    kva : array_like, shape (n,)
        Eigenvalues of K.
    y : array_like, shape (n,) or (n, m)
        Rotated phenotypes.
    X : array_like, shape (n, p)
        Rotated covariates (``Rotation.X``; ``None`` is refused: a column of ones
        is not the rotated intercept).
    reml : bool
        Also return ``logdet_xsx``.
    x_names : sequence of str, optional
        Covariate names, for error messages.

    Returns
    -------
    MLSolution

    Notes
    -----
    With ``S = diag(1/(hsq·λ + 1 − hsq))``: ``β̂ = (XᵀSX)⁻¹XᵀSy``,
    ``rss = (y − Xβ̂)ᵀS(y − Xβ̂)``, ``σ̂² = rss/(n − p)``,
    ``logdet_xsx = log|XᵀSX|``.
    """
    if np.ndim(hsq) != 0:
        raise InputError("get_ml_soln takes a scalar hsq; use calc_ll for a grid")
    sol, shape = _at_grid(hsq, kva, y, X, reml, x_names)
    return MLSolution(shape(sol.beta), shape(sol.sigmasq), shape(sol.rss),
                      shape(sol.logdet_xsx) if reml else None)


@dataclass(frozen=True, eq=False)
class LogLik:
    """Result of :func:`calc_ll`.

    Shapes: with ``g`` grid values of ``hsq`` (none for a scalar) and ``m``
    phenotypes (none for 1-D ``y``), ``loglik``, ``sigmasq`` and ``rss`` are
    ``(g, m)``, ``(g,)``, ``(m,)`` or scalars; ``beta`` has a leading ``p`` axis:
    ``(p, g, m)`` … ``(p,)``.
    """

    loglik: float | np.ndarray
    beta: np.ndarray
    sigmasq: float | np.ndarray
    rss: float | np.ndarray

    def __float__(self) -> float:
        return float(self.loglik)


def calc_ll(hsq, kva, y, X, reml=True, *, x_names=None) -> LogLik:
    """Profile log-likelihood at one ``hsq`` or a grid (lmmlite's ``calcLL``).

    Parameters
    ----------
    hsq : float or array_like, shape (g,)
        Heritability value(s) in [0, 1]. A grid is evaluated without a Python
        loop over its points (matrix products over ``(n, g)`` weights).
    kva : array_like, shape (n,)
        Eigenvalues of K.
    y : array_like, shape (n,) or (n, m)
        Rotated phenotypes.
    X : array_like, shape (n, p)
        Rotated covariates (``Rotation.X``; required).
    reml : bool
        REML (default) or ML.

    Returns
    -------
    LogLik
        ``loglik``, and ``beta``, ``sigmasq``, ``rss`` at each ``hsq``.

    Notes
    -----
    Up to an additive constant (the same as lmmlite's)::

        ℓ_ML   = −½ (Σ log(hsq·λᵢ + 1 − hsq) + n·log rss)
        ℓ_REML = ℓ_ML + ½ (p·log(2π σ̂²) + log|XᵀX| − log|XᵀSX|)

    At ``hsq = 1`` with some ``λᵢ = 0`` (a singular covariance) ``ℓ`` is its limit
    (module notes): usually ``−inf``, ``+inf`` when the likelihood is unbounded.

    Examples
    --------
    >>> import numpy as np, lmm
    >>> rng = np.random.default_rng(1)
    >>> G = rng.normal(size=(50, 80)); K = G @ G.T / 80
    >>> rot = lmm.eigen_rotation(K, rng.normal(size=50))
    >>> ll = lmm.calc_ll(np.linspace(0, 1, 5), rot.kva, rot.y, rot.X)
    >>> ll.loglik.shape
    (5,)
    """
    sol, shape = _at_grid(hsq, kva, y, X, reml, x_names)
    return LogLik(shape(sol.loglik), shape(sol.beta), shape(sol.sigmasq), shape(sol.rss))

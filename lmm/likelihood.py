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
1974: ``−½(log|V| + log|XᵀV⁻¹X| + rᵀV⁻¹r + (n−p) log 2π)``, with ``log|XᵀX|``
added) at ``σ̂² = rss/(n−p)`` is ``ℓ_REML − ((n−p)/2)(1 + log(2π/(n−p)))``; the
tests check both against a dense multivariate normal density computed without
the rotation.

Numerics
--------
Internally ``X̃ = QR`` (thin QR), the likelihood is computed with the orthonormal
``Q`` (``log|XᵀX| − log|X̃ᵀSX̃| = −log|QᵀSQ|`` exactly), and ``ỹ`` is replaced by
its residual from ordinary least squares (which leaves ``rss`` and ``ℓ``
unchanged and shifts ``β̂`` by the OLS coefficients, added back at the end), so
that ``rss`` does not lose digits to cancellation when the phenotype's mean is
large compared with its spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_hsq, check_kva, check_X, check_y
from .errors import InputError

__all__ = ["MLSolution", "LogLik", "get_ml_soln", "calc_ll"]

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True, eq=False)
class Prepared:
    """Rotated data put in the form the likelihood evaluations use.

    Attributes
    ----------
    d : ndarray (n,)
        ``λ − 1``, so that ``aᵢ = 1 + hsq·dᵢ``.
    Q : ndarray (n, p)
        Orthonormal basis of the rotated covariates, ``X̃ = Q R``.
    R : ndarray (p, p)
        Upper triangular.
    gamma : ndarray (p, m)
        ``Qᵀ ỹ`` (OLS coefficients in the ``Q`` basis).
    yr : ndarray (n, m)
        ``ỹ − Q gamma``, the OLS residuals.
    y2 : ndarray (n, m)
        ``yr²``.
    Qy : ndarray (p, n, m)
        ``Q[:, k] · yr``.
    QQ : ndarray (n, p·(p+1)/2)
        Products ``Q[:, k] Q[:, l]``, ``k ≤ l``, in row-major upper-triangle order.
    logdet_xtx : float
        ``log|XᵀX| = 2 Σ log|R_kk|``.
    """

    d: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    gamma: np.ndarray
    yr: np.ndarray
    y2: np.ndarray
    Qy: np.ndarray
    QQ: np.ndarray
    logdet_xtx: float

    @property
    def n(self) -> int:
        return int(self.d.shape[0])

    @property
    def p(self) -> int:
        return int(self.Q.shape[1])

    @property
    def m(self) -> int:
        return int(self.yr.shape[1])

    def columns(self, idx) -> "Prepared":
        """The same data restricted to phenotype columns ``idx``."""
        return Prepared(self.d, self.Q, self.R, self.gamma[:, idx], self.yr[:, idx],
                        self.y2[:, idx], self.Qy[:, :, idx], self.QQ, self.logdet_xtx)


def _triu_pairs(p):
    return [(k, l) for k in range(p) for l in range(k, p)]


def prepare(kva: np.ndarray, y2d: np.ndarray, X: np.ndarray) -> Prepared:
    """Build :class:`Prepared` from checked ``kva`` (n,), ``y`` (n, m), ``X`` (n, p)."""
    Q, R = np.linalg.qr(X)
    gamma = Q.T @ y2d
    yr = y2d - Q @ gamma
    yr = yr - Q @ (Q.T @ yr)  # second pass: residual orthogonal to Q to round-off
    gamma = Q.T @ y2d - Q.T @ yr
    pairs = _triu_pairs(Q.shape[1])
    QQ = np.empty((Q.shape[0], len(pairs)))
    for c, (k, l) in enumerate(pairs):
        QQ[:, c] = Q[:, k] * Q[:, l]
    Qy = Q.T[:, :, None] * yr[None, :, :]
    logdet_xtx = float(2.0 * np.sum(np.log(np.abs(np.diag(R)))))
    return Prepared(kva - 1.0, Q, R, gamma, yr, yr * yr, Qy, QQ, logdet_xtx)


@dataclass(frozen=True, eq=False)
class Stats:
    """Weighted sums at given ``hsq``; leading axis ``p`` then batch shape ``B``."""

    ySy: np.ndarray      # B
    QSy: np.ndarray      # (p, *B)
    QSQ: np.ndarray      # (q, *B') broadcastable to B
    logdet_a: np.ndarray  # broadcastable to B
    singular: np.ndarray  # broadcastable to B: some aᵢ ≤ 0 (hsq = 1 with λᵢ = 0)


def stats_per_column(prep: Prepared, h: np.ndarray) -> Stats:
    """Sums for column ``j`` at its own ``h[j]``; ``h`` shape (m,), results (m,)."""
    A = 1.0 + prep.d[:, None] * h[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        S = 1.0 / A
        logdet = np.log(A).sum(axis=0)
    singular = (A <= 0).any(axis=0)
    ySy = np.einsum("ij,ij->j", prep.y2, S)
    QSy = np.einsum("kij,ij->kj", prep.Qy, S)
    QSQ = prep.QQ.T @ S
    return Stats(ySy, QSy, QSQ, logdet, singular)


def stats_shared(prep: Prepared, h: np.ndarray) -> Stats:
    """Sums for every column at every ``h`` of a grid; ``h`` (g,), results (g, m)."""
    A = 1.0 + prep.d[:, None] * h[None, :]          # (n, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = 1.0 / A
        logdet = np.log(A).sum(axis=0)[:, None]      # (g, 1)
        ySy = S.T @ prep.y2                          # (g, m)
        QSy = np.einsum("ig,kim->kgm", S, prep.Qy)   # (p, g, m)
        QSQ = (prep.QQ.T @ S)[:, :, None]            # (q, g, 1)
    singular = (A <= 0).any(axis=0)[:, None]
    return Stats(ySy, QSy, QSQ, logdet, singular)


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
    idx = {pair: c for c, pair in enumerate(_triu_pairs(p))}
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


@dataclass(frozen=True, eq=False)
class Solution:
    """Everything at given ``hsq`` (internal; arrays of the batch shape)."""

    loglik: np.ndarray
    beta: np.ndarray       # (p, *B), in the original X parametrisation
    rss: np.ndarray
    sigmasq: np.ndarray
    logdet_xsx: np.ndarray


def finish(prep: Prepared, st: Stats, reml: bool, want_beta: bool = True) -> Solution:
    """Turn weighted sums into β̂, rss, σ̂² and the log-likelihood."""
    n, p = prep.n, prep.p
    bq, logdet_qsq = chol_solve(st.QSQ, st.QSy, p)
    rss = st.ySy - np.einsum("k...,k...->...", st.QSy, bq)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigmasq = rss / (n - p)
        loglik = -0.5 * (st.logdet_a + n * np.log(rss))
        if reml:
            loglik = loglik + 0.5 * (p * (LOG_2PI + np.log(sigmasq)) - logdet_qsq)
    loglik = np.where(np.broadcast_to(st.singular, np.shape(loglik)), -np.inf, loglik)
    beta = None
    if want_beta:
        gshape = (p,) + (1,) * (bq.ndim - 2) + (prep.m,) if bq.ndim >= 2 else (p,)
        bq_full = bq + prep.gamma.reshape(gshape) if bq.ndim >= 2 else bq + prep.gamma[:, 0]
        beta = np.linalg.solve(prep.R, bq_full.reshape(p, -1)).reshape(bq_full.shape)
    return Solution(loglik, beta, rss, sigmasq, logdet_qsq + prep.logdet_xtx)


def checked_inputs(kva, y, X, x_names=None):
    """Validate ``kva``, ``y``, ``X``; return ``kva`` (n,), ``y`` (n, m), ``X`` (n, p), ``y`` was 1-D."""
    y = check_y(y)
    kva = check_kva(kva, y.shape[0])
    X = check_X(X, y.shape[0], x_names)
    return kva, (y[:, None] if y.ndim == 1 else y), X, y.ndim == 1


def _at_grid(hsq, kva, y, X, reml, x_names=None):
    h = check_hsq(hsq)
    kva, y2d, X, one_y = checked_inputs(kva, y, X, x_names)
    prep = prepare(kva, y2d, X)
    sol = finish(prep, stats_shared(prep, np.atleast_1d(h)), reml)

    def shape(a, lead=()):
        # a: (*lead, g, m) -> drop g if scalar hsq, drop m if 1-D y
        if one_y:
            a = a[..., 0]
        if h.ndim == 0:
            a = a[..., 0] if one_y else a[..., 0, :]
        return a[()] if np.ndim(a) == 0 else a

    return sol, shape


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
        Rotated covariates (``None``: intercept, rotated by nothing — only right
        when K is diagonal; pass ``Rotation.X``).
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
        Rotated covariates.
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

    ``ℓ = −inf`` at ``hsq = 1`` when some ``λᵢ = 0`` (a singular covariance).

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

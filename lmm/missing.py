r"""Phenotypes with a few missing individuals, fitted exactly without a new decomposition.

Notes
-----
Let ``K = U diag(λ) Uᵀ`` be the decomposition for all ``n`` individuals, and a
phenotype observed on the set ``o`` and missing on the ``k`` individuals of
``M``. With ``V = hsq·K + (1 − hsq)·I = U diag(a) Uᵀ``, ``aᵢ = hsq·λᵢ + 1 − hsq``,
and ``P = V⁻¹ = U diag(1/a) Uᵀ``, the observed block's inverse is the Schur
complement of ``P_MM`` in ``P`` and its determinant follows from Jacobi's
identity::

    V_oo⁻¹ = P_oo − P_oM P_MM⁻¹ P_Mo,        log|V_oo| = log|V| + log|P_MM|.

For vectors ``u``, ``v`` on the observed individuals, extended by zeros to all
``n`` (``ũ``, ``ṽ``), with rotated ``û = Uᵀũ`` and ``w_u = (P ũ)_M = U_M (û / a)``::

    uᵀ V_oo⁻¹ v = Σᵢ ûᵢ v̂ᵢ / aᵢ − w_uᵀ P_MM⁻¹ w_v,     P_MM = U_M diag(1/a) U_Mᵀ.

Every quantity of the profile likelihood (``yᵀV_oo⁻¹y``, ``XᵀV_oo⁻¹y``,
``XᵀV_oo⁻¹X`` and ``log|V_oo|``) therefore costs ``O(k²n + k(p+1)n + (p+1)²n)``
per evaluation instead of an ``O(n³)`` decomposition of ``K_oo``; the results
are those of the decomposition of ``K_oo`` to round-off (the tests compare the
two to 1e-8). The covariates are first replaced by an orthonormal basis of the
columns of the full ``X`` (``X = Q R``), which changes neither ``ℓ`` nor the
fitted values, and ``y`` by its residual from least squares on the observed
individuals, as in :mod:`lmm.likelihood`.

At ``hsq = 1`` exactly, a zero eigenvalue of the full K makes ``ℓ = −inf`` here,
even if the observed block ``K_oo`` is non-singular (a rare case: for example an
individual and its duplicate, one of them missing). The workflow decomposes such
patterns afresh when ``missing_strategy`` is ``decompose``.
"""

from __future__ import annotations

import re

import numpy as np

from ._checks import as_float_array, check_tol, check_X
from .errors import InputError
from .fit import FitResult, _assemble, fit_lmm, search
from .likelihood import LOG_2PI, LogLik, Solution, squeeze_grid
from .rotation import EigenDecomposition

__all__ = ["fit_lmm_masked", "calc_ll_masked", "choose_strategy"]

#: Elements of the per-chunk arrays (``c·(k + p + 1)·n``) at most.
DEFAULT_CHUNK_ELEMENTS = 1 << 21


def _check_masked(decomposition, y, X, x_names):
    if not isinstance(decomposition, EigenDecomposition):
        raise InputError("decomposition must be an lmm.EigenDecomposition (from eigen_decompose)")
    n = decomposition.n
    y = as_float_array(y, "y")
    one_y = y.ndim == 1
    if one_y:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] == 0:
        raise InputError(f"y must be (n,) or (n, m) with m > 0, got shape {y.shape}")
    if y.shape[0] != n:
        raise InputError(f"y has {y.shape[0]} rows but the decomposition is of {n} individuals")
    if np.isinf(y).any():
        j = int(np.flatnonzero(np.isinf(y).any(axis=0))[0])
        raise InputError(f"y column {j} has infinite values; missing values must be NaN")
    X = check_X(X, n, x_names)
    p = X.shape[1]
    miss = np.isnan(y)
    n_obs = n - miss.sum(axis=0)
    few = np.flatnonzero(n_obs <= p + 1)
    if few.size:
        raise InputError(
            f"y column {int(few[0])} has {int(n_obs[few[0]])} observed values, too few for "
            f"p = {p} covariates (needs more than p + 1)"
            + (f"; {few.size} such columns" if few.size > 1 else ""))
    return y, X, miss, one_y


class _MaskedEvaluator:
    """Profile likelihood of ``c`` columns that each miss ``k`` individuals."""

    ci_grid = np.linspace(0.0, 1.0, 11)

    def __init__(self, U, lam, Qrot, Q, R, y, M, reml):
        # U (n, n) eigenvectors as columns (rows = individuals); lam = λ (n,)
        # Qrot = Uᵀ Q (n, p); y (n, c) with NaN; M (c, k) missing rows
        n, p = Q.shape
        c, k = M.shape
        self.n, self.p, self.k, self.reml = n, p, k, reml
        self.lam = lam
        self.lam_min = float(self.lam.min())
        obs = ~np.isnan(y)
        y0 = np.where(obs, y, 0.0)
        QM = Q[M]                                              # (c, k, p)
        QtQ_o = np.eye(p)[None] - np.einsum("ckp,ckq->cpq", QM, QM)   # Q_oᵀQ_o
        sign, self.logdet_qtq = np.linalg.slogdet(QtQ_o)
        bad = sign <= 0
        if bad.any():
            raise InputError(f"the covariates are collinear on the observed individuals of "
                             f"column {int(np.flatnonzero(bad)[0])}")
        gamma = np.linalg.solve(QtQ_o, (Q.T @ y0).T[:, :, None])[:, :, 0]  # (c, p) OLS
        r0 = (y0 - Q @ gamma.T) * obs                        # residuals, zero where missing
        if (np.einsum("ic,ic->c", r0, r0) <= 1e-24 * np.einsum("ic,ic->c", y0, y0)).any():
            j = int(np.flatnonzero(np.einsum("ic,ic->c", r0, r0)
                                   <= 1e-24 * np.einsum("ic,ic->c", y0, y0))[0])
            raise InputError(f"phenotype column {j} is explained exactly by the covariates "
                             "on its observed individuals (for example it is constant)")
        self.gamma = gamma.T                                   # (p, c)
        self.R = R
        self.logdet_r2 = float(2.0 * np.sum(np.log(np.abs(np.diag(R)))))
        UM = U[M]                                              # (c, k, n): rows M of U
        # rotated, zero-extended data: [Uᵀr, Uᵀ(Q with rows M zeroed)]
        Z = np.empty((c, n, 1 + p))
        Z[:, :, 0] = (U.T @ r0).T
        Z[:, :, 1:] = Qrot[None] - np.einsum("ckn,ckp->cnp", UM, QM)
        self.Z, self.UM = Z, UM
        self.m = c

    def _parts(self, h, idx=None):
        """Gram matrix of [r, Q] in the V_oo⁻¹ metric, and log|V_oo|, for columns ``idx``."""
        Z = self.Z if idx is None else self.Z[idx]
        UM = self.UM if idx is None else self.UM[idx]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a = h[:, None] * self.lam[None, :] + (1.0 - h)[:, None]   # (c, n)
            s = 1.0 / a
            logdet = np.log(a).sum(axis=1)
            Zs = Z * s[:, :, None]
            G = np.matmul(Z.transpose(0, 2, 1), Zs)            # (c, 1+p, 1+p)
            if self.k:
                W = UM * s[:, None, :]                          # (c, k, n)
                Pmm = np.matmul(W, UM.transpose(0, 2, 1))       # (c, k, k)
                B = np.matmul(UM, Zs)                           # (c, k, 1+p)
                L = np.linalg.cholesky(Pmm)
                T = np.linalg.solve(L, B)                       # L⁻¹B
                G = G - np.matmul(T.transpose(0, 2, 1), T)
                logdet = logdet + 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        return G, logdet

    def _solution(self, h, idx=None):
        G, logdet_v = self._parts(h, idx)
        n_o, p = self.n - self.k, self.p
        XSX, XSy, ySy = G[:, 1:, 1:], G[:, 1:, 0], G[:, 0, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            sign, logdet_xsx = np.linalg.slogdet(XSX)
            bq = np.linalg.solve(XSX, XSy[:, :, None])[:, :, 0]   # (c, p)
            rss = ySy - np.einsum("cp,cp->c", XSy, bq)
            sigmasq = rss / (n_o - p)
            ll = -0.5 * (logdet_v + n_o * np.log(rss))
            if self.reml:
                lq = self.logdet_qtq if idx is None else self.logdet_qtq[idx]
                ll = ll + 0.5 * (p * (LOG_2PI + np.log(sigmasq)) + lq - logdet_xsx)
        ll = np.where((h * self.lam_min + (1.0 - h) <= 0.0) | ~np.isfinite(ll) | (sign <= 0), -np.inf, ll)
        return ll, bq, rss, sigmasq, logdet_xsx

    def __call__(self, u, idx):
        return self._solution(u, idx)[0]

    def shared(self, h):
        return np.stack([self._solution(np.full(self.m, hv))[0] for hv in np.asarray(h, float)])

    def solution(self, h):
        ll, bq, rss, sigmasq, logdet_xsx = self._solution(h)
        beta = np.linalg.solve(self.R, bq.T + self.gamma)
        return Solution(ll, beta, rss, sigmasq, logdet_xsx + self.logdet_r2)

    def second_derivative(self, h, cols):
        """Central differences of ℓ at steps δ and δ/2, Richardson-extrapolated (error O(δ⁴)).

        ``δ = min(2e-3, hsq/2, (1 − hsq)/2)`` keeps every point inside [0, 1].
        """
        step = np.minimum(2e-3, 0.5 * np.minimum(h, 1.0 - h))
        l0 = self._solution(h, cols)[0]

        def central(dl):
            lp = self._solution(h + dl, cols)[0]
            lm = self._solution(h - dl, cols)[0]
            return (lp - 2.0 * l0 + lm) / (dl * dl)

        return (4.0 * central(0.5 * step) - central(step)) / 3.0


def _groups(miss, chunk_elements, n, p):
    """Columns grouped by their number of missing values, then chunked."""
    k_all = miss.sum(axis=0)
    for k in np.unique(k_all):
        cols = np.flatnonzero(k_all == k)
        size = max(1, int(chunk_elements // ((int(k) + p + 1) * n)))
        for s in range(0, cols.size, size):
            yield int(k), cols[s:s + size]


def fit_lmm_masked(decomposition, y, X=None, reml=True, check_boundary=True, tol=1e-4,
                   compute_se=False, compute_ci=True, *, x_names=None,
                   chunk_elements=DEFAULT_CHUNK_ELEMENTS) -> FitResult:
    """Fit phenotypes with missing values exactly, reusing one decomposition of K.

    Parameters
    ----------
    decomposition : EigenDecomposition
        Of the kinship of all ``n`` individuals (:func:`lmm.eigen_decompose`).
    y : array_like, shape (n,) or (n, m)
        Phenotypes, **not** rotated, rows in the order of K; NaN marks a
        missing value. Column ``j`` is fitted on its observed individuals.
    X : array_like, shape (n, p), optional
        Covariates, not rotated, complete; ``None`` means an intercept.
    reml, check_boundary, tol, compute_se, compute_ci
        As in :func:`lmm.fit_lmm`.
    chunk_elements : int
        Bound on the size of the arrays of one chunk of columns.

    Returns
    -------
    FitResult
        As :func:`lmm.fit_lmm`, with ``n`` an array (m,) of observed counts.

    Notes
    -----
    Columns with no missing value are rotated and fitted by :func:`lmm.fit_lmm`;
    the others, grouped by their number ``k`` of missing values, with the Schur
    complement of the module notes. ``hsq_se`` of those comes from central
    differences of ``ℓ`` (Richardson-extrapolated), not the analytic derivative.
    """
    tol = check_tol(tol)
    y, X, miss, one_y = _check_masked(decomposition, y, X, x_names)
    n, m = y.shape
    p = X.shape[1]
    Q, R = np.linalg.qr(X)
    kve_t = decomposition.kve_t
    U = np.ascontiguousarray(kve_t.T)
    Qrot = kve_t @ Q
    parts, order, n_obs = [], [], []
    for k, cols in _groups(miss, chunk_elements, n, p):
        if k == 0:
            fit = fit_lmm(decomposition.kva, kve_t @ y[:, cols], Qrot, reml, check_boundary, tol,
                          compute_se, compute_ci)
            out = dict(hsq=fit.hsq, beta=np.linalg.solve(R, fit.beta), sigmasq=fit.sigmasq,
                       loglik=fit.loglik, hsq_se=fit.hsq_se, ci_lo=fit.hsq_ci_lower,
                       ci_hi=fit.hsq_ci_upper, converged=fit.converged, n_eval=fit.n_eval,
                       boundary=np.select([fit.boundary == "lower", fit.boundary == "upper"],
                                          [-1, 1], 0).astype(np.int8))
        else:
            M = np.sort(np.nonzero(miss[:, cols].T)[1].reshape(cols.size, k), axis=1)
            try:
                ev = _MaskedEvaluator(U, decomposition.kva, Qrot, Q, R, y[:, cols], M, reml)
            except InputError as exc:
                raise InputError(_renumber(str(exc), cols)) from None
            out = search(ev, check_boundary, tol, compute_se, compute_ci)
        parts.append(out)
        order.append(cols)
        n_obs.append(np.full(cols.size, n - k))
    order = np.concatenate(order)
    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)
    merged = {key: np.concatenate([pt[key] for pt in parts], axis=-1)[..., inv] for key in parts[0]}
    res = _assemble(merged, np.concatenate(n_obs)[inv], p, reml)
    return res.column(0) if one_y else res


def _renumber(msg, cols):
    """Error messages of a chunk name chunk-local columns: translate to the caller's."""
    def sub(mt):
        return f"column {int(cols[int(mt.group(1))])}"

    return re.sub(r"column (\d+)", sub, msg)


def calc_ll_masked(hsq, decomposition, y, X=None, reml=True, *, x_names=None) -> LogLik:
    """Profile log-likelihood of phenotypes with missing values (see :func:`fit_lmm_masked`).

    Parameters
    ----------
    hsq : float or array_like (g,)
    decomposition : EigenDecomposition
    y : array_like (n,) or (n, m), NaN = missing, not rotated
    X : array_like (n, p), optional, not rotated

    Returns
    -------
    LogLik
        ``loglik`` of shape (g, m), (g,), (m,) or scalar as for :func:`lmm.calc_ll`
        (``beta`` and ``sigmasq`` at each ``hsq`` likewise).
    """
    h = np.atleast_1d(as_float_array(hsq, "hsq"))
    if h.ndim != 1 or not np.all((h >= 0) & (h <= 1)):
        raise InputError("hsq must be a scalar or 1-D with values in [0, 1]")
    y2, X, miss, one_y = _check_masked(decomposition, y, X, x_names)
    n, m = y2.shape
    p = X.shape[1]
    Q, R = np.linalg.qr(X)
    U = np.ascontiguousarray(decomposition.kve_t.T)
    Qrot = decomposition.kve_t @ Q
    ll = np.empty((h.size, m))
    beta = np.empty((p, h.size, m))
    sigmasq = np.empty((h.size, m))
    rss = np.empty((h.size, m))
    # columns grouped by their number of missing values: each grid point is one evaluation
    # of a whole chunk
    for k, cols in _groups(miss, DEFAULT_CHUNK_ELEMENTS, n, p):
        M = np.sort(np.nonzero(miss[:, cols].T)[1].reshape(cols.size, k), axis=1)
        try:
            ev = _MaskedEvaluator(U, decomposition.kva, Qrot, Q, R, y2[:, cols], M, reml)
        except InputError as exc:
            raise InputError(_renumber(str(exc), cols)) from None
        for g, hv in enumerate(h):
            sol = ev.solution(np.full(cols.size, hv))
            ll[g, cols], sigmasq[g, cols], rss[g, cols] = sol.loglik, sol.sigmasq, sol.rss
            beta[:, g, cols] = sol.beta

    scalar = np.ndim(hsq) == 0
    return LogLik(*(squeeze_grid(a, scalar, one_y) for a in (ll, beta, sigmasq, rss)))

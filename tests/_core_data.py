"""Shared data and independent oracles for the tests of the numerical core (tests/test_core_*.py).

Nothing here uses the eigen-rotation of :mod:`lmm`: the oracles work on the
original (unrotated) data with dense covariance matrices, so they check the
package rather than restate it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize

RECLA = Path(__file__).resolve().parent.parent / "data" / "recla"
PHENO1 = "OF_distance_first4"

# R/lmmlite 0.2-2 on recla, phenotype 1, unscaled, all 261 mice, X = intercept + sex (issue 2).
REF_ML_SOLN_05 = dict(
    beta=np.array([1413.98690713607, -28.1793101783314]),
    sigmasq=276158.504472848,
    rss=71525052.6584677,
    logdet_xsx=6.96036161615051,
)
REF_CALC_LL_05 = {False: -2349.20302794088, True: -2333.44582306843}
REF_FIT = {
    False: dict(hsq=0.720556143620898, beta=np.array([1417.33690798302, -23.9850529710706]),
                sigmasq=291566.300541588, sigmasq_g=210089.889214325, sigmasq_e=81476.4113477076,
                loglik=-2348.79972912762),
    True: dict(hsq=0.764284086070972, beta=np.array([1417.98330225743, -23.242180295058]),
               sigmasq=295340.52598977, sigmasq_g=225724.064011417, sigmasq_e=69616.4619846284,
               loglik=-2332.84011782658),
}


@functools.lru_cache(maxsize=None)
def recla():
    """``(K, pheno, covar)`` as DataFrames aligned by ``id`` (as strings) in the order of K."""
    K = pd.read_csv(RECLA / "kinship.csv", dtype={"id": str}).set_index("id")
    K.columns = K.columns.astype(str)
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype={"id": str}).set_index("id")
    covar = pd.read_csv(RECLA / "covar.csv", dtype={"id": str}).set_index("id")
    ids = K.index
    assert list(K.columns) == list(ids), "kinship header and id column disagree"
    assert set(pheno.index) == set(ids) and set(covar.index) == set(ids)
    return K.loc[ids, ids], pheno.loc[ids], covar.loc[ids]


@functools.lru_cache(maxsize=None)
def recla_decomposition():
    import lmm

    K, _, _ = recla()
    return lmm.eigen_decompose(K.to_numpy())


# ---------------------------------------------------------------------------------------------
# random data


def random_kinship(rng, n, *, n_zero=0, ridge=1e-2):
    """A random PSD kinship matrix.

    ``n_zero == 0``: ``G Gᵀ / ncol + ridge·I`` (full rank). ``n_zero > 0``:
    ``U diag(λ) Uᵀ`` with exactly ``n_zero`` eigenvalues equal to zero (the
    decomposition will return them as round-off values near 0).
    """
    if n_zero == 0:
        G = rng.normal(size=(n, 2 * n))
        return G @ G.T / (2 * n) + ridge * np.eye(n)
    U, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = np.concatenate([np.zeros(n_zero), rng.gamma(1.0, 1.0, size=n - n_zero)])
    K = (U * lam) @ U.T
    return 0.5 * (K + K.T)


def random_X(rng, n, p):
    """Intercept, then a 0/1 column (when p ≥ 2), then normal columns."""
    cols = [np.ones(n)]
    if p >= 2:
        cols.append((rng.random(n) < 0.5).astype(float))
        cols[-1][:2] = [0.0, 1.0]
    while len(cols) < p:
        cols.append(rng.normal(size=n))
    return np.column_stack(cols)


def simulate_y(rng, K, X, hsq, m=None, sigmasq=2.0):
    """Draw ``y`` from the model, shape (n,) or (n, m)."""
    n, p = X.shape
    V = sigmasq * (hsq * K + (1.0 - hsq) * np.eye(n))
    w, U = np.linalg.eigh(V)
    L = U * np.sqrt(np.clip(w, 0.0, None))
    size = (n,) if m is None else (n, m)
    z = rng.normal(size=size)
    beta = rng.normal(size=(p,) if m is None else (p, m)) * 3.0
    return X @ beta + L @ z


# ---------------------------------------------------------------------------------------------
# dense oracle (no rotation)


def ml_constant(n):
    """``calc_ll(reml=False) − exact Gaussian log-likelihood at (β̂, σ̂² = rss/n)``."""
    return 0.5 * n * (1.0 + np.log(2.0 * np.pi / n))


def reml_constant(n, p):
    """``calc_ll(reml=True) − exact restricted log-likelihood at σ̂² = rss/(n − p)``.

    Derivation: with ``V = σ²V₀`` and ``σ² = rss/(n−p)``, the restricted
    log-likelihood ``−½(log|V| + log|XᵀV⁻¹X| − log|XᵀX| + rᵀV⁻¹r + (n−p)log 2π)``
    equals ``−½((n−p)log σ² + log|V₀| + log|XᵀV₀⁻¹X| − log|XᵀX| + (n−p) + (n−p)log 2π)``;
    subtracting it from lmmlite's ``ℓ_REML`` leaves ``½((n−p) + n·log(2π/(n−p)))``,
    i.e. ``((n−p)/2)(1 + log(2π/(n−p))) + (p/2)·log(2π/(n−p))``.
    """
    return 0.5 * ((n - p) + n * np.log(2.0 * np.pi / (n - p)))


def gls(K, y, X, hsq):
    """Dense GLS at ``hsq``: ``V₀``, ``β̂``, residual ``r``, ``rss = rᵀV₀⁻¹r``, Cholesky of V₀."""
    n = K.shape[0]
    V0 = hsq * K + (1.0 - hsq) * np.eye(n)
    c = scipy.linalg.cho_factor(V0, lower=True)
    ViX = scipy.linalg.cho_solve(c, X)
    Viy = scipy.linalg.cho_solve(c, y)
    beta = np.linalg.solve(X.T @ ViX, X.T @ Viy)
    r = y - X @ beta
    rss = float(r @ scipy.linalg.cho_solve(c, r))
    return V0, beta, r, rss, c


def dense_loglik(K, y, X, hsq, reml):
    """Exact (restricted) Gaussian log-likelihood on the original data, by Cholesky.

    ML: ``log N(y; Xβ̂, σ̂²V₀)`` with ``σ̂² = rss/n``.
    REML: ``−½(log|V| + log|XᵀV⁻¹X| − log|XᵀX| + rᵀV⁻¹r + (n−p) log 2π)``,
    ``V = σ̂²V₀``, ``σ̂² = rss/(n−p)``. ``-inf`` where ``V₀`` is singular.
    """
    n, p = X.shape
    try:
        V0, beta, r, rss, c = gls(K, y, X, hsq)
    except np.linalg.LinAlgError:
        return -np.inf
    logdet_v0 = 2.0 * np.sum(np.log(np.diag(c[0])))
    if not reml:
        s2 = rss / n
        return -0.5 * (n * np.log(2 * np.pi) + n * np.log(s2) + logdet_v0 + rss / s2)
    s2 = rss / (n - p)
    XViX = X.T @ scipy.linalg.cho_solve(c, X) / s2
    return -0.5 * (n * np.log(s2) + logdet_v0 + np.linalg.slogdet(XViX)[1]
                   - np.linalg.slogdet(X.T @ X)[1] + rss / s2 + (n - p) * np.log(2 * np.pi))


def dense_optimum(K, y, X, reml, n_grid=41, xatol=1e-10):
    """Maximise :func:`dense_loglik` over [0, 1]: a grid, then a bounded scalar search
    around the best grid point, then the two ends exactly. Returns ``(hsq, loglik)``."""
    grid = np.linspace(0.0, 1.0, n_grid)
    vals = np.array([dense_loglik(K, y, X, h, reml) for h in grid])
    k = int(np.argmax(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, n_grid - 1)]
    res = scipy.optimize.minimize_scalar(lambda h: -dense_loglik(K, y, X, h, reml),
                                         bounds=(lo, hi), method="bounded",
                                         options=dict(xatol=xatol, maxiter=500))
    cands = [(float(res.x), -float(res.fun)), (0.0, vals[0]), (1.0, vals[-1])]
    return max(cands, key=lambda t: t[1])

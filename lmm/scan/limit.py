"""Scans split by phenotype: those at ``hsq = 1`` apart from the others.

:func:`lmm.scan.scan_rotated` hands its phenotypes at ``hsq = 1`` to :func:`scan_at_upper_limit`
when the kinship has zero eigenvalues (the constrained limit of the scan as ``hsq → 1``), and to
the kernel's own path when the others are scanned on error contrasts (:func:`scan_split`,
:mod:`lmm.scan.contrasts`); :func:`join_parts` puts the parts' results back together.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .kernel import ScanResult, df_dtype, scan_rotated

__all__ = ["scan_at_upper_limit", "scan_split", "join_parts"]


def scan_at_upper_limit(kva, y, X, hsq, G, d, zero, at_one, H=None, used=None, contrasts=None,
                        **options) -> ScanResult:
    """:func:`scan_rotated` where some phenotypes have ``hsq = 1`` and the kinship zero eigenvalues.

    At ``hsq = 1`` the rotated observations ``Z`` of the zero eigenvalues have zero variance: both
    fits must reproduce them exactly, ``y_Z = X_Z β + G_Z α``. When ``X_Z`` has full row rank
    (the covariates explain those directions, as the intercept does for a kinship of centred
    genotypes), ``β = X_Z⁺(y_Z − G_Z α) + N γ`` with ``N`` a basis of the null space of ``X_Z``,
    and the constrained fits are the unconstrained weighted fits of the other rows ``R``:
    ``y_R − X_R X_Z⁺ y_Z`` on ``X_R N`` and ``G_R − X_R X_Z⁺ G_Z``. This is the limit of the
    scan as ``hsq → 1``; the LOD keeps all ``n`` observations, ``(n/2)·log10(RSS0/RSS1)``.
    Phenotype-specific covariates ``H`` enter the constraint as ``G`` does (``H_R − X_R X_Z⁺ H_Z``)
    and stay phenotype-specific.
    """
    from scipy import linalg

    n, m = y.shape
    parts = []
    if (~at_one).any():
        extra = {} if used is None else {"extra": H, "extra_used": used[:, ~at_one]}
        parts.append((~at_one, scan_rotated(kva, y[:, ~at_one], X, hsq[~at_one], G, d, **extra, **options,
                                            contrasts=contrasts), 1.0))
    r = ~zero
    Xz = X[zero]
    if np.linalg.matrix_rank(Xz) < zero.sum():
        raise InputError(
            f"hsq is 1 for {int(at_one.sum())} phenotype(s) and the kinship has {int(zero.sum())} zero "
            "eigenvalue(s) whose directions the covariates do not span: the likelihood has no maximum "
            "there (see the heritability fit's status)")
    P = np.linalg.pinv(Xz)
    N = linalg.null_space(Xz)
    y1 = y[r][:, at_one] - X[r] @ (P @ y[zero][:, at_one])
    G1 = G[r] - X[r] @ (P @ G[zero])
    X1 = X[r] @ N if N.shape[1] else np.zeros((int(r.sum()), 0))
    extra = {}
    if used is not None:
        extra = {"extra": H[r] - X[r] @ (P @ H[zero]), "extra_used": used[:, at_one]}
    if X1.shape[1] == 0:  # no covariate left: an all-zero column stands for none (nothing to fit)
        res = scan_no_covariates(kva[r], y1, G1, d, **extra, **options)
    else:
        res = scan_rotated(kva[r], y1, X1, np.ones(int(at_one.sum())), G1, d, **extra, **options)
    parts.append((at_one, res, n / r.sum()))
    return join_parts(parts, n, m, G.shape[1] // d, d, used, options)


def scan_split(kva, y, X, hsq, G, d, at_one, H, used, progress, **options) -> ScanResult:
    """:func:`scan_rotated` on error contrasts for the phenotypes with ``hsq < 1`` and on the
    kernel's own path for those at ``hsq = 1`` (:mod:`lmm.scan.contrasts`, "When").

    Parameters
    ----------
    kva, y, X, hsq, G, d, H, used, options
        As for :func:`scan_rotated` (``H, used``: its ``extra, extra_used``, or None).
    at_one : ndarray of bool, shape (m,)
        ``hsq >= 1``, some but not all.
    progress : callable (int) -> None, optional
        Passed to the scan of the phenotypes below 1, which runs second: its calls count markers
        done for all ``m``.

    Returns
    -------
    ScanResult
        Of all ``m`` phenotypes, in their order (:func:`join_parts`).
    """
    n, m = y.shape
    parts = []
    for cols, fast in ((at_one, False), (~at_one, True)):
        extra = {} if used is None else {"extra": H, "extra_used": used[:, cols]}
        res = scan_rotated(kva, y[:, cols], X, hsq[cols], G, d, **extra, **options, contrasts=fast,
                           progress=progress if fast else None)
        parts.append((cols, res, 1.0))
    return join_parts(parts, n, m, G.shape[1] // d, d, used, options)


def join_parts(parts, n, m, q, d, used, options) -> ScanResult:
    """One :class:`ScanResult` of ``m`` phenotypes from the results of parts of them.

    Parameters
    ----------
    parts : sequence of (ndarray of bool (m,), ScanResult, float)
        Each part's phenotypes, its result and the factor of its LODs; together they cover ``m``.
    n, m, q, d : int
        Observations, phenotypes, markers, design columns per marker.
    used : ndarray of bool (r, m), or None
        :func:`scan_rotated`'s ``extra_used``: ``df`` is then (q, m); otherwise (q,), the
        smallest of the parts' (they agree: the collinearity rule does not depend on ``hsq``).
    options : mapping
        With ``reduce`` and ``lod_dtype`` as given to :func:`scan_rotated`.

    Returns
    -------
    ScanResult
    """
    lod_t = None if options["reduce"] == "max" else np.empty((m, q), dtype=options["lod_dtype"])
    df_t = None if used is None else np.empty((m, q), dtype=df_dtype(d))
    df = None
    max_lod = np.empty(m)
    argmax = np.zeros(m, dtype=np.int64)
    rss0 = np.empty(m)
    for cols, res, scale in parts:
        if lod_t is not None:
            lod_t[cols] = res.lod.T if scale == 1.0 else res.lod.T * scale
        max_lod[cols] = res.max_lod * scale
        argmax[cols] = res.argmax
        rss0[cols] = res.rss0
        if used is not None:
            df_t[cols] = res.df.T if res.df.ndim == 2 else res.df[None, :]
        else:
            df = res.df if df is None else np.minimum(df, res.df)
    return ScanResult(lod=None if lod_t is None else lod_t.T, df=df if used is None else df_t.T,
                      rss0=rss0, n=n, max_lod=max_lod, argmax=argmax)


def scan_no_covariates(kva, y, G, d, extra=None, extra_used=None, **options) -> ScanResult:
    """The scan with no covariate: the weighted fits of y on each marker's columns alone."""
    # An orthonormal covariate orthogonal to every column adds nothing to either fit: append one
    # row where it is 1 and everything else 0, with a unit eigenvalue (a finite weight).
    n, m = y.shape
    kva1 = np.append(kva, 1.0)
    y1 = np.vstack([y, np.zeros((1, m))])
    G1 = np.vstack([G, np.zeros((1, G.shape[1]))])
    X1 = np.zeros((n + 1, 1))
    X1[-1, 0] = 1.0
    if extra is not None:
        extra = np.vstack([extra, np.zeros((1, extra.shape[1]))])
    res = scan_rotated(kva1, y1, X1, np.ones(m), G1, d, extra=extra, extra_used=extra_used, **options)
    scale = n / (n + 1)  # the extra row is not an observation
    return ScanResult(lod=None if res.lod is None else res.lod * scale, df=res.df, rss0=res.rss0, n=n,
                      max_lod=res.max_lod * scale, argmax=res.argmax)

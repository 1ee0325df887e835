r"""The scan on error contrasts: the covariates projected out before the weighted products.

:func:`lmm.scan.scan_rotated` fits, for each phenotype ``j`` at fixed ``hsq_j``, the weighted
least squares of the rotated data with the covariates ``X`` (n, p) in both models. Its matrix
products then cost ``2nqm·(d(d+1)/2 + d + d·p)`` flops: the ``d·p`` covariate crosses
``⟨g_a, v_l⟩_W`` are the part that grows with the covariates (55% of the flops at ``d = 7``,
``p = 6``, the DO islet scale of ``benchmarks/README.md``).

Identity
--------
Let ``C`` (n, n − p) be an orthonormal basis of the complement of ``span(X̃)`` in the rotated
space (``CᵀX̃ = 0``, from a complete QR of ``X̃``), ``D = diag(hsq·λ + 1 − hsq)`` the covariance of
the rotated data (up to ``σ²``). The generalised least-squares residual sum of squares with ``β``
profiled out is a quadratic form of the contrasts ``Cᵀỹ`` (the REML identity
``D⁻¹ − D⁻¹X̃(X̃ᵀD⁻¹X̃)⁻¹X̃ᵀD⁻¹ = C(CᵀDC)⁻¹Cᵀ``), and
``CᵀDC = hsq·CᵀΛC + (1 − hsq)·I``. With ``CᵀΛC = V Λ* Vᵀ`` and ``R = VᵀCᵀ`` ((n − p) × n)::

    RSS(y; X, G) = RSS(Ry; none, RG)   with weights 1 / (hsq·λ*_i + 1 − hsq)

for the null (``G`` empty) and for every marker, so ``RSS0``, ``RSS1`` and
``LOD = (n/2)·log10(RSS0/RSS1)`` (still with the ``n`` observations) are those of a scan
**without covariates** on the ``n − p`` rows of ``R``: ``2(n − p)qm·(d(d+1)/2 + d)`` flops.
Phenotype-specific covariates (``extra``, the indicators of missing values) become ``R·H`` and
stay phenotype-specific (their part in ``span(X̃)`` is removed with ``X̃``, as the kernel's
whitening does).

The collinearity rule of :mod:`lmm.scan.kernel` compares a column's part outside the covariates
with its own squared norm: ``‖R g‖² = ‖(I − QQᵀ)g‖²`` is that part, and the squared norms of the
columns before ``R`` are passed along (:func:`transform`), so the rule is unchanged.

When
----
The basis costs a complete QR, ``CᵀΛC`` and its eigen-decomposition (about ``12 n³`` flops), and
``R`` is applied to ``y``, ``G`` and ``H`` (``2n(n − p)(m + dq + r)``); it saves ``2nqm·d·p``.
:func:`worthwhile` takes it when the saving is at least that cost and ``p ≥ 2`` (with one
covariate the kernel's ``p`` would go from 1 to 0 for a whole decomposition's cost). Measured at
one-df markers (n = 1,000, p = 2, 1 thread, best of 3 CPU seconds, 2026-12-07), contrasts / plain:
3.9 at a saving of 0.12 of the cost (m = 200, q = 2,500), 1.36 at 0.53, 1.26 at 0.44, 0.63 at
1.85 (m = 5,000, q = 2,500): the break-even lies between 0.53 and 1.85, and a rule at twice the
cost (before) left that last case, a LOCO chromosome of a 5,000-trait study, on the plain path.
Phenotypes at ``hsq = 1`` are never scanned on contrasts: their weights ``1/λ*`` are those of
the contrasts' eigenvalues, which round-off leaves near but not at zero where the kinship is
singular, and not those of :func:`lmm.scan.kernel`'s exact limit. :func:`lmm.scan.scan_rotated`
scans them on its own path and the others on contrasts, and counts only the others in the rule.

Measured (``scan_rotated``, n = 500, m = 2,000, 412 markers × 7 columns, 1 thread, CPU seconds,
best of 3): p = 6 2.11 → 0.99 s, p = 2 1.30 → 1.00 s (``benchmarks/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import zero_eigenvalues

__all__ = ["Contrasts", "worthwhile", "transform"]


@dataclass(frozen=True, eq=False)
class Contrasts:
    """The scan's arrays in contrast space (:func:`transform`).

    Attributes
    ----------
    kva : ndarray, shape (n − p,)
        Eigenvalues ``λ*`` of ``CᵀΛC`` (those below the zero rule of :mod:`lmm.checks` set to 0).
    y : ndarray, shape (n − p, m)
    G : ndarray, shape (n − p, q·d)
    H : ndarray, shape (n − p, r), or None
    norms : ndarray, shape (q·d,)
        Squared norms of the columns of ``G`` before the transform (marker-major).
    n : int
        Observations ``n`` (the LOD's factor ``n/2``).
    """

    kva: np.ndarray
    y: np.ndarray
    G: np.ndarray
    H: np.ndarray | None
    norms: np.ndarray
    n: int


def worthwhile(n: int, p: int, m: int, q: int, d: int, r: int) -> bool:
    """Whether :func:`transform` pays for a scan of ``m`` phenotypes (those with ``hsq < 1``).

    Parameters
    ----------
    n, p : int
        Rows and covariates of the rotated data.
    m, q, d, r : int
        Phenotypes, markers, design columns per marker, phenotype-specific covariates.

    Returns
    -------
    bool
        ``p ≥ 2`` and ``2nqm·d·p ≥ 12n³ + 2n(n − p)(m + dq + r)`` (module notes, "When").
    """
    if p < 2:
        return False
    saved = 2.0 * n * q * m * d * p
    cost = 12.0 * n ** 3 + 2.0 * n * (n - p) * (m + d * q + r)
    return saved >= cost


def transform(kva, y, X, G, H=None) -> Contrasts:
    """The rotated data in contrast space: ``R = VᵀCᵀ`` applied to ``y``, ``G`` and ``H``.

    Parameters
    ----------
    kva : ndarray, shape (n,)
        Eigenvalues ``λ`` of the kinship.
    y : ndarray, shape (n, m)
        Rotated phenotypes.
    X : ndarray, shape (n, p)
        Rotated covariates, full column rank, ``p < n``.
    G : ndarray, shape (n, q·d)
        Rotated marker designs.
    H : ndarray, shape (n, r), optional
        Rotated phenotype-specific covariates.

    Returns
    -------
    Contrasts

    Notes
    -----
    ``C``: the last ``n − p`` columns of the complete QR of ``X``; ``CᵀΛC = V Λ* Vᵀ``
    (:func:`numpy.linalg.eigh`; round-off below zero and the rule of
    :func:`lmm.checks.zero_eigenvalues` give exact zeros).
    """
    n, p = X.shape
    Qf, _ = np.linalg.qr(X, mode="complete")
    C = Qf[:, p:]
    lam, V = np.linalg.eigh((C.T * kva[None, :]) @ C)
    lam = np.maximum(lam, 0.0)
    lam[zero_eigenvalues(lam)] = 0.0
    R = V.T @ C.T
    return Contrasts(lam, R @ y, R @ G, None if H is None else R @ H, np.einsum("ik,ik->k", G, G), n)

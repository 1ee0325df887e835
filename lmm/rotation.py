"""Eigen-decomposition of the kinship matrix and rotation of phenotypes and covariates.

Notes
-----
With ``K = U diag(λ) Uᵀ`` the covariance of the model is
``V = σ² (hsq·K + (1 − hsq)·I) = U diag(σ² (hsq·λ + 1 − hsq)) Uᵀ``. Rotating the
data by ``Uᵀ`` (``ỹ = Uᵀ y``, ``X̃ = Uᵀ X``) makes the covariance diagonal, so
generalised least squares becomes weighted least squares with weights
``1 / (hsq·λᵢ + 1 − hsq)``. One decomposition, ``O(n³)``, serves every phenotype
observed on the same individuals; each rotation costs ``O(n² m)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import (SYMMETRY_RTOL, as_float_array, check_finite, check_X, check_y,
                      psd_violation, zero_eigenvalues)
from .errors import InputError

__all__ = ["EigenDecomposition", "Rotation", "eigen_decompose", "eigen_rotation"]


@dataclass(frozen=True, eq=False)
class EigenDecomposition:
    """``K = kve_t.T @ diag(kva) @ kve_t``.

    Attributes
    ----------
    kva : ndarray, shape (n,)
        Eigenvalues in ascending order, tiny negative ones set to 0.
    kve_t : ndarray, shape (n, n)
        Transposed eigenvectors: row ``i`` is the eigenvector of ``kva[i]``.
    n_clipped : int
        How many eigenvalues were set to exactly 0: all those below
        ``n·ε·λ_max`` (round-off negatives and round-off positives alike;
        :func:`lmm.checks.zero_eigenvalues`). K is numerically singular when
        it is positive.
    min_eigenvalue : float
        The smallest eigenvalue before clipping.
    """

    kva: np.ndarray
    kve_t: np.ndarray
    n_clipped: int = 0
    min_eigenvalue: float = 0.0

    @property
    def n(self) -> int:
        """Number of individuals."""
        return int(self.kva.shape[0])

    def rotate(self, y, X=None) -> "Rotation":
        """Rotate phenotypes and covariates with this decomposition (no new decomposition).

        Parameters
        ----------
        y : array_like, shape (n,) or (n, m)
            Phenotypes, rows in the order of the individuals of ``K``.
        X : array_like, shape (n, p), optional
            Covariates; ``None`` means an intercept column (the Rotation then
        carries the rotated intercept ``kve_t @ 1`` as its ``X``).

        Returns
        -------
        Rotation
            ``kve_t @ y`` and ``kve_t @ X`` with this decomposition's ``kva``.
        """
        y = check_y(y)
        if y.shape[0] != self.n:
            raise InputError(f"y has {y.shape[0]} rows but K is {self.n} x {self.n}: they must match")
        X = check_X(X, self.n)
        return Rotation(self.kva, self.kve_t, self.kve_t @ y, self.kve_t @ X)


@dataclass(frozen=True, eq=False)
class Rotation:
    """Rotated data, as returned by :func:`eigen_rotation` (lmmlite's ``eigen_rotation``).

    Attributes
    ----------
    kva : ndarray, shape (n,)
        Eigenvalues of K.
    kve_t : ndarray, shape (n, n)
        Transposed eigenvectors of K.
    y : ndarray, shape (n,) or (n, m)
        Rotated phenotypes ``kve_t @ y``.
    X : ndarray, shape (n, p)
        Rotated covariates ``kve_t @ X`` (the rotated intercept when no X was
        given). Pass it to :func:`lmm.fit_lmm`, :func:`lmm.calc_ll` and
        :func:`lmm.get_ml_soln`, which refuse ``X=None``.
    """

    kva: np.ndarray
    kve_t: np.ndarray
    y: np.ndarray
    X: np.ndarray

    @property
    def decomposition(self) -> EigenDecomposition:
        """The decomposition, to rotate other phenotypes on the same individuals."""
        return EigenDecomposition(self.kva, self.kve_t)

    def rotate(self, y, X=None) -> "Rotation":
        """Rotate new ``y`` (and ``X``) with the same decomposition; see :meth:`EigenDecomposition.rotate`."""
        return self.decomposition.rotate(y, X)


def check_kinship(K) -> np.ndarray:
    """Return K as a float array after checking it is square, finite and symmetric."""
    K = as_float_array(K, "K")
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise InputError(f"K must be a square matrix, got shape {K.shape}")
    if K.shape[0] == 0:
        raise InputError("K is empty")
    check_finite(K, "K")
    asym = float(np.max(np.abs(K - K.T)))
    scale = max(float(np.max(np.abs(K))), np.finfo(float).tiny)
    if asym > SYMMETRY_RTOL * scale:
        i, j = np.unravel_index(int(np.argmax(np.abs(K - K.T))), K.shape)
        raise InputError(
            f"K is not symmetric: |K[{i},{j}] - K[{j},{i}]| = {asym:.3g} "
            f"({asym / scale:.2g} of max |K|, tolerance {SYMMETRY_RTOL:g})"
        )
    return K


def eigen_decompose(K) -> EigenDecomposition:
    """Eigen-decompose a kinship matrix.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Symmetric positive semi-definite kinship matrix.

    Returns
    -------
    EigenDecomposition

    Raises
    ------
    InputError
        K not square, not finite, not symmetric (beyond ``SYMMETRY_RTOL = 1e-8``
        of max |K|), or with an eigenvalue below ``-PSD_RTOL = -1e-6`` times the
        largest (not positive semi-definite beyond round-off); the rules of
        :mod:`lmm.checks`.

    Notes
    -----
    Uses LAPACK's symmetric solver (``numpy.linalg.eigh``) on ``(K + Kᵀ)/2``.
    Eigenvector signs and the order of equal eigenvalues are arbitrary; no
    result of this package depends on them.
    """
    return _decompose(check_kinship(K))


def _decompose(K: np.ndarray) -> EigenDecomposition:
    """:func:`eigen_decompose` of a K already checked by :func:`check_kinship`."""
    kva, kve = np.linalg.eigh((K + K.T) * 0.5)
    lam_max = max(float(np.max(np.abs(kva))), np.finfo(float).tiny)
    lam_min = float(kva.min())
    negative = psd_violation(kva)
    if negative.any():
        n_neg = int(negative.sum())
        raise InputError(
            f"K is not positive semi-definite: {n_neg} eigenvalue(s) are materially "
            f"negative, the smallest {lam_min:.4g} (largest eigenvalue {lam_max:.4g}); "
            "use a kinship estimator that gives a positive semi-definite matrix"
        )
    # eigenvalues below round-off (n·ε·λ_max) are zero: K is singular there, and a
    # value like 1e-16 would stand for a weight of 1e16 at hsq = 1
    tiny = zero_eigenvalues(kva)
    n_clipped = int(tiny.sum())
    kva = np.where(tiny, 0.0, kva)
    return EigenDecomposition(kva, np.ascontiguousarray(kve.T), n_clipped, lam_min)


def eigen_rotation(K, y, X=None) -> Rotation:
    """Decompose ``K`` and rotate ``y`` and ``X`` (lmmlite's ``eigen_rotation``).

    Parameters
    ----------
    K : array_like, shape (n, n)
        Kinship matrix.
    y : array_like, shape (n,) or (n, m)
        Phenotypes (complete: no missing values).
    X : array_like, shape (n, p), optional
        Covariates; ``None`` means an intercept column.

    Returns
    -------
    Rotation
        ``kva`` (n,), ``kve_t`` (n, n), rotated ``y`` and ``X``.

    Examples
    --------
    >>> import numpy as np, lmm
    >>> K = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> rot = lmm.eigen_rotation(K, np.array([1.0, 2.0]), np.ones((2, 1)))
    >>> rot.kva
    array([0.5, 1.5])
    """
    K = check_kinship(K)
    y = check_y(y)
    if y.shape[0] != K.shape[0]:
        raise InputError(f"y has {y.shape[0]} rows but K is {K.shape[0]} x {K.shape[1]}: they must match")
    check_X(X, K.shape[0])
    return _decompose(K).rotate(y, X)

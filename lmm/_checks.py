"""Argument checks shared by the public functions of :mod:`lmm`.

Every check raises :class:`lmm.errors.InputError` (a :class:`ValueError`) with a
message that says what is wrong, with which argument, and the sizes involved.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = [
    "as_float_array",
    "check_kva",
    "check_y",
    "check_X",
    "check_hsq",
    "check_tol",
    "rank_deficient_columns",
]


def _first(items, k=5):
    items = list(items)
    head = ", ".join(str(i) for i in items[:k])
    return head + (f", ... ({len(items)} in all)" if len(items) > k else "")


def as_float_array(a, name: str) -> np.ndarray:
    """Convert to a float64 array, or say which argument could not be converted."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from None
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds NaN or +-Inf, naming the first positions."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)
        pos = [tuple(int(i) for i in w) if len(w) > 1 else int(w[0]) for w in where]
        raise InputError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or Inf) at "
            f"position(s) {_first(pos)}; remove or impute them (the workflow "
            "groups phenotypes by their missing values for you)."
        )


def check_kva(kva, n_expected: int | None = None) -> np.ndarray:
    """Eigenvalues: 1-D, finite, not materially negative."""
    kva = as_float_array(kva, "kva")
    if kva.ndim != 1:
        raise InputError(f"kva must be 1-D (n,), got shape {kva.shape}")
    if kva.size == 0:
        raise InputError("kva is empty: there are no individuals")
    if n_expected is not None and kva.size != n_expected:
        raise InputError(f"kva has {kva.size} eigenvalues but y has {n_expected} rows")
    check_finite(kva, "kva")
    scale = max(float(np.max(np.abs(kva))), 1.0)
    if kva.min() < -1e-8 * scale:
        raise InputError(
            f"kva has negative eigenvalue(s) down to {kva.min():.3g}: the kinship "
            "matrix is not positive semi-definite"
        )
    return np.clip(kva, 0.0, None)


def check_y(y, name: str = "y") -> np.ndarray:
    """Phenotypes: 1-D (n,) or 2-D (n, m), finite, at least one column."""
    y = as_float_array(y, name)
    if y.ndim not in (1, 2):
        raise InputError(f"{name} must be 1-D (n,) or 2-D (n, m), got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise InputError(f"{name} has no columns")
    check_finite(y, name)
    return y


def rank_deficient_columns(X: np.ndarray, rtol: float = 1e-10) -> list[int]:
    """Indices of the columns of ``X`` that are linear combinations of earlier ones.

    Columns are taken in order; column ``j`` is reported when its distance to the
    span of the earlier independent columns is below ``rtol`` times its norm.
    """
    bad: list[int] = []
    basis = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        col = X[:, j]
        norm = float(np.linalg.norm(col))
        if norm == 0.0:
            bad.append(j)
            continue
        resid = col - basis @ (basis.T @ col) if basis.shape[1] else col
        resid = resid - basis @ (basis.T @ resid) if basis.shape[1] else resid
        rn = float(np.linalg.norm(resid))
        if rn <= rtol * norm * max(1, X.shape[0]) ** 0.5:
            bad.append(j)
        else:
            basis = np.column_stack([basis, resid / rn])
    return bad


def check_X(X, n: int, names=None) -> np.ndarray:
    """Covariates: (n, p) with p < n, finite, full column rank. ``None`` = intercept."""
    X = np.ones((n, 1)) if X is None else as_float_array(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise InputError(f"X must be 2-D (n, p), got shape {X.shape}")
    if X.shape[0] != n:
        raise InputError(f"X has {X.shape[0]} rows but y has {n}: they must match")
    if X.shape[1] == 0:
        raise InputError("X has no columns; pass X=None for an intercept-only model")
    check_finite(X, "X")
    n_, p = X.shape
    if n_ <= p:
        raise InputError(
            f"too few individuals: n = {n_} is not larger than the number of "
            f"covariates p = {p}"
        )
    bad = rank_deficient_columns(X)
    if bad:
        label = [names[j] if names is not None else f"column {j}" for j in bad]
        raise InputError(
            f"X is rank-deficient: {_first(label)} "
            f"{'is a linear combination' if len(bad) == 1 else 'are linear combinations'}"
            " of the other covariates (or constant zero); drop "
            f"{'it' if len(bad) == 1 else 'them'}"
        )
    return X


def check_hsq(hsq) -> np.ndarray:
    """Heritability values: scalar or 1-D, each in [0, 1]."""
    h = as_float_array(hsq, "hsq")
    if h.ndim > 1:
        raise InputError(f"hsq must be a scalar or 1-D, got shape {h.shape}")
    check_finite(h, "hsq")
    if h.size and (h.min() < 0 or h.max() > 1):
        raise InputError(f"hsq must lie in [0, 1]; got values from {h.min()} to {h.max()}")
    return h


def check_tol(tol) -> float:
    """A positive, finite tolerance."""
    try:
        t = float(tol)
    except (TypeError, ValueError):
        raise InputError(f"tol must be a positive number, got {tol!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise InputError(f"tol must be a positive number, got {tol!r}")
    return t

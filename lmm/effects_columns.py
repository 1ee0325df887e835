"""The phenotype columns of a batched effects fit (:func:`lmm.effects.fit_effects`): their checks
(observed individuals, rank of the covariates over them, the limit ``hsq → 1``), their groups by
number of missing individuals, which the fit processes together, and their weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import FULL_RANK_GRAM_EIG, LIMIT_SPAN_RTOL, rank_deficient_columns, zero_eigenvalues
from .errors import InputError
from .missing import missing_patterns, missing_rows
from .scan.engine import added_columns

__all__ = ["Group", "Weights", "check_observed", "column_groups", "check_limit"]


def check_observed(X1, missing, k, p, cnames) -> None:
    """Each phenotype column's observed individuals: more than ``k + p + 1``, and ``[1, X]`` of full
    rank over them (:func:`lmm.checks.rank_deficient_columns`), else :class:`InputError` naming the
    first column that fails.

    The rank rule is applied exactly only where a cheap test cannot settle it: for ``U`` the columns
    of ``[1, X]`` over the observed rows scaled to unit norm, every ``|R_kk|`` of its (pivoted) QR is
    at least ``σ_min(U)``, and ``|R_00| ≤ ‖U‖ ≤ √(p + 1)``; so
    ``λ_min(UᵀU) ≥`` :data:`lmm.checks.FULL_RANK_GRAM_EIG`
    (far above ``(RANK_RTOL)²·(p + 1)``) means full rank under that rule. ``UᵀU`` comes from
    ``X1ᵀX1`` less the missing rows' products, for all columns at once.
    """
    n, m = missing.shape
    n_miss = missing.sum(axis=0)
    few = n - n_miss <= k + p + 1
    w = X1.shape[1]
    XX = (X1[:, :, None] * X1[:, None, :]).reshape(n, w * w)                         # rows' products
    gram = X1.T @ X1 - (missing.T.astype(float) @ XX).reshape(m, w, w)              # (m, 1+p, 1+p)
    d = np.sqrt(np.maximum(np.diagonal(gram, axis1=1, axis2=2), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = gram / d[:, :, None] / d[:, None, :]
    ev = np.linalg.eigvalsh(np.where(np.isfinite(unit), unit, 0.0))[:, 0]
    for j in np.flatnonzero(few | ~(ev >= FULL_RANK_GRAM_EIG)).tolist():
        obs = ~missing[:, j]
        if few[j]:
            raise InputError(f"{int(obs.sum())} observed individuals (pheno column {j}): too few for {k} "
                             f"genotype columns and {p} covariates")
        bad = rank_deficient_columns(X1[obs])
        if bad:
            raise InputError(f"covar is rank-deficient with the intercept over the observed individuals of pheno "
                             f"column {j}: {', '.join('intercept' if i == 0 else cnames[i - 1] for i in bad)}")


@dataclass(frozen=True, eq=False)
class Group:
    """Phenotype columns with the same number of missing individuals (and, with null covariates, the
    same of them kept): ``cols`` (c,), their missing rows ``M`` (c, k_m), increasing; ``added`` the
    null covariates' columns in their null model."""

    cols: np.ndarray
    M: np.ndarray
    added: np.ndarray


def column_groups(missing, X1, UN) -> list:
    """:class:`Group` s covering every column of ``missing`` (n, m), in increasing order of columns
    within each; the null covariates' columns (``UN = (N, kve_t @ N)``) kept over a column's observed
    rows by :func:`lmm.scan.engine.added_columns` (one test per missing-data pattern)."""
    n_miss = missing.sum(axis=0)
    none = np.zeros(0, dtype=np.intp)
    groups = []
    for km in np.unique(n_miss).tolist():
        cols = np.flatnonzero(n_miss == km)
        M = missing_rows(missing, cols, km)
        if UN is None:
            groups.append(Group(cols, M, none))
            continue
        N = UN[0]
        by_added: dict[tuple, list] = {}
        for obs, pc in missing_patterns(missing, cols):
            key = tuple(added_columns(X1[obs], N[obs]).tolist())
            by_added.setdefault(key, []).extend(pc.tolist())
        for key, cc in by_added.items():
            sel = np.searchsorted(cols, np.sort(np.asarray(cc, dtype=np.intp)))
            groups.append(Group(cols[sel], M[sel], np.asarray(key, dtype=np.intp)))
    return groups


def check_limit(kve_t, kva, X1, M, cols):
    """Phenotypes at ``hsq = 1`` on a singular kinship (module Notes, "The limit hsq → 1"): the null
    eigenvectors must lie in the span of ``[1, X, e_M]``, else :class:`InputError` naming them."""
    N = kve_t[zero_eigenvalues(kva)].T                                   # (n, z), unit columns
    D = np.column_stack([X1, np.eye(X1.shape[0])[:, M]])
    Q, _ = np.linalg.qr(D)
    off = np.linalg.norm(N - Q @ (Q.T @ N), axis=0)
    if off.max(initial=0.0) > LIMIT_SPAN_RTOL:
        raise InputError(
            f"hsq = 1 for phenotype column(s) {', '.join(map(str, cols[:10].tolist()))}"
            f"{' …' if cols.size > 10 else ''} and the kinship has {N.shape[1]} zero eigenvalue(s) whose "
            f"eigenvectors the covariates do not span (residual {off.max():.2g}, rule "
            f"{LIMIT_SPAN_RTOL:g}): their QTL effects have no limit as hsq → 1 that this fit can give")


class Weights:
    """The squared whitening ``ω_ji = 1 / (h_j λ_i + 1 − h_j)`` (m, n), rows formed when asked for
    (``ω[rows]``): the whole array would be m × n fresh memory for a few blocks of rows at a time.
    A variance that is not positive (``h_j = 1``, ``λ_i = 0``) is given ``1 / zero_variance``."""

    def __init__(self, h, kva, zero_variance):
        self.h, self.kva, self.zero_variance = h, kva, zero_variance
        self.shape = (h.size, kva.size)

    def __getitem__(self, rows):
        h = self.h[rows][:, None]
        a = h * self.kva[None, :] + (1.0 - h)
        return 1.0 / np.where(a > 0, a, self.zero_variance)

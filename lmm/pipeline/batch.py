"""Rotate one missing-data batch, and fit one chunk of it: the rotate and fit stages' logic.

:func:`fit_masked_chunk` fits phenotypes of several batches with a few missing individuals
each from the complete batch's decomposition (the ``schur`` strategy of :mod:`lmm.pipeline.partition`).

:func:`rotate_batch` takes the cleaned data and one batch of :func:`lmm.pipeline.partition.partition_phenotypes`,
eigen-decomposes the kinship of the batch's individuals once (:func:`lmm.eigen_decompose`) and
rotates all of the batch's phenotypes and its covariates. :func:`fit_chunk` fits
(:func:`lmm.fit_lmm`) all phenotypes of a chunk at once from the rotated data, and optionally
evaluates the profile log-likelihood (:func:`lmm.calc_ll`) on a grid of hsq.

The rotated data are stored by the workflow as an ``.npz`` file with the arrays that
:func:`rotate_batch` returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

import lmm
from lmm.errors import InputError
from lmm.checks import explained_columns
from lmm.pipeline.partition import Batch

__all__ = ["FIT_COLUMNS", "rotate_batch", "load_chunk", "explained_by_covariates", "fit_chunk",
           "fit_masked_chunk"]

#: Columns of a chunk's result table, before the ``beta_<covariate>`` columns.
FIT_COLUMNS = ["phenotype", "status", "n", "p", "hsq", "hsq_se", "hsq_ci_lower", "hsq_ci_upper",
               "ci_cutoff", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "boundary", "converged", "method",
               "y_scale_log2"]
#: The float columns of :data:`FIT_COLUMNS`, taken from the :class:`lmm.FitResult` fields of their name.
_FLOAT_COLUMNS = FIT_COLUMNS[4:13]


def rotate_batch(
    ids: Sequence[str],
    kinship: np.ndarray,
    phenotypes: np.ndarray,
    phenotype_names: Sequence[str],
    covariates: np.ndarray,
    covariate_names: Sequence[str],
    batch: Batch,
) -> dict:
    """Decompose the kinship of one batch's individuals and rotate its phenotypes and covariates.

    Parameters
    ----------
    ids : sequence of str, shape (N,)
        All cleaned individuals.
    kinship : numpy.ndarray, shape (N, N)
    phenotypes : numpy.ndarray, shape (N, M)
        All cleaned phenotypes (NaN where missing).
    phenotype_names : sequence of str, length M
    covariates : numpy.ndarray, shape (N, P)
    covariate_names : sequence of str, length P
    batch : lmm.pipeline.partition.Batch
        One batch of :func:`lmm.pipeline.partition.partition_phenotypes`: its ``missing_ids``,
        ``covariates_used`` and ``decompose`` chunks are used.

    Returns
    -------
    dict
        The arrays saved in ``results/rotate/<batch>.npz``: ``kva`` (n,) eigenvalues of the batch's
        kinship, ascending, round-off negatives set to 0; ``kve_t`` (n, n) transposed eigenvectors
        (``K = kve_t.T @ diag(kva) @ kve_t``); ``X`` (n, p) rotated covariates ``kve_t @ X``;
        ``ids`` (n,) the individuals in the rows' order before rotation; ``covariates`` (p,) the
        names of the columns of ``X``; ``chunks`` (k,) the batch's chunk names; per ``decompose``
        chunk ``y__<chunk>`` (n, m_chunk) its rotated phenotypes and ``phenotypes__<chunk>`` their
        names (``masked`` chunks are fitted from the unrotated data); ``n_clipped`` (the round-off
        negative eigenvalues set to 0) and ``min_eigenvalue`` (before clipping).

    Raises
    ------
    InputError
        The batch's kinship is not positive semi-definite (message names the batch), or the
        batch's phenotypes are not all observed on its individuals (a partition inconsistent with
        the data).
    """
    ids = [str(i) for i in ids]
    missing = set(batch.missing_ids)
    rows = np.array([k for k, i in enumerate(ids) if i not in missing], dtype=np.int64)
    pheno_pos = {p: j for j, p in enumerate(phenotype_names)}
    cov_pos = {c: j for j, c in enumerate(covariate_names)}
    X = covariates[np.ix_(rows, [cov_pos[c] for c in batch.covariates_used])]
    try:
        dec = lmm.eigen_decompose(kinship[np.ix_(rows, rows)])
    except InputError as exc:
        raise InputError(f"Batch {batch.name} ({len(rows)} individuals): {exc}") from None
    out = {
        "kva": dec.kva,
        "kve_t": dec.kve_t,
        "X": None,
        "ids": np.asarray([ids[k] for k in rows], dtype=str),
        "covariates": np.asarray(batch.covariates_used, dtype=str),
        "n_clipped": np.asarray(dec.n_clipped),
        "min_eigenvalue": np.asarray(dec.min_eigenvalue),
        "chunks": np.asarray([c.name for c in batch.decomposed_chunks], dtype=str),
    }
    for chunk in batch.decomposed_chunks:
        y = phenotypes[np.ix_(rows, [pheno_pos[p] for p in chunk.phenotypes])]
        if np.isnan(y).any():
            raise InputError(
                f"Batch {batch.name}: some of its phenotypes are missing on its individuals; the "
                "partition does not match the cleaned data. Rerun the partition stage.")
        rot = dec.rotate(y, X)  # one chunk at a time bounds memory by the chunk size
        out["X"] = rot.X
        out[f"y__{chunk.name}"] = rot.y
        out[f"phenotypes__{chunk.name}"] = np.asarray(chunk.phenotypes, dtype=str)
    if out["X"] is None:
        out["X"] = dec.kve_t @ X
    return out


def load_chunk(rotated: Mapping, chunk: str) -> dict:
    """The arrays :func:`fit_chunk` needs for one chunk, from a rotated batch (e.g. its ``.npz``).

    Only this chunk's phenotypes are read (``numpy.load`` of an ``.npz`` reads arrays lazily).

    Returns
    -------
    dict
        ``kva``, ``X``, ``covariates``, ``y`` and ``phenotypes`` (the chunk's).
    """
    return {"kva": rotated["kva"], "X": rotated["X"], "covariates": rotated["covariates"],
            "y": rotated[f"y__{chunk}"], "phenotypes": rotated[f"phenotypes__{chunk}"]}


def explained_by_covariates(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Columns of `y` that the covariates `X` fit exactly (their heritability is undefined).

    The core's one rule, :func:`lmm.checks.explained_columns` (``‖residual‖ ≤ 1e-13·‖y‖``,
    whatever the units), so the workflow and :func:`lmm.fit_lmm` agree.

    Parameters
    ----------
    y : numpy.ndarray, shape (n, m)
    X : numpy.ndarray, shape (n, p)

    Returns
    -------
    numpy.ndarray of bool, shape (m,)
    """
    Q, _ = np.linalg.qr(np.asarray(X, dtype=np.float64))
    return explained_columns(y, Q)


def fit_chunk(
    rotated: Mapping,
    phenotypes: Sequence[str],
    *,
    method: str = "reml",
    tol: float = 1e-4,
    check_boundary: bool = True,
    compute_se: bool = True,
    profile_grid: Sequence[float] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the LMM to some phenotypes of a rotated batch, all at once.

    Parameters
    ----------
    rotated : mapping
        ``kva``, ``X``, ``covariates``, and ``y``, ``phenotypes`` of a chunk
        (:func:`load_chunk`).
    phenotypes : sequence of str
        Names of the columns to fit (a chunk, or part of it).
    method : {'reml', 'ml'}
    tol : float
        Tolerance of the Brent search.
    check_boundary : bool
        Compare the optimum with hsq = 0 and hsq = 1.
    compute_se : bool
        Compute ``hsq_se``.
    profile_grid : sequence of float
        hsq values at which to evaluate the profile log-likelihood (empty for none).

    Returns
    -------
    results : pandas.DataFrame
        One row per phenotype, in the order given: :data:`FIT_COLUMNS` then ``beta_<covariate>``
        for each covariate of the batch. ``status`` is ``ok``, ``not_converged`` (estimates kept)
        or ``explained_by_covariates`` (no estimates), or the fit's own flag
        (``flat_likelihood``, ``unbounded``, ``scale_overflow``, ``scale_underflow``), all keys
        of :data:`lmm.STATUSES`. ``y_scale_log2`` is :attr:`lmm.FitResult.y_scale_log2`:
        ``sigmasq``, ``sigmasq_g``, ``sigmasq_e`` and the betas are those of ``y·2^−y_scale_log2``
        (0, the data's units, unless float64 cannot hold them there; NA when not fitted).
    profile : pandas.DataFrame
        ``phenotype, hsq, loglik`` for every phenotype fitted and grid value (long format).
    """
    if method not in ("reml", "ml"):
        raise InputError(f"Unknown method {method!r}; expected 'reml' or 'ml'.")
    names = [str(p) for p in np.asarray(rotated["phenotypes"])]
    covariates = [str(c) for c in np.asarray(rotated["covariates"])]
    pos = {p: j for j, p in enumerate(names)}
    unknown = [p for p in phenotypes if p not in pos]
    if unknown:
        raise InputError(f"Phenotypes {unknown[:5]} are not in this rotated batch; rerun the rotate stage.")
    kva = np.asarray(rotated["kva"], dtype=np.float64)
    X = np.asarray(rotated["X"], dtype=np.float64)
    y = np.asarray(rotated["y"], dtype=np.float64)[:, [pos[p] for p in phenotypes]]
    n, p = X.shape
    reml = method == "reml"

    def fit(idx):
        return lmm.fit_lmm(kva, y[:, idx], X, reml=reml, check_boundary=check_boundary, tol=tol,
                           compute_se=compute_se, compute_ci=True, x_names=covariates)

    def profile(grid, idx):
        return lmm.calc_ll(grid, kva, y[:, idx], X, reml=reml, x_names=covariates).loglik

    return _result_tables(list(phenotypes), covariates, explained_by_covariates(y, X), np.full(len(phenotypes), n),
                          p, fit, profile, profile_grid)


def fit_masked_chunk(
    decomposition: lmm.EigenDecomposition,
    phenotypes_matrix: np.ndarray,
    covariates_matrix: np.ndarray,
    phenotypes: Sequence[str],
    covariates: Sequence[str],
    *,
    method: str = "reml",
    tol: float = 1e-4,
    check_boundary: bool = True,
    compute_se: bool = True,
    profile_grid: Sequence[float] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit phenotypes with a few missing values each from one decomposition of all individuals.

    The ``schur`` strategy: :func:`lmm.fit_lmm_masked` fits each column on its observed
    individuals exactly, with the Schur-complement correction of :mod:`lmm.missing`, instead of a
    decomposition per missing-data pattern.

    Parameters
    ----------
    decomposition : lmm.EigenDecomposition
        Of the kinship of all ``n`` individuals (the complete batch's rotation).
    phenotypes_matrix : numpy.ndarray, shape (n, m)
        The chunk's phenotypes, not rotated, NaN where missing, rows in the decomposition's order.
    covariates_matrix : numpy.ndarray, shape (n, p)
        Covariates, not rotated, complete.
    phenotypes, covariates : sequence of str
        Column names.
    method, tol, check_boundary, compute_se, profile_grid
        As in :func:`fit_chunk`.

    Returns
    -------
    results, profile : pandas.DataFrame
        As :func:`fit_chunk`; ``n`` is each phenotype's number of observed values.
    """
    if method not in ("reml", "ml"):
        raise InputError(f"Unknown method {method!r}; expected 'reml' or 'ml'.")
    y = np.asarray(phenotypes_matrix, dtype=np.float64)
    X = np.asarray(covariates_matrix, dtype=np.float64)
    covariates = [str(c) for c in covariates]
    observed = ~np.isnan(y)
    flat = np.zeros(y.shape[1], dtype=bool)
    for j in range(y.shape[1]):
        o = observed[:, j]
        flat[j] = explained_by_covariates(y[o, j][:, None], X[o])[0]
    reml = method == "reml"

    def fit(idx):
        return lmm.fit_lmm_masked(decomposition, y[:, idx], X, reml=reml, check_boundary=check_boundary, tol=tol,
                                  compute_se=compute_se, compute_ci=True, x_names=covariates)

    def profile(grid, idx):
        return lmm.calc_ll_masked(grid, decomposition, y[:, idx], X, reml=reml, x_names=covariates).loglik

    return _result_tables([str(p) for p in phenotypes], covariates, flat, observed.sum(axis=0), X.shape[1], fit,
                          profile, profile_grid)


def _result_tables(phenotypes, covariates, flat, n_obs, p, fit_columns, profile_columns, profile_grid):
    """Fit the columns not `flat` and lay out the result and profile tables of a chunk."""
    fit_idx = np.flatnonzero(~flat)
    table = pd.DataFrame({"phenotype": phenotypes})
    table["status"] = np.where(flat, "explained_by_covariates", "ok")
    table["n"] = np.asarray(n_obs, dtype=np.int64)
    table["p"] = p
    for col in _FLOAT_COLUMNS:
        table[col] = np.nan
    for col in ("boundary", "converged", "method"):
        table[col] = pd.Series([None] * len(table), dtype=object)
    table["y_scale_log2"] = pd.Series([pd.NA] * len(table), dtype="Int64")
    betas = np.full((len(table), p), np.nan)
    profile = pd.DataFrame({"phenotype": pd.Series([], dtype=object), "hsq": pd.Series([], dtype=float),
                            "loglik": pd.Series([], dtype=float)})
    if fit_idx.size:
        fit = fit_columns(fit_idx)
        for col in _FLOAT_COLUMNS:
            table.loc[fit_idx, col] = np.asarray(getattr(fit, col), dtype=np.float64)
        table.loc[fit_idx, "boundary"] = np.asarray(fit.boundary, dtype=object)
        converged = np.asarray(fit.converged, dtype=bool)
        table.loc[fit_idx, "converged"] = np.where(converged, "true", "false").astype(object)
        table.loc[fit_idx, "method"] = fit.method
        table.loc[fit_idx, "y_scale_log2"] = np.asarray(fit.y_scale_log2, dtype=np.int64).reshape(-1)
        table.loc[fit_idx[~converged], "status"] = "not_converged"
        flag = np.asarray(fit.status, dtype=object).reshape(-1)
        table.loc[fit_idx[flag != "ok"], "status"] = flag[flag != "ok"]
        betas[fit_idx] = np.asarray(fit.beta).T
        grid = np.asarray(profile_grid, dtype=np.float64)
        if grid.size:
            ll = np.asarray(profile_columns(grid, fit_idx)).reshape(grid.size, fit_idx.size)
            fitted = [phenotypes[j] for j in fit_idx]
            profile = pd.DataFrame({
                "phenotype": np.repeat(np.asarray(fitted, dtype=object), grid.size),
                "hsq": np.tile(grid, len(fitted)),
                "loglik": ll.T.reshape(-1),
            })
    for k, c in enumerate(covariates):
        table[f"beta_{c}"] = betas[:, k]
    return table, profile

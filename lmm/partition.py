"""Group phenotypes by their missing-data pattern into batches, and batches into chunks.

All phenotypes of a batch are observed on exactly the same individuals, so one
eigen-decomposition of that set's kinship serves them all. Batches are named ``b001``,
``b002``, ... in the order in which their pattern first appears among the phenotype columns
(input column order), so the same data always gives the same names. A batch with more than
``max_batch_size`` phenotypes is split, in column order, into chunks ``c001``, ``c002``, ...
that share the batch's decomposition and are fitted as separate jobs.

Covariates are checked again on each batch's individuals: a column that has become a linear
combination of the others (for example ``sex`` when only males remain) is dropped for that
batch, and the batch records which.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.clean import dependent_columns

__all__ = ["pattern_digest", "partition_phenotypes", "chunk_table", "phenotype_assignments"]


def pattern_digest(missing_ids: Sequence[str]) -> str:
    """Short, stable fingerprint of a set of missing ids (first 12 hex digits of a SHA-256).

    Examples
    --------
    >>> pattern_digest([]) == pattern_digest([])
    True
    >>> pattern_digest(["b", "a"]) == pattern_digest(["a", "b"])
    True
    """
    text = "\n".join(sorted(str(i) for i in missing_ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def partition_phenotypes(
    phenotypes: np.ndarray,
    phenotype_names: Sequence[str],
    status: Sequence[str],
    ids: Sequence[str],
    covariates: np.ndarray,
    covariate_names: Sequence[str],
    max_batch_size: int | None = None,
) -> dict:
    """Batch the ``ok`` phenotypes by missing-data pattern and split batches into chunks.

    Parameters
    ----------
    phenotypes : numpy.ndarray, shape (n, m)
        NaN where missing.
    phenotype_names : sequence of str, length m
    status : sequence of str, length m
        Status from :func:`lmm.clean.phenotype_status`; only ``ok`` columns are batched.
    ids : sequence of str, length n
    covariates : numpy.ndarray, shape (n, p)
    covariate_names : sequence of str, length p
    max_batch_size : int or None, optional
        Most phenotypes per chunk; ``None`` or 0 for no limit.

    Returns
    -------
    dict
        ``{"covariates": [...], "batches": [batch, ...], "phenotypes": [row, ...]}``. Each batch is
        ``{"batch", "n", "n_missing", "pattern", "missing_ids", "covariates_used",
        "covariates_dropped", "n_phenotypes", "chunks": [{"chunk", "phenotypes"}]}``; each
        phenotype row is ``{"phenotype", "status", "n_observed", "batch", "chunk"}``
        (``batch``/``chunk`` None when not fitted), in input column order. A batch whose
        individuals are too few for its covariates (``n <= p + 1``) gets no chunks and its
        phenotypes the status ``too_few_observations``.
    """
    Y = np.asarray(phenotypes, dtype=np.float64)
    X = np.asarray(covariates, dtype=np.float64)
    ids = [str(i) for i in ids]
    names = [str(c) for c in phenotype_names]
    x_names = [str(c) for c in covariate_names]
    status = list(status)
    limit = int(max_batch_size) if max_batch_size else 0
    observed = ~np.isnan(Y)

    order: list[bytes] = []
    members: dict[bytes, list[int]] = {}
    for j in range(Y.shape[1]):
        if status[j] != "ok":
            continue
        key = np.packbits(observed[:, j]).tobytes()
        if key not in members:
            members[key] = []
            order.append(key)
        members[key].append(j)

    batches = []
    rows = [{"phenotype": names[j], "status": status[j], "n_observed": int(observed[:, j].sum()),
             "batch": None, "chunk": None} for j in range(Y.shape[1])]
    for b, key in enumerate(order, start=1):
        cols = members[key]
        mask = observed[:, cols[0]]
        name = f"b{b:03d}"
        missing = [i for i, o in zip(ids, mask) if not o]
        dropped = [c for c, _ in dependent_columns(X[mask], x_names)]
        used = [c for c in x_names if c not in dropped]
        n = int(mask.sum())
        chunks = []
        if n <= len(used) + 1:
            for j in cols:
                rows[j]["status"] = "too_few_observations"
        else:
            size = limit or len(cols)
            for c, start in enumerate(range(0, len(cols), size), start=1):
                part = cols[start:start + size]
                chunk = f"c{c:03d}"
                chunks.append({"chunk": chunk, "phenotypes": [names[j] for j in part]})
                for j in part:
                    rows[j]["batch"], rows[j]["chunk"] = name, chunk
        batches.append({
            "batch": name,
            "n": n,
            "n_missing": len(missing),
            "pattern": pattern_digest(missing),
            "missing_ids": missing,
            "covariates_used": used,
            "covariates_dropped": dropped,
            "n_phenotypes": len(cols),
            "chunks": chunks,
        })
    return {"covariates": x_names, "batches": batches, "phenotypes": rows}


def chunk_table(partition: dict) -> pd.DataFrame:
    """One row per (batch, chunk) to fit: ``batch, chunk, n, n_missing, n_phenotypes, pattern,
    covariates_dropped`` (dropped covariates joined by ``,``; ``n_phenotypes`` counts the chunk's)."""
    records = []
    for b in partition["batches"]:
        for c in b["chunks"]:
            records.append({
                "batch": b["batch"], "chunk": c["chunk"], "n": b["n"], "n_missing": b["n_missing"],
                "n_phenotypes": len(c["phenotypes"]), "pattern": b["pattern"],
                "covariates_dropped": ",".join(b["covariates_dropped"]),
            })
    return pd.DataFrame.from_records(
        records, columns=["batch", "chunk", "n", "n_missing", "n_phenotypes", "pattern", "covariates_dropped"])


def phenotype_assignments(partition: dict) -> pd.DataFrame:
    """One row per phenotype, input order: ``phenotype, status, n_observed, batch, chunk``."""
    return pd.DataFrame.from_records(
        partition["phenotypes"], columns=["phenotype", "status", "n_observed", "batch", "chunk"])

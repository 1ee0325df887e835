"""Group phenotypes by their missing-data pattern into batches, and batches into chunks.

All phenotypes of a batch are observed on exactly the same individuals, so one
eigen-decomposition of that set's kinship serves them all. Batches are named ``b001``,
``b002``, ... in the order in which their pattern first appears among the phenotype columns
(input column order), so the same data always gives the same names. A batch with more than
``max_batch_size`` phenotypes is split, in column order, into chunks ``c001``, ``c002``, ...
that share the batch's decomposition and are fitted as separate jobs.

Covariates are checked again on each batch's individuals: a column that has become a linear
combination of the others (for example ``sex`` when only males remain) is dropped for that
batch, and the batch records which. The criterion is the one the fits apply
(:func:`lmm._checks.rank_deficient_columns`, through :func:`lmm.pipeline.clean.dependent_columns`),
so a batch's covariates never fail the rank check of the rotate or fit jobs.

Strategies. A batch is fitted either from its own eigen-decomposition (``decompose``) or, when
it misses only a few individuals, exactly from the decomposition of all individuals with the
Schur-complement correction of :mod:`lmm.missing` (``schur``). With ``missing_strategy='auto'``
each pattern gets the cheaper one by :func:`lmm.pipeline.plan.choose_strategy`'s cost model; a pattern
whose covariates become dependent is always decomposed. The phenotypes of all ``schur`` batches
are fitted together, in chunks ``m001``, ``m002``, ... of ``max_batch_size``, attached (as
``masked_chunks``) to the batch of the complete pattern, which is created if no phenotype has it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.pipeline.clean import dependent_columns
from lmm.errors import InputError
from lmm.pipeline.plan import choose_strategy

__all__ = ["STRATEGIES", "pattern_digest", "partition_phenotypes", "fit_jobs", "chunk_of", "chunk_table",
           "phenotype_assignments"]

#: Values of ``missing_strategy``.
STRATEGIES = ("decompose", "schur", "auto")


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
    missing_strategy: str = "decompose",
) -> dict:
    """Batch the ``ok`` phenotypes by missing-data pattern and split batches into chunks.

    Parameters
    ----------
    phenotypes : numpy.ndarray, shape (n, m)
        NaN where missing.
    phenotype_names : sequence of str, length m
    status : sequence of str, length m
        Status from :func:`lmm.pipeline.clean.phenotype_status`; only ``ok`` columns are batched.
    ids : sequence of str, length n
    covariates : numpy.ndarray, shape (n, p)
    covariate_names : sequence of str, length p
    max_batch_size : int or None, optional
        Most phenotypes per chunk; ``None`` or 0 for no limit.
    missing_strategy : {'decompose', 'schur', 'auto'}, optional
        How batches with missing individuals are fitted (see the module notes).

    Returns
    -------
    dict
        ``{"covariates": [...], "batches": [batch, ...], "phenotypes": [row, ...]}``. Each batch is
        ``{"batch", "strategy", "n", "n_missing", "pattern", "missing_ids", "covariates_used",
        "covariates_dropped", "n_phenotypes", "chunks": [{"chunk", "phenotypes"}],
        "masked_chunks": [{"chunk", "phenotypes"}]}`` (``chunks`` empty for a ``schur`` batch,
        ``masked_chunks`` non-empty only for the complete batch). Each phenotype row is
        ``{"phenotype", "status", "n_observed", "batch", "chunk", "strategy"}`` (None when not
        fitted), in input column order. A batch whose individuals are too few for its
        covariates (``n <= p + 1``) gets no chunks and its phenotypes the status
        ``too_few_observations``.
    """
    if missing_strategy not in STRATEGIES:
        raise InputError(f"Unknown missing_strategy {missing_strategy!r}; expected one of {', '.join(STRATEGIES)}.")
    Y = np.asarray(phenotypes, dtype=np.float64)
    X = np.asarray(covariates, dtype=np.float64)
    ids = [str(i) for i in ids]
    names = [str(c) for c in phenotype_names]
    x_names = [str(c) for c in covariate_names]
    status = list(status)
    limit = int(max_batch_size) if max_batch_size else 0
    observed = ~np.isnan(Y)
    n_all = Y.shape[0]

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

    def split(cols, prefix):
        size = limit or len(cols)
        return [{"chunk": f"{prefix}{c:03d}", "phenotypes": [names[j] for j in cols[start:start + size]]}
                for c, start in enumerate(range(0, len(cols), size), start=1)]

    batches = []
    rows = [{"phenotype": names[j], "status": status[j], "n_observed": int(observed[:, j].sum()),
             "batch": None, "chunk": None, "strategy": None} for j in range(Y.shape[1])]
    masked_cols: list[int] = []
    for b, key in enumerate(order, start=1):
        cols = members[key]
        mask = observed[:, cols[0]]
        name = f"b{b:03d}"
        missing = [i for i, o in zip(ids, mask) if not o]
        dropped = [c for c, _ in dependent_columns(X[mask], x_names)]
        used = [c for c in x_names if c not in dropped]
        n = int(mask.sum())
        k = n_all - n
        if k == 0 or dropped or missing_strategy == "decompose":
            strategy = "decompose"
        elif missing_strategy == "schur":
            strategy = "schur"
        else:
            strategy = choose_strategy(n_all, k, len(cols), len(x_names))
        chunks = []
        if n <= len(used) + 1:
            for j in cols:
                rows[j]["status"] = "too_few_observations"
        elif strategy == "decompose":
            chunks = split(cols, "c")
        batches.append({
            "batch": name,
            "strategy": strategy,
            "n": n,
            "n_missing": len(missing),
            "pattern": pattern_digest(missing),
            "missing_ids": missing,
            "covariates_used": used,
            "covariates_dropped": dropped,
            "n_phenotypes": len(cols),
            "chunks": chunks,
            "masked_chunks": [],
        })
        fitted = n > len(used) + 1
        for j in cols:
            if fitted:
                rows[j]["batch"], rows[j]["strategy"] = name, strategy
        if fitted and strategy == "decompose":
            where = {p: c["chunk"] for c in chunks for p in c["phenotypes"]}
            for j in cols:
                rows[j]["chunk"] = where[names[j]]
        elif fitted:
            masked_cols.extend(cols)

    if masked_cols:
        masked_cols.sort()
        full = next((b for b in batches if b["n_missing"] == 0), None)
        if full is None:
            full = {"batch": f"b{len(batches) + 1:03d}", "strategy": "decompose", "n": n_all, "n_missing": 0,
                    "pattern": pattern_digest([]), "missing_ids": [], "covariates_used": list(x_names),
                    "covariates_dropped": [], "n_phenotypes": 0, "chunks": [], "masked_chunks": []}
            batches.append(full)
        full["masked_chunks"] = split(masked_cols, "m")
        where = {p: c["chunk"] for c in full["masked_chunks"] for p in c["phenotypes"]}
        for j in masked_cols:
            rows[j]["chunk"] = where[names[j]]
    return {"covariates": x_names, "batches": batches, "phenotypes": rows}


def fit_jobs(partition: dict) -> list[tuple[str, str]]:
    """``(batch, chunk)`` of every fit job: each batch's chunks, then its masked chunks."""
    return [(b["batch"], c["chunk"]) for b in partition["batches"]
            for c in b["chunks"] + b.get("masked_chunks", [])]


def chunk_of(partition: dict, batch: str, chunk: str) -> dict:
    """The batch record and the phenotypes of one fit job."""
    record = next(b for b in partition["batches"] if b["batch"] == batch)
    found = next(c for c in record["chunks"] + record.get("masked_chunks", []) if c["chunk"] == chunk)
    return {"batch": record, "phenotypes": found["phenotypes"], "masked": chunk.startswith("m")}


def chunk_table(partition: dict) -> pd.DataFrame:
    """One row per fit job: ``batch, chunk, strategy, n, n_missing, n_phenotypes, pattern,
    covariates_dropped`` (dropped covariates joined by ``,``; ``n_phenotypes`` counts the chunk's;
    a masked chunk's ``n``/``n_missing`` are those of the complete batch it uses)."""
    records = []
    for b in partition["batches"]:
        for c, strategy in [(c, "decompose") for c in b["chunks"]] + [(c, "schur") for c in b.get("masked_chunks", [])]:
            records.append({
                "batch": b["batch"], "chunk": c["chunk"], "strategy": strategy, "n": b["n"],
                "n_missing": b["n_missing"], "n_phenotypes": len(c["phenotypes"]), "pattern": b["pattern"],
                "covariates_dropped": ",".join(b["covariates_dropped"]),
            })
    return pd.DataFrame.from_records(records, columns=["batch", "chunk", "strategy", "n", "n_missing",
                                                       "n_phenotypes", "pattern", "covariates_dropped"])


def phenotype_assignments(partition: dict) -> pd.DataFrame:
    """One row per phenotype, input order: ``phenotype, status, n_observed, batch, chunk, strategy``."""
    return pd.DataFrame.from_records(
        partition["phenotypes"], columns=["phenotype", "status", "n_observed", "batch", "chunk", "strategy"])

"""Sparse LOD output for large scans (config ``lod_min``): every (marker, trait) pair whose LOD is
at least ``lod_min``, kept by each scan job and written one Parquet file per chromosome.

A scan job (:func:`lmm.pipeline.genome_scan.scan_chunk`) keeps :func:`sparse_lod` of its LOD
matrix (three arrays of the pairs), so neither the job nor its ``.npz`` holds the full matrix;
:func:`lod_min_table` gathers one chromosome's pairs from every chunk. A NaN LOD (a trait not
scanned) is never kept; an infinite one is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lmm.errors import InputError

__all__ = ["SPARSE_KEYS", "sparse_lod", "lod_min_table"]

#: The arrays :func:`sparse_lod` adds to a scan job's result.
SPARSE_KEYS = ("lodmin_phenotype", "lodmin_marker", "lodmin_lod")


def sparse_lod(lod_t: np.ndarray, lod_min: float) -> dict:
    """The pairs of a phenotype-major LOD matrix (m, q) with ``LOD ≥ lod_min``.

    Returns
    -------
    dict
        ``lodmin_phenotype``, ``lodmin_marker`` (int64, the column in the chunk and the marker on
        the chromosome) and ``lodmin_lod`` (float64), phenotype-major.
    """
    if not np.isfinite(lod_min):
        raise InputError(f"lod_min must be a finite number, got {lod_min}")
    with np.errstate(invalid="ignore"):
        j, k = np.nonzero(lod_t >= lod_min)
    return {"lodmin_phenotype": j.astype(np.int64), "lodmin_marker": k.astype(np.int64),
            "lodmin_lod": np.asarray(lod_t[j, k], dtype=np.float64)}


def lod_min_table(markers: pd.DataFrame, results: Sequence[Mapping], phenotypes: Sequence[str]) -> pd.DataFrame:
    """One chromosome's kept pairs from every chunk: ``marker, chr, pos, phenotype, lod``.

    Parameters
    ----------
    markers : pandas.DataFrame
        The chromosome's markers (``marker, chr, pos``) in scan order.
    results : sequence of mappings
        Each chunk's arrays (:data:`SPARSE_KEYS` and ``phenotypes``), in chunk order.
    phenotypes : sequence of str
        The chunks' phenotypes, concatenated.

    Returns
    -------
    pandas.DataFrame
        Rows by marker (scan order), then phenotype (input order).
    """
    rows, cols, lods, offset = [], [], [], 0
    for res in results:
        missing = [k for k in SPARSE_KEYS if k not in res]
        if missing:
            raise InputError(f"a scan job's result lacks {missing}: it was written without lod_min; rerun the scan")
        rows.append(np.asarray(res["lodmin_marker"], dtype=np.int64))
        cols.append(np.asarray(res["lodmin_phenotype"], dtype=np.int64) + offset)
        lods.append(np.asarray(res["lodmin_lod"], dtype=np.float64))
        offset += len(res["phenotypes"])
    k = np.concatenate(rows) if rows else np.empty(0, np.int64)
    j = np.concatenate(cols) if cols else np.empty(0, np.int64)
    lod = np.concatenate(lods) if lods else np.empty(0)
    order = np.lexsort((j, k))
    k, j, lod = k[order], j[order], lod[order]
    names = np.asarray(list(phenotypes), dtype=object)
    return pd.DataFrame({"marker": markers["marker"].to_numpy(object)[k], "chr": markers["chr"].astype(str).to_numpy(object)[k],
                         "pos": markers["pos"].to_numpy(float)[k], "phenotype": names[j], "lod": lod})

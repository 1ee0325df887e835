"""What the genotype readers share: tolerances, the part a reader returns, file and value checks."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.pipeline.io import describe_ids, duplicated

#: Genotype file formats (``fmt`` of :func:`read_genotypes`, config ``genotype_format``).
FORMATS = ("plink", "bimbam", "table")

#: Probabilities must lie in [-tol, 1 + tol] (values are usually rounded, never outside [0, 1]).
PROBABILITY_RANGE_TOLERANCE = 1e-6

#: The alleles of a marker must sum to 1 within this (absolute) in each row. Eight probabilities
#: rounded to 6 decimals are off by at most 4e-6; 1e-3 also admits 3-decimal rounding.
PROBABILITY_SUM_TOLERANCE = 1e-3

#: Dosages must lie in [-tol, DOSAGE_MAX + tol] with tol = PROBABILITY_RANGE_TOLERANCE.
DOSAGE_MAX = 2.0

#: Markers per chunk when a format reads in chunks (PLINK; BIMBAM parses this many lines at once).
CHUNK_MARKERS = 4096


@dataclass(frozen=True)
class GenotypePart:
    """One genotype file: its ids (file order), markers (file order) and a chunk reader.

    ``chunks(max_markers, rows)`` yields ``(first_marker, block)``, ``block`` of shape
    ``(n_markers_in_chunk * n_alleles, len(rows))`` float64 (marker-major, alleles of a marker
    adjacent, the individuals ``ids[rows]``), covering the file's markers in order. ``notes``:
    remarks on how the file was read, for the log and the terminal (not errors).
    """

    path: str
    ids: np.ndarray
    markers: pd.DataFrame
    chunks: Callable[[int, np.ndarray], Iterator[tuple[int, np.ndarray]]] = field(repr=False)
    notes: tuple[str, ...] = ()



def check_file(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"The {what} '{path}' does not exist. Check the path in the configuration.")
    if os.path.isdir(path):
        raise InputError(f"The {what} '{path}' is a directory, not a file.")
    if os.path.getsize(path) == 0:
        raise InputError(f"The {what} '{path}' is empty.")


def open_binary(path: str):
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def checked_id_list(ids: Sequence[str], path: str, what: str) -> np.ndarray:
    ids = [str(i).strip() for i in ids]
    blank = [str(k + 1) for k, i in enumerate(ids) if i == ""]
    if blank:
        raise InputError(f"The {what} '{path}' has entries without an id (entries {describe_ids(blank)}).")
    dup = duplicated(ids)
    if dup:
        raise InputError(
            f"The {what} '{path}' has duplicated ids: {describe_ids(dup)}. Each individual must appear once."
        )
    return np.asarray(ids, dtype=object)


def read_id_file(path: str) -> np.ndarray:
    check_file(path, "genotype id file")
    with open(path, encoding="utf-8-sig") as handle:
        lines = [line.strip() for line in handle.read().split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return checked_id_list(lines, path, "genotype id file")


def parse_positions(values: pd.Series, markers: pd.Series, path: str, what: str) -> np.ndarray:
    pos = pd.to_numeric(values, errors="coerce")
    bad = pos.isna() | ~np.isfinite(pos.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        raise InputError(
            f"The {what} '{path}' has missing or non-numeric positions for markers "
            f"{describe_ids(markers[bad.to_numpy()].tolist())}."
        )
    return pos.to_numpy(dtype=np.float64)


def check_map_duplicates(frame: pd.DataFrame, path: str, what: str) -> None:
    dup = frame["marker"].duplicated(keep=False)
    if dup.any():
        names = list(dict.fromkeys(frame.loc[dup, "marker"]))
        chrs = list(dict.fromkeys(frame.loc[frame["marker"] == names[0], "chr"]))
        where = f" on chromosomes {describe_ids(chrs)}" if len(chrs) > 1 else ""
        raise InputError(
            f"The {what} '{path}' lists markers more than once: {describe_ids(names)} "
            f"('{names[0]}'{where}). Each marker must appear once, on one chromosome."
        )


def check_range(values: np.ndarray, upper: float, path: str, ids: np.ndarray, columns: Sequence[str],
                 what: str, axis_ids: int) -> None:
    """Values outside [-tol, upper + tol] (NaN allowed): an error naming column and id."""
    tol = PROBABILITY_RANGE_TOLERANCE
    with np.errstate(invalid="ignore"):
        bad = (values < -tol) | (values > upper + tol) | np.isinf(values)
    if bad.any():
        where = np.argwhere(bad)
        r, c = where[0]
        i_id, i_col = (r, c) if axis_ids == 0 else (c, r)
        raise InputError(
            f"The genotype file '{path}' has {len(where)} {what} outside [0, {upper:g}], e.g. "
            f"{float(values[r, c])!r} for marker column '{columns[i_col]}', id '{ids[i_id]}'."
        )



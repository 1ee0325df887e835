"""Binary inputs (:mod:`lmm.pipeline.io`): Parquet tables (pyarrow) and ``.npy`` matrices with
their plain-text sidecar files (``<name>.ids.txt``, ``<name>.columns.txt``).

A ``.npy`` is memory-mapped, so its shape and type are checked before its data are read.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.pipeline.io_common import (
    FORMATS_HINT,
    check_column_names,
    check_is_file,
    checked_ids,
    id_column_name,
    describe_ids,
    npy_sidecars,
)

def _import_pyarrow(path: str, role: str) -> None:
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise InputError(
            f"Reading the {role} file '{path}' (Parquet) needs the Python package pyarrow, which is not "
            "installed. Install it with: pip install 'lmm-pipeline[parquet]' (or pip install pyarrow, "
            "or conda install -c conda-forge pyarrow); or give the file as .csv, .tsv or .npy."
        ) from None


def _ids_as_text(ids: pd.Series) -> pd.Series:
    """Parquet ids as text: strings stay, integers (also integral floats) print without '.0'."""
    if pd.api.types.is_float_dtype(ids):
        present = ids.dropna()
        if (present == np.round(present)).all():
            return ids.map(lambda v: v if pd.isna(v) else str(int(v)))
        return ids.map(lambda v: v if pd.isna(v) else repr(float(v)))
    if pd.api.types.is_bool_dtype(ids) or pd.api.types.is_numeric_dtype(ids):
        return ids.astype(str)
    return ids.map(lambda v: v if pd.isna(v) else str(v))


def parse_parquet(path: str, role: str, id_column: str, na_values: Sequence[str],
                   id_column_fallback_first: bool) -> tuple[pd.DataFrame, str]:
    """A .parquet table as a frame (text ids, numeric or text columns) and its id column's name."""
    check_is_file(path, role)
    _import_pyarrow(path, role)
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, TypeError, NotImplementedError, EOFError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"The {role} file '{path}' is not a readable Parquet file ({message}). "
            f"{FORMATS_HINT}, named accordingly."
        ) from None
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        # an index written by pandas (e.g. the ids) is a column like any other
        if isinstance(frame.index, pd.MultiIndex):
            raise InputError(f"The {role} file '{path}' has a multi-level index; expected one id column.")
        name = frame.index.name
        frame = frame.reset_index(names="" if name is None else str(name))
    frame.columns = [str(c) for c in frame.columns]
    header = list(frame.columns)
    if len(header) < 2:
        raise InputError(
            f"The {role} file '{path}' has a single column ({header[0] if header else ''!r}); expected "
            f"an id column '{id_column}' and at least one data column."
        )
    check_column_names(header, path, role,
                        blank_id_allowed=id_column_fallback_first and id_column not in header)
    id_name = id_column_name(header, path, role, id_column, id_column_fallback_first)
    if frame.empty:
        raise InputError(f"The {role} file '{path}' has columns but no rows of data.")
    frame[id_name] = _ids_as_text(frame[id_name])
    na = {str(v) for v in na_values}
    text_columns = [column for column, dtype in frame.dtypes.items()
                    if column != id_name and not pd.api.types.is_numeric_dtype(dtype)]
    for column in text_columns if na else []:
        # text cells that are missing-value codes are missing, as in a text table
        values = frame[column]
        frame[column] = values.where(~values.astype(str).str.strip().isin(na), np.nan)
    return frame, id_name


def _read_lines(path: str, role: str, owner: str, what: str, strip: bool = True) -> list[str]:
    """The lines of a .npy's sidecar text file (trailing blank lines dropped), stripped if `strip`."""
    if not os.path.isfile(path):
        raise InputError(
            f"The {role} file '{owner}' is a .npy matrix, which holds no ids or names: it needs "
            f"{what} '{path}' beside it, which does not exist."
        )
    try:
        with open(path, encoding="utf-8-sig", newline=None) as handle:
            lines = [line.strip() if strip else line for line in handle.read().split("\n")]
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"The file '{path}' (of the {role} file '{owner}') is not readable text: {exc}.") from None
    while lines and lines[-1].strip() == "":
        lines.pop()
    return lines


def load_npy(path: str, role: str) -> np.ndarray:
    """The .npy matrix, memory-mapped, after checking it is 2-D, numeric and not empty."""
    check_is_file(path, role)
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(
            f"The {role} file '{path}' is not a readable .npy file ({exc}). Save the matrix with "
            "numpy.save, as a numeric array (float64 or float32; NaN for missing)."
        ) from None
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        shape = getattr(matrix, "shape", "?")
        raise InputError(
            f"The {role} file '{path}' holds an array of shape {shape}; expected a 2-D matrix "
            f"(individuals x {'individuals' if role == 'kinship' else 'columns'})"
            f"{'. Save a single column with shape (n, 1)' if role != 'kinship' else ''}."
        )
    kind = matrix.dtype.kind
    if kind not in "fiu":
        what = {"b": "true/false values", "c": "complex numbers", "U": "text", "S": "bytes",
                "V": "structured records", "M": "dates", "m": "time spans"}.get(kind, str(matrix.dtype))
        raise InputError(
            f"The {role} file '{path}' holds {what} (dtype {matrix.dtype}), not numbers. Save a "
            "float array (NaN for missing)."
        )
    if matrix.shape[0] == 0:
        raise InputError(f"The {role} file '{path}' has no rows of data (shape {matrix.shape}).")
    if matrix.shape[1] == 0:
        raise InputError(f"The {role} file '{path}' has no columns (shape {matrix.shape}).")
    return matrix


def npy_ids(path: str, role: str, n_rows: int) -> np.ndarray:
    """The ids of a .npy matrix's rows, from its sidecar, checked against the matrix."""
    ids_path = npy_sidecars(path, role)["ids"]
    lines = _read_lines(ids_path, role, path, "an id file (one id per line, one line per row)")
    if len(lines) != n_rows:
        header = len(lines) == n_rows + 1
        raise InputError(
            f"The {role} file '{path}' has {n_rows} rows but its id file '{ids_path}' lists "
            f"{len(lines)} ids: it needs one id per line, one line per row of the matrix, in order"
            f"{f' (no header line: is {lines[0]!r} a header?)' if header else ''}."
        )
    return checked_ids(pd.Series(lines, dtype=object), path, role, f"in its id file '{ids_path}'", 1)


def parse_npy_table(path: str, role: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A .npy matrix with its sidecars as a float frame (columns named) and its checked ids."""
    matrix = load_npy(path, role)
    n_rows, n_cols = matrix.shape
    columns_path = npy_sidecars(path, role)["columns"]
    # names are used exactly as written (never stripped): one with surrounding spaces is an error
    names = _read_lines(columns_path, role, path, "a column-name file (one name per line, one line per column)",
                        strip=False)
    if len(names) != n_cols:
        raise InputError(
            f"The {role} file '{path}' has {n_cols} columns but its column-name file '{columns_path}' "
            f"lists {len(names)} names: it needs one name per line, one line per column, in order "
            "(no header line, no id column)."
        )
    blank = [str(i + 1) for i, name in enumerate(names) if name.strip() == ""]
    if blank:
        raise InputError(
            f"The {role} file '{path}' has columns without a name: lines {describe_ids(blank)} of "
            f"'{columns_path}' are blank. Every column needs a name."
        )
    check_column_names(names, path, role, where=f"line {{}} of '{columns_path}'")
    ids = npy_ids(path, role, n_rows)
    frame = pd.DataFrame(np.array(matrix, dtype=np.float64), columns=pd.Index(names), copy=False)
    return frame, ids

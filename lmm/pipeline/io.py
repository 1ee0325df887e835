"""Read and validate the pipeline's three input tables: kinship, phenotypes, covariates.

Rows are individuals, identified by their id. Ids are always read as strings, so ``007`` and
``7`` are different individuals and rows are matched by id, never by position. The format
follows the file name (:func:`input_format`):

- **text** (any other name): ``.csv`` comma-separated, ``.tsv`` or ``.txt`` tab-separated,
  optionally gzip-compressed with a ``.gz`` suffix. The id column (``id_column``) names the rows.
- **Parquet** (``.parquet``): a table with the id column (a named index written by pandas counts
  as a column) and one numeric column per phenotype, covariate or, for the kinship, individual.
  Null (or NaN) is missing. Needs the optional package ``pyarrow``
  (``pip install 'lmm-pipeline[parquet]'``).
- **NumPy** (``.npy``): a 2-D numeric matrix, NaN for missing, with plain-text sidecar files beside
  it (:func:`npy_sidecars`), since a ``.npy`` holds no names: ``<name>.ids.txt`` (one id per line,
  the matrix's rows; for the kinship also its columns) and, for phenotypes and covariates,
  ``<name>.columns.txt`` (one column name per line). It is memory-mapped, so its shape and type
  are checked before its data are read.

The kinship is a square matrix whose columns name the same individuals as its rows (in a text or
Parquet file, the header names the columns; in a ``.npy``, the columns are in the rows' order).

Each format is parsed into the same thing (a :class:`pandas.DataFrame` indexed by id, or the
kinship's ids and matrix) and the same checks then run on it, whatever the format. Every problem
found raises :class:`lmm.errors.InputError` with one plain message that names the file, the
column or ids at fault (the first few and a count) and what to do about it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.checks import SYMMETRY_RTOL
from lmm.errors import InputError
from lmm.pipeline.io_binary import load_npy, npy_ids, parse_npy_table, parse_parquet
from lmm.pipeline.io_common import (
    NEEDS_COLUMN_FILE,
    DEFAULT_NA_VALUES,
    checked_ids,
    finish_table,
    describe_ids,
    duplicated,
    input_format,
    non_numeric_cells,
    npy_sidecars,
)
from lmm.pipeline.io_results import RESULT_NAME_COLUMNS, read_results
from lmm.pipeline.io_text import parse_text

__all__ = [
    "DEFAULT_NA_VALUES",
    "SYMMETRY_TOLERANCE",
    "describe_ids",
    "duplicated",
    "input_format",
    "npy_sidecars",
    "non_numeric_cells",
    "read_table",
    "read_kinship",
    "read_results",
    "RESULT_NAME_COLUMNS",
]


#: Largest accepted ``max|K - K'| / max|K|``; below it the kinship is symmetrised, above it rejected.
SYMMETRY_TOLERANCE = SYMMETRY_RTOL  # the core's one rule (lmm.checks)


def read_table(
    path: str,
    *,
    id_column: str,
    role: str,
    na_values: Sequence[str] = DEFAULT_NA_VALUES,
    id_column_fallback_first: bool = False,
) -> pd.DataFrame:
    """Read a table of individuals, indexed by their id (as strings), with numeric columns.

    Parameters
    ----------
    path : str
        A ``.csv`` (comma) or ``.tsv``/``.txt`` (tab) file, optionally ending in ``.gz``; a
        ``.parquet`` table; or a ``.npy`` matrix with its ``.ids.txt`` and ``.columns.txt``
        sidecar files (:func:`npy_sidecars`).
    id_column : str
        Name of the column holding the individuals' ids (a ``.npy``'s ids come from its sidecar;
        the index is named `id_column` all the same).
    role : str
        What the file is (``"phenotype"``, ``"covariate"``, ``"kinship"``), used in messages.
    na_values : sequence of str, optional
        Cell contents that mean "missing" (exact matches, after stripping blanks): in a text
        table, and in a Parquet text column. NaN (and Parquet's null) is always missing.
    id_column_fallback_first : bool, optional
        If `id_column` is absent, use the first column when its header is empty (as R's
        ``write.csv`` writes a matrix with row names; in Parquet, pandas' unnamed index).

    Returns
    -------
    pandas.DataFrame
        Index: the ids (``str``, named `id_column`), in file order. Columns: every other column
        in file order; numeric columns are ``float64``, a column holding text is left as text
        for :func:`lmm.pipeline.clean.check_numeric` to report precisely.

    Raises
    ------
    InputError
        The file does not exist, is empty, is not in the format its name says, has the wrong
        delimiter, has no id column, has duplicated column names, ragged rows, missing or
        duplicated ids, or no rows; a ``.npy`` is not a 2-D numeric matrix or its sidecar files
        are missing or do not match its shape; a ``.parquet`` cannot be read (pyarrow missing).
    """
    path = os.fspath(path)
    kind = input_format(path)
    if kind == "npy":
        if role not in NEEDS_COLUMN_FILE:
            raise InputError(f"A .npy {role} file is read with read_kinship, not read_table: '{path}'.")
        frame, ids = parse_npy_table(path, role)
        return finish_table(frame, ids, id_column)
    parse = parse_parquet if kind == "parquet" else parse_text
    frame, id_name = parse(path, role, id_column, na_values, id_column_fallback_first)
    ids = checked_ids(frame[id_name], path, role, f"in column '{id_name}'", 2)
    return finish_table(frame.drop(columns=[id_name]), ids, id_column)


def read_kinship(
    path: str,
    *,
    id_column: str,
    na_values: Sequence[str] = DEFAULT_NA_VALUES,
    symmetry_tolerance: float = SYMMETRY_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a kinship matrix with its ids and check that it is a finite symmetric matrix.

    Parameters
    ----------
    path : str
        A ``.csv``/``.tsv`` (optionally ``.gz``) or ``.parquet`` table: the id column (or an
        unnamed first column) names the rows, the header names the columns. Or a ``.npy``
        (n, n) matrix with its ``.ids.txt`` sidecar naming the rows, and the columns in the same
        order (:func:`npy_sidecars`).
    id_column : str
        Name of the id column.
    na_values : sequence of str, optional
        Cell contents read as missing (any missing value is an error in a kinship).
    symmetry_tolerance : float, optional
        Largest accepted ``max|K - K'| / max|K|``. Within it the matrix is replaced by
        ``(K + K') / 2``.

    Returns
    -------
    ids : numpy.ndarray of str, shape (n,)
        Row ids in file order.
    kinship : numpy.ndarray of float64, shape (n, n)
        The matrix with its columns put in the order of the rows (matched by id).

    Raises
    ------
    InputError
        Not square, row ids differ from column ids, non-numeric or non-finite entries, or not
        symmetric beyond `symmetry_tolerance` (the message gives the largest difference and where);
        and the format's own problems (see :func:`read_table`).

    Notes
    -----
    Positive semi-definiteness is checked where the matrix is decomposed
    (:func:`lmm.eigen_decompose`), once per missing-data pattern.
    """
    path = os.fspath(path)
    if input_format(path) == "npy":
        matrix = load_npy(path, "kinship")
        _check_square(path, *matrix.shape, table=False)
        row_ids = [str(i) for i in npy_ids(path, "kinship", matrix.shape[0])]
        kinship = np.array(matrix, dtype=np.float64, order="C")
    else:
        frame = read_table(path, id_column=id_column, role="kinship", na_values=na_values,
                           id_column_fallback_first=True)
        row_ids = [str(i) for i in frame.index]
        col_ids = [str(c) for c in frame.columns]
        _check_square(path, len(row_ids), len(col_ids), table=True)
        rows, cols = set(row_ids), set(col_ids)
        if rows != cols:
            only_rows = [i for i in row_ids if i not in cols]
            only_cols = [i for i in col_ids if i not in rows]
            raise InputError(
                f"The kinship file '{path}' has different row ids and column ids: rows only "
                f"{describe_ids(only_rows) or 'none'}; columns only {describe_ids(only_cols) or 'none'}. "
                "The header must name the same individuals as the id column."
            )
        not_float = [column for column, dtype in frame.dtypes.items() if dtype != np.float64]
        for column in not_float:
            bad = non_numeric_cells(frame, column)
            if bad:
                raise InputError(
                    f"The kinship file '{path}' has non-numeric values in column '{column}', "
                    f"rows {describe_ids(bad)}."
                )
        if not_float:  # (only those: a wide kinship has n columns, one call each is slow)
            frame = frame.assign(**{str(c): pd.to_numeric(frame[c], errors="coerce") for c in not_float})
        if col_ids != row_ids:
            frame = frame.loc[:, row_ids]
        kinship = frame.to_numpy(dtype=np.float64, copy=True)
    return np.asarray(row_ids, dtype=str), _checked_kinship(path, row_ids, kinship, symmetry_tolerance)


def _check_square(path: str, n_rows: int, n_cols: int, *, table: bool) -> None:
    if n_rows != n_cols:
        raise InputError(
            f"The kinship file '{path}' is not square: {n_rows} rows and {n_cols} columns"
            f"{' (besides the id column)' if table else ''}. It must have one row and one column "
            "per individual."
        )


def _checked_kinship(path: str, row_ids: Sequence[str], kinship: np.ndarray,
                     symmetry_tolerance: float) -> np.ndarray:
    """Check a float kinship (columns in row order) is finite and symmetric; symmetrise in place."""
    finite = np.isfinite(kinship)
    if not finite.all():
        r, c = np.nonzero(~finite)
        where = [f"({row_ids[i]}, {row_ids[j]})" for i, j in zip(r[:5], c[:5])]
        raise InputError(
            f"The kinship file '{path}' has {len(r)} missing or non-finite entries, at (row, column) "
            f"{', '.join(where)}{' ...' if len(r) > 5 else ''}. A kinship matrix must be complete."
        )
    del finite
    scale = float(np.max(np.abs(kinship))) if kinship.size else 0.0
    diff = np.subtract(kinship, kinship.T)
    np.abs(diff, out=diff)
    worst = float(diff.max()) if diff.size else 0.0
    if scale > 0 and worst > symmetry_tolerance * scale:
        i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise InputError(
            f"The kinship file '{path}' is not symmetric: K[{row_ids[i]}, {row_ids[j]}] = "
            f"{kinship[i, j]:.6g} but K[{row_ids[j]}, {row_ids[i]}] = {kinship[j, i]:.6g} "
            f"(largest difference {worst:.3g}, {worst / scale:.3g} of max |K|; tolerance "
            f"{symmetry_tolerance:g}). Check that rows and columns are in the same order."
        )
    # (K + K') / 2, computed into the buffer of diff (same values as the expression)
    np.add(kinship, kinship.T, out=diff)
    diff /= 2.0
    return diff

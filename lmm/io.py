"""Read and validate the pipeline's three input tables: kinship, phenotypes, covariates.

Every table is a delimited text file (``.csv`` comma-separated, ``.tsv`` or ``.txt``
tab-separated, optionally gzip-compressed with a ``.gz`` suffix) whose rows are individuals,
identified by an id column (``id_column``). Ids are always read as strings, so ``007`` and ``7``
are different individuals and rows are matched by id, never by position.

The kinship file is a square matrix: its first column (or the id column) names the rows and its
header names the columns, with the same ids.

Every problem found raises :class:`lmm.errors.InputError` with one plain message that names the
file, the column or ids at fault (the first few and a count) and what to do about it.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.errors import InputError

__all__ = [
    "DEFAULT_NA_VALUES",
    "SYMMETRY_TOLERANCE",
    "describe_ids",
    "non_numeric_cells",
    "read_table",
    "read_kinship",
]

#: Cell contents read as missing values unless the configuration says otherwise.
DEFAULT_NA_VALUES = ("", "NA", "NaN", "nan", "N/A", "NULL")

#: Largest accepted ``max|K - K'| / max|K|``; below it the kinship is symmetrised, above it rejected.
SYMMETRY_TOLERANCE = 1e-6

_HEAD_CHARS = 1 << 16

_SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def describe_ids(ids: Sequence, limit: int = 5) -> str:
    """Format a list of ids for a message: the first `limit`, quoted, and the total count.

    Parameters
    ----------
    ids : sequence of str
        The ids (or column names) to describe.
    limit : int, optional
        How many to show.

    Returns
    -------
    str
        For example ``"'a', 'b', 'c' and 7 more (10 in all)"``.

    Examples
    --------
    >>> describe_ids(["a", "b"])
    "'a', 'b'"
    >>> describe_ids([str(i) for i in range(8)], limit=2)
    "'0', '1' and 6 more (8 in all)"
    """
    ids = [str(i) for i in ids]
    shown = ", ".join(repr(i) for i in ids[:limit])
    if len(ids) > limit:
        return f"{shown} and {len(ids) - limit} more ({len(ids)} in all)"
    return shown


def _expected_separator(path: str) -> str:
    name = path[:-3] if path.endswith(".gz") else path
    return "," if name.lower().endswith(".csv") else "\t"


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _read_header(path: str, role: str) -> str:
    """Return the header line after checking that the file exists, is text and is not empty.

    Only the beginning of the file is read; pandas then streams the whole file.
    """
    if not os.path.exists(path):
        raise InputError(f"The {role} file '{path}' does not exist. Check the path in config/config.yaml.")
    if os.path.isdir(path):
        raise InputError(f"The {role} file '{path}' is a directory, not a table.")
    try:
        with _open_text(path) as handle:
            head = handle.read(_HEAD_CHARS)
            while head.strip() == "" and len(head) == _HEAD_CHARS:  # long run of blank lines
                more = handle.read(_HEAD_CHARS)
                if not more:
                    break
                head = head.lstrip() + more
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(
            f"The {role} file '{path}' is not a readable text table ({type(exc).__name__}: {exc}). "
            "Expected a comma-separated .csv or tab-separated .tsv file (optionally .gz)."
        ) from None
    if "\x00" in head:
        raise InputError(
            f"The {role} file '{path}' is not a text table (it contains binary data). "
            "Expected a comma-separated .csv or tab-separated .tsv file."
        )
    if not head.strip():
        raise InputError(f"The {role} file '{path}' is empty.")
    return head.lstrip("\r\n").splitlines()[0]


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
        A ``.csv`` (comma) or ``.tsv``/``.txt`` (tab) file, optionally ending in ``.gz``.
    id_column : str
        Name of the column holding the individuals' ids.
    role : str
        What the file is (``"phenotype"``, ``"covariate"``, ``"kinship"``), used in messages.
    na_values : sequence of str, optional
        Cell contents that mean "missing" (exact matches, after stripping blanks).
    id_column_fallback_first : bool, optional
        If `id_column` is absent, use the first column when its header is empty (as R's
        ``write.csv`` writes a matrix with row names).

    Returns
    -------
    pandas.DataFrame
        Index: the ids (``str``, named `id_column`), in file order. Columns: every other column
        in file order; numeric columns are ``float64``, a column holding text is left as text
        for :func:`lmm.clean.check_numeric` to report precisely.

    Raises
    ------
    InputError
        The file does not exist, is empty, is not a text table, has the wrong delimiter, has no
        id column, has duplicated column names, ragged rows, missing or duplicated ids, or no rows.
    """
    path = os.fspath(path)
    header_line = _read_header(path, role)
    sep = _expected_separator(path)
    header = next(csv.reader([header_line], delimiter=sep))
    header = [h.strip() for h in header]

    if len(header) < 2:
        others = [s for s in _SEPARATORS if s != sep and s in header_line]
        if others:
            found = _SEPARATORS[others[0]]
            raise InputError(
                f"The {role} file '{path}' has a single column, and its header contains {found} "
                f"characters: it looks {found}-separated, but a file named '{os.path.basename(path)}' "
                f"must be {_SEPARATORS[sep]}-separated. Save it with {_SEPARATORS[sep]}s, or rename it "
                "(.csv for commas, .tsv for tabs)."
            )
        raise InputError(
            f"The {role} file '{path}' has a single column ({header[0]!r}); expected an id column "
            f"'{id_column}' and at least one data column, {_SEPARATORS[sep]}-separated."
        )

    seen, duplicated = set(), []
    for name in header:
        if name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    if duplicated:
        raise InputError(
            f"The {role} file '{path}' has duplicated column names: {describe_ids(duplicated)}. "
            "Every column must have its own name."
        )

    if id_column in header:
        id_name = id_column
    elif id_column_fallback_first and header[0] == "":
        id_name = header[0]
    else:
        raise InputError(
            f"The {role} file '{path}' has no id column '{id_column}' (config 'id_column'); "
            f"its columns are {describe_ids(header)}."
        )

    na = [str(v) for v in na_values]
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            encoding="utf-8-sig",
            compression="infer",
            names=header,
            header=0,
            dtype={id_name: str},
            keep_default_na=False,
            na_values=na,
            skipinitialspace=True,
            skip_blank_lines=True,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError, EOFError, OSError) as exc:
        message = str(exc).strip().splitlines()[-1]
        raise InputError(
            f"The {role} file '{path}' is not a well-formed {_SEPARATORS[sep]}-separated table: "
            f"{message}. Check that every row has as many fields as the header."
        ) from None
    if frame.empty:
        raise InputError(f"The {role} file '{path}' has a header but no rows of data.")

    ids = frame[id_name]
    missing_id = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing_id.any():
        rows = [str(i + 2) for i in np.flatnonzero(missing_id.to_numpy())]
        raise InputError(
            f"The {role} file '{path}' has rows without an id in column '{id_name}' "
            f"(file lines {describe_ids(rows)}). Every row needs an id."
        )
    ids = ids.astype(str).str.strip()
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        unique_dup = list(dict.fromkeys(dup.tolist()))
        raise InputError(
            f"The {role} file '{path}' has duplicated ids in column '{id_name}': "
            f"{describe_ids(unique_dup)}. Each individual must appear once."
        )
    frame = frame.drop(columns=[id_name])
    frame.index = pd.Index(ids.to_numpy(dtype=object), name=id_column, dtype=object)
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            frame[column] = frame[column].astype(np.float64)
    return frame


def non_numeric_cells(frame: pd.DataFrame, column: str) -> list[str]:
    """Ids of the rows whose value in `column` is present but not a number.

    Parameters
    ----------
    frame : pandas.DataFrame
        As returned by :func:`read_table`.
    column : str
        A column of `frame`.

    Returns
    -------
    list of str
        The ids, in row order (empty when the column is numeric).
    """
    values = frame[column]
    if pd.api.types.is_float_dtype(values):
        return []
    as_number = pd.to_numeric(values, errors="coerce")
    bad = as_number.isna() & values.notna()
    return [str(i) for i in frame.index[bad.to_numpy()]]


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
        A ``.csv``/``.tsv`` file: the id column (or an unnamed first column) names the rows,
        the header names the columns.
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
        symmetric beyond `symmetry_tolerance` (the message gives the largest difference and where).

    Notes
    -----
    Positive semi-definiteness is checked where the matrix is decomposed
    (:func:`lmm.eigen_decompose`), once per missing-data pattern.
    """
    frame = read_table(path, id_column=id_column, role="kinship", na_values=na_values,
                       id_column_fallback_first=True)
    row_ids = [str(i) for i in frame.index]
    col_ids = [str(c) for c in frame.columns]
    if len(row_ids) != len(col_ids):
        raise InputError(
            f"The kinship file '{path}' is not square: {len(row_ids)} rows and {len(col_ids)} "
            "columns (besides the id column). It must have one row and one column per individual."
        )
    rows, cols = set(row_ids), set(col_ids)
    if rows != cols:
        only_rows = [i for i in row_ids if i not in cols]
        only_cols = [i for i in col_ids if i not in rows]
        raise InputError(
            f"The kinship file '{path}' has different row ids and column ids: rows only "
            f"{describe_ids(only_rows) or 'none'}; columns only {describe_ids(only_cols) or 'none'}. "
            "The header must name the same individuals as the id column."
        )
    for column in frame.columns:
        bad = non_numeric_cells(frame, column)
        if bad:
            raise InputError(
                f"The kinship file '{path}' has non-numeric values in column '{column}', "
                f"rows {describe_ids(bad)}."
            )
    frame = frame.apply(pd.to_numeric, errors="coerce")
    kinship = frame.loc[:, row_ids].to_numpy(dtype=np.float64, copy=True)
    finite = np.isfinite(kinship)
    if not finite.all():
        r, c = np.nonzero(~finite)
        where = [f"({row_ids[i]}, {row_ids[j]})" for i, j in zip(r[:5], c[:5])]
        raise InputError(
            f"The kinship file '{path}' has {len(r)} missing or non-finite entries, at (row, column) "
            f"{', '.join(where)}{' ...' if len(r) > 5 else ''}. A kinship matrix must be complete."
        )
    scale = float(np.max(np.abs(kinship))) if kinship.size else 0.0
    diff = np.abs(kinship - kinship.T)
    worst = float(diff.max()) if diff.size else 0.0
    if scale > 0 and worst > symmetry_tolerance * scale:
        i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise InputError(
            f"The kinship file '{path}' is not symmetric: K[{row_ids[i]}, {row_ids[j]}] = "
            f"{kinship[i, j]:.6g} but K[{row_ids[j]}, {row_ids[i]}] = {kinship[j, i]:.6g} "
            f"(largest difference {worst:.3g}, {worst / scale:.3g} of max |K|; tolerance "
            f"{symmetry_tolerance:g}). Check that rows and columns are in the same order."
        )
    kinship = (kinship + kinship.T) / 2.0
    return np.asarray(row_ids, dtype=str), kinship

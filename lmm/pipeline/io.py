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

import csv
import gzip
import importlib
import io as _stdio
import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.checks import SYMMETRY_RTOL
from lmm.errors import InputError

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
]

#: Cell contents read as missing values unless the configuration says otherwise.
DEFAULT_NA_VALUES = ("", "NA", "NaN", "nan", "N/A", "NULL")

#: Largest accepted ``max|K - K'| / max|K|``; below it the kinship is symmetrised, above it rejected.
SYMMETRY_TOLERANCE = SYMMETRY_RTOL  # the core's one rule (lmm.checks)

_HEAD_CHARS = 1 << 16

_SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}

_FORMATS_HINT = (
    "Expected a comma-separated .csv or tab-separated .tsv file (optionally .gz), "
    "a .parquet table or a .npy matrix"
)

#: Roles whose ``.npy`` matrix needs a column-name file (the kinship's columns are its rows).
_NEEDS_COLUMN_FILE = ("phenotype", "covariate")


def duplicated(values: Sequence) -> list:
    """The values that occur more than once, each once, in order of their second occurrence."""
    seen, repeated = set(), []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


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


def input_format(path: str) -> str:
    """The format of an input file, from its name: ``"npy"``, ``"parquet"`` or ``"text"``.

    Examples
    --------
    >>> input_format("data/K.npy"), input_format("p.PARQUET"), input_format("p.csv.gz")
    ('npy', 'parquet', 'text')
    """
    name = os.fspath(path).lower()
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".parquet"):
        return "parquet"
    return "text"


def npy_sidecars(path: str, role: str) -> dict[str, str]:
    """The text files that must accompany a ``.npy`` input (none for other formats).

    Parameters
    ----------
    path : str
        The input file, ``<name>.npy``.
    role : str
        ``"kinship"``, ``"phenotype"`` or ``"covariate"``.

    Returns
    -------
    dict of str to str
        ``{"ids": "<name>.ids.txt"}``, plus ``"columns": "<name>.columns.txt"`` for phenotypes and
        covariates; ``{}`` when `path` is not a ``.npy``.

    Examples
    --------
    >>> npy_sidecars("data/pheno.npy", "phenotype")
    {'ids': 'data/pheno.ids.txt', 'columns': 'data/pheno.columns.txt'}
    >>> npy_sidecars("data/K.npy", "kinship")
    {'ids': 'data/K.ids.txt'}
    """
    path = os.fspath(path)
    if input_format(path) != "npy":
        return {}
    stem = path[: -len(".npy")]
    sidecars = {"ids": stem + ".ids.txt"}
    if role in _NEEDS_COLUMN_FILE:
        sidecars["columns"] = stem + ".columns.txt"
    return sidecars


def _check_is_file(path: str, role: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"The {role} file '{path}' does not exist. Check the path in config/config.yaml.")
    if os.path.isdir(path):
        raise InputError(f"The {role} file '{path}' is a directory, not a table.")


def _read_header(path: str, role: str) -> str:
    """Return the header line after checking that the file exists, is text and is not empty.

    Only the beginning of the file is read; pandas then streams the whole file.
    """
    _check_is_file(path, role)
    try:
        with _open_text(path) as handle:
            head = handle.read(_HEAD_CHARS)
            while head.strip() == "" and len(head) == _HEAD_CHARS:  # long run of blank lines
                more = handle.read(_HEAD_CHARS)
                if not more:
                    break
                head = head.lstrip() + more
            # a wide table (e.g. a kinship of 10,000 ids) has a header longer than one read
            while "\n" not in head.lstrip("\r\n"):
                more = handle.read(_HEAD_CHARS)
                if not more:
                    break
                head += more
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(
            f"The {role} file '{path}' is not a readable text table ({type(exc).__name__}: {exc}). "
            f"{_FORMATS_HINT}, named accordingly."
        ) from None
    if "\x00" in head:
        raise InputError(
            f"The {role} file '{path}' is not a text table (it contains binary data). "
            f"{_FORMATS_HINT}, named accordingly."
        )
    if not head.strip():
        raise InputError(f"The {role} file '{path}' is empty.")
    return head.lstrip("\r\n").splitlines()[0]


def _name_problem(name: str) -> str | None:
    """What makes `name` unusable as a column name (None if nothing): it must be kept exactly."""
    if "\n" in name or "\r" in name:
        return "a line break"
    if "\t" in name:
        return "a tab"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "a control character"
    if name != name.strip():
        return "leading or trailing whitespace"
    return None


def _check_column_names(names: Sequence[str], path: str, role: str, *, blank_id_allowed: bool = False,
                        where: str = "column {}") -> None:
    """Every column (text header, Parquet column, line of a column file) has its own, usable name.

    A name is never changed: one that is blank, or that holds a line break, a tab or a control
    character, or that begins or ends with whitespace, is an error naming it and its position
    (`where` places them: ``"column {}"``, or ``"line {} of 'p.columns.txt'"`` for a column-name file).
    `blank_id_allowed`: a blank first name is the id column (a kinship written with row names).
    """
    blank = [k for k, name in enumerate(names) if name.strip() == "" and not (k == 0 and blank_id_allowed)]
    if blank:
        positions = ", ".join(str(k + 1) for k in blank[:5]) + (f" and {len(blank) - 5} more" if len(blank) > 5 else "")
        hint = (
            " A table written by R's write.csv has its row names (1, 2, 3, ...) in a first column "
            "with an empty header cell: write it with write.csv(..., row.names = FALSE) (in pandas: "
            "to_csv(..., index=False)), or give the column a name."
            if blank[0] == 0 else " Every column needs a name."
        )
        where = where.replace("column {}", "columns {}") if len(blank) > 1 else where
        raise InputError(
            f"The {role} file '{path}' has {'a column' if len(blank) == 1 else 'columns'} without a name "
            f"({where.format(positions)}).{hint}"
        )
    for k, name in enumerate(names):
        problem = _name_problem(name)
        if problem:
            raise InputError(
                f"The {role} file '{path}' has a column name with {problem}: {name!r} ({where.format(k + 1)}). "
                "Column names are used as they are, so they must be on one line, without tabs, and "
                "without leading or trailing spaces: rename the column in the file."
            )
    repeated = duplicated(names)
    if repeated:
        raise InputError(
            f"The {role} file '{path}' has duplicated column names: {describe_ids(repeated)}. "
            "Every column must have its own name."
        )


def _id_column_name(header: Sequence[str], path: str, role: str, id_column: str,
                    id_column_fallback_first: bool) -> str:
    """The column of `header` that holds the ids, or an error listing the columns."""
    if id_column in header:
        return id_column
    if id_column_fallback_first and header and header[0].strip() == "":
        return header[0]
    raise InputError(
        f"The {role} file '{path}' has no id column '{id_column}' (config 'id_column'); "
        f"its columns are {describe_ids(header)}."
    )


def _checked_ids(ids: pd.Series, path: str, role: str, where: str, first_line: int) -> np.ndarray:
    """Ids as stripped strings, after checking that none is missing or duplicated.

    `where` says where the ids are (``"in column 'id'"``), `first_line` the file line of the
    first id (for the message naming rows without one).
    """
    missing_id = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
    if missing_id.any():
        rows = [str(i + first_line) for i in np.flatnonzero(missing_id)]
        raise InputError(
            f"The {role} file '{path}' has rows without an id {where} "
            f"(file lines {describe_ids(rows)}). Every row needs an id."
        )
    ids = ids.astype(str).str.strip()
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        unique_dup = list(dict.fromkeys(dup.tolist()))
        raise InputError(
            f"The {role} file '{path}' has duplicated ids {where}: "
            f"{describe_ids(unique_dup)}. Each individual must appear once."
        )
    return ids.to_numpy(dtype=object)


def _finish_table(frame: pd.DataFrame, ids: np.ndarray, id_column: str) -> pd.DataFrame:
    """Index `frame` by `ids` (named `id_column`) and make its numeric columns float64."""
    frame.index = pd.Index(ids, name=id_column, dtype=object)
    to_float = {column: np.float64 for column, dtype in frame.dtypes.items()
                if dtype != np.float64 and pd.api.types.is_numeric_dtype(dtype)
                and not pd.api.types.is_bool_dtype(dtype)}
    if to_float:  # (one pass over the dtypes: a wide kinship has n columns)
        frame = frame.astype(to_float)
    return frame


def _head_records(path: str, role: str, sep: str) -> tuple[list[str], list[str] | None, int]:
    """The header and the first data row of a text table, as the csv module splits them.

    Blank lines are skipped (as pandas does); a quoted field may span lines. Returns the header,
    the first data row (None if there is none) and the file line on which that row ends.
    """
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter=sep)
            records = []
            for record in reader:
                if record:
                    records.append((record, reader.line_num))
                    if len(records) == 2:
                        break
    except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(
            f"The {role} file '{path}' is not a readable {_SEPARATORS[sep]}-separated table "
            f"({type(exc).__name__}: {exc})."
        ) from None
    header = records[0][0] if records else []
    if len(records) < 2:
        return header, None, 0
    return header, records[1][0], records[1][1]


def _too_many_fields(path: str, role: str, sep: str, n_header: int) -> tuple[int, int] | None:
    """The first (file line, number of fields) of a row with more fields than the header, if any."""
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=sep)
        seen_header = False
        for record in reader:
            if not record:
                continue
            if seen_header and len(record) > n_header:
                return reader.line_num, len(record)
            seen_header = True
    return None


def _extra_fields_error(path: str, role: str, sep: str, n_header: int, line: int, n_fields: int) -> InputError:
    trailing = "; if every row ends with a separator, remove the trailing separators" if n_fields == n_header + 1 else ""
    return InputError(
        f"The {role} file '{path}' has more fields than its header in line {line}: {n_fields} fields, "
        f"but the header names {n_header} columns. Every row must have exactly one field per column "
        f"of the header{trailing} (a row with an extra field would be read shifted, with its values "
        "under the wrong columns)."
    )


def _parse_text(path: str, role: str, id_column: str, na_values: Sequence[str],
                id_column_fallback_first: bool) -> tuple[pd.DataFrame, str]:
    """A .csv/.tsv(.gz) file as a frame of strings and numbers, and the name of its id column.

    The header is read with the csv module and passed to pandas as the column names, so no name
    is ever parsed as a missing value (a phenotype named ``NA`` stays ``"NA"``) or changed. A row
    with more fields than the header is an error naming its line: pandas would otherwise take the
    extra leading field as the index and shift every column.
    """
    header_line = _read_header(path, role)
    sep = _expected_separator(path)
    header, first_row, first_row_line = _head_records(path, role, sep)

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
            f"The {role} file '{path}' has a single column ({header[0] if header else ''!r}); expected an "
            f"id column '{id_column}' and at least one data column, {_SEPARATORS[sep]}-separated."
        )
    fallback = id_column_fallback_first and id_column not in header
    _check_column_names(header, path, role, blank_id_allowed=fallback)
    id_name = _id_column_name(header, path, role, id_column, id_column_fallback_first)
    if first_row is not None and len(first_row) > len(header):
        raise _extra_fields_error(path, role, sep, len(header), first_row_line, len(first_row))

    try:
        with warnings.catch_warnings():
            # pandas warns (and drops data) when a row is longer than the names: make it an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                encoding="utf-8-sig",
                compression="infer",
                names=header,
                header=0,
                index_col=False,
                dtype={id_name: str},
                keep_default_na=False,
                na_values=[str(v) for v in na_values],
                skipinitialspace=True,
                skip_blank_lines=True,
                engine="c",
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, UnicodeDecodeError, EOFError,
            OSError) as exc:
        longer = _too_many_fields(path, role, sep, len(header))
        if longer is not None:
            raise _extra_fields_error(path, role, sep, len(header), *longer) from None
        message = str(exc).strip().splitlines()[-1]
        raise InputError(
            f"The {role} file '{path}' is not a well-formed {_SEPARATORS[sep]}-separated table: "
            f"{message}. Check that every row has as many fields as the header."
        ) from None
    if frame.empty:
        raise InputError(f"The {role} file '{path}' has a header but no rows of data.")
    return frame, id_name


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


def _parse_parquet(path: str, role: str, id_column: str, na_values: Sequence[str],
                   id_column_fallback_first: bool) -> tuple[pd.DataFrame, str]:
    """A .parquet table as a frame (text ids, numeric or text columns) and its id column's name."""
    _check_is_file(path, role)
    _import_pyarrow(path, role)
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, TypeError, NotImplementedError, EOFError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"The {role} file '{path}' is not a readable Parquet file ({message}). "
            f"{_FORMATS_HINT}, named accordingly."
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
    _check_column_names(header, path, role,
                        blank_id_allowed=id_column_fallback_first and id_column not in header)
    id_name = _id_column_name(header, path, role, id_column, id_column_fallback_first)
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


def _load_npy(path: str, role: str) -> np.ndarray:
    """The .npy matrix, memory-mapped, after checking it is 2-D, numeric and not empty."""
    _check_is_file(path, role)
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


def _npy_ids(path: str, role: str, n_rows: int) -> np.ndarray:
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
    return _checked_ids(pd.Series(lines, dtype=object), path, role, f"in its id file '{ids_path}'", 1)


def _parse_npy_table(path: str, role: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A .npy matrix with its sidecars as a float frame (columns named) and its checked ids."""
    matrix = _load_npy(path, role)
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
    _check_column_names(names, path, role, where=f"line {{}} of '{columns_path}'")
    ids = _npy_ids(path, role, n_rows)
    frame = pd.DataFrame(np.array(matrix, dtype=np.float64), columns=pd.Index(names), copy=False)
    return frame, ids


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
        if role not in _NEEDS_COLUMN_FILE:
            raise InputError(f"A .npy {role} file is read with read_kinship, not read_table: '{path}'.")
        frame, ids = _parse_npy_table(path, role)
        return _finish_table(frame, ids, id_column)
    parse = _parse_parquet if kind == "parquet" else _parse_text
    frame, id_name = parse(path, role, id_column, na_values, id_column_fallback_first)
    ids = _checked_ids(frame[id_name], path, role, f"in column '{id_name}'", 2)
    return _finish_table(frame.drop(columns=[id_name]), ids, id_column)


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
        matrix = _load_npy(path, "kinship")
        _check_square(path, *matrix.shape, table=False)
        row_ids = [str(i) for i in _npy_ids(path, "kinship", matrix.shape[0])]
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


#: Columns of the result tables that hold names (kept as text: a phenotype may be called ``NA``).
RESULT_NAME_COLUMNS = ("phenotype", "covariate")


def read_results(path: str, name_columns: Sequence[str] = RESULT_NAME_COLUMNS) -> pd.DataFrame:
    r"""Read back a result table as the pipeline writes it: tab-separated, ``NA`` for missing.

    Parameters
    ----------
    path : str or text stream
        A ``.tsv`` written by :func:`lmm.pipeline.atomic.write_tsv` (``results/heritability.tsv``,
        ``results/profile_loglik.tsv``, ``results/fit/<batch>/<chunk>.tsv``, ...).
    name_columns : sequence of str, optional
        Columns holding names: read as text, never as missing, so a phenotype named ``NA`` (or
        ``nan``, ``null``) keeps its name.

    Returns
    -------
    pandas.DataFrame
        The header's names exactly as written; in the other columns ``NA`` is missing (NaN) and
        numbers are numbers.

    Examples
    --------
    >>> import io
    >>> t = read_results(io.StringIO("phenotype\thsq\nNA\t0.5\nbw\tNA\n"))
    >>> t["phenotype"].tolist(), t["hsq"].isna().tolist()
    (['NA', 'bw'], [False, True])
    """
    if hasattr(path, "read"):  # an open text stream (as in the example)
        path = _stdio.StringIO(path.read())
        header = next(csv.reader(path, delimiter="\t"), [])
        path.seek(0)
    else:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t"), [])
    names = [c for c in header if c in set(name_columns)]
    return pd.read_csv(
        path, sep="\t", names=header, header=0, index_col=False, keep_default_na=False,
        na_values={c: ["NA"] for c in header if c not in names}, dtype={c: str for c in names},
    )

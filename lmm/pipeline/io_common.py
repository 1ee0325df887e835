"""What every reader of the input tables shares (:mod:`lmm.pipeline.io`): formats by file name,
the sidecar files of a ``.npy``, and the checks of column names and ids, whatever the format.

Every problem raises :class:`lmm.errors.InputError` with a message naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.errors import InputError

__all__ = ["DEFAULT_NA_VALUES", "describe_ids", "duplicated", "input_format", "non_numeric_cells",
           "npy_sidecars"]

#: Cell contents read as missing values unless the configuration says otherwise.
DEFAULT_NA_VALUES = ("", "NA", "NaN", "nan", "N/A", "NULL")


FORMATS_HINT = (
    "Expected a comma-separated .csv or tab-separated .tsv file (optionally .gz), "
    "a .parquet table or a .npy matrix"
)


#: Roles whose ``.npy`` matrix needs a column-name file (the kinship's columns are its rows).
NEEDS_COLUMN_FILE = ("phenotype", "covariate")


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
    if role in NEEDS_COLUMN_FILE:
        sidecars["columns"] = stem + ".columns.txt"
    return sidecars


def check_is_file(path: str, role: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"The {role} file '{path}' does not exist. Check the path in config/config.yaml.")
    if os.path.isdir(path):
        raise InputError(f"The {role} file '{path}' is a directory, not a table.")


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


def check_column_names(names: Sequence[str], path: str, role: str, *, blank_id_allowed: bool = False,
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


def id_column_name(header: Sequence[str], path: str, role: str, id_column: str,
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


def checked_ids(ids: pd.Series, path: str, role: str, where: str, first_line: int) -> np.ndarray:
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


def finish_table(frame: pd.DataFrame, ids: np.ndarray, id_column: str) -> pd.DataFrame:
    """Index `frame` by `ids` (named `id_column`) and make its numeric columns float64."""
    frame.index = pd.Index(ids, name=id_column, dtype=object)
    to_float = {column: np.float64 for column, dtype in frame.dtypes.items()
                if dtype != np.float64 and pd.api.types.is_numeric_dtype(dtype)
                and not pd.api.types.is_bool_dtype(dtype)}
    if to_float:  # (one pass over the dtypes: a wide kinship has n columns)
        frame = frame.astype(to_float)
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

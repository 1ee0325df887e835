"""Text tables (:mod:`lmm.pipeline.io`): ``.csv`` (comma), ``.tsv``/``.txt`` (tab), each optionally
gzip-compressed (``.gz``), parsed into a frame of strings and numbers.

The header is read with the csv module (never parsed as a missing value), pandas reads the rows,
and every problem (wrong delimiter, a row longer than the header, a truncated ``.gz``) is an
:class:`lmm.errors.InputError` naming the file and the line.
"""

from __future__ import annotations

import csv
import gzip
import os
import warnings
import zlib
from collections.abc import Sequence

import pandas as pd

from lmm.errors import InputError
from lmm.pipeline.io_common import FORMATS_HINT, check_column_names, check_is_file, id_column_name

_HEAD_CHARS = 1 << 16


_SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def _expected_separator(path: str) -> str:
    name = path[:-3] if path.endswith(".gz") else path
    return "," if name.lower().endswith(".csv") else "\t"


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


#: What reading a damaged ``.gz`` raises: a truncated stream (EOFError), corrupt data
#: (zlib.error), no gzip header (gzip.BadGzipFile, an OSError).
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def _gzip_problem(path: str, role: str, exc: BaseException) -> InputError | None:
    """The message for a ``.gz`` file that cannot be decompressed (`exc` raised reading it), else None."""
    if not path.endswith(".gz") or not isinstance(exc, _GZIP_ERRORS):
        return None
    return InputError(
        f"The {role} file '{path}' is truncated or not a valid gzip file ({type(exc).__name__}: {exc}). "
        "Copy or compress it again (gzip), or give it uncompressed, without the .gz suffix."
    )


def _read_header(path: str, role: str) -> str:
    """Return the header line after checking that the file exists, is text and is not empty.

    Only the beginning of the file is read; pandas then streams the whole file.
    """
    check_is_file(path, role)
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
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise _gzip_problem(path, role, exc) or InputError(
            f"The {role} file '{path}' is not a readable text table ({type(exc).__name__}: {exc}). "
            f"{FORMATS_HINT}, named accordingly."
        ) from None
    if "\x00" in head:
        raise InputError(
            f"The {role} file '{path}' is not a text table (it contains binary data). "
            f"{FORMATS_HINT}, named accordingly."
        )
    if not head.strip():
        raise InputError(f"The {role} file '{path}' is empty.")
    return head.lstrip("\r\n").splitlines()[0]


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
    except (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise _gzip_problem(path, role, exc) or InputError(
            f"The {role} file '{path}' is not a readable {_SEPARATORS[sep]}-separated table "
            f"({type(exc).__name__}: {exc})."
        ) from None
    header = records[0][0] if records else []
    if len(records) < 2:
        return header, None, 0
    return header, records[1][0], records[1][1]


def _too_many_fields(path: str, role: str, sep: str, n_header: int) -> tuple[int, int] | None:
    """The first (file line, number of fields) of a row with more fields than the header, if any.

    Reads the file again: a ``.gz`` that cannot be decompressed is an error naming the file.
    """
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter=sep)
            seen_header = False
            for record in reader:
                if not record:
                    continue
                if seen_header and len(record) > n_header:
                    return reader.line_num, len(record)
                seen_header = True
    except (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        problem = _gzip_problem(path, role, exc)
        if problem is not None:
            raise problem from None
    return None


def _extra_fields_error(path: str, role: str, sep: str, n_header: int, line: int, n_fields: int) -> InputError:
    trailing = "; if every row ends with a separator, remove the trailing separators" if n_fields == n_header + 1 else ""
    return InputError(
        f"The {role} file '{path}' has more fields than its header in line {line}: {n_fields} fields, "
        f"but the header names {n_header} columns. Every row must have exactly one field per column "
        f"of the header{trailing} (a row with an extra field would be read shifted, with its values "
        "under the wrong columns)."
    )


def parse_text(path: str, role: str, id_column: str, na_values: Sequence[str],
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
    check_column_names(header, path, role, blank_id_allowed=fallback)
    id_name = id_column_name(header, path, role, id_column, id_column_fallback_first)
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
            OSError, zlib.error) as exc:
        problem = _gzip_problem(path, role, exc)
        if problem is not None:
            raise problem from None
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

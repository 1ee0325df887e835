"""Write output files atomically: to a temporary file beside the target, then ``os.replace``.

A reader (or a rerun after a crash) sees either the complete previous file or the complete new
one, never a half-written file: ``os.replace`` is atomic on POSIX file systems when the temporary
file is in the same directory as the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

import numpy as np
import pandas as pd
import yaml

__all__ = ["atomic_path", "atomic_directory", "write_text", "write_tsv", "write_yaml", "write_npz", "write_npy",
           "write_parquet", "save_figure"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside `path`; move it onto `path` if the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its directory is created if needed.
    suffix : str, optional
        Suffix of the temporary file (some writers choose the format from it, e.g. ``.npz``).

    Yields
    ------
    str
        Where to write. On an exception the temporary file is removed and `path` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix + ".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary directory beside `path`; put it in the place of `path` if the block succeeds.

    A previous directory at `path` is removed just before the rename; on an exception the
    temporary directory is removed and `path` is untouched.
    """
    import shutil

    path = os.fspath(path).rstrip(os.sep)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8, ``\\n`` line ends) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)


def write_tsv(path: str | os.PathLike, frame: pd.DataFrame, float_format: str = "%.17g") -> None:
    """Write `frame` as a tab-separated table with a header, no index, missing values as ``NA``.

    Parameters
    ----------
    path : str or os.PathLike
        Target file.
    frame : pandas.DataFrame
        The table; its index is not written.
    float_format : str, optional
        ``%``-format for floats. The default, ``%.17g``, round-trips float64 exactly.
    """
    text = frame.to_csv(sep="\t", index=False, na_rep="NA", float_format=float_format, lineterminator="\n")
    write_text(path, text)


def write_yaml(path: str | os.PathLike, data: object) -> None:
    """Write `data` as YAML (keys in insertion order) to `path` atomically."""
    write_text(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save `arrays` uncompressed with :func:`numpy.savez` to `path` atomically (no pickles)."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array with :func:`numpy.save` to `path` atomically (no pickles)."""
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)


def write_parquet(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write `frame` as Parquet (pyarrow, zstd, no index) to `path` atomically.

    The file depends only on the table and the pyarrow version (no timestamps), so a rerun with
    the same numbers writes the same bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def save_figure(path: str | os.PathLike, figure, **kwargs) -> None:
    """Save a matplotlib `figure` to `path` atomically, in the format given by its extension."""
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    with atomic_path(path, suffix="." + fmt) as tmp:
        figure.savefig(tmp, format=fmt, **kwargs)

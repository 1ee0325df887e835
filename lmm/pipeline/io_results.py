"""The pipeline's own result tables read back (tab-separated, ``NA`` for missing, names as text)."""

from __future__ import annotations

import csv
import io as _stdio
from collections.abc import Sequence

import pandas as pd

__all__ = ["RESULT_NAME_COLUMNS", "read_results"]

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

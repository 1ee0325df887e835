"""The scan's extra covariates: the X chromosomes' covariates (config ``x_covariates``, R/qtl2's
``Xcovar``) and the interactive covariates (config ``interactive_covariates``, R/qtl2's
``intcovar``), checked against the files and the analysed individuals.

The model is in :func:`lmm.scan1` (``x_covar``, ``int_covar``); this module only reads, aligns and
checks, and says what is wrong in the user's terms (file, column, id, config key).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .clean import check_numeric
from .io_common import describe_ids

__all__ = ["align_x_covariates", "covariate_columns_with_interactive"]


def align_x_covariates(table: pd.DataFrame, ids: Sequence[str], *, path: str) -> tuple[np.ndarray, tuple]:
    """The X covariates of the analysed individuals, in their order.

    Parameters
    ----------
    table : pandas.DataFrame
        The ``x_covariates`` file, indexed by id (as :func:`lmm.pipeline.io.read_table` gives it),
        every column a covariate.
    ids : sequence of str, length n
        The analysed individuals (``cleaned.npz``'s ``ids``).
    path : str
        The file, for messages.

    Returns
    -------
    values : ndarray, shape (n, k)
    names : tuple of str, length k

    Raises
    ------
    InputError
        No columns; a non-numeric or infinite value (:func:`lmm.pipeline.clean.check_numeric`); an
        analysed individual absent from the file or with a missing value (an X covariate cannot be
        imputed, and dropping the individual on X only would change its null model).
    """
    names = tuple(str(c) for c in table.columns)
    if not names:
        raise InputError(f"The X covariate file '{path}' (config 'x_covariates') has no covariate columns.")
    if table.index.duplicated().any():
        dup = sorted({str(i) for i in table.index[table.index.duplicated()]})
        raise InputError(f"The X covariate file '{path}' lists ids more than once: {describe_ids(dup)}.")
    values = check_numeric(table, list(names), role="X covariate", path=path)
    pos = {str(i): k for k, i in enumerate(table.index)}
    absent = [i for i in ids if i not in pos]
    if absent:
        raise InputError(
            f"The X covariate file '{path}' (config 'x_covariates') lacks {len(absent)} of the {len(ids)} "
            f"analysed individuals: {describe_ids(absent)}. Every analysed individual needs its X covariates.")
    out = values[[pos[i] for i in ids]]
    bad = np.isnan(out)
    if bad.any():
        col = int(np.flatnonzero(bad.any(axis=0))[0])
        rows = [ids[k] for k in np.flatnonzero(bad[:, col])]
        raise InputError(
            f"The X covariate file '{path}' has missing values in column '{names[col]}' at ids "
            f"{describe_ids(rows)}; an X covariate cannot be imputed.")
    return out, names


def covariate_columns_with_interactive(columns: Sequence[str] | None, interactive: Sequence[str] | None,
                                       file_columns: Sequence[str] | None, *, path: str | None) -> list[str] | None:
    """The covariate columns to load: config ``covariate_columns`` with the interactive ones added.

    Parameters
    ----------
    columns : sequence of str or None
        Config ``covariate_columns`` (None: every column of the file).
    interactive : sequence of str or None
        Config ``interactive_covariates``: columns of the covariate file, additive as well.
    file_columns : sequence of str or None
        The covariate file's columns (None: no covariate file).
    path : str or None
        The covariate file, for messages.

    Returns
    -------
    list of str or None
        ``columns`` followed by the interactive columns it lacks (None when ``columns`` is None).

    Raises
    ------
    InputError
        Interactive covariates without a covariate file, one that is not a column of it, or one
        named twice.
    """
    interactive = [str(c) for c in interactive or []]
    if not interactive:
        return None if columns is None else list(columns)
    if file_columns is None:
        raise InputError("Config 'interactive_covariates' is set but config 'covariates' names no file.")
    available = [str(c) for c in file_columns]
    missing = [c for c in interactive if c not in available]
    if missing:
        raise InputError(
            f"Config 'interactive_covariates' names columns that are not in the covariate file '{path}': "
            f"{describe_ids(missing)}. The file's columns are {describe_ids(available, limit=10)}.")
    repeated = sorted({c for c in interactive if interactive.count(c) > 1})
    if repeated:
        raise InputError(f"Config 'interactive_covariates' names columns more than once: {describe_ids(repeated)}.")
    if columns is None:
        return None
    return list(columns) + [c for c in interactive if c not in columns]

"""Align the kinship, phenotype and covariate tables by id, drop what cannot be used, and say why.

The load-and-clean stage of the pipeline, without any file handling: :func:`clean_inputs` takes
the tables read by :mod:`lmm.pipeline.io` and returns a :class:`CleanData` holding the analysis matrices,
a record of every individual dropped (and why) and a status for every phenotype.

Rules
-----
- Individuals are matched by id. Only those present in all three files are kept; each one
  missing from a file is recorded with the files it is absent from.
- Individuals with a missing covariate value are dropped (a covariate cannot be imputed).
- Individuals with no value for any selected phenotype are dropped (they take part in no fit).
- Intercept: if the covariates contain a constant non-zero column, it is the intercept and none
  is added; otherwise a column ``intercept`` of ones is added first. Two constant columns, an
  all-zero column or linearly dependent covariates are errors.
- Phenotype status: ``all_missing`` (no observed value), ``too_few_observations``
  (``n <= p + 1`` observed values with ``p`` covariates), ``constant`` (one distinct value),
  otherwise ``ok``. Only ``ok`` phenotypes are transformed and fitted; the others keep a row,
  with their status, in the final table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from lmm.result import STATUSES
from lmm.checks import rank_deficient_columns
from lmm.errors import InputError
from lmm.pipeline.io import describe_ids, non_numeric_cells

__all__ = [
    "TRANSFORMS",
    "CleanData",
    "select_columns",
    "check_numeric",
    "prepare_covariates",
    "dependent_columns",
    "phenotype_status",
    "transform_phenotypes",
    "clean_inputs",
    "id_format_mismatches",
    "drop_summary",
]

TRANSFORMS = ("none", "standardize", "rank_inverse_normal")

@dataclass(frozen=True)
class CleanData:
    """The aligned analysis data and the record of what was dropped.

    Attributes
    ----------
    ids : numpy.ndarray of str, shape (n,)
        Kept individuals, in the phenotype file's order.
    kinship : numpy.ndarray, shape (n, n)
        Kinship of the kept individuals, rows and columns in `ids` order.
    phenotypes : numpy.ndarray, shape (n, m)
        Selected phenotypes (transformed where status is ``ok``), NaN where missing.
    phenotype_names : tuple of str, length m
        In the phenotype file's column order (or `phenotype_columns` order).
    covariates : numpy.ndarray, shape (n, p)
        Covariate matrix, including the intercept column.
    covariate_names : tuple of str, length p
    intercept : str
        Name of the intercept column.
    intercept_added : bool
        True when no constant covariate was found and ``intercept`` was added.
    dropped : pandas.DataFrame
        One row per dropped individual: ``id, in_kinship, in_phenotypes, in_covariates, reason``.
    phenotype_table : pandas.DataFrame
        One row per selected phenotype: ``phenotype, n_observed, status``.
    counts : dict
        Numbers of individuals per file, kept and dropped per reason; phenotypes per status.
    kinship_mean_diagonal : float
        Mean of the diagonal of the kept individuals' kinship (the scale hsq refers to).
    id_notes : tuple of str
        One sentence per pair of files whose unmatched ids differ only in how they are written
        (leading zeros, case, surrounding whitespace): :func:`id_format_mismatches`.
    """

    ids: np.ndarray
    kinship: np.ndarray
    phenotypes: np.ndarray
    phenotype_names: tuple
    covariates: np.ndarray
    covariate_names: tuple
    intercept: str
    intercept_added: bool
    dropped: pd.DataFrame
    phenotype_table: pd.DataFrame
    counts: dict = field(default_factory=dict)
    kinship_mean_diagonal: float = float("nan")
    id_notes: tuple = ()


def select_columns(frame: pd.DataFrame, requested: Sequence[str] | None, *, role: str, path: str,
                   key: str) -> list[str]:
    """Columns to use: all of `frame`'s (file order) when `requested` is None, else `requested`.

    Raises
    ------
    InputError
        A requested column is not in the file (the message lists what the file has), or a column
        is requested twice.
    """
    available = [str(c) for c in frame.columns]
    if requested is None:
        return available
    requested = [str(c) for c in requested]
    missing = [c for c in requested if c not in available]
    if missing:
        raise InputError(
            f"Config '{key}' names columns that are not in the {role} file '{path}': "
            f"{describe_ids(missing)}. The file's columns are {describe_ids(available, limit=10)}."
        )
    repeated = sorted({c for c in requested if requested.count(c) > 1})
    if repeated:
        raise InputError(f"Config '{key}' names columns more than once: {describe_ids(repeated)}.")
    return requested


def check_numeric(frame: pd.DataFrame, columns: Sequence[str], *, role: str, path: str) -> np.ndarray:
    """Return `frame[columns]` as a float array after checking every value is a number or missing.

    Returns
    -------
    numpy.ndarray, shape (len(frame), len(columns))
        NaN where missing.

    Raises
    ------
    InputError
        A column holds text (names the column and the rows' ids) or +/-Inf.
    """
    for column in columns:
        bad = non_numeric_cells(frame, column)
        if bad:
            examples = [repr(str(frame.at[i, column])) for i in bad[:3]]
            raise InputError(
                f"The {role} file '{path}' has non-numeric values in column '{column}' at ids "
                f"{describe_ids(bad)} (e.g. {', '.join(examples)}). Use numbers, or one of the "
                "missing-value codes in config 'na_values'."
            )
    values = frame.loc[:, list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    infinite = np.isinf(values)
    if infinite.any():
        col = int(np.flatnonzero(infinite.any(axis=0))[0])
        rows = frame.index[infinite[:, col]].tolist()
        raise InputError(
            f"The {role} file '{path}' has infinite values in column '{columns[col]}' at ids "
            f"{describe_ids(rows)}. Replace them by a finite value or by a missing-value code."
        )
    return values


def dependent_columns(X: np.ndarray, names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Find covariate columns that are linear combinations of earlier columns.

    The criterion is the project's one covariate-rank rule,
    :func:`lmm.checks.rank_deficient_columns` (also used by the model fits), so a covariate
    accepted here is accepted by every later stage, and one rejected there is rejected here first.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
    names : sequence of str, length p

    Returns
    -------
    list of (str, list of str)
        For each dependent column, its name and the earlier independent columns it is a
        combination of (those with a non-negligible coefficient once every column is scaled to
        unit length; empty for an all-zero column). Empty when X has full column rank.
    """
    X = np.asarray(X, dtype=np.float64)
    dependent = rank_deficient_columns(X)
    if not dependent:
        return []
    norms = np.linalg.norm(X, axis=0)
    Z = X / np.where(norms > 0, norms, 1.0)
    bad = set(dependent)
    found = []
    for j in dependent:
        kept = [k for k in range(j) if k not in bad]
        partners = []
        if kept and norms[j] > 0:
            coef, *_ = np.linalg.lstsq(Z[:, kept], Z[:, j], rcond=None)
            partners = [names[k] for k, c in zip(kept, coef) if abs(c) > 1e-8]
        found.append((names[j], partners))
    return found


def prepare_covariates(values: np.ndarray, names: Sequence[str], *, path: str,
                       intercept_name: str = "intercept") -> tuple[np.ndarray, list[str], str, bool]:
    """Settle the intercept and check the covariate matrix of the kept individuals.

    Parameters
    ----------
    values : numpy.ndarray, shape (n, p0)
        Covariate values, no missing values.
    names : sequence of str, length p0
    path : str
        The covariate file, for messages (``None`` when there is no covariate file).
    intercept_name : str, optional
        Name of the column added when none of the covariates is constant.

    Returns
    -------
    X : numpy.ndarray, shape (n, p)
    names : list of str
    intercept : str
        Name of the intercept column.
    added : bool
        Whether the intercept was added (then it is column 0).

    Raises
    ------
    InputError
        An all-zero column, more than one constant column, or linearly dependent columns.
    """
    names = list(names)
    values = np.asarray(values, dtype=np.float64).reshape(len(values), len(names))
    where = f"the covariate file '{path}'" if path else "the covariates"
    n = values.shape[0]
    constant = [j for j in range(len(names)) if n > 0 and np.all(values[:, j] == values[0, j])]
    zero = [names[j] for j in constant if values[0, j] == 0]
    if zero:
        raise InputError(
            f"Covariate column(s) {describe_ids(zero)} in {where} are zero for all {n} individuals "
            "kept; remove them (config 'covariate_columns')."
        )
    if len(constant) > 1:
        cols = [names[j] for j in constant]
        raise InputError(
            f"Covariate columns {describe_ids(cols)} in {where} are all constant over the {n} "
            "individuals kept: only one constant column (the intercept) is allowed. Remove the "
            "others (config 'covariate_columns')."
        )
    if constant:
        intercept, added = names[constant[0]], False
    else:
        intercept = intercept_name if intercept_name not in names else f"({intercept_name})"
        values = np.column_stack([np.ones(n), values]) if names else np.ones((n, 1))
        names = [intercept] + names
        added = True
    dependent = dependent_columns(values, names)
    if dependent:
        parts = [f"'{c}' = combination of {describe_ids(p) if p else 'nothing (all zero)'}" for c, p in dependent]
        raise InputError(
            f"The covariates in {where} are linearly dependent over the {n} individuals kept: "
            f"{'; '.join(parts)}. Remove the redundant column(s) (config 'covariate_columns')."
        )
    return values, names, intercept, added


def phenotype_status(Y: np.ndarray, n_covariates: int) -> tuple[list[str], np.ndarray]:
    """Status of each phenotype column before fitting.

    Parameters
    ----------
    Y : numpy.ndarray, shape (n, m)
        NaN where missing.
    n_covariates : int
        ``p``, the number of covariate columns (intercept included).

    Returns
    -------
    status : list of str, length m
        ``all_missing``, ``too_few_observations`` (``n_observed <= p + 1``), ``constant``
        (a single distinct observed value) or ``ok``, checked in that order (keys of
        :data:`lmm.STATUSES`, the one list of statuses).
    n_observed : numpy.ndarray of int, shape (m,)
    """
    observed = ~np.isnan(Y)
    n_obs = observed.sum(axis=0)
    status = []
    for j in range(Y.shape[1]):
        values = Y[observed[:, j], j]
        if n_obs[j] == 0:
            status.append("all_missing")
        elif n_obs[j] <= n_covariates + 1:
            status.append("too_few_observations")
        elif np.all(values == values[0]):
            status.append("constant")
        else:
            status.append("ok")
    return status, n_obs.astype(np.int64)


def transform_phenotypes(Y: np.ndarray, method: str, columns: Sequence[int] | None = None) -> np.ndarray:
    """Transform phenotype columns over their observed values.

    Parameters
    ----------
    Y : numpy.ndarray, shape (n, m)
        NaN where missing.
    method : {'none', 'standardize', 'rank_inverse_normal'}
        ``standardize``: ``(y - mean) / sd`` (sample sd, ``ddof=1``).
        ``rank_inverse_normal``: ``Phi^{-1}((rank - 0.5) / n_observed)``, ties get their average
        rank.
    columns : sequence of int, optional
        Columns to transform (default all); the others are returned unchanged.

    Returns
    -------
    numpy.ndarray, shape (n, m)
        A new array; missing values stay NaN.

    Examples
    --------
    >>> transform_phenotypes(np.array([[1.0], [2.0], [np.nan], [3.0]]), "standardize")[:, 0]
    array([-1.,  0., nan,  1.])
    """
    if method not in TRANSFORMS:
        raise InputError(f"Unknown transform {method!r}; expected one of {', '.join(TRANSFORMS)}.")
    out = np.array(Y, dtype=np.float64, copy=True)
    if method == "none":
        return out
    for j in range(out.shape[1]) if columns is None else columns:
        obs = ~np.isnan(out[:, j])
        values = out[obs, j]
        if method == "standardize":
            out[obs, j] = (values - values.mean()) / values.std(ddof=1)
        else:
            from scipy import stats   # here, not at the top: scipy.stats costs every job 0.4 s to import

            ranks = stats.rankdata(values, method="average")
            out[obs, j] = special.ndtri((ranks - 0.5) / values.size)      # the normal quantile
    return out


#: Zeros at the start of a number (a run of ASCII digits) that are followed by another digit.
_PADDING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def _without_leading_zeros(i: str) -> str:
    """``i`` without surrounding whitespace, zeros at its start (``007`` → ``7``, ``0a`` → ``a``)
    and zeros at the start of every number inside it (``M01`` → ``M1``, ``ID-007a`` → ``ID-7a``);
    a number of zeros alone keeps one (``M00`` → ``M0``, ``000`` → ``0``)."""
    return _PADDING_ZEROS.sub("", i.strip().lstrip("0") or "0")


_ID_FORMS = (
    ("surrounding whitespace", lambda i: i.strip()),
    ("case", lambda i: i.strip().casefold()),
    ("leading zeros", _without_leading_zeros),
    ("leading zeros and case", lambda i: _without_leading_zeros(i).casefold()),
)


def id_format_mismatches(files: dict[str, Sequence[str]]) -> list[str]:
    """Say where ids that match no id of another file differ from one of its ids only in form.

    Ids are compared as text, so ``001`` and ``1`` (or ``M1`` and ``m1``) are different
    individuals to the pipeline. For each pair of files, the ids of one that are absent from the
    other are compared with the other's absent ids after removing surrounding whitespace, then
    also case, then leading zeros: those at the start of the id and those at the start of any
    number inside it (``001`` ~ ``1``, ``M01`` ~ ``M1``, ``ID-007a`` ~ ``ID-7a``).

    Parameters
    ----------
    files : dict of str to sequence of str
        A description of each file (``"the phenotype file 'p.csv'"``) and its ids, in file order.

    Returns
    -------
    list of str
        One sentence per pair of files and kind of difference, e.g. ``"ids '001', '002' in the
        phenotype file 'p.csv' and '1', '2' in the covariate file 'c.csv' differ only by leading
        zeros"``; empty when there is no such pair.

    Examples
    --------
    >>> id_format_mismatches({"file A": ["001", "002", "7"], "file B": ["1", "2", "7"]})
    ["ids '001', '002' in file A and '1', '2' in file B differ only by leading zeros"]
    >>> id_format_mismatches({"A": ["M01", "ID-007a"], "B": ["M1", "ID-7a"]})
    ["ids 'M01', 'ID-007a' in A and 'M1', 'ID-7a' in B differ only by leading zeros"]
    """
    labels = list(files)
    id_sets = {label: set(map(str, files[label])) for label in labels}
    notes = []
    for a_pos, a in enumerate(labels):
        for b in labels[a_pos + 1:]:
            a_only = [i for i in dict.fromkeys(map(str, files[a])) if i not in id_sets[b]]
            b_only = [i for i in dict.fromkeys(map(str, files[b])) if i not in id_sets[a]]
            if not a_only or not b_only:
                continue
            claimed: set[str] = set()
            for kind, form in _ID_FORMS:
                b_by_form = {}
                for i in b_only:
                    b_by_form.setdefault(form(i), i)
                pairs = [(i, b_by_form[form(i)]) for i in a_only if i not in claimed and form(i) in b_by_form]
                if pairs:
                    claimed.update(i for i, _ in pairs)
                    notes.append(
                        f"ids {describe_ids([i for i, _ in pairs], 3)} in {a} and "
                        f"{describe_ids([j for _, j in pairs], 3)} in {b} differ only by {kind}"
                    )
    return notes


def drop_summary(data: CleanData, dropped_table: str | None = None) -> str:
    """A few lines for the terminal: who was kept, who was dropped and why, which phenotypes are not fitted.

    Parameters
    ----------
    data : CleanData
    dropped_table : str, optional
        Where the dropped individuals are listed (named only when given: the caller writes it).

    Returns
    -------
    str
        Lines without a trailing newline.
    """
    counts = data.counts
    n_kept, n_dropped = counts["individuals_kept"], counts["individuals_dropped"]
    files = (f"{counts['individuals_in_kinship']} in the kinship, {counts['individuals_in_phenotypes']} in the "
             "phenotypes" + (f", {counts['individuals_in_covariates']} in the covariates"
                             if counts.get("individuals_in_covariates") is not None else ""))
    lines = [f"Individuals: {files}; {counts['individuals_in_all_files']} in all files; "
             f"{n_kept} kept, {n_dropped} dropped"
             + (f" (each listed with its reason in {dropped_table})" if n_dropped and dropped_table else "")
             + "."]
    for reason, k in counts["individuals_dropped_by_reason"].items():
        ids = data.dropped.loc[data.dropped["reason"] == reason, "id"].tolist()
        lines.append(f"  dropped {k}: {reason} (ids {describe_ids(ids, 3)})")
    for note in data.id_notes:
        lines.append(f"  note: {note}; ids are compared as text, so these are different individuals: "
                     "write them the same way in every file")
    table = data.phenotype_table
    not_ok = table[table["status"] != "ok"]
    lines.append(f"Phenotypes: {len(table)} selected, {len(table) - len(not_ok)} to fit"
                 + (f", {len(not_ok)} not fitted:" if len(not_ok) else "."))
    for status, group in not_ok.groupby("status", sort=False):
        lines.append(f"  {status}: {describe_ids(group['phenotype'].tolist())}")
    return "\n".join(lines)


def clean_inputs(
    kinship_ids: np.ndarray,
    kinship: np.ndarray,
    phenotypes: pd.DataFrame,
    covariates: pd.DataFrame | None,
    *,
    phenotype_columns: Sequence[str] | None = None,
    covariate_columns: Sequence[str] | None = None,
    transform: str = "none",
    paths: dict | None = None,
) -> CleanData:
    """Align the three inputs by id, drop unusable individuals, check covariates, classify phenotypes.

    Parameters
    ----------
    kinship_ids : numpy.ndarray of str, shape (N,)
    kinship : numpy.ndarray, shape (N, N)
        As returned by :func:`lmm.pipeline.io.read_kinship`.
    phenotypes : pandas.DataFrame
        Indexed by id (:func:`lmm.pipeline.io.read_table`).
    covariates : pandas.DataFrame or None
        Indexed by id; None for no covariate file (intercept only).
    phenotype_columns, covariate_columns : sequence of str, optional
        Columns to use (default: all, in file order).
    transform : {'none', 'standardize', 'rank_inverse_normal'}
        Applied to the ``ok`` phenotypes after the individuals are settled.
    paths : dict, optional
        ``{'kinship': ..., 'phenotypes': ..., 'covariates': ...}`` file names for messages.

    Returns
    -------
    CleanData

    Raises
    ------
    InputError
        Non-numeric or infinite values, unknown columns, no individual in all three files, fewer
        than ``p + 2`` individuals left, or bad covariates (see :func:`prepare_covariates`).
    """
    paths = {"kinship": "kinship", "phenotypes": "phenotypes", "covariates": "covariates", **(paths or {})}
    pheno_cols, Y_all = _phenotype_values(phenotypes, phenotype_columns, paths["phenotypes"])
    covar_cols, C_all = _covariate_values(covariates, covariate_columns, paths["covariates"])
    files = _FileIds.of(kinship_ids, phenotypes, covariates)
    drops = _DropRecord(files)
    in_all = _ids_in_all_files(files, drops)
    id_notes = _id_notes(files, paths) if len(in_all) < len(files.universe()) else ()
    if not in_all:
        raise _no_common_ids(files, id_notes)

    Y = Y_all[_positions(files.phenotypes, in_all)]
    C = C_all[_positions(files.covariates, in_all)] if C_all is not None else np.empty((len(in_all), 0))
    _check_covariates_present(C, covar_cols, paths["covariates"], len(in_all))
    keep = _usable_individuals(in_all, Y, C, covar_cols, drops)
    ids, Y, C = [i for i, k in zip(in_all, keep) if k], Y[keep], C[keep]
    if len(ids) < len(covar_cols) + 2:
        _too_few(ids, len(covar_cols) + 2, files, drops.records, id_notes)
    X, x_names, intercept, added = prepare_covariates(
        C, covar_cols, path=paths["covariates"] if covariates is not None else None)
    if len(ids) < X.shape[1] + 2:
        _too_few(ids, X.shape[1] + 2, files, drops.records, id_notes)

    status, n_obs = phenotype_status(Y, X.shape[1])
    Y = transform_phenotypes(Y, transform, [j for j, s in enumerate(status) if s == "ok"])
    rows_k = _positions(files.kinship, ids)
    K = kinship[np.ix_(rows_k, rows_k)]
    dropped = drops.table()
    return CleanData(
        ids=np.asarray(ids, dtype=str),
        kinship=K,
        phenotypes=Y,
        phenotype_names=tuple(pheno_cols),
        covariates=X,
        covariate_names=tuple(x_names),
        intercept=intercept,
        intercept_added=added,
        dropped=dropped,
        phenotype_table=pd.DataFrame({"phenotype": pheno_cols, "n_observed": n_obs, "status": status}),
        counts=_counts(files, in_all, ids, dropped, pheno_cols, status, x_names, id_notes),
        kinship_mean_diagonal=float(np.mean(np.diag(K))),
        id_notes=id_notes,
    )


def _phenotype_values(phenotypes: pd.DataFrame, requested: Sequence[str] | None,
                      path: str) -> tuple[list[str], np.ndarray]:
    """The selected phenotype columns and their values (file rows), checked numeric; at least one."""
    columns = select_columns(phenotypes, requested, role="phenotype", path=path, key="phenotype_columns")
    if not columns:
        raise InputError(f"The phenotype file '{path}' has no phenotype column besides the ids.")
    return columns, check_numeric(phenotypes, columns, role="phenotype", path=path)


def _covariate_values(covariates: pd.DataFrame | None, requested: Sequence[str] | None,
                      path: str) -> tuple[list[str], np.ndarray | None]:
    """The selected covariate columns and their values (file rows), checked numeric; none without a file."""
    if covariates is None:
        if requested:
            raise InputError("Config 'covariate_columns' is set but config 'covariates' names no file.")
        return [], None
    columns = select_columns(covariates, requested, role="covariate", path=path, key="covariate_columns")
    return columns, check_numeric(covariates, columns, role="covariate", path=path)


@dataclass(frozen=True)
class _FileIds:
    """The ids of each input file, in file order (``covariates`` None without a covariate file)."""

    kinship: list[str]
    phenotypes: list[str]
    covariates: list[str] | None

    @classmethod
    def of(cls, kinship_ids, phenotypes: pd.DataFrame, covariates: pd.DataFrame | None) -> _FileIds:
        return cls([str(i) for i in kinship_ids], [str(i) for i in phenotypes.index],
                   [str(i) for i in covariates.index] if covariates is not None else None)

    def universe(self) -> list[str]:
        """Every id seen anywhere, in order of first appearance: phenotypes, covariates, kinship."""
        return list(dict.fromkeys(self.phenotypes + (self.covariates or []) + self.kinship))

    def described(self, paths: dict) -> dict[str, list[str]]:
        """Each file, described for a message, and its ids."""
        out = {f"the kinship file '{paths['kinship']}'": self.kinship,
               f"the phenotype file '{paths['phenotypes']}'": self.phenotypes}
        if self.covariates is not None:
            out[f"the covariate file '{paths['covariates']}'"] = self.covariates
        return out


class _DropRecord:
    """The dropped individuals, in the order they are dropped: id, presence in each file, reason."""

    def __init__(self, files: _FileIds):
        self.kinship, self.phenotypes = set(files.kinship), set(files.phenotypes)
        self.covariates = set(files.covariates) if files.covariates is not None else None
        self.records: list[dict] = []

    def absent_from(self, i: str) -> list[str]:
        """The files (``kinship``, ``phenotypes``, ``covariates``) that lack id `i`."""
        return [name for name, ids in (("kinship", self.kinship), ("phenotypes", self.phenotypes),
                                       ("covariates", self.covariates)) if ids is not None and i not in ids]

    def add(self, i: str, reason: str) -> None:
        self.records.append({
            "id": i,
            "in_kinship": i in self.kinship,
            "in_phenotypes": i in self.phenotypes,
            "in_covariates": (i in self.covariates) if self.covariates is not None else True,
            "reason": reason,
        })

    def table(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(
            self.records, columns=["id", "in_kinship", "in_phenotypes", "in_covariates", "reason"])


def _ids_in_all_files(files: _FileIds, drops: _DropRecord) -> list[str]:
    """The ids present in every file (phenotype file order first); each other one is recorded as
    dropped, with the files it is absent from."""
    in_all = []
    for i in files.universe():
        absent = drops.absent_from(i)
        if absent:
            drops.add(i, "absent from " + " and ".join(absent))
        else:
            in_all.append(i)
    return in_all


def _id_notes(files: _FileIds, paths: dict) -> tuple[str, ...]:
    """:func:`id_format_mismatches` between the files."""
    return tuple(id_format_mismatches(files.described(paths)))


def _no_common_ids(files: _FileIds, id_notes: Sequence[str]) -> InputError:
    """The error when no individual is in every file (with examples of each file's ids)."""
    msg = (f"No individual is in all input files: kinship ids look like {describe_ids(files.kinship, 3)}, "
           f"phenotype ids like {describe_ids(files.phenotypes, 3)}")
    if files.covariates is not None:
        msg += f", covariate ids like {describe_ids(files.covariates, 3)}"
    msg += ". Check config 'id_column' and that the files describe the same individuals"
    return InputError(msg + (f" ({'; '.join(id_notes)})." if id_notes else "."))


def _positions(file_ids: Sequence[str], ids: Sequence[str]) -> np.ndarray:
    """Row of each of `ids` in a file whose rows have `file_ids`."""
    pos = {i: k for k, i in enumerate(file_ids)}
    return np.array([pos[i] for i in ids], dtype=np.int64)


def _usable_individuals(ids: Sequence[str], Y: np.ndarray, C: np.ndarray, covariate_names: Sequence[str],
                        drops: _DropRecord) -> np.ndarray:
    """Which individuals to keep: not those with a missing covariate, then not those with no
    phenotype value (each recorded with its reason)."""
    keep = np.ones(len(ids), dtype=bool)
    missing_cov = np.isnan(C)
    for k in np.flatnonzero(missing_cov.any(axis=1)):
        cols = [covariate_names[j] for j in np.flatnonzero(missing_cov[k])]
        drops.add(ids[k], "missing covariate " + ", ".join(cols))
        keep[k] = False
    for k in np.flatnonzero(np.isnan(Y).all(axis=1) & keep):
        drops.add(ids[k], "no value for any selected phenotype")
        keep[k] = False
    return keep


def _counts(files: _FileIds, in_all: Sequence[str], ids: Sequence[str], dropped: pd.DataFrame,
            phenotype_names: Sequence[str], status: Sequence[str], covariate_names: Sequence[str],
            id_notes: Sequence[str]) -> dict:
    """The numbers of :attr:`CleanData.counts`."""
    reasons = dropped["reason"].value_counts(sort=False)
    return {
        "individuals_in_kinship": len(files.kinship),
        "individuals_in_phenotypes": len(files.phenotypes),
        "individuals_in_covariates": len(files.covariates) if files.covariates is not None else None,
        "individuals_in_all_files": len(in_all),
        "individuals_kept": len(ids),
        "individuals_dropped": int(len(dropped)),
        "individuals_dropped_by_reason": {str(k): int(v) for k, v in reasons.items()},
        "phenotypes_selected": len(phenotype_names),
        "phenotypes_by_status": {s: int(status.count(s)) for s in STATUSES if s in status},
        "covariates": len(covariate_names),
        "ids_differing_only_in_form": len(id_notes),
    }


def _check_covariates_present(C: np.ndarray, names: Sequence[str], path: str | None, n: int) -> None:
    """A covariate column with no value for any individual in all files is an error naming it."""
    if C.shape[1] == 0 or n == 0:
        return
    empty = [names[j] for j in np.flatnonzero(np.isnan(C).all(axis=0))]
    if empty:
        raise InputError(
            f"Covariate column(s) {describe_ids(empty)} in the covariate file '{path}' have no value for "
            f"any of the {n} individuals in all files (every cell is empty or one of config "
            "'na_values'), so every individual would be dropped. Fill the column in, or leave it out "
            "with config 'covariate_columns'."
        )


def _too_few(ids, needed, files: _FileIds, records, id_notes):
    """Stop: fewer than `needed` individuals are left (with the counts of each file and each reason)."""
    reasons: dict[str, int] = {}
    for r in records:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    why = "; ".join(f"{k} {reason}" for reason, k in reasons.items())
    raise InputError(
        f"Only {len(ids)} individuals are left after aligning the files and dropping those with "
        f"missing covariates or no phenotype value (of {len(files.kinship)} in the kinship, "
        f"{len(files.phenotypes)} in the phenotypes"
        + (f", {len(files.covariates)} in the covariates" if files.covariates is not None else "")
        + f"): too few to fit anything (at least {needed} are needed). Dropped: {why or 'none'}."
        + (f" Note: {'; '.join(id_notes)} (ids are compared as text)." if id_notes else "")
    )

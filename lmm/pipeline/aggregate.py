"""Combine the per-chunk fits into one table with a row for every input phenotype.

The table (``results/heritability.tsv``) lists the phenotypes in the input's column order. Fitted
phenotypes carry their estimates; the others carry their ``status`` (why they were not fitted)
and ``NA`` estimates. Every ``status`` is a key of :data:`lmm.STATUSES` (the one list of
statuses, with their descriptions). Floats are written with :data:`FLOAT_FORMAT` and missing
values as ``NA``, so the same data give byte-identical files.

``sigmasq``, ``sigmasq_g``, ``sigmasq_e`` and the ``beta_<covariate>`` columns are those of the
data ``y·2^−y_scale_log2``: ``y_scale_log2`` is 0 (the data's own units) wherever float64 holds
them, and the phenotype's scaling exponent (with status ``scale_overflow`` or
``scale_underflow``) where it does not, e.g. for phenotypes ×1e200 (``σ² ≈ 1e400``) or ×1e-200;
``hsq``, its interval and ``loglik`` are in the data's units in every case
(:attr:`lmm.FitResult.y_scale_log2`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.result import STATUSES
from lmm.errors import InputError
from lmm.pipeline.partition import Batch

__all__ = ["FLOAT_FORMAT", "TABLE_COLUMNS", "heritability_table", "status_summary", "profile_table"]

#: ``%``-format of every float in the final tables (10 significant digits).
FLOAT_FORMAT = "%.10g"

#: The final table's columns, before one ``beta_<covariate>`` column per covariate and the last,
#: ``covariates_dropped``.
TABLE_COLUMNS = ["phenotype", "status", "batch", "chunk", "strategy", "n", "hsq", "hsq_se", "hsq_ci_lower",
                 "hsq_ci_upper", "ci_cutoff", "sigmasq", "sigmasq_g", "sigmasq_e", "y_scale_log2", "loglik",
                 "boundary", "converged", "method"]

def heritability_table(assignments: pd.DataFrame, fits: Sequence[pd.DataFrame],
                       covariate_names: Sequence[str], batches: Sequence[Batch] = ()) -> pd.DataFrame:
    """Merge chunk results into one row per phenotype, in input order.

    Parameters
    ----------
    assignments : pandas.DataFrame
        :func:`lmm.pipeline.partition.phenotype_assignments`: ``phenotype, status, n_observed, batch, chunk``.
    fits : sequence of pandas.DataFrame
        The tables of :func:`lmm.pipeline.batch.fit_chunk`, one per chunk (``converged`` as the
        text ``true``/``false`` or as booleans, as a table read back gives it).
    covariate_names : sequence of str
        All covariates (intercept included), in order; one ``beta_<name>`` column each.
    batches : sequence of lmm.pipeline.partition.Batch, optional
        The partition's batches, for the ``covariates_dropped`` column.

    Returns
    -------
    pandas.DataFrame
        :data:`TABLE_COLUMNS`, ``beta_<covariate>``..., ``covariates_dropped``.

    Raises
    ------
    InputError
        A phenotype assigned to a chunk has no result, a result belongs to no phenotype, or a
        status is not in :data:`lmm.STATUSES` (stale intermediate files: rerun the workflow).
    """
    beta_cols = [f"beta_{c}" for c in covariate_names]
    fitted = pd.concat(list(fits), ignore_index=True) if len(fits) else pd.DataFrame(columns=["phenotype"])
    fitted = fitted.set_index("phenotype", drop=False)
    expected = assignments.loc[assignments["batch"].notna(), "phenotype"].tolist()
    missing = [p for p in expected if p not in fitted.index]
    extra = [p for p in fitted.index if p not in set(expected)]
    if missing or extra:
        raise InputError(
            f"The fit results do not match the partition (missing {missing[:5]}, unexpected {extra[:5]}); "
            "rerun the workflow so every stage is up to date.")
    dropped = {b.name: ",".join(b.covariates_dropped) for b in batches}
    rows = []
    for rec in assignments.itertuples(index=False):
        row = {c: np.nan for c in TABLE_COLUMNS + beta_cols}
        row.update(phenotype=rec.phenotype, status=rec.status, n=int(rec.n_observed), batch=None,
                   chunk=None, strategy=None, boundary=None, converged=None, method=None,
                   covariates_dropped=None)
        if isinstance(rec.batch, str):
            f = fitted.loc[rec.phenotype]
            row.update(batch=rec.batch, chunk=rec.chunk, strategy=getattr(rec, "strategy", None),
                       status=f["status"], n=int(f["n"]), covariates_dropped=dropped.get(rec.batch) or None)
            for c in TABLE_COLUMNS[6:] + beta_cols:
                if c in f.index:
                    row[c] = f[c]
        rows.append(row)
    table = pd.DataFrame.from_records(rows, columns=TABLE_COLUMNS + beta_cols + ["covariates_dropped"])
    for c in ["hsq", "hsq_se", "hsq_ci_lower", "hsq_ci_upper", "ci_cutoff", "sigmasq", "sigmasq_g", "sigmasq_e",
              "loglik"] + beta_cols:
        table[c] = pd.to_numeric(table[c], errors="coerce").astype(np.float64)
    table["y_scale_log2"] = pd.to_numeric(table["y_scale_log2"], errors="coerce").astype("Int64")
    table["n"] = table["n"].astype(np.int64)
    unknown = sorted(set(table["status"]) - set(STATUSES))
    if unknown:
        raise InputError(f"Unknown status value(s) {unknown[:5]} in the fit results (known: "
                         f"{', '.join(STATUSES)}); rerun the workflow so every stage is up to date.")
    table["converged"] = table["converged"].map(_flag_text, na_action="ignore")
    for c in ["batch", "chunk", "strategy", "boundary", "converged", "method", "covariates_dropped"]:
        table[c] = table[c].astype(object).where(table[c].notna(), None)
    return table


def status_summary(table: pd.DataFrame, path: str = "results/heritability.tsv") -> str:
    """The terminal's summary of a heritability table: counts by status, and what each status other
    than ``ok`` means (from :data:`lmm.STATUSES`).

    >>> t = pd.DataFrame({"status": ["ok", "constant", "ok"]})
    >>> print(status_summary(t, "h.tsv"))
    heritability: 3 phenotypes (h.tsv): 2 ok, 1 constant
      constant: a single distinct observed value; not fitted
    """
    counts = table["status"].value_counts()
    order = [s for s in STATUSES if s in counts.index]
    lines = [f"heritability: {len(table)} phenotypes ({path}): "
             + ", ".join(f"{int(counts[s])} {s}" for s in order)]
    lines += [f"  {s}: {STATUSES[s]}" for s in order if s != "ok"]
    return "\n".join(lines)


def _flag_text(value) -> str | None:
    """A flag as the tables write it: ``true`` or ``false`` (a bool, or that text read back)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return value


def profile_table(assignments: pd.DataFrame, profiles: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunk profiles (``phenotype, hsq, loglik``), phenotypes in input order.

    Within a phenotype the grid order is kept.
    """
    if not len(profiles):
        return pd.DataFrame({"phenotype": [], "hsq": [], "loglik": []})
    prof = pd.concat(list(profiles), ignore_index=True)
    order = {p: k for k, p in enumerate(assignments["phenotype"])}
    key = prof["phenotype"].map(order)
    prof = prof.assign(_order=key, _row=np.arange(len(prof))).sort_values(["_order", "_row"], kind="stable")
    return prof.drop(columns=["_order", "_row"]).reset_index(drop=True)

"""The effects stages' logic: QTL effects at the scan's peaks (``results/scan/effects.tsv``), along
the chromosomes with peaks (``coef.parquet``, config ``effects: chromosomes``) and the curves of
the effect figures, from the scan's own decompositions and null hsq.

The numbers are :func:`lmm.effects.fit_effects` (R/qtl2's ``fit1`` and ``scan1blup``, batched);
this module decides which individuals, decomposition, covariates and null hsq each peak uses, and
writes the tables.

Mapping from the scan to R/qtl2's model
---------------------------------------
* **Individuals and decomposition**: those of the phenotype's scan (its missing-data batch of
  :mod:`lmm.pipeline.partition`): a ``decompose`` batch's own decomposition of the chromosome's
  kinship, or, for a ``schur`` batch, the complete batch's with one indicator per missing
  individual (exact: the complete cases' fit). Peaks are fitted together per (chromosome, batch):
  one rotation of the chromosome's genotypes per batch, then small batched solves.
* **Null hsq**: the scan's LOCO hsq of the phenotype on the peak's chromosome
  (``results/scan/hsq.tsv``), the one R/qtl2's ``fit1``/``scan1coef``/``scan1blup`` estimate
  themselves (same model: intercept and covariates, REML or ML as configured).
* **Covariates**: the batch's covariates. The workflow's covariates hold the intercept column
  (the one constant column, :func:`lmm.pipeline.clean.prepare_covariates`); R/qtl2's ``addcovar``
  does not. With allele probabilities the intercept column is left out (the alleles span it, as
  in qtl2); with dosages it stays, as ``intercept``.
* **Coefficients** (rows of the tables, in this order): probabilities, the alleles (centred:
  zerosum) then the covariates by name then ``intercept`` (the alleles' mean), R/qtl2's
  ``fit1(zerosum = TRUE)``; dosages, ``dosage`` (the effect per copy of the marker's counted
  allele, ``allele`` in ``results/genotypes/markers.tsv``), the covariates, ``intercept``.
  ``se`` is fit1's (the covariance transformed, R/qtl2 0.42+), ``blup``/``blup_se``
  scan1blup's (the covariates and intercept: their GLS estimates given the QTL variance).
* **Missing phenotype values**: each phenotype on its complete cases, as qtl2 does per column.
* **X chromosomes**: the chromosome's own genotype columns (an F2's ``SS, SB, BS, BB, SY, BY``);
  the X covariates (config ``x_covariates``) are in the null hsq and the LOD's null but not in the
  fit, which the genotype columns span: R/qtl2's ``fit1(…, nullcovar = Xcovar)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

import lmm
from lmm.effects import fit_effects
from lmm.errors import InputError
from lmm.pipeline.partition import Partition

__all__ = ["PLOT_PEAKS", "EFFECT_COLUMNS", "COEF_COLUMNS", "CURVE_COLUMNS", "intercept_column",
           "peak_effects", "peak_data", "plotted_peaks", "figure_stem"]

#: The effect figures show the strongest peaks (highest LOD first), at most this many: 12 pairs of
#: figures keep the report readable and the stage's cost small; effects.tsv has every peak.
PLOT_PEAKS = 12

EFFECT_COLUMNS = ["phenotype", "chr", "marker", "pos", "lod", "coefficient", "estimate", "se", "blup", "blup_se"]
COEF_COLUMNS = ["phenotype", "chr", "marker", "pos", "coefficient", "estimate", "se", "blup", "blup_se"]
CURVE_COLUMNS = ["rank", "phenotype", "chr", "marker", "pos", "lod", "coefficient", "estimate", "se"]


def intercept_column(names: Sequence[str], values: np.ndarray) -> int:
    """Position of the intercept among the cleaned covariates: the one constant column."""
    values = np.asarray(values, dtype=float)
    constant = [j for j in range(values.shape[1]) if values.shape[0] and np.all(values[:, j] == values[0, j])]
    if len(constant) != 1:
        raise InputError(f"the cleaned covariates {list(names)} have {len(constant)} constant columns, "
                         "not one intercept: rerun load_and_clean")
    return constant[0]


def plotted_peaks(peaks: pd.DataFrame, limit: int = PLOT_PEAKS) -> pd.DataFrame:
    """The peaks the figures show: the highest LOD first (ties: table order), at most `limit`."""
    lod = peaks["lod"].astype(float).fillna(-np.inf)
    order = np.argsort(-lod.to_numpy(), kind="stable")[:limit]
    return peaks.iloc[order].reset_index(drop=True).assign(rank=np.arange(1, min(limit, len(peaks)) + 1))


def figure_stem(rank: int, phenotype: str, chrom: str) -> str:
    """``01_<phenotype>_chr<chr>``: a file name (characters other than letters, digits, ``._-`` → ``_``)."""
    return f"{rank:02d}_{re.sub(r'[^A-Za-z0-9._-]', '_', str(phenotype))}_chr{chrom}"


class _Context:
    """What every chromosome needs: the cleaned data, the store, the partition, the null hsq."""

    def __init__(self, store, data: Mapping, partition: Partition, hsq: pd.DataFrame,
                 x_covariates: np.ndarray | None = None):
        self.store = store
        self.x_covariates = x_covariates if x_covariates is not None and x_covariates.shape[1] else None
        self.clean_pos = {str(i): k for k, i in enumerate(data["ids"].tolist())}
        self.store_pos = {str(i): k for k, i in enumerate(store.ids.tolist())}
        self.ppos = {str(p): j for j, p in enumerate(data["phenotype_names"].tolist())}
        self.cnames = [str(c) for c in data["covariate_names"].tolist()]
        self.Y = np.asarray(data["phenotypes"], dtype=float)
        self.C = np.asarray(data["covariates"], dtype=float)
        self.intercept = self.cnames[intercept_column(self.cnames, self.C)]
        self.partition = partition
        self.batch_of = {a.phenotype: a.batch for a in partition.phenotypes}
        self.hsq = dict(zip(zip(hsq["phenotype"].astype(str).tolist(), hsq["chr"].astype(str).tolist()),
                            hsq["hsq"].to_numpy(dtype=float).tolist()))

    def unit(self, phenotype: str):
        """The phenotype's batch, and the batch whose decomposition its scan used."""
        if phenotype not in self.batch_of:
            raise InputError(f"phenotype '{phenotype}' of the peaks is not in the partition: rerun the scan")
        batch = self.partition.batch(self.batch_of[phenotype])
        unit = batch if batch.strategy == "decompose" else self.partition.complete_batch()
        return batch, unit

    def null_hsq(self, phenotype: str, chrom: str) -> float:
        key = (phenotype, chrom)
        if key not in self.hsq or not np.isfinite(self.hsq[key]):
            raise InputError(f"no null hsq for phenotype '{phenotype}' on chromosome {chrom} in the scan's hsq table")
        return self.hsq[key]


def _chromosome_fits(ctx: _Context, eigen: Mapping, chrom: str, requests: Sequence[tuple], *, blup: bool) -> dict:
    """Fit ``requests`` — (key, phenotype, marker index or None for every marker) — on one chromosome.

    Requests are grouped by the phenotype's decomposition and covariates (the batches sharing
    them, each phenotype with its own missing individuals): per group one
    :func:`lmm.effects.fit_effects` call. Returns ``{key: (EffectsResult, rows)}``.
    """
    store = ctx.store
    markers = store.markers[store.markers["chr"] == str(chrom)]
    q, width = len(markers), store.n_alleles_of(chrom)      # an F2's X has its own genotype columns
    cols = store.columns(chrom)
    groups: dict[tuple, list] = {}
    for req in requests:
        batch, unit = ctx.unit(req[1])
        groups.setdefault((unit.name, tuple(batch.covariates_used)), []).append(req)
    out = {}
    for reqs in groups.values():
        batch, unit = ctx.unit(reqs[0][1])
        ids = [str(i) for i in eigen[f"ids__{unit.name}"].tolist()]
        rows = np.array([ctx.clean_pos[i] for i in ids], dtype=np.intp)
        srows = np.array([ctx.store_pos[i] for i in ids], dtype=np.intp)
        phenos = list(dict.fromkeys(r[1] for r in reqs))
        y = ctx.Y[np.ix_(rows, [ctx.ppos[p] for p in phenos])]
        # a decompose batch's individuals are its observed ones; a schur batch misses some of the complete batch's
        at_id = {i: r for r, i in enumerate(ids)}
        for j, p in enumerate(phenos):
            y[[at_id[i] for i in map(str, ctx.unit(p)[0].missing_ids) if i in at_id], j] = np.nan
        covs = [c for c in batch.covariates_used if c != ctx.intercept]   # fit_effects has its own
        X = ctx.C[np.ix_(rows, [ctx.cnames.index(c) for c in covs])]
        # only the markers asked for are read (a whole chromosome only for the curves and coef)
        need = np.arange(q) if any(r[2] is None for r in reqs) else np.unique([r[2] for r in reqs])
        at = np.full(q, -1)
        at[need] = np.arange(need.size)
        lines = (cols.start + need[:, None] * width + np.arange(width)[None, :]).ravel()
        G = np.asarray(store.genotypes[lines][:, srows].T, dtype=float).reshape(len(ids), need.size, width)
        pi, mi, spans = [], [], []
        column = {p: j for j, p in enumerate(phenos)}
        for req in reqs:
            j = column[req[1]]
            marks = np.arange(q) if req[2] is None else np.array([req[2]])
            spans.append((req[0], len(pi), marks.size))
            pi.extend([j] * marks.size)
            mi.extend(at[marks].tolist())
        dec = lmm.EigenDecomposition(eigen[f"kva__{unit.name}"], eigen[f"kve_t__{unit.name}"])
        hsq = np.array([ctx.null_hsq(p, str(chrom)) for p in phenos])
        # on X, its covariates are in the scan's null (and hsq) but not the fit: fit1's nullcovar
        null = ctx.x_covariates[rows] if ctx.x_covariates is not None and store.is_x(chrom) else None
        try:
            res = fit_effects(dec, hsq, y, G, X, pairs=(pi, mi), blup=blup, covar_names=covs,
                              allele_names=store.alleles_of(chrom) if width > 1 else None, null_covar=null)
        except InputError as exc:
            raise InputError(f"QTL effects on chromosome {chrom}, phenotypes {', '.join(phenos)}: {exc}") from None
        for key, start, size in spans:
            out[key] = (res, slice(start, start + size))
    return out


def _long(res, rows, head: Mapping, *, blup: bool) -> dict:
    """Columns (arrays) of one row per fit and coefficient: ``head`` (scalars or one value per fit),
    ``coefficient, estimate, se[, blup, blup_se]``; `rows` (a slice or an index array) the fits."""
    c = len(res.names)
    m = rows.stop - rows.start if isinstance(rows, slice) else len(rows)
    cols = {key: np.repeat(np.asarray(value), c) if np.ndim(value) else np.full(m * c, value, dtype=object)
            for key, value in head.items()}
    cols["coefficient"] = np.tile(np.asarray(res.names, dtype=object), m)
    cols["estimate"] = res.coef[rows].ravel()
    cols["se"] = res.se[rows].ravel()
    if blup:
        cols["blup"] = res.blup[rows].ravel()
        cols["blup_se"] = res.blup_se[rows].ravel()
    return cols


def _frame(parts: Sequence[dict], columns: Sequence[str]) -> pd.DataFrame:
    """One table from :func:`_long`'s column dicts (an empty table with `columns` when none)."""
    if not parts:
        return pd.DataFrame(columns=list(columns))
    return pd.DataFrame({key: np.concatenate([p[key] for p in parts]) for key in columns})


def peak_effects(peaks: pd.DataFrame, hsq: pd.DataFrame, eigen_of: Callable[[str], Mapping], store,
                 data: Mapping, partition: Partition, *, along: bool = False,
                 plot_limit: int = PLOT_PEAKS, x_covariates: np.ndarray | None = None) -> dict:
    """QTL effects at every peak, the curves of the plotted peaks and (``along``) every coefficient
    along the chromosomes with peaks.

    Parameters
    ----------
    peaks, hsq : pandas.DataFrame
        ``results/scan/peaks.tsv`` and ``hsq.tsv``.
    eigen_of : callable
        Chromosome → the scan's decompositions of its kinship (``scan_decompose``'s arrays of that
        chromosome: ``ids__<batch>``, ``kva__<batch>``, ``kve_t__<batch>``).
    store : GenotypeStore
    data : mapping
        ``cleaned.npz``.
    partition : Partition
    along : bool
        Also ``coef`` (config ``effects: chromosomes``): every marker of each (phenotype,
        chromosome) with a peak, estimates, SEs and BLUPs (R/qtl2's scan1coef, with fit1's SEs,
        and scan1blup).
    plot_limit : int
        Peaks whose curves are returned (:func:`plotted_peaks`).
    x_covariates : ndarray, shape (N, r), optional
        The X chromosomes' covariates (``results/clean/x_covariates.npz``, rows the cleaned ids):
        on X in the null of the LOD only, as the scan's null and R/qtl2's ``fit1(nullcovar =)``.

    Returns
    -------
    dict of pandas.DataFrame
        ``effects`` (:data:`EFFECT_COLUMNS`; peaks in the order of `peaks`, coefficients in the
        module's order), ``curves`` (:data:`CURVE_COLUMNS`: fixed effects and fit1's LOD at every
        marker of each plotted peak's chromosome), and with ``along`` ``coef`` (:data:`COEF_COLUMNS`).
    """
    ctx = _Context(store, data, partition, hsq, x_covariates)
    peaks = peaks.reset_index(drop=True).assign(phenotype=lambda f: f["phenotype"].astype(str),
                                                chr=lambda f: f["chr"].astype(str))
    plotted = plotted_peaks(peaks, plot_limit)
    parts = [_chromosome_tables(ctx, peaks, plotted, eigen_of, along, chrom) for chrom in dict.fromkeys(peaks["chr"])]
    effects = [e for part in parts for e in part[0]]
    curves = [c for part in parts for c in part[1]]
    table = _frame([f for _, f in effects], EFFECT_COLUMNS)
    if len(table):                    # in the order of `peaks`, each peak's coefficients together
        row_peak = np.concatenate([np.repeat(ts, len(f["estimate"]) // len(ts)) for ts, f in effects])
        table = table.iloc[np.argsort(row_peak, kind="stable")].reset_index(drop=True)
    out = {"effects": table, "curves": _frame([f for _, f in sorted(curves, key=lambda rf: rf[0])], CURVE_COLUMNS)}
    if along:
        out["coef"] = _frame([c for part in parts for c in part[2]], COEF_COLUMNS)
    return out


def _chromosome_tables(ctx: _Context, peaks: pd.DataFrame, plotted: pd.DataFrame, eigen_of: Callable[[str], Mapping],
                       along: bool, chrom: str) -> tuple[list, list, list]:
    """:func:`peak_effects`' rows of one chromosome: ``[(rows of its peaks in peaks, their effects)]``,
    ``[(rank, curve)]`` and the ``coef`` parts (:func:`_long`'s columns)."""
    store = ctx.store
    effects, curves, coef = [], [], []
    mk = store.markers[store.markers["chr"] == chrom].reset_index(drop=True)
    index = {m: k for k, m in enumerate(mk["marker"])}
    on = peaks[peaks["chr"] == chrom]
    missing = [m for m in on["marker"] if m not in index]
    if missing:
        raise InputError(f"peak marker(s) {', '.join(missing[:5])} of chromosome {chrom} are not in the genotype "
                         "intermediate: rerun the scan")
    eigen = eigen_of(chrom)
    fits = _chromosome_fits(ctx, eigen, chrom, [(("peak", t), r.phenotype, index[r.marker])
                                                for t, r in zip(on.index, on.itertuples(index=False))], blup=True)
    # the peaks of each fit's result in one block of rows (the peaks' rows of `peaks` beside it)
    blocks: dict[int, tuple] = {}
    for t, r in zip(on.index, on.itertuples(index=False)):
        res, rows = fits[("peak", t)]
        blocks.setdefault(id(res), (res, []))[1].append((t, rows.start, r))
    for res, items in blocks.values():
        ts, starts, rs = zip(*items)
        head = {"phenotype": np.array([r.phenotype for r in rs], dtype=object), "chr": chrom,
                "marker": np.array([r.marker for r in rs], dtype=object),
                "pos": np.array([float(r.pos) for r in rs], dtype=object),
                "lod": np.array([float(r.lod) for r in rs], dtype=object)}
        effects.append((np.array(ts), _long(res, np.array(starts), head, blup=True)))
    pairs = list(dict.fromkeys(on["phenotype"])) if along else []
    drawn = plotted[plotted["chr"] == chrom]
    requests = [(("along", p), p, None) for p in pairs]
    requests += [(("curve", int(r.rank)), r.phenotype, None) for r in drawn.itertuples(index=False)
                 if r.phenotype not in pairs]
    fits = _chromosome_fits(ctx, eigen, chrom, requests, blup=along) if requests else {}
    for p in pairs:
        res, rows = fits[("along", p)]
        coef.append(_long(res, rows, {"phenotype": p, "chr": chrom, "marker": mk["marker"].to_numpy(),
                                      "pos": mk["pos"].to_numpy(float)}, blup=True))
    for r in drawn.itertuples(index=False):
        res, rows = fits[("along", r.phenotype)] if r.phenotype in pairs else fits[("curve", int(r.rank))]
        frame = _long(res, rows, {"rank": int(r.rank), "phenotype": r.phenotype, "chr": chrom,
                                  "marker": mk["marker"].to_numpy(), "pos": mk["pos"].to_numpy(float),
                                  "lod": res.lod[rows]}, blup=False)
        curves.append((int(r.rank), frame))
    return effects, curves, coef


def peak_data(store, data: Mapping, phenotype: str, marker: str) -> tuple[np.ndarray, np.ndarray]:
    """The phenotype (as analysed) and the genotypes ``(n, k)`` at `marker` of the individuals that
    are observed and genotyped (the phenotype-by-genotype figure)."""
    names = [str(p) for p in data["phenotype_names"].tolist()]
    if phenotype not in names:
        raise InputError(f"phenotype '{phenotype}' is not in the cleaned data: rerun the workflow")
    found = np.flatnonzero(store.markers["marker"].to_numpy() == marker)
    if found.size != 1:
        raise InputError(f"marker '{marker}' is not (once) in the genotype intermediate: rerun the workflow")
    first = int(store.markers["first_column"].iat[found[0]])
    width = int(store.markers["n_columns"].iat[found[0]])
    spos = {str(i): k for k, i in enumerate(store.ids.tolist())}
    ids = [str(i) for i in data["ids"].tolist()]
    y = np.asarray(data["phenotypes"], dtype=float)[:, names.index(phenotype)]
    keep = [k for k, i in enumerate(ids) if i in spos and not np.isnan(y[k])]
    srows = np.array([spos[ids[k]] for k in keep], dtype=np.intp)
    G = np.asarray(store.genotypes[first:first + width][:, srows].T, dtype=float)
    return y[keep], G

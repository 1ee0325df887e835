"""The eQTL stages' tables: permutation maxima per trait and region, genome-wide significance of
each trait at an FDR, and the peaks of the significant traits.

The numbers come from the core (:func:`lmm.significance.pvalue_genome`, :func:`lmm.fdr.qvalue`,
:func:`lmm.significance.genome_pvalue_cut`, :func:`lmm.significance.lod_thresholds`,
:func:`lmm.eqtl.cis_distance` through :func:`lmm.pipeline.eqtl.annotate_peaks`); this module
gathers the scan jobs' arrays into them and writes the tables.

Regions
-------
The scan decides, once, whether the X chromosomes have permutations of their own
(:func:`lmm.pipeline.genome_scan.chromosome_model`): ``thresholds.tsv`` then has the regions ``A``
and ``X`` (else ``all``). :func:`permutation_maxima_table` takes the regions from that table, so
the significance stage cannot disagree with the thresholds: with ``A`` and ``X``, a trait's
maxima in a region are the largest over its chromosomes (``X``: those of config
``x_chromosomes``), and its genome-wide p-value combines the two as
:func:`lmm.significance.pvalue_genome` does, with the regions' map lengths
(:func:`lmm.pipeline.genome_scan.region_lengths`).

q-values with few traits
------------------------
R's ``qvalue(p)`` estimates π0 on ``λ = 0.05, ..., 0.95`` and fails when the largest p-value is
below 0.95 (a few traits, most of them significant). :func:`trait_qvalues` then uses the ``λ`` of
that grid up to the largest p-value (as ``qvalue(p, lambda = ...)`` would) when there are at
least four of them, otherwise π0 = 1 (Benjamini-Hochberg's adjusted p-values, conservative); it
returns a note saying which, for the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.fdr import DEFAULT_LAMBDAS, pi0est, qvalue
from lmm.pipeline.eqtl import annotate_peaks
from lmm.pipeline.genome_scan import region_lengths
from lmm.pipeline.genotypes.chromosomes import canonical_chromosome
from lmm.scan import lod_to_pvalue
from lmm.significance import genome_pvalue_cut, lod_thresholds, pvalue_genome

__all__ = ["REGIONS", "region_names", "chromosome_regions", "permutation_maxima_table", "trait_qvalues",
           "Significance", "significance_table", "eqtl_peaks"]

#: The two ways the scan's permutations cover the genome: one region, or autosomes and X apart.
REGIONS = (("all",), ("A", "X"))


def region_names(thresholds: pd.DataFrame) -> tuple:
    """The regions of the scan's permutations, from ``thresholds.tsv`` (``region`` column)."""
    found = set(thresholds["region"].astype(str))
    for regions in REGIONS:
        if found == set(regions):
            return regions
    if not found:
        raise InputError("thresholds.tsv has no row: the scan ran without permutations (scan_permutations 0), "
                         "so no genome-wide significance can be computed.")
    raise InputError(f"thresholds.tsv has the regions {sorted(found)}; expected 'all', or 'A' and 'X'")


def chromosome_regions(chromosomes: Sequence[str], regions: Sequence[str], x_chromosomes: Sequence[str]) -> dict:
    """``{chromosome: region}``: ``all``, or ``X`` for config ``x_chromosomes`` and ``A`` otherwise."""
    if tuple(regions) == ("all",):
        return {str(c): "all" for c in chromosomes}
    xs = {canonical_chromosome(c) for c in x_chromosomes}
    return {str(c): "X" if str(c) in xs else "A" for c in chromosomes}


def permutation_maxima_table(chromosomes: Sequence[str], chunk_results: Sequence[Sequence[Mapping]],
                             phenotypes: Sequence[str], regions: Sequence[str],
                             x_chromosomes: Sequence[str]) -> pd.DataFrame:
    """Each trait's permutation maxima per region and replicate.

    Parameters
    ----------
    chromosomes : sequence of str
        Genome order.
    chunk_results : sequence (per chromosome) of sequences (per chunk) of mappings
        The scan jobs' ``perm_max`` arrays, (n_perm_c, m_chunk) each
        (:func:`lmm.pipeline.genome_scan.read_scan_results`).
    phenotypes : sequence of str
        The chunks' phenotypes, concatenated.
    regions : sequence of str
        :func:`region_names`.
    x_chromosomes : sequence of str

    Returns
    -------
    pandas.DataFrame
        ``region``, ``replicate`` (0-based), then one float64 column per phenotype: the largest
        permuted LOD over the region's chromosomes (NaN where the trait has none). Rows region by
        region (``A`` then ``X``), replicates in order.
    """
    where = chromosome_regions(chromosomes, regions, x_chromosomes)
    blocks = []
    for region in regions:
        per_chr = [np.hstack([np.asarray(r["perm_max"], dtype=float) for r in results])
                   for chrom, results in zip(chromosomes, chunk_results) if where[str(chrom)] == region]
        if not per_chr:
            raise InputError(f"region {region!r} of thresholds.tsv has no scanned chromosome")
        sizes = {p.shape[0] for p in per_chr}
        if len(sizes) != 1 or 0 in sizes:
            raise InputError(f"the scan jobs hold {sorted(sizes)} permutation replicates on the chromosomes of "
                             f"region {region!r}; rerun the scan (they must agree, and be at least one)")
        values = np.max(np.stack(per_chr), axis=0)
        values[~np.isfinite(values) & (values < 0)] = np.nan        # -inf: never scanned
        block = pd.DataFrame(values, columns=list(phenotypes))
        block.insert(0, "replicate", np.arange(values.shape[0], dtype=np.int64))
        block.insert(0, "region", region)
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def trait_qvalues(p: np.ndarray) -> tuple[np.ndarray, float, str | None]:
    """Storey's q-values of the traits' genome-wide p-values, with the few-traits rule (module notes).

    Returns ``(qvalues, pi0, note)``; ``note`` is None when R's ``qvalue(p)`` defaults applied.
    """
    p = np.asarray(p, dtype=float)
    finite = p[~np.isnan(p)]
    if finite.size == 0:
        return np.full(p.shape, np.nan), float("nan"), "no trait has a genome-wide p-value: no q-values"
    top = float(finite.max())
    lambdas, note = DEFAULT_LAMBDAS, None
    if top < DEFAULT_LAMBDAS[-1]:
        within = DEFAULT_LAMBDAS[DEFAULT_LAMBDAS <= top]
        if within.size < 4:
            return (qvalue(p, pi0=1.0).qvalues, 1.0,
                    f"the largest genome-wide p-value is {top:.4g}: too few lambdas of R's qvalue grid below it "
                    "to estimate pi0; pi0 = 1 (Benjamini-Hochberg)")
        lambdas = within
        note = (f"the largest genome-wide p-value is {top:.4g} (< 0.95, where R's qvalue(p) stops): pi0 estimated "
                f"on lambda = 0.05..{within[-1]:.2f}")
    try:
        pi0 = pi0est(p, lambdas).pi0
    except InputError as exc:
        return qvalue(p, pi0=1.0).qvalues, 1.0, f"pi0 could not be estimated ({exc}); pi0 = 1 (Benjamini-Hochberg)"
    return qvalue(p, pi0=pi0).qvalues, pi0, note


class Significance(NamedTuple):
    """:func:`significance_table`'s result: the table, π0, the genome-wide p-value cut of the FDR,
    and the note of :func:`trait_qvalues` (or None)."""

    table: pd.DataFrame
    pi0: float
    p_cut: float
    note: str | None


def _observed(maxima: pd.DataFrame, phenotypes: Sequence[str], regions: Sequence[str], where: Mapping):
    """Observed maximum LOD and its df per region and trait (R, m), and each trait's genome-wide
    maximum row of ``max.tsv`` (NaN row where the trait has none)."""
    frame = maxima.assign(region=maxima["chr"].astype(str).map(where))
    frame = frame[frame["phenotype"].isin(set(phenotypes)) & frame["lod"].notna()]
    col = {p: j for j, p in enumerate(phenotypes)}
    obs, df = np.full((len(regions), len(phenotypes)), np.nan), np.ones((len(regions), len(phenotypes)))
    best = frame.loc[frame.groupby(["phenotype", "region"], sort=False)["lod"].idxmax()]
    rows = {r: k for k, r in enumerate(regions)}
    j = best["phenotype"].map(col).to_numpy(int)
    k = best["region"].map(rows).to_numpy(int)
    obs[k, j] = best["lod"].to_numpy(float)
    df[k, j] = np.maximum(best["df"].to_numpy(float), 1.0)
    top = frame.loc[frame.groupby("phenotype", sort=False)["lod"].idxmax()].set_index("phenotype")
    top = top.reindex(list(phenotypes))
    return obs, df, top


def significance_table(maxima: pd.DataFrame, permutations: pd.DataFrame, markers: pd.DataFrame,
                       x_chromosomes: Sequence[str], fdr: float) -> Significance:
    """One row per trait: its genome-wide maximum, nominal and genome-wide p-values, q-value, call
    and LOD thresholds at the FDR.

    Parameters
    ----------
    maxima : pandas.DataFrame
        ``max.tsv``: ``phenotype, chr, lod, marker, pos, df`` per trait and chromosome.
    permutations : pandas.DataFrame
        :func:`permutation_maxima_table`.
    markers : pandas.DataFrame
        ``markers.tsv`` (``chr, pos``): the regions' lengths.
    x_chromosomes : sequence of str
    fdr : float
        In (0, 1).

    Returns
    -------
    Significance
        ``table``: ``phenotype, chr, marker, pos, lod, df, pvalue, pvalue_genome, pvalue_method,
        region, qvalue, significant``, then ``lod_threshold_<region>`` per region; traits in the
        column order of `permutations`.

    Notes
    -----
    ``pvalue_genome`` is :func:`lmm.significance.pvalue_genome` of the observed maxima per region
    against the permutation maxima (df: that of the region's maximum, ``max.tsv``), ``region``
    the region giving it; ``qvalue`` :func:`trait_qvalues`; ``significant``: ``qvalue ≤ fdr``;
    the thresholds :func:`lmm.significance.lod_thresholds` at
    :func:`lmm.significance.genome_pvalue_cut` of the FDR.
    """
    if not 0.0 < fdr < 1.0:
        raise InputError(f"fdr must lie in (0, 1), got {fdr}")
    phenotypes = [str(c) for c in permutations.columns[2:]]
    regions = tuple(dict.fromkeys(permutations["region"].astype(str)))
    where = chromosome_regions(markers["chr"].astype(str).unique(), regions, x_chromosomes)
    lengths = None
    if len(regions) > 1:
        span = region_lengths(markers, x_chromosomes)
        lengths = np.array([span[r] for r in regions])
    perms = [permutations.loc[permutations["region"] == r, phenotypes].to_numpy(float) for r in regions]
    obs, df, top = _observed(maxima, phenotypes, regions, where)
    genome = pvalue_genome(obs if len(regions) > 1 else obs[0], perms if len(regions) > 1 else perms[0],
                           df if len(regions) > 1 else df[0], lengths)
    q, pi0, note = trait_qvalues(genome.pvalue)
    p_cut = genome_pvalue_cut(genome.pvalue, q, fdr) if np.isfinite(q).any() else float("nan")
    p_cut = float(np.clip(p_cut, np.nextafter(0.0, 1.0), np.nextafter(1.0, 0.0))) if np.isfinite(p_cut) else p_cut
    thresholds = (lod_thresholds(genome, p_cut, perms if len(regions) > 1 else perms[0]) if np.isfinite(p_cut)
                  else np.full((len(regions), len(phenotypes)), np.nan))
    top_df = top["df"].to_numpy(float)
    table = pd.DataFrame({
        "phenotype": phenotypes, "chr": top["chr"].to_numpy(object), "marker": top["marker"].to_numpy(object),
        "pos": top["pos"].to_numpy(float), "lod": top["lod"].to_numpy(float), "df": top_df,
        "pvalue": np.where(np.isnan(top_df), np.nan,
                           lod_to_pvalue(np.nan_to_num(top["lod"].to_numpy(float)), np.nan_to_num(top_df, nan=1.0))),
        "pvalue_genome": genome.pvalue, "pvalue_method": genome.method.astype(str),
        "region": np.where(genome.region >= 0, np.asarray(regions, dtype=object)[np.maximum(genome.region, 0)], None),
        "qvalue": q, "significant": np.nan_to_num(q, nan=np.inf) <= fdr})
    table["df"] = table["df"].astype("Int64")
    for r, region in enumerate(regions):
        table[f"lod_threshold_{region}"] = thresholds[r]
    return Significance(table, pi0, p_cut, note)


def eqtl_peaks(peaks: pd.DataFrame, significance: pd.DataFrame, x_chromosomes: Sequence[str],
               positions: pd.DataFrame | None = None, cis_window: float | None = None) -> pd.DataFrame:
    """The scan's peaks with their trait's LOD threshold at the FDR and call, and with trait
    positions their local (cis) or distal call.

    Parameters
    ----------
    peaks : pandas.DataFrame
        ``peaks.tsv``.
    significance : pandas.DataFrame
        :func:`significance_table`'s table.
    x_chromosomes : sequence of str
    positions : pandas.DataFrame, optional
        :func:`lmm.pipeline.eqtl.read_phenotype_positions`.
    cis_window : float, optional
        With `positions`: the window of a local peak (map units).

    Returns
    -------
    pandas.DataFrame
        ``peaks`` with ``lod_threshold_fdr`` (the trait's threshold in the peak's region; NaN for a
        trait without one) and ``significant`` (the trait's ``qvalue ≤ fdr`` and the peak's LOD at
        least the threshold); with `positions`, ``trait_chr, trait_pos, cis, distance``
        (:func:`lmm.pipeline.eqtl.annotate_peaks`).
    """
    columns = [c for c in significance.columns if c.startswith("lod_threshold_")]
    regions = tuple(c.removeprefix("lod_threshold_") for c in columns)
    where = chromosome_regions(peaks["chr"].astype(str).unique(), regions, x_chromosomes)
    by_trait = significance.set_index("phenotype")
    thr = np.full(len(peaks), np.nan)
    region = peaks["chr"].astype(str).map(where).to_numpy(object)
    names = peaks["phenotype"].astype(str)
    for r in regions:
        on = region == r
        thr[on] = names[on].map(by_trait[f"lod_threshold_{r}"]).to_numpy(float)
    called = names.map(by_trait["significant"]).fillna(False).to_numpy(bool)
    with np.errstate(invalid="ignore"):
        out = peaks.assign(lod_threshold_fdr=thr, significant=called & (peaks["lod"].to_numpy(float) >= thr))
    if positions is not None:
        if cis_window is None:
            raise InputError("cis_window is needed with phenotype_positions (map units)")
        out = annotate_peaks(out, positions, cis_window)
    return out

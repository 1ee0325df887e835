"""Snakemake adapter: the peaks with their trait's LOD threshold at config fdr and, given trait
positions, local (cis) or distal (logic: lmm.pipeline.eqtl_significance.eqtl_peaks)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, eqtl, eqtl_significance, io

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    peaks = io.read_results(inp.peaks, name_columns=("phenotype", "chr", "marker"))
    significance = io.read_results(inp.significance, name_columns=("phenotype", "chr", "marker"))
    markers = io.read_results(inp.markers, name_columns=("marker", "chr"))
    positions = None
    if len(inp.positions):
        positions = eqtl.read_phenotype_positions(inp.positions[0], markers["chr"].astype(str).unique())
        absent = sorted(set(significance["phenotype"]) - set(positions["phenotype"]))
        if absent:
            log.warning("%d of %d traits have no position in %s (cis: NA): %s", len(absent), len(significance),
                        inp.positions[0], ", ".join(absent[:20]) + (" ..." if len(absent) > 20 else ""))
    table = eqtl_significance.eqtl_peaks(peaks, significance, par.x_chromosomes, positions, par.cis_window)
    atomic.write_tsv(out.peaks, table)
    low = significance.filter(like="lod_threshold_").lt(par.peak_threshold).any(axis=1) & significance["significant"]
    if low.any():
        log.warning("%d significant trait(s) have an FDR LOD threshold below peak_threshold (%g): their peaks "
                    "between the two are not in peaks.tsv (lower peak_threshold to see them): %s", int(low.sum()),
                    par.peak_threshold, ", ".join(significance.loc[low, "phenotype"].head(20)))
    called = table[table["significant"]]
    log.info("%d of %d peaks significant (of %d traits)%s", len(called), len(table), called["phenotype"].nunique(),
             f"; {int(called['cis'].sum())} local, {int((~called['cis']).sum())} distal, "
             f"{int(called['cis'].isna().sum())} of traits without a position" if positions is not None else "")

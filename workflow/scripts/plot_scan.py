"""Snakemake adapter of the three scan figures (logic: lmm.pipeline.scan_plots); the rule's name says which."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import pandas as pd

    from lmm.pipeline import atomic, io, scan_plots

    inp, out, par, rule = snakemake.input, snakemake.output, snakemake.params, snakemake.rule  # noqa: F821

    def markers_table(path):
        return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["NA"], dtype={"marker": str, "chr": str})

    if rule == "plot_peak_map":
        peaks = io.read_results(inp.peaks, name_columns=("phenotype", "chr", "marker"))
        figure = scan_plots.plot_peak_map(peaks, markers_table(inp.markers), position_label=par.position_label)
        log.info("peak map: %d peaks of %d phenotypes", len(peaks), peaks["phenotype"].nunique())
    else:
        lod = pd.read_parquet(inp.lod)
        if rule == "plot_lod_curves":
            from lmm.pipeline.genotypes.chromosomes import canonical_chromosome

            peaks = io.read_results(inp.peaks, name_columns=("phenotype", "chr", "marker"))
            thresholds = scan_plots.region_thresholds(
                io.read_results(inp.thresholds, name_columns=("phenotype", "region")),
                lod["chr"].astype(str).unique(), [canonical_chromosome(c) for c in par.x_chromosomes])
            figure = scan_plots.plot_lod_curves(lod, peaks, position_label=par.position_label,
                                                threshold=par.threshold, thresholds=thresholds)
            log.info("LOD curves of the phenotypes among %d with peaks", peaks["phenotype"].nunique())
        else:
            maxima = io.read_results(inp.max, name_columns=("phenotype", "chr", "marker"))
            # the highest LOD (+inf counts); with no LOD at all, the first phenotype (the figure says so)
            lods = maxima["lod"].astype(float)
            names = maxima["phenotype"] if len(maxima) else lod.columns[3:]
            top = str(maxima.loc[lods.idxmax(), "phenotype"] if lods.notna().any() else names[0])
            figure = scan_plots.plot_manhattan(lod, markers_table(inp.markers), top,
                                               position_label=par.position_label)
            log.info("Manhattan plot of '%s' (highest LOD)", top)
    atomic.save_figure(out.figure, figure, dpi=150)

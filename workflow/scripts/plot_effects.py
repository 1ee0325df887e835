"""Snakemake adapter: one figure per plotted peak, allele effects over the LOD curve beside the
phenotype by genotype (logic: lmm.pipeline.effect_plots, lmm.pipeline.qtl_effects)."""

import os

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np
    import pandas as pd

    from lmm.pipeline import atomic, effect_plots, io, qtl_effects
    from lmm.pipeline.genotype_store import open_intermediate

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    all_peaks = io.read_results(inp.peaks, name_columns=("phenotype", "chr", "marker"))
    peaks = qtl_effects.plotted_peaks(all_peaks)
    curves = pd.read_parquet(inp.curves)
    store = open_intermediate(inp.store)
    with np.load(inp.data, allow_pickle=False) as data, atomic.atomic_directory(out.figures) as tmp:
        for peak in peaks.itertuples(index=False):
            y, G = qtl_effects.peak_data(store, data, peak.phenotype, peak.marker)
            curve = curves[curves["rank"] == peak.rank]
            # the chromosome's own columns (an F2's X: SS, SB, BS, BB, SY, BY)
            alleles = list(store.alleles_of(peak.chr)) if store.n_alleles_of(peak.chr) > 1 else ["dosage"]
            figure = effect_plots.plot_peak_effects(curve, peak, alleles, y, G, position_label=par.position_label,
                                                    genotype_columns=store.genotype_columns(peak.chr))
            name = qtl_effects.figure_stem(peak.rank, peak.phenotype, peak.chr) + ".png"
            figure.savefig(os.path.join(tmp, name), format="png", dpi=110)
            log.info("%s: %s chromosome %s at %s (LOD %.4g)", name, peak.phenotype, peak.chr, peak.marker, peak.lod)
    log.info("%d effect figure(s): the strongest of %d peak(s), at most %d", len(peaks), len(all_peaks),
             qtl_effects.PLOT_PEAKS)

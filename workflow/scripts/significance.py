"""Snakemake adapter: each trait's genome-wide significance at config fdr
(logic: lmm.pipeline.eqtl_significance.significance_table)."""

import sys

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import pandas as pd

    from lmm.pipeline import atomic, eqtl_significance, io

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    maxima = io.read_results(inp.max, name_columns=("phenotype", "chr", "marker"))
    markers = io.read_results(inp.markers, name_columns=("marker", "chr"))
    result = eqtl_significance.significance_table(maxima, pd.read_parquet(inp.maxima), markers,
                                                  par.x_chromosomes, par.fdr)
    table = result.table
    atomic.write_tsv(out.table, table)
    if result.note:
        log.warning("q-values: %s", result.note)
    missing = table.loc[table["pvalue_genome"].isna(), "phenotype"].tolist()
    if missing:
        log.warning("%d trait(s) without a genome-wide p-value (no scan maximum or no permutation), not "
                    "significant: %s", len(missing), ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""))
    methods = table["pvalue_method"].value_counts().to_dict()
    message = (f"significance: {int(table['significant'].sum())} of {len(table)} traits with q <= {par.fdr} "
               f"(pi0 {result.pi0:.4g}, genome-wide p-value cut {result.p_cut:.4g}; p-values by method {methods}; "
               f"{len(missing)} without one) ({out.table})")
    log.info("%s", message)
    print(message, file=sys.stderr, flush=True)

"""Snakemake adapter: figure of hsq and its interval for every phenotype (logic: lmm.pipeline.plots)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import pandas as pd

    from lmm.pipeline import atomic, plots

    table = pd.read_csv(snakemake.input.table, sep="\t", keep_default_na=False, na_values=["NA"],  # noqa: F821
                        dtype={"phenotype": str})
    figure = plots.plot_heritability(table)
    atomic.save_figure(snakemake.output.figure, figure, dpi=150)  # noqa: F821
    log.info("plotted %d phenotypes", int(table["hsq"].notna().sum()))

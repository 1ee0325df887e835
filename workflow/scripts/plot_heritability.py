"""Snakemake adapter: figure of hsq and its interval for every phenotype (logic: lmm.pipeline.plots)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, plots
    from lmm.pipeline.io import read_results

    table = read_results(snakemake.input.table)  # noqa: F821
    figure = plots.plot_heritability(table)
    atomic.save_figure(snakemake.output.figure, figure, dpi=150)  # noqa: F821
    log.info("plotted %d phenotypes", int(table["hsq"].notna().sum()))

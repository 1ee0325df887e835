"""Snakemake adapter: profile log-likelihood curves (logic: lmm.pipeline.plots)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, plots
    from lmm.pipeline.io import read_results

    table = read_results(snakemake.input.table)  # noqa: F821
    profile = read_results(snakemake.input.profile)  # noqa: F821
    figure = plots.plot_profiles(profile, table)
    atomic.save_figure(snakemake.output.figure, figure, dpi=150)  # noqa: F821
    log.info("plotted the profiles of %d phenotypes", profile["phenotype"].nunique())

"""Snakemake adapter: profile log-likelihood curves (logic: lmm.pipeline.plots)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import pandas as pd

    from lmm.pipeline import atomic, plots

    read = dict(sep="\t", keep_default_na=False, na_values=["NA"], dtype={"phenotype": str})
    table = pd.read_csv(snakemake.input.table, **read)  # noqa: F821
    profile = pd.read_csv(snakemake.input.profile, **read)  # noqa: F821
    figure = plots.plot_profiles(profile, table)
    atomic.save_figure(snakemake.output.figure, figure, dpi=150)  # noqa: F821
    log.info("plotted the profiles of %d phenotypes", profile["phenotype"].nunique())

"""Snakemake adapter of the eQTL figures and the hotspot table (logic: lmm.pipeline.eqtl,
lmm.pipeline.eqtl_plots); the rule's name says which."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, eqtl, eqtl_plots, io

    inp, out, par, rule = snakemake.input, snakemake.output, snakemake.params, snakemake.rule  # noqa: F821
    peaks = io.read_results(inp.peaks, name_columns=("phenotype", "chr", "marker", "trait_chr"))
    markers = io.read_results(inp.markers, name_columns=("marker", "chr"))
    called = peaks[peaks["significant"].astype(bool)]
    if rule == "hotspots":
        table = eqtl.hotspot_table(called, markers, par.window)
        atomic.write_tsv(out.table, table)
        figure = eqtl_plots.plot_hotspots(table, position_label=par.position_label, window=par.window)
        top = table.loc[table["n_peaks"].idxmax()] if len(table) else None
        log.info("hotspots: %d significant peaks in windows of %g %s%s", len(called), par.window,
                 par.position_label,
                 f"; largest count {top['n_peaks']} at chromosome {top['chr']}, {top['pos']:g}" if top is not None else "")
    else:
        called = called.assign(cis=called["cis"].astype("boolean"))
        figure = eqtl_plots.plot_cis_trans(called, markers, position_label=par.position_label)
        log.info("cis/trans figure: %d significant peaks", len(called))
    for note in getattr(figure, "left_out", []):
        log.warning("%s: %s", out.figure, note)
    atomic.save_figure(out.figure, figure, dpi=150)

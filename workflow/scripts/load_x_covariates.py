"""Snakemake adapter of the X covariates (logic: lmm.pipeline.scan_covariates)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821 (snakemake is injected by Snakemake)

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, io
    from lmm.pipeline.scan_covariates import align_x_covariates

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    ids = [str(i) for i in np.load(inp.data, allow_pickle=False)["ids"].tolist()]
    if len(inp.table):
        path = inp.table[0]
        table = io.read_table(path, id_column=par.id_column, role="X covariate", na_values=par.na_values)
        values, names = align_x_covariates(table, ids, path=path)
        log.info("X covariates %s: %s for %d individuals", path, ", ".join(names), len(ids))
    else:
        values, names = np.empty((len(ids), 0)), ()
        log.info("no X covariates (config 'x_covariates' is null)")
    atomic.write_npz(out.x_covariates, ids=np.asarray(ids, dtype=str), values=values,
                     names=np.asarray(names, dtype=str))

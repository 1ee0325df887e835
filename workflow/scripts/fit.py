"""Snakemake adapter of the fit stage (logic: lmm.pipeline.batch.fit_chunk, lmm.pipeline.batch.fit_masked_chunk)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np

    import lmm
    from lmm.pipeline import atomic, batch
    from lmm.pipeline.partition import Partition

    inp, out, par, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    job = Partition.read(inp.record).chunk(wc.batch, wc.chunk)
    phenotypes = list(job.phenotypes)
    options = dict(method=par.method, tol=par.tol, check_boundary=par.check_boundary,
                   compute_se=par.compute_se, profile_grid=par.profile_grid)
    if job.kind == "decompose":
        with np.load(inp.rotated, allow_pickle=False) as data:
            rotated = batch.load_chunk(data, wc.chunk)
        table, profile = batch.fit_chunk(rotated, phenotypes, **options)
        how = f"rotated by batch {wc.batch}'s decomposition"
    else:
        with np.load(inp.rotated, allow_pickle=False) as data:
            dec = lmm.EigenDecomposition(data["kva"], data["kve_t"], int(data["n_clipped"]),
                                         float(data["min_eigenvalue"]))
            ids = data["ids"].tolist()
        with np.load(inp.data[0], allow_pickle=False) as data:
            if data["ids"].tolist() != ids:
                raise lmm.InputError(f"Batch {wc.batch} is not the complete batch of the cleaned data; "
                                     "rerun the partition stage.")
            names = data["phenotype_names"].tolist()
            pos = {p: j for j, p in enumerate(names)}
            y = data["phenotypes"][:, [pos[p] for p in phenotypes]]
            X, covariates = data["covariates"], data["covariate_names"].tolist()
        table, profile = batch.fit_masked_chunk(dec, y, X, phenotypes, covariates, **options)
        how = f"each on its observed individuals, from batch {wc.batch}'s decomposition (Schur complement)"
    counts = table["status"].value_counts().to_dict()
    log.info("batch %s chunk %s: %d phenotypes, %s, method %s: %s", wc.batch, wc.chunk, len(table), how,
             par.method, counts)
    for row in table.itertuples(index=False):
        if row.status != "ok":
            log.warning("phenotype '%s': %s", row.phenotype, row.status)
    atomic.write_tsv(out.profile, profile)
    atomic.write_tsv(out.table, table)

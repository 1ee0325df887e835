"""Snakemake adapter of the rotate stage (logic: lmm.pipeline.batch.rotate_batch)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, batch
    from lmm.pipeline.partition import Partition

    inp, out, wc = snakemake.input, snakemake.output, snakemake.wildcards  # noqa: F821
    record = Partition.read(inp.record).batch(wc.batch)
    with np.load(inp.data, allow_pickle=False) as data:
        rotated = batch.rotate_batch(
            data["ids"].tolist(), data["kinship"], data["phenotypes"], data["phenotype_names"].tolist(),
            data["covariates"], data["covariate_names"].tolist(), record)
    log.info("batch %s: %d individuals, %d phenotypes in %d chunk(s) (+%d masked chunk(s)), covariates %s",
             wc.batch, rotated["kva"].size, record.n_phenotypes, len(record.decomposed_chunks),
             len(record.masked_chunks), ", ".join(rotated["covariates"].tolist()))
    log.info("eigenvalues: min before clipping %.6g, max %.6g, %d round-off negative value(s) set to 0",
             float(rotated["min_eigenvalue"]), float(rotated["kva"][-1]), int(rotated["n_clipped"]))
    atomic.write_npz(out.rotated, **rotated)

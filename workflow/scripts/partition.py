"""Snakemake adapter of the partition checkpoint (logic: lmm.pipeline.partition)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np
    import pandas as pd

    from lmm.pipeline import atomic, partition

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    with np.load(inp.data, allow_pickle=False) as data:
        arrays = {k: data[k] for k in ("ids", "phenotypes", "phenotype_names", "covariates", "covariate_names")}
    status = pd.read_csv(inp.phenotypes, sep="\t", keep_default_na=False)["status"].tolist()
    record = partition.partition_phenotypes(
        arrays["phenotypes"], arrays["phenotype_names"].tolist(), status, arrays["ids"].tolist(),
        arrays["covariates"], arrays["covariate_names"].tolist(), max_batch_size=par.max_batch_size,
        missing_strategy=par.missing_strategy)
    for b in record.batches:
        log.info("batch %s: %d individuals (%d missing, pattern %s), %d phenotypes, strategy %s, %d chunk(s)%s",
                 b.name, b.n, b.n_missing, b.pattern, b.n_phenotypes, b.strategy, len(b.decomposed_chunks),
                 f" and {len(b.masked_chunks)} masked chunk(s) of schur batches" if b.masked_chunks else "")
        if b.covariates_dropped:
            log.warning("batch %s: covariate(s) %s are linearly dependent on the others over this batch's "
                        "%d individuals and are left out of its model", b.name, ", ".join(b.covariates_dropped), b.n)
        if b.too_few_individuals:
            log.warning("batch %s: %d individuals are too few for %d covariates; its %d phenotype(s) get "
                        "status too_few_observations", b.name, b.n, len(b.covariates_used), b.n_phenotypes)
    log.info("%d batch(es), %d fit job(s), missing_strategy %s", len(record.batches), len(record.fit_jobs()),
             par.missing_strategy)
    atomic.write_tsv(out.phenotypes, partition.phenotype_assignments(record))
    atomic.write_tsv(out.chunks, partition.chunk_table(record))
    atomic.write_text(out.record, record.to_json())

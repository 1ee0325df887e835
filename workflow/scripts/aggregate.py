"""Snakemake adapter of the aggregate stage (logic: lmm.pipeline.aggregate)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import pandas as pd

    from lmm.pipeline import aggregate, atomic
    from lmm.pipeline.partition import Partition

    inp, out = snakemake.input, snakemake.output  # noqa: F821
    record = Partition.read(inp.record)
    assignments = pd.read_csv(inp.phenotypes, sep="\t", keep_default_na=False, na_values=["NA"],
                              dtype={"phenotype": str, "batch": str, "chunk": str, "status": str, "strategy": str})
    text = {"phenotype": str, "status": str, "boundary": str, "converged": str, "method": str}
    read = dict(sep="\t", keep_default_na=False, na_values=["NA"])
    fits = [pd.read_csv(path, dtype=text, **read) for path in inp.tables]
    profiles = [pd.read_csv(path, dtype={"phenotype": str}, **read) for path in inp.profiles]
    table = aggregate.heritability_table(assignments, fits, record.covariates, record.batches)
    counts = table["status"].value_counts().to_dict()
    log.info("%d phenotypes: %s", len(table), counts)
    atomic.write_tsv(out.profile, aggregate.profile_table(assignments, profiles), float_format=aggregate.FLOAT_FORMAT)
    atomic.write_tsv(out.table, table, float_format=aggregate.FLOAT_FORMAT)

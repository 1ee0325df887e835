"""Snakemake adapter of the aggregate stage (logic: lmm.pipeline.aggregate)."""

import sys

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import aggregate, atomic
    from lmm.pipeline.io import read_results
    from lmm.pipeline.partition import Partition

    inp, out = snakemake.input, snakemake.output  # noqa: F821
    record = Partition.read(inp.record)
    assignments = read_results(inp.phenotypes)
    fits = [read_results(path) for path in inp.tables]
    profiles = [read_results(path) for path in inp.profiles]
    table = aggregate.heritability_table(assignments, fits, record.covariates, record.batches)
    summary = aggregate.status_summary(table, out.table)
    log.info("%s", summary)
    print(summary, file=sys.stderr, flush=True)
    atomic.write_tsv(out.profile, aggregate.profile_table(assignments, profiles), float_format=aggregate.FLOAT_FORMAT)
    atomic.write_tsv(out.table, table, float_format=aggregate.FLOAT_FORMAT)

"""Snakemake adapter: the LOD of every marker and phenotype as one Parquet table
(logic: lmm.pipeline.genome_scan.lod_table)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import pandas as pd

    from lmm.pipeline import atomic, genome_scan
    from lmm.pipeline.partition import Partition

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    partition = Partition.read(inp.record)
    chunks = genome_scan.scan_chunks(partition, par.chunk_size)
    phenotypes = [p for c in chunks for p in c]
    markers = pd.read_csv(inp.markers, sep="\t", keep_default_na=False, na_values=["NA"],
                          dtype={"marker": str, "chr": str})
    results = genome_scan.read_scan_results(inp.results, list(par.groups.values()), len(chunks), keys=["lod"])
    table = genome_scan.lod_table(markers, results, phenotypes)
    atomic.write_parquet(out.lod, table)
    log.info("LOD table: %d markers x %d phenotypes", len(table), len(phenotypes))

"""Snakemake adapter: each trait's permutation maxima per region and replicate, from every scan job
(logic: lmm.pipeline.eqtl_significance.permutation_maxima_table)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, eqtl_significance, genome_scan, io
    from lmm.pipeline.partition import Partition

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    chunks = genome_scan.scan_chunks(Partition.read(inp.record), par.chunk_size)
    phenotypes = [p for c in chunks for p in c]
    chromosomes = [c for group in par.groups.values() for c in group]
    regions = eqtl_significance.region_names(io.read_results(inp.thresholds))
    results = genome_scan.read_scan_results(inp.results, list(par.groups.values()), len(chunks), keys=["perm_max"])
    table = eqtl_significance.permutation_maxima_table(chromosomes, results, phenotypes, regions, par.x_chromosomes)
    atomic.write_parquet(out.maxima, table)
    counts = table.groupby("region", sort=False).size()
    log.info("permutation maxima of %d traits: %s", len(phenotypes),
             ", ".join(f"{n} replicates in region {r}" for r, n in counts.items()))

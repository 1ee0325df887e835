"""Snakemake adapter: one chromosome's (marker, trait) pairs with LOD >= config lod_min
(logic: lmm.pipeline.sparse_lod.lod_min_table)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, genome_scan, io
    from lmm.pipeline.partition import Partition
    from lmm.pipeline.sparse_lod import SPARSE_KEYS, lod_min_table

    inp, out, par, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    chunks = genome_scan.scan_chunks(Partition.read(inp.record), par.chunk_size)
    phenotypes = [p for c in chunks for p in c]
    markers = io.read_results(inp.markers, name_columns=("marker", "chr"))
    markers = markers[markers["chr"].astype(str) == wc.chrom].reset_index(drop=True)
    results = genome_scan.read_scan_results(inp.results, [par.group], len(chunks), keys=[*SPARSE_KEYS, "phenotypes"])
    table = lod_min_table(markers, results[par.group.index(wc.chrom)], phenotypes)
    atomic.write_parquet(out.table, table)
    log.info("chromosome %s: %d (marker, trait) pairs with LOD >= %g, of %d traits", wc.chrom, len(table),
             par.lod_min, table["phenotype"].nunique())

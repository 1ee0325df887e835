"""Snakemake adapter: the scan's tables from every scan job (logic: lmm.pipeline.genome_scan.scan_tables)."""

import sys

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, genome_scan
    from lmm.pipeline.genotype_store import open_intermediate
    from lmm.pipeline.partition import Partition

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    partition = Partition.read(inp.record)
    chunks = genome_scan.scan_chunks(partition, par.chunk_size)
    phenotypes = [p for c in chunks for p in c]
    store = open_intermediate(inp.store)
    chromosomes = [c for group in par.groups.values() for c in group]
    results = genome_scan.read_scan_results(inp.results, list(par.groups.values()), len(chunks))
    tables = genome_scan.scan_tables(store, chromosomes, results, phenotypes, x_chromosomes=par.x_chromosomes)
    atomic.write_tsv(out.markers, tables["markers"])
    atomic.write_tsv(out.hsq, tables["hsq"])
    atomic.write_tsv(out.max, tables["max"])
    atomic.write_tsv(out.thresholds, tables["thresholds"])
    atomic.write_tsv(out.peaks, tables["peaks"])
    peaks = tables["peaks"]
    message = (f"scan: {len(phenotypes)} phenotypes x {len(tables['markers'])} markers on "
               f"{len(chromosomes)} chromosomes; {len(peaks)} peak(s) with LOD above {par.threshold} "
               f"in {peaks['phenotype'].nunique() if len(peaks) else 0} phenotype(s) ({out.peaks})")
    log.info("%s", message)
    print(message, file=sys.stderr, flush=True)

"""Snakemake adapter: eigen-decompositions of one chromosome's kinship for the scan
(logic: lmm.pipeline.genome_scan.decompose_chromosome)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, genome_scan
    from lmm.pipeline.partition import Partition

    inp, out, wc = snakemake.input, snakemake.output, snakemake.wildcards  # noqa: F821
    partition = Partition.read(inp.record)
    with np.load(inp.data, allow_pickle=False) as data:
        clean_ids = data["ids"].tolist()
        if wc.chrom == "all":  # no LOCO: the analysis kinship serves every chromosome
            kin_ids, K = clean_ids, data["kinship"]
        else:
            kin_ids, K = genome_scan.read_kinship_dir(inp.kinship[0], wc.chrom)
    arrays = genome_scan.decompose_chromosome(K, kin_ids, clean_ids, partition)
    for unit in arrays["units"].tolist():
        log.info("kinship %s, batch %s: %d individuals, eigenvalues %.6g .. %.6g", wc.chrom, unit,
                 arrays[f"kva__{unit}"].size, arrays[f"kva__{unit}"][0], arrays[f"kva__{unit}"][-1])
    atomic.write_npz(out.eigen, **arrays)

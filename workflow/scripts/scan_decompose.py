"""Snakemake adapter: eigen-decompositions of the kinships of a group of chromosomes for the scan
(logic: lmm.pipeline.genome_scan.decompose_chromosome)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, genome_scan
    from lmm.pipeline.partition import Partition

    inp, out, par, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    partition = Partition.read(inp.record)
    arrays = {}
    with np.load(inp.data, allow_pickle=False) as data:
        clean_ids = data["ids"].tolist()
        # no LOCO: one decomposition of the analysis kinship serves every chromosome
        chromosomes = ["all"] if wc.group == "all" else par.groups[wc.group]
        for k, chrom in enumerate(chromosomes):
            if chrom == "all":
                kin_ids, K = clean_ids, data["kinship"]
            else:
                kin_ids, K = genome_scan.read_kinship_dir(inp.kinship[0], chrom)
            units = genome_scan.decompose_chromosome(K, kin_ids, clean_ids, partition)
            for unit in units["units"].tolist():
                log.info("kinship %s, batch %s: %d individuals, eigenvalues %.6g .. %.6g", chrom, unit,
                         units[f"kva__{unit}"].size, units[f"kva__{unit}"][0], units[f"kva__{unit}"][-1])
            arrays |= genome_scan.prefixed(units, k)
    atomic.write_npz(out.eigen, **arrays)

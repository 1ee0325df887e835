"""Snakemake adapter of a scan job: a group of chromosomes, one chunk of phenotypes
(logic: lmm.pipeline.genome_scan.scan_chunk → the scan engine lmm.scan.engine, as lmm.scan1)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, genome_scan
    from lmm.pipeline.genotype_store import open_intermediate
    from lmm.pipeline.partition import Partition
    from lmm.pipeline.progress import ScanProgress

    inp, out, par, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    partition = Partition.read(inp.record)
    chunk = genome_scan.scan_chunks(partition, par.chunk_size)[int(wc.chunk.lstrip("s")) - 1]
    store = open_intermediate(inp.store)
    arrays = {}
    progress = ScanProgress(log, len(par.groups[wc.group]))  # a line at least every 30 s
    with np.load(inp.x_covariates, allow_pickle=False) as xc:
        x_covariates = xc["values"] if xc["values"].shape[1] else None
    with np.load(inp.data, allow_pickle=False) as data, np.load(inp.eigen[0], allow_pickle=False) as eigen:
        for k, chrom in enumerate(par.groups[wc.group]):
            model = genome_scan.chromosome_model(
                chrom, store.markers, x_chromosomes=par.x_chromosomes, x_covariates=x_covariates,
                interactive=par.interactive or (), n_perm=par.permutations)
            # with LOCO the group's own decompositions, else the one of the analysis kinship
            units = genome_scan.split_prefixed(eigen, k if par.loco else 0)
            result = genome_scan.scan_chunk(
                units, store, chrom, data, partition, chunk, reml=par.method == "reml", tol=par.tol,
                tile_columns=par.tile_columns, threshold=par.threshold, peakdrop=par.peakdrop,
                interval=par.interval, drop=par.drop, prob=par.prob,
                keep_lod=par.keep_lod, seed=par.seed, model=model, lod_min=par.lod_min,
                progress=progress)
            log.info("chromosome %s, chunk %s: %d phenotypes x %d markers; max LOD %.4g; %d peak(s) above %g",
                     chrom, wc.chunk, len(chunk), result["df_max"].shape[0],
                     float(np.max(result["max_lod"], initial=0)), result["peak_lod"].size, par.threshold)
            for name, status in zip(result["phenotypes"].tolist(), result["null_status"].tolist()):
                if status != "ok":
                    log.warning("phenotype '%s': null fit on chromosome %s: %s", name, chrom, status)
            arrays |= genome_scan.prefixed(result, k)
    atomic.write_npz(out.result, **arrays)

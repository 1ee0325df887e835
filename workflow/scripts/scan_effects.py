"""Snakemake adapter of rules scan_effects (effects at the peaks and the figures' curves) and
scan_coef (every coefficient along the chromosomes with peaks, config effects: chromosomes)
(logic: lmm.pipeline.qtl_effects.peak_effects → lmm.effects.fit_effects)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, genome_scan, io
    from lmm.pipeline.genotype_store import open_intermediate
    from lmm.pipeline.partition import Partition
    from lmm.pipeline.qtl_effects import peak_effects

    inp, out, par, rule = snakemake.input, snakemake.output, snakemake.params, snakemake.rule  # noqa: F821
    peaks = io.read_results(inp.peaks, name_columns=("phenotype", "chr", "marker"))
    hsq = io.read_results(inp.hsq, name_columns=("phenotype", "chr"))
    store = open_intermediate(inp.store)
    # the scan's decompositions: chromosome -> (file, position in its group); without LOCO one for all
    where = {c: (k, 0 if not par.loco else i) for k, group in enumerate(par.groups.values())
             for i, c in enumerate(group)}
    files = {}

    def eigen_of(chrom):
        k, i = where[chrom]
        path = inp.eigen[k if par.loco else 0]
        if path not in files:
            files[path] = np.load(path, allow_pickle=False)
        return genome_scan.split_prefixed(files[path], i)

    with np.load(inp.x_covariates, allow_pickle=False) as xc:
        x_covariates = xc["values"]
    with np.load(inp.data, allow_pickle=False) as data:
        tables = peak_effects(peaks, hsq, eigen_of, store, data, Partition.read(inp.record),
                              along=rule == "scan_coef", x_covariates=x_covariates)
    for handle in files.values():
        handle.close()
    if rule == "scan_coef":
        atomic.write_parquet(out.coef, tables["coef"])
        log.info("coefficients along %d (phenotype, chromosome) pairs with peaks: %d rows",
                 len(tables["coef"].groupby(["phenotype", "chr"])) if len(tables["coef"]) else 0, len(tables["coef"]))
    else:
        effects = tables["effects"]
        blank = effects[effects["estimate"].isna()].drop_duplicates(["phenotype", "chr", "marker"])
        for row in blank.itertuples(index=False):   # a rank-deficient design: an allele absent at the marker
            log.warning("phenotype '%s', chromosome %s, marker %s: no estimates (rank-deficient design: an allele "
                        "absent among its individuals); NA in %s", row.phenotype, row.chr, row.marker, out.effects)
        atomic.write_tsv(out.effects, effects)
        atomic.write_parquet(out.curves, tables["curves"])
        log.info("QTL effects at %d peak(s) of %d phenotype(s); curves of %d plotted peak(s)", len(peaks),
                 peaks["phenotype"].nunique() if len(peaks) else 0,
                 tables["curves"]["rank"].nunique() if len(tables["curves"]) else 0)

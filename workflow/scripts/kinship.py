"""Snakemake adapter of the kinship stage (logic: lmm.kinship via lmm.pipeline.genome_scan)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    from lmm.pipeline import atomic, genome_scan
    from lmm.pipeline.genotype_store import open_intermediate

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    store = open_intermediate(inp.store)
    method = genome_scan.kinship_method(par.method, store.kind)
    kin = genome_scan.compute_kinships(store, method, par.loco)
    record = kin["record"]
    log.info("kinship '%s' from %d markers of %d individuals: mean diagonal %.6g", method,
             record["n_markers"], record["n"], record["mean_diagonal"])
    for chrom, value in record["loco_mean_diagonal"].items():
        log.info("  leaving out chromosome %s (%d markers): mean diagonal %.6g", chrom,
                 record["markers_per_chromosome"][chrom], value)
    atomic.write_npy(out.overall, kin["overall"])
    atomic.write_text(out.ids, "".join(f"{i}\n" for i in store.ids.tolist()))
    genome_scan.write_kinship_dir(out.loco, store.ids.tolist(), kin["loco"])
    atomic.write_yaml(out.record, record)

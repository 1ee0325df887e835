"""Snakemake adapter: the provenance record of a run (logic: lmm.pipeline.provenance)."""

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821

with user_errors(log):
    import os

    import numpy as np
    import yaml

    from lmm.pipeline import atomic, provenance
    from lmm.pipeline.io import read_results
    from lmm.pipeline.partition import Partition

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    with open(inp.summary, encoding="utf-8") as handle:
        summary = yaml.safe_load(handle)
    record = Partition.read(inp.record)
    table = read_results(inp.table)
    inputs = {"kinship": inp.kinship, "phenotypes": inp.phenotypes,
              "covariates": inp.covariates[0] if len(inp.covariates) else None}
    # a .npy input's sidecar files are inputs too: kinship_ids, phenotypes_ids, phenotypes_columns, ...
    for key, sidecars in (("kinship", inp.kinship_sidecars), ("phenotypes", inp.phenotype_sidecars),
                          ("covariates", inp.covariate_sidecars)):
        for path in sidecars:
            inputs[f"{key}_{'ids' if path.endswith('.ids.txt') else 'columns'}"] = path
    status_counts = table["status"].value_counts(sort=False).to_dict()
    eigen = {}
    for path in inp.rotated:
        with np.load(path, allow_pickle=False) as data:
            eigen[os.path.basename(path)[: -len(".npz")]] = {
                "min_eigenvalue": float(data["min_eigenvalue"]),
                "n_clipped": int(data["n_clipped"]),
            }
    genotypes = kinship_record = scan = None
    if len(inp.genotypes):
        with open(inp.genotypes[0], encoding="utf-8") as handle:
            genotypes = yaml.safe_load(handle)["summary"]
        with open(inp.kinship_record[0], encoding="utf-8") as handle:
            kinship_record = yaml.safe_load(handle)
        for key, value in par.genotype_files.items():
            inputs[key] = value
    if len(inp.scan):
        peaks = read_results(inp.scan[0])
        scan = {"peaks": len(peaks), "phenotypes_with_peaks": int(peaks["phenotype"].nunique()),
                "peak_threshold": par.config["peak_threshold"], "loco": par.config["loco"]}
    prov = provenance.provenance(par.config, inputs, summary, record, status_counts, eigen,
                                 genotypes=genotypes, kinship_record=kinship_record, scan=scan)
    atomic.write_yaml(out.record, prov)
    log.info("wrote %s", out.record)

"""Snakemake adapter of the load-and-clean stage (logic: lmm.pipeline.io, lmm.pipeline.clean)."""

import sys

from _stage import start, user_errors

log = start(snakemake)  # noqa: F821 (snakemake is injected by Snakemake)

with user_errors(log):
    import numpy as np

    from lmm.pipeline import atomic, clean, io
    from lmm.pipeline.scan_covariates import covariate_columns_with_interactive

    inp, out, par = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    covariate_path = inp.covariates[0] if len(inp.covariates) else None
    paths = {"kinship": inp.kinship, "phenotypes": inp.phenotypes, "covariates": covariate_path}
    na = par.na_values

    kin_ids, kinship = io.read_kinship(inp.kinship, id_column=par.id_column, na_values=na)
    log.info("kinship %s: %d x %d, mean diagonal %.6g", inp.kinship, *kinship.shape, np.mean(np.diag(kinship)))
    phenotypes = io.read_table(inp.phenotypes, id_column=par.id_column, role="phenotype", na_values=na)
    log.info("phenotypes %s: %d individuals x %d columns", inp.phenotypes, *phenotypes.shape)
    covariates = None
    if covariate_path:
        covariates = io.read_table(covariate_path, id_column=par.id_column, role="covariate", na_values=na)
        log.info("covariates %s: %d individuals x %d columns", covariate_path, *covariates.shape)
    else:
        log.info("no covariate file (config 'covariates' is null)")

    covariate_columns = covariate_columns_with_interactive(
        par.covariate_columns, par.interactive_covariates,
        None if covariates is None else list(covariates.columns), path=covariate_path)
    data = clean.clean_inputs(
        kin_ids, kinship, phenotypes, covariates,
        phenotype_columns=par.phenotype_columns, covariate_columns=covariate_columns,
        transform=par.transform, paths=paths)

    counts = data.counts
    log.info("individuals in all files: %d; kept: %d; dropped: %d",
             counts["individuals_in_all_files"], counts["individuals_kept"], counts["individuals_dropped"])
    for reason, k in counts["individuals_dropped_by_reason"].items():
        log.warning("dropped %d individual(s): %s (see %s)", k, reason, out.dropped)
    if data.intercept_added:
        log.info("no constant covariate: added an intercept column '%s'", data.intercept)
    else:
        log.info("covariate '%s' is constant: it is the intercept (none added)", data.intercept)
    log.info("covariates: %s", ", ".join(data.covariate_names))
    for status, k in counts["phenotypes_by_status"].items():
        (log.info if status == "ok" else log.warning)("%d phenotype(s) with status %s", k, status)
    for row in data.phenotype_table.itertuples(index=False):
        if row.status != "ok":
            log.warning("phenotype '%s' not fitted: %s (%d observed values)", row.phenotype, row.status,
                        row.n_observed)
    log.info("transform: %s; kinship mean diagonal over kept individuals: %.6g",
             par.transform, data.kinship_mean_diagonal)
    if not 0.5 <= data.kinship_mean_diagonal <= 2.5:
        log.warning("the kinship's mean diagonal is %.4g, far from 1: hsq is relative to this scale of K "
                    "(sigmasq_g multiplies K as given)", data.kinship_mean_diagonal)

    for note in data.id_notes:
        log.warning("%s (ids are compared as text: these are different individuals)", note)

    summary = {
        "counts": counts,
        "id_notes": list(data.id_notes),
        "intercept": {"column": data.intercept, "added": data.intercept_added},
        "covariates": list(data.covariate_names),
        "transform": par.transform,
        "kinship_mean_diagonal": data.kinship_mean_diagonal,
        "kinship_mean_diagonal_file": float(np.mean(np.diag(kinship))),
    }
    atomic.write_tsv(out.phenotypes, data.phenotype_table)
    atomic.write_tsv(out.dropped, data.dropped)
    atomic.write_yaml(out.summary, summary)
    atomic.write_npz(
        out.data,
        ids=data.ids,
        kinship=data.kinship,
        phenotypes=data.phenotypes,
        phenotype_names=np.asarray(data.phenotype_names, dtype=str),
        covariates=data.covariates,
        covariate_names=np.asarray(data.covariate_names, dtype=str),
    )
    log.info("wrote %s", ", ".join(out))
    # every drop, in the terminal too (Snakemake shows a job's stderr), once the table it names exists
    print(f"\nload_and_clean: {clean.drop_summary(data, out.dropped)}\n", file=sys.stderr, flush=True)

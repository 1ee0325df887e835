rule load_and_clean:
    """Read the three tables (text, Parquet or .npy), align them by id, drop what cannot be used (and record why)."""
    input:
        kinship=analysis_kinship(),
        phenotypes=config["phenotypes"],
        covariates=optional_input("covariates"),
        # a .npy's ids/column-name files (<name>.ids.txt, <name>.columns.txt): editing one reruns
        sidecars=analysis_kinship_ids()
        + sidecar_input("kinship")
        + sidecar_input("phenotypes")
        + sidecar_input("covariates"),
    output:
        data="results/clean/cleaned.npz",
        phenotypes=report(
            "results/clean/phenotype_status.tsv",
            caption="../report/phenotype_status.rst",
            category="Data",
        ),
        dropped=report(
            "results/clean/dropped_individuals.tsv",
            caption="../report/dropped_individuals.rst",
            category="Data",
        ),
        summary="results/clean/summary.yaml",
    log:
        "logs/load_and_clean.log",
    benchmark:
        "logs/benchmarks/load_and_clean.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 10),
        runtime=input_runtime(5, 20),
    params:
        id_column=lookup(dpath="id_column", within=config),
        na_values=lookup(dpath="na_values", within=config),
        phenotype_columns=lookup(dpath="phenotype_columns", within=config),
        covariate_columns=lookup(dpath="covariate_columns", within=config),
        interactive_covariates=lookup(dpath="interactive_covariates", within=config),
        transform=lookup(dpath="transform", within=config),
        # the inputs' content: a file replaced by an older one is redone too (common.smk)
        inputs=input_checksums("load_and_clean"),
        code=script_code("load_and_clean.py"),
    script:
        "../scripts/load_and_clean.py"


rule load_x_covariates:
    """The X chromosomes' covariates (config x_covariates, R/qtl2's Xcovar) of the analysed individuals, checked and aligned."""
    input:
        table=optional_input("x_covariates"),
        sidecars=sidecar_input("x_covariates"),
        data=rules.load_and_clean.output.data,
    output:
        x_covariates="results/clean/x_covariates.npz",
    log:
        "logs/load_x_covariates.log",
    benchmark:
        "logs/benchmarks/load_x_covariates.tsv"
    priority: SCAN_PRIORITY["load_x_covariates"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 10),
        runtime=input_runtime(5, 20),
    params:
        id_column=lookup(dpath="id_column", within=config),
        na_values=lookup(dpath="na_values", within=config),
        inputs=input_checksums("load_x_covariates"),
        code=script_code("load_x_covariates.py"),
    script:
        "../scripts/load_x_covariates.py"

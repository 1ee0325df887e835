rule load_and_clean:
    """Read the three tables (text, Parquet or .npy), align them by id, drop what cannot be used (and record why)."""
    input:
        kinship=config["kinship"],
        phenotypes=config["phenotypes"],
        covariates=optional_input("covariates"),
        # a .npy's ids/column-name files (<name>.ids.txt, <name>.columns.txt): editing one reruns
        sidecars=sidecar_input("kinship") + sidecar_input("phenotypes") + sidecar_input("covariates"),
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
    params:
        id_column=lookup(dpath="id_column", within=config),
        na_values=lookup(dpath="na_values", within=config),
        phenotype_columns=lookup(dpath="phenotype_columns", within=config),
        covariate_columns=lookup(dpath="covariate_columns", within=config),
        transform=lookup(dpath="transform", within=config),
        code=lmm_code("pipeline/io", "pipeline/clean", "pipeline/atomic", "errors"),
    log:
        "logs/load_and_clean.log",
    benchmark:
        "benchmarks/rules/load_and_clean.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: int(500 + 10 * input.size_mb),
        runtime=lambda wildcards, input: int(5 + input.size_mb / 20),
    conda:
        ENV
    script:
        "../scripts/load_and_clean.py"

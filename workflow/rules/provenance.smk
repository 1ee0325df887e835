rule provenance:
    """Software, BLAS, configuration, input checksums, kinship scale and counts of a run."""
    input:
        kinship=analysis_kinship(),
        phenotypes=config["phenotypes"],
        covariates=optional_input("covariates"),
        kinship_sidecars=sidecar_input("kinship"),
        phenotype_sidecars=sidecar_input("phenotypes"),
        covariate_sidecars=sidecar_input("covariates"),
        summary=rules.load_and_clean.output.summary,
        record=rules.partition.output.record,
        table=rules.aggregate.output.table,
        rotated=rotated_files,
        genotypes=genotype_summary,
        kinship_record=kinship_record,
        # the genotype files whose checksums the record gives (when the genotypes are used)
        genotype_files=genotype_provenance_inputs(),
        scan=scan_provenance_inputs,
    output:
        record=report(
            "results/provenance.yaml",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance.log",
    benchmark:
        "logs/benchmarks/provenance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        config=config,
        genotype_files=genotype_provenance_files(),
        inputs=input_checksums("provenance"),
        code=script_code("provenance.py"),
    script:
        "../scripts/provenance.py"

rule aggregate:
    """One row per input phenotype, in input order: estimates, or the reason for none."""
    input:
        phenotypes=rules.partition.output.phenotypes,
        record=rules.partition.output.record,
        tables=fit_tables,
        profiles=fit_profiles,
    output:
        table=report(
            "results/heritability.tsv",
            caption="../report/heritability_table.rst",
            category="Heritability",
        ),
        profile="results/profile_loglik.tsv",
    params:
        code=lmm_code("pipeline/aggregate", "pipeline/atomic"),
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/rules/aggregate.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: int(400 + 5 * input.size_mb),
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/aggregate.py"

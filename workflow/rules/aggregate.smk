rule aggregate:
    """One row per input phenotype, in input order: estimates, or the reason for none."""
    input:
        phenotypes=rules.partition.output.phenotypes,
        record=rules.partition.output.record,
        tables=fit_outputs("table"),
        profiles=fit_outputs("profile"),
    output:
        table=report(
            "results/heritability.tsv",
            caption="../report/heritability_table.rst",
            category="Heritability",
        ),
        profile="results/profile_loglik.tsv",
    log:
        "logs/aggregate.log",
    benchmark:
        "logs/benchmarks/aggregate.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(400, 5),
        runtime=10,
    params:
        code=script_code("aggregate.py"),
    script:
        "../scripts/aggregate.py"

rule plot_heritability:
    """hsq and its 95% interval for every phenotype, one figure."""
    input:
        table=rules.aggregate.output.table,
    output:
        figure=report(
            "results/plots/heritability.png",
            caption="../report/heritability_plot.rst",
            category="Heritability",
        ),
    params:
        code=lmm_code("pipeline/plots", "pipeline/atomic"),
    log:
        "logs/plot_heritability.log",
    benchmark:
        "benchmarks/rules/plot_heritability.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/plot_heritability.py"


rule plot_profiles:
    """Profile log-likelihood curves over hsq, one panel per phenotype."""
    input:
        table=rules.aggregate.output.table,
        profile=rules.aggregate.output.profile,
    output:
        figure=report(
            "results/plots/profile_loglik.png",
            caption="../report/profile_plot.rst",
            category="Heritability",
        ),
    params:
        code=lmm_code("pipeline/plots", "pipeline/atomic"),
    log:
        "logs/plot_profiles.log",
    benchmark:
        "benchmarks/rules/plot_profiles.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/plot_profiles.py"

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
    log:
        "logs/plot_heritability.log",
    benchmark:
        "logs/benchmarks/plot_heritability.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=script_code("plot_heritability.py"),
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
    log:
        "logs/plot_profiles.log",
    benchmark:
        "logs/benchmarks/plot_profiles.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=script_code("plot_profiles.py"),
    script:
        "../scripts/plot_profiles.py"

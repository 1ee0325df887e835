# QTL effects (config 'effects'): at every peak of the scan, R/qtl2's fit1 estimates and SEs and
# scan1blup's BLUPs, from the scan's own decompositions and LOCO null hsq; along the chromosomes
# with peaks (effects: chromosomes); one figure per strongest peak in the report.


rule scan_effects:
    """Allele (or dosage) effects, SEs and BLUPs at every peak; the curves of the plotted peaks."""
    input:
        peaks=rules.scan_aggregate.output.peaks,
        hsq=rules.scan_aggregate.output.hsq,
        eigen=scan_eigen_files,
        store=rules.load_genotypes.output.store,
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
        x_covariates=rules.load_x_covariates.output.x_covariates,
    output:
        effects=report(
            "results/scan/effects.tsv",
            caption="../report/effects_table.rst",
            category="Genome scan",
            subcategory="QTL effects",
        ),
        curves="results/scan/effects_curves.parquet",
    log:
        "logs/scan_effects.log",
    benchmark:
        "logs/benchmarks/scan_effects.tsv"
    priority: SCAN_PRIORITY["scan_effects"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 2),
        runtime=30,
    params:
        groups=scan_group_map,
        loco=lookup(dpath="loco", within=config),
        code=script_code("scan_effects.py"),
    script:
        "../scripts/scan_effects.py"


rule scan_coef:
    """Coefficients, SEs and BLUPs at every marker of each chromosome with a peak (effects: chromosomes)."""
    input:
        peaks=rules.scan_aggregate.output.peaks,
        hsq=rules.scan_aggregate.output.hsq,
        eigen=scan_eigen_files,
        store=rules.load_genotypes.output.store,
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
        x_covariates=rules.load_x_covariates.output.x_covariates,
    output:
        coef="results/scan/coef.parquet",
    log:
        "logs/scan_coef.log",
    benchmark:
        "logs/benchmarks/scan_coef.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(1000, 3),
        runtime=60,
    params:
        groups=scan_group_map,
        loco=lookup(dpath="loco", within=config),
        code=script_code("scan_effects.py"),
    script:
        "../scripts/scan_effects.py"


rule plot_effects:
    """For the strongest peaks: allele effects along the chromosome over the LOD, and phenotype by genotype."""
    input:
        peaks=rules.scan_aggregate.output.peaks,
        curves=rules.scan_effects.output.curves,
        store=rules.load_genotypes.output.store,
        data=rules.load_and_clean.output.data,
    output:
        figures=report(
            directory("results/plots/effects"),
            patterns=["{name}.png"],
            caption="../report/effects_plot.rst",
            category="Genome scan",
            subcategory="QTL effects",
        ),
    log:
        "logs/plot_effects.log",
    benchmark:
        "logs/benchmarks/plot_effects.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        position_label=lookup(dpath="map_unit", within=config),
        code=script_code("plot_effects.py"),
    script:
        "../scripts/plot_effects.py"

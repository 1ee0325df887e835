# Figures of the genome scan (in the report): LOD curves and a Manhattan plot need the LOD of
# every marker (scan_output: full); the peak map needs only the peaks.


rule plot_lod_curves:
    """LOD along the genome for the phenotypes with peaks, threshold and peaks marked."""
    input:
        lod=rules.scan_lod.output.lod,
        peaks=rules.scan_aggregate.output.peaks,
        thresholds=rules.scan_aggregate.output.thresholds,
    output:
        figure=report(
            "results/plots/lod_curves.png",
            caption="../report/lod_curves.rst",
            category="Genome scan",
        ),
    log:
        "logs/plot_lod_curves.log",
    benchmark:
        "logs/benchmarks/plot_lod_curves.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(1000, 4),
        runtime=10,
    params:
        threshold=lookup(dpath="peak_threshold", within=config),
        position_label=lookup(dpath="map_unit", within=config),
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        code=script_code("plot_scan.py"),
    script:
        "../scripts/plot_scan.py"


rule plot_manhattan:
    """-log10 p along the genome for the phenotype with the highest peak."""
    input:
        lod=rules.scan_lod.output.lod,
        markers=rules.scan_aggregate.output.markers,
        max=rules.scan_aggregate.output.max,
    output:
        figure=report(
            "results/plots/manhattan.png",
            caption="../report/manhattan.rst",
            category="Genome scan",
        ),
    log:
        "logs/plot_manhattan.log",
    benchmark:
        "logs/benchmarks/plot_manhattan.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(1000, 4),
        runtime=10,
    params:
        position_label=lookup(dpath="map_unit", within=config),
        code=script_code("plot_scan.py"),
    script:
        "../scripts/plot_scan.py"


rule plot_peak_map:
    """Peak position by phenotype with LOD as colour (the eQTL view)."""
    input:
        peaks=rules.scan_aggregate.output.peaks,
        markers=rules.scan_aggregate.output.markers,
    output:
        figure=report(
            "results/plots/peak_map.png",
            caption="../report/peak_map.rst",
            category="Genome scan",
        ),
    log:
        "logs/plot_peak_map.log",
    benchmark:
        "logs/benchmarks/plot_peak_map.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        position_label=lookup(dpath="map_unit", within=config),
        code=script_code("plot_scan.py"),
    script:
        "../scripts/plot_scan.py"

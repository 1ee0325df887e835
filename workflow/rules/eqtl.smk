# eQTL studies (config/README.md, "How to run an eQTL study"): after the scan, each trait's
# permutation maxima, its genome-wide significance at config 'fdr' (significance.tsv, whenever
# scan_permutations > 0), the peaks of the significant traits with, given trait positions, their
# local/distal call, hotspots, and the sparse LOD output of config 'lod_min'. Only the scan
# jobs read the genotypes: a new fdr, cis_window, hotspot_window or positions file reruns the
# rules here, no scan job. Helpers: eqtl_helpers.smk.


rule permutation_maxima:
    """Each trait's permutation maxima per region (A/X or all) and replicate, from every scan job."""
    input:
        results=scan_results,
        thresholds=rules.scan_aggregate.output.thresholds,
        record=rules.partition.output.record,
    output:
        maxima="results/scan/permutation_maxima.parquet",
    log:
        "logs/permutation_maxima.log",
    benchmark:
        "logs/benchmarks/permutation_maxima.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 2),
        runtime=30,
    params:
        chunk_size=scan_chunk_size,
        groups=scan_group_map,
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        code=script_code("permutation_maxima.py"),
    script:
        "../scripts/permutation_maxima.py"


rule significance:
    """Each trait's genome-wide p-value (beta approximation), q-value, call and LOD thresholds at config fdr."""
    input:
        max=rules.scan_aggregate.output.max,
        maxima=rules.permutation_maxima.output.maxima,
        markers=rules.scan_aggregate.output.markers,
    output:
        table=report(
            "results/scan/significance.tsv",
            caption="../report/significance.rst",
            category="eQTL",
        ),
    log:
        "logs/significance.log",
    benchmark:
        "logs/benchmarks/significance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 4),
        runtime=30,
    params:
        fdr=lookup(dpath="fdr", within=config),
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        code=script_code("significance.py"),
    script:
        "../scripts/significance.py"


rule eqtl_peaks:
    """The peaks with their trait's LOD threshold at config fdr, and given trait positions local (cis) or distal."""
    input:
        peaks=rules.scan_aggregate.output.peaks,
        significance=rules.significance.output.table,
        markers=rules.scan_aggregate.output.markers,
        positions=optional_input("phenotype_positions"),
    output:
        peaks="results/scan/eqtl_peaks.tsv",
    log:
        "logs/eqtl_peaks.log",
    benchmark:
        "logs/benchmarks/eqtl_peaks.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 4),
        runtime=10,
    params:
        cis_window=lookup(dpath="cis_window", within=config),
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        peak_threshold=lookup(dpath="peak_threshold", within=config),
        inputs=input_checksums("eqtl_peaks"),
        code=script_code("eqtl_peaks.py"),
    script:
        "../scripts/eqtl_peaks.py"


rule hotspots:
    """Significant peaks in a sliding window of config hotspot_window along the genome, and their figure."""
    input:
        peaks=rules.eqtl_peaks.output.peaks,
        markers=rules.scan_aggregate.output.markers,
    output:
        table="results/scan/hotspots.tsv",
        figure=report(
            "results/plots/hotspots.png",
            caption="../report/hotspots.rst",
            category="eQTL",
        ),
    log:
        "logs/hotspots.log",
    benchmark:
        "logs/benchmarks/hotspots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        window=lookup(dpath="hotspot_window", within=config),
        position_label=lookup(dpath="map_unit", within=config),
        code=script_code("plot_eqtl.py"),
    script:
        "../scripts/plot_eqtl.py"


rule plot_cis_trans:
    """Significant peaks' positions against their traits' positions (R/qtl2's plot_cistrans)."""
    input:
        peaks=rules.eqtl_peaks.output.peaks,
        markers=rules.scan_aggregate.output.markers,
    output:
        figure=report(
            "results/plots/cis_trans.png",
            caption="../report/cis_trans.rst",
            category="eQTL",
        ),
    log:
        "logs/plot_cis_trans.log",
    benchmark:
        "logs/benchmarks/plot_cis_trans.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        position_label=lookup(dpath="map_unit", within=config),
        code=script_code("plot_eqtl.py"),
    script:
        "../scripts/plot_eqtl.py"


rule scan_lod_min:
    """Every (marker, trait) of a chromosome with LOD at least config lod_min, as one Parquet table."""
    input:
        results=lod_min_results,
        markers=rules.scan_aggregate.output.markers,
        record=rules.partition.output.record,
    output:
        table="results/scan/lod_min/{chrom}.parquet",
    log:
        "logs/scan_lod_min/{chrom}.log",
    benchmark:
        "logs/benchmarks/scan_lod_min/{chrom}.tsv"
    wildcard_constraints:
        chrom=r"[^/]+",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 3),
        runtime=30,
    params:
        chunk_size=scan_chunk_size,
        group=lod_min_group,
        lod_min=lookup(dpath="lod_min", within=config),
        code=script_code("scan_lod_min.py"),
    script:
        "../scripts/scan_lod_min.py"

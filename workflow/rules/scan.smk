# The genome scan: per group of chromosomes (lmm.pipeline.genome_scan.scan_groups: one chromosome
# per group for large data, several for small), the decompositions of their kinships (LOCO) for
# each missing-data batch; per group and chunk of phenotypes, the null fits and the LOD of every
# marker; then the tables, the full LOD matrix (scan_output: full) and the figures.


rule scan_decompose:
    """Eigen-decompose the kinships of a group of chromosomes (each leaving its chromosome out) for every missing-data batch."""
    input:
        kinship=scan_kinship_input,
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
    output:
        eigen="results/scan/eigen/{group}.npz",
    log:
        "logs/scan_decompose/{group}.log",
    benchmark:
        "logs/benchmarks/scan_decompose/{group}.tsv"
    priority: SCAN_PRIORITY["scan_decompose"]
    conda:
        ENV
    threads: scan_decompose_threads
    resources:
        mem_mb=scan_decompose_mem_mb,
        runtime=scan_decompose_runtime,
    params:
        groups=scan_group_map,
        code=script_code("scan_decompose.py"),
    script:
        "../scripts/scan_decompose.py"


rule scan:
    """Null fits (hsq per phenotype and chromosome) and the LOD of every marker, for a group of chromosomes and a chunk of phenotypes."""
    input:
        eigen=scan_eigen_input,
        store=rules.load_genotypes.output.store,
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
        x_covariates=rules.load_x_covariates.output.x_covariates,
    output:
        result="results/scan/chunks/{group}/{chunk}.npz",
    log:
        "logs/scan/{group}/{chunk}.log",
    benchmark:
        "logs/benchmarks/scan/{group}/{chunk}.tsv"
    priority: SCAN_PRIORITY["scan"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=scan_mem_mb,
        runtime=60,
    params:
        method=lookup(dpath="method", within=config),
        tol=lookup(dpath="scan_tol", within=config),
        chunk_size=scan_chunk_size,
        tile_columns=lookup(dpath="scan_tile_columns", within=config),
        threshold=lookup(dpath="peak_threshold", within=config),
        peakdrop=lookup(dpath="peakdrop", within=config),
        interval=lookup(dpath="interval", within=config),
        drop=lookup(dpath="interval_drop", within=config),
        prob=lookup(dpath="interval_prob", within=config),
        permutations=lookup(dpath="scan_permutations", within=config),
        seed=lookup(dpath="scan_seed", within=config),
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        interactive=lookup(dpath="interactive_covariates", within=config),
        keep_lod=scan_full_output,
        lod_min=lookup(dpath="lod_min", within=config),
        groups=scan_group_map,
        loco=lookup(dpath="loco", within=config),
        code=script_code("scan.py"),
    script:
        "../scripts/scan.py"


rule scan_aggregate:
    """The scan's tables: peaks, maxima per chromosome, null hsq, thresholds, markers."""
    input:
        results=scan_results,
        store=rules.load_genotypes.output.store,
        record=rules.partition.output.record,
    output:
        peaks=report(
            "results/scan/peaks.tsv",
            caption="../report/scan_peaks.rst",
            category="Genome scan",
        ),
        max="results/scan/max.tsv",
        hsq="results/scan/hsq.tsv",
        thresholds="results/scan/thresholds.tsv",
        markers="results/scan/markers.tsv",
    log:
        "logs/scan_aggregate.log",
    benchmark:
        "logs/benchmarks/scan_aggregate.tsv"
    priority: SCAN_PRIORITY["scan_aggregate"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 2),
        runtime=30,
    params:
        chunk_size=scan_chunk_size,
        threshold=lookup(dpath="peak_threshold", within=config),
        groups=scan_group_map,
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        code=script_code("scan_aggregate.py"),
    script:
        "../scripts/scan_aggregate.py"


rule scan_lod:
    """The LOD of every marker and phenotype as one table (scan_output: full)."""
    input:
        results=scan_results,
        markers=rules.scan_aggregate.output.markers,
        record=rules.partition.output.record,
    output:
        lod="results/scan/lod.parquet",
    log:
        "logs/scan_lod.log",
    benchmark:
        "logs/benchmarks/scan_lod.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 3),
        runtime=30,
    params:
        chunk_size=scan_chunk_size,
        groups=scan_group_map,
        code=script_code("scan_lod.py"),
    script:
        "../scripts/scan_lod.py"

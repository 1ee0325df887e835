# The genome scan: per chromosome, the decompositions of its kinship (LOCO) for each missing-data
# batch; per chromosome and chunk of phenotypes, the null fits and the LOD of every marker; then the
# tables, the full LOD matrix (scan_output: full) and the figures.


rule scan_decompose:
    """Eigen-decompose one chromosome's kinship (the one leaving it out) for every missing-data batch."""
    input:
        kinship=scan_kinship_input,
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
    output:
        eigen="results/scan/eigen/{chrom}.npz",
    log:
        "logs/scan_decompose/{chrom}.log",
    benchmark:
        "logs/benchmarks/scan_decompose/{chrom}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=scan_decompose_mem_mb,
        runtime=scan_decompose_runtime,
    params:
        code=script_code("scan_decompose.py"),
    script:
        "../scripts/scan_decompose.py"


rule scan:
    """Null fits (hsq per phenotype on this chromosome's kinship) and the LOD of every marker of the chromosome."""
    input:
        eigen=scan_eigen_input,
        store=rules.load_genotypes.output.store,
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
    output:
        result="results/scan/chunks/{chrom}/{chunk}.npz",
    log:
        "logs/scan/{chrom}/{chunk}.log",
    benchmark:
        "logs/benchmarks/scan/{chrom}/{chunk}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=scan_mem_mb,
        runtime=60,
    params:
        method=lookup(dpath="method", within=config),
        tol=lookup(dpath="scan_tol", within=config),
        chunk_size=lookup(dpath="scan_chunk_size", within=config),
        tile_columns=lookup(dpath="scan_tile_columns", within=config),
        threshold=lookup(dpath="peak_threshold", within=config),
        drop=lookup(dpath="peak_drop", within=config),
        permutations=lookup(dpath="scan_permutations", within=config),
        seed=lookup(dpath="scan_seed", within=config),
        keep_lod=scan_full_output,
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
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(500, 2),
        runtime=30,
    params:
        chunk_size=lookup(dpath="scan_chunk_size", within=config),
        threshold=lookup(dpath="peak_threshold", within=config),
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
        chunk_size=lookup(dpath="scan_chunk_size", within=config),
        code=script_code("scan_lod.py"),
    script:
        "../scripts/scan_lod.py"

rule rotate:
    """One eigen-decomposition of the kinship of a batch's individuals; rotate its data."""
    input:
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
    output:
        rotated="results/rotate/{batch}.npz",
    params:
        code=lmm_code("pipeline/batch", "rotation", "_checks", "errors", "pipeline/atomic"),
    log:
        "logs/rotate/{batch}.log",
    benchmark:
        "benchmarks/rules/rotate/{batch}.tsv"
    threads: 1
    resources:
        mem_mb=rotate_mem_mb,
        runtime=rotate_runtime,
    conda:
        ENV
    script:
        "../scripts/rotate.py"

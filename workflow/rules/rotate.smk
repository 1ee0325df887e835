rule rotate:
    """One eigen-decomposition of the kinship of a batch's individuals; rotate its data."""
    input:
        data=rules.load_and_clean.output.data,
        record=rules.partition.output.record,
    output:
        rotated="results/rotate/{batch}.npz",
    log:
        "logs/rotate/{batch}.log",
    benchmark:
        "logs/benchmarks/rotate/{batch}.tsv"
    conda:
        ENV
    threads: rotate_threads
    resources:
        mem_mb=rotate_mem_mb,
        runtime=rotate_runtime,
    params:
        code=script_code("rotate.py"),
    script:
        "../scripts/rotate.py"

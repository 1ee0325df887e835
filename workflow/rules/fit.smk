rule fit:
    """Fit the LMM to all phenotypes of one chunk at once; profile log-likelihood on a grid.

    Chunks c###: phenotypes of the batch, rotated by its decomposition. Chunks m###: phenotypes
    of 'schur' batches, fitted from this (complete) batch's decomposition with their masks.
    """
    input:
        rotated=rules.rotate.output.rotated,
        record=rules.partition.output.record,
        data=masked_chunk_data,
    output:
        table="results/fit/{batch}/{chunk}.tsv",
        profile="results/fit/{batch}/{chunk}.profile.tsv",
    log:
        "logs/fit/{batch}/{chunk}.log",
    benchmark:
        "logs/benchmarks/fit/{batch}/{chunk}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=30,
    params:
        method=lookup(dpath="method", within=config),
        tol=lookup(dpath="tol", within=config),
        check_boundary=lookup(dpath="check_boundary", within=config),
        compute_se=lookup(dpath="compute_se", within=config),
        profile_grid=profile_grid(),
        code=script_code("fit.py"),
    script:
        "../scripts/fit.py"

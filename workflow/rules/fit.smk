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
    params:
        method=lookup(dpath="method", within=config),
        tol=lookup(dpath="tol", within=config),
        check_boundary=lookup(dpath="check_boundary", within=config),
        compute_se=lookup(dpath="compute_se", within=config),
        profile_grid=profile_grid(),
        code=lmm_code(
            "pipeline/batch", "fit", "likelihood", "brent", "missing", "_checks", "errors", "pipeline/atomic"
        ),
    log:
        "logs/fit/{batch}/{chunk}.log",
    benchmark:
        "benchmarks/rules/fit/{batch}/{chunk}.tsv"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
        runtime=30,
    conda:
        ENV
    script:
        "../scripts/fit.py"

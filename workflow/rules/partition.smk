checkpoint partition:
    """Group phenotypes by missing-data pattern into batches, split batches into chunks."""
    input:
        data=rules.load_and_clean.output.data,
        phenotypes=rules.load_and_clean.output.phenotypes,
    output:
        record="results/partition/partition.json",
        phenotypes="results/partition/phenotypes.tsv",
        chunks=report(
            "results/partition/chunks.tsv",
            caption="../report/chunks.rst",
            category="Data",
        ),
    params:
        max_batch_size=lookup(dpath="max_batch_size", within=config),
        missing_strategy=lookup(dpath="missing_strategy", within=config),
        code=lmm_code("pipeline/partition", "pipeline/clean", "missing", "pipeline/atomic"),
    log:
        "logs/partition.log",
    benchmark:
        "benchmarks/rules/partition.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: int(400 + 3 * input.size_mb),
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/partition.py"

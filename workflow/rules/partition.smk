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
    log:
        "logs/partition.log",
    benchmark:
        "logs/benchmarks/partition.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(400, 3),
        runtime=10,
    params:
        max_batch_size=lookup(dpath="max_batch_size", within=config),
        missing_strategy=lookup(dpath="missing_strategy", within=config),
        code=script_code("partition.py"),
    script:
        "../scripts/partition.py"

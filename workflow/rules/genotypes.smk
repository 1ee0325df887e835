# Genotypes and kinship: the genotype files converted once to a memory-mapped intermediate, then
# the overall kinship and one kinship per chromosome left out (LOCO), in one pass over the markers.


checkpoint load_genotypes:
    """Read the genotype files (PLINK, BIMBAM or a table), align them to the phenotyped individuals, impute, filter, write the intermediate."""
    input:
        genotypes=genotype_files(),
        sidecars=genotype_sidecars(),
        map=optional_input("genotype_map"),
        ids=optional_input("genotype_ids"),
        # the analysis' individuals are the phenotype file's (a .npy's ids in its sidecars)
        phenotypes=config["phenotypes"],
        phenotype_sidecars=sidecar_input("phenotypes"),
    output:
        store=directory("results/genotypes"),
    log:
        "logs/load_genotypes.log",
    benchmark:
        "logs/benchmarks/load_genotypes.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=input_mem_mb(1000, 12),
        runtime=input_runtime(10, 10),
    params:
        genotype_format=lookup(dpath="genotype_format", within=config),
        map_position=lookup(dpath="map_position", within=config),
        x_chromosomes=lookup(dpath="x_chromosomes", within=config),
        max_marker_missing=lookup(dpath="max_marker_missing", within=config),
        genotype_dtype=lookup(dpath="genotype_dtype", within=config),
        id_column=lookup(dpath="id_column", within=config),
        na_values=lookup(dpath="na_values", within=config),
        inputs=input_checksums("load_genotypes"),
        code=script_code("load_genotypes.py"),
    script:
        "../scripts/load_genotypes.py"


rule kinship:
    """The kinship of the genotyped individuals (overall and leaving out each chromosome)."""
    input:
        store=rules.load_genotypes.output.store,
    output:
        overall="results/kinship/overall.npy",
        ids="results/kinship/overall.ids.txt",
        loco=directory("results/kinship/loco"),
        record="results/kinship/kinship.yaml",
    log:
        "logs/kinship.log",
    benchmark:
        "logs/benchmarks/kinship.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=kinship_mem_mb,
        runtime=60,
    params:
        method=lookup(dpath="kinship_method", within=config),
        loco=lookup(dpath="loco", within=config),
        code=script_code("kinship.py"),
    script:
        "../scripts/kinship.py"

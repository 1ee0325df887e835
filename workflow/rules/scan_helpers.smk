# Helpers of the genotype, kinship and genome-scan rules (workflow/rules/genotypes.smk, scan.smk,
# scan_plots.smk, provenance.smk): which genotype files, the chromosome groups and phenotype chunks
# of the scan (after the load_genotypes and partition checkpoints), resources and threads.

from pathlib import Path


def genotypes_given():
    return bool(config.get("genotypes"))


def genotypes_used():
    """Whether the genotypes are read: for the kinship ('kinship' null) or for the scan."""
    return genotypes_given() and (not config.get("kinship") or scan_enabled())


def scan_enabled():
    """config 'scan': on when genotypes are given ('auto'), or as set."""
    if config["scan"] == "auto":
        return genotypes_given()
    return bool(config["scan"])


def genotype_files():
    """The genotype files as given (a PLINK prefix becomes its .bed)."""
    given = config.get("genotypes") or []
    paths = [given] if isinstance(given, str) else list(given)
    return [
        f"{p}.bed" if not Path(p).exists() and Path(f"{p}.bed").exists() else p
        for p in paths
    ]


def genotype_sidecars():
    """A PLINK .bed's .bim and .fam files."""
    return [
        str(Path(p).with_suffix(s))
        for p in genotype_files()
        if p.lower().endswith(".bed")
        for s in (".bim", ".fam")
    ]


def analysis_kinship():
    """The kinship of the heritability fits: config 'kinship', else the one from the genotypes."""
    return config["kinship"] if config.get("kinship") else rules.kinship.output.overall


def analysis_kinship_ids():
    """The ids file of the kinship computed from the genotypes ([] for a given kinship)."""
    return [] if config.get("kinship") else [rules.kinship.output.ids]


_STORE_CACHE = {}


def _store_info():
    """The genotype intermediate's markers (chr, n_columns) and number of individuals."""
    store = Path(checkpoints.load_genotypes.get().output.store)
    path = store / "markers.tsv"
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _STORE_CACHE:
        import pandas as pd

        _STORE_CACHE.clear()
        markers = pd.read_csv(
            path,
            sep="\t",
            usecols=["chr", "n_columns"],
            dtype={"chr": str},
            keep_default_na=False,
        )
        n = len((store / "ids.txt").read_text(encoding="utf-8").splitlines())
        _STORE_CACHE[key] = (markers, n)
    return _STORE_CACHE[key]


def scan_markers():
    """The genotype intermediate's markers (after the load_genotypes checkpoint)."""
    return _store_info()[0]


def scan_group_map(wildcards=None):
    """{g01: [chromosomes], ...}: the chromosomes each scan job covers (genome_scan.scan_groups)."""
    from lmm.pipeline.genome_scan import scan_groups

    markers, n = _store_info()
    columns = markers.groupby("chr", sort=False)["n_columns"].sum().to_dict()
    chunk = max((len(c) for c in _scan_chunks()), default=1)
    groups = scan_groups(
        list(columns), columns, n, chunk, config["scan_chromosomes_per_job"]
    )
    return {f"g{k:02d}": group for k, group in enumerate(groups, start=1)}


def scan_chunk_names():
    """s001, s002, ...: the scan's chunks of phenotypes (lmm.pipeline.genome_scan.scan_chunks)."""
    return [f"s{k:03d}" for k in range(1, len(_scan_chunks()) + 1)]


def scan_results(wildcards):
    """Every scan job's result, group-major, in genome and chunk order."""
    return expand(
        rules.scan.output.result, group=list(scan_group_map()), chunk=scan_chunk_names()
    )


def scan_kinship_input(wildcards):
    """The LOCO kinships (the 'all' group uses the analysis kinship in the cleaned data)."""
    return [rules.kinship.output.loco] if wildcards.group != "all" else []


def scan_eigen_input(wildcards):
    """The decompositions a scan job uses: its group's, or the overall one without LOCO."""
    return expand(
        rules.scan_decompose.output.eigen,
        group=wildcards.group if config["loco"] else "all",
    )


def scan_eigen_files(wildcards):
    """Every decomposition of the scan, in group order (the effects stages): one per group, or the
    overall one without LOCO."""
    groups = list(scan_group_map()) if config["loco"] else ["all"]
    return expand(rules.scan_decompose.output.eigen, group=groups)


#: scan_output 'auto' keeps every LOD while markers x phenotypes is at most this (400 MB).
SCAN_FULL_LIMIT = 50_000_000


def scan_full_output(wildcards=None):
    """Whether the LOD of every marker and phenotype is kept (config 'scan_output')."""
    if config["scan_output"] != "auto":
        return config["scan_output"] == "full"
    n_phenotypes = sum(len(c) for c in _scan_chunks())
    return len(scan_markers()) * n_phenotypes <= SCAN_FULL_LIMIT


def _largest_chromosome():
    """Markers of the largest chromosome of the genotype intermediate (0 without markers)."""
    markers = scan_markers()
    return int(markers["chr"].value_counts().max()) if len(markers) else 0


def scan_chunk_size(wildcards=None):
    """Phenotypes per scan job: config 'scan_chunk_size', 'auto' from the largest chromosome."""
    from lmm.pipeline.genome_scan import resolve_chunk_size

    return resolve_chunk_size(config["scan_chunk_size"], _largest_chromosome())


def _scan_chunks():
    from lmm.pipeline.genome_scan import scan_chunks

    return scan_chunks(partition_record(), scan_chunk_size())


def scan_targets(wildcards):
    """The scan's final files (none without a scan)."""
    if not scan_enabled():
        return []
    targets = list(rules.scan_aggregate.output) + [rules.plot_peak_map.output.figure]
    if scan_full_output():
        targets += [
            rules.scan_lod.output.lod,
            rules.plot_lod_curves.output.figure,
            rules.plot_manhattan.output.figure,
        ]
    if config["effects"] != "none":
        targets += [
            rules.scan_effects.output.effects,
            rules.plot_effects.output.figures,
        ]
    if config["effects"] == "chromosomes":
        targets.append(rules.scan_coef.output.coef)
    return targets


def kinship_mem_mb(wildcards, input):
    """The genotype blocks plus one n x n sum per chromosome (LOCO) and the overall one."""
    return int(800 + 3 * input_size_mb(input))


def scan_decompose_mem_mb(wildcards, input):
    """The cleaned data and ~10 n x n arrays (kinship, eigh workspace, one decomposition per batch)."""
    return int(500 + 12 * input_size_mb(input))


def scan_decompose_runtime(wildcards, input):
    return int(10 + input_size_mb(input) / 10)


def scan_mem_mb(wildcards, input):
    """The decompositions, one tile of genotypes and the LOD of the chunk (three copies of
    markers of the largest chromosome x phenotypes of the largest chunk, float64)."""
    chunk = max((len(c) for c in _scan_chunks()), default=0)
    return int(
        1000 + 3 * input_size_mb(input) + 3 * 8e-6 * _largest_chromosome() * chunk
    )


def genotype_summary(wildcards):
    """The genotype intermediate's record (for the provenance), when the genotypes are used."""
    if not genotypes_used():
        return []
    return [Path(checkpoints.load_genotypes.get().output.store) / "genotypes.yaml"]


def genotype_provenance_inputs():
    """The genotype input files the provenance hashes (read only when the genotypes are used)."""
    return list(genotype_provenance_files().values())


def kinship_record(wildcards):
    """The computed kinships' record, when the genotypes are used."""
    return [rules.kinship.output.record] if genotypes_used() else []


def scan_provenance_inputs(wildcards):
    """The scan's tables, so the provenance is written after (and about) them."""
    return list(rules.scan_aggregate.output) if scan_enabled() else []


def genotype_provenance_files():
    """{role: path} of the genotype inputs, for the provenance's checksums ({} when unused)."""
    if not genotypes_used():
        return {}
    files = {f"genotypes_{k}": p for k, p in enumerate(genotype_files(), start=1)}
    files |= {
        f"genotypes_{Path(p).suffix[1:]}_{k}": p
        for k, p in enumerate(genotype_sidecars(), start=1)
    }
    for key in ("genotype_map", "genotype_ids"):
        if config.get(key):
            files[key] = config[key]
    return files


# --- Scheduling: the scan's chain (its decompositions, the scan jobs, its tables, the effects at
# the peaks) is the longest path of a run; with these rule priorities Snakemake starts its jobs
# first, and the heritability side (rotate, fit, aggregate, their plots: priority 0) fills the cores
# the chain leaves idle (its serial end) instead of holding up the scan jobs.
SCAN_PRIORITY = {
    "load_x_covariates": 40,
    "scan_decompose": 40,
    "scan": 30,
    "scan_aggregate": 20,
    "scan_effects": 10,
}


# --- Threads of the eigen-decompositions (rotate, scan_decompose): O(n³), the one stage where
# several BLAS threads pay off, from a few thousand individuals: at n = 1,000 eigh takes 0.21 s on
# one thread and 0.15 s on two while starting the job takes about 1.3 s, so two threads only kept
# the other core from running the next job (20 LOCO decompositions: 33 s one after the other,
# 2026-12-08). From n = DECOMPOSE_THREADS_FROM individuals a job asks for
# config 'decompose_threads' (Snakemake gives it at most --cores); the scripts pin BLAS to what
# the job gets. Results are byte-identical between runs with the same threads per job; another
# count changes the last bits (about 1e-13 relative in hsq), not the numbers that matter.
DECOMPOSE_THREADS_FROM = 2000


def _decompose_threads(n):
    return config["decompose_threads"] if n >= DECOMPOSE_THREADS_FROM else 1


def rotate_threads(wildcards):
    """Threads of a batch's decomposition (rotate)."""
    return _decompose_threads(batch_record(wildcards.batch).n)


def scan_decompose_threads(wildcards):
    """Threads of the scan's decompositions of a group of chromosomes."""
    return _decompose_threads(_store_info()[1])

# Shared definitions: the configuration (checked once), the run lock, code and input stamps that
# trigger reruns, input functions and resource estimates. New rules use `script_code(...)` and
# `file_checksums(...)` in their `params:` the way the rules here do.

import ast
import fcntl
import hashlib
import importlib.util
import json
import os
import socket
from pathlib import Path

from snakemake.exceptions import WorkflowError

SCHEMA_PATH = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"
SCRIPTS_DIR = Path(workflow.current_basedir) / "../scripts"
# The workflow's own state, beside Snakemake's in the working directory.
STATE_DIR = Path(".snakemake") / "lmm-pipeline"


def check_config():
    """Validate the configuration once, fill in the schema's defaults, check the input files.

    Stops before any work with one line per error, naming the key (jsonschema's messages).
    """
    import yaml
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    # `--config covariates=null scan=false` arrive as text: read null as none, and true and
    # false as booleans, for the keys whose schema allows them
    for key, spec in schema["properties"].items():
        types = spec.get("type", [])
        types = [types] if isinstance(types, str) else types
        value = config.get(key)
        if (
            isinstance(value, str)
            and "null" in types
            and value in ("", "null", "None", "none")
        ):
            config[key] = None
        elif (
            isinstance(value, str) and "boolean" in types and value in ("true", "false")
        ):
            config[key] = value == "true"
    errors = sorted(
        Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path)
    )
    if errors:
        lines = []
        for error in errors:
            key = ".".join(str(p) for p in error.path) or "(top level)"
            lines.append(f"  config '{key}': {error.message}")
        raise WorkflowError(
            "Invalid configuration (config/config.yaml, --configfile or --config):\n"
            + "\n".join(lines)
            + f"\nSee {SCHEMA_PATH.resolve()} for every key, its type and default."
        )
    for key, spec in schema["properties"].items():
        config.setdefault(key, spec["default"])
    if not config.get("kinship") and not config.get("genotypes"):
        raise WorkflowError(
            "config 'kinship' and 'genotypes' are both null: give a kinship matrix, or genotypes "
            "to compute it from (config/README.md, 'Genotypes and kinship')."
        )
    if config["scan"] is True and not config.get("genotypes"):
        raise WorkflowError(
            "config 'scan' is true but 'genotypes' is null: a genome scan needs genotype files."
        )
    genotypes = config.get("genotypes") or []
    for path in [genotypes] if isinstance(genotypes, str) else genotypes:
        if not Path(path).exists() and not Path(f"{path}.bed").is_file():
            raise WorkflowError(
                f"config 'genotypes': the file '{path}' does not exist (relative paths are "
                f"read from the working directory {Path.cwd()})."
            )
    for key in ("genotype_map", "genotype_ids"):
        if config.get(key) and not Path(config[key]).is_file():
            raise WorkflowError(
                f"config '{key}': the file '{config[key]}' does not exist."
            )
    for key in ("kinship", "phenotypes", "covariates"):
        path = config.get(key)
        if path and not Path(path).is_file():
            raise WorkflowError(
                f"config '{key}': the file '{path}' does not exist "
                f"(relative paths are read from the working directory {Path.cwd()})."
            )
        for kind, sidecar in npy_sidecars(key).items():
            if not Path(sidecar).is_file():
                what = (
                    "one id per line" if kind == "ids" else "one column name per line"
                )
                raise WorkflowError(
                    f"config '{key}': the .npy file '{path}' holds no {'ids' if kind == 'ids' else 'column names'}: "
                    f"it needs the text file '{sidecar}' beside it ({what}, in the order of the "
                    f"matrix's {'rows' if kind == 'ids' else 'columns'}), which does not exist."
                )


def npy_sidecars(key):
    """For a .npy input (config[key]), its sidecar text files by kind; {} for other formats.

    The same naming as lmm.pipeline.io.npy_sidecars (tests/pipeline/test_io_binary.py checks they agree):
    <name>.npy + <name>.ids.txt, and for phenotypes and covariates <name>.columns.txt.
    """
    path = config.get(key)
    if not path or not str(path).lower().endswith(".npy"):
        return {}
    stem = str(path)[: -len(".npy")]
    sidecars = {"ids": f"{stem}.ids.txt"}
    if key != "kinship":
        sidecars["columns"] = f"{stem}.columns.txt"
    return sidecars


def sidecar_input(key):
    """The sidecar files of config[key] as an input list ([] unless it is a .npy)."""
    return list(npy_sidecars(key).values())


def input_files():
    """Every input file of the configuration: the three tables and a .npy's sidecar files."""
    keys = ("kinship", "phenotypes", "covariates")
    return [config[k] for k in keys if config.get(k)] + [
        s for k in keys for s in sidecar_input(k)
    ]


check_config()


# --- One run at a time in a working directory, and no `snakemake --unlock` after a kill. The
# default profile turns Snakemake's own lock off (`nolock: true`); instead the main process of
# a run that executes jobs (the onstart hook: not dry runs, --lint, --report or cluster job
# steps, which Snakemake starts with --no-hooks) holds an OS lock (fcntl) on
# .snakemake/lmm-pipeline/run.lock for as long as it lives. The operating system releases it
# when the process ends in any way, SIGKILL and power loss included, so nothing is left to
# remove; a second run while the first is alive is refused.
RUN_LOCK = STATE_DIR / "run.lock"
_held_locks = []


def lock_working_directory():
    """Take the run lock, or stop with a message naming the run that holds it."""
    RUN_LOCK.parent.mkdir(parents=True, exist_ok=True)
    handle = open(RUN_LOCK, "a+", encoding="utf-8")
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another snakemake"
        handle.close()
        raise WorkflowError(
            f"The directory {Path.cwd()} cannot be locked: a run is already working in it "
            f"({holder}). Wait for it to finish, or stop it; a run that was killed holds no lock."
        )
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    _held_locks.append(handle)  # open (hence locked) until this process ends


# Snakemake keeps one onstart handler (a later `onstart:` replaces this one): add to this one.
onstart:
    lock_working_directory()


wildcard_constraints:
    batch=r"b\d+",
    chunk=r"[cms]\d+",
    group=r"g\d+|all",


# Every rule's `conda:` (used with --sdm conda). The environment gets the lmm package from
# environment.post-deploy.sh, which installs the project directory named here (Snakemake runs
# that script from a copy in .snakemake/conda/, with this process's environment variables).
ENV = "../../environment.yml"
os.environ.setdefault("LMM_PIPELINE_SOURCE", str(Path(workflow.basedir).resolve()))


# --- Code stamps. Snakemake reruns a job when its script changes, not when a module the script
# imports does; so each rule's `params: code=script_code("<script>.py")` is a hash of the source
# of every module of `lmm` (and of workflow/scripts, e.g. _stage.py) that the script imports,
# directly or through those modules: its import closure, computed from the import statements
# (ast), never listed by hand. A package's __init__.py is hashed whenever something under it is
# imported (Python runs it), but the modules __init__.py itself imports are followed only when
# the package is used as such (`import lmm`, `from lmm import fit_lmm`): `from lmm.pipeline
# import plots` depends on lmm/pipeline/plots.py and what it imports, not on all of lmm.


def _lmm_dir():
    """Directory of the lmm package the scripts import (installed), else the one in this repo."""
    spec = importlib.util.find_spec("lmm")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(workflow.basedir) / "lmm"


LMM_DIR = _lmm_dir()


def _module_file(name):
    """Source file of module `name` if it is part of lmm or of workflow/scripts, else None."""
    parts = name.split(".")
    if parts[0] == "lmm":
        base = LMM_DIR.joinpath(*parts[1:])
        candidates = [base / "__init__.py", base.parent / f"{base.name}.py"]
    elif len(parts) == 1:
        candidates = [SCRIPTS_DIR / f"{name}.py"]
    else:
        return None
    return next((path for path in candidates if path.is_file()), None)


def _imports(path, package):
    """(module, imported names) of each import statement of the file (relative ones resolved)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(anchor + ([target] if target else []))
            yield target, tuple(alias.name for alias in node.names)


def _code_label(path):
    """A file's name within lmm or workflow/scripts: the hash does not depend on where they are."""
    if path.is_relative_to(LMM_DIR):
        return path.relative_to(LMM_DIR.parent).as_posix()
    return f"workflow/scripts/{path.name}"


def script_code(script):
    """SHA-256 (16 hex digits) of workflow/scripts/`script` and its import closure in lmm."""
    files = set()
    followed = set()
    todo = [Path(script).stem]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or name in followed:
            continue
        followed.add(name)
        files.add(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target, names in _imports(path, package):
            parts = target.split(".")
            for i in range(1, len(parts)):  # parent packages: their __init__.py runs
                parent = _module_file(".".join(parts[:i]))
                if parent is not None:
                    files.add(parent)
            submodules = [
                f"{target}.{n}" for n in names if _module_file(f"{target}.{n}")
            ]
            todo.extend(submodules)
            if len(submodules) < len(names) or not names:  # names of the module itself
                todo.append(target)
            elif _module_file(target) is not None:  # only submodules: its __init__ runs
                files.add(_module_file(target))
    digest = hashlib.sha256()
    for label, path in sorted((_code_label(path), path) for path in files):
        digest.update(label.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --- Input stamps. Snakemake reruns a job when an input is newer than its outputs; a file
# replaced by another with an older modification time (`cp -p`, `rsync -t`, an archive, an
# older checkout) is not. So the rules that read the input files have
# `params: inputs=file_checksums(...)`, the SHA-256 of each file's content. A file is read only
# when its size, modification time, inode or status-change time (ctime: set by every write,
# and which `cp -p` cannot carry over) differs from the last run's: the checksums are cached in
# .snakemake/lmm-pipeline/checksums.json (written by the main process only).
CHECKSUMS = STATE_DIR / "checksums.json"
_checksum_cache = None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(*paths):
    """{path: SHA-256 of its content} of the given files (missing files are left out)."""
    global _checksum_cache
    if _checksum_cache is None:
        try:
            _checksum_cache = json.loads(CHECKSUMS.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _checksum_cache = {}
    sums, changed = {}, False
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        cached = _checksum_cache.get(str(Path(path).resolve()))
        if cached is None or cached[0] != key:
            cached = [key, _sha256(path)]
            _checksum_cache[str(Path(path).resolve())] = cached
            changed = True
        sums[str(path)] = cached[1]
    if changed and workflow.is_main_process:
        try:
            CHECKSUMS.parent.mkdir(parents=True, exist_ok=True)
            tmp = CHECKSUMS.with_name(f".{CHECKSUMS.name}.{os.getpid()}")
            tmp.write_text(json.dumps(_checksum_cache), encoding="utf-8")
            os.replace(tmp, CHECKSUMS)
        except OSError:
            pass  # only a cache: the next call reads the files again
    return sums


def profile_grid():
    """The hsq grid of config 'profile_grid' as a list of floats (empty for none)."""
    grid = config["profile_grid"]
    if isinstance(grid, int):
        return [k / (grid - 1) for k in range(grid)] if grid >= 2 else []
    return [float(h) for h in grid]


def optional_input(key):
    """config[key] as an input list: [] when it is null (no file)."""
    return [config[key]] if config.get(key) else []


_PARTITION_CACHE = {}


def partition_record():
    """The partition checkpoint's Partition (lmm.pipeline.partition), once it has run; read once."""
    from lmm.pipeline.partition import Partition

    path = checkpoints.partition.get().output.record
    key = (path, Path(path).stat().st_mtime_ns)
    if key not in _PARTITION_CACHE:
        _PARTITION_CACHE.clear()
        _PARTITION_CACHE[key] = Partition.read(path)
    return _PARTITION_CACHE[key]


def batch_record(batch):
    """The Batch named `batch` of the partition."""
    return partition_record().batch(batch)


def fit_jobs():
    """(batch, chunk) names of every fit job: each batch's chunks, then its masked chunks."""
    return [(b.name, c.name) for b, c in partition_record().fit_jobs()]


def fit_outputs(name):
    """Input function: output `name` of every fit job, in batch and chunk order."""

    def inputs(wildcards):
        jobs = fit_jobs()
        return expand(
            getattr(rules.fit.output, name),
            zip,
            batch=[batch for batch, _ in jobs],
            chunk=[chunk for _, chunk in jobs],
        )

    return inputs


def rotated_files(wildcards):
    """Every rotated batch (batches with no fit job of their own are not rotated)."""
    batches = [b.name for b in partition_record().rotated_batches()]
    return expand(rules.rotate.output.rotated, batch=batches)


def masked_chunk_data(wildcards):
    """The cleaned (unrotated) data, needed only by the fits of masked (schur) chunks."""
    chunk = partition_record().chunk(wildcards.batch, wildcards.chunk)
    return [rules.load_and_clean.output.data] if chunk.kind == "masked" else []


def input_mem_mb(base, per_input_mb):
    """A `mem_mb` resource: `base` MB plus `per_input_mb` MB per MB of the job's input files."""

    def mem_mb(wildcards, input):
        return int(base + per_input_mb * input.size_mb)

    return mem_mb


def input_runtime(base, input_mb_per_minute):
    """A `runtime` resource: `base` minutes plus one per `input_mb_per_minute` MB of input."""

    def runtime(wildcards, input):
        return int(base + input.size_mb / input_mb_per_minute)

    return runtime


def rotate_mem_mb(wildcards, input):
    """Memory of a rotation: the cleaned data (~ its file size) plus ~6 n x n arrays for eigh."""
    n = batch_record(wildcards.batch).n
    return int(400 + 2 * input.size_mb + 6 * 8 * n * n / 1e6)


def rotate_runtime(wildcards):
    """Minutes: eigh takes ~10 n^3 flops; 1 GFLOP/s is a slow core, so this is generous."""
    n = batch_record(wildcards.batch).n
    return int(5 + 10 * n**3 / 1e9 / 60)


def fit_mem_mb(wildcards, input):
    """Memory of a fit: the rotated file plus ~12 copies of the chunk's n x m phenotypes."""
    batch = batch_record(wildcards.batch)
    chunk = batch.chunk(wildcards.chunk)
    return int(400 + input.size_mb + 12 * 8 * batch.n * len(chunk.phenotypes) / 1e6)


# --- Genotypes, kinship and the genome scan (workflow/rules/genotypes.smk, scan.smk).


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


def genotype_input_files():
    """Every genotype input file, for the content checksums."""
    return (
        genotype_files()
        + genotype_sidecars()
        + optional_input("genotype_map")
        + optional_input("genotype_ids")
    )


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
    return targets


def kinship_mem_mb(wildcards, input):
    """The genotype blocks plus one n x n sum per chromosome (LOCO) and the overall one."""
    return int(800 + 3 * input.size_mb)


def scan_decompose_mem_mb(wildcards, input):
    """The cleaned data and ~10 n x n arrays (kinship, eigh workspace, one decomposition per batch)."""
    return int(500 + 12 * input.size_mb)


def scan_decompose_runtime(wildcards, input):
    return int(10 + input.size_mb / 10)


def scan_mem_mb(wildcards, input):
    """The decompositions, one tile of genotypes and the LOD of the chunk (three copies of
    markers of the largest chromosome x phenotypes of the largest chunk, float64)."""
    chunk = max((len(c) for c in _scan_chunks()), default=0)
    return int(1000 + 3 * input.size_mb + 3 * 8e-6 * _largest_chromosome() * chunk)


def genotype_summary(wildcards):
    """The genotype intermediate's record (for the provenance), when the genotypes are used."""
    if not genotypes_used():
        return []
    return [Path(checkpoints.load_genotypes.get().output.store) / "genotypes.yaml"]


def kinship_record(wildcards):
    """The computed kinships' record, when the genotypes are used."""
    return [rules.kinship.output.record] if genotypes_used() else []


def scan_provenance_inputs(wildcards):
    """The scan's tables, so the provenance is written after (and about) them."""
    return list(rules.scan_aggregate.output) if scan_enabled() else []


def genotype_provenance_files():
    """{role: path} of the genotype inputs, for the provenance's checksums."""
    files = {f"genotypes_{k}": p for k, p in enumerate(genotype_files(), start=1)}
    files |= {
        f"genotypes_{Path(p).suffix[1:]}_{k}": p
        for k, p in enumerate(genotype_sidecars(), start=1)
    }
    for key in ("genotype_map", "genotype_ids"):
        if config.get(key):
            files[key] = config[key]
    return files


# --- Threads of the eigen-decompositions (rotate, scan_decompose): O(n³), the one stage where
# several BLAS threads pay off. From n = DECOMPOSE_THREADS_FROM individuals a job asks for
# config 'decompose_threads' (Snakemake gives it at most --cores); the scripts pin BLAS to what
# the job gets. Results are byte-identical between runs with the same threads per job; another
# count changes the last bits (about 1e-13 relative in hsq), not the numbers that matter.
DECOMPOSE_THREADS_FROM = 1000


def _decompose_threads(n):
    return config["decompose_threads"] if n >= DECOMPOSE_THREADS_FROM else 1


def rotate_threads(wildcards):
    """Threads of a batch's decomposition (rotate)."""
    return _decompose_threads(batch_record(wildcards.batch).n)


def scan_decompose_threads(wildcards):
    """Threads of the scan's decompositions of a group of chromosomes."""
    return _decompose_threads(_store_info()[1])

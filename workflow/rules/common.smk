# Helpers of the rules: the run lock, code and input stamps that trigger reruns, input functions
# and resource estimates (the configuration is checked in config.smk; the genotype and scan
# helpers are in scan_helpers.smk). New rules use `code=script_code(...)` and
# `inputs=input_checksums("<rule>")` in their `params:` the way the rules here do.

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

from lmm.pipeline import runlock, stamps

SCRIPTS_DIR = Path(workflow.current_basedir) / "../scripts"
# The workflow's own state, beside Snakemake's in the working directory.
STATE_DIR = Path(".snakemake") / "lmm-pipeline"


def lock_working_directory():
    """One run at a time in a directory (lmm.pipeline.runlock): an OS lock held by this process,
    released however it ends, so `snakemake --unlock` is never needed."""
    try:
        runlock.lock_directory(STATE_DIR / "run.lock", Path.cwd())
    except runlock.DirectoryLocked as exc:
        raise WorkflowError(str(exc)) from None


# Only the main process of a run that executes jobs gets here (not dry runs, --lint, --report or
# cluster job steps, which Snakemake starts with --no-hooks). Snakemake keeps one onstart handler
# (a later `onstart:` replaces this one): add to this one.
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


# --- Rerun triggers (lmm.pipeline.stamps). `params: code=script_code("<script>.py")`: a hash of
# the script and of every module of lmm and workflow/scripts it imports (its import closure, from
# the import statements). `params: inputs=input_checksums("<rule>")`: the SHA-256 of the content
# of each of the rule's input files that the workflow does not write, so a file replaced by
# another with an older modification time (`cp -p`, `rsync -t`, an archive) is redone; cached
# by size, mtime, ctime and inode in .snakemake/lmm-pipeline/checksums.json (main process only).
_CHECKSUMS = stamps.ChecksumCache(
    STATE_DIR / "checksums.json", writable=workflow.is_main_process
)


def script_code(script):
    """SHA-256 (16 hex digits) of workflow/scripts/`script` and its import closure in lmm."""
    return stamps.script_code(script, SCRIPTS_DIR.resolve(), stamps.lmm_dir())


def file_checksums(*paths):
    """{path: SHA-256 of its content} of the given files (missing files are left out)."""
    return _CHECKSUMS.checksums(paths)


def is_result(path):
    """Whether `path` is written by the workflow (every output is under results/)."""
    return Path(path).parts[:1] == ("results",)


def input_checksums(rule):
    """`params: inputs=input_checksums("<rule>")`: the checksums of the rule's input files that
    the workflow does not write (its static inputs; input functions give results only). A
    function of the wildcards alone: Snakemake ignores a params function of `input` when it
    compares params between runs (it counts as derived from the input files)."""

    def checksums(wildcards):
        items = workflow.get_rule(rule).input
        return file_checksums(
            *(f for f in items if isinstance(f, str) and not is_result(f))
        )

    return checksums


def input_size_mb(input):
    """MB of the job's input files by os.stat (0 for one not there yet). Not `input.size_mb`:
    Snakemake computes it in a coroutine, which cannot run inside its own event loop (while it
    builds the DAG of a run or of a report); it then drops the resource and the coroutine, never
    awaited, prints a RuntimeWarning."""
    total = 0
    for path in input:
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total / 2**20


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
        return int(base + per_input_mb * input_size_mb(input))

    return mem_mb


def input_runtime(base, input_mb_per_minute):
    """A `runtime` resource: `base` minutes plus one per `input_mb_per_minute` MB of input."""

    def runtime(wildcards, input):
        return int(base + input_size_mb(input) / input_mb_per_minute)

    return runtime


def rotate_mem_mb(wildcards, input):
    """Memory of a rotation: the cleaned data (~ its file size) plus ~6 n x n arrays for eigh."""
    n = batch_record(wildcards.batch).n
    return int(400 + 2 * input_size_mb(input) + 6 * 8 * n * n / 1e6)


def rotate_runtime(wildcards):
    """Minutes: eigh takes ~10 n^3 flops; 1 GFLOP/s is a slow core, so this is generous."""
    n = batch_record(wildcards.batch).n
    return int(5 + 10 * n**3 / 1e9 / 60)


def fit_mem_mb(wildcards, input):
    """Memory of a fit: the rotated file plus ~12 copies of the chunk's n x m phenotypes."""
    batch = batch_record(wildcards.batch)
    chunk = batch.chunk(wildcards.chunk)
    return int(
        400 + input_size_mb(input) + 12 * 8 * batch.n * len(chunk.phenotypes) / 1e6
    )

# Shared definitions: config validation, input functions, code stamps, resource estimates.

import hashlib
import importlib.util
import json
import os
import socket
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def check_config():
    """Stop before any work with one line per configuration error, naming the key."""
    # `--config covariates=null` arrives as the text "null": read it as "no covariate file"
    if config.get("covariates") in ("", "null", "None", "none"):
        config["covariates"] = None
    import yaml
    from jsonschema import Draft202012Validator

    schema_path = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
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
            + f"\nSee {schema_path.resolve()} for every key, its type and default."
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
                what = "one id per line" if kind == "ids" else "one column name per line"
                raise WorkflowError(
                    f"config '{key}': the .npy file '{path}' holds no {'ids' if kind == 'ids' else 'column names'}: "
                    f"it needs the text file '{sidecar}' beside it ({what}, in the order of the "
                    f"matrix's {'rows' if kind == 'ids' else 'columns'}), which does not exist."
                )


def npy_sidecars(key):
    """For a .npy input (config[key]), its sidecar text files by kind; {} for other formats.

    The same naming as lmm.pipeline.io.npy_sidecars (tests/test_io_binary.py checks they agree):
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


check_config()
validate(config, schema="../schemas/config.schema.yaml")


# --- A run killed outright (SIGKILL, a lost node, a power cut) leaves Snakemake's lock behind,
# and the next run would refuse to start until `snakemake --unlock`. The main process records
# its host and pid when it starts; a later run on the same host whose recorded process no longer
# exists removes that stale lock (and says so). A run whose process is alive keeps its lock, so
# a second concurrent run is still refused.
RUN_RECORD = Path(".snakemake") / "lmm-pipeline.run"


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_lock():
    try:
        host, pid = RUN_RECORD.read_text(encoding="utf-8").split()
        pid = int(pid)
    except (OSError, ValueError):
        return
    if host != socket.gethostname() or _process_alive(pid):
        return
    locks = sorted((Path(".snakemake") / "locks").glob("*.lock"))
    for lock in locks:
        lock.unlink(missing_ok=True)
    RUN_RECORD.unlink(missing_ok=True)
    if locks:
        print(
            f"Removed the lock left by an interrupted run (process {pid} on {host} no longer "
            "exists); incomplete jobs are redone.",
            file=sys.stderr,
        )


clear_stale_lock()


onstart:
    RUN_RECORD.parent.mkdir(exist_ok=True)
    RUN_RECORD.write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")


onsuccess:
    RUN_RECORD.unlink(missing_ok=True)


onerror:
    RUN_RECORD.unlink(missing_ok=True)


wildcard_constraints:
    batch=r"b\d+",
    chunk=r"[cm]\d+",


ENV = "../../environment.yml"


def _lmm_dir():
    """Directory of the lmm package the scripts import (installed), else the one in this repo."""
    spec = importlib.util.find_spec("lmm")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(workflow.basedir) / "lmm"


LMM_DIR = _lmm_dir()


def lmm_code(*modules):
    """SHA-256 of the named lmm modules' source: a params value, so editing one reruns its stage."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        path = LMM_DIR / f"{name}.py"
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<absent>")
    return digest.hexdigest()[:16]


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
    """The partition checkpoint's JSON (evaluated once the checkpoint has run; parsed once)."""
    path = checkpoints.partition.get().output.record
    key = (path, Path(path).stat().st_mtime_ns)
    if key not in _PARTITION_CACHE:
        with open(path, encoding="utf-8") as handle:
            _PARTITION_CACHE.clear()
            _PARTITION_CACHE[key] = json.load(handle)
    return _PARTITION_CACHE[key]


def batch_record(batch):
    for record in partition_record()["batches"]:
        if record["batch"] == batch:
            return record
    raise ValueError(f"unknown batch {batch}")


def fit_jobs():
    """(batch, chunk) of every fit job: each batch's chunks, then its masked chunks."""
    return [
        (b["batch"], c["chunk"])
        for b in partition_record()["batches"]
        for c in b["chunks"] + b.get("masked_chunks", [])
    ]


def fit_tables(wildcards):
    """Every fit job's table, in batch and chunk order."""
    return [f"results/fit/{batch}/{chunk}.tsv" for batch, chunk in fit_jobs()]


def rotated_files(wildcards):
    """Every rotated batch (batches with no fit job of their own are not rotated)."""
    return [
        f"results/rotate/{b['batch']}.npz"
        for b in partition_record()["batches"]
        if b["chunks"] or b.get("masked_chunks")
    ]


def masked_chunk_data(wildcards):
    """The cleaned (unrotated) data, needed only by the fits of masked (schur) chunks m###."""
    return [rules.load_and_clean.output.data] if wildcards.chunk.startswith("m") else []


def fit_profiles(wildcards):
    """Every chunk's profile log-likelihood table."""
    return [path[: -len(".tsv")] + ".profile.tsv" for path in fit_tables(wildcards)]


def rotate_mem_mb(wildcards, input):
    """Memory of a rotation: the cleaned data (~ its file size) plus ~6 n x n arrays for eigh."""
    n = batch_record(wildcards.batch)["n"]
    return int(400 + 2 * input.size_mb + 6 * 8 * n * n / 1e6)


def rotate_runtime(wildcards):
    """Minutes: eigh takes ~10 n^3 flops; 1 GFLOP/s is a slow core, so this is generous."""
    n = batch_record(wildcards.batch)["n"]
    return int(5 + 10 * n**3 / 1e9 / 60)


def fit_mem_mb(wildcards, input):
    """Memory of a fit: the rotated file plus ~12 copies of the chunk's n x m phenotypes."""
    record = batch_record(wildcards.batch)
    chunks = record["chunks"] + record.get("masked_chunks", [])
    chunk = next(c for c in chunks if c["chunk"] == wildcards.chunk)
    return int(400 + input.size_mb + 12 * 8 * record["n"] * len(chunk["phenotypes"]) / 1e6)

"""Shared helpers for the tests of the workflow and its stages.

``make_project`` copies the workflow (Snakefile, workflow/, config/, the default profile) and the
bundled data into a temporary directory; ``run_snakemake`` runs Snakemake there in a subprocess
and returns the completed process (stdout and stderr merged in ``.output``).
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread for the tests and every process they start (set before numpy is
# imported: a BLAS library reads these once, when it loads). Fast and reproducible: several
# threads on small matrices cost more than they save, and change the last bits of results.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"

import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

# ... and where numpy was imported before this file (a plugin, the doctests of lmm/).
threadpool_limits(limits=1)

REPO = Path(__file__).resolve().parents[1]
RECLA = REPO / "data" / "recla"


def make_project(dest: Path, with_data: bool = True, scan: bool = False) -> Path:
    """Copy the workflow (and the bundled data) into `dest`; return `dest`.

    Without `scan` the project's config has ``scan: false``: the heritability stages only (the
    tests of the genome scan, tests/workflow/test_workflow_scan.py, ask for it).
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "environment.yml", "environment.post-deploy.sh"):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("workflow", "config"):
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "profiles" / "default", dest / "profiles" / "default")
    if with_data:
        shutil.copytree(RECLA, dest / "data" / "recla")
    extra = "" if scan else "\nscan: false\n"
    if not with_data:  # no bundled data: no bundled genotypes either (the tests give their own)
        extra += "\ngenotypes: null\ngenotype_map: null\n"
    config = dest / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return dest


def run_snakemake(workdir: Path, *args: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``snakemake ARGS`` in `workdir` (extra environment variables `env`); output in ``.output``."""
    env = {**os.environ, **(env or {})}
    env.pop("SNAKEMAKE_PROFILE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.output = proc.stdout
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.output[-6000:]}")
    return proc


def read_result(path: Path) -> pd.DataFrame:
    """Read a results table as the pipeline writes it (tab-separated, NA for missing, names as text:
    :func:`lmm.pipeline.io.read_results`)."""
    from lmm.pipeline.io import read_results

    return read_results(path)


def write_csv(path: Path, frame: pd.DataFrame, index_label: str = "id") -> Path:
    """Write a table with its index as the id column."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index_label=index_label, float_format="%.17g")
    return path


def dosage_store(tmp: Path, rng: np.random.Generator, n: int, chromosomes, per_chr: int):
    """A genotype intermediate of ``n`` individuals (ids ``i000 …``) and ``per_chr`` seeded 0/1/2
    dosage markers on each of `chromosomes` (3 map units apart), written through the workflow's
    reader from a table in `tmp`: ``(store, ids, G)``, ``G`` (n, markers) the dosages."""
    from lmm.pipeline.genotype_store import open_intermediate, write_intermediate
    from lmm.pipeline.genotypes import read_genotypes

    ids = [f"i{k:03d}" for k in range(n)]
    q = len(chromosomes) * per_chr
    G = rng.binomial(2, rng.uniform(0.1, 0.9, q), size=(n, q)).astype(float)
    markers = [f"m{k}" for k in range(q)]
    table = pd.DataFrame(G, columns=markers)
    table.insert(0, "id", ids)
    table.to_csv(tmp / "geno.csv", index=False)
    pd.DataFrame({"marker": markers, "chr": np.repeat(chromosomes, per_chr),
                  "pos": np.tile(np.arange(per_chr) * 3.0, len(chromosomes))}).to_csv(tmp / "map.csv", index=False)
    write_intermediate(read_genotypes(str(tmp / "geno.csv"), map_path=str(tmp / "map.csv")), ids, tmp / "store")
    return open_intermediate(tmp / "store"), ids, G


def random_kinship(rng: np.random.Generator, n: int, n_markers: int = 400) -> np.ndarray:
    """A positive-definite kinship-like matrix with diagonal near 1 (from random genotypes)."""
    G = rng.binomial(2, 0.5, size=(n, n_markers)).astype(float)
    G -= G.mean(axis=0)
    G /= G.std(axis=0) + 1e-12
    K = G @ G.T / n_markers
    return 0.95 * K + 0.05 * np.eye(n)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the workflow with the recla data, in a temporary directory."""
    return make_project(tmp_path / "project")

"""Every file a job reads that the workflow does not write is in the job's checksum params.

Snakemake reruns a job when an input is newer than its outputs; an input replaced by one with an
older modification time (``cp -p``, ``rsync -t``) escapes that, so each rule that reads the
user's files has ``params: inputs=input_checksums("<rule>")`` (workflow/rules/common.smk). Two
checks:

- what the scripts really read: every job of a run is watched (a ``sitecustomize`` module on
  ``PYTHONPATH`` adds an audit hook for ``open`` to every script's interpreter) and each file it
  opened that the workflow does not write must be a key of its ``params.inputs``; so a rule that
  reads a file and leaves it out of its checksums fails, whatever the rule;
- the red team's case end to end: a phenotype file replaced (``cp -p``) by one with more
  individuals and an OLDER modification time is redone, genotypes (load_genotypes) included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_project, run_snakemake

pytestmark = pytest.mark.slow

AUDIT = '''
import atexit, json, os, sys

_opened = set()


def _hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.add(os.path.realpath(os.fsdecode(args[0])))


def _report():
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if not (hasattr(job, "rule") and hasattr(job, "params")):
        return  # not a job's script
    inputs = getattr(job.params, "inputs", None)
    record = {"rule": job.rule, "opened": sorted(_opened),
              "checksummed": None if inputs is None else [os.path.realpath(p) for p in inputs]}
    with open(os.path.join(os.environ["LMM_AUDIT_DIR"], f"{job.rule}-{os.getpid()}.json"), "w") as fh:
        json.dump(record, fh)


sys.addaudithook(_hook)
atexit.register(_report)
'''

# What the workflow writes or runs (not the user's input files).
OWN = ("results", "logs", ".snakemake", "workflow", "config", "profiles")


def _pheno(workdir: Path, rows: int) -> pd.DataFrame:
    """The first `rows` individuals of recla's phenotype file, half of each sex (a covariate)."""
    data = workdir / "data" / "recla"
    pheno = pd.read_csv(data / "pheno.csv", dtype=str, keep_default_na=False)
    sex = pd.read_csv(data / "covar.csv", dtype=str).set_index("id")["sex"]
    half = [pheno[pheno["id"].map(sex) == s].iloc[: rows // 2] for s in sorted(sex.unique())[:2]]
    return pheno.loc[sorted(pd.concat(half).index)]


@pytest.fixture(scope="module")
def watched_run(tmp_path_factory):
    """The recla data with the kinship computed from the genotypes (so load_genotypes runs) and a
    phenotype file of the first 40 individuals; every script's file opens recorded."""
    root = tmp_path_factory.mktemp("checksums")
    workdir = make_project(root / "project")
    hook = root / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT)
    audit = root / "audit"
    audit.mkdir()
    _pheno(workdir, 40).to_csv(workdir / "data" / "pheno.csv", index=False)
    env = {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
           "LMM_AUDIT_DIR": str(audit)}
    config = ["kinship=null", "phenotypes=data/pheno.csv"]
    proc = run_snakemake(workdir, "--cores", "2", "--config", *config, env=env, check=True)
    return workdir, proc, audit, config


def _individuals(workdir: Path) -> int:
    with np.load(workdir / "results" / "clean" / "cleaned.npz") as data:
        return len(data["ids"])


def test_every_file_a_job_reads_from_the_user_is_in_its_checksums(watched_run):
    workdir, _, audit, _ = watched_run
    records = [json.loads(p.read_text()) for p in audit.glob("*.json")]
    rules = {r["rule"] for r in records}
    assert {"load_genotypes", "load_and_clean", "provenance", "fit"} <= rules, rules
    root = str(workdir.resolve())
    reads_user_files = set()
    for record in records:
        user = [p for p in record["opened"] if p.startswith(root + os.sep)
                and Path(p).relative_to(root).parts[0] not in OWN and os.path.isfile(p)]
        if not user:
            continue
        reads_user_files.add(record["rule"])
        checksummed = record["checksummed"] or []
        missing = sorted(p for p in user if p not in checksummed)
        assert not missing, f"rule {record['rule']} reads {missing} but its params.inputs leave them out"
    # the test sees the reads: the three rules that read the user's files
    assert {"load_genotypes", "load_and_clean", "provenance"} <= reads_user_files, reads_user_files


def test_phenotypes_replaced_by_an_older_file_with_more_individuals_are_redone(watched_run, tmp_path):
    """`cp -p` of a phenotype file of 60 individuals, older than every result: the analysis
    (genotypes, kinship, cleaned data) uses the 60, as a clean run does, not the first 40."""
    workdir, _, _, config = watched_run
    assert _individuals(workdir) == 40
    with open(workdir / "results" / "genotypes" / "genotypes.yaml", encoding="utf-8") as handle:
        assert yaml.safe_load(handle)["summary"]["n_analysis"] == 40
    more = tmp_path / "pheno.csv"
    _pheno(workdir, 60).to_csv(more, index=False)
    os.utime(more, (1e9, 1e9))  # older than every result
    shutil.copy2(more, workdir / "data" / "pheno.csv")  # cp -p
    dry = run_snakemake(workdir, "-n", "--config", *config, check=True)
    jobs = re.findall(r"^(\w+)\s+(\d+)$", dry.output.split("Job stats:")[1], flags=re.M)
    assert ("load_genotypes", "1") in jobs and "Params have changed" in dry.output, dry.output
    run_snakemake(workdir, "--cores", "2", "--config", *config, check=True)
    assert _individuals(workdir) == 60
    with open(workdir / "results" / "genotypes" / "genotypes.yaml", encoding="utf-8") as handle:
        assert yaml.safe_load(handle)["summary"]["n_analysis"] == 60
    assert "Nothing to be done" in run_snakemake(workdir, "-n", "--config", *config, check=True).output


def test_genotype_files_are_checked_only_when_genotypes_are_given(tmp_path):
    """A genotype_map (or genotype_ids) naming a missing file is not checked with genotypes: null
    (it is never read); with genotypes it stops the run before any work."""
    workdir = make_project(tmp_path / "project")
    unused = run_snakemake(workdir, "-n", "--config", "genotypes=null", "genotype_map=missing/map.csv",
                           "genotype_ids=missing/ids.txt")
    assert unused.returncode == 0, unused.output
    assert "does not exist" not in unused.output and "Warning" not in unused.output
    used = run_snakemake(workdir, "-n", "--config", "genotype_map=missing/map.csv")
    assert used.returncode != 0 and "config 'genotype_map': the file 'missing/map.csv' does not exist" in used.output

"""End-to-end runs of the workflow on the bundled recla data, in a temporary directory.

One run is shared by the tests of this module: its table is checked against calling ``lmm``
directly on each phenotype's complete cases, then reruns are checked for reproducibility.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import lmm
from conftest import RECLA, make_project, read_result, run_snakemake

pytestmark = pytest.mark.slow

RECLA_PHENOTYPES = 26
RECLA_BATCHES = 4


@pytest.fixture(scope="module")
def recla_run(tmp_path_factory):
    workdir = make_project(tmp_path_factory.mktemp("recla") / "project")
    proc = run_snakemake(workdir, "--cores", "2", check=True)
    return workdir, proc


def test_recla_table_has_one_row_per_phenotype_in_input_order(recla_run):
    workdir, _ = recla_run
    table = read_result(workdir / "results" / "heritability.tsv")
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype={"id": str})
    assert len(table) == RECLA_PHENOTYPES
    assert table["phenotype"].tolist() == list(pheno.columns[1:])
    assert (table["status"] == "ok").all()
    assert table["method"].eq("reml").all()
    assert table["hsq"].between(0, 1).all()
    assert (table["hsq_ci_lower"] <= table["hsq"] + 1e-12).all()
    assert (table["hsq"] <= table["hsq_ci_upper"] + 1e-12).all()
    for column in ["phenotype", "status", "batch", "chunk", "n", "hsq", "hsq_se", "hsq_ci_lower", "hsq_ci_upper",
                   "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "boundary", "method", "beta_intercept",
                   "beta_sex"]:
        assert column in table.columns
    # recla has no missing value in the covariates and all three files list the same 261 mice
    assert table["n"].max() == 261


def test_recla_has_four_missing_data_batches(recla_run):
    workdir, _ = recla_run
    table = read_result(workdir / "results" / "heritability.tsv")
    assert table["batch"].nunique() == RECLA_BATCHES
    record = json.loads((workdir / "results" / "partition" / "partition.json").read_text())
    assert [b["batch"] for b in record["batches"]] == ["b001", "b002", "b003", "b004"]
    # missing_strategy auto: the complete pattern is decomposed; the three patterns missing 2-3
    # mice are fitted from that decomposition by the Schur complement (cost model)
    strategies = {b["batch"]: b["strategy"] for b in record["batches"]}
    assert strategies == {"b001": "decompose", "b002": "schur", "b003": "schur", "b004": "schur"}
    assert sorted((workdir / "results" / "rotate").glob("*.npz")) == [
        workdir / "results" / "rotate" / "b001.npz"]
    # within a batch all phenotypes are observed on the same individuals
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype={"id": str}).set_index("id")
    for batch, group in table.groupby("batch"):
        masks = {tuple(pheno[p].isna()) for p in group["phenotype"]}
        assert len(masks) == 1, batch


def test_recla_rows_equal_direct_lmm_fit_on_complete_cases(recla_run):
    workdir, _ = recla_run
    table = read_result(workdir / "results" / "heritability.tsv").set_index("phenotype")
    kin = pd.read_csv(RECLA / "kinship.csv", dtype={"id": str}).set_index("id")
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype={"id": str}).set_index("id")
    covar = pd.read_csv(RECLA / "covar.csv", dtype={"id": str}).set_index("id")
    for name in pheno.columns:
        y = pheno[name].dropna()
        ids = y.index
        K = kin.loc[ids, ids].to_numpy()
        X = covar.loc[ids, ["intercept", "sex"]].to_numpy(dtype=float)
        rot = lmm.eigen_rotation(K, y.to_numpy(), X)
        fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=True, check_boundary=True, tol=1e-4, compute_se=True)
        row = table.loc[name]
        assert row["n"] == len(ids)
        assert row["boundary"] == fit.boundary
        for column in ["hsq", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "hsq_ci_lower", "hsq_ci_upper"]:
            np.testing.assert_allclose(row[column], getattr(fit, column), rtol=1e-8, atol=1e-9, err_msg=f"{name} {column}")
        np.testing.assert_allclose([row["beta_intercept"], row["beta_sex"]], fit.beta, rtol=1e-8, atol=1e-9)
        if np.isnan(fit.hsq_se):
            assert np.isnan(row["hsq_se"])
        else:
            # Schur-complement batches take the SE from Richardson-extrapolated differences
            # (lmm.missing), agreeing with the analytic one to about 1e-8
            np.testing.assert_allclose(row["hsq_se"], fit.hsq_se, rtol=1e-7)


def test_recla_profile_plots_report_inputs_and_provenance(recla_run):
    workdir, _ = recla_run
    results = workdir / "results"
    for figure in ("heritability.png", "profile_loglik.png"):
        data = (results / "plots" / figure).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    profile = read_result(results / "profile_loglik.tsv")
    assert profile["phenotype"].nunique() == RECLA_PHENOTYPES
    assert profile.groupby("phenotype").size().eq(51).all()
    table = read_result(results / "heritability.tsv").set_index("phenotype")
    # the estimate is at least as likely as every grid point
    best = profile.groupby("phenotype")["loglik"].max()
    assert (table.loc[best.index, "loglik"] >= best - 1e-6).all()
    record = yaml.safe_load((results / "provenance.yaml").read_text())
    assert record["kinship"]["mean_diagonal_kept"] == pytest.approx(1.0)
    assert record["counts"]["individuals_kept"] == 261
    assert record["counts"]["batches"] == RECLA_BATCHES
    assert record["counts"]["phenotypes_by_final_status"] == {"ok": RECLA_PHENOTYPES}
    assert len(record["inputs"]["kinship"]["sha256"]) == 64
    assert record["config"]["method"] == "reml"
    assert record["software"]["numpy"] == np.__version__
    assert record["blas"]
    # every rule left a log and a benchmark (under logs/benchmarks/, not the benchmark scripts' folder)
    assert (workdir / "logs" / "load_and_clean.log").read_text().count("covariate 'intercept' is constant") == 1
    assert not (workdir / "benchmarks").exists()
    # load, partition, 1 rotate, fit (1 chunk of the decomposed batch + 1 of Schur batches),
    # aggregate, 2 plots, provenance
    n_jobs = len(list((workdir / "logs" / "benchmarks").rglob("*.tsv")))
    assert n_jobs == 3 + len(list((workdir / "logs" / "fit").rglob("*.log"))) + 4


def test_recla_rerun_does_nothing(recla_run):
    workdir, _ = recla_run
    proc = run_snakemake(workdir, "--cores", "2", "-n", check=True)
    assert "Nothing to be done" in proc.output


def test_recla_forced_rerun_is_byte_identical(recla_run, tmp_path):
    workdir, _ = recla_run
    results = workdir / "results"
    before = {p: p.read_bytes() for p in [results / "heritability.tsv", results / "profile_loglik.tsv",
                                          results / "provenance.yaml",
                                          results / "partition" / "partition.json",
                                          *sorted((results / "fit").rglob("*.tsv"))]}
    proc = run_snakemake(workdir, "--cores", "2", "--forceall", check=True)
    assert "(100%) done" in proc.output and "rule fit" in proc.output
    for path, data in before.items():
        assert path.read_bytes() == data, path


def test_changing_method_reruns_only_fit_and_downstream(recla_run):
    workdir, _ = recla_run
    proc = run_snakemake(workdir, "--cores", "2", "-n", "--config", "method=ml", check=True)
    jobs = _job_counts(proc.output)
    n_fit = len(list((workdir / "logs" / "fit").rglob("*.log")))  # every fit job, no more
    assert jobs == {"fit": n_fit, "aggregate": 1, "plot_heritability": 1, "plot_profiles": 1,
                    "provenance": 1, "all": 1}, proc.output


def test_changing_batch_size_repartitions_and_changes_nothing_else_upstream(recla_run):
    workdir, _ = recla_run
    proc = run_snakemake(workdir, "--cores", "2", "-n", "--config", "max_batch_size=3", check=True)
    jobs = _job_counts(proc.output)
    assert "load_and_clean" not in jobs
    assert jobs["partition"] == 1


def test_changing_lmm_code_reruns_the_stages_that_use_it(recla_run):
    workdir, _ = recla_run
    # a copy of the package first on the path: Snakemake hashes it and the scripts import it
    pylib = workdir / "pylib"
    shutil.copytree(Path(lmm.__file__).parent, pylib / "lmm", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(pylib)}
    assert "Nothing to be done" in run_snakemake(workdir, "-n", env=env, check=True).output
    plots = pylib / "lmm" / "pipeline" / "plots.py"
    plots.write_text(plots.read_text() + "\n# edited\n")
    jobs = _job_counts(run_snakemake(workdir, "-n", env=env, check=True).output)
    assert jobs == {"plot_heritability": 1, "plot_profiles": 1, "all": 1}
    # the eigen-decomposition code: found by following the imports of the fit script too (the
    # hand-kept lists of modules missed it)
    rotation = pylib / "lmm" / "rotation.py"
    rotation.write_text(rotation.read_text() + "\n# edited\n")
    jobs = _job_counts(run_snakemake(workdir, "-n", env=env, check=True).output)
    # the partition imports lmm.missing, which imports the decomposition (lmm.rotation): it reruns,
    # and the jobs after it (rotate, fit) are known once the checkpoint has run; load_and_clean
    # does not import it and is not redone
    assert jobs == {"partition": 1, "aggregate": 1, "plot_heritability": 1, "plot_profiles": 1,
                    "provenance": 1, "all": 1}


def test_input_replaced_by_an_older_file_is_redone(recla_run, tmp_path):
    workdir, _ = recla_run
    pheno = workdir / "data" / "recla" / "pheno.csv"
    original = tmp_path / "original.csv"
    shutil.copy2(pheno, original)
    # another phenotype file whose modification time is older than every result (as `cp -p`,
    # `rsync -t`, an archive or an older checkout leave it): Snakemake's mtime rule misses it
    changed = tmp_path / "pheno.csv"
    changed.write_text(pheno.read_text().replace(",", ",1", 1))  # rename the first phenotype
    os.utime(changed, (1e9, 1e9))
    shutil.copy2(changed, pheno)
    proc = run_snakemake(workdir, "-n", check=True)
    jobs = _job_counts(proc.output)
    assert jobs["load_and_clean"] == 1 and jobs["provenance"] == 1, proc.output
    assert "data/recla/pheno.csv" in proc.output and "Params have changed" in proc.output
    # the original content back, with its own (older) time: nothing to redo
    shutil.copy2(original, pheno)
    assert "Nothing to be done" in run_snakemake(workdir, "-n", check=True).output


def test_lint_is_clean(recla_run):
    workdir, _ = recla_run
    proc = run_snakemake(workdir, "--lint")
    assert proc.returncode == 0, proc.output
    assert "Congratulations, your workflow is in a good condition!" in proc.output


def test_report_is_self_contained(recla_run):
    workdir, _ = recla_run
    proc = run_snakemake(workdir, "--report", "report.html", check=True)
    html = (workdir / "report.html").read_text(encoding="utf-8", errors="replace")
    assert len(html) > 50_000, proc.output
    assert "heritability" in html.lower()


def test_run_and_report_print_no_warning(recla_run):
    """No warning in the terminal of a run or of the report (resources computed from input sizes
    with Snakemake's `input.size_mb` printed "RuntimeWarning: coroutine ... was never awaited")."""
    workdir, proc = recla_run
    assert "Warning" not in proc.output, proc.output
    report = run_snakemake(workdir, "--report", "report-warnings.html", check=True)
    assert "Warning" not in report.output, report.output


def _job_counts(output: str) -> dict:
    """Parse the 'Job stats' table of a dry run into {rule: count}."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    counts = {}
    for line in lines[start + 3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts

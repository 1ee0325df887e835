"""End-to-end run on a synthetic data set built here: many missing-data patterns, an all-missing
phenotype, a constant one, one with too few values, one observed on males only (so sex is
dropped from its batch's model), one the covariates explain exactly, ids in different orders in
the three files, individuals absent from one file or missing a covariate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

import lmm
from conftest import make_project, random_kinship, read_result, run_snakemake, write_csv

pytestmark = pytest.mark.slow

N = 70


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    rng = np.random.default_rng(7)
    workdir = make_project(tmp_path_factory.mktemp("synthetic") / "project", with_data=False)
    ids = [f"M{k:03d}" for k in range(N)]
    K = random_kinship(rng, N)
    sex = rng.integers(0, 2, N).astype(float)
    weight = rng.normal(20, 3, N)
    g = rng.multivariate_normal(np.zeros(N), K, size=8).T
    pheno = {}
    for j in range(8):
        y = 0.8 * g[:, j] + rng.normal(size=N) + 0.5 * sex
        y[rng.random(N) < 0.08] = np.nan          # scattered missing values: several patterns
        pheno[f"trait{j}"] = y
    pheno["empty"] = np.full(N, np.nan)
    pheno["flat"] = np.where(rng.random(N) < 0.1, np.nan, 3.0)
    pheno["sparse"] = np.where(np.arange(N) < 3, 1.0 + np.arange(N), np.nan)
    pheno["males_only"] = np.where(sex == 1, g[:, 0] + rng.normal(size=N), np.nan)
    pheno["is_sex"] = 2.0 * sex + 1.0
    pheno["copy_of_trait0"] = pheno["trait0"]
    pheno = pd.DataFrame(pheno, index=ids)
    covar = pd.DataFrame({"sex": sex, "weight": weight}, index=ids)
    covar.loc["M005", "weight"] = np.nan                       # missing covariate -> dropped
    # files list different individuals, in different orders
    kin_ids = ids[:-1] + ["K_only"]                             # M069 absent from the kinship
    K_file = np.zeros((N, N))
    K_file[: N - 1, : N - 1] = K[: N - 1, : N - 1]
    K_file[N - 1, N - 1] = 1.0
    perm = rng.permutation(N)
    write_csv(workdir / "in" / "kinship.csv",
              pd.DataFrame(K_file[np.ix_(perm, perm)], index=[kin_ids[i] for i in perm],
                           columns=[kin_ids[i] for i in perm]))
    write_csv(workdir / "in" / "pheno.csv", pheno.drop(index="M010").iloc[rng.permutation(N - 1)])
    write_csv(workdir / "in" / "covar.csv", covar.iloc[rng.permutation(N)])
    config = {"kinship": "in/kinship.csv", "phenotypes": "in/pheno.csv", "covariates": "in/covar.csv",
              "max_batch_size": 2, "profile_grid": 11}
    (workdir / "config" / "synthetic.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(workdir, "--cores", "2", "--configfile", "config/synthetic.yaml", check=True)
    truth = dict(K=K, ids=ids, pheno=pheno, covar=covar)
    return workdir, proc, truth


def test_every_phenotype_has_a_row_with_a_status_in_input_order(synthetic_run):
    workdir, _, truth = synthetic_run
    table = read_result(workdir / "results" / "heritability.tsv").set_index("phenotype", drop=False)
    assert table["phenotype"].tolist() == list(truth["pheno"].columns)
    status = table["status"].to_dict()
    assert status["empty"] == "all_missing"
    assert status["flat"] == "constant"
    assert status["sparse"] == "too_few_observations"
    assert status["is_sex"] == "explained_by_covariates"
    for name in [f"trait{j}" for j in range(8)] + ["males_only", "copy_of_trait0"]:
        assert status[name] == "ok", name
    not_fitted = table[~table["status"].isin(["ok", "not_converged"])]
    assert not_fitted[["hsq", "loglik", "beta_sex"]].isna().all().all()
    assert table.loc["males_only", "covariates_dropped"] == "sex"
    assert np.isnan(table.loc["males_only", "beta_sex"])
    assert table.columns.tolist()[-4:] == ["beta_intercept", "beta_sex", "beta_weight", "covariates_dropped"]


def test_dropped_individuals_are_recorded_with_reasons(synthetic_run):
    workdir, proc, _ = synthetic_run
    dropped = read_result(workdir / "results" / "clean" / "dropped_individuals.tsv").set_index("id")
    assert dropped.loc["M069", "reason"] == "absent from kinship"
    assert dropped.loc["K_only", "reason"] == "absent from phenotypes and covariates"
    assert dropped.loc["M010", "reason"] == "absent from phenotypes"
    assert dropped.loc["M005", "reason"] == "missing covariate weight"
    log = (workdir / "logs" / "load_and_clean.log").read_text()
    assert "no constant covariate: added an intercept column 'intercept'" in log
    assert "dropped 1 individual(s): missing covariate weight" in log
    summary = yaml.safe_load((workdir / "results" / "clean" / "summary.yaml").read_text())
    assert summary["counts"]["individuals_kept"] == N - 3
    assert summary["counts"]["individuals_dropped"] == 4


def test_batches_match_the_missing_data_patterns(synthetic_run):
    workdir, _, truth = synthetic_run
    table = read_result(workdir / "results" / "heritability.tsv")
    record = json.loads((workdir / "results" / "partition" / "partition.json").read_text())
    fitted = table[table["batch"].notna()]
    assert len(record["batches"]) == fitted["batch"].nunique() >= 5
    # chunks of at most max_batch_size = 2, sharing their batch's rotation
    assert fitted.groupby(["batch", "chunk"]).size().max() <= 2
    # one decomposition per batch the cost model decomposes (missing_strategy auto); the others
    # are fitted from the complete batch's decomposition
    decomposed = sorted(b["batch"] for b in record["batches"] if b["strategy"] == "decompose")
    assert decomposed and sorted(p.stem for p in (workdir / "results" / "rotate").glob("*.npz")) == decomposed
    # trait0 and its copy share a pattern, hence a batch
    rows = table.set_index("phenotype")
    assert rows.loc["trait0", "batch"] == rows.loc["copy_of_trait0", "batch"]


def test_fitted_rows_equal_direct_lmm_on_complete_cases(synthetic_run):
    workdir, _, truth = synthetic_run
    table = read_result(workdir / "results" / "heritability.tsv").set_index("phenotype")
    K = pd.DataFrame(truth["K"], index=truth["ids"], columns=truth["ids"])
    pheno, covar = truth["pheno"], truth["covar"]
    usable = [i for i in truth["ids"] if i not in ("M069", "M010", "M005")]
    for name, row in table[table["status"] == "ok"].iterrows():
        y = pheno.loc[usable, name].dropna()
        cols = ["sex", "weight"] if not isinstance(row["covariates_dropped"], str) else ["weight"]
        X = np.column_stack([np.ones(len(y)), covar.loc[y.index, cols].to_numpy()])
        rot = lmm.eigen_rotation(K.loc[y.index, y.index].to_numpy(), y.to_numpy(), X)
        fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True)
        assert row["n"] == len(y)
        np.testing.assert_allclose(row["hsq"], fit.hsq, rtol=1e-8, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(row["loglik"], fit.loglik, rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(row["beta_weight"], fit.beta[-1], rtol=1e-7, atol=1e-9, err_msg=name)
    assert table.loc["trait0", "hsq"] == table.loc["copy_of_trait0", "hsq"]


def test_logs_name_what_was_not_fitted(synthetic_run):
    workdir, proc, _ = synthetic_run
    load_log = (workdir / "logs" / "load_and_clean.log").read_text()
    assert "phenotype 'empty' not fitted: all_missing" in load_log
    assert "phenotype 'flat' not fitted: constant" in load_log
    partition_log = (workdir / "logs" / "partition.log").read_text()
    assert "covariate(s) sex are linearly dependent" in partition_log
    fit_logs = "".join(p.read_text() for p in (workdir / "logs" / "fit").rglob("*.log"))
    assert "phenotype 'is_sex': explained_by_covariates" in fit_logs
    provenance = yaml.safe_load((workdir / "results" / "provenance.yaml").read_text())
    assert provenance["counts"]["phenotypes_by_final_status"]["ok"] == 10
    assert sum(provenance["counts"]["phenotypes_by_final_status"].values()) == 14


def test_schur_strategy_gives_the_same_estimates_from_one_decomposition(synthetic_run, tmp_path):
    workdir, _, _ = synthetic_run
    other = make_project(tmp_path / "schur", with_data=False)
    shutil.copytree(workdir / "in", other / "in")
    config = yaml.safe_load((workdir / "config" / "synthetic.yaml").read_text())
    (other / "config" / "synthetic.yaml").write_text(yaml.safe_dump({**config, "missing_strategy": "schur"}))
    run_snakemake(other, "--cores", "2", "--configfile", "config/synthetic.yaml", check=True)
    base = read_result(workdir / "results" / "heritability.tsv").set_index("phenotype")
    schur = read_result(other / "results" / "heritability.tsv").set_index("phenotype")
    assert schur.index.tolist() == base.index.tolist()
    assert schur["status"].tolist() == base["status"].tolist()
    assert schur["batch"].fillna("").tolist() == base["batch"].fillna("").tolist()
    # one decomposition for everything, except the males-only batch (sex becomes collinear there)
    rotated = sorted(p.stem for p in (other / "results" / "rotate").glob("*.npz"))
    assert len(rotated) == 2
    assert set(schur.loc[schur["status"] == "ok", "strategy"]) == {"decompose", "schur"}
    assert schur.loc["males_only", "strategy"] == "decompose"
    ok = base["status"] == "ok"
    np.testing.assert_allclose(schur.loc[ok, "hsq"], base.loc[ok, "hsq"], atol=1e-6)
    np.testing.assert_allclose(schur.loc[ok, "loglik"], base.loc[ok, "loglik"], rtol=1e-9)
    np.testing.assert_allclose(schur.loc[ok, "beta_weight"], base.loc[ok, "beta_weight"], rtol=1e-5, atol=1e-8)
    assert (schur.loc[ok, "n"] == base.loc[ok, "n"]).all()

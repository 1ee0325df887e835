"""Bad inputs through the whole workflow: a clear message naming the problem, a non-zero exit,
no Python traceback, and nothing half-written in results/."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import RECLA, run_snakemake

pytestmark = pytest.mark.slow


def run_with(project, files=None, config=()):
    """Write `files` ({relative path: text}) into the project and run the workflow."""
    for rel, text in (files or {}).items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    args = ["--cores", "2"]
    if config:
        args += ["--config", *config]
    return run_snakemake(project, *args)


def assert_clean_failure(proc, project, *words):
    assert proc.returncode != 0, proc.output
    for word in words:
        assert word in proc.output, f"{word!r} not in output:\n{proc.output[-4000:]}"
    assert "Traceback" not in proc.output, proc.output
    results = project / "results"
    assert not (results / "heritability.tsv").exists()
    leftovers = [p for p in results.rglob("*") if p.is_file() and (p.name.startswith(".") or p.suffix == ".tmp")]
    assert leftovers == []


def recla(name):
    return (RECLA / name).read_text()


def test_missing_file(project):
    proc = run_with(project, config=["kinship=data/absent.csv"])
    assert_clean_failure(proc, project, "config 'kinship'", "'data/absent.csv' does not exist")
    assert not (project / "results").exists()


def test_empty_file(project):
    proc = run_with(project, {"bad/pheno.csv": ""}, ["phenotypes=bad/pheno.csv"])
    assert_clean_failure(proc, project, "phenotype file 'bad/pheno.csv' is empty")


def test_not_a_table(project):
    proc = run_with(project, {"bad/kin.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "kinship file 'bad/kin.csv' is not", "text table")


def test_wrong_delimiter(project):
    proc = run_with(project, {"bad/kin.csv": recla("kinship.csv").replace(",", ";")}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "semicolon-separated", "must be comma-separated")


def test_missing_id_column(project):
    proc = run_with(project, {"bad/covar.csv": recla("covar.csv").replace("id,", "mouse,", 1)},
                    ["covariates=bad/covar.csv"])
    assert_clean_failure(proc, project, "covariate file 'bad/covar.csv' has no id column 'id'", "'mouse'")


def test_duplicated_ids(project):
    lines = recla("pheno.csv").splitlines()
    proc = run_with(project, {"bad/pheno.csv": "\n".join(lines + [lines[5]]) + "\n"}, ["phenotypes=bad/pheno.csv"])
    assert_clean_failure(proc, project, "duplicated ids", f"'{lines[5].split(',')[0]}'")


def test_no_overlapping_ids(project):
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype={"id": str})
    pheno["id"] = "X" + pheno["id"]
    proc = run_with(project, {"bad/pheno.csv": pheno.to_csv(index=False)}, ["phenotypes=bad/pheno.csv"])
    assert_clean_failure(proc, project, "No individual is in all input files", "'X1'")


def kinship_text(K, ids):
    return pd.DataFrame(K, index=ids, columns=ids).to_csv(index_label="id", float_format="%.17g")


def recla_kinship():
    frame = pd.read_csv(RECLA / "kinship.csv", dtype={"id": str}).set_index("id")
    return frame.to_numpy(), frame.index.tolist()


def test_kinship_not_square(project):
    frame = pd.read_csv(RECLA / "kinship.csv", dtype={"id": str})
    proc = run_with(project, {"bad/kin.csv": frame.iloc[:, :-1].to_csv(index=False)}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "is not square: 261 rows and 260 columns")


def test_kinship_not_symmetric(project):
    K, ids = recla_kinship()
    K[3, 7] += 0.25
    proc = run_with(project, {"bad/kin.csv": kinship_text(K, ids)}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "is not symmetric", f"K[{ids[3]}, {ids[7]}]", "largest difference 0.25")


def test_kinship_non_finite(project):
    K, ids = recla_kinship()
    K[2, 2] = np.inf
    proc = run_with(project, {"bad/kin.csv": kinship_text(K, ids)}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "non-finite entries", f"({ids[2]}, {ids[2]})")


def test_kinship_not_positive_semidefinite(project):
    K, ids = recla_kinship()
    K[0, 1] = K[1, 0] = 3.0
    proc = run_with(project, {"bad/kin.csv": kinship_text(K, ids)}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "not positive semi-definite", "Batch b00")


def test_non_numeric_phenotype(project):
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype=str, keep_default_na=False)
    pheno.loc[4, "bw"] = "heavy"
    proc = run_with(project, {"bad/pheno.csv": pheno.to_csv(index=False)}, ["phenotypes=bad/pheno.csv"])
    assert_clean_failure(proc, project, "non-numeric values in column 'bw'", f"'{pheno.loc[4, 'id']}'", "'heavy'")


def test_infinite_phenotype(project):
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype=str, keep_default_na=False)
    pheno.loc[9, "HP_latency"] = "Inf"
    proc = run_with(project, {"bad/pheno.csv": pheno.to_csv(index=False)}, ["phenotypes=bad/pheno.csv"])
    assert_clean_failure(proc, project, "infinite values in column 'HP_latency'", f"'{pheno.loc[9, 'id']}'")


def test_non_numeric_covariate(project):
    covar = pd.read_csv(RECLA / "covar.csv", dtype=str)
    covar.loc[0, "sex"] = "M"
    proc = run_with(project, {"bad/covar.csv": covar.to_csv(index=False)}, ["covariates=bad/covar.csv"])
    assert_clean_failure(proc, project, "non-numeric values in column 'sex'", "'M'")


def test_constant_covariate_besides_intercept(project):
    covar = pd.read_csv(RECLA / "covar.csv", dtype={"id": str})
    covar["batch"] = 2
    proc = run_with(project, {"bad/covar.csv": covar.to_csv(index=False)}, ["covariates=bad/covar.csv"])
    assert_clean_failure(proc, project, "'intercept', 'batch'", "only one constant column")


def test_collinear_covariates(project):
    covar = pd.read_csv(RECLA / "covar.csv", dtype={"id": str})
    covar["female"] = 1 - covar["sex"]
    proc = run_with(project, {"bad/covar.csv": covar.to_csv(index=False)}, ["covariates=bad/covar.csv"])
    assert_clean_failure(proc, project, "linearly dependent", "'female' = combination of 'intercept', 'sex'")


@pytest.mark.parametrize(
    "setting, words",
    [
        ("colour=blue", ["Additional properties are not allowed ('colour' was unexpected)"]),
        ("tol=0", ["config 'tol'", "less than or equal to the minimum of 0"]),
        ("tol=-1", ["config 'tol'"]),
        ("method=bayes", ["config 'method'", "'bayes' is not one of ['reml', 'ml']"]),
        ("check_boundary=maybe", ["config 'check_boundary'", "is not of type 'boolean'"]),
        ("max_batch_size=-5", ["config 'max_batch_size'"]),
        ("transform=log", ["config 'transform'"]),
    ],
)
def test_bad_config_is_rejected_before_any_work(project, setting, words):
    proc = run_with(project, config=[setting])
    assert_clean_failure(proc, project, "Invalid configuration", *words)
    assert not (project / "results").exists() and not (project / "logs").exists()

"""Bad inputs through the whole workflow, one run per kind of failure (the unit tests in
test_io.py, test_clean.py and test_core_checks.py check each message): a bad file, a bad
configuration, bad data found by a later stage. Each gives a clear message naming the problem, a
non-zero exit, no Python traceback and nothing half-written in results/. And a run that drops
individuals says so in the terminal, not only in the log."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import RECLA, run_snakemake

pytestmark = pytest.mark.slow


def run_with(project, files=None, config=(), targets=()):
    """Write `files` ({relative path: text}) into the project and run the workflow."""
    for rel, text in (files or {}).items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    args = ["--cores", "2", *targets]
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


def test_a_bad_file_stops_the_run_naming_the_file_and_line(project):
    """The issue's phenotype file: every data row ends with a comma (it was read shifted, exit 0)."""
    pheno = pd.read_csv(RECLA / "pheno.csv", dtype=str, keep_default_na=False).iloc[:, :3]
    pheno.insert(1, "alt_id", "a" + pheno["id"])
    text = ",".join(pheno.columns) + "\n" + "".join(",".join(row) + ",\n" for row in pheno.to_numpy())
    proc = run_with(project, {"bad/pheno.csv": text}, ["phenotypes=bad/pheno.csv"])
    assert_clean_failure(proc, project, "The phenotype file 'bad/pheno.csv' has more fields than its header "
                                        "in line 2: 5 fields, but the header names 4 columns")
    assert not (project / "results" / "clean" / "cleaned.npz").exists()


def test_a_bad_configuration_is_rejected_before_any_work_with_every_key_named(project):
    proc = run_with(project, config=["colour=blue", "tol=0", "method=bayes"])
    assert_clean_failure(proc, project, "Invalid configuration",
                         "Additional properties are not allowed ('colour' was unexpected)",
                         "config 'tol': 0 is less than or equal to the minimum of 0",
                         "config 'method': 'bayes' is not one of ['reml', 'ml']")
    assert not (project / "results").exists() and not (project / "logs").exists()


def test_bad_data_found_by_a_later_stage_stops_it_with_nothing_downstream(project):
    frame = pd.read_csv(RECLA / "kinship.csv", dtype={"id": str}).set_index("id")
    K, ids = frame.to_numpy(), frame.index.tolist()
    K[0, 1] = K[1, 0] = 3.0
    text = pd.DataFrame(K, index=ids, columns=ids).to_csv(index_label="id", float_format="%.17g")
    proc = run_with(project, {"bad/kin.csv": text}, ["kinship=bad/kin.csv"])
    assert_clean_failure(proc, project, "not positive semi-definite", "Batch b00")
    assert not list((project / "results").glob("fit/**/*.tsv"))


def test_dropped_individuals_are_summarised_in_the_terminal(project):
    """Covariates for 170 of 261 mice, the other 91 with zero-padded ids: said on the terminal."""
    covar = pd.read_csv(RECLA / "covar.csv", dtype=str, keep_default_na=False)
    covar.loc[170:, "id"] = covar.loc[170:, "id"].map(lambda i: f"{int(i):04d}")
    proc = run_with(project, {"bad/covar.csv": covar.to_csv(index=False)}, ["covariates=bad/covar.csv"],
                    targets=["results/clean/cleaned.npz"])
    assert proc.returncode == 0, proc.output[-4000:]
    assert ("261 in the kinship, 261 in the phenotypes, 261 in the covariates; 170 in all files; 170 kept, "
            "182 dropped (each listed with its reason in results/clean/dropped_individuals.tsv)") in proc.output
    assert "dropped 91: absent from covariates" in proc.output
    first = covar.loc[170, "id"]
    assert f"'{int(first)}'" in proc.output and f"'{first}'" in proc.output
    assert "in the covariate file 'bad/covar.csv' differ only by leading zeros" in proc.output
    dropped = pd.read_csv(project / "results" / "clean" / "dropped_individuals.tsv", sep="\t")
    assert len(dropped) == 182

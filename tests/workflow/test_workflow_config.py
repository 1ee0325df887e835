"""The configuration: schema completeness, the commented default config, the default profile."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import make_project, run_snakemake

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
CONFIG_TEXT = (REPO / "config" / "config.yaml").read_text()
REQUIRED_KEYS = {"kinship", "phenotypes", "covariates", "id_column", "na_values", "phenotype_columns",
                 "covariate_columns", "transform", "method", "tol", "check_boundary", "compute_se",
                 "profile_grid", "max_batch_size"}


def test_every_key_has_type_description_and_default():
    assert SCHEMA["additionalProperties"] is False
    assert REQUIRED_KEYS <= set(SCHEMA["properties"])
    for key, spec in SCHEMA["properties"].items():
        assert "type" in spec or "oneOf" in spec, key
        assert spec.get("description"), key
        assert "default" in spec, key


def test_defaults_are_valid_and_match_config_yaml():
    validator = Draft202012Validator(SCHEMA)
    defaults = {k: v["default"] for k, v in SCHEMA["properties"].items()}
    assert list(validator.iter_errors(defaults)) == []
    config = yaml.safe_load(CONFIG_TEXT)
    assert list(validator.iter_errors(config)) == []
    assert config == defaults


def test_config_yaml_comments_every_key():
    lines = CONFIG_TEXT.splitlines()
    for key in SCHEMA["properties"]:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        assert lines[index - 1].startswith("#"), f"{key} has no comment above it"


def test_schema_rejects_bad_values():
    validator = Draft202012Validator(SCHEMA)
    for bad in [{"tol": 0}, {"tol": -1e-3}, {"method": "bayes"}, {"transform": "log"}, {"colour": 1},
                {"profile_grid": 1}, {"profile_grid": [0.5, 2]}, {"max_batch_size": -1},
                {"check_boundary": "yes"}, {"phenotype_columns": []}, {"peak_drop": 1.5},
                {"peakdrop": 0}, {"peakdrop": "inf"}, {"interval": "lod"}, {"interval_drop": -1},
                {"interval_prob": 0}, {"interval_prob": 1.5}]:
        assert list(validator.iter_errors(bad)), bad
    for good in [{"profile_grid": 0}, {"profile_grid": [0, 0.5]}, {"covariates": None},
                 {"phenotype_columns": ["bw"]}, {"peakdrop": None}, {"peakdrop": float("inf")},
                 {"peakdrop": 1.8, "interval": "bayes", "interval_prob": 1}]:
        assert not list(validator.iter_errors(good)), good


def test_default_profile_comments_every_entry():
    text = (REPO / "profiles" / "default" / "config.yaml").read_text()
    lines = text.splitlines()
    entries = [i for i, line in enumerate(lines) if line and not line.startswith(("#", " "))]
    assert entries
    for i in entries:
        assert lines[i - 1].startswith("#"), lines[i]
    assert "default-resources" not in yaml.safe_load(text)


def test_peak_settings_default_to_one_peak_per_chromosome_and_lod_drop_intervals():
    assert yaml.safe_load("peakdrop: .inf")["peakdrop"] == float("inf")        # the other spelling
    defaults = {k: v["default"] for k, v in SCHEMA["properties"].items()}
    assert (defaults["peakdrop"], defaults["interval"], defaults["interval_drop"], defaults["interval_prob"]) \
        == (None, "drop", 1.5, 0.95)
    assert "peak_drop" not in SCHEMA["properties"]


@pytest.mark.slow
def test_renamed_and_inconsistent_peak_settings_stop_before_any_work(tmp_path):
    """peak_drop is now interval_drop: the old name stops the run naming the new one; a LOD drop
    interval wider than peakdrop is refused (R/qtl2's rule drop <= peakdrop)."""
    project = make_project(tmp_path / "project")
    old = run_snakemake(project, "-n", "--cores", "1", "--config", "peak_drop=1.5")
    assert old.returncode != 0
    assert "config 'peak_drop' has been renamed 'interval_drop'" in old.output
    wide = run_snakemake(project, "-n", "--cores", "1", "--config", "peakdrop=1", "interval_drop=1.5")
    assert wide.returncode != 0 and "'interval_drop' (1.5) exceeds 'peakdrop' (1)" in wide.output
    for ok in (("peakdrop=1.8", "interval=bayes"), ("peakdrop=null",), ("peakdrop=.inf",)):
        assert run_snakemake(project, "-n", "--cores", "1", "--config", *ok).returncode == 0, ok

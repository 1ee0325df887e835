"""Packaging: environment.yml (for conda users and the rules' `conda:`) lists what pyproject.toml
does, the version is stated once, and what the README's commands need is declared."""

import re
from importlib.metadata import version
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import lmm

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(req: str) -> str:
    """The version bounds of a requirement, without its name and extras."""
    return re.sub(r"^\[[^\]]*\]", "", req.strip()[len(_name(req)):]).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = PYPROJECT["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d): _spec(d) for d in env["dependencies"] if isinstance(d, str)}
    for req in project["dependencies"]:
        assert _name(req) in conda, f"{_name(req)} is in pyproject.toml but not environment.yml"
        assert conda[_name(req)] == _spec(req), f"{_name(req)}: versions differ"
    py = project["requires-python"].replace(" ", "")
    assert conda["python"] == py
    parquet = {_name(r): _spec(r) for r in project["optional-dependencies"]["parquet"]}
    assert {k: conda[k] for k in parquet} == parquet
    # python, and what environment.post-deploy.sh installs the project with
    allowed = {_name(r) for r in project["dependencies"]} | set(parquet) | {"python", "pip", "setuptools"}
    extra = set(conda) - allowed
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"
    # no relative path: Snakemake creates the environment from a copy in .snakemake/conda/
    assert not any(isinstance(d, dict) for d in env["dependencies"]), "a pip: section in environment.yml"


def test_post_deploy_script_installs_the_project_from_the_path_the_workflow_gives():
    script = (ROOT / "environment.post-deploy.sh").read_text()
    assert "--editable \"$LMM_PIPELINE_SOURCE\"" in script
    assert "LMM_PIPELINE_SOURCE" in (ROOT / "workflow" / "rules" / "common.smk").read_text()


def test_version_is_stated_once():
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lmm.__version__"}
    assert version("lmm-pipeline") == lmm.__version__


def test_report_and_thread_pinning_dependencies_are_declared():
    names = {_name(r): r for r in PYPROJECT["project"]["dependencies"]}
    assert "[reports]" in names["snakemake"]  # pygments, for `snakemake --report`
    assert "threadpoolctl" in names  # workflow/scripts/_stage.py, tests/conftest.py

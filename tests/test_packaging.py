"""environment.yml (for conda users and the rules' `conda:`) lists what pyproject.toml does."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(req: str) -> str:
    return req.strip()[len(_name(req)):].replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d): _spec(d) for d in env["dependencies"] if isinstance(d, str)}
    for req in project["dependencies"]:
        assert _name(req) in conda, f"{_name(req)} is in pyproject.toml but not environment.yml"
        assert conda[_name(req)] == _spec(req), f"{_name(req)}: versions differ"
    py = project["requires-python"].replace(" ", "")
    assert conda["python"] == py
    pyproject_names = {_name(r) for r in project["dependencies"]} | {"python", "pip"}
    extra = set(conda) - pyproject_names
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"

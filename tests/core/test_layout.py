"""The house rules of docs/architecture.md, checked: the core imports numpy and scipy only."""

import subprocess
import sys

FORBIDDEN = ("pandas", "matplotlib", "yaml", "snakemake", "pyarrow", "bed_reader")


def test_core_imports_numpy_and_scipy_only():
    code = (
        "import sys, lmm\n"
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r}))\n"
        "pipeline = [m for m in sys.modules if m.startswith('lmm.pipeline')]\n"
        "print(repr((bad, pipeline)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    bad, pipeline = eval(out.stdout)
    assert bad == [], f"import lmm pulled in {bad}"
    assert pipeline == [], f"import lmm pulled in the pipeline subpackage: {pipeline}"


# --------------------------------------------------------------------------- size and names

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
#: The code the house rules cover: the package, the workflow's scripts and the benchmarks.
CODE = sorted(p for top in ("lmm", "workflow/scripts", "benchmarks") for p in (REPO / top).rglob("*.py"))
#: docs/architecture.md: no file over 800 lines, no function over 100 lines of code.
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 100


def _function_lines(node) -> int:
    """Lines of a function's code: from its first statement after the docstring to its end."""
    body = node.body
    docstring = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                 and isinstance(body[0].value.value, str))
    first = body[1] if docstring and len(body) > 1 else body[0]
    return node.end_lineno - first.lineno + 1


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_the_rules_see_the_code():
    assert len(CODE) > 30 and any(p.name == "fit.py" for p in CODE)


@pytest.mark.parametrize("path", [p for p in CODE if p.suffix == ".py"], ids=_rel)
def test_file_and_function_sizes(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_FILE_LINES, f"{_rel(path)} has {lines} lines (at most {MAX_FILE_LINES})"
    long = [(node.name, _function_lines(node)) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _function_lines(node) > MAX_FUNCTION_LINES]
    assert long == [], f"{_rel(path)}: functions over {MAX_FUNCTION_LINES} lines of code: {long}"


def _private_imports(path: Path) -> list[str]:
    """``from X import _name`` where X is another module of lmm (or of the workflow's scripts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("lmm")):
            found += [f"from {'.' * node.level}{node.module or ''} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_no_private_names_imported_across_modules():
    tests = sorted((REPO / "tests").rglob("*.py"))
    bad = {_rel(p): found for p in CODE + tests if (found := _private_imports(p))}
    assert bad == {}, f"private names imported across modules: {bad}"

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

"""The README's example runs and prints what the README says it prints."""

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _blocks(text, lang):
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_example_prints_the_shown_output():
    text = (ROOT / "README.md").read_text()
    code = next(b for b in _blocks(text, "python") if "lmm.fit_lmm" in b)
    # the block that follows the example ("prints")
    after = text[text.index(code) + len(code) + 3:]  # past the closing fence
    expected = _blocks(after, "")[0]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue() == expected
    assert "hsq = 0.764284" in expected

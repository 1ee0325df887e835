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


def _status_table(text):
    """The statuses (first column, in backticks) of the table headed `| status | meaning |`."""
    start = text.index("| status | meaning |")
    names = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        names += re.findall(r"`([^`]+)`", line.split("|")[1])
    return names


def test_every_status_is_in_the_status_tables_of_both_readmes():
    """Every status of the one vocabulary (lmm.STATUSES, read here, not copied) has a row in the
    status tables of README.md and config/README.md, and the tables name nothing else."""
    import lmm

    for readme in ("README.md", "config/README.md"):
        names = _status_table((ROOT / readme).read_text(encoding="utf-8"))
        missing = [s for s in lmm.STATUSES if s not in names]
        assert not missing, f"{readme}: statuses missing from the status table: {missing}"
        assert sorted(set(names)) == sorted(names) and set(names) <= set(lmm.STATUSES), (readme, names)

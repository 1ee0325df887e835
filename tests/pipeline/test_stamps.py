"""The rerun triggers (lmm.pipeline.stamps): code stamps of the scripts and the checksum cache."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lmm.pipeline.stamps import ChecksumCache, imports, script_code, sha256

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def code_tree(tmp_path):
    """A package `lmm` (a, b, c, sub/d) and a scripts directory with two scripts."""
    pkg = tmp_path / "lmm"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "lmm/__init__.py": "",
        "lmm/a.py": "from . import c\nimport numpy\n",
        "lmm/b.py": "X = 1\n",
        "lmm/c.py": "Y = 2\n",
        "lmm/sub/__init__.py": "from .d import Z\n",
        "lmm/sub/d.py": "Z = 3\n",
        "scripts/_helper.py": "import os\n",
        "scripts/one.py": "from _helper import *\nfrom lmm import a\n",
        "scripts/two.py": "from lmm.sub import d\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def stamp(tree: Path, script: str) -> str:
    return script_code(script, tree / "scripts", tree / "lmm")


def edit(path: Path) -> None:
    path.write_text(path.read_text() + "# edited\n")


def test_stamp_changes_with_the_script_and_its_imports_only(code_tree):
    before = stamp(code_tree, "one.py")
    assert len(before) == 16 and int(before, 16) >= 0
    edit(code_tree / "lmm" / "b.py")  # imported by no one
    edit(code_tree / "lmm" / "sub" / "d.py")  # imported by two.py only
    assert stamp(code_tree, "one.py") == before
    for name in ("lmm/c.py", "lmm/a.py", "lmm/__init__.py", "scripts/_helper.py", "scripts/one.py"):
        edit(code_tree / name)  # through a relative import, directly, the package, a script module
        after = stamp(code_tree, "one.py")
        assert after != before, name
        before = after


def test_from_package_import_submodule_does_not_follow_the_package_imports(code_tree):
    (code_tree / "lmm" / "__init__.py").write_text("from . import b\n")
    before = stamp(code_tree, "two.py")
    edit(code_tree / "lmm" / "b.py")  # imported by lmm/__init__.py, which two.py does not use as such
    assert stamp(code_tree, "two.py") == before
    edit(code_tree / "lmm" / "sub" / "__init__.py")  # runs: it is the parent package of d
    assert stamp(code_tree, "two.py") != before


def test_stamp_does_not_depend_on_where_the_project_lies(code_tree, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "copy"
    shutil.copytree(code_tree, other)
    assert stamp(other, "one.py") == stamp(code_tree, "one.py")


def test_relative_imports_are_resolved(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from . import x\nfrom ..y import z\nimport a.b\n")
    assert list(imports(path, "lmm.pipeline")) == [
        ("lmm.pipeline", ("x",)), ("lmm.y", ("z",)), ("a.b", ())]


def test_workflow_scripts_have_stamps():
    scripts = REPO / "workflow" / "scripts"
    stamps = {s.name: script_code(s.name, scripts) for s in scripts.glob("[!_]*.py")}
    assert all(len(v) == 16 for v in stamps.values()) and len(set(stamps.values())) > 1


def test_checksums_of_files_and_missing_files_left_out(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("hello\n")
    cache = ChecksumCache(tmp_path / "cache" / "checksums.json")
    assert cache.checksums([a, tmp_path / "missing"]) == {str(a): sha256(a)}
    assert sha256(a) == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert (tmp_path / "cache" / "checksums.json").is_file()


def test_cache_is_used_while_size_mtime_ctime_and_inode_are_unchanged(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("hello\n")
    path = tmp_path / "checksums.json"
    ChecksumCache(path).checksums([a])
    entries = json.loads(path.read_text())
    key = entries[str(a.resolve())][0]
    for changed in (None, 0, 1, 2, 3):  # none, then size, mtime, ctime, inode
        fake = list(key)
        if changed is not None:
            fake[changed] += 1
        path.write_text(json.dumps({str(a.resolve()): [fake, "cached"]}))
        got = ChecksumCache(path).checksums([a])[str(a)]
        assert got == ("cached" if changed is None else sha256(a)), changed


def test_file_replaced_by_an_older_copy_is_read_again(tmp_path):
    """`cp -p` of a file of the same size with an older modification time: ctime (and inode) change."""
    a = tmp_path / "pheno.csv"
    a.write_text("id,y\n1,2\n")
    cache_path = tmp_path / "checksums.json"
    first = ChecksumCache(cache_path).checksums([a])[str(a)]
    other = tmp_path / "other.csv"
    other.write_text("id,y\n1,3\n")
    os.utime(other, (1e9, 1e9))
    shutil.copy2(other, a)
    assert ChecksumCache(cache_path).checksums([a])[str(a)] == sha256(other) != first


def test_a_cache_that_is_not_writable_is_not_written(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    path = tmp_path / "checksums.json"
    ChecksumCache(path, writable=False).checksums([a])
    assert not path.exists()
    path.write_text("not json")  # a damaged cache is only a cache
    assert ChecksumCache(path).checksums([a]) == {str(a): sha256(a)}

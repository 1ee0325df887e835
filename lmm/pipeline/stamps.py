"""The workflow's rerun triggers: code stamps of the scripts and content checksums of the inputs.

Snakemake reruns a job when its script changes or an input is newer than its outputs. Two cases
escape that, and each rule's ``params:`` close them (``workflow/rules/common.smk`` calls these):

- **Code stamps** (:func:`script_code`): a module that a script imports changes. The stamp is a
  SHA-256 of the script and of every module of ``lmm`` (and of ``workflow/scripts``, e.g.
  ``_stage.py``) that it imports, directly or through those modules: its import closure, found by
  parsing the import statements (:mod:`ast`), never listed by hand. A package's ``__init__.py``
  is hashed whenever something under it is imported (Python runs it), but the modules that
  ``__init__.py`` itself imports are followed only when the package is used as such
  (``import lmm``, ``from lmm import fit_lmm``): ``from lmm.pipeline import plots`` depends on
  ``lmm/pipeline/plots.py`` and what it imports, not on all of ``lmm``.
- **Content checksums** (:class:`ChecksumCache`): an input replaced by another with an older
  modification time (``cp -p``, ``rsync -t``, an archive, an older checkout). The stamp is the
  SHA-256 of each file's content. A file is read again only when its size, modification time,
  status-change time (ctime: set by every write, which ``cp -p`` cannot carry over) or inode
  differs from what the cache recorded.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["ChecksumCache", "imports", "lmm_dir", "module_file", "script_code", "sha256"]


def lmm_dir() -> Path:
    """The directory of the ``lmm`` package (the one the scripts import)."""
    import lmm

    return Path(lmm.__file__).resolve().parent


def module_file(name: str, scripts_dir: Path, package_dir: Path) -> Path | None:
    """Source file of module `name` if it is part of lmm (`package_dir`) or of `scripts_dir`."""
    parts = name.split(".")
    if parts[0] == package_dir.name:
        base = package_dir.joinpath(*parts[1:])
        candidates = [base / "__init__.py", base.parent / f"{base.name}.py"]
    elif len(parts) == 1:
        candidates = [Path(scripts_dir) / f"{name}.py"]
    else:
        return None
    return next((path for path in candidates if path.is_file()), None)


def imports(path: Path, package: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module, imported names) of each import statement of the file (relative ones resolved).

    `package` is the package the file belongs to (for ``from . import x``).
    """
    tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                target = ".".join(anchor + ([target] if target else []))
            yield target, tuple(alias.name for alias in node.names)


def _closure(script: Path, scripts_dir: Path, package_dir: Path) -> set[Path]:
    """The files of `script`'s import closure within the package and the scripts directory."""

    def find(name):
        return module_file(name, scripts_dir, package_dir)

    files, followed, todo = set(), set(), [script.stem]
    while todo:
        name = todo.pop()
        path = find(name)
        if path is None or name in followed:
            continue
        followed.add(name)
        files.add(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target, names in imports(path, package):
            parts = target.split(".")
            for i in range(1, len(parts)):  # parent packages: their __init__.py runs
                parent = find(".".join(parts[:i]))
                if parent is not None:
                    files.add(parent)
            submodules = [f"{target}.{n}" for n in names if find(f"{target}.{n}")]
            todo.extend(submodules)
            if len(submodules) < len(names) or not names:  # names of the module itself
                todo.append(target)
            elif find(target) is not None:  # only submodules: its __init__ runs
                files.add(find(target))
    return files


def script_code(script: str | os.PathLike, scripts_dir: str | os.PathLike | None = None,
                package_dir: str | os.PathLike | None = None) -> str:
    """SHA-256 (16 hex digits) of a workflow script and its import closure in ``lmm``.

    Parameters
    ----------
    script : str or path
        The script (a file name is looked up in `scripts_dir`).
    scripts_dir : path, optional
        The directory of the scripts (default: the script's own directory).
    package_dir : path, optional
        The ``lmm`` package directory (default: :func:`lmm_dir`).

    Returns
    -------
    str
        The stamp. Files are hashed by their name within ``lmm`` or ``workflow/scripts``, so the
        stamp does not depend on where the project lies.
    """
    script = Path(script)
    scripts_dir = Path(scripts_dir) if scripts_dir is not None else script.parent
    package_dir = Path(package_dir) if package_dir is not None else lmm_dir()
    files = _closure(scripts_dir / script.name, scripts_dir, package_dir)

    def label(path: Path) -> str:
        if path.is_relative_to(package_dir):
            return path.relative_to(package_dir.parent).as_posix()
        return f"workflow/scripts/{path.name}"

    digest = hashlib.sha256()
    for name, path in sorted((label(path), path) for path in files):
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's content, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ChecksumCache:
    """Content checksums of files, cached by (size, mtime, ctime, inode) in a JSON file.

    Parameters
    ----------
    path : path
        The cache file (``.snakemake/lmm-pipeline/checksums.json``); read on first use.
    writable : bool, optional
        Whether to write the cache back when a checksum was computed (only Snakemake's main
        process does, so that jobs running at the same time never write it).
    """

    def __init__(self, path: str | os.PathLike, writable: bool = True):
        self.path = Path(path)
        self.writable = writable
        self._entries: dict | None = None

    def _load(self) -> dict:
        if self._entries is None:
            try:
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def checksums(self, paths: Iterable[str | os.PathLike]) -> dict[str, str]:
        """{path: SHA-256 of its content} of the given files (missing files are left out)."""
        entries = self._load()
        sums, changed = {}, False
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            name = str(Path(path).resolve())
            cached = entries.get(name)
            if cached is None or cached[0] != key:
                cached = [key, sha256(path)]
                entries[name] = cached
                changed = True
            sums[str(path)] = cached[1]
        if changed and self.writable:
            self._save()
        return sums

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(self._entries), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # only a cache: the next run reads the files again

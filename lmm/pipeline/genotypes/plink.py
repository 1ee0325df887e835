"""PLINK 1 binary genotypes (``.bed``/``.bim``/``.fam``), read with bed-reader."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.pipeline.genotypes.chromosomes import normalize_chromosomes
from lmm.pipeline.genotypes.common import checked_id_list, GenotypePart
from lmm.pipeline.io import describe_ids, duplicated


def plink_paths(path: str) -> dict[str, str]:
    """The three files of a PLINK 1 binary fileset given as ``prefix.bed`` or ``prefix``.

    Examples
    --------
    >>> plink_paths("data/geno.bed")["bim"], plink_paths("data/geno")["fam"]
    ('data/geno.bim', 'data/geno.fam')
    """
    path = os.fspath(path)
    prefix = path[:-4] if path.lower().endswith(".bed") else path
    return {"bed": prefix + ".bed", "bim": prefix + ".bim", "fam": prefix + ".fam"}


def _import_bed_reader():
    try:
        import bed_reader
    except ImportError:
        raise InputError(
            "Reading PLINK genotypes needs the Python package bed-reader, which is not installed: "
            "pip install bed-reader (or conda install -c conda-forge bed-reader)."
        ) from None
    return bed_reader


#: The columns of a .fam and a .bim line (PLINK 1), separated by blanks or tabs.
_FAM_COLUMNS = ("FID", "IID", "father", "mother", "sex", "phenotype")
_BIM_COLUMNS = ("chromosome", "marker", "cM", "bp position", "A1", "A2")


def _text_fields(path: str, columns: tuple[str, ...], what: str) -> list[list[str]]:
    """The lines of a .fam or .bim split at blanks and tabs; each must have ``len(columns)`` fields.

    PLINK itself accepts any blanks or tabs between the fields; so does this reader (bed-reader
    does not: it wants tabs in the .bim, and says "invalid column index" about the .bed). Blank
    lines are skipped.
    """
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read().split("\n")
    except UnicodeDecodeError:
        raise InputError(f"The PLINK {what} '{path}' is not text.") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(columns):
            raise InputError(
                f"The PLINK {what} '{path}' has {len(fields)} field(s) on line {number} ({line.strip()[:60]!r}); "
                f"expected {len(columns)}: {', '.join(columns)}, separated by tabs or blanks."
            )
        rows.append(fields)
    return rows


def _read_fam(path: str) -> np.ndarray:
    """The IIDs of a .fam file (checked: 6 fields a line, unique)."""
    rows = _text_fields(path, _FAM_COLUMNS, ".fam file")
    if not rows:
        raise InputError(f"The PLINK file '{path}' is empty: no individuals.")
    iids = [r[1] for r in rows]
    dup = duplicated(iids)
    if dup:
        raise InputError(
            f"The PLINK file '{path}' has repeated individual ids (IID, 2nd column): "
            f"{describe_ids(dup)}. Ids are the IIDs and must be unique (the FID is "
            "ignored): rename them, e.g. to FID_IID."
        )
    return checked_id_list(iids, path, "PLINK .fam file")


def _read_bim(path: str) -> pd.DataFrame:
    """The markers of a .bim file: marker, chr (canonical), pos, allele (A1), other_allele (A2)."""
    rows = _text_fields(path, _BIM_COLUMNS, ".bim file")
    if not rows:
        raise InputError(f"The PLINK file '{path}' is empty: no markers.")
    columns = list(zip(*rows))
    names = pd.Series(columns[1], dtype=object)
    positions = pd.to_numeric(pd.Series(columns[3], dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(positions)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"The PLINK .bim file '{path}' has {int(bad.sum())} non-numeric base-pair position(s) (4th column), "
            f"e.g. {columns[3][k]!r} for marker '{names.iat[k]}'."
        )
    return pd.DataFrame({
        "marker": names.to_numpy(), "chr": normalize_chromosomes(columns[0], names, path, "PLINK .bim file"),
        "pos": positions, "allele": np.asarray(columns[4], dtype=object),
        "other_allele": np.asarray(columns[5], dtype=object),
    })


def _check_bed(bed_path: str, bim_path: str, n: int, q: int) -> None:
    """The .bed's magic bytes, SNP-major mode and size for `n` individuals and `q` markers."""
    size = os.path.getsize(bed_path)
    with open(bed_path, "rb") as handle:
        magic = handle.read(3)
    if magic[:2] != b"\x6c\x1b":
        raise InputError(f"The file '{bed_path}' is not a PLINK 1 binary .bed file (it does not start with the .bed magic bytes).")
    if magic[2:3] != b"\x01":
        raise InputError(
            f"The PLINK file '{bed_path}' is individual-major (an old PLINK format); convert it to SNP-major "
            "with plink --make-bed."
        )
    per_marker = math.ceil(n / 4)
    expected = 3 + per_marker * q
    if size != expected:
        held = (size - 3) / per_marker
        held_text = (f"it holds {int(held)} markers' worth of data" if held == int(held)
                     else f"{size - 3} data bytes, not a whole number of markers")
        cause = "is truncated or does not belong to them" if size < expected else "does not belong to them"
        raise InputError(
            f"The PLINK file '{bed_path}' has {size} bytes but its .fam ({n} individuals) and .bim ({q} markers) "
            f"need 3 + ceil({n}/4)·{q} = {expected} bytes ({held_text}): the .bed {cause}, or the .bim "
            f"'{bim_path}' lists the wrong markers."
        )


def plink_part(path: str) -> GenotypePart:
    files = plink_paths(path)
    bed_path = files["bed"]
    if not os.path.exists(bed_path):
        raise InputError(f"The PLINK genotype file '{bed_path}' does not exist. Check config 'genotypes'.")
    for kind in ("bim", "fam"):
        if not os.path.isfile(files[kind]):
            raise InputError(
                f"The PLINK genotype file '{bed_path}' has no .{kind} file beside it: '{files[kind]}' does not "
                f"exist. A PLINK 1 binary fileset is prefix.bed, prefix.bim and prefix.fam."
            )
    ids = _read_fam(files["fam"])
    markers = _read_bim(files["bim"])
    n, q = len(ids), len(markers)
    _check_bed(bed_path, files["bim"], n, q)
    bed_reader = _import_bed_reader()

    def chunks(max_markers: int, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        everyone = len(rows) == n and np.array_equal(rows, np.arange(n))
        # the counts given, bed-reader reads only the .bed (the .bim and .fam were read above)
        with bed_reader.open_bed(bed_path, iid_count=n, sid_count=q, count_A1=True) as reader:
            for start in range(0, q, max_markers):
                stop = min(q, start + max_markers)
                index = np.s_[:, start:stop] if everyone else np.s_[rows, start:stop]
                try:
                    block = reader.read(index=index, dtype="float64", order="F")
                except (ValueError, OSError, RuntimeError) as exc:
                    raise InputError(f"The PLINK file '{bed_path}' cannot be read at markers {start}-{stop}: {exc}.") from None
                yield start, block.T  # (markers, n), C-contiguous

    return GenotypePart(path=bed_path, ids=ids, markers=markers, chunks=chunks)

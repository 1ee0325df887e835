"""BIMBAM mean genotypes (GEMMA's ``-g``) with their annotation (``-a``) and id files."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.pipeline.genotypes.chromosomes import normalize_chromosomes
from lmm.pipeline.genotypes.common import (
    CHUNK_MARKERS, DOSAGE_MAX, check_file, check_map_duplicates, check_range, open_binary, GenotypePart, parse_positions,
)
from lmm.pipeline.io import describe_ids


def _split_fields(line: str, comma: bool) -> list[str]:
    if comma:
        return [f.strip() for f in line.split(",")]
    return line.split()


def read_bimbam_annotation(path: str, na: tuple[str, ...]) -> pd.DataFrame:
    """The annotation file: rs, pos, chr per line (comma or blank separated), no header."""
    check_file(path, "BIMBAM annotation file (config 'genotype_map')")
    rows = []
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8-sig").strip()
            if not line:
                continue
            fields = _split_fields(line, "," in line)
            if number == 1 and len(fields) >= 2 and fields[1].lower() in ("pos", "position", "bp"):
                continue  # a header line
            if len(fields) < 3:
                raise InputError(
                    f"The BIMBAM annotation file '{path}' has {len(fields)} fields on line {number}; expected "
                    "rs, pos, chr (comma or blank separated)."
                )
            rows.append((fields[0], fields[1], fields[2]))
    if not rows:
        raise InputError(f"The BIMBAM annotation file '{path}' lists no markers.")
    frame = pd.DataFrame(rows, columns=["marker", "pos", "chr"])
    check_map_duplicates(frame, path, "BIMBAM annotation file")
    frame["pos"] = parse_positions(frame["pos"], frame["marker"], path, "BIMBAM annotation file")
    frame["chr"] = normalize_chromosomes(frame["chr"], frame["marker"], path, "BIMBAM annotation file")
    return frame.set_index("marker")


def bimbam_part(path: str, ids: np.ndarray, annotation: pd.DataFrame, map_path: str, ids_path: str,
                 na: tuple[str, ...]) -> GenotypePart:
    """A BIMBAM mean-genotype file, parsed into blocks of markers (held in memory)."""
    check_file(path, "BIMBAM genotype file")
    n = len(ids)
    na_set = set(na) | {"NA"}
    names, a1, a0, blocks, current = [], [], [], [], []
    comma = None

    def flush():
        if current:
            blocks.append(np.array(current, dtype=np.float64))
            current.clear()

    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                raise InputError(f"The BIMBAM genotype file '{path}' is not text (line {number}).") from None
            if not line:
                continue
            if comma is None:
                comma = "," in line
            fields = _split_fields(line, comma)
            if len(fields) != n + 3:
                raise InputError(
                    f"The BIMBAM genotype file '{path}' has {len(fields) - 3} dosages on line {number} (marker "
                    f"'{fields[0]}') but the id file '{ids_path}' lists {n} individuals: each line must be "
                    "rs, A1, A0 and one dosage per id."
                )
            values = fields[3:]
            try:
                row = np.array(values, dtype=np.float64)
            except ValueError:
                row = np.empty(n)
                for k, v in enumerate(values):
                    if v in na_set:
                        row[k] = np.nan
                    else:
                        try:
                            row[k] = float(v)
                        except ValueError:
                            raise InputError(
                                f"The BIMBAM genotype file '{path}' has a non-numeric dosage {v!r} on line {number} "
                                f"(marker '{fields[0]}', id '{ids[k]}')."
                            ) from None
            names.append(fields[0])
            a1.append(fields[1])
            a0.append(fields[2])
            current.append(row)
            if len(current) == CHUNK_MARKERS:
                flush()
    flush()
    if not names:
        raise InputError(f"The BIMBAM genotype file '{path}' holds no markers.")
    missing = [m for m in names if m not in annotation.index]
    if missing:
        raise InputError(
            f"The BIMBAM annotation file '{map_path}' lacks markers of the genotype file '{path}': "
            f"{describe_ids(missing)}. Every marker needs a position and chromosome."
        )
    for b, block in enumerate(blocks):
        check_range(block, DOSAGE_MAX, path, ids, names[b * CHUNK_MARKERS:(b + 1) * CHUNK_MARKERS],
                     "dosages", axis_ids=1)
    info = annotation.loc[names]
    markers = pd.DataFrame({
        "marker": names, "chr": info["chr"].astype(str).to_numpy(), "pos": info["pos"].to_numpy(),
        "allele": a1, "other_allele": a0,
    })

    def chunks(max_markers: int, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        start = 0
        for block in blocks:
            for s in range(0, len(block), max_markers):
                yield start + s, block[s:s + max_markers, rows]
            start += len(block)

    return GenotypePart(path=path, ids=ids, markers=markers, chunks=chunks)



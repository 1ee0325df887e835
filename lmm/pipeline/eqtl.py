"""Trait positions for an eQTL study, and the tables built on them: local/distal peaks, hotspots.

The file of config ``phenotype_positions`` (:func:`read_phenotype_positions`) is either

- a table (``.tsv``/``.csv``, optionally ``.gz``) with the columns ``phenotype, chr, pos`` (others
  are ignored), ``pos`` in the unit of the genotype map's positions; or
- a BED file (``.bed``/``.bed.gz``): tab-separated, the first four columns ``chrom, start, end,
  name`` (more, such as tensorQTL's sample columns, are ignored), lines starting with ``#``
  (tensorQTL's header), ``track`` or ``browser`` skipped; the position of ``name`` is ``start``
  as written (the TSS, as tensorQTL uses it). Its unit is then the file's (base pairs): the map's
  positions must be in the same unit.

Chromosome names are made canonical (:func:`lmm.pipeline.genotypes.chromosomes.canonical_chromosome`:
``chr2`` is ``2``) and must be among the genotype map's. A duplicated trait, an unknown chromosome
or a position that is not a finite number stops the run with a message naming the file, its
line and the value. A trait absent from the file has no position: NaN in what follows.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from lmm.eqtl import cis_distance, hotspot_counts
from lmm.errors import InputError
from lmm.pipeline.genotypes.chromosomes import canonical_chromosome, chromosome_sort_key
from lmm.pipeline.io_common import describe_ids

__all__ = ["POSITION_COLUMNS", "read_phenotype_positions", "annotate_peaks", "hotspot_table"]

#: The columns of a position table (and of :func:`read_phenotype_positions`'s result).
POSITION_COLUMNS = ("phenotype", "chr", "pos")
_BED_SKIP = ("#", "track", "browser")


def _bed_rows(path: str) -> tuple[list[list[str]], list[int]]:
    opener = gzip.open if path.endswith(".gz") else open
    rows, lines = [], []
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if not text.strip() or text.lstrip().startswith(_BED_SKIP):
                    continue
                fields = text.split("\t")
                if len(fields) < 4:
                    raise InputError(f"The phenotype positions BED file '{path}' has {len(fields)} tab-separated "
                                     f"field(s) on line {number}; a BED line needs chrom, start, end, name.")
                rows.append([f.strip() for f in fields[:4]])
                lines.append(number)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputError(f"The phenotype positions file '{path}' cannot be read: {exc}") from None
    return rows, lines


def _table_rows(path: str) -> tuple[list[list[str]], list[int]]:
    sep = "," if path.removesuffix(".gz").endswith(".csv") else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, compression="infer",
                            encoding="utf-8-sig", skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError, EOFError,
            UnicodeDecodeError) as exc:
        raise InputError(f"The phenotype positions file '{path}' is not a readable table: "
                         f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in POSITION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"The phenotype positions file '{path}' lacks the column(s) {missing}; it needs "
                         f"{list(POSITION_COLUMNS)} (or give a .bed file). Its columns: {list(frame.columns)[:8]}")
    cells = frame[list(POSITION_COLUMNS)].fillna("").apply(lambda s: s.str.strip())
    lines = np.arange(2, len(frame) + 2)                 # line 1 is the header; blank lines kept
    filled = (frame.fillna("").apply(lambda s: s.str.strip()) != "").any(axis=1).to_numpy()
    return cells.to_numpy()[filled].tolist(), lines[filled].tolist()


def read_phenotype_positions(path, chromosomes: Iterable[str]) -> pd.DataFrame:
    """The position of each trait, from a position table or a BED file (module notes).

    Parameters
    ----------
    path : str or path
        The file of config ``phenotype_positions``.
    chromosomes : iterable of str
        The genotype map's chromosomes (canonical names).

    Returns
    -------
    pandas.DataFrame
        Columns ``phenotype`` (str), ``chr`` (canonical str), ``pos`` (float64), in file order.

    Raises
    ------
    InputError
        Unreadable file, missing columns, a row without a trait name, a duplicated trait, an
        unknown chromosome, a position that is not a finite number: the message names the file
        and the line.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"The phenotype positions file '{path}' does not exist.")
    bed = path.removesuffix(".gz").endswith(".bed")
    rows, lines = (_bed_rows if bed else _table_rows)(path)
    kind = "BED file" if bed else "file"
    if not rows:
        raise InputError(f"The phenotype positions {kind} '{path}' has no rows of data.")
    names = [r[3] if bed else r[0] for r in rows]
    chrs = [r[0] if bed else r[1] for r in rows]
    texts = [r[1] if bed else r[2] for r in rows]
    known = {canonical_chromosome(c) for c in chromosomes}
    seen: dict[str, int] = {}
    for name, line in zip(names, lines):
        if not name:
            raise InputError(f"The phenotype positions {kind} '{path}' has a row without a trait name "
                             f"(line {line}).")
        if name in seen:
            raise InputError(f"The phenotype positions {kind} '{path}' gives trait '{name}' twice (lines "
                             f"{seen[name]} and {line}); each trait needs one position.")
        seen[name] = line
    canonical = [canonical_chromosome(c) for c in chrs]
    for name, written, chrom, line in zip(names, chrs, canonical, lines):
        if chrom not in known:
            order = sorted(known, key=chromosome_sort_key)
            raise InputError(f"The phenotype positions {kind} '{path}' puts trait '{name}' (line {line}) on "
                             f"chromosome '{written}', which is not among the genotype map's chromosomes "
                             f"({describe_ids(order, limit=8)}).")
    pos = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(pos))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"The phenotype positions {kind} '{path}' gives trait '{names[i]}' (line {lines[i]}) the "
                         f"position '{texts[i]}', which is not a finite number"
                         + (f" ({bad.size} such rows in all)" if bad.size > 1 else "") + ".")
    return pd.DataFrame({"phenotype": pd.Series(names, dtype=object), "chr": pd.Series(canonical, dtype=object),
                         "pos": pos})


def annotate_peaks(peaks: pd.DataFrame, positions: pd.DataFrame, cis_window: float) -> pd.DataFrame:
    """The peaks with their trait's position, local (cis) or distal, and the distance.

    Parameters
    ----------
    peaks : pandas.DataFrame
        At least ``phenotype, chr, pos`` (e.g. ``results/scan/peaks.tsv``).
    positions : pandas.DataFrame
        :func:`read_phenotype_positions`'s table.
    cis_window : float
        Local when on the trait's chromosome within this distance of its position (map units).

    Returns
    -------
    pandas.DataFrame
        ``peaks`` with ``trait_chr``, ``trait_pos`` (NaN for a trait without a position), ``cis``
        (pandas' nullable boolean: NA without a position) and ``distance`` (peak − trait position
        on the same chromosome, NaN otherwise), rows in the same order.
    """
    missing = [c for c in ("phenotype", "chr", "pos") if c not in peaks.columns]
    if missing:
        raise InputError(f"the peaks table lacks the column(s) {missing}")
    where = positions.set_index("phenotype")
    names = peaks["phenotype"].astype(str)
    trait_chr = names.map(where["chr"]).astype(object)
    trait_pos = names.map(where["pos"]).to_numpy(float)
    local = cis_distance(peaks["chr"].astype(str).to_numpy(), peaks["pos"].to_numpy(float),
                         trait_chr.fillna("").to_numpy(), trait_pos, cis_window)
    cis = pd.array(np.where(np.isnan(local.cis), None, local.cis == 1.0), dtype="boolean")
    return peaks.assign(trait_chr=trait_chr.to_numpy(), trait_pos=trait_pos, cis=cis,
                        distance=local.distance)


def hotspot_table(peaks: pd.DataFrame, markers: pd.DataFrame, hotspot_window: float) -> pd.DataFrame:
    """Peaks within ``hotspot_window/2`` of each marker: the table ``chr, pos, n_peaks``.

    Parameters
    ----------
    peaks : pandas.DataFrame
        ``chr, pos`` of the peaks that count (the significant traits' peaks).
    markers : pandas.DataFrame
        ``chr, pos`` of the markers, in genome order: where the window is centred.
    hotspot_window : float
        Width of the sliding window (map units).

    Returns
    -------
    pandas.DataFrame
        One row per marker: ``chr``, ``pos``, ``n_peaks`` (int64), as :func:`lmm.eqtl.hotspot_counts`.
    """
    counts = hotspot_counts(peaks["chr"].astype(str).to_numpy(), peaks["pos"].to_numpy(float),
                            markers["chr"].astype(str).to_numpy(), markers["pos"].to_numpy(float), hotspot_window)
    return pd.DataFrame({"chr": markers["chr"].astype(str).to_numpy(dtype=object),
                         "pos": markers["pos"].to_numpy(float), "n_peaks": counts})

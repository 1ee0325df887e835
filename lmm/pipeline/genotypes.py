"""Read genotype files (PLINK 1 binary, BIMBAM mean genotypes, genotype tables) into one source.

:func:`read_genotypes` reads the user's genotype files, checks them, and returns a
:class:`GenotypeSource`: the genotyped individuals' ids, the markers (name, chromosome, position,
alleles) in genome order, and a way to read the values in chunks of markers. The load stage then
writes it, aligned by id to the individuals of the analysis, as one binary intermediate
(:func:`lmm.pipeline.genotype_store.write_intermediate`) that the kinship and the scan read by
memory map, a chromosome at a time.

Formats (``fmt``; ``"auto"`` recognises ``.bed`` and tables from the file name)
---------------------------------------------------------------------------------
``plink``
    PLINK 1 binary: ``prefix.bed`` with ``prefix.bim`` and ``prefix.fam`` beside it (give the
    ``.bed`` or the prefix). Read with bed-reader (no hand-written decoder), in chunks of markers.
    The value is the **additive dosage of allele A1**, the allele in the 5th column of the
    ``.bim`` (bed-reader's ``count_A1=True``, PLINK's convention and GEMMA's): 2 for an A1/A1
    homozygote, 1 for a heterozygote, 0 for A2/A2, NaN for a missing call. Chromosome (1st
    column) and base-pair position (4th) come from the ``.bim``; the individuals' ids are the
    **IIDs** (2nd column of the ``.fam``); the FID is ignored, and IIDs must be unique (a file
    whose IIDs repeat across families is rejected: rename them, e.g. ``FID_IID``). The ``.bed``
    must be SNP-major and exactly ``3 + ceil(n/4)·q`` bytes for the ``n`` lines of the ``.fam``
    and ``q`` lines of the ``.bim``.
``bimbam``
    BIMBAM mean genotypes (GEMMA's ``-g``): one line per marker, ``rs, A1, A0, dosage_1, ...,
    dosage_n``, separated by commas (with or without blanks) or by blanks/tabs, no header, plain
    or ``.gz``; ``NA`` (or an entry of ``na_values``) is missing. The dosage counts allele A1
    (the 2nd field), in [0, 2]. The file holds no ids: ``ids_path`` lists them, one per line, in
    the order of the dosage columns. Positions from the annotation file (``map_path``, GEMMA's
    ``-a``): ``rs, pos, chr`` per line, comma or blank separated, no header (a first line
    ``rs, pos, chr`` is skipped).
``table``
    CSV/TSV (optionally ``.gz``) or Parquet, one row per individual with an id column
    (``id_column``), and either

    - one column per marker (``<marker>``): a dosage (or any 1-degree-of-freedom value) in
      [0, 2]; ``kind = "dosages"``;
    - or one column per marker and allele (``<marker>:<allele>``, split at the last ``:``):
      allele probabilities (e.g. R/qtl2's ``genoprob_to_alleleprob``), k − 1 degrees of freedom;
      ``kind = "probabilities"``. Every marker must have the same allele set (the alleles of the
      table's first marker, in that order; the columns of a marker may be anywhere in the
      table); each value in [0, 1] (± :data:`PROBABILITY_RANGE_TOLERANCE`) and the alleles of a
      marker summing to 1 in each row (± :data:`PROBABILITY_SUM_TOLERANCE`, absolute; rows with a
      missing allele are not checked). Values are kept as given (not renormalised).

    A column name that is a marker of the map is a dosage column, so marker names containing
    ``:`` (``1:12345``) work. The marker map (``map_path``): a CSV/TSV(.gz) or Parquet table with
    columns ``marker``, ``chr`` and the position column ``map_position`` (default ``pos``, or the
    only other column); other columns (``pos_cM``, ``pos_Mbp``) are allowed. Every marker of the
    table must be in the map, once; markers of the map absent from the table are ignored.

Several files (``paths`` a list, e.g. one per chromosome) are one source: all in the same format,
each listing the same individuals (in any order), no marker in two files; BIMBAM files share one
ids file and one annotation file, tables one map.

Ids are strings (``007`` is not ``7``). Chromosome names are strings as written; markers are
sorted by chromosome (natural order: ``1, 2, ..., 10, ...``, then ``X``, ``Y``, ``XY``, ``MT``,
then other names alphabetically; a ``chr`` prefix is ignored for the order), then position, then
name, so the same markers in any file order or split give the same order.

Every problem raises :class:`lmm.errors.InputError` naming the file, and the marker, id or line.
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.pipeline.io import DEFAULT_NA_VALUES, describe_ids, duplicated, input_format, non_numeric_cells, read_table

__all__ = [
    "FORMATS",
    "KINDS",
    "PROBABILITY_RANGE_TOLERANCE",
    "PROBABILITY_SUM_TOLERANCE",
    "DOSAGE_MAX",
    "GenotypeSource",
    "IdMatch",
    "chromosome_sort_key",
    "genotype_format",
    "match_ids",
    "plink_paths",
    "read_genotypes",
]

#: Genotype file formats (``fmt`` of :func:`read_genotypes`, config ``genotype_format``).
FORMATS = ("plink", "bimbam", "table")

#: What the values are: one dosage column per marker, or one probability column per allele.
KINDS = ("dosages", "probabilities")

#: Probabilities must lie in [-tol, 1 + tol] (values are usually rounded, never outside [0, 1]).
PROBABILITY_RANGE_TOLERANCE = 1e-6

#: The alleles of a marker must sum to 1 within this (absolute) in each row. Eight probabilities
#: rounded to 6 decimals are off by at most 4e-6; 1e-3 also admits 3-decimal rounding.
PROBABILITY_SUM_TOLERANCE = 1e-3

#: Dosages must lie in [-tol, DOSAGE_MAX + tol] with tol = PROBABILITY_RANGE_TOLERANCE.
DOSAGE_MAX = 2.0

_CHROMOSOME_ORDER = {"X": 0, "Y": 1, "XY": 2, "MT": 3, "M": 3}

#: Markers per chunk when a format reads in chunks (PLINK; BIMBAM parses this many lines at once).
_CHUNK_MARKERS = 4096


# --------------------------------------------------------------------------------------------
# the source
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Part:
    """One genotype file: its ids (file order), markers (file order) and a chunk reader.

    ``chunks(max_markers, rows)`` yields ``(first_marker, block)``, ``block`` of shape
    ``(n_markers_in_chunk * n_alleles, len(rows))`` float64 (marker-major, alleles of a marker
    adjacent, the individuals ``ids[rows]``), covering the file's markers in order.
    """

    path: str
    ids: np.ndarray
    markers: pd.DataFrame
    chunks: Callable[[int, np.ndarray], Iterator[tuple[int, np.ndarray]]] = field(repr=False)


@dataclass(frozen=True)
class GenotypeSource:
    """Genotype files read and checked, ready to be written as the intermediate.

    Attributes
    ----------
    format : str
        ``"plink"``, ``"bimbam"`` or ``"table"``.
    kind : str
        ``"dosages"`` (one column per marker) or ``"probabilities"`` (one per marker and allele).
    alleles : tuple of str
        The allele names of a probabilities source (the same for every marker); ``()`` for
        dosages.
    ids : numpy.ndarray of str, shape (n,)
        The genotyped individuals, in the order of the first file.
    markers : pandas.DataFrame
        One row per marker in genome order (:func:`chromosome_sort_key`, position, name):
        ``marker``, ``chr`` (str), ``pos`` (float), ``allele`` (the counted allele of a dosage:
        A1 of PLINK/BIMBAM; empty for tables and probabilities), ``other_allele``, ``file``.
    files : tuple of str
        The genotype files read.
    map_position : str or None
        The map column used for positions (tables), ``None`` otherwise.
    """

    format: str
    kind: str
    alleles: tuple[str, ...]
    ids: np.ndarray
    markers: pd.DataFrame
    files: tuple[str, ...]
    map_position: str | None
    parts: tuple[_Part, ...] = field(repr=False)

    @property
    def n_alleles(self) -> int:
        """Columns per marker: the number of alleles for probabilities, 1 for dosages."""
        return len(self.alleles) if self.kind == "probabilities" else 1

    @property
    def dosage_allele(self) -> str:
        """In words, which allele a dosage counts."""
        return {
            "plink": "A1 (5th column of the .bim), as PLINK and GEMMA count it",
            "bimbam": "A1 (2nd field of each line), as GEMMA counts it",
            "table": "as given in the table",
        }[self.format] if self.kind == "dosages" else "none (allele probabilities)"


@dataclass(frozen=True)
class IdMatch:
    """Which individuals of an analysis are genotyped.

    Attributes
    ----------
    kept : list of str
        Analysis ids that are genotyped, in the analysis' order.
    not_genotyped : list of str
        Analysis ids without genotypes (dropped from the analysis), in the analysis' order.
    not_in_analysis : list of str
        Genotyped ids not in the analysis (not used), in the genotype files' order.
    """

    kept: list[str]
    not_genotyped: list[str]
    not_in_analysis: list[str]


def match_ids(genotyped: Sequence[str], analysis: Sequence[str] | None) -> IdMatch:
    """Align the genotyped individuals to those of the analysis, by id.

    Parameters
    ----------
    genotyped : sequence of str
        :attr:`GenotypeSource.ids`.
    analysis : sequence of str or None
        The analysis' ids (phenotypes, kinship), in the order wanted; ``None`` keeps every
        genotyped individual in file order.

    Returns
    -------
    IdMatch

    Examples
    --------
    >>> m = match_ids(["a", "b", "c"], ["c", "x", "a"])
    >>> m.kept, m.not_genotyped, m.not_in_analysis
    (['c', 'a'], ['x'], ['b'])
    """
    genotyped = [str(i) for i in genotyped]
    if analysis is None:
        return IdMatch(list(genotyped), [], [])
    analysis = [str(i) for i in analysis]
    have, wanted = set(genotyped), set(analysis)
    return IdMatch(
        kept=[i for i in analysis if i in have],
        not_genotyped=[i for i in analysis if i not in have],
        not_in_analysis=[i for i in genotyped if i not in wanted],
    )


def chromosome_sort_key(name: str) -> tuple:
    """Sort key of a chromosome name: numbers in numeric order, then X, Y, XY, MT, then others.

    A leading ``chr`` (any case) is ignored for the order.

    Examples
    --------
    >>> sorted(["X", "10", "2", "MT", "chr1", "Un"], key=chromosome_sort_key)
    ['chr1', '2', '10', 'X', 'MT', 'Un']
    """
    text = str(name).strip()
    core = text[3:] if text.lower().startswith("chr") and len(text) > 3 else text
    if core.isdigit():
        return (0, int(core), "")
    upper = core.upper()
    if upper in _CHROMOSOME_ORDER:
        return (1, _CHROMOSOME_ORDER[upper], "")
    return (2, 0, core)


def _sorted_markers(markers: pd.DataFrame) -> pd.DataFrame:
    """Markers in genome order: chromosome (natural), position, name."""
    chrs, pos, names = markers["chr"].tolist(), markers["pos"].tolist(), markers["marker"].tolist()
    chr_key = {c: chromosome_sort_key(c) for c in set(chrs)}
    keys = sorted(range(len(markers)), key=lambda i: (chr_key[chrs[i]], pos[i], names[i]))
    return markers.iloc[keys].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------

def genotype_format(path: str) -> str | None:
    """The genotype format a file name implies: ``"plink"`` (``.bed``, or a prefix with a
    ``.bed``), ``"table"`` (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``, ``.parquet``), else
    ``None`` (BIMBAM files have no standard name: say ``genotype_format: bimbam``).
    """
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(".bed") or (not os.path.splitext(lower)[1] and os.path.exists(path + ".bed")):
        return "plink"
    if os.path.exists(path + ".bed") and not os.path.exists(path):
        return "plink"
    stem = lower[:-3] if lower.endswith(".gz") else lower
    if stem.endswith((".csv", ".tsv", ".txt")) or lower.endswith(".parquet"):
        return "table"
    return None


def read_genotypes(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    fmt: str = "auto",
    *,
    map_path: str | os.PathLike | None = None,
    ids_path: str | os.PathLike | None = None,
    map_position: str | None = None,
    id_column: str = "id",
    na_values: Sequence[str] = DEFAULT_NA_VALUES,
) -> GenotypeSource:
    """Read and check genotype files; return them as one :class:`GenotypeSource`.

    Parameters
    ----------
    paths : str or sequence of str
        One genotype file, or several (e.g. one per chromosome) in the same format. PLINK: the
        ``.bed`` or the prefix.
    fmt : {"auto", "plink", "bimbam", "table"}
        The format (config ``genotype_format``); ``"auto"``: BIMBAM when `ids_path` is given,
        else from the file names (:func:`genotype_format`).
    map_path : str, optional
        Marker map of a table (``marker, chr, <map_position>``) or BIMBAM annotation file
        (``rs, pos, chr``), config ``genotype_map``. Required for those formats; unused for PLINK.
    ids_path : str, optional
        BIMBAM: the individuals' ids, one per line, in the order of the dosage columns (config
        ``genotype_ids``).
    map_position : str, optional
        Tables: the map's position column (default ``pos``, or the only column besides
        ``marker`` and ``chr``).
    id_column : str
        Tables: the id column.
    na_values : sequence of str
        Text entries read as missing (tables, BIMBAM).

    Returns
    -------
    GenotypeSource

    Raises
    ------
    InputError
        A file is missing or malformed (each format's checks are listed in the module's
        documentation), files disagree on individuals, kind or alleles, or a marker appears
        twice.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise InputError("No genotype file given (config 'genotypes').")
    if fmt in (None, "auto") and ids_path is not None:
        fmt = "bimbam"  # an id file is only for BIMBAM
    if fmt in (None, "auto"):
        formats = {p: genotype_format(p) for p in paths}
        unknown = [p for p, f in formats.items() if f is None]
        if unknown:
            raise InputError(
                f"Cannot tell the format of the genotype file(s) {describe_ids(unknown)} from the name: "
                "set config 'genotype_format' to plink, bimbam or table."
            )
        kinds = sorted(set(formats.values()))
        if len(kinds) > 1:
            raise InputError(
                f"The genotype files {describe_ids(paths)} are in different formats ({', '.join(kinds)}); "
                "give files of one format."
            )
        fmt = kinds[0]
    if fmt not in FORMATS:
        raise InputError(f"Unknown genotype format {fmt!r} (config 'genotype_format'); expected one of {', '.join(FORMATS)}.")
    na = tuple(str(v) for v in na_values)
    if fmt == "plink":
        parts = [_plink_part(p) for p in paths]
        kinds, alleles = ["dosages"] * len(parts), [()] * len(parts)
        map_position = None
    elif fmt == "bimbam":
        if map_path is None:
            raise InputError("BIMBAM genotypes need their annotation file (rs, pos, chr): set config 'genotype_map'.")
        if ids_path is None:
            raise InputError(
                "BIMBAM genotypes hold no ids: set config 'genotype_ids' to a file listing the individuals' "
                "ids, one per line, in the order of the dosage columns."
            )
        ids = _read_id_file(os.fspath(ids_path))
        annotation = _read_bimbam_annotation(os.fspath(map_path), na)
        parts = [_bimbam_part(p, ids, annotation, os.fspath(map_path), os.fspath(ids_path), na) for p in paths]
        kinds, alleles = ["dosages"] * len(parts), [()] * len(parts)
        map_position = None
    else:
        if map_path is None:
            raise InputError(
                "A genotype table needs a marker map (columns marker, chr, pos): set config 'genotype_map'."
            )
        gmap, map_position = _read_marker_map(os.fspath(map_path), map_position)
        read = [_table_part(p, gmap, os.fspath(map_path), id_column, na) for p in paths]
        parts = [r[0] for r in read]
        kinds = [r[1] for r in read]
        alleles = [r[2] for r in read]
    return _assemble(fmt, paths, parts, kinds, alleles, map_position)


def _assemble(fmt, paths, parts, kinds, alleles, map_position) -> GenotypeSource:
    """Check that the parts agree (ids, kind, alleles, no shared marker) and merge them."""
    first = parts[0]
    for part, kind, allele_set in zip(parts[1:], kinds[1:], alleles[1:]):
        if kind != kinds[0]:
            raise InputError(
                f"The genotype file '{part.path}' holds {kind} but '{first.path}' holds {kinds[0]}; "
                "all genotype files must hold the same kind of values."
            )
        if tuple(allele_set) != tuple(alleles[0]):
            raise InputError(
                f"The genotype file '{part.path}' has alleles {', '.join(allele_set)} but '{first.path}' has "
                f"{', '.join(alleles[0])}; every marker must have the same alleles."
            )
        a, b = set(first.ids.tolist()), set(part.ids.tolist())
        if a != b:
            raise InputError(
                f"The genotype files '{first.path}' and '{part.path}' list different individuals: only in the "
                f"first {describe_ids([i for i in first.ids if i not in b]) or 'none'}; only in the second "
                f"{describe_ids([i for i in part.ids if i not in a]) or 'none'}. Every genotype file must "
                "list the same individuals (in any order)."
            )
    frames = []
    for index, part in enumerate(parts):
        frame = part.markers.copy()
        frame["part"] = index
        frame["part_index"] = np.arange(len(frame))
        frame["file"] = part.path
        frames.append(frame)
    markers = pd.concat(frames, ignore_index=True)
    dup = markers["marker"].duplicated(keep=False)
    if dup.any():
        names = list(dict.fromkeys(markers.loc[dup, "marker"]))
        where = markers.loc[markers["marker"] == names[0], "file"].tolist()
        raise InputError(
            f"The genotype files list markers more than once: {describe_ids(names)} "
            f"('{names[0]}' in {describe_ids(where)}). Each marker must appear once."
        )
    return GenotypeSource(
        format=fmt,
        kind=kinds[0],
        alleles=tuple(alleles[0]),
        ids=first.ids,
        markers=_sorted_markers(markers),
        files=tuple(paths),
        map_position=map_position,
        parts=tuple(parts),
    )


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------

def _check_file(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"The {what} '{path}' does not exist. Check the path in the configuration.")
    if os.path.isdir(path):
        raise InputError(f"The {what} '{path}' is a directory, not a file.")
    if os.path.getsize(path) == 0:
        raise InputError(f"The {what} '{path}' is empty.")


def _open_binary(path: str):
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def _checked_id_list(ids: Sequence[str], path: str, what: str) -> np.ndarray:
    ids = [str(i).strip() for i in ids]
    blank = [str(k + 1) for k, i in enumerate(ids) if i == ""]
    if blank:
        raise InputError(f"The {what} '{path}' has entries without an id (entries {describe_ids(blank)}).")
    dup = duplicated(ids)
    if dup:
        raise InputError(
            f"The {what} '{path}' has duplicated ids: {describe_ids(dup)}. Each individual must appear once."
        )
    return np.asarray(ids, dtype=object)


def _read_id_file(path: str) -> np.ndarray:
    _check_file(path, "genotype id file")
    with open(path, encoding="utf-8-sig") as handle:
        lines = [line.strip() for line in handle.read().split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return _checked_id_list(lines, path, "genotype id file")


def _positions(values: pd.Series, markers: pd.Series, path: str, what: str) -> np.ndarray:
    pos = pd.to_numeric(values, errors="coerce")
    bad = pos.isna() | ~np.isfinite(pos.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        raise InputError(
            f"The {what} '{path}' has missing or non-numeric positions for markers "
            f"{describe_ids(markers[bad.to_numpy()].tolist())}."
        )
    return pos.to_numpy(dtype=np.float64)


def _check_map_duplicates(frame: pd.DataFrame, path: str, what: str) -> None:
    dup = frame["marker"].duplicated(keep=False)
    if dup.any():
        names = list(dict.fromkeys(frame.loc[dup, "marker"]))
        chrs = list(dict.fromkeys(frame.loc[frame["marker"] == names[0], "chr"]))
        where = f" on chromosomes {describe_ids(chrs)}" if len(chrs) > 1 else ""
        raise InputError(
            f"The {what} '{path}' lists markers more than once: {describe_ids(names)} "
            f"('{names[0]}'{where}). Each marker must appear once, on one chromosome."
        )


def _check_range(values: np.ndarray, upper: float, path: str, ids: np.ndarray, columns: Sequence[str],
                 what: str, axis_ids: int) -> None:
    """Values outside [-tol, upper + tol] (NaN allowed): an error naming column and id."""
    tol = PROBABILITY_RANGE_TOLERANCE
    with np.errstate(invalid="ignore"):
        bad = (values < -tol) | (values > upper + tol) | np.isinf(values)
    if bad.any():
        where = np.argwhere(bad)
        r, c = where[0]
        i_id, i_col = (r, c) if axis_ids == 0 else (c, r)
        raise InputError(
            f"The genotype file '{path}' has {len(where)} {what} outside [0, {upper:g}], e.g. "
            f"{float(values[r, c])!r} for marker column '{columns[i_col]}', id '{ids[i_id]}'."
        )


# --------------------------------------------------------------------------------------------
# PLINK
# --------------------------------------------------------------------------------------------

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


def _count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        count, last = 0, b"\n"
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _plink_part(path: str) -> _Part:
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
    n, q = _count_lines(files["fam"]), _count_lines(files["bim"])
    if n == 0 or q == 0:
        empty = files["fam"] if n == 0 else files["bim"]
        raise InputError(f"The PLINK file '{empty}' is empty: no {'individuals' if n == 0 else 'markers'}.")
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
            f"'{files['bim']}' lists the wrong markers."
        )
    bed_reader = _import_bed_reader()
    try:
        bed = bed_reader.open_bed(bed_path, count_A1=True, num_threads=None)
        iids = np.asarray(bed.iid, dtype=str)
        sids = np.asarray(bed.sid, dtype=str)
        chromosomes = np.asarray(bed.chromosome, dtype=str)
        positions = np.asarray(bed.bp_position, dtype=np.float64)
        allele_1 = np.asarray(bed.allele_1, dtype=str)
        allele_2 = np.asarray(bed.allele_2, dtype=str)
    except (ValueError, OSError, RuntimeError, IndexError) as exc:
        raise InputError(f"The PLINK fileset '{bed_path}' cannot be read: {exc}.") from None
    if len(iids) != n or len(sids) != q:
        raise InputError(f"The PLINK fileset '{bed_path}' has malformed .fam or .bim lines.")
    dup = pd.Series(iids)[pd.Series(iids).duplicated(keep=False)]
    if len(dup):
        raise InputError(
            f"The PLINK file '{files['fam']}' has repeated individual ids (IID, 2nd column): "
            f"{describe_ids(list(dict.fromkeys(dup)))}. Ids are the IIDs and must be unique (the FID is "
            "ignored): rename them, e.g. to FID_IID."
        )
    ids = _checked_id_list(iids, files["fam"], "PLINK .fam file")
    markers = pd.DataFrame({
        "marker": sids, "chr": chromosomes, "pos": positions,
        "allele": allele_1, "other_allele": allele_2,
    })

    def chunks(max_markers: int, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        everyone = len(rows) == n and np.array_equal(rows, np.arange(n))
        with bed_reader.open_bed(bed_path, count_A1=True) as reader:
            for start in range(0, q, max_markers):
                stop = min(q, start + max_markers)
                index = np.s_[:, start:stop] if everyone else np.s_[rows, start:stop]
                try:
                    block = reader.read(index=index, dtype="float64", order="F")
                except (ValueError, OSError, RuntimeError) as exc:
                    raise InputError(f"The PLINK file '{bed_path}' cannot be read at markers {start}-{stop}: {exc}.") from None
                yield start, block.T  # (markers, n), C-contiguous

    return _Part(path=bed_path, ids=ids, markers=markers, chunks=chunks)


# --------------------------------------------------------------------------------------------
# BIMBAM
# --------------------------------------------------------------------------------------------

def _split_fields(line: str, comma: bool) -> list[str]:
    if comma:
        return [f.strip() for f in line.split(",")]
    return line.split()


def _read_bimbam_annotation(path: str, na: tuple[str, ...]) -> pd.DataFrame:
    """The annotation file: rs, pos, chr per line (comma or blank separated), no header."""
    _check_file(path, "BIMBAM annotation file (config 'genotype_map')")
    rows = []
    with _open_binary(path) as handle:
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
    _check_map_duplicates(frame, path, "BIMBAM annotation file")
    frame["pos"] = _positions(frame["pos"], frame["marker"], path, "BIMBAM annotation file")
    return frame.set_index("marker")


def _bimbam_part(path: str, ids: np.ndarray, annotation: pd.DataFrame, map_path: str, ids_path: str,
                 na: tuple[str, ...]) -> _Part:
    """A BIMBAM mean-genotype file, parsed into blocks of markers (held in memory)."""
    _check_file(path, "BIMBAM genotype file")
    n = len(ids)
    na_set = set(na) | {"NA"}
    names, a1, a0, blocks, current = [], [], [], [], []
    comma = None

    def flush():
        if current:
            blocks.append(np.array(current, dtype=np.float64))
            current.clear()

    with _open_binary(path) as handle:
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
            if len(current) == _CHUNK_MARKERS:
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
        _check_range(block, DOSAGE_MAX, path, ids, names[b * _CHUNK_MARKERS:(b + 1) * _CHUNK_MARKERS],
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

    return _Part(path=path, ids=ids, markers=markers, chunks=chunks)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

def _read_marker_map(path: str, map_position: str | None) -> tuple[pd.DataFrame, str]:
    """The marker map of a genotype table, indexed by marker: chr (str), pos (float)."""
    what = "genotype map (config 'genotype_map')"
    _check_file(path, what)
    try:
        if input_format(path) == "parquet":
            frame = pd.read_parquet(path)
            if not isinstance(frame.index, pd.RangeIndex):
                frame = frame.reset_index()
            frame = frame.astype({c: str for c in frame.columns if c in ("marker", "chr")})
        else:
            stem = path[:-3] if path.lower().endswith(".gz") else path
            sep = "," if stem.lower().endswith(".csv") else "\t"
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True,
                                encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"The {what} '{path}' cannot be read as a table: {str(exc).strip().splitlines()[-1]}.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lacking = [c for c in ("marker", "chr") if c not in frame.columns]
    if lacking:
        raise InputError(
            f"The {what} '{path}' has no column {describe_ids(lacking)}; its columns are "
            f"{describe_ids(list(frame.columns))}. Expected marker, chr and a position column."
        )
    others = [c for c in frame.columns if c not in ("marker", "chr")]
    if map_position is None:
        if "pos" in others:
            map_position = "pos"
        elif len(others) == 1:
            map_position = others[0]
        else:
            raise InputError(
                f"The {what} '{path}' has several position columns ({describe_ids(others)}) and none named 'pos': "
                "say which to use with config 'map_position'."
            )
    if map_position not in others:
        raise InputError(
            f"The {what} '{path}' has no position column '{map_position}' (config 'map_position'); its columns "
            f"are {describe_ids(list(frame.columns))}."
        )
    frame["marker"] = frame["marker"].astype(str).str.strip()
    frame["chr"] = frame["chr"].astype(str).str.strip()
    blank = frame["marker"] == ""
    if blank.any():
        raise InputError(f"The {what} '{path}' has rows without a marker name (rows {describe_ids((np.flatnonzero(blank) + 1).tolist())}).")
    _check_map_duplicates(frame, path, what)
    no_chr = frame["chr"].isin(["", "nan", "NA", "None"])
    if no_chr.any():
        raise InputError(f"The {what} '{path}' has markers without a chromosome: {describe_ids(frame.loc[no_chr, 'marker'].tolist())}.")
    pos = _positions(frame[map_position], frame["marker"], path, what)
    return pd.DataFrame({"chr": frame["chr"].to_numpy(), "pos": pos}, index=pd.Index(frame["marker"], name="marker")), map_position


def _parse_text_table(path: str, id_column: str, na: tuple[str, ...]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A plain numeric CSV/TSV(.gz): ids, column names, values (n, columns) float64.

    Streams the file line by line and parses each row with numpy (a wide table, e.g. 51,152
    columns, is several times faster so than with pandas). Quoted fields fall back to
    :func:`lmm.pipeline.io.read_table`.
    """
    stem = path[:-3] if path.lower().endswith(".gz") else path
    sep = "," if stem.lower().endswith(".csv") else "\t"
    na_set = set(na)
    with _open_binary(path) as handle:
        try:
            header_raw = handle.readline().decode("utf-8-sig")
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise InputError(f"The genotype file '{path}' is not a readable text table ({exc}).") from None
        if '"' in header_raw or "'" in header_raw:
            return None  # quoted: the general reader
        header = [h.strip() for h in header_raw.rstrip("\r\n").split(sep)]
        if len(header) < 2:
            raise InputError(
                f"The genotype file '{path}' has a single column; expected an id column '{id_column}' and marker "
                f"columns, {'comma' if sep == ',' else 'tab'}-separated."
            )
        if id_column not in header:
            raise InputError(
                f"The genotype file '{path}' has no id column '{id_column}' (config 'id_column'); its first columns "
                f"are {describe_ids(header)}."
            )
        id_at = header.index(id_column)
        columns = header[:id_at] + header[id_at + 1:]
        dup = duplicated(columns)
        if dup:
            raise InputError(f"The genotype file '{path}' has duplicated column names: {describe_ids(dup)}.")
        bsep = sep.encode()
        ids, rows = [], []
        for number, raw in enumerate(handle, start=2):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            if b'"' in raw:
                return None
            fields = raw.split(bsep)
            if len(fields) != len(header):
                raise InputError(
                    f"The genotype file '{path}' has {len(fields)} fields on line {number} but its header has "
                    f"{len(header)}. Every row must have one value per column."
                )
            ident = fields.pop(id_at).decode("utf-8").strip()
            try:
                row = np.array(fields, dtype=np.float64)
            except ValueError:
                row = np.empty(len(fields))
                for k, v in enumerate(fields):
                    text = v.decode("utf-8", "replace").strip()
                    if text in na_set:
                        row[k] = np.nan
                        continue
                    try:
                        row[k] = float(text)
                    except ValueError:
                        raise InputError(
                            f"The genotype file '{path}' has a non-numeric value {text!r} in column '{columns[k]}' "
                            f"on line {number} (id '{ident}')."
                        ) from None
            ids.append(ident)
            rows.append(row)
    if not rows:
        raise InputError(f"The genotype file '{path}' has a header but no rows of data.")
    ids = _checked_id_list(ids, path, "genotype file")
    values = np.empty((len(rows), len(columns)))
    for k, row in enumerate(rows):
        values[k] = row
    return ids, columns, values


def _read_genotype_table(path: str, id_column: str, na: tuple[str, ...]) -> tuple[np.ndarray, list[str], np.ndarray]:
    _check_file(path, "genotype file")
    if input_format(path) == "text":
        parsed = _parse_text_table(path, id_column, na)
        if parsed is not None:
            return parsed
    frame = read_table(path, id_column=id_column, role="genotype", na_values=na)
    for column, dtype in frame.dtypes.items():
        if dtype != np.float64:
            bad = non_numeric_cells(frame, column)
            if bad:
                raise InputError(
                    f"The genotype file '{path}' has non-numeric values in column '{column}' for ids {describe_ids(bad)}."
                )
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64) if (frame.dtypes != np.float64).any() \
        else frame.to_numpy(dtype=np.float64)
    return np.asarray([str(i) for i in frame.index], dtype=object), [str(c) for c in frame.columns], values


def _table_part(path: str, gmap: pd.DataFrame, map_path: str, id_column: str, na: tuple[str, ...]):
    """A genotype table: the part, its kind and its alleles."""
    ids, columns, values = _read_genotype_table(path, id_column, na)
    in_map = [c in gmap.index for c in columns]
    if all(in_map):
        kind, alleles, marker_names, order = "dosages", (), list(columns), np.arange(len(columns))
    else:
        if not all(":" in c for c in columns):
            lacking = [c for c, ok in zip(columns, in_map) if not ok and ":" not in c]
            raise InputError(
                f"The genotype map '{map_path}' lacks markers of the genotype file '{path}': {describe_ids(lacking)}. "
                "Every column of the table must be a marker of the map (dosages) or <marker>:<allele> "
                "(allele probabilities)."
            )
        split = [c.rsplit(":", 1) for c in columns]
        marker_names = list(dict.fromkeys(m for m, _ in split))
        by_marker: dict[str, dict[str, int]] = {m: {} for m in marker_names}
        for k, (m, a) in enumerate(split):
            by_marker[m][a] = k
        alleles = tuple(by_marker[marker_names[0]])
        allele_set = set(alleles)
        for m in marker_names:
            have = by_marker[m]
            if set(have) != allele_set:
                lacking = [a for a in alleles if a not in have]
                extra = [a for a in have if a not in allele_set]
                detail = (f"lacks {', '.join(f'{m}:{a}' for a in lacking)}" if lacking else "") + \
                    ("; " if lacking and extra else "") + (f"has extra {', '.join(f'{m}:{a}' for a in extra)}" if extra else "")
                raise InputError(
                    f"The genotype file '{path}': marker '{m}' {detail}. Every marker needs one column per allele, "
                    f"the same alleles for all markers ({', '.join(alleles)}, those of '{marker_names[0]}')."
                )
        if len(alleles) < 2:
            raise InputError(
                f"The genotype file '{path}' has allele columns with a single allele ('{alleles[0]}') per marker; "
                "allele probabilities need at least two alleles per marker."
            )
        lacking = [m for m in marker_names if m not in gmap.index]
        if lacking:
            raise InputError(
                f"The genotype map '{map_path}' lacks markers of the genotype file '{path}': {describe_ids(lacking)}. "
                "Every marker of the table must be in the map."
            )
        order = np.array([by_marker[m][a] for m in marker_names for a in alleles])
        kind = "probabilities"
    if not np.array_equal(order, np.arange(len(columns))):
        values = values[:, order]
    ordered_columns = [columns[k] for k in order]
    if kind == "probabilities":
        _check_range(values, 1.0, path, ids, ordered_columns, "probabilities", axis_ids=0)
        a = len(alleles)
        cube = values.reshape(len(ids), len(marker_names), a)
        sums = cube.sum(axis=2)
        off = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE  # NaN rows compare False
        if off.any():
            r, m = np.argwhere(off)[0]
            raise InputError(
                f"The genotype file '{path}' has {int(off.sum())} rows whose allele probabilities do not sum to 1 "
                f"(tolerance {PROBABILITY_SUM_TOLERANCE:g}), e.g. marker '{marker_names[m]}', id '{ids[r]}': "
                f"sum {sums[r, m]:.6g}."
            )
    else:
        _check_range(values, DOSAGE_MAX, path, ids, ordered_columns, "dosages", axis_ids=0)
    info = gmap.loc[marker_names]
    markers = pd.DataFrame({
        "marker": marker_names, "chr": info["chr"].to_numpy(), "pos": info["pos"].to_numpy(),
        "allele": "", "other_allele": "",
    })
    width = len(alleles) if kind == "probabilities" else 1

    def chunks(max_markers: int, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, len(marker_names), max_markers):
            stop = min(len(marker_names), start + max_markers)
            yield start, values[rows, start * width:stop * width].T

    return _Part(path=path, ids=ids, markers=markers, chunks=chunks), kind, alleles

"""Read genotype files (PLINK 1 binary, BIMBAM mean genotypes, genotype tables) into one source.

:func:`read_genotypes` reads the user's genotype files, checks them, and returns a
:class:`GenotypeSource`: the genotyped individuals' ids, the markers (name, chromosome, position,
alleles) in genome order, and a way to read the values in chunks of markers. The load stage then
writes it, aligned by id to the individuals of the analysis, as one binary intermediate
(:func:`lmm.pipeline.genotype_store.write_intermediate`) that the kinship and the scan read by
memory map, a chromosome at a time.

The package has one module per format, :mod:`~lmm.pipeline.genotypes.plink`,
:mod:`~lmm.pipeline.genotypes.bimbam` and :mod:`~lmm.pipeline.genotypes.table`, each turning its
files into a part (:class:`~lmm.pipeline.genotypes.common.GenotypePart`); ``common`` holds the
tolerances and checks they share, ``chromosomes`` the chromosome names and order, ``source`` the
:class:`GenotypeSource` the parts are assembled into and :func:`match_ids`. This module chooses
the format and reads the files (:func:`read_genotypes`).

Formats (``fmt``; ``"auto"`` recognises ``.bed`` and tables from the file name)
---------------------------------------------------------------------------------
``plink``
    PLINK 1 binary: ``prefix.bed`` with ``prefix.bim`` and ``prefix.fam`` beside it (give the
    ``.bed`` or the prefix). The ``.bed`` is read with bed-reader (no hand-written decoder), in
    chunks of markers; the ``.bim`` (6 fields) and ``.fam`` (6 fields) are read and checked here,
    their fields separated by tabs or blanks as PLINK allows, and each bad line is named.
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
      ``kind = "probabilities"``; or genotype probabilities (R/qtl2's ``calc_genoprob``,
      ``<marker>:SS, <marker>:SB, <marker>:BB``). Every marker must have the same set of columns
      (those of the table's first autosomal marker, in that order; the columns of a marker may
      be anywhere in the table), except on the X chromosomes (``x_chromosomes``), whose markers
      have the autosomes' set or one known X set (:func:`lmm.alleles.x_genotype_sets`: for
      ``SS, SB, BB``, R/qtl2's ``SS, SB, BS, BB, SY, BY``), the same for all markers of the
      chromosome; each value in [0, 1] (± :data:`PROBABILITY_RANGE_TOLERANCE`) and the alleles of a
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

Ids are strings (``007`` is not ``7``). Chromosome names are made canonical once, as each file
is read (:mod:`lmm.pipeline.genotypes.chromosomes`: ``chr2``, ``02`` and ``2`` are chromosome
``2``; ``x`` is ``X``; ``M`` and ``chrM`` are ``MT``); markers are sorted by chromosome (natural
order: ``1, 2, ..., 10, ...``, then ``X``, ``Y``, ``XY``, ``MT``, then other names
alphabetically), then position, then name, so the same markers in any file order or split give
the same order.

Every problem raises :class:`lmm.errors.InputError` naming the file, and the marker, id or line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lmm.errors import InputError
from lmm.pipeline.genotypes.bimbam import bimbam_part, read_bimbam_annotation
from lmm.pipeline.genotypes.chromosomes import canonical_chromosome, chromosome_sort_key, normalize_chromosomes
from lmm.pipeline.genotypes.common import (
    DOSAGE_MAX, FORMATS, PROBABILITY_RANGE_TOLERANCE, PROBABILITY_SUM_TOLERANCE, read_id_file,
)
from lmm.pipeline.genotypes.plink import plink_part, plink_paths
from lmm.pipeline.genotypes.source import GenotypeSource, IdMatch, assemble_source, match_ids
from lmm.pipeline.genotypes.table import read_marker_map, table_part
from lmm.pipeline.io import DEFAULT_NA_VALUES, describe_ids

__all__ = [
    "FORMATS",
    "PROBABILITY_RANGE_TOLERANCE",
    "PROBABILITY_SUM_TOLERANCE",
    "DOSAGE_MAX",
    "GenotypeSource",
    "IdMatch",
    "canonical_chromosome",
    "chromosome_sort_key",
    "genotype_format",
    "match_ids",
    "normalize_chromosomes",
    "plink_paths",
    "read_genotypes",
]

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
    x_chromosomes: Sequence[str] = ("X",),
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
    x_chromosomes : sequence of str
        The chromosomes treated as X (config ``x_chromosomes``; made canonical like the files'
        names): a table's markers there may have their own set of columns (module docstring).

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
    x_chromosomes = tuple(dict.fromkeys(canonical_chromosome(c) for c in x_chromosomes))
    x_columns = None
    if fmt == "plink":
        parts = [plink_part(p) for p in paths]
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
        ids = read_id_file(os.fspath(ids_path))
        annotation = read_bimbam_annotation(os.fspath(map_path), na)
        parts = [bimbam_part(p, ids, annotation, os.fspath(map_path), os.fspath(ids_path), na) for p in paths]
        kinds, alleles = ["dosages"] * len(parts), [()] * len(parts)
        map_position = None
    else:
        if map_path is None:
            raise InputError(
                "A genotype table needs a marker map (columns marker, chr, pos): set config 'genotype_map'."
            )
        gmap, map_position = read_marker_map(os.fspath(map_path), map_position)
        read = [table_part(p, gmap, os.fspath(map_path), id_column, na, x_chromosomes) for p in paths]
        parts = [r[0] for r in read]
        kinds = [r[1] for r in read]
        alleles = [r[2] for r in read]
        x_columns = [r[3] for r in read]
    return assemble_source(fmt, paths, parts, kinds, alleles, map_position, x_chromosomes, x_columns)



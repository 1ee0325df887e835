"""The genotype source (the checked files, as one) and the matching of its ids to an analysis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmm.alleles import genotype_pair_alleles
from lmm.errors import InputError
from lmm.pipeline.genotypes.chromosomes import check_chromosome_spellings, sorted_markers
from lmm.pipeline.genotypes.common import GenotypePart
from lmm.pipeline.io import describe_ids


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
        The column names of every marker of a probabilities source (allele names, or genotype
        names such as ``SS, SB, BB``), except on the X chromosomes whose columns differ
        (`x_columns`); ``()`` for dosages.
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
    notes : tuple of str
        Remarks on how the files were read (e.g. a table of dosages whose values all lie in
        [0, 1]), for the log and the terminal.
    x_chromosomes : tuple of str
        The chromosomes treated as X (config ``x_chromosomes``, canonical names).
    x_columns : dict of str to tuple of str
        Probabilities only: the column names of each X chromosome that has markers (its own set,
        e.g. ``SS, SB, BS, BB, SY, BY``, or `alleles`); ``{}`` for dosages.
    """

    format: str
    kind: str
    alleles: tuple[str, ...]
    ids: np.ndarray
    markers: pd.DataFrame
    files: tuple[str, ...]
    map_position: str | None
    parts: tuple[GenotypePart, ...] = field(repr=False)
    notes: tuple[str, ...] = ()
    x_chromosomes: tuple[str, ...] = ()
    x_columns: dict = field(default_factory=dict)

    @property
    def n_alleles(self) -> int:
        """Columns per marker of the autosomes: their number for probabilities, 1 for dosages."""
        return len(self.alleles) if self.kind == "probabilities" else 1

    def columns_of(self, chromosome: str) -> tuple[str, ...]:
        """The column names of the markers of `chromosome` (``()`` for dosages)."""
        return tuple(self.x_columns.get(str(chromosome), self.alleles))

    def marker_widths(self) -> np.ndarray:
        """Columns of each marker of :attr:`markers` (int64, in their order)."""
        if self.kind != "probabilities":
            return np.ones(len(self.markers), dtype=np.int64)
        widths = {c: len(self.columns_of(c)) for c in dict.fromkeys(self.markers["chr"])}
        return self.markers["chr"].map(widths).to_numpy(dtype=np.int64)

    @property
    def dosage_allele(self) -> str:
        """In words, which allele a dosage counts."""
        return {
            "plink": "A1 (5th column of the .bim), as PLINK and GEMMA count it",
            "bimbam": "A1 (2nd field of each line), as GEMMA counts it",
            "table": "as given in the table",
        }[self.format] if self.kind == "dosages" else \
            "none (allele probabilities)" if self.alleles == self.allele_names else "none (genotype probabilities)"

    @property
    def allele_names(self) -> tuple[str, ...]:
        """The alleles of a probabilities source: those of its genotype pairs (``S, B`` for ``SS, SB,
        BB``: :func:`lmm.alleles.genotype_pair_alleles`), else :attr:`alleles`; ``()`` for dosages."""
        return genotype_pair_alleles(self.alleles) or tuple(self.alleles)


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


def _check_x_columns(parts, x_columns) -> dict:
    """The X chromosomes' columns of all parts, one set per chromosome."""
    merged: dict[str, tuple[str, ...]] = {}
    where: dict[str, str] = {}
    for part, columns in zip(parts, x_columns):
        for chrom, names in columns.items():
            if chrom in merged and tuple(names) != merged[chrom]:
                raise InputError(
                    f"The genotype file '{part.path}' has the columns {', '.join(names)} on X chromosome '{chrom}' "
                    f"but '{where[chrom]}' has {', '.join(merged[chrom])}; a chromosome's markers need the same columns."
                )
            merged.setdefault(chrom, tuple(names))
            where.setdefault(chrom, part.path)
    return merged


def assemble_source(fmt, paths, parts, kinds, alleles, map_position, x_chromosomes=(), x_columns=None) -> GenotypeSource:
    """Check that the parts agree (ids, kind, alleles, X columns, no shared marker) and merge them."""
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
    if len(parts) > 1:
        check_chromosome_spellings(markers["chr"], markers["marker"], "', '".join(paths), "genotype files")
    return GenotypeSource(
        format=fmt,
        kind=kinds[0],
        alleles=tuple(alleles[0]),
        ids=first.ids,
        markers=sorted_markers(markers),
        files=tuple(paths),
        map_position=map_position,
        parts=tuple(parts),
        notes=tuple(note for part in parts for note in part.notes),
        x_chromosomes=tuple(x_chromosomes),
        x_columns=_check_x_columns(parts, x_columns or [{}] * len(parts)),
    )



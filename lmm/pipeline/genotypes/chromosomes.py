"""Chromosome names: one canonical spelling per chromosome, set once at load, and the genome order.

Files write the same chromosome in several ways (``2`` and ``chr2``, ``01`` and ``1``, ``x`` and
``X``, ``M`` and ``MT``), sometimes within one file. Every reader (PLINK ``.bim``, BIMBAM
annotation, the map of a genotype table) passes the chromosome column through
:func:`normalize_chromosomes`, so that everything downstream (the marker order, the
intermediate's ``markers.tsv``, the kinships per chromosome, the scan) sees one name per
chromosome and each chromosome is one contiguous block of markers.

The rule (:func:`canonical_chromosome`), applied to each name:

1. surrounding blanks are removed;
2. a leading ``chr`` in any case (``chr``, ``Chr``, ``CHR``) is removed when something follows it
   (``chr2`` → ``2``, ``chrX`` → ``X``; a name that is only ``chr`` is kept);
3. a name of digits loses its leading zeros (``01`` → ``1``, ``chr07`` → ``7``, ``00`` → ``0``);
4. ``x``, ``y``, ``xy``, ``mt`` are upper-cased (``X``, ``Y``, ``XY``, ``MT``), and ``M``/``m``
   (``chrM``) becomes ``MT``;
5. any other name is kept as written (after step 2): ``Un``, ``2_random``, ``scaffold_7``.

So the canonical name carries no ``chr`` prefix: a file that writes ``chr1 … chrX`` gives
``1 … X`` in the outputs. PLINK's numeric codes of the sex chromosomes (``23`` = X for human
data, ``20`` for mouse data with ``--mouse``) are *not* translated: which number means X depends
on the species, so ``23`` stays ``23``. Two names that are still different after the rule but
equal apart from case (``Un`` and ``UN``) are refused, naming both spellings and a marker of
each: they may be one chromosome or two, and the pipeline will not guess.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmm.errors import InputError

__all__ = ["canonical_chromosome", "chromosome_sort_key", "normalize_chromosomes", "sorted_markers"]

_CHROMOSOME_ORDER = {"X": 0, "Y": 1, "XY": 2, "MT": 3, "M": 3}

#: Names (upper case, ``chr`` removed) written in a canonical form other than themselves.
_SPECIAL = {"X": "X", "Y": "Y", "XY": "XY", "MT": "MT", "M": "MT"}


def canonical_chromosome(name) -> str:
    """The canonical spelling of one chromosome name (the rule of the module's documentation).

    Examples
    --------
    >>> [canonical_chromosome(c) for c in ["chr2", "02", "Chr10", "x", "chrM", "MT", "Un", "chr"]]
    ['2', '2', '10', 'X', 'MT', 'MT', 'Un', 'chr']
    """
    text = str(name).strip()
    if len(text) > 3 and text[:3].lower() == "chr":
        text = text[3:].strip()
    if text.isdigit():
        return str(int(text))
    return _SPECIAL.get(text.upper(), text)


def normalize_chromosomes(names: Sequence, markers: Sequence, path: str, what: str) -> np.ndarray:
    """The canonical names (:func:`canonical_chromosome`) of a file's chromosome column.

    Parameters
    ----------
    names : sequence
        The chromosome of each marker, as written in the file.
    markers : sequence of str
        The marker names, in the same order (for the messages).
    path, what : str
        The file and a description of it (``"PLINK .bim file"``), for the messages.

    Returns
    -------
    numpy.ndarray of str (object)

    Raises
    ------
    InputError
        Two canonical names differ only by case (``Un`` and ``UN``).
    """
    written = pd.Series(np.asarray(names, dtype=object)).astype(str)
    mapping = {c: canonical_chromosome(c) for c in pd.unique(written)}
    canonical = written.map(mapping).to_numpy(dtype=object)
    check_chromosome_spellings(canonical, markers, path, what)
    return canonical


def check_chromosome_spellings(canonical: Sequence[str], markers: Sequence, path: str, what: str) -> None:
    """Refuse canonical chromosome names that differ only by case, naming both and a marker of each."""
    first_marker: dict[str, str] = {}
    for chromosome, marker in zip(canonical, markers):
        first_marker.setdefault(chromosome, str(marker))
    by_fold: dict[str, list[str]] = {}
    for chromosome in first_marker:
        by_fold.setdefault(chromosome.casefold(), []).append(chromosome)
    clashes = [names for names in by_fold.values() if len(names) > 1]
    if clashes:
        names = clashes[0]
        examples = ", ".join(f"'{c}' (e.g. marker '{first_marker[c]}')" for c in names)
        raise InputError(
            f"The {what} '{path}' writes chromosome names that differ only by case: {examples}. "
            "Write each chromosome one way (the same name on all its markers)."
        )


def chromosome_sort_key(name: str) -> tuple:
    """Sort key of a chromosome name: numbers in numeric order, then X, Y, XY, MT, then others.

    A leading ``chr`` (any case) is ignored for the order. On canonical names
    (:func:`canonical_chromosome`) the key is one-to-one, so each chromosome is one block.

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


def sorted_markers(markers: pd.DataFrame) -> pd.DataFrame:
    """Markers in genome order: chromosome (natural), position, name."""
    chrs, pos, names = markers["chr"].tolist(), markers["pos"].tolist(), markers["marker"].tolist()
    chr_key = {c: chromosome_sort_key(c) for c in set(chrs)}
    keys = sorted(range(len(markers)), key=lambda i: (chr_key[chrs[i]], pos[i], names[i]))
    return markers.iloc[keys].reset_index(drop=True)

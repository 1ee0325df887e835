"""Genotype and allele probabilities: the names of genotype columns, and R/qtl2's conversion.

Genotype probabilities (R/qtl2's ``calc_genoprob``) give, for each individual and marker, the
probability of each genotype: for an intercross (F2) of strains S and B, ``SS, SB, BB`` on the
autosomes; for the Diversity Outbred (DO), the 36 pairs of its 8 founder alleles A..H. Allele
probabilities (``genoprob_to_alleleprob``) give the probability of each allele: ``S, B`` or
A..H. The kinship ``shared_alleles`` is defined on allele probabilities
(:mod:`lmm.kinship`), so genotype probabilities are converted first.

Names
-----
A set of genotype names is **genotype pairs** over the alleles ``a_1..a_k`` (``k ≥ 2``, each
allele one character) when it holds exactly the ``k(k + 1)/2`` unordered pairs: every
homozygote ``a_i a_i`` and each heterozygote once, in either order (``SB`` or ``BS``)
(:func:`genotype_pair_alleles`). Any other set of names is read as allele names, one column per
allele (allele probabilities).

On an X chromosome the genotypes are others (R/qtl2's crosses): females have two X alleles,
males one (hemizygous, ``<allele>Y``). The known X sets of genotype pairs over ``a_1..a_k``
(:func:`x_genotype_sets`) are

- the homozygotes, **both orders** of each heterozygote (the maternal allele first) and the
  hemizygotes: ``k + k(k − 1) + k`` names; the F2's ``SS, SB, BS, BB, SY, BY``;
- the autosomal set and the hemizygotes: ``k(k + 1)/2 + k`` names; the DO's 36 + 8.

Allele probabilities have the same columns on X as on the autosomes.

Conversion (R/qtl2's ``genoprob_to_alleleprob``)
-------------------------------------------------
Each genotype gives each of its alleles half its probability, a hemizygote all of it::

    p_a = Σ_g c_ga π_g ,   c_ga = ½ [g_1 = a] + ½ [g_2 = a]  (pair g = g_1 g_2),
                           c_ga = [g_1 = a]                  (hemizygote g = g_1 Y),
                           c_ga = [g = a]                    (allele name g),

so ``SS`` is S, ``SB`` and ``BS`` are half S and half B, ``SY`` is S, and each row of allele
probabilities sums to the sum of its genotype probabilities (1). :func:`allele_matrix` gives
``C = (c_ga)`` (genotypes × alleles); :func:`genoprob_to_alleleprob` applies it to every
marker at once (one matrix product).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import InputError

__all__ = ["HEMIZYGOUS_SUFFIX", "allele_matrix", "genoprob_to_alleleprob", "genotype_pair_alleles",
           "x_genotype_sets"]

#: The second character of a hemizygous (male X) genotype name: ``SY`` is one S allele.
HEMIZYGOUS_SUFFIX = "Y"


def genotype_pair_alleles(names: Sequence[str]) -> tuple[str, ...] | None:
    """The alleles of a set of genotype-pair names, or ``None`` if they are not one.

    Parameters
    ----------
    names : sequence of str
        Column names of one marker (e.g. ``SS, SB, BB``).

    Returns
    -------
    tuple of str or None
        The alleles in the order of their homozygotes in `names` (``('S', 'B')``), when `names`
        are exactly the ``k(k + 1)/2`` unordered pairs over ``k ≥ 2`` one-character alleles
        (each pair once, in either order); otherwise ``None`` (allele names).

    Examples
    --------
    >>> genotype_pair_alleles(["SS", "SB", "BB"])
    ('S', 'B')
    >>> genotype_pair_alleles(["A", "B", "C"]) is None
    True
    """
    names = [str(n) for n in names]
    if not names or any(len(n) != 2 for n in names):
        return None
    alleles = tuple(n[0] for n in names if n[0] == n[1])
    k = len(alleles)
    if k < 2 or len(set(alleles)) != k or len(names) != k * (k + 1) // 2:
        return None
    pairs = {frozenset(n) for n in names}
    if len(pairs) != len(names) or any(not set(n) <= set(alleles) for n in names):
        return None
    return alleles


def x_genotype_sets(autosomal: Sequence[str]) -> list[tuple[str, ...]]:
    """The known column sets of an X chromosome, given the autosomes' column names.

    Parameters
    ----------
    autosomal : sequence of str
        The columns of an autosomal marker: genotype pairs (``SS, SB, BB``) or alleles.

    Returns
    -------
    list of tuple of str
        For genotype pairs over ``a_1..a_k``: (homozygotes and both orders of each heterozygote,
        ``a_i a_j, a_j a_i`` for ``i ≤ j``, then ``a_1 Y .. a_k Y``) and (the autosomal set, then
        ``a_1 Y .. a_k Y``) (module docstring); for allele names: the autosomal set itself.
        Compare them as sets: the order is that of R/qtl2's F2, not a requirement.

    Examples
    --------
    >>> x_genotype_sets(["SS", "SB", "BB"])[0]
    ('SS', 'SB', 'BS', 'BB', 'SY', 'BY')
    """
    autosomal = tuple(str(n) for n in autosomal)
    alleles = genotype_pair_alleles(autosomal)
    if alleles is None:
        return [autosomal]
    hemizygous = tuple(a + HEMIZYGOUS_SUFFIX for a in alleles)
    ordered = tuple(g for i, a in enumerate(alleles) for j, b in enumerate(alleles) if i <= j
                    for g in ((a + b,) if i == j else (a + b, b + a)))
    return [ordered + hemizygous, autosomal + hemizygous]


def allele_matrix(genotypes: Sequence[str], alleles: Sequence[str]) -> np.ndarray:
    """The conversion ``C`` (genotypes × alleles) from genotype to allele probabilities.

    Parameters
    ----------
    genotypes : sequence of str, length g
        Column names of a marker: allele names, genotype pairs (``SB``) or hemizygotes (``SY``).
    alleles : sequence of str, length a
        The alleles (one character each when `genotypes` are pairs).

    Returns
    -------
    numpy.ndarray, shape (g, a), float64
        ``c_ga`` of the module docstring; every row sums to 1.

    Raises
    ------
    InputError
        A name is none of an allele, a pair of alleles, or an allele followed by ``Y``.

    Examples
    --------
    >>> allele_matrix(["SS", "SB", "BS", "BB", "SY", "BY"], ["S", "B"])
    array([[1. , 0. ],
           [0.5, 0.5],
           [0.5, 0.5],
           [0. , 1. ],
           [1. , 0. ],
           [0. , 1. ]])
    """
    alleles = [str(a) for a in alleles]
    index = {a: k for k, a in enumerate(alleles)}
    C = np.zeros((len(genotypes), len(alleles)))
    for row, name in enumerate(str(g) for g in genotypes):
        if name in index:
            C[row, index[name]] = 1.0
        elif len(name) == 2 and name[0] in index and name[1] in index:
            C[row, index[name[0]]] += 0.5
            C[row, index[name[1]]] += 0.5
        elif len(name) == 2 and name[0] in index and name[1] == HEMIZYGOUS_SUFFIX:
            C[row, index[name[0]]] = 1.0
        else:
            raise InputError(
                f"Genotype column '{name}' is not an allele ({', '.join(alleles)}), a pair of alleles or an "
                f"allele followed by '{HEMIZYGOUS_SUFFIX}' (hemizygous): cannot turn it into allele probabilities."
            )
    return C


def genoprob_to_alleleprob(probs, genotypes: Sequence[str], alleles: Sequence[str]) -> np.ndarray:
    """Allele probabilities from genotype probabilities, every marker at once (R/qtl2's rule).

    Parameters
    ----------
    probs : array_like, shape (n, q·g)
        Genotype probabilities of q markers, marker-major (the g columns of a marker adjacent,
        in the order of `genotypes`).
    genotypes : sequence of str, length g
        The genotype names of every marker's columns.
    alleles : sequence of str, length a

    Returns
    -------
    numpy.ndarray, shape (n, q·a), float64
        ``p_{i,m,a} = Σ_g π_{i,m,g} c_ga`` (module docstring), marker-major: one product
        ``(n·q, g) @ (g, a)``. Rows of a marker sum to what its genotype probabilities sum to.

    Raises
    ------
    InputError
        `probs` is not two-dimensional with a multiple of g columns; a genotype name is not
        recognised (:func:`allele_matrix`).
    """
    P = np.asarray(probs, dtype=np.float64)
    g = len(genotypes)
    if P.ndim != 2 or g == 0 or P.shape[1] % g:
        raise InputError(f"Genotype probabilities of shape {P.shape} are not (n, markers x {g} genotypes).")
    C = allele_matrix(genotypes, alleles)
    n, q = P.shape[0], P.shape[1] // g
    return (P.reshape(n * q, g) @ C).reshape(n, q * len(alleles))

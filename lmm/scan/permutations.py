r"""Genome-wide LOD thresholds by permutation: R/qtl2's ``scan1perm`` with a kinship.

As R/qtl2 does, the *rows of the genotypes* are permuted (one permutation of the individuals per
replicate, the same for every chromosome), while the phenotypes, the covariates, the kinship
matrices, their decompositions and the null ``hsq`` stay as in the real data. Permuting
phenotypes instead would break their relationship with the kinship, which is part of the null
model being tested; permuting genotypes keeps the polygenic covariance of ``y`` intact and
destroys only the link between ``y`` and a single marker. The maximum LOD over the genome is kept
per replicate and phenotype; the ``1 − α`` quantile of those maxima is the genome-wide threshold
at level ``α`` (Churchill & Doerge 1994). Permuted marker blocks are stacked as extra marker
columns, so a block of permutations costs the same few GEMMs as a scan of that many more markers.

A phenotype's permutations are drawn from the seed and its set of observed individuals
(:mod:`lmm.scan.engine`, "Permutation seeding"): phenotypes observed on the same individuals
share them, in :func:`scan1perm` and in the workflow alike.

References
----------
Churchill GA, Doerge RW (1994) Empirical threshold values for quantitative trait mapping.
Genetics 138:963–971.
"""

from __future__ import annotations

import numpy as np

from ..checks import COLLINEAR_RTOL, SCAN_BLOCK_ELEMENTS, check_tol
from ..errors import InputError
from .engine import permutation_patterns, update_permutation_maxima
from .qtl2 import decompositions, null_groups, scan_plan, setup_scan

__all__ = ["scan1perm", "permutation_threshold", "xsp_permutations", "xsp_alpha", "strata_labels"]


def xsp_permutations(n_perm, length_a, length_x) -> int:
    """Replicates of the X chromosome with ``n_perm`` of the autosomes: ``ceil(n_perm · L_A / L_X)``
    (R/qtl2's ``scan1perm(perm_Xsp = TRUE)``), ``L`` the summed chromosome lengths."""
    if not (length_a > 0 and length_x > 0):
        raise InputError(f"separate X permutations need positive autosome and X lengths, got {length_a} and {length_x}")
    return int(np.ceil(int(n_perm) * float(length_a) / float(length_x)))


def strata_labels(x_covar) -> np.ndarray:
    """One label per individual: the index of its row of ``x_covar`` among the distinct rows
    (the X chromosome's permutation strata: sex, and an F2's cross direction)."""
    x_covar = np.asarray(x_covar, dtype=float)
    return np.unique(x_covar.reshape(x_covar.shape[0], -1), axis=0, return_inverse=True)[1].ravel()


def scan1perm(genotypes, kinship, pheno, covar=None, *, x_covar=None, int_covar=None, is_x=None,
              perm_Xsp=False, chr_lengths=None, n_perm=1000, seed=0, n_alleles=1, drop_allele=0,
              reml=True, tol=1e-4, collinear_rtol=COLLINEAR_RTOL, block_elements=SCAN_BLOCK_ELEMENTS):
    """Genome-wide maximum LOD of each phenotype under permuted genotypes (R/qtl2's ``scan1perm``).

    Parameters
    ----------
    genotypes, kinship, pheno, covar, x_covar, int_covar, is_x, n_alleles, drop_allele, reml, tol, collinear_rtol, block_elements
        As for :func:`lmm.scan1`.
    perm_Xsp : bool
        Permute the X chromosomes separately from the autosomes (R/qtl2's ``perm_Xsp``):
        ``n_perm`` replicates of the autosomes and :func:`xsp_permutations` of the X, these
        stratified by the rows of ``x_covar`` (:func:`strata_labels`; individuals only exchange
        genotypes with those of the same sex and cross direction).
    chr_lengths : sequence of float (n_chr,)
        With ``perm_Xsp``: each chromosome's length (its map's span).
    n_perm : int
        Permutation replicates (of the autosomes with ``perm_Xsp``).
    seed : int
        Non-negative. The same seed and data give the same permutations and maxima (whatever
        ``block_elements``), and the same as the workflow with ``scan_seed: seed``.

    Returns
    -------
    ndarray, shape (n_perm, m), or dict
        Maximum LOD over all markers of all chromosomes, per replicate and phenotype; with
        ``perm_Xsp``, ``{"A": (n_perm, m), "X": (n_perm_X, m)}``, the maxima over the autosomes
        and over the X chromosomes.

    Notes
    -----
    For a phenotype observed on the ``k`` individuals ``o`` (mask over the ``n`` rows of
    ``pheno``), replicate ``b`` uses ``π_b``, the ``b``-th ``rng.permutation(k)`` of
    ``rng = numpy.random.default_rng([seed, w_1, …, w_8])``, ``w`` the little-endian 32-bit words of
    ``SHA-256(n as 8 little-endian bytes ‖ numpy.packbits(o))``
    (:func:`lmm.scan.engine.permutation_rng`), and gives individual ``o_i`` the genotypes of
    ``o_{π_b(i)}`` on every chromosome; phenotypes, covariates, kinships, decompositions and the
    null ``hsq`` are those of the real data. So phenotypes with the same missing-data pattern
    share their permutations (one rotation of the permuted genotypes per pattern), and adding or
    removing other phenotypes changes no phenotype's maxima. The X chromosomes' separate
    replicates (``perm_Xsp``) come from the stream of region ``"X"`` and are stratified
    (:func:`lmm.scan.engine.draw_permutations`).
    """
    tol = check_tol(tol)
    n_perm = int(n_perm)
    if n_perm < 1:
        raise InputError(f"n_perm must be at least 1, got {n_perm}")
    setup = setup_scan(genotypes, kinship, pheno, covar, n_alleles, drop_allele, is_x=is_x, x_covar=x_covar,
                       int_covar=int_covar)
    n, m = setup.y.shape
    n_chr = len(setup.designs)
    regions = {None: (np.arange(n_chr), n_perm, None)}
    if perm_Xsp:
        lengths = np.asarray(chr_lengths, dtype=float).ravel() if chr_lengths is not None else None
        if lengths is None or lengths.size != n_chr:
            raise InputError(f"perm_Xsp needs chr_lengths, one per chromosome ({n_chr})")
        if not setup.is_x.any() or setup.is_x.all():
            raise InputError("perm_Xsp needs both autosomes and X chromosomes (is_x)")
        n_x = xsp_permutations(n_perm, lengths[~setup.is_x].sum(), lengths[setup.is_x].sum())
        strata = strata_labels(setup.x_covar) if setup.x_covar is not None else None
        regions = {None: (np.flatnonzero(~setup.is_x), n_perm, None),
                   "X": (np.flatnonzero(setup.is_x), n_x, strata)}
    out = {r: np.full((k, m), -np.inf) for r, (_, k, _) in regions.items()}
    cache = {}
    groups, _ = scan_plan(setup.y, setup.X, setup.x_covar if setup.is_x.any() else None)
    for rows, cols in groups:
        decs = decompositions(setup.kins, rows, cache)
        nulls = null_groups(decs, setup, rows, cols, reml, tol)
        for region, (chrs, k, strata) in regions.items():
            patterns = {}
            for c in chrs:
                null = nulls[c]
                if id(null) not in patterns:
                    patterns[id(null)] = permutation_patterns(null, seed, k, rows, n,
                                                              None if strata is None else strata[rows], region)
                Z = None if setup.int_covar is None else setup.int_covar[rows]
                for pattern in patterns[id(null)]:
                    update_permutation_maxima(out[region], cols[pattern.cols], null, pattern, setup.designs[c][rows],
                                              setup.d[c], interactive=Z, collinear_rtol=collinear_rtol,
                                              block_elements=block_elements)
    return {"A": out[None], "X": out["X"]} if perm_Xsp else out[None]


def xsp_alpha(alpha, length_a, length_x) -> tuple[float, float]:
    """The levels of the autosomes' and the X chromosomes' thresholds with separate permutations
    (R/qtl2's ``summary.scan1perm``): ``α_A = 1 − (1 − α)^(L_A/L)``, ``α_X = 1 − (1 − α)^(L_X/L)``,
    ``L = L_A + L_X``; so the chance of a false peak anywhere, ``1 − (1 − α_A)(1 − α_X)``, is ``α``."""
    total = float(length_a) + float(length_x)
    return 1.0 - (1.0 - alpha) ** (float(length_a) / total), 1.0 - (1.0 - alpha) ** (float(length_x) / total)


def permutation_threshold(max_lods, alpha=0.05, *, lengths=None):
    """Genome-wide LOD threshold: the ``1 − alpha`` quantile of permutation maxima.

    Parameters
    ----------
    max_lods : array_like, shape (n_perm, m), or dict
        Output of :func:`scan1perm`; with ``perm_Xsp``, its ``{"A": …, "X": …}``.
    alpha : float or array_like
        Significance level(s).
    lengths : mapping, optional
        With a dict of maxima: ``{"A": L_A, "X": L_X}``, the summed chromosome lengths; each region's
        threshold is then its ``1 − α_r`` quantile (:func:`xsp_alpha`).

    Returns
    -------
    ndarray, shape (m,) (or (len(alpha), m)); with a dict, a dict of them by region.
    """
    a = np.asarray(alpha, dtype=float)
    if (a <= 0).any() or (a >= 1).any():
        raise InputError(f"alpha must lie in (0, 1), got {alpha}")
    if isinstance(max_lods, dict):
        if lengths is None or set(lengths) != {"A", "X"} or set(max_lods) != {"A", "X"}:
            raise InputError("separate X permutations need maxima and lengths for the regions 'A' and 'X'")
        alpha_a, alpha_x = xsp_alpha(a, lengths["A"], lengths["X"])
        return {"A": np.quantile(np.asarray(max_lods["A"], dtype=float), 1.0 - alpha_a, axis=0),
                "X": np.quantile(np.asarray(max_lods["X"], dtype=float), 1.0 - alpha_x, axis=0)}
    return np.quantile(np.asarray(max_lods, dtype=float), 1.0 - a, axis=0)

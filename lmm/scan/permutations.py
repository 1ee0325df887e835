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

__all__ = ["scan1perm", "permutation_threshold"]


def scan1perm(genotypes, kinship, pheno, covar=None, *, n_perm=1000, seed=0, n_alleles=1, drop_allele=0,
              reml=True, tol=1e-4, collinear_rtol=COLLINEAR_RTOL,
              block_elements=SCAN_BLOCK_ELEMENTS) -> np.ndarray:
    """Genome-wide maximum LOD of each phenotype under permuted genotypes (R/qtl2's ``scan1perm``).

    Parameters
    ----------
    genotypes, kinship, pheno, covar, n_alleles, drop_allele, reml, tol, collinear_rtol, block_elements
        As for :func:`lmm.scan1`.
    n_perm : int
        Permutation replicates.
    seed : int
        Non-negative. The same seed and data give the same permutations and maxima (whatever
        ``block_elements``), and the same as the workflow with ``scan_seed: seed``.

    Returns
    -------
    ndarray, shape (n_perm, m)
        Maximum LOD over all markers of all chromosomes, per replicate and phenotype.

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
    removing other phenotypes changes no phenotype's maxima.
    """
    tol = check_tol(tol)
    n_perm = int(n_perm)
    if n_perm < 1:
        raise InputError(f"n_perm must be at least 1, got {n_perm}")
    y, X, designs, d, kins = setup_scan(genotypes, kinship, pheno, covar, n_alleles, drop_allele)
    n, m = y.shape
    out = np.full((n_perm, m), -np.inf)
    cache = {}
    groups, _ = scan_plan(y, X)
    for rows, cols in groups:
        decs = decompositions(kins, rows, cache)
        nulls = null_groups(decs, kins, y[np.ix_(rows, cols)], X[rows], reml, tol)
        patterns = {}
        for c, (dec, null) in enumerate(zip(decs, nulls)):
            if id(null) not in patterns:
                patterns[id(null)] = permutation_patterns(null, seed, n_perm, rows, n)
            for pattern in patterns[id(null)]:
                update_permutation_maxima(out, cols[pattern.cols], null, pattern, designs[c][rows], d,
                                          collinear_rtol=collinear_rtol, block_elements=block_elements)
    return out


def permutation_threshold(max_lods, alpha=0.05) -> np.ndarray:
    """Genome-wide LOD threshold: the ``1 − alpha`` quantile of permutation maxima.

    Parameters
    ----------
    max_lods : array_like, shape (n_perm, m)
        Output of :func:`scan1perm`.
    alpha : float or array_like
        Significance level(s).

    Returns
    -------
    ndarray, shape (m,) (or (len(alpha), m))
    """
    a = np.asarray(alpha, dtype=float)
    if (a <= 0).any() or (a >= 1).any():
        raise InputError(f"alpha must lie in (0, 1), got {alpha}")
    return np.quantile(np.asarray(max_lods, dtype=float), 1.0 - a, axis=0)

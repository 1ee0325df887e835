r"""Genome scan with a linear mixed model: LOD scores at every marker for many phenotypes.

R/qtl2's ``scan1`` model with a (LOCO) kinship: ``hsq`` estimated once per phenotype and
chromosome under the null, then held fixed while every marker is tested.

Modules
-------
:mod:`lmm.scan.kernel`
    :func:`scan_rotated` (LODs on eigen-rotated data, hsq fixed: the model, the algebra and the
    numerical care are in its notes), :func:`rotate_genotypes`, :func:`lod_to_pvalue`.
:mod:`lmm.scan.engine`
    For one chromosome: the null fits of each decomposition and set of covariates
    (:func:`~lmm.scan.engine.fit_null_group`), the LODs of a tile of markers
    (:func:`~lmm.scan.engine.scan_tile`) and the permutation maxima of a tile
    (:func:`~lmm.scan.engine.update_permutation_maxima`), with the permutation seeding rule.
    :func:`scan1`, :func:`scan1perm` and the workflow's scan job all call it.
:mod:`lmm.scan.qtl2`
    :func:`scan1`, the driver over arrays in memory.
:mod:`lmm.scan.permutations`
    :func:`scan1perm`, :func:`permutation_threshold`.
"""

from .engine import (NullGroup, PermutedPattern, added_covariates, draw_permutations, fit_null_group,
                     interaction_design, permutation_patterns, permutation_rng, scan_tile, update_permutation_maxima)
from .kernel import COLLINEAR_RTOL, ScanResult, lod_to_pvalue, rotate_genotypes, scan_rotated
from .permutations import permutation_threshold, scan1perm, strata_labels, xsp_alpha, xsp_permutations
from .qtl2 import Scan1Result, scan1

__all__ = [
    "COLLINEAR_RTOL",
    "ScanResult",
    "Scan1Result",
    "scan_rotated",
    "rotate_genotypes",
    "lod_to_pvalue",
    "scan1",
    "scan1perm",
    "permutation_threshold",
    "xsp_permutations",
    "xsp_alpha",
    "strata_labels",
    "interaction_design",
    "added_covariates",
    "NullGroup",
    "PermutedPattern",
    "fit_null_group",
    "scan_tile",
    "permutation_rng",
    "draw_permutations",
    "permutation_patterns",
    "update_permutation_maxima",
]

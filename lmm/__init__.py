"""lmm: heritability with a linear mixed model, many phenotypes at once.

The model of R/lmmlite (Broman, after Furlotte's pylmm)::

    y = Xβ + ε,   ε ~ N(0, σ²_g K + σ²_e I),   hsq = σ²_g / (σ²_g + σ²_e)

with K a known kinship matrix. ``K = U diag(λ) Uᵀ`` is decomposed once, ``y`` and
``X`` are rotated by ``Uᵀ``, and the profile (restricted) log-likelihood in
``hsq`` is maximised on [0, 1] by Brent's method, with the boundaries checked.

Public functions, named after lmmlite's: :func:`eigen_rotation` (and
:func:`eigen_decompose`), :func:`get_ml_soln`, :func:`calc_ll`, :func:`fit_lmm`;
:func:`fit_lmm_masked` and :func:`calc_ll_masked` for phenotypes with missing values.

Modules: :mod:`lmm.rotation` (decomposition, rotation), :mod:`lmm.likelihood`
(the profile likelihood), :mod:`lmm.search` (the search driver and its
:class:`~lmm.search.Evaluator` protocol), :mod:`lmm.evaluators` (the evaluator of
rotated data), :mod:`lmm.missing` (the Schur-complement evaluator),
:mod:`lmm.result` (:class:`FitResult`), :mod:`lmm.fit` (:func:`fit_lmm`),
:mod:`lmm.checks` (argument checks and the tolerances of every numerical rule);
:mod:`lmm.alleles` (genotype-probability column names, R/qtl2's conversion of genotype to
allele probabilities), :mod:`lmm.kinship` (kinship from genotypes: R/qtl2's shared alleles, GEMMA's centred and
standardised, overall and leave-one-chromosome-out), :mod:`lmm.scan` (the genome scan: LOD of
every marker for many phenotypes, R/qtl2's ``scan1`` model) and :mod:`lmm.peaks` (``find_peaks``,
``lod_int``, ``bayes_int``, ``maxlod``); for eQTL studies :mod:`lmm.fdr` (Storey's q-values, R's
``qvalue``), :mod:`lmm.significance` (genome-wide p-values by the beta approximation of
permutations, LOD thresholds at an FDR) and :mod:`lmm.eqtl` (local/distal, hotspots).
The core imports numpy and scipy only.
"""

from .alleles import genoprob_to_alleleprob
from .effects import CoefResult, EffectsResult, Fit1Result, fit1, fit_effects, scan1blup, scan1coef
from .eqtl import cis_distance, hotspot_counts
from .errors import InputError
from .fit import fit_lmm
from .kinship import KinshipAccumulator, calc_kinship, mean_diagonal
from .likelihood import LogLik, MLSolution, calc_ll, get_ml_soln
from .missing import calc_ll_masked, fit_lmm_masked
from .peaks import Peaks, bayes_int, find_peaks, lod_int, maxlod, maxlod_per_chromosome
from .fdr import pi0est, qvalue
from .result import STATUSES, FitResult
from .rotation import EigenDecomposition, Rotation, eigen_decompose, eigen_rotation
from .scan import (Scan1Result, ScanResult, lod_to_pvalue, permutation_threshold, rotate_genotypes, scan1,
                   scan1perm, scan_rotated)
from .search import CHI2_95, CHI2_MIX_95, Evaluator
from .significance import fit_beta, genome_pvalue_cut, lod_thresholds, pvalue_genome, pvalue_to_lod

__version__ = "0.3.4"

__all__ = [
    "InputError",
    "genoprob_to_alleleprob",
    "EigenDecomposition",
    "Rotation",
    "eigen_decompose",
    "eigen_rotation",
    "MLSolution",
    "get_ml_soln",
    "LogLik",
    "calc_ll",
    "FitResult",
    "STATUSES",
    "fit_lmm",
    "CHI2_95",
    "CHI2_MIX_95",
    "Evaluator",
    "fit_lmm_masked",
    "calc_ll_masked",
    "KinshipAccumulator",
    "calc_kinship",
    "mean_diagonal",
    "ScanResult",
    "Scan1Result",
    "scan_rotated",
    "rotate_genotypes",
    "scan1",
    "scan1perm",
    "permutation_threshold",
    "lod_to_pvalue",
    "Peaks",
    "find_peaks",
    "lod_int",
    "bayes_int",
    "maxlod",
    "maxlod_per_chromosome",
    "Fit1Result",
    "CoefResult",
    "fit1",
    "scan1coef",
    "scan1blup",
    "qvalue",
    "pi0est",
    "fit_beta",
    "pvalue_genome",
    "pvalue_to_lod",
    "genome_pvalue_cut",
    "lod_thresholds",
    "cis_distance",
    "hotspot_counts",
    "EffectsResult",
    "fit_effects",
]

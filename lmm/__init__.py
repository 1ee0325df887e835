"""lmm: heritability with a linear mixed model, many phenotypes at once.

The model of R/lmmlite (Broman, after Furlotte's pylmm)::

    y = Xβ + ε,   ε ~ N(0, σ²_g K + σ²_e I),   hsq = σ²_g / (σ²_g + σ²_e)

with K a known kinship matrix. ``K = U diag(λ) Uᵀ`` is decomposed once, ``y`` and
``X`` are rotated by ``Uᵀ``, and the profile (restricted) log-likelihood in
``hsq`` is maximised on [0, 1] by Brent's method, with the boundaries checked.

Public functions, named after lmmlite's: :func:`eigen_rotation` (and
:func:`eigen_decompose`), :func:`get_ml_soln`, :func:`calc_ll`, :func:`fit_lmm`.
No function of this package imports Snakemake.
"""

from .errors import InputError
from .fit import CHI2_95, FitResult, fit_lmm
from .likelihood import LogLik, MLSolution, calc_ll, get_ml_soln
from .missing import calc_ll_masked, fit_lmm_masked
from .rotation import EigenDecomposition, Rotation, eigen_decompose, eigen_rotation

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "EigenDecomposition",
    "Rotation",
    "eigen_decompose",
    "eigen_rotation",
    "MLSolution",
    "get_ml_soln",
    "LogLik",
    "calc_ll",
    "FitResult",
    "fit_lmm",
    "CHI2_95",
    "fit_lmm_masked",
    "calc_ll_masked",
]

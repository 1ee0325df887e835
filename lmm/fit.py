r"""Maximum (restricted) likelihood estimate of the heritability, many phenotypes at once.

:func:`fit_lmm` checks its arguments, splits the phenotype columns into blocks,
prepares each block (:func:`lmm.likelihood.prepare`) and hands it to the search
driver :func:`lmm.search.search` through a
:class:`lmm.evaluators.RotatedEvaluator`. The search (Brent, boundaries, flags,
standard error, profile interval and its cutoff) is documented in
:mod:`lmm.search`; the likelihood in :mod:`lmm.likelihood`.
"""

from __future__ import annotations

from .checks import FIT_BLOCK_ELEMENTS, check_tol
from .evaluators import RotatedEvaluator
from .likelihood import check_explained, checked_inputs, prepare
from .result import FitResult, assemble
from .search import CHI2_95, CHI2_MIX_95, SearchOutcome, search

__all__ = ["FitResult", "fit_lmm", "CHI2_95", "CHI2_MIX_95"]


def fit_lmm(kva, y, X, reml=True, check_boundary=True, tol=1e-4, compute_se=False,
            compute_ci=True, *, x_names=None, block_elements=FIT_BLOCK_ELEMENTS,
            polish=False, start="brent") -> FitResult:
    """Fit the linear mixed model to one or many phenotypes (lmmlite's ``fitLMM``).

    Parameters
    ----------
    kva : array_like, shape (n,)
        Eigenvalues of the kinship matrix.
    y : array_like, shape (n,) or (n, m)
        Rotated phenotypes (``Rotation.y``); the ``m`` columns are fitted together.
    X : array_like, shape (n, p)
        Rotated covariates (``Rotation.X``), full column rank. Required: ``None``
        is refused, because a column of ones is not the rotated intercept.
    reml : bool
        Restricted (default) or plain maximum likelihood.
    check_boundary : bool
        Compare the Brent optimum with ``hsq = 0`` and ``hsq = 1`` exactly.
    tol : float
        Tolerance of the Brent search (R's ``optimize``), default ``1e-4``.
    compute_se : bool
        Compute ``hsq_se`` (observed information).
    compute_ci : bool
        Compute the 95% profile-likelihood interval (and ``ci_cutoff``).
    x_names : sequence of str, optional
        Covariate names for error messages.
    block_elements : int
        Columns are searched in blocks of about ``block_elements / n``
        (results do not depend on it beyond round-off).
    polish : bool
        After the Brent search, refine an interior optimum by safeguarded Newton steps on the
        analytic score (:func:`lmm.search.polish`), to about 1e-14 relative: hsq then no longer
        depends on ``tol``, on the units of y or on rounding in the search. The default
        ``False`` stops where R's ``optimize`` (lmmlite) stops at ``tol``, so the numbers are
        lmmlite's; the genome scan's null fits use ``True``.
    start : {"brent", "grid"}
        Where the polish starts (:func:`lmm.search.search`, note 1): Brent's optimum (default),
        or the best point of the profile on a grid of 21 (the genome scan's null fits; needs
        ``polish``; ``tol`` then serves only a maximum just below 1 with a singular K, which the
        grid leaves to Brent): the same ``hsq`` to ~1e-13, in fewer evaluations.

    Returns
    -------
    FitResult
        ``hsq`` and the rest in the units of ``y`` and ``X`` (``hsq`` does not
        depend on them); ``status`` says whether ``hsq`` is an estimate
        (``'flat_likelihood'``, ``'unbounded'``: see :mod:`lmm.search`).

    Raises
    ------
    InputError
        Shapes that disagree, non-finite values, ``X`` missing or rank-deficient,
        ``n ≤ p``, ``tol ≤ 0``, or a phenotype column that the covariates explain
        exactly (:func:`lmm.checks.explained_columns`; for example a constant
        one), which has no likelihood maximum.

    Examples
    --------
    >>> import numpy as np, lmm
    >>> rng = np.random.default_rng(0)
    >>> G = rng.normal(size=(200, 500)); K = G @ G.T / 500
    >>> y = rng.multivariate_normal(np.zeros(200), 0.6 * K + 0.4 * np.eye(200))
    >>> rot = lmm.eigen_rotation(K, y)
    >>> fit = lmm.fit_lmm(rot.kva, rot.y, rot.X)
    >>> bool(0 <= fit.hsq <= 1), str(fit.status)
    (True, 'ok')
    """
    tol = check_tol(tol)
    kva, y2d, X, one_y = checked_inputs(kva, y, X, x_names)
    n, p = X.shape
    m = y2d.shape[1]
    block = max(1, int(block_elements // max(n, 1)))

    parts = []
    for s in range(0, m, block):        # blocks one after the other: threads come from the BLAS
        prep = prepare(kva, y2d[:, s:s + block], X)
        check_explained(prep, col0=s)
        parts.append(search(RotatedEvaluator(prep, reml), check_boundary, tol, compute_se,
                            compute_ci, polish, start))
    res = assemble(SearchOutcome.concatenate(parts), n, p, reml)
    return res.column(0) if one_y else res

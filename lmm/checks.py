r"""Argument checks and the numerical rules of :mod:`lmm`, each in one place with one tolerance.

Every check raises :class:`lmm.errors.InputError` (a :class:`ValueError`) with a
message that says what is wrong, with which argument, and the sizes involved.

The rules (the workflow's load, partition and fit stages call the same functions):

========================  ==============================================================
rule                      criterion
========================  ==============================================================
K symmetric               ``max|K − Kᵀ| ≤ SYMMETRY_RTOL · max|K|`` (``1e-8``)
K positive semi-definite  ``λ_min ≥ −PSD_RTOL · λ_max`` (``1e-6``; :func:`psd_violation`)
eigenvalue is zero        ``λ < ZERO_EIGENVALUE_RTOL · n · λ_max`` with
                          ``ZERO_EIGENVALUE_RTOL = ε`` (machine epsilon): set to exactly 0
                          (:func:`zero_eigenvalues`)
covariates full rank      pivoted QR of the columns scaled to unit norm: a diagonal entry
                          ``|R_kk| ≤ RANK_RTOL · |R_00|`` (``1e-8``) is a lost dimension
                          (:func:`rank_deficient_columns`)
explained by covariates   least-squares residual ``‖r‖ ≤ EXPLAINED_RTOL · ‖y‖`` (``1e-13``)
                          after scaling ``y`` by a power of two (:func:`explained_columns`)
observed block singular   with a singular K, ``K_oo`` (a phenotype's observed individuals)
                          is singular when ``λ_min(I − N_oᵀK̃_oo⁻¹N_o) ≤ SINGULAR_SCHUR_RTOL``
                          (``1e-8``; N: K's null eigenvectors, ``K̃ = K + NNᵀ``;
                          :mod:`lmm.missing`)
========================  ==============================================================

Each criterion is relative, so none depends on the units of ``K``, ``y`` or a covariate.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .errors import InputError

__all__ = [
    "SYMMETRY_RTOL",
    "PSD_RTOL",
    "ZERO_EIGENVALUE_RTOL",
    "RANK_RTOL",
    "EXPLAINED_RTOL",
    "SINGULAR_SCHUR_RTOL",
    "COLLINEAR_RTOL",
    "FIT_BLOCK_ELEMENTS",
    "MASKED_BLOCK_ELEMENTS",
    "SCAN_BLOCK_ELEMENTS",
    "FLAT_LOGLIK_RTOL",
    "POLISH_STEP_RTOL",
    "POLISH_LOGLIK_RTOL",
    "POLISH_BRACKET_MARGIN",
    "POLISH_SLOPE_STEP",
    "POLISH_SECANT_MIN_STEP",
    "CONSTANT_COLUMN_RTOL",
    "EFFECTS_RANK_RTOL",
    "BLUP_HSQ_TOL",
    "SPLINE_SPAR_TOL",
    "SPLINE_SPAR_EPS",
    "BETA_FIT_RTOL",
    "BETA_FIT_MAXITER",
    "BETA_MIN_PERMUTATIONS",
    "EFFECTS_BLOCK_ELEMENTS",
    "EFFECTS_GRAM_RTOL",
    "LIMIT_SPAN_RTOL",
    "GENOTYPE_CALL_TOL",
    "explained_residuals",
    "as_float_array",
    "as_matrix",
    "check_finite",
    "check_kva",
    "check_y",
    "check_X",
    "check_hsq",
    "check_tol",
    "psd_violation",
    "zero_eigenvalues",
    "rank_deficient_columns",
    "explained_columns",
    "pow2_scale",
]

#: Asymmetry tolerated in K, relative to ``max|K|``.
SYMMETRY_RTOL = 1e-8
#: Negative eigenvalues down to ``−PSD_RTOL · λ_max`` are round-off; below, K is not PSD.
PSD_RTOL = 1e-6
#: Eigenvalues below ``ZERO_EIGENVALUE_RTOL · n · λ_max`` are zero (round-off of a singular K).
ZERO_EIGENVALUE_RTOL = float(np.finfo(float).eps)
#: Pivoted-QR rank tolerance, relative to the largest ``|R_kk|`` of unit-norm columns.
RANK_RTOL = 1e-8
#: A phenotype is explained exactly by the covariates when ``‖residual‖ ≤ EXPLAINED_RTOL·‖y‖``.
EXPLAINED_RTOL = 1e-13

#: With a singular K, the observed block ``K_oo`` of a phenotype counts as singular (and gets its
#: own decomposition) when ``I − N_oᵀK̃_oo⁻¹N_o`` has an eigenvalue at most this (:mod:`lmm.missing`).
SINGULAR_SCHUR_RTOL = 1e-8

#: A marker column is dropped from the scan when the squared norm of its part outside the
#: covariates and the marker's earlier columns is at most this fraction of its squared norm
#: (:mod:`lmm.scan`).
COLLINEAR_RTOL = 1e-12

# Block sizes: how many doubles the per-block arrays of each kernel hold at most. They bound
# memory and keep the arrays cache-sized; no result depends on them beyond round-off.

#: :func:`lmm.fit_lmm`: columns fitted together in one lockstep search (about ``10·n·block``).
FIT_BLOCK_ELEMENTS = 1 << 19
#: :func:`lmm.fit_lmm_masked`: ``c·(k + p + 1)·n`` and the packed products of a block.
MASKED_BLOCK_ELEMENTS = 1 << 23
#: :func:`lmm.scan_rotated`: the per-block arrays of a scan (≈ 8 bytes each).
SCAN_BLOCK_ELEMENTS = 1 << 22

# The tolerances of the hsq search (lmm.search, its notes 3 and 4).

#: Relative tolerance of the flat-likelihood rule (note 3).
FLAT_LOGLIK_RTOL = 1e-10
#: The polish stops when a step is at most this times ``max(1, |h|)``.
POLISH_STEP_RTOL = 1e-15
#: The polished ``ĥ`` is kept only if ``ℓ`` there is at least Brent's ``ℓ`` less this times
#: ``max(1, |ℓ|)`` (round-off of ``ℓ``; a polished point is never worse than that).
POLISH_LOGLIK_RTOL = 1e-12
#: Brent's final bracket ``ĥ ± 4·tol1`` holds the maximum when ``ℓ`` is evaluated exactly;
#: near the maximum ``ℓ`` is flat to round-off over ``|h − h*| ≲ √(2·δℓ/|ℓ″|)`` (a few 1e-7
#: for ``δℓ ~ 1e-13``, more for a flat profile), where its comparisons are noise: the polish
#: widens the bracket by this much.
POLISH_BRACKET_MARGIN = 1e-5
#: Step of the first difference of the score that starts the polish's slope (error
#: ``~|ℓ‴|·1e-6`` relative from the step, ``~ε·n/1e-6`` from round-off).
POLISH_SLOPE_STEP = 1e-6
#: The polish's secant slope is updated only from a step of at least this times ``max(1, |h|)``
#: (a shorter one is all round-off).
POLISH_SECANT_MIN_STEP = 1e-8

# The eQTL significance of lmm.fdr and lmm.significance.

#: R's ``smooth.spline`` search for the ``spar`` that gives the wanted degrees of freedom:
#: Brent's minimiser on [-1.5, 1.5] with ``tol1 = SPLINE_SPAR_EPS·|spar| + SPLINE_SPAR_TOL/3``
#: (R's ``control.spar`` defaults ``tol = 1e-4``, ``eps = 2e-8``; :mod:`lmm.fdr`).
SPLINE_SPAR_TOL = 1e-4
SPLINE_SPAR_EPS = 2e-8
#: The maximum-likelihood fit of Beta(a, b) to permutation minima (:func:`lmm.significance.fit_beta`)
#: has converged when a Newton step changes ``log a`` and ``log b`` by at most this.
BETA_FIT_RTOL = 1e-10
#: Newton iterations of the beta fit at most (it needs about ten); more is a failed fit.
BETA_FIT_MAXITER = 100
#: Fewer permutations than this are not fitted by a beta distribution (the empirical p is used).
BETA_MIN_PERMUTATIONS = 10

#: A genotype column is constant (and cannot be standardised, GEMMA's ``-gk 2``) when its
#: standard deviation is at most this times ``max(1, |mean|)`` (:mod:`lmm.kinship`).
CONSTANT_COLUMN_RTOL = 1e-12


def _first(items, k=5):
    items = list(items)
    head = ", ".join(str(i) for i in items[:k])
    return head + (f", ... ({len(items)} in all)" if len(items) > k else "")


def as_float_array(a, name: str) -> np.ndarray:
    """Convert to a float64 array, or say which argument could not be converted."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from None
    return arr


def as_matrix(a, name: str, shape_hint: str, rows: int | None = None) -> np.ndarray:
    """A float64 matrix ``(n, m)``: a 1-D array is one column; anything else that is not 2-D, or
    has not ``rows`` rows (when given), is refused with ``name must be shape_hint``."""
    arr = as_float_array(a, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or (rows is not None and arr.shape[0] != rows):
        raise InputError(f"{name} must be {shape_hint}, got shape {arr.shape}")
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds NaN or +-Inf, naming the first positions."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)
        pos = [tuple(int(i) for i in w) if len(w) > 1 else int(w[0]) for w in where]
        raise InputError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or Inf) at "
            f"position(s) {_first(pos)}; remove or impute them (the workflow "
            "groups phenotypes by their missing values for you)."
        )


def pow2_scale(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """Integer exponents ``e`` with ``max|a| · 2^−e`` in [0.5, 1) along ``axis`` (0 for a zero slice).

    Multiplying by ``2^−e`` (:func:`numpy.ldexp`) is exact in floating point, so
    scaled data give bit-for-bit the results of the original ones, scaled.
    """
    amax = np.max(np.abs(a), axis=axis) if a.size else np.zeros(a.shape[1 - axis] if a.ndim == 2 else ())
    return np.frexp(amax)[1].astype(np.int64)


def times_pow2(a: np.ndarray, e, out: np.ndarray | None = None) -> np.ndarray:
    """``a · 2^e`` (``e`` integers broadcast against ``a``): :func:`numpy.ldexp`'s values, bit for bit.

    With every ``2^e`` a normal float64 (``−1022 ≤ e ≤ 1023``) it is one multiplication by the
    exact power of two, correctly rounded as ``ldexp`` is (exact unless the result is
    subnormal), and about ten times faster than ``ldexp`` on large arrays; otherwise ``ldexp``.
    """
    e = np.asarray(e)
    if e.size and (e.min() < -1022 or e.max() > 1023):
        return np.ldexp(a, e, out=out)
    return np.multiply(a, np.ldexp(1.0, e), out=out)


def psd_violation(kva: np.ndarray) -> np.ndarray:
    """Mask of eigenvalues that are materially negative: ``λ < −PSD_RTOL · max|λ|``."""
    lam_max = max(float(np.max(np.abs(kva))), np.finfo(float).tiny)
    return kva < -PSD_RTOL * lam_max


def zero_eigenvalues(kva: np.ndarray) -> np.ndarray:
    """Mask of eigenvalues that are zero to round-off: ``λ < ZERO_EIGENVALUE_RTOL · n · max|λ|``.

    Such a value (``1e-16`` say) would stand for a weight of ``1e16`` at hsq = 1:
    numerically, K is singular there, and the likelihood at hsq = 1 is its limit
    (:mod:`lmm.likelihood`).
    """
    lam_max = max(float(np.max(np.abs(kva))), np.finfo(float).tiny)
    return kva < ZERO_EIGENVALUE_RTOL * kva.shape[0] * lam_max


def check_kva(kva, n_expected: int | None = None) -> np.ndarray:
    """Eigenvalues: 1-D, finite, not materially negative; those zero to round-off set to 0."""
    kva = as_float_array(kva, "kva")
    if kva.ndim != 1:
        raise InputError(f"kva must be 1-D (n,), got shape {kva.shape}")
    if kva.size == 0:
        raise InputError("kva is empty: there are no individuals")
    if n_expected is not None and kva.size != n_expected:
        raise InputError(f"kva has {kva.size} eigenvalues but y has {n_expected} rows")
    check_finite(kva, "kva")
    if psd_violation(kva).any():
        raise InputError(
            f"kva has negative eigenvalue(s) down to {kva.min():.3g}: the kinship "
            f"matrix is not positive semi-definite (tolerance {PSD_RTOL:g} of the largest)"
        )
    return np.where(zero_eigenvalues(kva), 0.0, kva)


def check_y(y, name: str = "y") -> np.ndarray:
    """Phenotypes: 1-D (n,) or 2-D (n, m), finite, at least one column."""
    y = as_float_array(y, name)
    if y.ndim not in (1, 2):
        raise InputError(f"{name} must be 1-D (n,) or 2-D (n, m), got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise InputError(f"{name} has no columns")
    check_finite(y, name)
    return y


def _unit_columns(X: np.ndarray) -> np.ndarray:
    """Columns scaled to unit Euclidean norm (overflow-safe); zero columns stay zero."""
    Xs = times_pow2(X, -pow2_scale(X, axis=0)[None, :])
    norms = np.linalg.norm(Xs, axis=0)
    return Xs / np.where(norms > 0, norms, 1.0)


def _rank(U: np.ndarray) -> int:
    """Numerical rank of unit-norm columns by pivoted QR (the ``RANK_RTOL`` rule)."""
    if U.shape[1] == 0:
        return 0
    R = scipy.linalg.qr(U, mode="r", pivoting=True)[0]
    d = np.abs(np.diag(R))
    if d.size == 0 or d[0] == 0:
        return 0
    return int(np.sum(d > RANK_RTOL * d[0]))


def rank_deficient_columns(X: np.ndarray) -> list[int]:
    """Indices of the columns of ``X`` that are linear combinations of earlier ones.

    Parameters
    ----------
    X : ndarray, shape (n, p)

    Returns
    -------
    list of int
        Column ``j`` is listed when the columns kept before it and ``j`` itself
        have numerical rank no larger than those kept before it. The rank is
        that of pivoted QR (``scipy.linalg.qr(..., pivoting=True)``) of the
        columns scaled to unit norm, counting the diagonal entries with
        ``|R_kk| > RANK_RTOL · |R_00|`` (``RANK_RTOL = 1e-8``). A column
        ``w + 1e-11·noise`` beside ``w`` is therefore caught whatever the units.
        An all-zero column is always listed.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(5.0)
    >>> rank_deficient_columns(np.column_stack([np.ones(5), x, 3 * x - 2]))
    [2]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] == 0:
        return []
    U = _unit_columns(X)
    if _rank(U) == U.shape[1]:
        return []
    bad: list[int] = []
    kept: list[int] = []
    for j in range(U.shape[1]):
        if not np.any(U[:, j]) or _rank(U[:, kept + [j]]) <= len(kept):
            bad.append(j)
        else:
            kept.append(j)
    return bad


def explained_columns(y: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Columns of ``y`` that the covariates explain exactly (their heritability is undefined).

    Parameters
    ----------
    y : ndarray, shape (n, m)
    Q : ndarray, shape (n, p)
        Orthonormal basis of the covariates (``numpy.linalg.qr(X)[0]``); rotating
        ``y`` and ``Q`` by the same orthogonal matrix changes nothing.

    Returns
    -------
    ndarray of bool, shape (m,)
        ``‖y − QQᵀy‖ ≤ EXPLAINED_RTOL · ‖y‖`` (``1e-13``; the projection taken
        twice, after scaling each column by a power of two, so no square
        overflows). A constant phenotype, for example, has a residual of
        round-off size (``≈ 1e-16 ‖y‖``); a phenotype ``y + 1e12`` of unit
        spread has ``‖r‖ ≈ 1e-12 ‖y‖`` and is fitted.
    """
    y = np.asarray(y, dtype=np.float64)
    ys = times_pow2(y, -pow2_scale(y, axis=0)[None, :])
    r = ys - Q @ (Q.T @ ys)
    r = r - Q @ (Q.T @ r)
    return explained_residuals(r, ys)


def explained_residuals(r: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The rule of :func:`explained_columns` on residuals already formed: ``‖r‖ ≤ EXPLAINED_RTOL · ‖y‖``
    per column (``r`` the residual of ``y`` on the covariates, projected twice; ``y`` scaled by a
    power of two)."""
    return (np.sqrt(np.einsum("ij,ij->j", r, r)) <= EXPLAINED_RTOL * np.sqrt(np.einsum("ij,ij->j", y, y)))


def check_X(X, n: int, names=None, *, rotated: bool = False) -> np.ndarray:
    """Covariates: (n, p) with p < n, finite, full column rank.

    ``None`` means an intercept column, but only for data that are not rotated:
    functions taking rotated data (``rotated=True``) need the rotated covariates
    (``Rotation.X``), because the rotated intercept is ``Uᵀ1``, not ``1``.
    """
    if X is None:
        if rotated:
            raise InputError(
                "X is required with rotated data: pass the rotated covariates rot.X of the "
                "Rotation (eigen_rotation or decomposition.rotate gives the rotated intercept "
                "when X was None there); a column of ones is not the rotated intercept")
        X = np.ones((n, 1))
    else:
        X = as_float_array(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise InputError(f"X must be 2-D (n, p), got shape {X.shape}")
    if X.shape[0] != n:
        raise InputError(f"X has {X.shape[0]} rows but y has {n}: they must match")
    if X.shape[1] == 0:
        raise InputError("X has no columns; pass X=None for an intercept-only model")
    check_finite(X, "X")
    n_, p = X.shape
    if n_ <= p:
        raise InputError(
            f"too few individuals: n = {n_} is not larger than the number of "
            f"covariates p = {p}"
        )
    bad = rank_deficient_columns(X)
    if bad:
        label = [names[j] if names is not None else f"column {j}" for j in bad]
        raise InputError(
            f"X is rank-deficient: {_first(label)} "
            f"{'is a linear combination' if len(bad) == 1 else 'are linear combinations'}"
            " of the other covariates (or constant zero); drop "
            f"{'it' if len(bad) == 1 else 'them'}"
        )
    return X


def check_hsq(hsq) -> np.ndarray:
    """Heritability values: scalar or 1-D, each in [0, 1]."""
    h = as_float_array(hsq, "hsq")
    if h.ndim > 1:
        raise InputError(f"hsq must be a scalar or 1-D, got shape {h.shape}")
    check_finite(h, "hsq")
    if h.size and (h.min() < 0 or h.max() > 1):
        raise InputError(f"hsq must lie in [0, 1]; got values from {h.min()} to {h.max()}")
    return h


def check_tol(tol) -> float:
    """A positive, finite tolerance."""
    try:
        t = float(tol)
    except (TypeError, ValueError):
        raise InputError(f"tol must be a positive number, got {tol!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise InputError(f"tol must be a positive number, got {tol!r}")
    return t


#: :mod:`lmm.effects`: a marker's whitened design ``[G, covariates]`` is rank-deficient (its
#: coefficients NaN in ``scan1coef``, an error in ``fit1``) when a diagonal entry of its QR, the
#: columns scaled to unit norm, is ``|R_kk| ≤ EFFECTS_RANK_RTOL · max|R_jj|``; in ``scan1blup``
#: the eigenvalues ``s²`` of the projected allele Gram matrix below ``EFFECTS_RANK_RTOL · max s²``
#: count as zero. The same criterion as ``RANK_RTOL``.
EFFECTS_RANK_RTOL = 1e-8
#: :func:`lmm.effects.scan1blup`: tolerance of the Brent search of the QTL variance fraction
#: (R/qtl2's scan1blup default ``tol = 1e-12``).
BLUP_HSQ_TOL = 1e-12
#: :func:`lmm.effects.fit_effects`: the whitened designs of a block of (phenotype, marker) fits,
#: ``fits · n · (k + p + 1 + missing)`` doubles at most (about 32 MiB).
EFFECTS_BLOCK_ELEMENTS = 1 << 22
#: ``λ_min`` of the Gram matrix of ``[1, X]`` over a phenotype's observed individuals, columns scaled
#: to unit norm, above which the rank rule (:func:`rank_deficient_columns`, ``RANK_RTOL``) cannot
#: find a deficiency (every ``|R_kk| ≥ σ_min``, ``|R_00| ≤ √(p + 1)``), so the batched effects fit
#: (:func:`lmm.effects_columns.check_observed`) skips the exact test there.
FULL_RANK_GRAM_EIG = 1e-8
#: :func:`lmm.effects.fit_effects` solves from Gram matrices (which square the condition number, so
#: ``EFFECTS_RANK_RTOL²`` would be round-off): a pair's design is rank-deficient (its row NaN) when
#: the smallest eigenvalue of its Gram matrix scaled to unit diagonal is at most this times the
#: largest (a singular-value ratio of 1e-5).
EFFECTS_GRAM_RTOL = 1e-10
#: :func:`lmm.effects.fit_effects` at ``hsq = 1`` on a singular kinship: its null eigenvectors (unit
#: norm) lie in the span of the fixed columns ``[1, X, e_M]`` when the least-squares residual of each
#: is at most this (the eigenvectors of a zero eigenvalue are accurate to about ``n·ε·λ_max/gap``).
LIMIT_SPAN_RTOL = 1e-8
#: :func:`lmm.pipeline.effect_plots.genotype_calls` (phenotype-by-genotype figure): an individual's
#: genotype is called when every allele's expected count ``2·p`` (probabilities; a dosage ``d``
#: itself) is within this of an integer, the integers summing to 2; with genotype probabilities
#: (an F2's ``SS, SB, BB``) when one genotype's probability is within this of 1; otherwise it is
#: not called.
GENOTYPE_CALL_TOL = 0.25

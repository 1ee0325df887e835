r"""QTL effects at one marker or along a chromosome: R/qtl2's ``fit1``, ``scan1coef`` and ``scan1blup``.

The model, with the null heritability ``hsq`` held fixed (R/qtl2's LMM scan)::

    y = G γ + X β + ε,   ε ~ N(0, σ² V),   V = hsq·K + (1 − hsq)·I

``G`` (n, k): the allele probabilities of the marker (rows sum to one: they span the intercept, so
``X`` holds the additive covariates *without* an intercept, as R/qtl2's ``addcovar``). With
``K = Uᵀ diag(λ) U`` (``U = kve_t``), the data are whitened by ``w = (hsq·λ + 1 − hsq)^−1/2``:
``ỹ = w ∘ (U y)``, ``W̃ = w ∘ (U [G, X])``, and the fit is ordinary least squares on them.

Notes
-----
**Fixed effects** (``fit1``, ``scan1coef``): ``b = (W̃ᵀW̃)⁻¹ W̃ᵀ ỹ`` (QR of ``W̃``),
``s² = ‖ỹ − W̃ b‖² / (n − d)`` (``d = k + p``), ``Cov(b) = s² (W̃ᵀW̃)⁻¹``. The LOD is
``(n/2) log10(RSS₀ / RSS₁)``, ``RSS₀`` the whitened residual on ``[1, X]``.

**zerosum** (R/qtl2 0.43): the allele effects are centred, ``γ_a − γ̄``, and their mean ``γ̄`` is
reported as ``intercept`` after the covariates: ``c = A b`` with ``A`` the (k+p+1)×(k+p) matrix
``[[I_k − 11ᵀ/k, 0], [0, I_p], [1ᵀ/k, 0]]``. ``fit1`` transforms the covariance,
``Cov(c) = A Cov(b) Aᵀ``; ``scan1coef`` (as R/qtl2's) centres the estimates only: its allele SEs
are the uncentred ones and the intercept's is ``sqrt(mean(SE_a²))``.

**BLUPs** (``scan1blup``): on the whitened data, ``ỹ = X̃₁ β + G̃ u + e`` with
``X̃₁ = w ∘ (U [1, X])``, ``u ~ N(0, σ_u² I_k)``, ``e ~ N(0, σ² I)``. ``η = σ_u²/(σ_u² + σ²)`` is
fitted by REML at each marker: with ``P₀`` the projection off ``X̃₁``, ``s_i²`` and ``R`` the
eigenvalues and vectors of ``G̃ᵀ P₀ G̃`` (rank ``r``), ``z_i = (Rᵀ G̃ᵀ P₀ ỹ)_i / s_i`` and
``ρ = ‖P₀ỹ‖² − Σ z_i²``, the negative restricted log-likelihood profiled over σ² is (up to a
constant)

    f(η) = ((n−p₁)/2) log(Σ z_i²/(η s_i² + 1 − η) + ρ/(1 − η))
           + ½ Σ log(η s_i² + 1 − η) + ((n−p₁−r)/2) log(1 − η),

minimised on [0, 1] by Brent's method (:func:`lmm.brent.fmin_lockstep`, tolerance
:data:`lmm.checks.BLUP_HSQ_TOL`), with ``η = 0`` kept when ``f(0) ≤ f(η̂)``. With
``τ = η/(1 − η)``, the mixed-model equations
``[[X̃₁ᵀX̃₁, X̃₁ᵀG̃], [G̃ᵀX̃₁, G̃ᵀG̃ + I/τ]] [β; u] = [X̃₁ᵀỹ; G̃ᵀỹ]`` give ``β`` and the BLUPs
``u``; the SEs are ``sqrt(diag(σ̂² C⁻¹))`` (``C`` the matrix of the equations, ``σ̂² =
(ỹᵀỹ − [β; u]ᵀ rhs)/(n − p₁)``): prediction-error SEs of ``u``, GLS SEs of ``β``. ``η = 0``
gives ``u = 0`` with SE 0 and ``β`` the GLS fit without the QTL.

**The limit hsq → 1** (:func:`fit_effects`). With a singular kinship (centred genotypes: its null
eigenvector is ``1/√n``) a null fit can reach ``hsq = 1``, where the rotated rows ``Z`` of the zero
eigenvalues have zero variance and the fits are constrained to reproduce them. When the null
eigenvectors lie in the span of the fixed columns ``D = [1, X, e_M]`` (rule
:data:`lmm.checks.LIMIT_SPAN_RTOL`; the intercept spans ``1/√n``), some combination of the fixed
effects moves the rows ``Z`` alone, so every fit with any finite weight ``w > 0`` on those rows
leaves them no residual and gives the constrained estimates, RSS, LOD, ``η`` and BLUPs exactly.
Only the variances depend on ``w``: by the Schur complement of that combination's block, every
variance is ``v(w) = v_∞ + c/w``, so the limit is ``v_∞ = 2·v(2) − v(1)`` (weights 1 and 2;
checked against the dense constrained fit, ``tests/core/test_effects.py``). Null eigenvectors
outside that span (duplicated individuals) are refused with the phenotypes named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .brent import fmin_lockstep
from .checks import (BLUP_HSQ_TOL, EFFECTS_BLOCK_ELEMENTS, EFFECTS_GRAM_RTOL, EFFECTS_RANK_RTOL, as_float_array,
                     as_matrix, check_finite, check_hsq, check_kva, rank_deficient_columns)
from .effects_columns import Weights, check_limit, check_observed, column_groups
from .errors import InputError
from .missing import missing_patterns
from .rotation import EigenDecomposition, eigen_decompose
from .scan.engine import SCANNED_STATUSES, added_covariates, fit_null_group

__all__ = ["Fit1Result", "CoefResult", "EffectsResult", "fit1", "scan1coef", "scan1blup", "fit_effects",
           "default_allele_names"]


@dataclass(frozen=True, eq=False)
class Fit1Result:
    """Result of :func:`fit1`.

    Attributes
    ----------
    lod : float
        ``(n/2) log10(RSS₀/RSS₁)`` on the whitened data.
    coef, se : ndarray, shape (c,)
        Estimates and standard errors, in the order of ``names``.
    names : tuple of str
        Alleles, then covariates, then (zerosum) ``intercept``.
    fitted, resid : ndarray, shape (n_obs,)
        ``[G, X] b`` and ``y − fitted`` on the original scale, complete cases only.
    hsq : float
        The ``hsq`` used.
    n : int
        Complete cases.
    """

    lod: float
    coef: np.ndarray
    se: np.ndarray
    names: tuple
    fitted: np.ndarray
    resid: np.ndarray
    hsq: float
    n: int


@dataclass(frozen=True, eq=False)
class CoefResult:
    """Result of :func:`scan1coef` and :func:`scan1blup`.

    Attributes
    ----------
    coef : ndarray, shape (q, c)
        One row per marker, columns in the order of ``names``.
    se : ndarray, shape (q, c), or None
        Without ``se=True``: None.
    names : tuple of str
    hsq : float
        The null ``hsq`` used.
    n : int
        Complete cases.
    qtl_hsq : ndarray, shape (q,), or None
        :func:`scan1blup` only: the fitted ``η = σ_u²/(σ_u² + σ²)`` at each marker.
    """

    coef: np.ndarray
    se: np.ndarray | None
    names: tuple
    hsq: float
    n: int
    qtl_hsq: np.ndarray | None = None


def default_allele_names(k: int) -> tuple:
    """``A, B, …`` for ``k ≤ 26`` alleles (R/qtl2's DO names), else ``allele1 … allelek``."""
    if k <= 26:
        return tuple(chr(ord("A") + i) for i in range(k))
    return tuple(f"allele{i + 1}" for i in range(k))


def _setup(genoprobs, pheno, kinship, covar, covar_names, ndim):
    """Checked, complete-case arrays: y (n_o,), G (n_o, q, k) or (n_o, k), X (n_o, p), K, names."""
    y = as_float_array(pheno, "pheno")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"pheno must be one phenotype, shape (n,) or (n, 1); got shape {y.shape}")
    n = y.size
    if np.isinf(y).any():
        raise InputError("pheno has infinite values (use NaN for missing values)")
    G = as_float_array(genoprobs, "genoprobs")
    shape = "(n, k)" if ndim == 2 else "(n, markers, k)"
    if G.ndim != ndim or G.shape[0] != n:
        raise InputError(f"genoprobs must be {shape} with n = {n} rows (pheno's); got shape {G.shape}")
    if G.shape[-1] < 1 or (ndim == 3 and G.shape[1] < 1):
        raise InputError(f"genoprobs has an empty dimension: shape {G.shape}")
    check_finite(G, "genoprobs")
    K = as_float_array(kinship, "kinship")
    if K.shape != (n, n):
        raise InputError(f"kinship has shape {K.shape}; expected ({n}, {n})")
    check_finite(K, "kinship")
    if covar is None:
        X = np.empty((n, 0))
    else:
        X = as_float_array(covar, "covar")
        X = X[:, None] if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[0] != n:
            raise InputError(f"covar must be (n, p) with n = {n} rows; got shape {X.shape}")
        check_finite(X, "covar")
    p = X.shape[1]
    names = tuple(covar_names) if covar_names is not None else tuple(f"covar{j + 1}" for j in range(p))
    if len(names) != p:
        raise InputError(f"{len(names)} covar_names for {p} covariate columns")
    obs = np.flatnonzero(~np.isnan(y))
    if obs.size <= G.shape[-1] + p + 1:
        raise InputError(f"pheno has {obs.size} complete cases: too few for {G.shape[-1]} alleles and {p} covariates")
    X1 = np.column_stack([np.ones(obs.size), X[obs]])
    bad = rank_deficient_columns(X1)
    if bad:
        label = ["a constant column (the intercept is implied)" if j == 0 else names[j - 1] for j in bad]
        raise InputError(f"covar is rank-deficient with the intercept: {', '.join(map(str, label))}; "
                         "pass covariates without an intercept column (the allele columns span it)")
    return y[obs], G[obs], X[obs], K[np.ix_(obs, obs)], names


def _whitener(K, hsq):
    """Decomposition of ``K``, the checked ``hsq`` and the weights ``(hsq·λ + 1 − hsq)^−1/2``."""
    dec = eigen_decompose(K)
    h = check_hsq(hsq)
    if h.size != 1:
        raise InputError(f"hsq must be one number, got {h.size}")
    h = float(h.ravel()[0])
    v = h * dec.kva + (1.0 - h)
    if np.any(v <= 0):
        raise InputError(f"hsq = {h} with a singular kinship: V = hsq·K + (1 − hsq)·I is singular")
    return dec.kve_t, 1.0 / np.sqrt(v), h


def _ols(W, y):
    """Least squares of ``y`` on the columns of ``W`` (..., n, d) by QR: b, (WᵀW)⁻¹, RSS, full rank."""
    scale = np.linalg.norm(W, axis=-2)
    scale = np.where(scale > 0, scale, 1.0)
    Q, R = np.linalg.qr(W / scale[..., None, :])
    diag = np.abs(np.diagonal(R, axis1=-2, axis2=-1))
    ok = diag.min(axis=-1) > EFFECTS_RANK_RTOL * diag.max(axis=-1)
    R = np.where(ok[..., None, None], R, np.eye(R.shape[-1]))
    Rinv = np.linalg.inv(R) / scale[..., :, None]
    b = Rinv @ (np.swapaxes(Q, -1, -2) @ y[..., None])
    r = y - (W @ b)[..., 0]
    return b[..., 0], Rinv @ np.swapaxes(Rinv, -1, -2), np.einsum("...i,...i->...", r, r), ok


def _zerosum_matrix(k, p):
    """``A``: centred alleles, covariates, their mean as intercept (module Notes)."""
    A = np.zeros((k + p + 1, k + p))
    A[:k, :k] = np.eye(k) - 1.0 / k
    A[k:k + p, k:] = np.eye(p)
    A[k + p, :k] = 1.0 / k
    return A


def fit1(genoprobs_marker, pheno, kinship, covar=None, *, hsq=None, reml=True, zerosum=True,
         covar_names=None, allele_names=None, nullcovar=None) -> Fit1Result:
    """Fit the single-QTL model at one marker, R/qtl2's ``fit1`` with a kinship.

    Parameters
    ----------
    genoprobs_marker : array_like, shape (n, k)
        Allele (or genotype) probabilities at the marker.
    pheno : array_like, shape (n,) or (n, 1)
        One phenotype; NaN for missing values (the complete cases are used).
    kinship : array_like, shape (n, n)
        On the model's scale ``hsq·K + (1 − hsq)·I`` (R/qtl2 users: ``2 ×`` its
        ``calc_kinship``; the LOCO kinship of the marker's chromosome).
    covar : array_like, shape (n, p) or (n,), optional
        Additive covariates **without** an intercept (R/qtl2's ``addcovar``); no missing values.
    hsq : float, optional
        Default: the null fit's (intercept and ``covar``, polished REML or ML).
    reml : bool
        REML (default) or ML for the null ``hsq``.
    zerosum : bool
        Centre the allele effects and report their mean as ``intercept`` (module Notes).
    covar_names, allele_names : sequence of str, optional
        Default ``covar1 …``, and :func:`default_allele_names`.
    nullcovar : array_like, shape (n, r) or (n,), optional
        Covariates of the null model only (R/qtl2's ``nullcovar``; on an X chromosome its
        ``Xcovar``, which the genotype columns span): in the null ``hsq`` and the LOD's null, not
        in the fit. Columns spanned by ``[1, covar]`` are dropped (:func:`lmm.scan.engine.added_covariates`).

    Returns
    -------
    Fit1Result
        ``coef``/``se`` of length ``k + p`` (+1 with zerosum).

    Raises
    ------
    InputError
        Shapes that disagree, infinite values, too few complete cases, a covariate collinear with
        the intercept, a marker whose design is rank-deficient (an absent allele).

    Notes
    -----
    Module Notes: whitened least squares, ``Cov(b) = s²(W̃ᵀW̃)⁻¹`` with ``s² = RSS/(n − k − p)``;
    with ``zerosum``, ``c = A b`` and ``Cov(c) = A Cov(b) Aᵀ`` (R/qtl2 0.43's ``fit1``).
    """
    y, G, X, K, cnames = _setup(genoprobs_marker, pheno, kinship, covar, covar_names, 2)
    n, k = G.shape
    p = X.shape[1]
    anames = tuple(allele_names) if allele_names is not None else default_allele_names(k)
    if len(anames) != k:
        raise InputError(f"{len(anames)} allele names for {k} allele columns")
    X1 = np.column_stack([np.ones(n), X])
    if nullcovar is not None:
        N = as_float_array(nullcovar, "nullcovar")
        N = N[:, None] if N.ndim == 1 else N
        if N.ndim != 2 or N.shape[0] != np.size(pheno):
            raise InputError(f"nullcovar must be (n, r) with n = {np.size(pheno)} rows (pheno's); got shape {N.shape}")
        check_finite(N, "nullcovar")
        X1 = added_covariates(X1, N[~np.isnan(as_float_array(pheno, "pheno").ravel())])
    if hsq is None:
        hsq = _null_hsq(K, y, X1, reml)
    kve_t, w, h = _whitener(K, hsq)
    W = np.column_stack([G, X])
    Wt, yt = w[:, None] * (kve_t @ W), w * (kve_t @ y)
    b, C, rss, ok = _ols(Wt, yt)
    if not ok:
        bad = rank_deficient_columns(Wt)
        raise InputError(f"the marker's design is rank-deficient (columns {[(anames + cnames)[j] for j in bad]}): "
                         "an allele absent from the complete cases, or a covariate collinear with the alleles")
    _, _, rss0, _ = _ols(w[:, None] * (kve_t @ X1), yt)
    cov = C * (rss / (n - k - p))
    names = anames + cnames
    if zerosum:
        A = _zerosum_matrix(k, p)
        b, cov, names = A @ b, A @ cov @ A.T, names + ("intercept",)
    fitted = W @ (np.linalg.pinv(_zerosum_matrix(k, p)) @ b if zerosum else b)
    return Fit1Result(lod=float(n / 2 * np.log10(rss0 / rss)), coef=b, se=np.sqrt(np.diag(cov)),
                      names=names, fitted=fitted, resid=y - fitted, hsq=h, n=n)


def _null_hsq(K, y, X1, reml):
    """The polished null ``hsq`` (:func:`lmm.scan.engine.fit_null_group`)."""
    null = fit_null_group(eigen_decompose(K), y[:, None], X1, reml=reml)
    if null.status[0] not in SCANNED_STATUSES:
        raise InputError(f"the null fit of pheno has status {null.status[0]!r}: no hsq to whiten with")
    return float(null.hsq[0])


def _chr_setup(genoprobs_chr, pheno, kinship, covar, covar_names, hsq, reml):
    y, G, X, K, cnames = _setup(genoprobs_chr, pheno, kinship, covar, covar_names, 3)
    n = y.size
    X1 = np.column_stack([np.ones(n), X])
    if hsq is None:
        hsq = _null_hsq(K, y, X1, reml)
    kve_t, w, h = _whitener(K, hsq)
    Gt = w[None, :, None] * np.einsum("ij,jqk->qik", kve_t, G)     # (q, n, k)
    return y, X, cnames, h, w * (kve_t @ y), w[:, None] * (kve_t @ X1), Gt


def scan1coef(genoprobs_chr, pheno, kinship, covar=None, *, se=False, zerosum=True, hsq=None, reml=True,
              covar_names=None) -> CoefResult:
    """Coefficients (and SEs) at every marker of a chromosome, R/qtl2's ``scan1coef`` with a kinship.

    Parameters
    ----------
    genoprobs_chr : array_like, shape (n, q, k)
        Allele probabilities of the chromosome's ``q`` markers.
    pheno, kinship, covar, hsq, reml, covar_names
        As in :func:`fit1` (one ``hsq`` for the whole chromosome).
    se : bool
        Also the standard errors.
    zerosum : bool
        Centre the allele estimates, their mean as ``intercept`` (last column).

    Returns
    -------
    CoefResult
        ``coef`` (q, k + p [+1]); a marker whose design is rank-deficient (an allele absent) has
        NaN coefficients and SEs.

    Notes
    -----
    One batched QR of the (q, n, k + p) whitened designs (no loop over markers). With zerosum,
    as R/qtl2: only the estimates are centred; the allele SEs are the uncentred ones and the
    intercept's is ``sqrt(mean_a SE_a²)``.
    """
    y, X, cnames, h, yt, X1t, Gt = _chr_setup(genoprobs_chr, pheno, kinship, covar, covar_names, hsq, reml)
    q, n, k = Gt.shape
    p = X.shape[1]
    W = np.concatenate([Gt, np.broadcast_to(X1t[None, :, 1:], (q, n, p))], axis=2)
    b, C, rss, ok = _ols(W, np.broadcast_to(yt, (q, n)))
    s = np.sqrt(np.diagonal(C, axis1=1, axis2=2) * (rss / (n - k - p))[:, None]) if se else None
    names = default_allele_names(k) + cnames
    if zerosum:
        mean = b[:, :k].mean(axis=1, keepdims=True)
        b = np.concatenate([b[:, :k] - mean, b[:, k:], mean], axis=1)
        if se:
            s = np.concatenate([s, np.sqrt(np.mean(s[:, :k] ** 2, axis=1, keepdims=True))], axis=1)
        names = names + ("intercept",)
    b[~ok] = np.nan
    if se:
        s[~ok] = np.nan
    return CoefResult(coef=b, se=s, names=names, hsq=h, n=n)


def _blup_hsq(HH, He, ee, nr):
    """The REML ``η`` of each problem (module Notes) from its projected Gram blocks: ``HH = G̃ᵀP₀G̃``
    (q, k, k), ``He = G̃ᵀP₀ỹ`` (q, k), ``ee = ỹᵀP₀ỹ`` (q,), ``nr = n − p₁``: Brent on [0, 1], ``η = 0``
    kept when no worse."""
    q = HH.shape[0]
    nr = np.broadcast_to(np.asarray(nr, dtype=float), (q,))
    s2, R = np.linalg.eigh(HH)
    pos = s2 > EFFECTS_RANK_RTOL * s2[:, -1:]
    s2 = np.where(pos, s2, 0.0)
    g = np.einsum("qkl,qk->ql", R, He)
    z2 = np.where(pos, g ** 2 / np.where(pos, s2, 1.0), 0.0)
    rest = np.maximum(ee - z2.sum(axis=1), 0.0)
    rk = pos.sum(axis=1)

    def f(eta, idx):
        dd = eta[:, None] * s2[idx] + 1.0 - eta[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (z2[idx] / dd).sum(axis=1) + rest[idx] / (1.0 - eta)
            logdet = np.where(pos[idx], np.log(dd), 0.0).sum(axis=1) + (nr[idx] - rk[idx]) * np.log1p(-eta)
            return 0.5 * nr[idx] * np.log(t) + 0.5 * logdet

    eta, fx, _, _ = fmin_lockstep(f, np.zeros(q), np.ones(q), BLUP_HSQ_TOL)
    f0 = f(np.zeros(q), np.arange(q))
    return np.where(f0 <= fx, 0.0, eta)


def scan1blup(genoprobs_chr, pheno, kinship, covar=None, *, se=False, hsq=None, reml=True,
              covar_names=None) -> CoefResult:
    """BLUPs of the allele effects at every marker of a chromosome, R/qtl2's ``scan1blup`` with a kinship.

    Parameters
    ----------
    genoprobs_chr : array_like, shape (n, q, k)
    pheno, kinship, covar, hsq, reml, covar_names
        As in :func:`scan1coef`.
    se : bool
        Also the standard errors (prediction-error SEs of the BLUPs, GLS SEs of the fixed effects).

    Returns
    -------
    CoefResult
        ``coef`` (q, k + 1 + p): the ``k`` BLUPs, ``intercept``, the covariates (R/qtl2's order);
        ``qtl_hsq`` the fitted ``η`` per marker. Where ``η = 0`` the BLUPs and their SEs are 0.

    Notes
    -----
    Module Notes: the data whitened with the null ``hsq``, then per marker the REML ``η`` of the
    allele variance component (vectorised Brent over markers) and the mixed-model equations,
    batched (q, k + p + 1) solves on the Gram blocks of ``[X̃₁, G̃, ỹ]`` (``y`` less its mean,
    added back to the intercept: exact, the intercept is a fixed column).
    """
    y, X, cnames, h, yt, X1t, Gt = _chr_setup(genoprobs_chr, pheno, kinship, covar, covar_names, hsq, reml)
    q, n, k = Gt.shape
    p1 = X1t.shape[1]
    c = float(np.mean(y))
    yc = yt - c * X1t[:, 0]
    XG = np.einsum("ij,qik->qjk", X1t, Gt)
    eta, b, s = _blup_gram(np.broadcast_to(X1t.T @ X1t, (q, p1, p1)), XG, np.einsum("qik,qil->qkl", Gt, Gt),
                           np.broadcast_to(X1t.T @ yc, (q, p1)), np.einsum("qik,i->qk", Gt, yc),
                           np.full(q, yc @ yc), n - p1, p1, se)
    b[:, 0] += c
    order = np.r_[p1:p1 + k, 0:p1]
    names = default_allele_names(k) + ("intercept",) + cnames
    return CoefResult(coef=b[:, order], se=None if s is None else s[:, order], names=names, hsq=h, n=n,
                      qtl_hsq=eta)


def _blup_gram(XX, XG, GG, Xy, Gy, yy, nr, p_fixed, se):
    """Batched BLUPs (module Notes) of ``q`` whitened problems from their Gram blocks.

    ``X`` the ``p1`` fixed columns, ``G`` the ``k`` random ones: ``XX`` (q, p1, p1), ``XG`` (q, p1, k),
    ``GG`` (q, k, k), ``Xy`` (q, p1), ``Gy`` (q, k), ``yy`` (q,); ``nr = n − p1``. Returns ``η``
    (q,), the estimates (q, p_fixed + k): the first ``p_fixed`` fixed effects, then the ``k``
    BLUPs, and their SEs (or None without `se`). Fixed columns after the first ``p_fixed`` (the
    indicators of missing individuals, :func:`fit_effects`) are fitted but not returned.
    """
    q, p1, k = XG.shape
    XXi = np.linalg.inv(XX)
    A = XXi @ XG
    eta = _blup_hsq(GG - np.swapaxes(XG, 1, 2) @ A, Gy - np.einsum("qjk,qj->qk", A, Xy),
                    yy - np.einsum("qj,qj->q", Xy, np.einsum("qij,qj->qi", XXi, Xy)), nr)
    zero = eta == 0
    tau = np.where(zero, 1.0, eta / np.where(zero, 1.0, 1.0 - eta))
    C = np.empty((q, p1 + k, p1 + k))
    C[:, :p1, :p1] = XX
    C[:, :p1, p1:] = np.where(zero[:, None, None], 0.0, XG)
    C[:, p1:, :p1] = np.swapaxes(C[:, :p1, p1:], 1, 2)
    C[:, p1:, p1:] = np.where(zero[:, None, None], np.eye(k), GG + np.eye(k) / tau[:, None, None])
    rhs = np.concatenate([Xy, np.where(zero[:, None], 0.0, Gy)], axis=1)
    Ci = np.linalg.inv(C)
    b = np.einsum("qij,qj->qi", Ci, rhs)
    keep = np.r_[0:p_fixed, p1:p1 + k]
    s = None
    if se:
        sig = (yy - np.einsum("qi,qi->q", b, rhs)) / nr
        s = np.sqrt(np.maximum(np.diagonal(Ci, axis1=1, axis2=2), 0.0) * sig[:, None])
        s[zero, p1:] = 0.0
        s = s[:, keep]
    return eta, b[:, keep], s


@dataclass(frozen=True, eq=False)
class EffectsResult:
    """Result of :func:`fit_effects`: one row per (phenotype, marker) pair.

    Attributes
    ----------
    pheno, marker : ndarray of int, shape (b,)
        The pairs: a column of ``pheno`` and a marker of ``genotypes``.
    lod : ndarray, shape (b,)
        ``(n_obs/2) log10(RSS₀/RSS₁)`` of the fixed-effects fit (fit1's LOD).
    coef, se : ndarray, shape (b, c)
        Fixed-effect estimates and SEs as :func:`fit1` gives them, in the order of ``names``.
    blup, blup_se : ndarray, shape (b, c), or None
        :func:`scan1blup`'s estimates and SEs in the order of ``names`` (the QTL effects random;
        the covariates and ``intercept`` fixed, GLS given ``η``); None without ``blup``.
    qtl_hsq : ndarray, shape (b,), or None
        The REML ``η = σ_u²/(σ_u² + σ²)`` of each pair (``blup`` only).
    names : tuple of str
        Probabilities: the ``k`` alleles, the covariates, ``intercept``. Dosages: ``dosage``,
        the covariates, ``intercept``.
    n_obs : ndarray of int, shape (b,)
        Individuals observed for each pair (its phenotype's complete cases).
    """

    pheno: np.ndarray
    marker: np.ndarray
    lod: np.ndarray
    coef: np.ndarray
    se: np.ndarray
    blup: np.ndarray | None
    blup_se: np.ndarray | None
    qtl_hsq: np.ndarray | None
    names: tuple
    n_obs: np.ndarray


def _effects_inputs(decomposition, hsq, pheno, genotypes, covar, pairs):
    """Checked arrays of :func:`fit_effects`: kva, kve_t, y (n, m), h (m,), G (n, q, k), X (n, p),
    and the pairs."""
    if not isinstance(decomposition, EigenDecomposition):
        raise InputError("decomposition must be an lmm.EigenDecomposition (lmm.eigen_decompose(K))")
    kva = check_kva(decomposition.kva)
    n = kva.size
    kve_t = as_float_array(decomposition.kve_t, "kve_t")
    if kve_t.shape != (n, n):
        raise InputError(f"kve_t has shape {kve_t.shape}; expected ({n}, {n})")
    y = as_matrix(pheno, "pheno", f"(n, m) with n = {n} rows (the decomposition's)", rows=n)
    if np.isinf(y).any():
        raise InputError("pheno has infinite values (use NaN for missing values)")
    h = check_hsq(hsq)
    h = np.broadcast_to(h, (y.shape[1],)) if h.ndim == 0 or h.size == 1 else h
    if h.shape != (y.shape[1],):
        raise InputError(f"hsq must hold one value per column of pheno ({y.shape[1]}), got {h.size}")
    G = as_float_array(genotypes, "genotypes")
    if G.ndim != 3 or G.shape[0] != n or min(G.shape) < 1:
        raise InputError(f"genotypes must be (n, markers, k) with n = {n} rows; got shape {G.shape}")
    check_finite(G, "genotypes")
    X = np.empty((n, 0)) if covar is None else as_matrix(covar, "covar", f"(n, p) with n = {n} rows", rows=n)
    check_finite(X, "covar")
    m, q = y.shape[1], G.shape[1]
    if pairs is None:
        pi, mi = np.repeat(np.arange(m), q), np.tile(np.arange(q), m)
    else:
        pi, mi = (np.asarray(a, dtype=np.intp).ravel() for a in pairs)
        if pi.shape != mi.shape or (pi.size and (pi.min() < 0 or pi.max() >= m or mi.min() < 0 or mi.max() >= q)):
            raise InputError(f"pairs must be two equal-length index arrays within {m} phenotypes and {q} markers")
    return kva, kve_t, y, np.asarray(h, dtype=float), G, X, pi, mi


def fit_effects(decomposition, hsq, pheno, genotypes, covar=None, *, pairs=None, blup=True, covar_names=None,
                allele_names=None, null_covar=None) -> EffectsResult:
    """QTL effects of many (phenotype, marker) pairs from one decomposition: batched ``fit1`` and ``scan1blup``.

    Parameters
    ----------
    decomposition : EigenDecomposition
        Of the kinship (model scale ``hsq·K + (1 − hsq)·I``) of the ``n`` individuals, e.g. the
        genome scan's LOCO decomposition of the markers' chromosome.
    hsq : array_like, shape (m,) or scalar
        The null ``hsq`` of each phenotype (the scan's: R/qtl2's fit1 estimates the same).
    pheno : array_like, shape (n, m)
        Phenotypes; NaN where missing, each column its own individuals. Missing individuals are
        fitted exactly (below).
    genotypes : array_like, shape (n, q, k)
        Allele probabilities (``k > 1``) or dosages (``k = 1``) of ``q`` markers.
    covar : array_like, shape (n, p), optional
        Additive covariates **without** an intercept, no missing values: the covariates of the
        markers' chromosome (a chromosome-specific covariate, such as sex on X, goes here).
    pairs : (array_like, array_like), optional
        Columns of ``pheno`` and markers of ``genotypes`` to fit (default: every phenotype at every
        marker, phenotype-major).
    blup : bool
        Also :func:`scan1blup`'s BLUPs and SEs.
    covar_names, allele_names : sequence of str, optional
    null_covar : array_like, shape (n, r), optional
        Covariates of the LOD's null model only, R/qtl2's ``fit1(nullcovar = )``: on an X
        chromosome its covariates (``Xcovar``: sex, cross direction), which the genotype columns
        span in the alternative. ``hsq`` should be the null fit's with them. Columns that are linear
        combinations of ``[1, covar]`` over the observed individuals are dropped (R/qtl2's rule).

    Returns
    -------
    EffectsResult

    Notes
    -----
    Per pair, the model of :func:`fit1` with ``hsq`` fixed: probabilities ``y = G γ + X β + ε``
    (the alleles span the intercept), estimates centred (zerosum) with their mean as
    ``intercept``, ``Cov(c) = A Cov(b) Aᵀ``; dosages ``y = g γ + X β + 1 μ + ε`` (one column: no
    centring, ``dosage`` is the effect per copy of the counted allele). BLUPs: module Notes, ``G``
    (or ``g``) random, ``[1, X]`` fixed. With ``K = Uᵀ diag(λ) U`` (``U = kve_t``) the designs are
    rotated once for all pairs (``U G``: one product for all markers) and each pair is whitened
    by its phenotype's ``w = (hsq·λ + 1 − hsq)^−1/2``; the small (k + p + 1)-column problems are
    solved batched (blocks of :data:`lmm.checks.EFFECTS_BLOCK_ELEMENTS`). Individuals ``M`` with a
    missing phenotype get ``y = 0`` and one indicator column each (``U e_i``, fixed, not reported),
    which fits them exactly: every estimate, SE, RSS and REML likelihood is the complete cases'
    (with the kinship's block ``K_oo``), and the residual degrees of freedom are ``n − |M| − d``.
    The indicators are profiled out of each pair's Gram matrix (its Schur complement,
    Frisch–Waugh–Lovell), so all pairs are solved together, one search of ``η`` for all, and the
    phenotypes with the same number of missing individuals are processed together whatever
    individuals they miss.
    A phenotype at ``hsq = 1`` on a singular kinship gets the limit ``hsq → 1`` (module Notes).

    Raises
    ------
    InputError
        Bad shapes or values; ``hsq = 1`` on a kinship whose null eigenvectors the fixed columns
        do not span (module Notes).
    """
    kva, kve_t, y, h, G, X, pi, mi = _effects_inputs(decomposition, hsq, pheno, genotypes, covar, pairs)
    n, q, k = G.shape
    p = X.shape[1]
    dosage = k == 1
    cnames = tuple(covar_names) if covar_names is not None else tuple(f"covar{j + 1}" for j in range(p))
    anames = ("dosage",) if dosage else (tuple(allele_names) if allele_names is not None else default_allele_names(k))
    if len(cnames) != p or len(anames) != k:
        raise InputError(f"{len(cnames)} covar_names for {p} covariates / {len(anames)} allele names for {k} alleles")
    missing = np.isnan(y)
    X1 = np.column_stack([np.ones(n), X])
    check_observed(X1, missing, k, p, cnames)
    n_obs = (~missing).sum(axis=0)
    shift = np.nanmean(y, axis=0) if y.size else np.zeros(y.shape[1])
    Uy = kve_t @ np.where(missing, 0.0, y - shift)                      # rotated y − its mean, (n, m)
    used, mi_used = np.unique(mi, return_inverse=True)                 # rotate only the markers fitted
    UG = (kve_t @ G[:, used].reshape(n, used.size * k)).reshape(n, used.size, k)
    UN = None
    if null_covar is not None:
        N = as_matrix(null_covar, "null_covar", f"(n, r) with n = {n} rows", rows=n)
        check_finite(N, "null_covar")
        UN = (N, kve_t @ N)
    limit = h * kva.min(initial=np.inf) + (1.0 - h) <= 0               # hsq = 1 on a singular kinship
    if limit.any():
        for obs, cols in missing_patterns(missing, np.flatnonzero(limit)):
            check_limit(kve_t, kva, X1, np.setdiff1d(np.arange(n), obs), cols)
    fits = _PairFits(kve_t, kve_t @ X1, Uy, UG, k, p, shift, UN, X1, column_groups(missing, X1, UN))
    res = fits.run(Weights(h, kva, 1.0), pi, mi_used, blup)
    at = np.flatnonzero(limit[pi])
    if at.size:
        # the rows of zero variance weighted 2 instead of 1: same estimates; variances extrapolated
        res2 = fits.run(Weights(h, kva, 0.5), pi[at], mi_used[at], blup)
        for key in ("se", "blup_se") if blup else ("se",):
            res[key][at] = np.sqrt(np.maximum(2.0 * res2[key] ** 2 - res[key][at] ** 2, 0.0))
    return EffectsResult(pheno=pi, marker=mi, lod=res["lod"], coef=res["coef"], se=res["se"],
                         blup=res["blup"] if blup else None, blup_se=res["blup_se"] if blup else None,
                         qtl_hsq=res["eta"] if blup else None, names=anames + cnames + ("intercept",),
                         n_obs=n_obs[pi])


class _PairFits:
    """:func:`fit_effects`' work for one set of weights: the Gram of each pair (its phenotype's
    missing individuals' indicators profiled out), then fit1 and scan1blup of all pairs at once.
    Columns are processed by :class:`lmm.effects_columns.Group` (the same number of missing
    individuals), each pair with its own design ``F = [1, X, E]`` (rotated; ``E = kve_t[:, M]``
    its phenotype's indicators)."""

    def __init__(self, kve_t, F0, Uy, UG, k, p, shift, UN, X1, groups):
        self.kve_t, self.F0, self.Uy, self.UG = kve_t, F0, Uy, UG
        self.k, self.p, self.shift = k, p, shift
        self.UN, self.X1, self.groups = UN, X1, groups

    def run(self, omega, pi, mi_used, blup) -> dict:
        """Estimates of the pairs ``(pi, mi_used)`` with the squared whitening `omega` (m, n; rows
        are taken as ``omega[rows]``: a :class:`lmm.effects_columns.Weights`)."""
        k, p, shift = self.k, self.p, self.shift
        m, n = omega.shape
        t = k + p + 3                                                      # [G, 1, X, y, δ]
        T = np.empty((pi.size, t, t))
        rss0 = np.full(m, np.nan)
        n_obs = np.zeros(m)
        F0, U = self.F0, self.kve_t
        for g in self.groups:
            km = g.M.shape[1]
            f = 1 + p + km
            n_obs[g.cols] = n - km
            # per column: the Gram of its [1, X, E] and y (E = kve_t[:, M], its indicators), and
            # the null model's RSS (with the null covariates' columns kept for it, if any)
            c = g.cols.size
            FF, Fy, yy = np.empty((c, f, f)), np.empty((c, f)), np.empty(c)
            r = g.added.size
            step = max(1, EFFECTS_BLOCK_ELEMENTS // (n * (2 * (f + r) + 2)))
            for s0 in range(0, c, step):
                cc = slice(s0, min(s0 + step, c))
                cols = g.cols[cc]
                F = np.empty((cols.size, n, f + r))
                F[:, :, :1 + p] = F0[None]
                F[:, :, 1 + p:f] = np.moveaxis(U[:, g.M[cc]], 0, 1)
                if r:
                    F[:, :, f:] = self.UN[1][:, g.added][None]
                om = omega[cols]
                Uyc = self.Uy[:, cols].T                                    # (c, n)
                Fw = F * om[:, :, None]
                G = np.swapaxes(Fw, 1, 2) @ F                               # (c, f + r, f + r)
                b = np.einsum("cia,ci->ca", Fw, Uyc)
                yy[cc] = np.einsum("ci,ci,ci->c", om, Uyc, Uyc)
                FF[cc], Fy[cc] = G[:, :f, :f], b[:, :f]
                rss0[cols] = yy[cc] - np.einsum("ca,ca->c", b, np.linalg.solve(G, b[:, :, None])[:, :, 0])
            pos = np.full(m, -1)
            pos[g.cols] = np.arange(c)
            pairs = np.flatnonzero(pos[pi] >= 0)
            step = max(1, EFFECTS_BLOCK_ELEMENTS // (n * (3 * k + km + 3)))
            for s0 in range(0, pairs.size, step):
                sel = pairs[s0:s0 + step]
                j = pos[pi[sel]]
                T[sel] = self._grams(omega[pi[sel]], np.moveaxis(U[:, g.M[j]], 0, 1), self.Uy[:, pi[sel]].T,
                                     mi_used[sel], FF[j], Fy[j], yy[j])
        out = dict(zip(("coef", "se", "lod"), _gram_fixed(T, k, p, n_obs[pi], shift[pi], rss0[pi])))
        out |= {"blup": np.full((pi.size, k + p + 1), np.nan), "blup_se": np.full((pi.size, k + p + 1), np.nan),
                "eta": np.full(pi.size, np.nan)}
        if blup and pi.size:
            fx, gx, iy = np.arange(k, k + 1 + p), np.arange(k), k + 1 + p
            out["eta"], bb, sb = _blup_gram(T[:, fx][:, :, fx], T[:, fx][:, :, gx], T[:, :k, :k], T[:, fx, iy],
                                            T[:, :k, iy], T[:, iy, iy], n_obs[pi] - 1 - p, 1 + p, True)
            bb[:, 0] += shift[pi]
            order_c = np.r_[1 + p:1 + p + k, 1:1 + p, 0]                    # alleles, covariates, intercept
            out["blup"], out["blup_se"] = bb[:, order_c], sb[:, order_c]
        return out

    def _grams(self, om, E, Uy, marks, FF, Fy, yy):
        """Grams ``(b, t, t)`` of the whitened ``[G, 1, X, y, δ]`` of a block of pairs: weights `om`
        (b, n), indicators ``E`` (b, n, k_m), rotated phenotypes `Uy` (b, n), markers `marks` (b,) and
        their phenotypes' Grams of ``F = [1, X, E]`` and ``y`` (`FF`, `Fy`, `yy`); the indicators
        profiled out."""
        k, p, F0 = self.k, self.p, self.F0
        b, n = om.shape
        f = FF.shape[1]
        w = k + f + 2                                                      # [G, 1, X, E, y, δ]
        iy = k + f
        Gs = np.swapaxes(self.UG[:, marks], 0, 1)                           # (b, n, k)
        GwT = np.ascontiguousarray(np.swapaxes(Gs * om[:, :, None], 1, 2))  # (b, k, n)
        T = np.empty((b, w, w))
        T[:, :k, :k] = GwT @ Gs
        T[:, :k, k:k + 1 + p] = (GwT.reshape(b * k, n) @ F0).reshape(b, k, 1 + p)   # one product
        T[:, :k, k + 1 + p:iy] = GwT @ E
        T[:, :k, iy] = np.einsum("bki,bi->bk", GwT, Uy)
        T[:, k:iy, k:iy], T[:, k:iy, iy], T[:, iy, iy] = FF, Fy, yy
        # δ = 1 − Σ_a G_a: what the alleles miss of the intercept (rounding of the probabilities)
        delta = F0[:, 0][None, :] - Gs.sum(axis=2)
        dw = delta * om
        T[:, :k, -1] = np.einsum("bik,bi->bk", Gs, dw)
        T[:, k:k + 1 + p, -1] = dw @ F0
        T[:, k + 1 + p:iy, -1] = np.einsum("bi,bil->bl", dw, E)
        T[:, iy, -1] = np.einsum("bi,bi->b", dw, Uy)
        T[:, -1, -1] = np.einsum("bi,bi->b", dw, delta)
        upper = np.triu_indices(w, 1)
        T[:, upper[1], upper[0]] = T[:, upper[0], upper[1]]
        keep = np.r_[0:k + 1 + p, iy, iy + 1]                               # all but E
        Tk = T[:, keep][:, :, keep]
        if f > 1 + p:   # E profiled out (the Schur complement): the fits of the complete cases
            Ei = np.arange(k + 1 + p, iy)
            TE = T[:, keep][:, :, Ei]
            Tk = Tk - TE @ np.linalg.solve(T[:, Ei][:, :, Ei], np.swapaxes(TE, 1, 2))
        return Tk


def _gram_ls(T, d, rhs):
    """Least squares from a batched Gram matrix ``T`` (b, t, t): the columns ``d`` on each of ``rhs``.

    Returns ``B = (DᵀD)⁻¹DᵀR`` (b, |d|, |rhs|), ``(DᵀD)⁻¹``, the residual cross products
    ``S = RᵀR − RᵀD B`` and ``ok``: ``DᵀD`` of full rank, its smallest eigenvalue after scaling
    to unit diagonal above :data:`lmm.checks.EFFECTS_GRAM_RTOL` times its largest.
    """
    DD, DR, RR = T[:, d][:, :, d], T[:, d][:, :, rhs], T[:, rhs][:, :, rhs]
    sc = np.sqrt(np.diagonal(DD, axis1=1, axis2=2))
    sc = np.where(sc > 0, sc, 1.0)
    DDs = DD / sc[:, :, None] / sc[:, None, :]
    ev = np.linalg.eigvalsh(DDs)
    ok = ev[:, 0] > EFFECTS_GRAM_RTOL * ev[:, -1]
    C = np.linalg.inv(np.where(ok[:, None, None], DDs, np.eye(len(d)))) / sc[:, :, None] / sc[:, None, :]
    B = C @ DR
    return B, C, RR - np.swapaxes(DR, 1, 2) @ B, ok


def _gram_fixed(T, k, p, n_obs, shift, rss0):
    """fit1's estimates, SEs and LOD from the Gram ``T`` of ``[G, 1, X, E, y − shift, δ]`` (module Notes).

    Probabilities (``k > 1``): the design ``[G, X, E]``. The alleles span the intercept up to
    ``δ = 1 − Σ_a G_a`` (the rounding of the probabilities), so ``y = (y − shift) + shift·G·1 +
    shift·δ`` and, by linearity, ``b = b_y + shift·(1_k + b_δ)``, ``RSS = S_yy + 2·shift·S_yδ +
    shift²·S_δδ``, every term computed without cancellation. Dosages: ``[g, X, 1, E]``, which holds
    ``1``: the shift goes to the intercept.
    """
    t = T.shape[1]
    f = t - k - 2
    E = np.arange(k + 1 + p, k + f)
    if k == 1:
        d = np.r_[0, np.arange(2, 2 + p), 1, E]
        B, C, S, ok = _gram_ls(T, d, np.array([t - 2]))
        b, rss = B[:, :, 0], S[:, 0, 0]
        b[:, 1 + p] += shift
        dd = 2 + p
    else:
        d = np.r_[np.arange(k), np.arange(k + 1, k + 1 + p), E]
        B, C, S, ok = _gram_ls(T, d, np.array([t - 2, t - 1]))
        b = B[:, :, 0] + shift[:, None] * B[:, :, 1]
        b[:, :k] += shift[:, None]
        rss = S[:, 0, 0] + 2 * shift * S[:, 0, 1] + shift ** 2 * S[:, 1, 1]
        dd = k + p
    cov = C[:, :dd, :dd] * (rss / (n_obs - dd))[:, None, None]
    b = b[:, :dd]
    if k > 1:
        A = _zerosum_matrix(k, p)
        b, cov = b @ A.T, A @ cov @ A.T
    se = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        lod = n_obs / 2 * np.log10(rss0 / rss)
    return (np.where(ok[:, None], b, np.nan), np.where(ok[:, None], se, np.nan), np.where(ok, lod, np.nan))

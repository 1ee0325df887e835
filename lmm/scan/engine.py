r"""The scan engine: the one place where a chromosome's null fits, LODs and permutation maxima are made.

:func:`lmm.scan1`, :func:`lmm.scan1perm` and the workflow's scan job
(:func:`lmm.pipeline.genome_scan.scan_chunk`) differ only in where the genotypes and the
decompositions come from (arrays in memory; the memory-mapped genotype store, a tile of markers at
a time, and the scan_decompose stage's files). For one chromosome they all call, for each
decomposition and set of covariates:

1. :func:`fit_null_group`: the null fits of the phenotypes that share them (:func:`lmm.fit_lmm`,
   or :func:`lmm.fit_lmm_masked` when some values are missing, both with ``polish=True`` and
   ``start="grid"``: the profile on 21 points in one matrix product, then Newton on the score);
2. :func:`scan_tile`: the LODs of a tile of markers for all of them, in one
   :func:`lmm.scan.scan_rotated` call, each phenotype's missing individuals as indicator
   covariates of its own (``extra``);
3. :func:`update_permutation_maxima`: the maxima over a tile of markers of the permuted scans of
   each missing-data pattern (:func:`permutation_patterns`), for every replicate.

Units
-----
The scan is invariant to the units of ``y``: ``RSS0`` and ``RSS1`` do not change when ``Xb`` is
added to ``y``, and the LOD, a ratio of them, not when ``y`` is multiplied by ``c ≠ 0``; the
profile likelihood in ``hsq`` is invariant to both. :func:`standardize` therefore replaces each
phenotype by its least-squares residual on the covariates over its observed individuals
(a large mean removed first when the constants are in the span of ``X_o``, then projected twice
on the orthonormal basis of ``X_o``), multiplied by the power of two ``2^−e`` that brings its largest value into
[0.5, 1) (exact in floating point). ``y·1e200`` and ``y·1e-200`` (whose squares overflow or
underflow float64) and ``y + 1e9`` give the LODs and ``hsq`` of ``y``.

Permutation seeding
-------------------
The permutations of a phenotype depend on the seed and on the set of individuals it is observed
on, nothing else: for an observed mask ``o`` (bool, over the ``N`` individuals of the scan, in
their order), the stream is ``numpy.random.default_rng([seed, w_1, …, w_8])`` with ``w`` the eight
little-endian 32-bit words of ``SHA-256(N as 8 little-endian bytes ‖ numpy.packbits(o))``
(:func:`permutation_rng`), and replicate ``b`` is the ``b``-th ``rng.permutation(k)`` of the
``k`` observed individuals (:func:`draw_permutations`): observed individual ``o_i`` gets the
genotypes of ``o_{π_b(i)}``. So phenotypes observed on the same individuals share their
permutations (as R/qtl2's ``scan1perm`` does for a matrix of phenotypes), one rotation of the
permuted genotypes serves them all, and the thresholds of a phenotype change neither with the
other phenotypes of the data, nor with the chunk, batch or chromosome group it is scanned in,
nor between :func:`lmm.scan1perm` and the workflow. Every chromosome uses the same permutations,
so the maximum over chromosomes is the genome-wide maximum of one permuted data set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..checks import (COLLINEAR_RTOL, RANK_RTOL, SCAN_BLOCK_ELEMENTS, as_float_array, explained_residuals, pow2_scale,
                      rank_deficient_columns, times_pow2)
from ..errors import InputError
from ..fit import fit_lmm
from ..missing import fit_lmm_masked, missing_patterns
from ..rotation import EigenDecomposition
from .kernel import scan_rotated

__all__ = ["SCANNED_STATUSES", "NullGroup", "PermutedPattern", "marker_design", "interaction_design",
           "added_covariates", "added_columns", "standardize", "fit_null_group", "scan_tile",
           "permutation_rng", "draw_permutations", "permutation_patterns", "update_permutation_maxima"]

#: Null-fit statuses whose ``hsq`` is scanned; any other (``unbounded``, ``not_converged``) gives
#: NaN LODs.
SCANNED_STATUSES = ("ok", "flat_likelihood", "scale_overflow", "scale_underflow")


def marker_design(G, n_alleles: int, drop_allele: int | None = 0) -> np.ndarray:
    """The design of markers whose ``n_alleles`` columns lie together (marker-major).

    Parameters
    ----------
    G : ndarray, shape (n, q·n_alleles)
    n_alleles : int
        Columns per marker (1: dosages, kept as they are).
    drop_allele : int or None
        With ``n_alleles > 1``, the allele column left out of every marker (probabilities sum to
        one: collinear with the intercept; R/qtl2 leaves out the first); ``None`` keeps them all.

    Returns
    -------
    ndarray, shape (n, q·(n_alleles − 1)) (or ``G`` as float64 when nothing is dropped)
    """
    G = np.asarray(G, dtype=np.float64)
    if n_alleles == 1 or drop_allele is None:
        return G
    cols = np.arange(G.shape[1]).reshape(-1, n_alleles)
    return G[:, np.delete(cols, drop_allele, axis=1).ravel()]


def interaction_design(G, n_cols: int, Z) -> np.ndarray:
    """The designs of markers with interactive covariates: ``[g, g∘z_1, …, g∘z_k]`` per marker.

    Parameters
    ----------
    G : ndarray, shape (n, q·n_cols)
        Marker designs, marker-major (:func:`marker_design`).
    n_cols : int
        Columns per marker ``d``.
    Z : ndarray, shape (n, k)
        Interactive covariates (R/qtl2's ``intcovar``); they must also be additive covariates.

    Returns
    -------
    ndarray, shape (n, q·(k + 1)·d)
        Marker-major: marker ``j``'s ``(k + 1)·d`` columns are its ``d`` design columns, then
        each covariate times them. With allele probabilities the left-out allele is left out of the
        products as well: ``Σ_a g_a z = z`` is an additive covariate already.
    """
    G = np.asarray(G, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64).reshape(G.shape[0], -1)
    n, d = G.shape[0], int(n_cols)
    q = G.shape[1] // d
    W = np.hstack([np.ones((n, 1)), Z])
    return (G.reshape(n, q, 1, d) * W[:, None, :, None]).reshape(n, q * W.shape[1] * d)


def added_covariates(X, extra) -> np.ndarray:
    """``X`` with the columns of ``extra`` that are not linear combinations of ``X`` and the ones before.

    R/qtl2's rule for ``Xcovar`` (its columns already spanned by ``addcovar`` are dropped) and for
    ``intcovar`` columns that must be additive too. The rank rule is
    :func:`lmm.checks.rank_deficient_columns`.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Full column rank.
    extra : ndarray, shape (n, k), or None

    Returns
    -------
    ndarray, shape (n, p + k') with ``k' ≤ k``
    """
    X = np.asarray(X, dtype=np.float64)
    if extra is None:
        return X
    extra = np.asarray(extra, dtype=np.float64).reshape(X.shape[0], -1)
    return np.hstack([X, extra[:, added_columns(X, extra)]])


def added_columns(X, extra) -> np.ndarray:
    """Indices of the columns of ``extra`` (n, k) that :func:`added_covariates` keeps beside ``X`` (n, p)."""
    X = np.asarray(X, dtype=np.float64)
    extra = np.asarray(extra, dtype=np.float64).reshape(X.shape[0], -1)
    drop = {j - X.shape[1] for j in rank_deficient_columns(np.hstack([X, extra])) if j >= X.shape[1]}
    return np.array([j for j in range(extra.shape[1]) if j not in drop], dtype=np.intp)


@dataclass(frozen=True, eq=False)
class NullGroup:
    """The null fits of phenotypes that share a decomposition and covariates, ready to scan.

    Attributes
    ----------
    decomposition : EigenDecomposition
        Of the kinship of the group's ``n`` individuals.
    X_rot : ndarray, shape (n, p)
        ``kve_t @ X``.
    y_rot : ndarray, shape (n, m)
        ``kve_t @ y``, ``y`` standardised (:func:`standardize`) and zero where missing.
    missing : ndarray of bool, shape (n, m)
    hsq : ndarray, shape (m,)
    status : ndarray of str, shape (m,)
    n_obs : ndarray of int, shape (m,)
    scanned : ndarray of bool, shape (m,)
        Status in :data:`SCANNED_STATUSES`.
    extra, extra_used : ndarray (n, r) and bool (r, m_s), or None
        ``kve_t[:, M]`` for the rows ``M`` some scanned phenotype misses, and which of them each
        scanned phenotype misses (:func:`lmm.scan.scan_rotated`'s arguments).
    """

    decomposition: EigenDecomposition
    X_rot: np.ndarray
    y_rot: np.ndarray
    missing: np.ndarray
    hsq: np.ndarray
    status: np.ndarray
    n_obs: np.ndarray
    scanned: np.ndarray
    extra: np.ndarray | None
    extra_used: np.ndarray | None

    @property
    def n(self) -> int:
        """Individuals of the decomposition."""
        return int(self.y_rot.shape[0])


@dataclass(frozen=True, eq=False)
class PermutedPattern:
    """The scanned phenotypes of a group observed on the same individuals, and their permutations.

    Attributes
    ----------
    cols : ndarray of int, shape (m_p,)
        Their columns in the group.
    observed : ndarray of int, shape (k,)
        Rows (of the group's decomposition) they are observed on.
    perms : ndarray of int, shape (n_perm, k)
        :func:`draw_permutations`.
    y_rot : ndarray, shape (n, m_p)
    X_rot : ndarray, shape (n, p + n − k)
        Rotated covariates and one indicator per missing row (``kve_t[:, i]``).
    hsq : ndarray, shape (m_p,)
    """

    cols: np.ndarray
    observed: np.ndarray
    perms: np.ndarray
    y_rot: np.ndarray
    X_rot: np.ndarray
    hsq: np.ndarray


def standardize(y, X, missing) -> np.ndarray:
    """Each column's least-squares residual on ``X`` over its observed rows, scaled by a power of two.

    Parameters
    ----------
    y : ndarray, shape (n, m)
    X : ndarray, shape (n, p)
        Full column rank on every column's observed rows.
    missing : ndarray of bool, shape (n, m)

    Returns
    -------
    ndarray, shape (n, m)
        ``(y_o − X_o (X_oᵀX_o)⁻¹ X_oᵀ y_o) · 2^−e`` on the observed rows (the projection applied
        twice; ``e`` from :func:`lmm.checks.pow2_scale`), NaN elsewhere.

    Raises
    ------
    InputError
        A column the covariates explain exactly (:func:`lmm.checks.explained_residuals`, the rule
        of the fits), or covariates collinear on a column's observed rows.

    Notes
    -----
    ``y_o`` is first scaled by a power of two (exact) so that ``max|y_o|`` is in [0.5, 1); when
    the constants are in the span of ``X_o``, the mean of the observed values is subtracted before
    the projection (a constant: the residual does not change, and a large mean, ``y + 1e9``, leaves
    no rounding error of its size outside the span of ``X``).

    All columns at once: with ``X = QR`` over all rows and ``y`` zero where missing, the projection
    of column ``j`` on ``span(X_o)`` is ``Q_o γ``, ``γ = (I − Q_MᵀQ_M)⁻¹ Qᵀy`` (``Q_oᵀQ_o = I − Q_MᵀQ_M``,
    ``M`` its missing rows), so no column needs a factorisation of its own; for the columns that
    miss nothing ``Q_oᵀQ_o = I`` and the projection is ``Q Qᵀy`` (two matrix products for all).
    The residual is formed once, of ``y_o`` less its mean where the constants are in
    ``span(X_o)``, and tested by :func:`lmm.checks.explained_residuals` against ``y_o``.
    """
    obs = ~np.asarray(missing, dtype=bool)
    n, m = obs.shape
    # Fresh (n, m) arrays cost page faults comparable to the arithmetic: three are made, the
    # rest is done in place.
    y0 = np.where(obs, y, 0.0)
    times_pow2(y0, -pow2_scale(y0, axis=0)[None, :], out=y0)          # exact: max|y_o| in [0.5, 1)
    Q, _ = np.linalg.qr(X)
    complete = obs.all(axis=0)
    # the columns that miss a value and the others: indices, or a slice (a view) for all columns
    part = slice(None) if not complete.any() else np.flatnonzero(~complete)
    full = slice(None) if complete.all() else np.flatnonzero(complete)
    # Q_oᵀQ_o per column that misses a value: I − Σ over its missing rows of q_i q_iᵀ
    QtQ = np.eye(Q.shape[1])[None] - np.einsum("ij,ia,ib->jab", ~obs[:, part], Q, Q, optimize=True)
    n_part = QtQ.shape[0]
    n_full = m - n_part
    # σ_min(Q_o) ≤ RANK_RTOL: a dimension of X lost on the observed rows (the rank rule of lmm.checks)
    lost = np.linalg.eigvalsh(QtQ)[:, 0] <= RANK_RTOL ** 2
    if lost.any():
        j = int(np.arange(m)[part][np.flatnonzero(lost)[0]])
        raise InputError(f"the covariates are collinear on the observed individuals of phenotype column {j}")

    def residual(v, cols, solve):
        """``v`` (n, k), overwritten, less its projection on ``span(X_o)`` (twice) for the columns
        ``cols``, zero where missing (``solve``: they miss values, ``Q_oᵀQ_o ≠ I``)."""
        tmp = np.empty_like(v)
        for _ in range(2):
            g = Q.T @ v                                              # (p, k)
            if solve:
                g = np.linalg.solve(QtQ, g.T[:, :, None])[:, :, 0].T
            np.matmul(Q, g, out=tmp)
            v -= tmp
            if solve:
                v *= obs[:, cols]
        return v

    # the constants in span(X_o) (one test for all complete columns)
    const = np.zeros(m, dtype=bool)
    if n_full:
        ones = np.ones((n, 1))
        const[full] = explained_residuals(residual(ones.copy(), None, False), ones)[0]
    if n_part:
        ones = obs[:, part].astype(float)
        const[part] = explained_residuals(residual(ones.copy(), part, True), ones)
    mean = np.where(const, y0.sum(axis=0) / np.maximum(obs.sum(axis=0), 1), 0.0)   # of the observed values
    # the residual, of y_o less its mean where the constants are in span(X_o): a large mean
    # (y + 1e9) then leaves no rounding error of its size outside span(X)
    if n_part == 0:
        r = residual(np.subtract(y0, mean), full, False)
    elif n_full == 0:
        r = residual(np.subtract(y0, mean) * obs, part, True)
    else:
        r = np.empty_like(y0)
        r[:, full] = residual(y0[:, full] - mean[full], full, False)
        r[:, part] = residual((y0[:, part] - mean[part]) * obs[:, part], part, True)
    bad = explained_residuals(r, y0)
    if bad.any():
        raise InputError(f"phenotype column {int(np.argmax(bad))} is explained exactly by the covariates")
    times_pow2(r, -pow2_scale(r, axis=0)[None, :], out=r)
    np.copyto(r, np.nan, where=~obs)
    return r


def fit_null_group(decomposition: EigenDecomposition, y, X, *, reml=True, tol=1e-4) -> NullGroup:
    """The null fits of phenotypes sharing a decomposition and covariates (one call for all).

    Parameters
    ----------
    decomposition : EigenDecomposition
        Of the kinship of the ``n`` individuals (rows of ``y`` and ``X``).
    y : array_like, shape (n, m)
        Phenotypes, NaN where missing (each column fitted on its observed individuals).
    X : array_like, shape (n, p)
        Covariates (not rotated), full column rank on every column's observed individuals.
    reml, tol
        As in :func:`lmm.fit_lmm`; the optimum is polished (``polish=True``) from the best point
        of a 21-point grid (``start="grid"``, :mod:`lmm.search` note 1); ``tol`` serves only the
        columns that start from Brent's search (a maximum just below 1 with a singular K, or
        five or more missing values).

    Returns
    -------
    NullGroup

    Notes
    -----
    ``y`` is first standardised (:func:`standardize`; module notes: units). Without missing
    values: :func:`lmm.fit_lmm` on ``(kve_t y, kve_t X)``; with some: :func:`lmm.fit_lmm_masked`
    (exact, from the same decomposition). A phenotype missing the rows ``M_j`` is scanned with the
    indicators ``e_i`` (``i ∈ M_j``) as covariates of its own and ``y`` zero there: the fits are
    those of its complete cases (:func:`lmm.scan.scan_rotated`, ``extra``).
    """
    y = as_float_array(y, "y")
    y = y[:, None] if y.ndim == 1 else y
    X = as_float_array(X, "X")
    kve_t = decomposition.kve_t
    missing = np.isnan(y)
    ys = standardize(y, X, missing)
    X_rot = kve_t @ X
    y_rot = kve_t @ np.where(missing, 0.0, ys)
    options = dict(reml=reml, tol=tol, compute_ci=False, polish=True, start="grid")
    if missing.any():
        fit = fit_lmm_masked(decomposition, ys, X, **options, y_rot=y_rot)
    else:
        fit = fit_lmm(decomposition.kva, y_rot, X_rot, **options)
    hsq = np.atleast_1d(np.asarray(fit.hsq, dtype=float))
    status = np.atleast_1d(np.asarray(fit.status)).astype(str)
    scanned = np.isin(status, SCANNED_STATUSES)
    union = np.flatnonzero(missing[:, scanned].any(axis=1))
    extra = kve_t[:, union] if union.size else None
    used = missing[np.ix_(union, np.flatnonzero(scanned))] if union.size else None
    return NullGroup(decomposition, X_rot, y_rot, missing, hsq, status,
                     (~missing).sum(axis=0), scanned, extra, used)


def scan_tile(group: NullGroup, G_rot, n_cols=1, *, collinear_rtol=COLLINEAR_RTOL,
              block_elements=SCAN_BLOCK_ELEMENTS, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """LOD and degrees of freedom of a tile of markers for every phenotype of a group.

    Parameters
    ----------
    group : NullGroup
    G_rot : ndarray, shape (n, q·n_cols)
        Rotated marker designs (``kve_t @ G``), marker-major.
    n_cols : int
        Design columns per marker ``d``.
    collinear_rtol, block_elements, progress
        See :func:`lmm.scan.scan_rotated`.

    Returns
    -------
    lod : ndarray, shape (q, m)
        ``LOD_kj = (n_j / 2) · log10(RSS0_j / RSS1_kj)`` on phenotype ``j``'s ``n_j`` complete
        cases; NaN for a phenotype whose null fit is not scanned (:data:`SCANNED_STATUSES`).
    df : ndarray of int16, shape (q, m)
        Columns kept for each marker and phenotype (0 where not scanned).

    Notes
    -----
    One :func:`lmm.scan.scan_rotated` call: it works on all ``n`` rows, the indicators fitting the
    missing ones exactly, so its ``(n/2)·log10(RSS0/RSS1)`` is rescaled by ``n_j / n``.
    """
    d = int(n_cols)
    q = G_rot.shape[1] // d
    m = group.hsq.size
    js = np.flatnonzero(group.scanned)
    if not js.size:
        return np.full((q, m), np.nan), np.zeros((q, m), dtype=np.int16)
    every = js.size == m
    res = scan_rotated(group.decomposition.kva, group.y_rot if every else group.y_rot[:, js], group.X_rot,
                       group.hsq if every else group.hsq[js], G_rot, d, extra=group.extra,
                       extra_used=group.extra_used, collinear_rtol=collinear_rtol,
                       block_elements=block_elements, progress=progress)
    scaled = np.multiply(res.lod, group.n_obs[js] / group.n, dtype=float)
    kept = np.broadcast_to(res.df if res.df.ndim == 2 else res.df[:, None], (q, js.size)).astype(np.int16)
    if every:   # the kernel's arrays, rescaled: no copy into a (q, m) array
        return scaled, kept
    lod = np.full((q, m), np.nan)
    df = np.zeros((q, m), dtype=np.int16)
    lod[:, js], df[:, js] = scaled, kept
    return lod, df


def permutation_rng(seed, observed, region: str | None = None) -> np.random.Generator:
    """The permutation stream of the phenotypes observed on ``observed`` (module notes).

    Parameters
    ----------
    seed : int
        Non-negative (config ``scan_seed``; :func:`lmm.scan1perm`'s ``seed``).
    observed : array_like of bool, shape (N,)
        The individuals observed, over all ``N`` individuals of the scan, in their order.
    region : str, optional
        A region permuted on its own (``"X"``: R/qtl2's ``perm_Xsp``): its name (UTF-8) is
        appended to the hashed bytes, so its stream is independent of the genome's. ``None``
        (the genome, or the autosomes) appends nothing.

    Returns
    -------
    numpy.random.Generator
        ``default_rng([seed, *words])``, ``words`` the eight little-endian uint32 words of
        ``SHA-256(N.to_bytes(8, 'little') + packbits(observed) [+ region])``: the same on every
        platform.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise InputError(f"the permutation seed must be a non-negative integer, got {seed!r}")
    observed = np.asarray(observed, dtype=bool).ravel()
    data = int(observed.size).to_bytes(8, "little") + np.packbits(observed).tobytes()
    digest = hashlib.sha256(data + (region.encode("utf-8") if region else b"")).digest()
    words = np.frombuffer(digest, dtype="<u4").tolist()
    return np.random.default_rng([int(seed), *words])


def draw_permutations(seed, observed, n_perm, strata=None, region: str | None = None) -> np.ndarray:
    """``(n_perm, k)`` permutations of the ``k`` observed individuals (:func:`permutation_rng`).

    Without strata, replicate ``b`` is the ``b``-th ``rng.permutation(k)``. With ``strata`` (one
    label per observed individual, shape (k,)), replicate ``b`` draws ``u = rng.random(k)`` and
    shuffles within strata: the individuals of a stratum, in their order, receive its members
    sorted by ``u`` (R/qtl2's ``perm_strata``; individuals only exchange genotypes with their own
    stratum).
    """
    rng = permutation_rng(seed, observed, region)
    k = int(np.count_nonzero(observed))
    n_perm = int(n_perm)
    if not n_perm:
        return np.empty((0, k), np.intp)
    if strata is None:
        return np.stack([rng.permutation(k) for _ in range(n_perm)])
    strata = np.asarray(strata).ravel()
    if strata.size != k:
        raise InputError(f"{strata.size} strata labels for {k} observed individuals")
    base = np.argsort(strata, kind="stable")
    out = np.empty((n_perm, k), dtype=np.intp)
    for b in range(n_perm):
        out[b, base] = np.lexsort((rng.random(k), strata))
    return out


def permutation_patterns(group: NullGroup, seed, n_perm, rows=None, n_all=None, strata=None,
                         region: str | None = None) -> list[PermutedPattern]:
    """The scanned phenotypes of ``group`` by missing-data pattern, each with its permutations.

    Parameters
    ----------
    group : NullGroup
    seed, n_perm
        :func:`draw_permutations`.
    rows : ndarray of int, shape (n,), optional
        Positions of the group's individuals among the ``n_all`` individuals of the scan (default:
        they are all of them, in order); the seed's mask is over those ``n_all``.
    n_all : int, optional
    strata : array_like, shape (n,), optional
        A stratum label for each of the group's individuals (:func:`draw_permutations`).
    region : str, optional
        :func:`permutation_rng`.

    Returns
    -------
    list of PermutedPattern
        In order of first appearance of the pattern among the group's columns.
    """
    n = group.n
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.intp)
    mask = np.zeros(n if n_all is None else int(n_all), dtype=bool)
    kve_t = group.decomposition.kve_t
    out = []
    for obs, cols in missing_patterns(group.missing, np.flatnonzero(group.scanned)):
        mask[:] = False
        mask[rows[obs]] = True
        gone = np.setdiff1d(np.arange(n), obs)
        labels = None if strata is None else np.asarray(strata)[obs]
        out.append(PermutedPattern(cols, obs, draw_permutations(seed, mask, n_perm, labels, region), group.y_rot[:, cols],
                                   np.hstack([group.X_rot, kve_t[:, gone]]), group.hsq[cols]))
    return out


def update_permutation_maxima(perm_max, into, group: NullGroup, pattern: PermutedPattern, G, n_cols=1, *,
                              interactive=None, collinear_rtol=COLLINEAR_RTOL,
                              block_elements=SCAN_BLOCK_ELEMENTS, progress=None) -> None:
    """Raise ``perm_max[:, into]`` to the maxima of a tile's permuted scans, replicate by replicate.

    Parameters
    ----------
    perm_max : ndarray, shape (n_perm, M)
        Maxima so far (``-inf`` at first), updated in place.
    into : ndarray of int, shape (m_p,)
        The columns of ``perm_max`` of ``pattern``'s phenotypes.
    group, pattern
        :func:`fit_null_group`, :func:`permutation_patterns`.
    G : ndarray, shape (n, q·n_cols)
        The tile's marker designs, **not** rotated, rows those of the group's decomposition.
    interactive : ndarray, shape (n, k), optional
        Interactive covariates (:func:`interaction_design`), rows those of the decomposition: they
        stay with their individuals while the genotypes are permuted (R/qtl2's ``scan1perm`` with
        ``intcovar``).
    progress : callable (int) -> None, optional
        Called after each block of replicates with the replicates done so far.

    Notes
    -----
    Replicate ``b`` scans ``G_b`` with ``G_b[o_i] = G[o_{π_b(i)}]`` on the observed rows and zero
    on the others (their indicators fit them whatever their genotypes), with the null ``hsq`` of
    the real data; LODs scaled by ``k / n``. The permuted designs of a block of replicates are
    rotated by one product and scanned as extra markers.
    """
    d = int(n_cols)
    n, width = G.shape
    n_perm = pattern.perms.shape[0]
    obs = pattern.observed
    grow = 1 if interactive is None else 1 + np.asarray(interactive).reshape(n, -1).shape[1]
    nb = max(1, min(n_perm, block_elements // max(1, 2 * n * width * grow)))
    kve_t = group.decomposition.kve_t
    for b0 in range(0, n_perm, nb):
        b1 = min(n_perm, b0 + nb)
        Gp = np.zeros((n, (b1 - b0) * width))
        for r, b in enumerate(range(b0, b1)):
            Gp[obs, r * width:(r + 1) * width] = G[obs[pattern.perms[b]]]
        if interactive is not None:
            Gp = interaction_design(Gp, d, interactive)
        res = scan_rotated(group.decomposition.kva, pattern.y_rot, pattern.X_rot, pattern.hsq, kve_t @ Gp, d * grow,
                           collinear_rtol=collinear_rtol, block_elements=block_elements)
        mx = (res.lod * (obs.size / n)).reshape(b1 - b0, width // d, -1).max(axis=1)
        perm_max[b0:b1, into] = np.maximum(perm_max[b0:b1, into], mx)
        if progress is not None:
            progress(b1)

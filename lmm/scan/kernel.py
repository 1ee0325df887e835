r"""The scan kernel: LOD scores of every marker for many phenotypes on eigen-rotated data, hsq fixed.

The engine (:mod:`lmm.scan.engine`) fits the null models and calls :func:`scan_rotated` tile by
tile; the drivers :func:`lmm.scan1` and :func:`lmm.scan1perm` and the workflow's scan job call the
engine.

Model
-----
For phenotype ``j`` (observed on ``n_j`` individuals) and a chromosome ``c``::

    null:         y = Xβ + ε
    alternative:  y = Xβ + G_k α + ε,     ε ~ N(0, σ² (hsq_j·K_c + (1 − hsq_j)·I))

``X`` (n, p) are the covariates (an intercept at least), ``G_k`` (n, d) the
design of marker ``k`` on ``c`` (a dosage, ``d = 1``, or allele probabilities,
``d = k − 1`` after one allele column is dropped: see :func:`scan1`), and
``K_c`` the kinship that leaves chromosome ``c`` out (LOCO) or the overall one.
``hsq_j`` is estimated once per phenotype and chromosome under the null
(REML by default) and then held fixed at every marker of ``c``, as R/qtl2's
``scan1`` does with a kinship (Broman et al. 2019); ``σ²`` and the fixed
effects are re-estimated at each marker. The score is::

    LOD_jk = (n_j / 2) · log10(RSS0_j / RSS1_jk)

the log10 likelihood ratio of the two models at their ML estimates of ``β``,
``α``, ``σ²`` with ``hsq_j`` fixed (the ``Σ log aᵢ`` terms cancel). With
``d`` the marker's degrees of freedom, ``2·ln(10)·LOD`` is the likelihood-ratio
statistic, compared with ``χ²_d`` (:func:`lod_to_pvalue`).

Algebra
-------
``K = U diag(λ) Uᵀ``. Rotating by ``Uᵀ`` (``ỹ = Uᵀy``, ``X̃ = UᵀX``,
``G̃ = UᵀG``) makes the covariance diagonal, so both fits are weighted least
squares with phenotype-specific weights ``w_ij = 1 / (hsq_j λ_i + 1 − hsq_j)``.
Write ``⟨a, b⟩_j = Σ_i w_ij a_i b_i``. With ``e_j`` the weighted residual of the
null fit (``RSS0_j = ⟨e_j, e_j⟩_j``) and the partial-regression (Schur
complement) identities, for a marker with columns ``g_1 .. g_d``::

    r_a   = ⟨g_a, e⟩                                         (d,)
    S_ab  = ⟨g_a, g_b⟩ − ⟨g_a, X⟩ A⁻¹ ⟨X, g_b⟩,  A = ⟨X, X⟩   (d, d)
    RSS1  = RSS0 − rᵀ S⁻¹ r

Every ``⟨·,·⟩`` over all markers and phenotypes of a block is one matrix
product of a (markers × n) by an (n × phenotypes) matrix:
``r = G̃ᵀ (W ∘ E)``, ``⟨g_a, g_b⟩ = (g̃_a ∘ g̃_b)ᵀ W`` for the ``d(d+1)/2``
column pairs, and ``Z_l = G̃ᵀ (W ∘ v_l)`` with ``V = Q L⁻ᵀ`` the covariates
made W-orthonormal per phenotype (``L Lᵀ = A``), so that
``⟨g_a, X⟩ A⁻¹ ⟨X, g_b⟩ = Σ_l Z_la Z_lb``. The left factors of ``r`` and of
every ``Z_l`` are stacked into one matrix, so a 1-df scan is two GEMMs worth
``2 + p`` phenotype-by-marker products, followed by elementwise algebra; the ``d × d``
matrices ``S`` of all (marker, phenotype) pairs are factored together by a
Cholesky written over the stacked arrays (a loop over the ``d(d+1)/2``
entries, never over markers or phenotypes).

Phenotype-specific covariates
-----------------------------
``scan_rotated(..., extra=H, extra_used=used)`` gives phenotype ``j`` the
covariates ``[X, H_j]`` (``H_j`` the columns of ``H`` it uses): its extras are
made W-orthonormal against ``V`` and each other (``V1_j``), ``E`` and ``S``
lose their part (``S_j −= Σ_e z_e z_eᵀ``, ``z_e = G̃ᵀ(W_j ∘ v1_e)``, rows
added to the stacked product), and the collinearity rule below is applied
per phenotype after them. With ``H = Uᵀ[e_i]`` for the individuals ``i`` a
phenotype misses (and ``y`` zero there), the indicator ``e_i`` fits its
individual exactly and the fits are those of the complete cases, with every
missing-data pattern sharing one decomposition and one set of products.

Numerical care
--------------
* The covariates are replaced by an orthonormal basis ``Q`` (thin QR of
  ``X̃``); ``A = QᵀWQ`` is factored by Cholesky per phenotype.
* ``ỹ`` and every marker column are first residualised on ``Q`` in the
  *unweighted* metric (``g ← g − Q Qᵀg``, which leaves the LOD unchanged),
  and the marker columns are scaled to unit norm (the LOD is invariant to
  it). The weighted subtraction in ``S`` then removes only what the weights
  re-introduce, so it cannot cancel more than ``max w / min w`` allows, and a
  large dosage mean or a column nearly equal to a covariate loses no digits
  to ``⟨g, g⟩ − …``.
* ``r`` is formed from the weighted null residual ``e`` itself, never as
  ``gᵀWy − gᵀWX A⁻¹XᵀWy``; ``RSS1/RSS0 = 1 − rᵀS⁻¹r / RSS0`` enters the LOD
  through ``log1p``, exact for small LODs.
* **Collinearity.** A marker column whose part outside the span of the
  covariates and of the marker's earlier columns has squared norm at most
  ``collinear_rtol`` (default ``1e-12``) times its own squared norm (measured
  unweighted, as the product of the fraction left by the covariates and the
  fraction left by the earlier columns) is dropped: it adds nothing the model
  does not already have. The marker's degrees of freedom ``df`` count the
  columns kept; a marker with ``df = 0`` (for example identical to a
  covariate, or monomorphic) gets ``LOD = 0`` exactly, the likelihood ratio of
  two identical models. The threshold (a relative deviation of ``1e-6`` in
  norm) sits well above the ``≈1e-15`` resolution of the computation, so
  kept columns give LODs accurate to about ``1e-16 / sqrt(fraction)``
  relative. (R/qtl2 drops columns at a QR tolerance of ``1e-12`` in norm;
  the two rules differ only for markers within ``1e-6`` of collinear.) With
  many covariates the scan runs on error contrasts (:mod:`lmm.scan.contrasts`),
  with the same rule and the same LODs.

References
----------
Kang HM et al. (2008) Efficient control of population structure in model
organism association mapping. Genetics 178:1709–1723.
Churchill GA, Doerge RW (1994) Empirical threshold values for quantitative
trait mapping. Genetics 138:963–971.
Broman KW et al. (2019) R/qtl2: software for mapping quantitative trait loci
with high-dimensional data and multiparent populations. Genetics 211:495–502.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..checks import (COLLINEAR_RTOL, SCAN_BLOCK_ELEMENTS, as_float_array, as_matrix, check_finite, check_hsq, check_kva,
                      check_tol, check_X)
from ..errors import InputError
from ..rotation import EigenDecomposition
from .contrasts import transform, worthwhile

__all__ = ["COLLINEAR_RTOL", "ScanResult", "scan_rotated", "rotate_genotypes", "lod_to_pvalue"]


_LN10 = float(np.log(10.0))


@dataclass(frozen=True, eq=False)
class ScanResult:
    """Result of :func:`scan_rotated`.

    Attributes
    ----------
    lod : ndarray, shape (q, m)
        LOD of marker ``k`` for phenotype ``j`` (``None`` when ``reduce='max'``).
    df : ndarray of int, shape (q,), or (q, m) with phenotype-specific covariates
        Design columns kept for each marker (its degrees of freedom); 0 means
        the marker is collinear with the covariates and its LOD is 0.
    rss0 : ndarray, shape (m,)
        Weighted residual sum of squares of the null model.
    n : int
        Individuals.
    max_lod, argmax : ndarray, shape (m,)
        Largest LOD over the markers and the (first) marker reaching it.
    """

    lod: np.ndarray | None
    df: np.ndarray
    rss0: np.ndarray
    n: int
    max_lod: np.ndarray
    argmax: np.ndarray


@dataclass(frozen=True, eq=False)
class _Null:
    """The null fit of a phenotype block at fixed ``hsq``, in the rotated space."""

    n: int
    Q: np.ndarray        # (n, p) orthonormal basis of the covariates
    W: np.ndarray        # (n, m) weights
    WE: np.ndarray       # (n, m) weights ∘ weighted null residuals
    Linv: np.ndarray     # (m, p, p) inverse Cholesky factor of A = QᵀWQ
    rss0: np.ndarray     # (m,)
    W1: np.ndarray       # (m + 1, n): Wᵀ and a row of ones
    A: np.ndarray        # (m(1 + p) + R, n): (W ∘ E)ᵀ, then W ∘ V0_l for each l, then the extras' W ∘ V1
    extras: "_Extras | None" = None


@dataclass(frozen=True, eq=False)
class _Extras:
    """The phenotype-specific covariates of a block (``extra_used``), rows ordered by owner.

    Each owner's rows are contiguous, in the order of ``owners``.
    """

    owners: np.ndarray   # (n_own,) phenotypes (of the block) with extra covariates
    gidx: np.ndarray     # (R, kmax) extra columns entering the row's unweighted whitening
    coef: np.ndarray     # (R, kmax) their coefficients (zero-padded)
    by_count: list       # (positions in owners, first rows, k) of the owners with k rows each

    def owner_sums(self, A):
        """``Σ`` of the rows of ``A`` (R, …) of each owner: (n_own, …), by the owners' number of rows
        (one gather per row position: ``np.add.reduceat`` over the first axis is several times
        slower, and most owners have one or two rows)."""
        out = np.empty((self.owners.size, *A.shape[1:]))
        for pos, first, k in self.by_count:
            acc = A[first]
            for t in range(1, k):
                acc += A[first + t]
            out[pos] = acc
        return out


def _null(kva, y, Q, hsq, H=None, used=None, HH=None, QH=None, n_obs=None) -> _Null:
    n = y.shape[0]
    a = hsq[None, :] * kva[:, None] + (1.0 - hsq)[None, :]
    if (a <= 0).any():
        j = int(np.flatnonzero((a <= 0).any(axis=0))[0])
        raise InputError(f"hsq of phenotype column {j} is 1 and the kinship is singular: "
                         "some rotated observations have zero variance")
    W = 1.0 / a
    yr = y - Q @ (Q.T @ y)
    yr -= Q @ (Q.T @ yr)
    p = Q.shape[1]
    QQ = (Q[:, :, None] * Q[:, None, :]).reshape(n, p * p)
    A = (W.T @ QQ).reshape(W.shape[1], p, p)
    L = np.linalg.cholesky(A)
    Linv = np.linalg.inv(L)
    b = (W * yr).T @ Q                                     # (m, p)
    z = np.einsum("jkl,jl->jk", Linv, b)
    c = np.einsum("jlk,jl->jk", Linv, z)                   # A⁻¹ b
    E = yr - Q @ c.T
    extras, WV1t = None, np.empty((0, n))
    if used is not None and used.any():
        extras, WV1t = _null_extras(Q, W, Linv, E, H, used, HH, QH)
    WE = W * E
    rss0 = np.einsum("ij,ij->j", WE, E)
    if (rss0 <= 0).any():
        j = int(np.flatnonzero(rss0 <= 0)[0])
        raise InputError(f"phenotype column {j} is explained exactly by the covariates")
    W1 = np.empty((W.shape[1] + 1, n))
    W1[:-1] = W.T
    W1[-1] = 1.0
    # the left factors of every product with a marker block but the Gram entries, stacked: one
    # matrix product gives r = ⟨g, e⟩ and Z_l = ⟨g, v0_l⟩ with V0 = Q L⁻ᵀ (W-orthonormal
    # covariates), and the extras' Z
    m, p = W.shape[1], Q.shape[1]
    A = np.empty((m * (1 + p) + WV1t.shape[0], n))
    A[:m] = WE.T
    Wt = W1[:m]
    for l in range(p):
        V = A[m * (1 + l):m * (2 + l)]
        np.multiply(Wt, (Linv[:, l, 0][:, None] * Q[:, 0][None, :]), out=V)
        for k in range(1, l + 1):
            V += Wt * (Linv[:, l, k][:, None] * Q[:, k][None, :])
    A[m * (1 + p):] = WV1t
    return _Null(n if n_obs is None else n_obs, Q, W, WE, Linv, rss0, W1, A, extras)


def _null_extras(Q, W, Linv, E, H, used, HH, QH) -> tuple[_Extras, np.ndarray]:
    """Whiten each phenotype's extra covariates against ``Q`` and update its residual ``E`` in place;
    returns the extras' record and their left factors ``W_j ∘ v1_e`` (R, n), owner-major.

    For phenotype ``j`` with extra columns ``H_j`` (n, k): ``V0 = Q L⁻ᵀ`` is the W-orthonormal
    basis of the covariates (``L Lᵀ = QᵀWQ``), ``M = V0ᵀ W H_j``, ``H_r = H_j − V0 M`` and
    ``V1 = H_r L1⁻ᵀ`` with ``L1 L1ᵀ = H_rᵀ W H_r = H_jᵀWH_j − MᵀM``; then ``E ← E − V1 V1ᵀ W E``.
    The unweighted whitening of ``(I − QQᵀ) H_j`` (for the collinearity rule) is
    ``Lu⁻¹`` with ``Lu Luᵀ = H_jᵀH_j − (QᵀH_j)ᵀ(QᵀH_j)``. Phenotypes with the same number of extra
    columns are processed together.
    """
    n = Q.shape[0]
    owners = np.flatnonzero(used.any(axis=0))
    ks = used[:, owners].sum(axis=0)
    ej = np.nonzero(used[:, owners].T)[1]          # extra columns, owner-major, increasing
    starts = np.concatenate([[0], np.cumsum(ks)[:-1]]).astype(np.intp)
    R, kmax = int(ks.sum()), int(ks.max())
    WV1t = np.empty((R, n))
    gidx = np.zeros((R, kmax), dtype=np.intp)
    coef = np.zeros((R, kmax))
    by_count = []
    for k in np.unique(ks).tolist():
        g = np.flatnonzero(ks == k)
        by_count.append((g, starts[g], k))
        js = owners[g]
        rows = starts[g][:, None] + np.arange(k)                    # (ng, k)
        idx = ej[rows]                                              # (ng, k)
        Hg = H[:, idx]                                              # (n, ng, k)
        w = W[:, js]
        Li = Linv[js]
        M = np.einsum("glm,gmk->glk", Li, np.einsum("il,igk->glk", Q, w[:, :, None] * Hg))
        Gw = np.einsum("ig,igk,igl->gkl", w, Hg, Hg) - np.einsum("gmk,gml->gkl", M, M)
        QHg = QH[:, idx]                                            # (p, ng, k)
        Gu = HH[idx[:, :, None], idx[:, None, :]] - np.einsum("lgk,lgm->gkm", QHg, QHg)
        try:
            L1inv = np.linalg.inv(np.linalg.cholesky(Gw))
            Luinv = np.linalg.inv(np.linalg.cholesky(Gu))
        except np.linalg.LinAlgError:
            bad = [int(j) for j in js if not _positive_definite(Gw, Gu, js, j)]
            raise InputError(f"phenotype column {bad[0] if bad else int(js[0])}: its extra covariates "
                             "are collinear with each other or with X") from None
        Hr = Hg - np.einsum("il,glk->igk", Q, np.einsum("gml,gmk->glk", Li, M))
        V1 = np.einsum("igk,glk->igl", Hr, L1inv)                   # (n, ng, k)
        c = np.einsum("igl,ig->gl", V1, w * E[:, js])
        E[:, js] -= np.einsum("igl,gl->ig", V1, c)
        WV1t[rows.ravel()] = (w[:, :, None] * V1).reshape(n, -1).T
        gidx[rows.ravel(), :k] = np.repeat(idx, k, axis=0)
        coef[rows.ravel(), :k] = Luinv.reshape(-1, k)
    return _Extras(owners, gidx, coef, by_count), WV1t


def _positive_definite(Gw, Gu, js, j) -> bool:
    t = int(np.flatnonzero(js == j)[0])
    return all(np.linalg.eigvalsh(A[t]).min() > 0 for A in (Gw, Gu))


def _orthonormal_covariates(X) -> np.ndarray:
    Q, _ = np.linalg.qr(X)
    return Q


def _pairs(d):
    """Row-major lower-triangle pairs ``(a, b)``, ``b ≤ a``, and the position of each."""
    ia, ib = np.tril_indices(d)
    where = {(int(a), int(b)): t for t, (a, b) in enumerate(zip(ia, ib))}
    return ia, ib, where


def _marker_columns(G, Q, d, rtol, norms=None):
    """Residualise the marker columns on ``Q``, scale them to unit norm, reorder them.

    Parameters
    ----------
    G : ndarray (n, kb·d)
        Rotated designs of ``kb`` markers, marker-major (column ``k·d + a``).
    Q : ndarray (n, p)
        Orthonormal basis of the rotated covariates.
    norms : ndarray (kb·d,), optional
        Squared norms of the columns before the covariates were projected out (in contrast
        space, :mod:`lmm.scan.contrasts`); default those of ``G``.

    Returns
    -------
    U : ndarray (n, d·kb)
        ``(I − QQᵀ) G`` with unit-norm columns, column-major by design column
        (column ``a·kb + k``: column ``a`` of marker ``k``); columns left with at
        most ``rtol`` of their squared norm are zero.
    frac_x : ndarray (d, kb)
        Fraction of each column's squared norm left by the covariates.
    """
    n = G.shape[0]
    kb = G.shape[1] // d
    if d > 1:
        G = G.reshape(n, kb, d).transpose(0, 2, 1).reshape(n, d * kb)
    nrm0 = np.einsum("ik,ik->k", G, G) if norms is None else norms.reshape(kb, d).T.ravel()
    U = G - Q @ (Q.T @ G)
    nrm = np.einsum("ik,ik->k", U, U)
    frac_x = np.where(nrm0 > 0, nrm / np.where(nrm0 > 0, nrm0, 1.0), 0.0)
    nz = frac_x > rtol
    U *= np.where(nz, 1.0 / np.sqrt(np.where(nz, nrm, 1.0)), 0.0)[None, :]
    return U, frac_x.reshape(d, kb)


def _keep_columns(C, frac_x, d, rtol):
    """Unweighted Gram–Schmidt with deletion of each marker's columns, vectorised over markers.

    ``C`` (npairs, kb) holds the Gram entries ``⟨u_a, u_b⟩`` (unweighted) of the unit
    columns left by the covariates (and by a phenotype's extra covariates), in
    :func:`_pairs` order. Column ``a`` is kept when ``frac_x[a]`` times the
    fraction of it left by the marker's earlier kept columns exceeds ``rtol``.
    Returns ``keep`` (d, kb) bool.
    """
    _, _, where = _pairs(d)
    keep = frac_x > rtol
    L = {}
    for a in range(d):
        s = C[where[a, a]].copy()
        for k in range(a):
            s -= L[a, k] ** 2
        ok = keep[a] & (s * frac_x[a] > rtol)
        keep[a] = ok
        piv = np.sqrt(np.where(ok, s, 1.0))
        for b in range(a + 1, d):
            t = C[where[b, a]].copy()
            for k in range(a):
                t -= L[b, k] * L[a, k]
            L[b, a] = np.where(ok, t / piv, 0.0)
    return keep


def _pair_products(U, d):
    """The products ``u_a ∘ u_b`` of every column pair of a marker block (``b ≤ a``, row-major).

    Parameters
    ----------
    U : ndarray (n, d·kb)
        :func:`_marker_columns`' columns, column ``a·kb + k`` is column ``a`` of marker ``k``.

    Returns
    -------
    ndarray (n, npair·kb), ``npair = d(d+1)/2``
        Column ``t·kb + k`` is ``U[:, a·kb + k] ∘ U[:, b·kb + k]`` for pair ``t = (a, b)``: the
        right factor of every phenotype block's Gram product ``W1 @ PP``, so it is formed once
        per marker block.
    """
    if d == 1:
        return U * U
    n = U.shape[0]
    kb = U.shape[1] // d
    ia, ib, _ = _pairs(d)
    PP = np.empty((n, ia.size * kb))
    for t in range(ia.size):
        a, b = ia[t], ib[t]
        np.multiply(U[:, a * kb:(a + 1) * kb], U[:, b * kb:(b + 1) * kb], out=PP[:, t * kb:(t + 1) * kb])
    return PP


def _subtract_covariate_crosses(S, B, m, p, d):
    """``S −= Σ_l Z_l Z_lᵀ`` in place, ``Z_l`` (m, d, kb) the rows ``m(1+l) .. m(2+l) − 1`` of ``B``.

    Pair ``t = (a, b)`` of ``S`` (m, npair, kb) loses ``Z_la ∘ Z_lb`` for ``l = 0 .. p − 1`` in that
    order. The pairs of row ``a`` (``b = 0 .. a``) are contiguous in the row-major lower triangle,
    so each row is one broadcast product ``Z_la ∘ Z_l[0..a]`` into a buffer: ``d`` products per
    ``l`` instead of gathering ``Z_l`` twice at all ``npair`` pairs (the same operations on each
    element, so the same result bit for bit).
    """
    kb = S.shape[2]
    Z = B[m:m * (1 + p)].reshape(p, m, d, kb)
    if d == 1:
        for l in range(p):
            S -= Z[l] * Z[l]
        return S
    buf = np.empty(S.shape)
    for l in range(p):
        for a in range(d):
            t0 = a * (a + 1) // 2
            np.multiply(Z[l, :, a:a + 1], Z[l, :, :a + 1], out=buf[:, t0:t0 + a + 1])
        S -= buf
    return S


def _scan_block(null: _Null, U, PP, frac_x, d, rtol, Au=None):
    """LOD (m, kb) of one marker block against every phenotype of ``null``, and ``keep`` (m, d, kb).

    Every array is phenotype-major: ``(m, [pair or column,] kb)``. ``PP`` (n, npair·kb) holds
    the block's column-pair products (:func:`_pair_products`); ``Au`` (r, d·kb) the unweighted
    products ``Hᵀ U`` of the extra covariates (when ``null.extras``).
    """
    p = null.Q.shape[1]
    kb = frac_x.shape[1]
    W = null.W
    m = W.shape[1]
    ia, ib, where = _pairs(d)
    npair = ia.size
    # Gram entries of all column pairs, weighted (m rows) and unweighted (the last row)
    P = (null.W1 @ PP).reshape(m + 1, npair, kb)
    P_unweighted = P[m]
    keep = _keep_columns(P_unweighted, frac_x, d, rtol)
    P = P[:m]
    # r = ⟨g_a, e⟩ and Z_l = ⟨g_a, v0_l⟩ (W-orthonormal covariates) in one product; S = P − Σ_l Z_l Z_lᵀ
    B = null.A @ U
    r = B[:m].reshape(m, d, kb)
    S = _subtract_covariate_crosses(P, B, m, p, d)
    keep = np.broadcast_to(keep[None], (m, d, kb))
    if null.extras is not None:
        S, keep = _subtract_extras(null.extras, S, keep, B[m * (1 + p):], Au, P_unweighted, frac_x, d, rtol)
    # dropped columns: unit diagonal, zero off-diagonal and score (they contribute nothing)
    if not keep.all():
        kp = keep[:, ia] & keep[:, ib]
        S = np.where(kp, S, (ia == ib)[None, :, None].astype(float))
        r = np.where(keep, r, 0.0)
    # Cholesky of the d×d matrices S and forward substitution, over all (phenotype, marker) pairs
    if d == 1:
        quad = r[:, 0, :] ** 2
        quad /= S[:, 0, :]
    else:
        L = {}
        v = []
        quad = np.zeros((m, kb))
        for a in range(d):
            s = S[:, where[a, a], :].copy()
            for k in range(a):
                s -= L[a, k] * L[a, k]
            piv = np.sqrt(s, out=s)
            for b in range(a + 1, d):
                t = S[:, where[b, a], :].copy()
                for k in range(a):
                    t -= L[b, k] * L[a, k]
                t /= piv
                L[b, a] = t
            t = r[:, a, :].copy()
            for k in range(a):
                t -= L[a, k] * v[k]
            t /= piv
            v.append(t)
            quad += t * t
    quad /= null.rss0[:, None]
    np.minimum(quad, 1.0, out=quad)
    lod = np.log1p(-quad, out=quad)
    lod *= -0.5 * null.n / _LN10
    return lod, keep


def _subtract_extras(ex: _Extras, S, keep, Zx, Au, P_unweighted, frac_x, d, rtol):
    """Remove the phenotype-specific covariates from ``S`` and apply their collinearity rule.

    ``S_j −= Σ_e z_e z_eᵀ`` over phenotype ``j``'s whitened extras ``z_e = (W_j v1_e)ᵀ U``
    (``Zx``, rows of the block's stacked product); the unweighted Gram entries left after the
    extras, ``C − Σ_e t_e t_eᵀ`` with ``t = Lu⁻¹ H_jᵀ U``, decide which columns phenotype ``j`` keeps.
    """
    ia, ib, _ = _pairs(d)
    kb = frac_x.shape[1]
    R = Zx.shape[0]
    Z = Zx.reshape(R, d, kb)
    T = ex.coef[:, :1] * Au[ex.gidx[:, 0]]
    for b in range(1, ex.gidx.shape[1]):
        T += ex.coef[:, b:b + 1] * Au[ex.gidx[:, b]]
    T = T.reshape(R, d, kb)
    S[ex.owners] -= ex.owner_sums(Z[:, ia] * Z[:, ib])
    C = P_unweighted.reshape(-1, kb)[None] - ex.owner_sums(T[:, ia] * T[:, ib])
    n_own = ex.owners.size
    kx = _keep_columns(C.transpose(1, 0, 2).reshape(-1, n_own * kb),
                       np.tile(frac_x, (1, n_own)), d, rtol).reshape(d, n_own, kb)
    keep = np.array(keep)
    keep[ex.owners] = kx.transpose(1, 0, 2)
    return S, keep


def _check_block_inputs(kva, y, X, hsq, G, n_cols):
    kva = check_kva(kva)
    n = kva.shape[0]
    y = as_matrix(y, "y", f"(n, m) with n = {n} rows (kva)", rows=n)
    check_finite(y, "y")
    if X is None:
        raise InputError("X must be the rotated covariates (kve_t @ X; kve_t @ ones for an intercept)")
    X = check_X(X, n)
    hsq = np.atleast_1d(check_hsq(hsq))
    if hsq.size == 1 and y.shape[1] > 1:
        hsq = np.full(y.shape[1], float(hsq[0]))
    if hsq.shape != (y.shape[1],):
        raise InputError(f"hsq has {hsq.size} values but y has {y.shape[1]} columns")
    G = as_matrix(G, "G", f"(n, q·n_cols) with n = {n} rows", rows=n)
    check_finite(G, "G")
    d = int(n_cols)
    if d < 1 or G.shape[1] % d:
        raise InputError(f"G has {G.shape[1]} columns, not a multiple of n_cols = {n_cols}")
    return kva, y, X, hsq, G, d


def _block_sizes(n, m, d, p, block_elements, r_max=0, r=0):
    """Phenotypes ``mb`` and markers ``kb`` of a block, so that its temporaries hold about
    `block_elements` values (``r_max``: most extra covariates of a phenotype; ``r``: all of them)."""
    npair = d * (d + 1) // 2
    per_pair = npair + (p + 2) * d + npair + 4 + r_max * (d + 2 * npair)
    mb = min(m, max(1, block_elements // (256 * per_pair)))
    kb = max(1, block_elements // (n * (d + 1) + r * d + mb * per_pair))
    return mb, kb


def df_dtype(d):
    """The smallest integer type that holds a marker's degrees of freedom."""
    return np.int16 if d < np.iinfo(np.int16).max else np.int64


def _check_extra(extra, extra_used, shape):
    """``(H, used)`` validated (``(None, None)`` without extras or when no phenotype uses one)."""
    if extra is None and extra_used is None:
        return None, None
    if extra is None or extra_used is None:
        raise InputError("extra and extra_used go together")
    n, m = shape
    H = as_float_array(extra, "extra")
    if H.ndim != 2 or H.shape[0] != n:
        raise InputError(f"extra must be (n, r) with n = {n} rows, got shape {H.shape}")
    check_finite(H, "extra")
    used = np.asarray(extra_used)
    if used.dtype != bool or used.shape != (H.shape[1], m):
        raise InputError(f"extra_used must be a boolean ({H.shape[1]}, {m}) array (extra's columns by "
                         f"phenotypes), got {used.dtype} {used.shape}")
    if not used.any():
        return None, None
    return H, used


def scan_rotated(kva, y, X, hsq, G, n_cols=1, *, extra=None, extra_used=None, collinear_rtol=COLLINEAR_RTOL,
                 block_elements=SCAN_BLOCK_ELEMENTS, reduce=None, lod_dtype=np.float64, progress=None,
                 contrasts=None) -> ScanResult:
    """LOD scores of every marker for every phenotype, on eigen-rotated data, hsq fixed.

    Parameters
    ----------
    kva : array_like, shape (n,)
        Eigenvalues of the kinship matrix (``EigenDecomposition.kva``).
    y : array_like, shape (n,) or (n, m)
        Rotated phenotypes ``kve_t @ y`` (complete: no missing values).
    X : array_like, shape (n, p)
        Rotated covariates ``kve_t @ X``, full column rank (for an intercept
        only: ``kve_t @ np.ones((n, 1))``).
    hsq : float or array_like, shape (m,)
        Heritability of each phenotype under the null, held fixed.
    G : array_like, shape (n, q·n_cols)
        Rotated marker designs ``kve_t @ G`` (:func:`rotate_genotypes`), marker
        ``k`` in columns ``k·n_cols .. (k+1)·n_cols − 1``.
    n_cols : int
        Design columns per marker ``d`` (1 for dosages; ``k − 1`` for ``k``
        allele probabilities with one column dropped).
    extra : array_like, shape (n, r), optional
        Rotated covariate columns that only some phenotypes have.
    extra_used : array_like of bool, shape (r, m), optional
        Phenotype ``j``'s covariates are ``X`` and ``extra[:, extra_used[:, j]]``
        (both fits). With ``extra = kve_t[:, M]`` for a set ``M`` of individuals
        and ``y`` zero where missing, ``extra_used[i, j]`` true when phenotype
        ``j`` misses individual ``M[i]``, this is the scan of each phenotype's
        complete cases (an indicator covariate fits its individual exactly; the
        caller scales the LOD by ``n_j / n``): every phenotype in one set of
        matrix products however many missing-data patterns there are, at
        ``2nq·r_j`` more flops for a phenotype with ``r_j`` extras.
    collinear_rtol : float
        Relative tolerance for dropping a column (module notes).
    block_elements : int
        Bound on the elements of the per-block temporaries (memory ≈ 8 bytes
        each); results do not depend on it beyond round-off.
    reduce : None or ``'max'``
        ``'max'`` keeps only the maximum over markers (``lod`` is ``None``).
    lod_dtype : dtype
        Storage of ``lod`` (``float32`` halves the memory of a big scan).
    progress : callable (int) -> None, optional
        Called after each block of markers with the markers done so far (``k1`` of ``q``: all
        phenotypes scanned on markers ``0 .. k1 − 1``), e.g. to log a long job's progress
        (:class:`lmm.pipeline.progress.ScanProgress`); not called where phenotypes have
        ``hsq = 1`` on a singular kinship. No result depends on it.
    contrasts : bool, optional
        Scan on error contrasts (:mod:`lmm.scan.contrasts`: ``2(n − p)qm·(d(d+1)/2 + d)`` flops, the
        same LODs to round-off); ``None`` (default): when :func:`lmm.scan.contrasts.worthwhile`.
        Phenotypes at ``hsq = 1`` are scanned without contrasts whatever it says.

    Returns
    -------
    ScanResult
        ``lod`` (q, m), ``df`` (q,) (``(q, m)`` with `extra`: each phenotype's
        own), ``rss0`` (m,), ``max_lod`` and ``argmax`` (m,).

    Raises
    ------
    InputError
        Shapes that disagree, non-finite values, X rank-deficient, hsq outside
        [0, 1], a phenotype the covariates explain exactly.

    Notes
    -----
    ``LOD_kj = −(n/2) log10(1 − rᵀS⁻¹r / RSS0_j)``, see the module notes; about
    ``(d(d+1)/2 + p·d + d) · 2nqm`` flops of matrix products, ``(d(d+1)/2 + d) · 2(n − p)qm`` on
    contrasts.

    Examples
    --------
    >>> import numpy as np, lmm
    >>> from lmm.scan import scan_rotated, rotate_genotypes
    >>> rng = np.random.default_rng(1)
    >>> G = rng.integers(0, 3, (100, 50)).astype(float)
    >>> dec = lmm.eigen_decompose(G @ G.T / 50 + np.eye(100) * 0.1)
    >>> y = G[:, 7] + rng.normal(size=100)
    >>> res = scan_rotated(dec.kva, dec.kve_t @ y, dec.kve_t @ np.ones((100, 1)), 0.3,
    ...                    rotate_genotypes(dec, G))
    >>> int(res.argmax[0])
    7
    """
    collinear_rtol = check_tol(collinear_rtol)
    kva, y, X, hsq, G, d = _check_block_inputs(kva, y, X, hsq, G, n_cols)
    if reduce not in (None, "max"):
        raise InputError(f"reduce must be None or 'max', got {reduce!r}")
    H, used = _check_extra(extra, extra_used, y.shape)
    zero = kva <= 0.0
    at_one = hsq >= 1.0
    options = dict(collinear_rtol=collinear_rtol, block_elements=block_elements, reduce=reduce, lod_dtype=lod_dtype)
    if zero.any() and at_one.any():
        from .limit import scan_at_upper_limit
        return scan_at_upper_limit(kva, y, X, hsq, G, d, zero, at_one, H, used, contrasts, **options)
    n, m = y.shape
    p = X.shape[1]
    q = G.shape[1] // d
    r = 0 if H is None else H.shape[1]
    if contrasts is None:
        contrasts = worthwhile(n, p, int((~at_one).sum()), q, d, r)
    contrasts = bool(contrasts) and not at_one.all()
    if contrasts and at_one.any():      # hsq = 1: the kernel's own path; the others on contrasts
        from .limit import scan_split
        return scan_split(kva, y, X, hsq, G, d, at_one, H, used, progress, **options)
    Q, norms = _orthonormal_covariates(X), None
    if contrasts:
        ct = transform(kva, y, X, G, H)     # the covariates projected out: no covariate left
        kva, y, G, H, norms, Q, p = ct.kva, ct.y, ct.G, ct.H, ct.norms, np.zeros((n - p, 0)), 0
    r_max = 0 if used is None else int(used.sum(axis=0).max(initial=0))
    mb, kb = _block_sizes(y.shape[0], m, d, p, block_elements, r_max, r)
    # phenotype-major storage (the blocks' layout); returned as (q, m) views
    lod_t = None if reduce == "max" else np.empty((m, q), dtype=lod_dtype)
    df_t = np.empty((1 if used is None else m, q), dtype=df_dtype(d))
    best = np.full(m, -np.inf)
    arg = np.zeros(m, dtype=np.int64)
    HH = QH = None
    if used is not None:
        HH, QH = H.T @ H, Q.T @ H
    nulls = [(j0, _null(kva, y[:, j0:j0 + mb], Q, hsq[j0:j0 + mb], H, None if used is None else used[:, j0:j0 + mb],
                        HH, QH, n)) for j0 in range(0, m, mb)]
    rss0 = np.concatenate([nl.rss0 for _, nl in nulls])
    for k0 in range(0, q, kb):
        k1 = min(q, k0 + kb)
        U, frac_x = _marker_columns(G[:, k0 * d:k1 * d], Q, d, collinear_rtol,
                                    None if norms is None else norms[k0 * d:k1 * d])
        Au = None if used is None else H.T @ U
        PP = _pair_products(U, d)
        for j0, nl in nulls:
            blk, keep = _scan_block(nl, U, PP, frac_x, d, collinear_rtol, Au)
            j1 = j0 + blk.shape[0]
            if used is None:
                df_t[0, k0:k1] = keep[0].sum(axis=0)
            else:
                df_t[j0:j1, k0:k1] = keep.sum(axis=1)
            if lod_t is not None:
                lod_t[j0:j1, k0:k1] = blk
            a = np.argmax(blk, axis=1)
            v = blk[np.arange(blk.shape[0]), a]
            better = v > best[j0:j1]
            best[j0:j1] = np.where(better, v, best[j0:j1])
            arg[j0:j1] = np.where(better, a + k0, arg[j0:j1])
        if progress is not None:
            progress(k1)
    return ScanResult(lod=None if lod_t is None else lod_t.T, df=df_t[0] if used is None else df_t.T,
                      rss0=rss0, n=n, max_lod=best, argmax=arg)


def rotate_genotypes(decomposition, G) -> np.ndarray:
    """Rotate marker designs: ``kve_t @ G``, one matrix product.

    Parameters
    ----------
    decomposition : EigenDecomposition or ndarray (n, n)
        The decomposition (or its ``kve_t``) of the kinship used for this chromosome.
    G : array_like, shape (n, q·n_cols)
        Marker designs, rows in the order of the kinship's individuals.

    Returns
    -------
    ndarray, shape (n, q·n_cols)
    """
    kve_t = decomposition.kve_t if isinstance(decomposition, EigenDecomposition) else np.asarray(decomposition, float)
    G = as_float_array(G, "G")
    if G.shape[0] != kve_t.shape[1]:
        raise InputError(f"G has {G.shape[0]} rows but the kinship is {kve_t.shape[1]} x {kve_t.shape[1]}")
    return kve_t @ G


def lod_to_pvalue(lod, df) -> np.ndarray:
    """Likelihood-ratio p-value: ``P(χ²_df > 2·ln(10)·LOD)``.

    Parameters
    ----------
    lod : array_like, shape (q, m) or broadcastable
    df : array_like of int, shape (q,) or broadcastable against ``lod``'s rows
        Degrees of freedom (``ScanResult.df``); ``df = 0`` gives p = 1.

    Returns
    -------
    ndarray, the shape of ``lod``
    """
    lod = np.asarray(lod, dtype=float)
    df = np.asarray(df)
    if df.ndim == 1 and lod.ndim == 2:
        df = df[:, None]
    stat = 2.0 * _LN10 * np.maximum(lod, 0.0)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, special.chdtrc(np.maximum(df, 1), stat), 1.0)

r"""Phenotypes with a few missing individuals, fitted exactly without a new decomposition.

Notes
-----
Let ``K = U diag(λ) Uᵀ`` be the decomposition for all ``n`` individuals, and a
phenotype observed on the set ``o`` and missing on the ``k`` individuals of
``M``. With ``V = hsq·K + (1 − hsq)·I = U diag(a) Uᵀ``, ``aᵢ = hsq·λᵢ + 1 − hsq``,
and ``P = V⁻¹ = U diag(1/a) Uᵀ``, the observed block's inverse is the Schur
complement of ``P_MM`` in ``P`` and its determinant follows from Jacobi's
identity::

    V_oo⁻¹ = P_oo − P_oM P_MM⁻¹ P_Mo,        log|V_oo| = log|V| + log|P_MM|.

For vectors ``u``, ``v`` on the observed individuals, extended by zeros to all
``n`` (``ũ``, ``ṽ``), with rotated ``û = Uᵀũ`` and ``w_u = (P ũ)_M = U_M (û / a)``::

    uᵀ V_oo⁻¹ v = Σᵢ ûᵢ v̂ᵢ / aᵢ − w_uᵀ P_MM⁻¹ w_v,     P_MM = U_M diag(1/a) U_Mᵀ.

Every quantity of the profile likelihood (``yᵀV_oo⁻¹y``, ``XᵀV_oo⁻¹y``,
``XᵀV_oo⁻¹X`` and ``log|V_oo|``) therefore costs ``O(k²n + k(p+1)n + (p+1)²n)``
per evaluation instead of an ``O(n³)`` decomposition of ``K_oo``; the results
are those of the decomposition of ``K_oo`` to round-off (the tests compare the
two to 1e-8). The covariates are first replaced by an orthonormal basis of the
columns of the full ``X`` (``X = Q R``), which changes neither ``ℓ`` nor the
fitted values, and ``y`` by its residual from least squares on the observed
individuals, as in :mod:`lmm.likelihood`.

Each column is multiplied by a power of two and, when the covariates span the
intercept, shifted by its first observed value before anything else (exact
operations, or a constant the intercept absorbs), so ``hsq`` depends neither on
the units nor on the offset of ``y``; ``ℓ`` is reported in the user's units, and ``β̂``
(``+ shift·e`` with ``Xe = 1``) and ``σ̂²`` in the user's units where float64 represents
them, else for ``y·2^−k`` (``FitResult.y_scale_log2``, :mod:`lmm.search`, note 7).
:func:`calc_ll_masked` always scales back (``±inf`` or 0 where float64 cannot hold the value).

The score ``dℓ/dhsq`` (:meth:`MaskedEvaluator.first_derivative`). With
``D = dV/dhsq = K − I = U diag(d) Uᵀ``, ``dᵢ = λᵢ − 1``, and ``zᵤ = V_oo⁻¹u``
extended by zeros to all ``n``, the Schur complement gives it in the rotated
basis as ``Uᵀzᵤ = (û − U_Mᵀ P_MM⁻¹ wᵤ)/a`` (its rows ``M`` vanish: ``P_MM P_MM⁻¹ = I``), so::

    uᵀ V_oo⁻¹ D_oo V_oo⁻¹ v = Σᵢ dᵢ (Uᵀzᵤ)ᵢ (Uᵀzᵥ)ᵢ,     dV_oo⁻¹/dhsq = −V_oo⁻¹ D_oo V_oo⁻¹,
    d log|V_oo|/dhsq = tr(V_oo⁻¹D_oo) = Σᵢ dᵢ/aᵢ − Σᵢ (dᵢ/aᵢ²) ‖L⁻¹U_M eᵢ‖²,   P_MM = LLᵀ

(the second from Jacobi's identity above, ``dP_MM/dhsq = −U_M diag(d/a²) U_Mᵀ``).
With ``G₁`` the Gram matrix of ``[r, Q]`` in the metric ``V_oo⁻¹D_ooV_oo⁻¹``
(``= −dG/dhsq``), ``b̂`` the GLS coefficients, ``v = (1, −b̂)`` and ``M = QᵀV_oo⁻¹Q``
(observed rows), the envelope theorem gives ``rss′ = −vᵀG₁v`` and::

    ℓ′_ML   = −½ tr(V_oo⁻¹D_oo) − (n_o/2) rss′/rss
    ℓ′_REML = −½ tr(V_oo⁻¹D_oo) − ((n_o−p)/2) rss′/rss + ½ tr(M⁻¹ G₁,QQ)

as in :mod:`lmm.evaluators` (to which it reduces for ``k = 0``).

A singular K (zero eigenvalues: a kinship of centred genotypes, replicates of
inbred strains, a duplicated individual) makes ``P = V⁻¹`` infinite at
``hsq = 1``, where the Schur complement above cannot be evaluated, although
``K_oo`` may be regular and ``ℓ(1)`` finite. With ``N`` (n, z) the null
eigenvectors of K, ``K̃ = K + NNᵀ`` has the same eigenvectors and the
eigenvalues ``λ̃`` (zeros replaced by ones), so ``K̃_oo⁻¹`` and ``log|K̃_oo|``
come from the Schur complement above with ``a = λ̃``; then, with ``N_o`` the
observed rows of ``N`` and ``C = I − N_oᵀK̃_oo⁻¹N_o`` (z × z), Woodbury's
identity and the matrix determinant lemma give::

    V_oo⁻¹ = K̃_oo⁻¹ + K̃_oo⁻¹N_o C⁻¹ N_oᵀK̃_oo⁻¹,     log|V_oo| = log|K̃_oo| + log|C|

at ``hsq = 1`` (``V_oo = K_oo = K̃_oo − N_oN_oᵀ``): the same ``O(k²n)`` per
evaluation. ``K_oo`` is singular exactly when ``C`` is (``λ_min(C) ≤
SINGULAR_SCHUR_RTOL``, :mod:`lmm.checks`: for example both copies of a
duplicated individual observed); only those columns are fitted from a
decomposition of ``K_oo`` per missing-data pattern (``K_oo`` formed from the
decomposition of K), whose ``ℓ(1)`` is the exact limit of :mod:`lmm.likelihood`.
"""

from __future__ import annotations

import re

import numpy as np

from .checks import (EXPLAINED_RTOL, MASKED_BLOCK_ELEMENTS, SINGULAR_SCHUR_RTOL, as_float_array, check_tol, check_X,
                     explained_residuals, pow2_scale, times_pow2)
from .errors import InputError
from .fit import fit_lmm
from .likelihood import LOG_2, LOG_2PI, LogLik, calc_ll, squeeze_grid, sum_log_rows
from .result import FitResult, assemble
from .rotation import EigenDecomposition, eigen_decompose
from .search import SearchOutcome, Solution, search

__all__ = ["fit_lmm_masked", "calc_ll_masked", "MaskedEvaluator", "missing_patterns", "missing_rows"]


#: The evaluator packs the products of its columns (:meth:`MaskedEvaluator._pack`) when they
#: take at most this many times the memory of the columns themselves.
PACK_MEMORY_RATIO = 4


def _packed_rows(w, k):
    """Rows of products packed per column (:meth:`MaskedEvaluator._pack`) for ``w = 1 + p``
    columns and ``k`` missing values; 0 when they would take more than
    :data:`PACK_MEMORY_RATIO` times the memory of the columns (then they are not packed)."""
    rows = w * (w + 1) // 2 + k * (k + 1) // 2 + k * w
    return rows if rows <= PACK_MEMORY_RATIO * (w + k) else 0



def _check_masked(decomposition, y, X, x_names):
    if not isinstance(decomposition, EigenDecomposition):
        raise InputError("decomposition must be an lmm.EigenDecomposition (from eigen_decompose)")
    n = decomposition.n
    y = as_float_array(y, "y")
    one_y = y.ndim == 1
    if one_y:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] == 0:
        raise InputError(f"y must be (n,) or (n, m) with m > 0, got shape {y.shape}")
    if y.shape[0] != n:
        raise InputError(f"y has {y.shape[0]} rows but the decomposition is of {n} individuals")
    if np.isinf(y).any():
        j = int(np.flatnonzero(np.isinf(y).any(axis=0))[0])
        raise InputError(f"y column {j} has infinite values; missing values must be NaN")
    X = check_X(X, n, x_names)
    p = X.shape[1]
    miss = np.isnan(y)
    n_obs = n - miss.sum(axis=0)
    few = np.flatnonzero(n_obs <= p + 1)
    if few.size:
        raise InputError(
            f"y column {int(few[0])} has {int(n_obs[few[0]])} observed values, too few for "
            f"p = {p} covariates (needs more than p + 1)"
            + (f"; {few.size} such columns" if few.size > 1 else ""))
    return y, X, miss, one_y


class MaskedEvaluator:
    """Profile likelihood of ``c`` columns that each miss ``k`` individuals (an
    :class:`lmm.search.Evaluator`; Schur complement, module notes).

    Parameters
    ----------
    U : ndarray (n, n)
        Eigenvectors of K as columns (rows = individuals).
    lam : ndarray (n,)
        Eigenvalues.
    Qrot : ndarray (n, p)
        ``Uᵀ Q``.
    Q, R : ndarray (n, p), (p, p)
        ``X = Q R``.
    y : ndarray (n, c)
        Phenotypes, NaN where missing, not rotated.
    M : ndarray (c, k) of int
        The missing rows of each column.
    reml : bool
    y_rot : ndarray (n, c), optional
        ``Uᵀy`` with the missing values as 0, when the caller has it (the genome scan): the
        residuals' rotation is then formed from it (below) instead of by a product of ``n²c``
        flops. For a ``y`` already centred (the scan's residuals, :func:`lmm.scan.engine.standardize`):
        its rounding is that of ``‖y‖``, not of the residuals.

    Attributes
    ----------
    regular : ndarray of bool, shape (c,)
        With a singular K, whether each column's ``K_oo`` is regular (module
        notes); a column that is not cannot be evaluated at ``hsq = 1`` here
        and needs its own decomposition (:func:`fit_lmm_masked` does that).
    """

    def __init__(self, U, lam, Qrot, Q, R, y, M, reml, y_rot=None):
        n, p = Q.shape
        c, k = M.shape
        self.n, self.p, self.k, self.reml = n, p, k, reml
        self.lam = lam
        self.lam_min = float(self.lam.min())
        obs = ~np.isnan(y)
        y0 = np.where(obs, y, 0.0)
        # units: a power of two per column; offset: the first observed value when the
        # covariates span the intercept (its coefficients e: X e = 1)
        self.y_exp = pow2_scale(y0, axis=0)
        y0 = times_pow2(y0, -self.y_exp[None, :])
        y_ref = y0
        one = np.ones(n)
        e_q = Q.T @ one
        if np.linalg.norm(one - Q @ e_q) <= EXPLAINED_RTOL * np.sqrt(n):
            first = y0[np.argmax(obs, axis=0), np.arange(c)]
            y0 = np.where(obs, y0 - first[None, :], 0.0)
        else:
            first = np.zeros(c)
            e_q = np.zeros(p)
        self.shift_beta = np.linalg.solve(R, e_q)[:, None] * first[None, :]   # (p, c), scaled
        QM = Q[M]                                              # (c, k, p)
        QtQ_o = np.eye(p)[None] - np.einsum("ckp,ckq->cpq", QM, QM)   # Q_oᵀQ_o
        sign, self.logdet_qtq = np.linalg.slogdet(QtQ_o)
        bad = sign <= 0
        if bad.any():
            raise InputError(f"the covariates are collinear on the observed individuals of "
                             f"column {int(np.flatnonzero(bad)[0])}")
        gamma = np.linalg.solve(QtQ_o, (Q.T @ y0).T[:, :, None])[:, :, 0]  # (c, p) OLS
        r0 = (y0 - Q @ gamma.T) * obs                        # residuals, zero where missing
        # twice, as lmm.likelihood does: orthogonal to Q_o to round-off
        g2 = np.linalg.solve(QtQ_o, (Q.T @ r0).T[:, :, None])[:, :, 0]
        gamma = gamma + g2
        r0 = (r0 - Q @ g2.T) * obs
        flat = explained_residuals(r0, y_ref)                 # the rule of lmm.checks
        if flat.any():
            j = int(np.flatnonzero(flat)[0])
            raise InputError(f"phenotype column {j} is explained exactly by the covariates "
                             "on its observed individuals (for example it is constant)")
        self.gamma = gamma.T                                   # (p, c)
        self.R = R
        self.logdet_r2 = float(2.0 * np.sum(np.log(np.abs(np.diag(R)))))
        UM = U[M]                                              # (c, k, n): rows M of U
        # rotated, zero-extended data: [Uᵀr, Uᵀ(Q with rows M zeroed)]
        Z = np.empty((c, n, 1 + p))
        if y_rot is None:
            Z[:, :, 0] = (U.T @ r0).T
        else:
            # Uᵀr0 = Uᵀy0 − Uᵀ((Qγ) ∘ obs), y0 = (y·2^−e − first) ∘ obs, Uᵀobs = Uᵀ1 − Σ_{i∈M} U[i]
            Uo = U.sum(axis=0)[None, :] - UM.sum(axis=1)                      # (c, n): Uᵀobs
            Z[:, :, 0] = (times_pow2(y_rot, -self.y_exp[None, :]).T
                          - first[:, None] * Uo - gamma @ Qrot.T
                          + np.einsum("ckn,ck->cn", UM, np.einsum("ckp,cp->ck", QM, gamma)))
        Z[:, :, 1:] = Qrot[None] - np.einsum("ckn,ckp->cnp", UM, QM)
        self.Z, self.UM = Z, UM
        self.m = c
        self._pack(Z, UM)
        # a singular K: hsq = 1 through K̃ = K + N Nᵀ (module notes); `regular` marks the columns
        # whose K_oo is regular (the others need their own decomposition)
        self.zero = np.flatnonzero(lam == 0.0)
        self.regular = np.ones(c, dtype=bool)
        if self.zero.size:
            z = self.zero.size
            Nh = -np.einsum("ckn,ckz->cnz", UM, UM[:, :, self.zero])     # Uᵀ(N, rows M zeroed)
            Nh[:, self.zero, np.arange(z)] += 1.0
            self.Nh = Nh
            self.lam1 = np.where(lam == 0.0, 1.0, lam)
            G, _ = self._tilde_parts(np.arange(c), with_z=False)
            C = np.eye(z)[None] - G
            self.regular = np.linalg.eigvalsh(C)[:, 0] > SINGULAR_SCHUR_RTOL

    def _pack(self, Z, UM):
        """Precompute the elementwise products whose weighted sums an evaluation needs.

        ``⟨u, v⟩_s = Σᵢ sᵢ uᵢ vᵢ`` for the pairs of columns of ``Z`` = [Uᵀr, UᵀQ_o] (the
        Gram matrix), of the rows of ``U_M`` (``P_MM``) and of ``U_M`` with ``Z`` (``U_M Zs``):
        an evaluation is then one batched product of these ``(c, R, n)`` rows with ``s = 1/a``.
        Kept only when they take at most :data:`PACK_MEMORY_RATIO` times the memory of ``Z`` and
        ``U_M`` (a few missing values); otherwise :meth:`_parts` forms them per evaluation.
        """
        w, k = Z.shape[2], self.k
        iw, jw = np.triu_indices(w)
        ik, jk = np.triu_indices(k)
        R = _packed_rows(w, k)
        self.packed = None
        if not R:
            return
        c, n = Z.shape[0], Z.shape[1]
        packed = np.empty((c, R, n))
        Zt = Z.transpose(0, 2, 1)                               # (c, w, n) view
        np.multiply(Zt[:, iw], Zt[:, jw], out=packed[:, :iw.size])
        if k:
            o = iw.size
            np.multiply(UM[:, ik], UM[:, jk], out=packed[:, o:o + ik.size])
            o += ik.size
            packed[:, o:] = (UM[:, :, None, :] * Zt[:, None, :, :]).reshape(c, k * w, n)
        self.packed = packed

        def sym(d, off):
            pos = np.empty((d, d), dtype=np.intp)
            i, j = np.triu_indices(d)
            pos[i, j] = pos[j, i] = off + np.arange(i.size)
            return pos.ravel()

        self._g_pos = sym(w, 0)
        self._p_pos = sym(k, iw.size) if k else None
        self._b_pos = iw.size + ik.size + np.arange(k * w)

    def _packed_sums(self, weights, idx):
        """The packed products' weighted sums, ``(c, R, t)`` for the ``t`` weight vectors
        `weights` ``(c, n, t)`` of the columns ``idx`` (None: all)."""
        if idx is None:
            return np.matmul(self.packed, weights)
        idx = np.asarray(idx)
        if np.unique(idx).size < idx.size:
            # a column asked for more than once (the polish's two points): one pass per occurrence,
            # each over distinct columns, never a copy of a column's products per occurrence
            out = np.empty((idx.size, self.packed.shape[1], weights.shape[2]))
            todo = np.arange(idx.size)
            while todo.size:
                _, first = np.unique(idx[todo], return_index=True)     # each column once, increasing
                at = todo[first]
                out[at] = self._packed_sums(weights[at], idx[at])
                todo = np.delete(todo, first)
            return out
        if 3 * idx.size >= self.m and (np.diff(idx) > 0).all():
            # most columns, each once (the polish asks for a column at two points): cheaper than
            # copying their products
            w_all = np.ones((self.m,) + weights.shape[1:])
            w_all[idx] = weights
            return np.matmul(self.packed, w_all)[idx]
        return np.matmul(self.packed[idx], weights)

    def _packed_parts(self, s, idx, d=None, a=None):
        """:meth:`_parts` from the packed products; with the derivative (``d = λ − 1``), the sums
        in the metric ``V_oo⁻¹D_ooV_oo⁻¹`` from the same products weighted by ``d·s²`` (module notes)::

            G₁ = Σ dᵢsᵢ² zᵢzᵢᵀ − B₁ᵀC − CᵀB₁ + CᵀP₁C,     C = P_MM⁻¹ B
            d log|V_oo|/dhsq = Σ dᵢsᵢ − tr(P_MM⁻¹ P₁)

        (``zᵢ`` the rows of ``[Uᵀr, UᵀQ_o]``, ``B = U_M S Z``, ``P₁ = U_M diag(d s²) U_Mᵀ``,
        ``B₁ = U_M diag(d s²) Z``: the expansion of ``Zh = S(Z − U_MᵀC)`` in :meth:`_parts`);
        ``a = 1/s`` (the ``aᵢ``) for ``log|V|``."""
        weights = s[:, :, None] if d is None else np.stack([s, d[None, :] * s * s], axis=2)
        v = self._packed_sums(weights, idx)
        logdet_a = sum_log_rows(1.0 / s if a is None else a) if d is None else None
        return self._parts_from_sums(v, logdet_a, d, s)

    def _parts_from_sums(self, v, logdet_a, d=None, s=None):
        """:meth:`_packed_parts` from the weighted sums ``v`` (c, R, 1 or 2) of the packed products
        and ``Σ log aᵢ`` (c,) (only without the derivative; ``d`` and ``s`` only with it)."""
        c, w, k = v.shape[0], 1 + self.p, self.k
        G = v[:, self._g_pos, 0].reshape(c, w, w)
        if d is None:
            logdet = logdet_a
        if k:
            L = np.linalg.cholesky(v[:, self._p_pos, 0].reshape(c, k, k))
            B = v[:, self._b_pos, 0].reshape(c, k, w)
            T = np.linalg.solve(L, B)
            G = G - np.matmul(T.transpose(0, 2, 1), T)
            if d is None:
                logdet = logdet + 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        if d is None:
            return G, logdet
        G1 = v[:, self._g_pos, 1].reshape(c, w, w)
        dlogdet = np.einsum("cn,n->c", s, d)
        if k:
            C = np.linalg.solve(L.transpose(0, 2, 1), T)                     # P_MM⁻¹ B, (c, k, w)
            P1 = v[:, self._p_pos, 1].reshape(c, k, k)
            B1C = np.matmul(v[:, self._b_pos, 1].reshape(c, k, w).transpose(0, 2, 1), C)
            G1 = G1 - B1C - B1C.transpose(0, 2, 1) + np.matmul(C.transpose(0, 2, 1), np.matmul(P1, C))
            Pi = np.linalg.solve(L.transpose(0, 2, 1), np.linalg.solve(L, P1))
            dlogdet = dlogdet - np.trace(Pi, axis1=1, axis2=2)
        return G, None, G1, dlogdet

    def _tilde_parts(self, idx, with_z=True):
        """Gram matrix of ``[r, Q, N]`` (``N`` only without `with_z`) in the ``K̃_oo⁻¹`` metric
        (``K̃ = K + NNᵀ``, N the null eigenvectors, rows M zeroed) and ``log|K̃_oo|``."""
        Y = np.concatenate([self.Z[idx], self.Nh[idx]], axis=2) if with_z else self.Nh[idx]
        UM = self.UM[idx]
        s = 1.0 / self.lam1
        Ys = Y * s[None, :, None]
        G = np.matmul(Y.transpose(0, 2, 1), Ys)
        logdet = np.full(len(idx), np.log(self.lam1).sum())
        if self.k:
            Pmm = np.matmul(UM * s[None, None, :], UM.transpose(0, 2, 1))
            L = np.linalg.cholesky(Pmm)
            T = np.linalg.solve(L, np.matmul(UM, Ys))
            G = G - np.matmul(T.transpose(0, 2, 1), T)
            logdet = logdet + 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        return G, logdet

    def _parts_at_one(self, idx):
        """:meth:`_parts` at ``hsq = 1`` with a singular K: ``V_oo = K̃_oo − N_oN_oᵀ`` by Woodbury
        and the matrix determinant lemma (module notes)."""
        G, logdet = self._tilde_parts(idx)
        w = 1 + self.p
        C = np.eye(self.zero.size)[None] - G[:, w:, w:]
        Lc = np.linalg.cholesky(C)
        Tc = np.linalg.solve(Lc, G[:, w:, :w])
        return (G[:, :w, :w] + np.matmul(Tc.transpose(0, 2, 1), Tc),
                logdet + 2.0 * np.log(np.diagonal(Lc, axis1=1, axis2=2)).sum(axis=1))

    def _parts(self, h, idx=None, derivative=False):
        """Gram matrix of [r, Q] in the V_oo⁻¹ metric, and log|V_oo|, for columns ``idx``;
        with ``derivative``, also ``G₁`` (the Gram matrix in the metric V_oo⁻¹D_ooV_oo⁻¹) and
        ``d log|V_oo|/dhsq`` (module notes)."""
        if self.zero.size and not derivative and (h >= 1.0).any():
            cols = np.arange(self.m) if idx is None else np.asarray(idx)
            at1 = h >= 1.0
            G, logdet = self._parts(np.where(at1, 0.5, h), cols)
            G1, logdet1 = self._parts_at_one(cols[at1])
            G[at1], logdet[at1] = G1, logdet1
            return G, logdet
        if self.packed is not None:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                a = h[:, None] * self.lam[None, :] + (1.0 - h)[:, None]
                return self._packed_parts(1.0 / a, idx, self.lam - 1.0 if derivative else None, a)
        Z = self.Z if idx is None else self.Z[idx]
        UM = self.UM if idx is None else self.UM[idx]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a = h[:, None] * self.lam[None, :] + (1.0 - h)[:, None]   # (c, n)
            s = 1.0 / a
            logdet = sum_log_rows(a)
            Zs = Z * s[:, :, None]
            G = np.matmul(Z.transpose(0, 2, 1), Zs)            # (c, 1+p, 1+p)
            if derivative:
                d = self.lam - 1.0
                ds = d[None, :] * s                             # (c, n)
                dlogdet = ds.sum(axis=1)
                Zh = Zs                                         # Uᵀz for each column of [r, Q]
            if self.k:
                W = UM * s[:, None, :]                          # (c, k, n)
                Pmm = np.matmul(W, UM.transpose(0, 2, 1))       # (c, k, k)
                B = np.matmul(UM, Zs)                           # (c, k, 1+p)
                L = np.linalg.cholesky(Pmm)
                T = np.linalg.solve(L, B)                       # L⁻¹B
                G = G - np.matmul(T.transpose(0, 2, 1), T)
                logdet = logdet + 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
                if derivative:
                    Lt = L.transpose(0, 2, 1)
                    Zh = Zs - np.matmul(W.transpose(0, 2, 1), np.linalg.solve(Lt, T))
                    F = np.linalg.solve(L, UM)                  # L⁻¹U_M, (c, k, n)
                    dlogdet = dlogdet - np.einsum("cn,cn->c", ds * s, np.einsum("ckn,ckn->cn", F, F))
        if not derivative:
            return G, logdet
        G1 = np.matmul(Zh.transpose(0, 2, 1), Zh * d[None, :, None])
        return G, logdet, G1, dlogdet

    def _solution(self, h, idx=None):
        G, logdet_v = self._parts(h, idx)
        return self._solution_from_parts(G, logdet_v, h, idx)

    def _solution_from_parts(self, G, logdet_v, h, idx):
        """``ℓ`` (scaled data), ``b̂`` (Q basis), rss, σ̂² and ``log|XᵀV_oo⁻¹X|`` from the Gram
        matrices ``G`` (c, 1+p, 1+p) and ``log|V_oo|`` (c,) of columns ``idx`` at ``h`` (c,)."""
        n_o, p = self.n - self.k, self.p
        XSX, XSy, ySy = G[:, 1:, 1:], G[:, 1:, 0], G[:, 0, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            sign, logdet_xsx = np.linalg.slogdet(XSX)
            bq = np.linalg.solve(XSX, XSy[:, :, None])[:, :, 0]   # (c, p)
            rss = ySy - np.einsum("cp,cp->c", XSy, bq)
            sigmasq = rss / (n_o - p)
            ll = -0.5 * (logdet_v + n_o * np.log(rss))
            if self.reml:
                lq = self.logdet_qtq if idx is None else self.logdet_qtq[idx]
                ll = ll + 0.5 * (p * (LOG_2PI + np.log(sigmasq)) + lq - logdet_xsx)
        singular_v = (h * self.lam_min + (1.0 - h) <= 0.0) & ~(h >= 1.0)
        ll = np.where(singular_v | ~np.isfinite(ll) | (sign <= 0), -np.inf, ll)
        return ll, bq, rss, sigmasq, logdet_xsx

    def __call__(self, u, idx):
        return self._solution(u, idx)[0]          # scaled data: ℓ less a constant per column

    def shared(self, h):
        """``ℓ`` of every column at each common ``h`` (g,): (g, m). With the packed products, the
        weighted sums of all points are one matrix product ``(c·R, n) @ (n, g)``; a point at
        ``hsq = 1`` with a singular K is evaluated alone (module notes)."""
        h = np.asarray(h, dtype=float)
        out = np.empty((h.size, self.m))
        alone = (h >= 1.0) & bool(self.zero.size) if self.packed is not None else np.ones(h.size, bool)
        for g in np.flatnonzero(alone):
            out[g] = self._solution(np.full(self.m, h[g]))[0]
        rest = np.flatnonzero(~alone)
        if rest.size:
            hr = h[rest]
            c, R, n = self.packed.shape
            g = hr.size
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                a = np.multiply.outer(hr, self.lam) + (1.0 - hr)[:, None]       # (g, n)
                v = (self.packed.reshape(c * R, n) @ (1.0 / a).T).reshape(c, R, g)
                v = v.transpose(2, 0, 1).reshape(g * c, R, 1)                   # point-major
                G, logdet_v = self._parts_from_sums(v, np.repeat(sum_log_rows(a), c))
            cols = np.tile(np.arange(c), g)
            out[rest] = self._solution_from_parts(G, logdet_v, np.repeat(hr, c), cols)[0].reshape(g, c)
        return out

    def solution(self, h):
        """β̂, rss, σ̂² and ℓ of every column at its own ``h`` (m,): ``ℓ`` in the user's units,
        the others those of the data ``y·2^−y_exp`` with ``y_scale_log2 = y_exp``, so that
        :func:`lmm.search.to_data_scale` reports them in the user's units where float64
        represents them (:mod:`lmm.search`, note 7)."""
        ll, bq, rss, sigmasq, logdet_xsx = self._solution(h)
        beta = np.linalg.solve(self.R, bq.T + self.gamma) + self.shift_beta
        return Solution(self._unscale(ll), beta, rss, sigmasq, logdet_xsx + self.logdet_r2,
                        y_scale_log2=self.y_exp.copy())

    def _unscale(self, ll, idx=None):
        e = self.y_exp if idx is None else self.y_exp[idx]
        dof = self.n - self.k - (self.p if self.reml else 0)
        return ll - dof * LOG_2 * e

    def first_derivative(self, h, cols):
        """Analytic ``dℓ/dhsq`` of columns ``cols`` at ``h`` (k,), interior points (module notes)."""
        G, _, G1, dlogdet = self._parts(h, cols, derivative=True)
        n_o, p = self.n - self.k, self.p
        XSX, XSy, ySy = G[:, 1:, 1:], G[:, 1:, 0], G[:, 0, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            bq = np.linalg.solve(XSX, XSy[:, :, None])[:, :, 0]   # (c, p)
            rss = ySy - np.einsum("cp,cp->c", XSy, bq)
            v = np.concatenate([np.ones((bq.shape[0], 1)), -bq], axis=1)
            rss1 = -np.einsum("ck,ckl,cl->c", v, G1, v)
            dof = n_o - p if self.reml else n_o
            out = -0.5 * dlogdet - 0.5 * dof * (rss1 / rss)
            if self.reml:
                out = out + 0.5 * np.trace(np.linalg.solve(XSX, G1[:, 1:, 1:]), axis1=1, axis2=2)
        return out

    def second_derivative(self, h, cols):
        """Central differences of ℓ at steps δ and δ/2, Richardson-extrapolated (error O(δ⁴)).

        ``δ = min(2e-3, hsq/2, (1 − hsq)/2)`` keeps every point inside [0, 1].
        """
        step = np.minimum(2e-3, 0.5 * np.minimum(h, 1.0 - h))
        l0 = self._solution(h, cols)[0]

        def central(dl):
            lp = self._solution(h + dl, cols)[0]
            lm = self._solution(h - dl, cols)[0]
            return (lp - 2.0 * l0 + lm) / (dl * dl)

        return (4.0 * central(0.5 * step) - central(step)) / 3.0


def _groups(miss, block_elements, n, p):
    """Columns grouped by their number of missing values, then cut into blocks."""
    k_all = miss.sum(axis=0)
    for k in np.unique(k_all):
        cols = np.flatnonzero(k_all == k)
        per_column = int(k) + p + 1 + _packed_rows(p + 1, int(k))
        size = max(1, int(block_elements // (per_column * n)))
        for s in range(0, cols.size, size):
            yield int(k), cols[s:s + size]


def missing_rows(missing, cols, k) -> np.ndarray:
    """The rows ``(c, k)`` that each of the columns ``cols`` of ``missing`` (n, m) misses, increasing;
    every one of them misses exactly ``k``."""
    return np.nonzero(np.asarray(missing)[:, cols].T)[1].reshape(len(cols), k)


def missing_patterns(missing, columns=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns grouped by their exact missing-data pattern, in order of first appearance.

    The one grouping by pattern of the package: the masked fits, the scan engine
    (:mod:`lmm.scan.engine`), :func:`lmm.scan1`, :func:`lmm.scan1perm` and the workflow's
    partition (:func:`lmm.pipeline.partition.group_by_pattern`) all use it.

    Parameters
    ----------
    missing : array_like of bool, shape (n, m)
        True where a value is missing.
    columns : iterable of int, optional
        The columns to group (default all ``m``), in the order that decides the groups' order.

    Returns
    -------
    list of (observed, cols)
        ``observed`` (n_obs,) the rows observed in the pattern, increasing; ``cols`` the columns
        that have it, in the order given.

    Examples
    --------
    >>> import numpy as np
    >>> miss = np.array([[0, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=bool)
    >>> [(o.tolist(), c.tolist()) for o, c in missing_patterns(miss)]
    [([0, 1], [0, 2]), ([1], [1])]
    """
    missing = np.asarray(missing, dtype=bool)
    if missing.ndim != 2:
        raise InputError(f"missing must be a 2-D boolean array, got shape {missing.shape}")
    keys: dict[bytes, list[int]] = {}
    for j in (range(missing.shape[1]) if columns is None else columns):
        keys.setdefault(np.packbits(missing[:, j]).tobytes(), []).append(int(j))
    return [(np.flatnonzero(~missing[:, group[0]]), np.asarray(group, dtype=np.intp)) for group in keys.values()]


def _observed_rotation(decomposition, obs, y, X):
    """Decompose ``K_oo`` (formed from the decomposition of K) and rotate ``y``, ``X`` on ``obs``."""
    U_o = decomposition.kve_t.T[obs]
    K_oo = (U_o * decomposition.kva) @ U_o.T
    return eigen_decompose(0.5 * (K_oo + K_oo.T)).rotate(y[obs], X[obs])


def _outcome(fit: FitResult) -> SearchOutcome:
    """The per-column arrays of a (matrix) :class:`FitResult`."""
    return SearchOutcome(
        hsq=fit.hsq, beta=fit.beta, sigmasq=fit.sigmasq, loglik=fit.loglik, hsq_se=fit.hsq_se,
        hsq_ci_lower=fit.hsq_ci_lower, hsq_ci_upper=fit.hsq_ci_upper, ci_cutoff=fit.ci_cutoff,
        boundary=fit.boundary, status=fit.status, converged=fit.converged, n_eval=fit.n_eval,
        y_scale_log2=fit.y_scale_log2)


def fit_lmm_masked(decomposition, y, X=None, reml=True, check_boundary=True, tol=1e-4,
                   compute_se=False, compute_ci=True, *, x_names=None,
                   block_elements=MASKED_BLOCK_ELEMENTS, polish=False, start="brent", y_rot=None) -> FitResult:
    """Fit phenotypes with missing values exactly, reusing one decomposition of K.

    Parameters
    ----------
    decomposition : EigenDecomposition
        Of the kinship of all ``n`` individuals (:func:`lmm.eigen_decompose`).
    y : array_like, shape (n,) or (n, m)
        Phenotypes, **not** rotated, rows in the order of K; NaN marks a
        missing value. Column ``j`` is fitted on its observed individuals.
    X : array_like, shape (n, p), optional
        Covariates, not rotated, complete; ``None`` means an intercept.
    reml, check_boundary, tol, compute_se, compute_ci, polish, start
        As in :func:`lmm.fit_lmm`.
    block_elements : int
        Bound on the size of the arrays of one block of columns.
    y_rot : array_like, shape (n, m), optional
        ``kve_t @ y`` with the missing values as 0, when the caller has it (the genome scan's null
        fits): not formed again. ``y`` should then be centred on the covariates (the scan's
        :func:`lmm.scan.engine.standardize`), so that the rotated residuals, formed from it, carry
        rounding of the residuals' size (:class:`MaskedEvaluator`).

    Returns
    -------
    FitResult
        As :func:`lmm.fit_lmm` (same search, interval grid, cutoffs and flags:
        :mod:`lmm.search`), with ``n`` an array (m,) of observed counts.

    Notes
    -----
    Columns with no missing value are rotated and fitted by :func:`lmm.fit_lmm`;
    the others, grouped by their number ``k`` of missing values, with the Schur
    complement of the module notes (:class:`MaskedEvaluator`), or, when K is
    singular and so is a column's ``K_oo``, from a decomposition of ``K_oo`` per
    missing-data pattern (module notes). ``hsq_se`` from the Schur complement comes from central differences
    of ``ℓ`` (Richardson-extrapolated), not the analytic derivative. ``start="grid"`` applies where
    the products are packed (a few missing values: one matrix product gives the whole grid);
    columns with more missing values start from Brent's search (the same ``hsq`` to ~1e-13).
    """
    tol = check_tol(tol)
    y, X, miss, one_y = _check_masked(decomposition, y, X, x_names)
    n, m = y.shape
    p = X.shape[1]
    if y_rot is not None:
        y_rot = np.asarray(y_rot, dtype=float)
        y_rot = y_rot[:, None] if y_rot.ndim == 1 else y_rot     # never reshaped: (m, n) is an error
        if y_rot.shape != (n, m):
            raise InputError(f"y_rot must have the shape of y, ({n}, {m}), got {y_rot.shape}")
    Q, R = np.linalg.qr(X)
    kve_t = decomposition.kve_t
    U = np.ascontiguousarray(kve_t.T)
    Qrot = kve_t @ Q
    parts, order = [], []
    for k, cols in _groups(miss, block_elements, n, p):
        if k == 0:
            fit = fit_lmm(decomposition.kva, kve_t @ y[:, cols] if y_rot is None else y_rot[:, cols], Qrot,
                          reml, check_boundary, tol,
                          compute_se, compute_ci, polish=polish, start=start)
            out = _outcome(fit)
            out = SearchOutcome(**{**out.__dict__, "beta": np.linalg.solve(R, fit.beta)})
            parts.append(out)
            order.append(cols)
        else:
            ev, cols, irregular = _evaluator(U, decomposition.kva, Qrot, Q, R, y, miss, cols, k, reml, y_rot)
            if cols.size:
                # the grid pays only where its points are one matrix product (packed products)
                parts.append(search(ev, check_boundary, tol, compute_se, compute_ci, polish,
                                    start if ev.packed is not None else "brent"))
                order.append(cols)
            for obs, group in missing_patterns(miss, irregular):
                rot = _observed_rotation(decomposition, obs, y[:, group], X)
                try:
                    fit = fit_lmm(rot.kva, rot.y, rot.X, reml, check_boundary, tol, compute_se,
                                  compute_ci, polish=polish, start=start)
                except InputError as exc:
                    raise InputError(_renumber(str(exc), group)) from None
                parts.append(_outcome(fit))
                order.append(group)
    order = np.concatenate(order)
    res = assemble(SearchOutcome.concatenate(parts, order), n - miss.sum(axis=0), p, reml)
    return res.column(0) if one_y else res


def _evaluator(U, lam, Qrot, Q, R, y, miss, cols, k, reml, y_rot=None):
    """The :class:`MaskedEvaluator` of columns ``cols`` (k missing each) whose ``K_oo`` is regular,
    those columns, and the others (a singular K only: module notes)."""
    def build(cc):
        M = missing_rows(miss, cc, k)
        try:
            return MaskedEvaluator(U, lam, Qrot, Q, R, y[:, cc], M, reml, None if y_rot is None else y_rot[:, cc])
        except InputError as exc:
            raise InputError(_renumber(str(exc), cc)) from None

    ev = build(cols)
    if ev.regular.all():
        return ev, cols, cols[:0]
    good, bad = cols[ev.regular], cols[~ev.regular]
    return (build(good) if good.size else None), good, bad


def _renumber(msg, cols):
    """Error messages of a block name block-local columns: translate to the caller's."""
    def sub(mt):
        return f"column {int(cols[int(mt.group(1))])}"

    return re.sub(r"column (\d+)", sub, msg)


def calc_ll_masked(hsq, decomposition, y, X=None, reml=True, *, x_names=None) -> LogLik:
    """Profile log-likelihood of phenotypes with missing values (see :func:`fit_lmm_masked`).

    Parameters
    ----------
    hsq : float or array_like (g,)
    decomposition : EigenDecomposition
    y : array_like (n,) or (n, m), NaN = missing, not rotated
    X : array_like (n, p), optional, not rotated

    Returns
    -------
    LogLik
        ``loglik`` of shape (g, m), (g,), (m,) or scalar as for :func:`lmm.calc_ll`
        (``beta`` and ``sigmasq`` at each ``hsq`` likewise), in the user's units.
    """
    h = np.atleast_1d(as_float_array(hsq, "hsq"))
    if h.ndim != 1 or not np.all((h >= 0) & (h <= 1)):
        raise InputError("hsq must be a scalar or 1-D with values in [0, 1]")
    y2, X, miss, one_y = _check_masked(decomposition, y, X, x_names)
    n, m = y2.shape
    p = X.shape[1]
    Q, R = np.linalg.qr(X)
    U = np.ascontiguousarray(decomposition.kve_t.T)
    Qrot = decomposition.kve_t @ Q
    ll = np.empty((h.size, m))
    beta = np.empty((p, h.size, m))
    sigmasq = np.empty((h.size, m))
    rss = np.empty((h.size, m))
    # columns grouped by their number of missing values: each grid point is one evaluation
    # of a whole block
    for k, cols in _groups(miss, MASKED_BLOCK_ELEMENTS, n, p):
        ev, own = None, cols
        if k:
            ev, cols, own = _evaluator(U, decomposition.kva, Qrot, Q, R, y2, miss, cols, k, reml)
        for obs, group in missing_patterns(miss, own):
            rot = (decomposition.rotate(y2[:, group], X) if k == 0
                   else _observed_rotation(decomposition, obs, y2[:, group], X))
            try:
                sol = calc_ll(h, rot.kva, rot.y, rot.X, reml)
            except InputError as exc:
                raise InputError(_renumber(str(exc), group)) from None
            ll[:, group], sigmasq[:, group], rss[:, group] = sol.loglik, sol.sigmasq, sol.rss
            beta[:, :, group] = sol.beta
        if ev is None:
            continue
        for g, hv in enumerate(h):
            sol = ev.solution(np.full(cols.size, hv))
            e = sol.y_scale_log2              # back to the user's units (inf / 0 if need be)
            ll[g, cols] = sol.loglik
            sigmasq[g, cols] = np.ldexp(sol.sigmasq, 2 * e)
            rss[g, cols] = np.ldexp(sol.rss, 2 * e)
            beta[:, g, cols] = np.ldexp(sol.beta, e[None, :])

    scalar = np.ndim(hsq) == 0
    return LogLik(*(squeeze_grid(a, scalar, one_y) for a in (ll, beta, sigmasq, rss)))

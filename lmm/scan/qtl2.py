r"""R/qtl2's ``scan1``: the genome scan of many phenotypes with a (LOCO) kinship, from arrays in memory.

The driver: it checks the arguments, groups the phenotypes by missing-data pattern
(:func:`lmm.missing.missing_patterns`), decides which decomposition each pattern uses
(:func:`scan_plan`), and for every chromosome hands the work to the engine
(:mod:`lmm.scan.engine`), as the workflow's scan job does. The model and the algebra are in
:mod:`lmm.scan.kernel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import COLLINEAR_RTOL, SCAN_BLOCK_ELEMENTS, as_float_array, as_matrix, check_finite, check_tol, check_X
from ..errors import InputError
from ..missing import missing_patterns
from ..rotation import eigen_decompose
from .engine import added_covariates, fit_null_group, interaction_design, marker_design, scan_tile

__all__ = ["Scan1Result", "ScanSetup", "scan1", "scan_plan", "setup_scan", "decompositions", "null_groups"]


@dataclass(frozen=True, eq=False)
class Scan1Result:
    """Result of :func:`scan1`.

    Attributes
    ----------
    lod : ndarray, shape (q, m)
        LOD of every marker (all chromosomes, in input order) for every phenotype.
    hsq : ndarray, shape (n_chr, m)
        Null heritability of each phenotype with each chromosome's kinship.
    df : ndarray of int, shape (q, m)
        Degrees of freedom of each marker in each phenotype's scan (its complete cases).
    n : ndarray of int, shape (m,)
        Individuals used for each phenotype (its complete cases).
    chr_start : ndarray of int, shape (n_chr + 1,)
        Markers of chromosome ``c`` are rows ``chr_start[c] .. chr_start[c+1] − 1``.
    """

    lod: np.ndarray
    hsq: np.ndarray
    df: np.ndarray
    n: np.ndarray
    chr_start: np.ndarray


def _as_marker_design(Gc, n_alleles, drop_allele):
    Gc = as_float_array(Gc, "genotypes")
    if Gc.ndim == 3:  # (n, q, k)
        Gc = Gc.reshape(Gc.shape[0], -1) if n_alleles in (None, Gc.shape[2]) else None
        if Gc is None:
            raise InputError("a 3-D genotype array must be (n, markers, n_alleles)")
    if Gc.ndim == 1:
        Gc = Gc[:, None]
    k = int(n_alleles)
    if Gc.shape[1] % k:
        raise InputError(f"genotypes have {Gc.shape[1]} columns, not a multiple of n_alleles = {k}")
    if k > 1 and drop_allele is not None:
        a = int(drop_allele)
        if not 0 <= a < k:
            raise InputError(f"drop_allele must be in 0..{k - 1}, got {drop_allele}")
        Gc = marker_design(Gc, k, a)
        k -= 1
    return Gc, k


def _per_chromosome(value, n_chr, name, default):
    """A per-chromosome setting: one value for all, or a sequence of ``n_chr``."""
    if value is None:
        return [default] * n_chr
    if np.ndim(value) == 0:
        return [value] * n_chr
    out = list(value)
    if len(out) != n_chr:
        raise InputError(f"{name} has {len(out)} entries for {n_chr} chromosomes")
    return out


def _extra_covariates(a, n, name):
    if a is None:
        return None
    a = as_matrix(a, name, "(n,) or (n, k)")
    if a.shape[0] != n:
        raise InputError(f"{name} has {a.shape[0]} rows but pheno has {n}")
    check_finite(a, name)
    return a


@dataclass(frozen=True, eq=False)
class ScanSetup:
    """The checked arguments of :func:`scan1` and :func:`lmm.scan1perm`.

    Attributes
    ----------
    y : ndarray (n, m)
    X : ndarray (n, p)
        Additive covariates, with the interactive ones appended where ``covar`` does not span them.
    designs : list of ndarray (n, q_c·d_c), one per chromosome
    d : list of int
        Design columns per marker of each chromosome (``n_alleles − 1`` for probabilities).
    kins : list of n_chr kinships (n, n)
    is_x : ndarray of bool (n_chr,)
    x_covar, int_covar : ndarray (n, k) or None
    """

    y: np.ndarray
    X: np.ndarray
    designs: list
    d: list
    kins: list
    is_x: np.ndarray
    x_covar: np.ndarray | None
    int_covar: np.ndarray | None

    def covariates(self, rows, c) -> np.ndarray:
        """The null model's covariates of chromosome ``c`` on ``rows``: ``X``, and on an X
        chromosome the columns of ``x_covar`` that ``X`` does not span there."""
        if self.is_x[c] and self.x_covar is not None:
            return added_covariates(self.X[rows], self.x_covar[rows])
        return self.X[rows]

    def design(self, rows, c) -> tuple[np.ndarray, int]:
        """Chromosome ``c``'s marker designs on ``rows`` and columns per marker (with the
        interactions, :func:`lmm.scan.engine.interaction_design`)."""
        G = self.designs[c][rows]
        if self.int_covar is None:
            return G, self.d[c]
        return interaction_design(G, self.d[c], self.int_covar[rows]), self.d[c] * (1 + self.int_covar.shape[1])


def setup_scan(genotypes, kinship, pheno, covar, n_alleles, drop_allele, *, is_x=None, x_covar=None,
               int_covar=None) -> ScanSetup:
    """The checked arguments of :func:`scan1` and :func:`lmm.scan1perm` (:class:`ScanSetup`)."""
    y = as_matrix(pheno, "pheno", "(n,) or (n, m)")
    n = y.shape[0]
    if np.isinf(y).any():
        raise InputError("pheno has infinite values (use NaN for missing values)")
    X = check_X(covar, n)
    if isinstance(genotypes, np.ndarray):   # one array: one chromosome
        genotypes = [genotypes]
    genotypes = list(genotypes)
    n_chr = len(genotypes)
    ks = _per_chromosome(n_alleles, n_chr, "n_alleles", 1)
    designs = [_as_marker_design(Gc, k, drop_allele) for Gc, k in zip(genotypes, ks)]
    for Gc, _ in designs:
        if Gc.shape[0] != n:
            raise InputError(f"genotypes have {Gc.shape[0]} rows but pheno has {n}")
        check_finite(Gc, "genotypes")
    if isinstance(kinship, np.ndarray) and kinship.ndim == 2:
        kins = [kinship] * n_chr
    else:
        kins = list(kinship)
        if len(kins) != n_chr:
            raise InputError(f"{len(kins)} kinship matrices for {n_chr} chromosomes")
    for K in kins:
        K = np.asarray(K)
        if K.shape != (n, n):
            raise InputError(f"a kinship matrix has shape {K.shape}; expected ({n}, {n})")
    Z = _extra_covariates(int_covar, n, "int_covar")
    if Z is not None:
        X = added_covariates(X, Z)
    return ScanSetup(y, X, [G for G, _ in designs], [k for _, k in designs], kins,
                     np.asarray(_per_chromosome(is_x, n_chr, "is_x", False), dtype=bool),
                     _extra_covariates(x_covar, n, "x_covar"), Z)


def decompositions(kins, rows, cache):
    """One decomposition per distinct kinship (by identity) restricted to ``rows``."""
    out = []
    for K in kins:
        key = (id(K), rows.tobytes())
        if key not in cache:
            Ks = np.asarray(K, dtype=float)[np.ix_(rows, rows)]
            cache[key] = eigen_decompose(Ks)
        out.append(cache[key])
    return out


def scan_plan(y, X, x_covar=None) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Which decomposition each phenotype uses: ``(rows, cols)`` pairs, and the observed counts.

    Parameters
    ----------
    y : ndarray, shape (n, m)
        NaN where missing.
    X : ndarray, shape (n, p)
    x_covar : ndarray, shape (n, k), optional
        The X chromosomes' covariates: a pattern on whose individuals fewer of their columns are
        independent of ``X`` than on all gets a group of its own (its X covariates are those
        independent on its individuals).

    Returns
    -------
    groups : list of (rows, cols)
        The phenotypes ``cols`` are fitted and scanned together with the kinships restricted to
        ``rows``: first all ``n`` individuals, for the patterns that miss ``k`` individuals in
        ``m_p`` phenotypes with ``k·m_p ≤ n`` (indicator covariates cost no more than a
        decomposition), then one group per other pattern, its own individuals.
    n_obs : ndarray of int, shape (m,)

    Raises
    ------
    InputError
        A pattern with ``n_obs ≤ p + 1`` or on which ``X`` is rank-deficient.
    """
    n, m = y.shape
    n_obs = np.zeros(m, dtype=np.int64)
    shared, own = [], []
    width_x = 0 if x_covar is None else added_covariates(X, x_covar).shape[1]
    for rows, cols in missing_patterns(np.isnan(y)):
        if rows.size <= X.shape[1] + 1:
            raise InputError(f"phenotype column {int(cols[0])} has {rows.size} complete cases: too few")
        check_X(X[rows], rows.size)
        n_obs[cols] = rows.size
        fewer_x = x_covar is not None and added_covariates(X[rows], x_covar[rows]).shape[1] < width_x
        (shared if (n - rows.size) * cols.size <= n and not fewer_x else own).append((rows, cols))
    groups = [(np.arange(n), np.sort(np.concatenate([c for _, c in shared])))] if shared else []
    return groups + own, n_obs


def null_groups(decs, setup: ScanSetup, rows, cols, reml, tol) -> list:
    """:func:`lmm.scan.engine.fit_null_group` for each chromosome's decomposition, one fit per
    distinct kinship (by identity) and set of covariates (autosome or X)."""
    done, out = {}, []
    y = setup.y[np.ix_(rows, cols)]
    for c, (dec, K) in enumerate(zip(decs, setup.kins)):
        key = (id(K), bool(setup.is_x[c]))
        if key not in done:
            done[key] = fit_null_group(dec, y, setup.covariates(rows, c), reml=reml, tol=tol)
        out.append(done[key])
    return out


def scan1(genotypes, kinship, pheno, covar=None, *, x_covar=None, int_covar=None, is_x=None, n_alleles=1,
          drop_allele=0, reml=True, tol=1e-4, collinear_rtol=COLLINEAR_RTOL,
          block_elements=SCAN_BLOCK_ELEMENTS) -> Scan1Result:
    """Genome scan of many phenotypes with a (LOCO) kinship, R/qtl2's ``scan1`` model.

    Parameters
    ----------
    genotypes : sequence of array_like, one per chromosome
        Each (n, q_c·n_alleles) (marker-major: the ``n_alleles`` columns of a
        marker together) or (n, q_c, n_alleles); dosages with ``n_alleles=1``.
    kinship : array_like (n, n) or sequence of n_chr arrays
        One kinship for all chromosomes, or one per chromosome (LOCO: the
        kinship leaving that chromosome out). On the scale of the model
        ``hsq·K + (1 − hsq)·I`` (R/qtl2 users: pass ``2 ×`` its ``calc_kinship``).
    pheno : array_like, shape (n,) or (n, m)
        Phenotypes, NaN for a missing value; each phenotype uses its complete cases.
    covar : array_like, shape (n, p), optional
        Additive covariates including the intercept (``None``: intercept only);
        no missing values.
    x_covar : array_like, shape (n, k), optional
        R/qtl2's ``Xcovar``: additive covariates of the X chromosomes only (``is_x``), in their
        null and alternative models (and so their ``hsq``); columns that ``covar`` spans (on a
        phenotype's complete cases) are dropped (:func:`lmm.scan.engine.added_covariates`). R/qtl2's
        ``get_x_covar`` gives them for an F2 (sex and cross direction).
    int_covar : array_like, shape (n, k), optional
        R/qtl2's ``intcovar``: interactive covariates, on every chromosome. Each marker's design
        gains its products with them (:func:`lmm.scan.engine.interaction_design`), and the LOD is
        that of the full model (QTL + QTL × covariate) against the null; they are additive
        covariates too (appended to ``covar`` where it does not span them). The interaction's
        own LOD is this scan's minus the additive scan's.
    is_x : bool or sequence of bool (n_chr,), optional
        Which chromosomes are X chromosomes (default: none).
    n_alleles : int or sequence of int (n_chr,)
        Columns per marker in ``genotypes`` (8 for DO allele probabilities), one for all or one
        per chromosome (an F2's X chromosome has 6 genotype columns, its autosomes 3).
    drop_allele : int or None
        With ``n_alleles > 1``: the allele column left out (probabilities sum to
        one, collinear with the intercept). The default 0 (the first) is what
        R/qtl2 does; on probabilities rounded in storage the choice changes the
        LOD by about the rounding (``≈1e-6``), on exact ones not at all.
        ``None`` keeps every column (for designs that do not sum to a constant).
    reml : bool
        REML (default) or ML for the null ``hsq``.
    tol : float
        Tolerance of Brent's search where the ``hsq`` search uses it (default ``1e-4``;
        :func:`lmm.scan.engine.fit_null_group`): the optimum is found on a 21-point grid and
        polished by Newton steps on the score to about ``1e-14`` (:func:`lmm.fit_lmm`
        ``polish=True, start="grid"``), at least as precise as Brent alone at ``1e-12``
        (R/qtl2's) in a fraction of the evaluations.
    collinear_rtol, block_elements
        See :func:`lmm.scan.scan_rotated`.

    Returns
    -------
    Scan1Result

    Raises
    ------
    InputError
        Shapes that disagree, missing covariates, too few complete cases, a
        phenotype explained exactly by the covariates.

    Notes
    -----
    Phenotypes are grouped by missing-data pattern. A pattern that misses
    ``k`` individuals in ``m_p`` phenotypes with ``k·m_p ≤ n`` (its indicator
    columns cost no more than rotating the genotypes again) shares the
    decomposition of all ``n`` individuals with the complete phenotypes: its
    null fit is :func:`lmm.fit_lmm_masked` and its scan has one indicator
    covariate per missing individual (``extra`` of :func:`lmm.scan.scan_rotated`), which
    gives the complete-case fits exactly. Any other pattern's kinships are
    restricted to its individuals and decomposed again. ``hsq`` is estimated
    for each phenotype and distinct kinship (polished to the exact optimum),
    then held fixed along that chromosome. The work of each decomposition is done by the engine
    (:mod:`lmm.scan.engine`: :func:`~lmm.scan.engine.fit_null_group`,
    :func:`~lmm.scan.engine.scan_tile`), as in the workflow's scan job; ``y`` is first replaced
    by its residual on the covariates scaled by a power of two, so the LODs do not depend on the
    units of ``y`` (``y·1e200``, ``y·1e-200`` and ``y + 1e9`` give those of ``y``). A phenotype
    whose null fit has no maximum (status ``unbounded``) or did not converge gets NaN LODs.
    """
    tol = check_tol(tol)
    setup = setup_scan(genotypes, kinship, pheno, covar, n_alleles, drop_allele, is_x=is_x, x_covar=x_covar,
                       int_covar=int_covar)
    n, m = setup.y.shape
    starts = np.concatenate([[0], np.cumsum([Gc.shape[1] // d for Gc, d in zip(setup.designs, setup.d)])])
    lod = np.empty((int(starts[-1]), m))
    dfs = np.zeros(lod.shape, dtype=np.int64)
    hsq = np.empty((len(setup.designs), m))
    groups, nobs = scan_plan(setup.y, setup.X, setup.x_covar if setup.is_x.any() else None)
    cache = {}
    for rows, cols in groups:
        decs = decompositions(setup.kins, rows, cache)
        nulls = null_groups(decs, setup, rows, cols, reml, tol)
        for c, (dec, null) in enumerate(zip(decs, nulls)):
            hsq[c, cols] = null.hsq
            G, d = setup.design(rows, c)
            res_lod, res_df = scan_tile(null, dec.kve_t @ G, d, collinear_rtol=collinear_rtol,
                                        block_elements=block_elements)
            lod[starts[c]:starts[c + 1], cols] = res_lod
            dfs[starts[c]:starts[c + 1], cols] = res_df
    return Scan1Result(lod=lod, hsq=hsq, df=dfs, n=nobs, chr_start=starts)

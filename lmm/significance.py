r"""Genome-wide significance of many traits: the beta approximation of permutation minima, regions
with their own permutations (autosomes and X), and the per-trait LOD threshold at an FDR.

For each trait, the genome scan gives its maximum LOD and, from permutations, the maxima under
the null (:func:`lmm.scan1perm`). The ``n_perm`` maxima alone give a p-value no smaller than
``1/(n_perm + 1)``; FastQTL and tensorQTL (Ongen et al. 2016) fit instead a beta distribution to
the permutations' *minimum nominal p-values* and read the observed minimum p-value off its CDF,
so that smaller genome-wide p-values are estimated, and the q-values of :func:`lmm.fdr.qvalue`
across traits can be taken on them.

Notes
-----
**Nominal p-value** of a LOD with ``df`` degrees of freedom: ``p = P(χ²_df > 2·ln(10)·LOD)``
(:func:`lmm.scan.kernel.lod_to_pvalue`); its inverse is :func:`pvalue_to_lod`. For a trait, a
larger maximum LOD is a smaller minimum p-value.

**Beta approximation** (:func:`fit_beta`). The minimum over a genome of correlated nominal
p-values is about ``Beta(a, b)`` (``a < 1``: ``a`` reflects the effective number of independent
tests). ``a`` and ``b`` maximise ``ℓ(a, b) = (a − 1)·mean(log p) + (b − 1)·mean(log(1 − p)) −
log B(a, b)`` over the permutation minima. ``ℓ`` is strictly concave in ``(a, b)`` (an
exponential family in its natural parameters), so Newton's method, ``δ = −H⁻¹∇ℓ`` with
``∇ℓ = (mean log p − ψ(a) + ψ(a+b), mean log(1−p) − ψ(b) + ψ(a+b))`` and
``H = [[ψ′(a+b) − ψ′(a), ψ′(a+b)], [ψ′(a+b), ψ′(a+b) − ψ′(b)]]``, from the method-of-moments
start and halving steps that leave ``a, b > 0`` or lower ``ℓ``, converges to the one maximum; all
traits are iterated together. The fit has *failed* for a trait (and its **empirical** p-value
``(k + 1)/(N + 1)`` is used, ``k`` of its ``N`` permutation maxima at least its maximum) when it
has fewer than :data:`~lmm.checks.BETA_MIN_PERMUTATIONS` permutations, a minimum p-value of 0 or
1 or NaN, no spread, or Newton has not converged within :data:`~lmm.checks.BETA_FIT_MAXITER`
iterations. Otherwise its genome-wide p-value is ``I_{p_min}(a, b)`` (the regularised incomplete
beta function at its observed minimum p-value). tensorQTL also re-estimates the degrees of
freedom of its t statistics before this step; LOD p-values use their χ² degrees of freedom as
they are (the fitted ``a`` and ``b`` absorb any miscalibration common to the real scan and its
permutations).

**Regions with their own permutations.** R/qtl2's ``scan1perm(..., perm_Xsp = TRUE)`` permutes
the autosomes and the X chromosome separately (X with ``ceiling(n_perm·L_A/L_X)`` replicates) and
``summary.scan1perm`` uses, at genome-wide level ``α``, the level ``α_r = 1 − (1 − α)^(L_r/L)`` in
region ``r`` of length ``L_r`` (``L = Σ L_r``). A trait is thus significant at level ``α`` when,
for some region, its region p-value ``p_r ≤ α_r``, that is ``1 − (1 − p_r)^(L/L_r) ≤ α``. Its
genome-wide p-value, the smallest ``α`` at which it is significant, is therefore

    ``p = min_r 1 − (1 − p_r)^(L/L_r)``,

which is exactly uniform under the null when the regions' p-values are independent and uniform:
``P(p ≤ α) = 1 − Π_r (1 − α_r) = 1 − (1 − α)^(Σ L_r/L) = α``. With one region, ``p = p_1``.

**LOD threshold at an FDR** (:func:`lod_thresholds`, tensorQTL's nominal threshold). The q-values
increase with the genome-wide p-values, so an FDR ``f`` cuts them at some ``p*`` between the
largest genome-wide p-value with ``q ≤ f`` (0 if none) and the smallest with ``q > f`` (1 if none);
:func:`genome_pvalue_cut` takes the midpoint. In region ``r`` that is the level
``α_r = 1 − (1 − p*)^(L_r/L)``, and for a trait fitted by a beta distribution the nominal p-value
threshold is ``I⁻¹_{α_r}(a, b)`` (the beta quantile), converted to a LOD with the trait's ``df``;
for a trait with the empirical p-value it is the ``1 − α_r`` quantile of its permutation maxima
(:func:`lmm.permutation_threshold`). A marker whose LOD exceeds it is significant for that trait.

References
----------
Ongen H, Buil A, Brown AA, Dermitzakis ET, Delaneau O (2016) Fast and efficient QTL mapper for
thousands of molecular phenotypes. Bioinformatics 32:1479–1485.
Broman KW, Sen Ś, Owens SE, et al. (2006) The X chromosome in quantitative trait locus mapping.
Genetics 174:2151–2158.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from scipy import special

from .checks import BETA_FIT_MAXITER, BETA_FIT_RTOL, BETA_MIN_PERMUTATIONS, as_float_array
from .errors import InputError
from .scan.kernel import lod_to_pvalue
from .scan.permutations import permutation_threshold

__all__ = ["BetaFit", "GenomePValues", "fit_beta", "pvalue_to_lod", "pvalue_genome", "genome_pvalue_cut",
           "lod_thresholds", "METHODS"]

#: The values of :attr:`GenomePValues.method`: how each p-value was obtained.
METHODS = {
    "beta": "beta approximation: the observed minimum nominal p-value's CDF under Beta(a, b) fitted to the "
            "permutation minima",
    "empirical": "(k + 1)/(N + 1): k of the N permutation maxima at least the observed maximum (the beta fit "
                 "failed)",
    "missing": "no observed maximum LOD or no permutation: no p-value",
}

_LN10 = float(np.log(10.0))


class BetaFit(NamedTuple):
    """:func:`fit_beta`'s result, shape (m,) each: ``a``, ``b`` (NaN where not ``converged``),
    ``converged`` (bool), ``iterations`` (Newton steps taken)."""

    a: np.ndarray
    b: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


class GenomePValues(NamedTuple):
    """:func:`pvalue_genome`'s result. Per trait, shape (m,): ``pvalue`` (genome-wide), ``method``
    (of the region giving it; :data:`METHODS`), ``region`` (that region's index, −1 if none). Per
    region and trait, shape (R, m): ``region_pvalue`` (beta or empirical), ``empirical``,
    ``nominal`` (the observed minimum nominal p-value), ``a``, ``b`` (NaN where the fit failed),
    ``region_method``, ``df``; ``lengths``, shape (R,)."""

    pvalue: np.ndarray
    method: np.ndarray
    region: np.ndarray
    region_pvalue: np.ndarray
    empirical: np.ndarray
    nominal: np.ndarray
    a: np.ndarray
    b: np.ndarray
    region_method: np.ndarray
    df: np.ndarray
    lengths: np.ndarray


def pvalue_to_lod(p, df) -> np.ndarray:
    """The LOD whose nominal p-value with ``df`` degrees of freedom is ``p``.

    ``LOD = F⁻¹_{χ²_df}(1 − p) / (2·ln 10)``, the inverse of :func:`lmm.lod_to_pvalue`; ``p`` and
    ``df`` broadcast together (``df ≥ 1``).
    """
    p = as_float_array(p, "p")
    df = as_float_array(df, "df")
    if (df < 1).any():
        raise InputError("df must be at least 1 to convert a p-value to a LOD")
    return special.chdtri(df, p) / (2.0 * _LN10)


def _beta_loglik(a, b, s1, s2):
    return (a - 1.0) * s1 + (b - 1.0) * s2 - special.betaln(a, b)


def _moment_start(p: np.ndarray):
    mean = p.mean(axis=0)
    var = p.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        common = mean * (1.0 - mean) / var - 1.0
    ok = np.isfinite(common) & (common > 0)
    return np.where(ok, mean * common, 1.0), np.where(ok, (1.0 - mean) * common, 1.0)


def _newton_step(a, b, s1, s2):
    """Newton's step ``−H⁻¹∇ℓ`` (module notes) for every trait, and the relative size of the step."""
    t = special.polygamma(1, a + b)
    ga = s1 - special.digamma(a) + special.digamma(a + b)
    gb = s2 - special.digamma(b) + special.digamma(a + b)
    haa, hbb = t - special.polygamma(1, a), t - special.polygamma(1, b)
    det = haa * hbb - t * t
    da = -(hbb * ga - t * gb) / det
    db = -(haa * gb - t * ga) / det
    return da, db, np.maximum(np.abs(da) / a, np.abs(db) / b)


def fit_beta(pvalues) -> BetaFit:
    """Maximum-likelihood Beta(a, b) of each column of p-values (the permutation minima of a trait).

    Parameters
    ----------
    pvalues : array_like, shape (n, m)
        ``n`` values per trait (a 1-D array is one trait).

    Returns
    -------
    BetaFit

    Notes
    -----
    Newton's method on the concave log-likelihood, for all traits at once; when a fit fails
    (module notes), ``converged`` is false and ``a``, ``b`` are NaN.
    """
    p = as_float_array(pvalues, "pvalues")
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise InputError(f"pvalues must be (n, m), got shape {p.shape}")
    m = p.shape[1]
    usable = np.zeros(m, dtype=bool)
    if p.shape[0] >= BETA_MIN_PERMUTATIONS:
        with np.errstate(invalid="ignore"):
            usable = ((p > 0) & (p < 1)).all(axis=0) & (np.ptp(p, axis=0) > 0)
    a, b = np.full(m, np.nan), np.full(m, np.nan)
    converged = np.zeros(m, dtype=bool)
    iterations = np.zeros(m, dtype=np.int64)
    cols = np.flatnonzero(usable)
    if cols.size == 0:
        return BetaFit(a, b, converged, iterations)
    pc = p[:, cols]
    s1, s2 = np.log(pc).mean(axis=0), np.log1p(-pc).mean(axis=0)
    ca, cb = _moment_start(pc)
    active = np.arange(cols.size)
    done = np.zeros(cols.size, dtype=bool)
    for _ in range(BETA_FIT_MAXITER):
        if active.size == 0:
            break
        xa, xb, t1, t2 = ca[active], cb[active], s1[active], s2[active]
        da, db, size = _newton_step(xa, xb, t1, t2)
        iterations[cols[active]] += 1
        step = np.ones(active.size)
        ll = _beta_loglik(xa, xb, t1, t2)
        for _ in range(60):
            na, nb = xa + step * da, xb + step * db
            with np.errstate(invalid="ignore"):
                bad = ~((na > 0) & (nb > 0)) | ~(_beta_loglik(np.abs(na), np.abs(nb), t1, t2) >= ll)
            bad &= size * step > np.sqrt(BETA_FIT_RTOL)     # a step that small is round-off: taken
            if not bad.any():
                break
            step = np.where(bad, 0.5 * step, step)
        ok = (na > 0) & (nb > 0) & np.isfinite(size)
        ca[active] = np.where(ok, na, xa)
        cb[active] = np.where(ok, nb, xb)
        finished = ok & (size <= BETA_FIT_RTOL)
        done[active[finished]] = True
        active = active[~finished & ok]
    a[cols[done]], b[cols[done]] = ca[done], cb[done]
    converged[cols[done]] = True
    return BetaFit(a, b, converged, iterations)


def _as_regions(observed, permutations, df, lengths):
    """Observed (R, m), a list of R permutation arrays (n_r, m), df (R, m), lengths (R,)."""
    if isinstance(permutations, np.ndarray) or not isinstance(permutations, Sequence):
        permutations = [permutations]
        observed = [observed]
    perms = [as_float_array(x, "permutations") for x in permutations]
    obs = as_float_array(observed, "observed")
    n_regions = len(perms)
    if obs.ndim == 1:
        obs = obs[None, :]
    m = obs.shape[-1]
    if obs.shape != (n_regions, m) or any(x.ndim != 2 or x.shape[1] != m for x in perms):
        raise InputError(f"observed must be (m,) with one permutation array (n_perm, m), or (R, m) with R "
                         f"arrays; got observed {obs.shape} and permutations "
                         f"{[x.shape for x in perms]}")
    lengths = np.ones(1) if lengths is None and n_regions == 1 else as_float_array(lengths, "lengths").ravel()
    if lengths.shape != (n_regions,) or not (np.isfinite(lengths) & (lengths > 0)).all():
        raise InputError(f"lengths must be {n_regions} positive region length(s), got {lengths}")
    df = as_float_array(df, "df")
    try:
        df = np.broadcast_to(df, (n_regions, m))
    except ValueError:
        raise InputError(f"df must broadcast to (regions, traits) = {(n_regions, m)}, got {df.shape}") from None
    return obs, perms, df, lengths


def pvalue_genome(observed, permutations, df, lengths=None) -> GenomePValues:
    """Genome-wide p-value of each trait's maximum LOD, by the beta approximation of its permutations.

    Parameters
    ----------
    observed : array_like, shape (m,) or (R, m)
        Each trait's maximum LOD (in each region).
    permutations : ndarray (n_perm, m), or a sequence of R arrays (n_r, m)
        The permutation maxima (:func:`lmm.scan1perm`), of each region; regions may have different
        numbers of replicates (qtl2's X: ``ceiling(n_perm·L_A/L_X)``).
    df : array_like, broadcastable to (m,) or (R, m)
        Degrees of freedom of the LODs (``ScanResult.df``), ``≥ 1``.
    lengths : array_like, shape (R,), optional
        Region lengths (with several regions; any common unit, e.g. cM).

    Returns
    -------
    GenomePValues

    Notes
    -----
    Beta fit, its fallback and the rule combining regions, ``p = min_r 1 − (1 − p_r)^(L/L_r)``,
    are in the module's notes. NaN maxima are left out of a trait's permutations; a trait with
    no observed maximum or no permutation gets NaN and method ``"missing"``.
    """
    obs, perms, df, lengths = _as_regions(observed, permutations, df, lengths)
    n_regions, m = obs.shape
    shape = (n_regions, m)
    region_p, empirical, nominal = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    a, b = np.full(shape, np.nan), np.full(shape, np.nan)
    method = np.full(shape, "missing", dtype=object)
    for r, perm in enumerate(perms):
        n_valid = (~np.isnan(perm)).sum(axis=0)
        with np.errstate(invalid="ignore"):
            k = (perm >= obs[r]).sum(axis=0)
        has = ~np.isnan(obs[r]) & (n_valid > 0)
        empirical[r] = np.where(has, (k + 1.0) / (n_valid + 1.0), np.nan)
        nominal[r] = np.where(np.isnan(obs[r]), np.nan, lod_to_pvalue(obs[r], df[r]))
        fit = fit_beta(lod_to_pvalue(perm, df[r][None, :]))
        use_beta = has & fit.converged
        a[r], b[r] = fit.a, fit.b
        region_p[r] = np.where(use_beta, special.betainc(np.where(use_beta, fit.a, 1.0),
                                                          np.where(use_beta, fit.b, 1.0),
                                                          np.nan_to_num(nominal[r])), empirical[r])
        method[r] = np.where(use_beta, "beta", np.where(has, "empirical", "missing"))
    scaled = region_p
    if n_regions > 1:
        with np.errstate(divide="ignore"):
            scaled = -np.expm1((lengths.sum() / lengths)[:, None] * np.log1p(-region_p))
    best = np.argmin(np.where(np.isnan(scaled), np.inf, scaled), axis=0)
    pvalue = scaled[best, np.arange(m)]
    none = np.isnan(scaled).all(axis=0)
    region = np.where(none, -1, best)
    return GenomePValues(pvalue, np.where(none, "missing", method[best, np.arange(m)]), region, region_p,
                         empirical, nominal, a, b, method, df, lengths)


def genome_pvalue_cut(pvalues, qvalues, fdr: float) -> float:
    """The genome-wide p-value cut of an FDR: midway between the largest p-value with ``q ≤ fdr``
    (0 if none) and the smallest with ``q > fdr`` (1 if none); NaN pairs are left out."""
    p = as_float_array(pvalues, "pvalues").ravel()
    q = as_float_array(qvalues, "qvalues").ravel()
    if p.shape != q.shape:
        raise InputError(f"pvalues and qvalues must have one length, got {p.size} and {q.size}")
    if not 0.0 < fdr < 1.0:
        raise InputError(f"fdr must lie in (0, 1), got {fdr}")
    keep = ~np.isnan(p) & ~np.isnan(q)
    p, q = p[keep], q[keep]
    lower = p[q <= fdr].max() if (q <= fdr).any() else 0.0
    upper = p[q > fdr].min() if (q > fdr).any() else 1.0
    return float(0.5 * (lower + upper))


def lod_thresholds(genome: GenomePValues, p_cut: float, permutations) -> np.ndarray:
    """Each trait's LOD threshold in each region at the genome-wide p-value cut ``p_cut``.

    Parameters
    ----------
    genome : GenomePValues
        From :func:`pvalue_genome`.
    p_cut : float
        In (0, 1): :func:`genome_pvalue_cut` of the q-values at an FDR.
    permutations : ndarray or sequence of ndarray
        As given to :func:`pvalue_genome` (for the traits with empirical p-values).

    Returns
    -------
    ndarray, shape (R, m)
        NaN for a trait without a p-value in that region.

    Notes
    -----
    Level ``α_r = 1 − (1 − p*)^(L_r/L)`` in region ``r``; LOD of the beta quantile
    ``I⁻¹_{α_r}(a, b)``, or the empirical ``1 − α_r`` quantile of the permutation maxima (module notes).
    """
    if not 0.0 < p_cut < 1.0:
        raise InputError(f"p_cut must lie in (0, 1), got {p_cut}")
    perms = [permutations] if isinstance(permutations, np.ndarray) else list(permutations)
    if len(perms) != genome.lengths.size:
        raise InputError(f"permutations must have {genome.lengths.size} region(s), got {len(perms)}")
    levels = -np.expm1(genome.lengths / genome.lengths.sum() * np.log1p(-p_cut))
    out = np.full(genome.region_pvalue.shape, np.nan)
    for r, perm in enumerate(perms):
        beta = genome.region_method[r] == "beta"
        if beta.any():
            nominal = special.betaincinv(genome.a[r, beta], genome.b[r, beta], levels[r])
            out[r, beta] = pvalue_to_lod(nominal, np.maximum(genome.df[r, beta], 1))
        emp = np.flatnonzero(genome.region_method[r] == "empirical")
        if emp.size:
            out[r, emp] = _permutation_quantile(perm[:, emp], levels[r])
    return out


def _permutation_quantile(max_lods: np.ndarray, alpha: float) -> np.ndarray:
    """:func:`lmm.permutation_threshold` of each column, NaN maxima left out."""
    if not np.isnan(max_lods).any():
        return permutation_threshold(max_lods, alpha)
    return np.nanquantile(max_lods, 1.0 - alpha, axis=0)

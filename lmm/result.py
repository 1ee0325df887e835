"""The result of a fit: :class:`FitResult`, shared by every fit path of :mod:`lmm`.

Built by :func:`lmm.search.search` (through :func:`assemble`) from the per-column
arrays of a :class:`lmm.search.SearchOutcome`; :func:`lmm.fit_lmm` and
:func:`lmm.fit_lmm_masked` return it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

__all__ = ["FitResult", "STATUSES", "assemble"]

#: Every value of a ``status`` that any output of the package carries (:attr:`FitResult.status`,
#: the ``status`` columns of ``results/heritability.tsv``, ``phenotype_status.tsv``,
#: ``results/scan/hsq.tsv``), with a one-line description. The only list of statuses: every
#: module takes its values from here.
STATUSES = {
    "ok": "fitted: hsq and every estimate in the data's units",
    "not_converged": "fitted, but the search for hsq did not meet its tolerance (estimates kept; "
                     "check the profile plot)",
    "flat_likelihood": "fitted, but the likelihood does not depend on hsq (e.g. K proportional to "
                       "I): hsq is not estimable and the value reported is arbitrary",
    "unbounded": "the likelihood grows without bound as hsq -> 1 (K singular, phenotype constant "
                 "within groups of identical individuals): hsq = 1, loglik = inf, no interval",
    "scale_overflow": "fitted (hsq, its interval and loglik valid), but sigmasq or beta overflow "
                      "float64 in the data's units: they are given for y * 2^-y_scale_log2",
    "scale_underflow": "fitted (hsq, its interval and loglik valid), but sigmasq or beta underflow "
                       "float64 in the data's units: they are given for y * 2^-y_scale_log2",
    "all_missing": "no observed value among the individuals kept; not fitted",
    "too_few_observations": "n <= p + 1 observed values for p covariates (intercept included); "
                            "not fitted",
    "constant": "a single distinct observed value; not fitted",
    "explained_by_covariates": "the covariates fit the phenotype exactly (e.g. it is a copy of a "
                               "covariate); not fitted",
}


@dataclass(frozen=True, eq=False)
class FitResult:
    """Result of :func:`lmm.fit_lmm` and :func:`lmm.fit_lmm_masked`.

    For 1-D ``y`` every field is a scalar and ``beta`` is (p,); for ``y`` of
    shape (n, m) the per-phenotype fields are arrays (m,) and ``beta`` is (p, m).

    Attributes
    ----------
    hsq : heritability ``σ²_g / (σ²_g + σ²_e)``, in [0, 1], on the scale of
        the K given (see the README on the kinship scale). An interior optimum
        (``boundary == 'none'``, ``status == 'ok'``) is the root of the score
        ``dℓ/dhsq`` to ~1e-13, polished after the Brent search
        (:mod:`lmm.search`, note 4), so it does not depend on the units or offset of
        ``y`` or on the fit path beyond round-off.
    beta : fixed effects, one row per column of ``X``, in the units of ``y`` and ``X``
        (times ``2^−y_scale_log2``).
    sigmasq : total variance ``σ² = rss / (n − p)`` (times ``4^−y_scale_log2``).
    sigmasq_g : ``hsq · σ²`` (same scale as ``sigmasq``).
    sigmasq_e : ``(1 − hsq) · σ²`` (same scale as ``sigmasq``).
    y_scale_log2 : int exponent ``k``: ``beta``, ``sigmasq``, ``sigmasq_g`` and ``sigmasq_e``
        are the estimates of the data ``y·2^−k``. 0 (the data's own units) wherever float64
        represents them; for a phenotype whose ``σ²`` or ``β`` in its own units would overflow
        (above ~1.8e308, e.g. ``y·1e200``) or underflow (below ~2.2e-308, e.g. ``y·1e-200``),
        ``k`` is the exponent with ``max|y·2^−k|`` in [0.5, 1) and ``status`` is
        ``'scale_overflow'`` or ``'scale_underflow'`` (unless it is ``'flat_likelihood'`` or
        ``'unbounded'``, which say more about ``hsq``). ``hsq``, its interval and ``loglik``
        are in the data's units in every case; no reported number is infinite or NaN for want
        of range (:mod:`lmm.search`, note 7).
    loglik : ``ℓ(hsq)``, lmmlite's constants (see :func:`lmm.calc_ll`); ``+inf``
        when ``status`` is ``'unbounded'``.
    hsq_se : standard error ``(−d²ℓ/dhsq²)^(−1/2)`` from the observed
        information; NaN when not computed, at a boundary, or where the curvature
        is not negative.
    hsq_ci_lower, hsq_ci_upper : profile-likelihood interval
        ``{h : 2(ℓ(ĥ) − ℓ(h)) ≤ ci_cutoff}`` (NaN when ``compute_ci=False`` or
        the likelihood is unbounded).
    ci_cutoff : the cutoff the interval used: ``CHI2_95 = 3.8415`` (χ²₁ 95%)
        for an interior ``ĥ``, ``CHI2_MIX_95 = 2.7055`` (95% of the 50:50
        mixture of χ²₀ and χ²₁) for ``ĥ`` on a boundary; NaN without interval.
        See :mod:`lmm.search`.
    boundary : ``'none'``, ``'lower'`` (hsq = 0) or ``'upper'`` (hsq = 1).
    status : ``'ok'``, ``'flat_likelihood'``, ``'unbounded'`` (whether ``hsq`` is an estimate
        at all), ``'scale_overflow'`` or ``'scale_underflow'`` (see ``y_scale_log2``);
        :data:`STATUSES`.
    converged : the Brent search met its tolerance.
    n_eval : likelihood evaluations of the Brent search (not counting the few
        score evaluations of the polish).
    n, p : individuals and covariates (``n`` is an array (m,) of observed
        counts from :func:`lmm.fit_lmm_masked`).
    method : ``'reml'`` or ``'ml'``.
    """

    hsq: float | np.ndarray
    beta: np.ndarray
    sigmasq: float | np.ndarray
    sigmasq_g: float | np.ndarray
    sigmasq_e: float | np.ndarray
    loglik: float | np.ndarray
    hsq_se: float | np.ndarray
    hsq_ci_lower: float | np.ndarray
    hsq_ci_upper: float | np.ndarray
    boundary: str | np.ndarray
    converged: bool | np.ndarray
    n_eval: int | np.ndarray
    n: int
    p: int
    method: str
    status: str | np.ndarray = "ok"
    ci_cutoff: float | np.ndarray = np.nan
    y_scale_log2: int | np.ndarray = 0
    _fields_per_column: ClassVar[tuple] = (
        "hsq", "sigmasq", "sigmasq_g", "sigmasq_e", "loglik", "hsq_se",
        "hsq_ci_lower", "hsq_ci_upper", "boundary", "converged", "n_eval", "status", "ci_cutoff",
        "y_scale_log2")

    @property
    def hsq_ci(self) -> np.ndarray:
        """``[lower, upper]``: shape (2,) or (2, m)."""
        return np.stack([np.asarray(self.hsq_ci_lower), np.asarray(self.hsq_ci_upper)])

    @property
    def m(self) -> int:
        """Number of phenotypes (1 for a 1-D ``y``)."""
        return int(np.size(self.hsq))

    def column(self, j: int) -> "FitResult":
        """The result of phenotype ``j`` alone, as if fitted with a 1-D ``y``."""
        if np.ndim(self.hsq) == 0:
            if j != 0:
                raise IndexError(j)
            return self
        kw = {k: _scalar(getattr(self, k)[j]) for k in self._fields_per_column}
        n = int(self.n[j]) if np.ndim(self.n) else self.n
        return FitResult(beta=self.beta[:, j].copy(), n=n, p=self.p, method=self.method, **kw)


def _scalar(v):
    return v.item() if isinstance(v, np.generic) else v


def assemble(outcome, n, p: int, reml: bool) -> FitResult:
    """A :class:`FitResult` (arrays over columns) from a :class:`lmm.search.SearchOutcome`.

    Parameters
    ----------
    outcome : SearchOutcome
        Per-column arrays (m,) (``beta`` (p, m)).
    n : int or ndarray (m,)
    p : int
    reml : bool
    """
    hsq = outcome.hsq
    sigmasq = outcome.sigmasq
    return FitResult(
        hsq=hsq, beta=outcome.beta, sigmasq=sigmasq, sigmasq_g=hsq * sigmasq,
        sigmasq_e=(1.0 - hsq) * sigmasq, loglik=outcome.loglik, hsq_se=outcome.hsq_se,
        hsq_ci_lower=outcome.hsq_ci_lower, hsq_ci_upper=outcome.hsq_ci_upper,
        boundary=np.asarray(outcome.boundary, dtype="<U5"), converged=outcome.converged,
        n_eval=outcome.n_eval, n=n, p=p, method="reml" if reml else "ml",
        status=np.asarray(outcome.status, dtype=f"<U{max(map(len, STATUSES))}"),
        ci_cutoff=outcome.ci_cutoff, y_scale_log2=outcome.scale_log2())

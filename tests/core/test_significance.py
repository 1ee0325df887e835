"""lmm.significance: the beta fit against scipy's maximum-likelihood fit (an independent oracle);
the beta approximation against empirical p-values of many null replicates; null genome-wide
p-values uniform (one region, and autosomes with X); the regions' rule; the fallback; the LOD
thresholds at an FDR round-trip through pvalue_genome.

The null is a seeded simulation of genome-wide maxima: a LOD of a χ²₁ statistic ``z²/(2 ln 10)``
at M markers along a chromosome, ``z`` a stationary AR(1) Gaussian process (correlated markers),
its maximum over the markers. Every random draw is seeded, so each test gives the same numbers
on every run."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal, special, stats

from lmm import lod_to_pvalue, permutation_threshold
from lmm.errors import InputError
from lmm.fdr import qvalue
from lmm.significance import (fit_beta, genome_pvalue_cut, lod_thresholds, pvalue_genome,
                              pvalue_to_lod)

LN10 = np.log(10.0)


def null_maxima(rng, shape, markers=20, rho=0.8):
    """Maximum LOD over ``markers`` correlated markers (AR(1) z-scores, χ²₁ LODs), shape ``shape``."""
    e = rng.standard_normal(tuple(shape) + (markers,))
    e[..., 0] /= np.sqrt(1 - rho**2)            # start in the stationary distribution
    z = signal.lfilter([np.sqrt(1 - rho**2)], [1, -rho], e, axis=-1)
    return (z**2).max(axis=-1) / (2 * LN10)


def test_fit_beta_is_scipys_maximum_likelihood():
    rng = np.random.default_rng(8)
    a_true, b_true = np.array([0.6, 0.9, 1.0, 2.5]), np.array([40.0, 8.0, 1.0, 300.0])
    p = rng.beta(a_true, b_true, size=(3000, 4))
    fit = fit_beta(p)
    assert fit.converged.all() and fit.iterations.max() < 30
    for j in range(4):
        a_ref, b_ref, _, _ = stats.beta.fit(p[:, j], floc=0, fscale=1)
        np.testing.assert_allclose([fit.a[j], fit.b[j]], [a_ref, b_ref], rtol=1e-6)
    np.testing.assert_allclose(fit.a, a_true, rtol=0.1)


def test_fit_beta_failures_are_flagged():
    rng = np.random.default_rng(1)
    good = rng.beta(0.8, 20, size=50)
    p = np.column_stack([good, np.full(50, 0.3), np.r_[good[:-1], 0.0], np.r_[good[:-1], 1.0],
                         np.r_[good[:-1], np.nan]])
    fit = fit_beta(p)
    assert fit.converged.tolist() == [True, False, False, False, False]
    assert np.isnan(fit.a[1:]).all() and np.isnan(fit.b[1:]).all()
    assert not fit_beta(good[:5]).converged[0]          # too few permutations


def test_beta_pvalues_match_many_permutations():
    """The beta fit to 4,000 replicates gives the tail probabilities of 200,000 (to the fit's
    sampling error), also below 1/4,001, where the empirical p-value of the 4,000 cannot go."""
    rng = np.random.default_rng(3)
    reference = null_maxima(rng, (200_000,))
    perms = null_maxima(rng, (4000, 1))
    tails = np.array([0.5, 0.1, 0.01, 1e-3, 5e-4, 1e-4])
    observed = np.quantile(reference, 1 - tails)
    result = pvalue_genome(observed, np.repeat(perms, tails.size, axis=1), df=1)
    assert (result.method == "beta").all()
    ratio = result.pvalue / tails
    assert np.all(np.abs(ratio[:3] - 1) < 0.2), ratio
    assert np.all((ratio[3:] > 0.5) & (ratio[3:] < 2)), ratio
    assert result.pvalue[-1] < 1 / 4001 <= result.empirical[0, -1]


def test_null_pvalues_are_uniform():
    rng = np.random.default_rng(20261207)
    perms, observed = null_maxima(rng, (100, 1500)), null_maxima(rng, (1500,))
    result = pvalue_genome(observed, perms, df=1)
    assert (result.method == "beta").all()
    assert stats.kstest(result.pvalue, "uniform").pvalue > 0.01
    np.testing.assert_array_equal(result.pvalue, result.region_pvalue[0])


def test_null_pvalues_with_x_permuted_apart_are_uniform():
    """Autosomes and X (qtl2's perm_Xsp: X gets ceiling(n_perm·L_A/L_X) replicates): the combined
    p-value min_r 1 − (1 − p_r)^(L/L_r) is uniform under the null."""
    rng = np.random.default_rng(17)
    lengths = np.array([1400.0, 160.0])
    n_auto = 60
    n_x = int(np.ceil(n_auto * lengths[0] / lengths[1]))
    m = 1500
    perms = [null_maxima(rng, (n_auto, m), markers=60), null_maxima(rng, (n_x, m), markers=8)]
    observed = np.stack([null_maxima(rng, (m,), markers=60), null_maxima(rng, (m,), markers=8)])
    result = pvalue_genome(observed, perms, df=[[1], [2]], lengths=lengths)
    expected = np.min(1 - (1 - result.region_pvalue) ** (lengths.sum() / lengths)[:, None], axis=0)
    np.testing.assert_allclose(result.pvalue, expected, rtol=1e-12)
    assert set(result.region) == {0, 1}
    assert stats.kstest(result.pvalue, "uniform").pvalue > 0.01


def test_fallback_to_empirical_and_missing():
    rng = np.random.default_rng(4)
    perms = null_maxima(rng, (30, 4))
    perms[:, 1] = 2.0                      # no spread: no beta fit
    perms[:5, 2] = np.nan                  # NaN replicates are left out of the empirical count
    observed = np.array([3.0, 1.5, 2.5, np.nan])
    result = pvalue_genome(observed, perms, df=1)
    assert result.method.tolist() == ["beta", "empirical", "empirical", "missing"]
    assert result.pvalue[1] == (30 + 1) / 31
    k = (perms[5:, 2] >= 2.5).sum()
    assert result.pvalue[2] == (k + 1) / 26
    assert np.isnan(result.pvalue[3]) and result.region[3] == -1


def test_pvalue_to_lod_inverts_lod_to_pvalue():
    lod = np.array([[0.5, 3.0, 12.0], [1.0, 4.0, 30.0]])
    df = np.array([[1], [3]])
    np.testing.assert_allclose(pvalue_to_lod(lod_to_pvalue(lod, df), df), lod, rtol=1e-9)
    with pytest.raises(InputError, match="df must be at least 1"):
        pvalue_to_lod(0.01, 0)


def test_lod_thresholds_round_trip():
    """A LOD at a trait's threshold has the genome-wide p-value of the cut, in either region;
    an empirical trait's threshold is lmm.permutation_threshold at the region's level."""
    rng = np.random.default_rng(9)
    m = 300
    lengths = np.array([1000.0, 100.0])
    perms = [null_maxima(rng, (50, m), markers=40), null_maxima(rng, (500, m), markers=6)]
    perms[0][:, 0] = 1.0                                      # trait 0: empirical on the autosomes
    observed = np.stack([null_maxima(rng, (m,), markers=40), null_maxima(rng, (m,), markers=6)])
    observed[0, 5:40] += 3.0                                  # some real signal
    df = np.array([[1], [2]])
    genome = pvalue_genome(observed, perms, df, lengths)
    q = qvalue(genome.pvalue, pi0=1.0).qvalues
    cut = genome_pvalue_cut(genome.pvalue, q, 0.05)
    assert genome.pvalue[q <= 0.05].max() < cut < genome.pvalue[q > 0.05].min()
    thresholds = lod_thresholds(genome, cut, perms)
    for r in range(2):
        at = np.tile(np.nan, (2, m))
        at[r] = thresholds[r]
        again = pvalue_genome(at, perms, df, lengths)
        beta = genome.region_method[r] == "beta"
        np.testing.assert_allclose(again.pvalue[beta], cut, rtol=1e-7)
    level = 1 - (1 - cut) ** (lengths[0] / lengths.sum())
    assert thresholds[0, 0] == permutation_threshold(perms[0][:, :1], level)[0]
    significant = (observed > thresholds).any(axis=0)
    np.testing.assert_array_equal(significant[genome.region_method[0] == "beta"],
                                  (genome.pvalue < cut)[genome.region_method[0] == "beta"])


@pytest.mark.parametrize("args, match", [
    ((np.zeros(3), np.zeros((10, 4)), 1), "observed must be"),
    ((np.zeros((2, 3)), [np.zeros((10, 3)), np.zeros((5, 3))], 1, [1.0]), "lengths must be 2"),
    ((np.zeros(3), np.zeros((10, 3)), np.ones((2, 2))), "df must broadcast"),
])
def test_pvalue_genome_refusals(args, match):
    with pytest.raises(InputError, match=match):
        pvalue_genome(*args)


def test_beta_cdf_is_the_pvalue():
    rng = np.random.default_rng(12)
    perms, observed = null_maxima(rng, (200, 3)), np.array([0.8, 1.6, 3.2])
    result = pvalue_genome(observed, perms, df=1)
    fit = fit_beta(lod_to_pvalue(perms, np.ones((1, 3))))
    np.testing.assert_allclose(result.pvalue, special.betainc(fit.a, fit.b, lod_to_pvalue(observed, 1)),
                               rtol=1e-14)


def test_qvalues_of_genome_pvalues_keep_the_false_share_near_the_fdr():
    """The whole chain of significance.tsv — permutation maxima → beta genome-wide p-values →
    Storey's q-values (R's defaults) → q ≤ 0.05 — on 40 seeded studies of 1,000 traits (900 null,
    100 with a QTL, each trait its own 200 permutations): the mean false share among the traits
    called is near 5% (above it by no more than its sampling error), and most QTL are found."""
    rng = np.random.default_rng(5)
    fdp, power = [], []
    for _ in range(30):
        m, m1 = 1000, 100
        perms = null_maxima(rng, (200, m))
        observed = null_maxima(rng, (m,))
        z = rng.standard_normal((m1, 20))
        z[:, 10] += 4.5                                   # one QTL at the middle marker
        observed[:m1] = (z**2).max(axis=1) / (2 * LN10)
        p = pvalue_genome(observed, perms, df=1).pvalue
        called = qvalue(p).qvalues <= 0.05
        fdp.append(called[m1:].sum() / max(called.sum(), 1))
        power.append(called[:m1].mean())
    fdp = np.array(fdp)
    # here 0.057 (150 studies: 0.052 ± 0.002, π0 estimated 0.911 for 0.9): within 3 SE of 5%
    assert 0.03 < fdp.mean() < 0.05 + 3 * fdp.std(ddof=1) / np.sqrt(fdp.size), fdp.mean()
    assert np.mean(power) > 0.7

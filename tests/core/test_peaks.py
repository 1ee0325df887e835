"""lmm.peaks: find_peaks, lod_int, bayes_int, maxlod (R/qtl2's) on hand-made curves with known
answers, against brute-force statements of the definitions, and their properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lmm
from lmm.errors import InputError
from lmm.peaks import bayes_int, find_peaks, lod_int, maxlod, maxlod_per_chromosome


# --------------------------------------------------------------------------- brute-force oracles


def oracle_one_peak(seg, pos, threshold, drop):
    """peakdrop = ∞: the chromosome's maximum, tie-averaged position, and one position beyond the
    first and the last with LOD ≥ top − drop."""
    v = seg.max()
    if not v > threshold:
        return []
    i = int(np.argmax(seg))
    above = np.flatnonzero(seg >= v - drop)
    lo, hi = max(above[0] - 1, 0), min(above[-1] + 1, seg.size - 1)
    return [(i, pos[seg == v].mean(), v, pos[lo], pos[hi])]


def separated(seg, peaks, peakdrop):
    """R/qtl2's rule: between adjacent peaks the LOD drops at least peakdrop below the lower one."""
    return all(seg[a:b + 1].min() <= min(seg[a], seg[b]) - peakdrop for a, b in zip(peaks[:-1], peaks[1:]))


def local_maxima(seg, threshold):
    """First index of each flat-topped local maximum above threshold."""
    out, i = [], 0
    while i < seg.size:
        j = i
        while j + 1 < seg.size and seg[j + 1] == seg[i]:
            j += 1
        if (i == 0 or seg[i - 1] < seg[i]) and (j == seg.size - 1 or seg[j + 1] < seg[i]) and seg[i] > threshold:
            out.append(i)
        i = j + 1
    return out


def hpd_mass(seg, pos, lo, hi):
    """Posterior mass of rows lo..hi, each row weighted by the mean of its two gaps (an end's one gap)."""
    w = np.empty(seg.size)
    w[1:-1] = (pos[2:] - pos[:-2]) / 2
    w[0], w[-1] = pos[1] - pos[0], pos[-1] - pos[-2]
    mass = 10.0 ** (seg - seg.max()) * w
    return mass[lo:hi + 1].sum() / mass.sum()


# --------------------------------------------------------------------------- hand-made curves


LOD = np.array([1, 5, 2, 4.5, 3, 0.5,      # chr 0: peaks 5 and 4.5 separated by a drop of 2.5
                7, 7, 1, 2, 1.9, 8.0])     # chr 1: tie 7,7 then 8
CS = [0, 6, 12]
POS = np.array([0, 10, 20, 30, 40, 50, 0, 5, 10, 15, 20, 25.0])


def test_one_peak_per_chromosome_by_default():
    p = find_peaks(LOD, CS, POS, threshold=3, drop=1.5)
    np.testing.assert_array_equal(p.chr, [0, 1])
    np.testing.assert_array_equal(p.index, [1, 11])
    np.testing.assert_array_equal(p.lod, [5, 8])
    np.testing.assert_array_equal(p.pos, [10, 25])
    # LOD ≥ 3.5 at rows 1 and 3, ≥ 6.5 at rows 6, 7, 11: one row beyond, within the chromosome
    np.testing.assert_array_equal(p.ci_lo, [0, 0])
    np.testing.assert_array_equal(p.ci_hi, [40, 25])
    assert np.isnan(find_peaks(LOD, CS, POS).ci_lo).all()      # no interval asked for


def test_peakdrop_several_peaks_tie_and_intervals():
    two = find_peaks(LOD, CS, POS, threshold=3, peakdrop=2, drop=1.5)
    np.testing.assert_array_equal(two.lod, [5, 4.5, 7, 8])
    np.testing.assert_array_equal(two.pos, [10, 30, 2.5, 25])      # the tie: mean position
    np.testing.assert_array_equal(two.index, [1, 3, 6, 11])        # ... its first row
    # regions split at the dips (rows 2 and 8, in both regions)
    np.testing.assert_array_equal(two.ci_lo, [0, 20, 0, 20])
    np.testing.assert_array_equal(two.ci_hi, [20, 50, 10, 25])
    three = find_peaks(LOD, CS, POS, threshold=3, peakdrop=3)      # 4.5 needs a drop to 1.5
    np.testing.assert_array_equal(three.lod, [5, 7, 8])
    assert len(find_peaks(LOD, CS, POS, threshold=9)) == 0
    assert len(find_peaks(LOD, CS, POS, threshold=8)) == 0         # the threshold must be exceeded


def test_edge_peak_needs_no_drop_beyond_the_end():
    np.testing.assert_array_equal(find_peaks(np.array([10, 4, 9, 8.5]), threshold=3, peakdrop=1).lod, [10, 9])


def test_equal_peaks_without_the_drop_are_one_peak_the_first():
    p = find_peaks(np.array([0, 7.5, 6, 7.5, 0]), threshold=1, peakdrop=2)
    np.testing.assert_array_equal(p.index, [1])
    np.testing.assert_array_equal(find_peaks(np.array([0, 7.5, 5, 7.5, 0]), threshold=1, peakdrop=2).index, [1, 3])


def test_a_higher_neighbour_without_the_drop_absorbs_a_local_maximum():
    #                 0  1    2  3    4  5
    seg = np.array([5.0, 2.9, 4, 1.5, 6, 0])
    p = find_peaks(seg, threshold=3, peakdrop=2)
    np.testing.assert_array_equal(p.lod, [5, 6])                   # 4: only 1.1 below it towards 5


def test_lod_support_interval_by_hand():
    seg = np.array([0, 1, 2.6, 3.9, 4, 3.5, 2.5, 2.6, 1, 0])
    pos = np.arange(10.0) * 2
    # one position beyond the first and last with LOD ≥ peak − drop, whatever lies between
    np.testing.assert_array_equal(lod_int(seg, pos), [[2, 8, 16]])                 # rows 2..7
    np.testing.assert_array_equal(lod_int(seg, pos, drop=1.4), [[2, 8, 16]])       # 2.5 (row 6) inside
    np.testing.assert_array_equal(lod_int(seg, pos, drop=0.6), [[4, 8, 12]])       # rows 3..5
    np.testing.assert_array_equal(lod_int(seg, pos, drop=0), [[6, 8, 10]])
    assert lod_int(seg, pos, threshold=5).shape == (0, 3)


def test_bayes_interval_by_hand():
    # equal spacing (every weight 1, the ends' too), LOD 2 at the peak and 1 beside it
    seg = np.array([0.0, 1, 2, 1, 0])
    pos = np.array([0.0, 1, 2, 3, 4])
    total = 1 + 10 + 100 + 10 + 1
    assert 110 / total < 0.95 < 120 / total < 0.999
    np.testing.assert_array_equal(bayes_int(seg, pos, prob=0.95), [[1, 2, 3]])
    np.testing.assert_array_equal(bayes_int(seg, pos, prob=0.9), [[1, 2, 2]])     # ties: map order
    np.testing.assert_array_equal(bayes_int(seg, pos, prob=0.8), [[2, 2, 2]])
    np.testing.assert_array_equal(bayes_int(seg, pos, prob=0.999), [[0, 2, 4]])
    # the spacing weights the posterior: a point far from its neighbours carries more mass
    # (masses 1000, 100, 1 with equal spacing; 1980, 100, 0.02 with the second point moved right)
    seg = np.array([3.0, 2, 0])
    np.testing.assert_array_equal(bayes_int(seg, [0.0, 1, 2], prob=0.92), [[0, 0, 1]])
    np.testing.assert_array_equal(bayes_int(seg, [0.0, 1.98, 2], prob=0.92), [[0, 0, 0]])
    np.testing.assert_allclose(lmm.peaks.chromosome_weights([0.0, 1.98, 2]), [1.98, 1, 0.02], rtol=1e-12)


def test_bayes_interval_with_several_peaks_stays_in_the_peaks_region():
    seg = np.array([0, 6, 0.5, 0.2, 4, 0.4, 0.1])
    pos = np.arange(7.0)
    out = bayes_int(seg, pos, prob=0.999, peakdrop=2, threshold=3)
    np.testing.assert_array_equal(out[:, 1], [1, 4])
    assert out[0, 2] <= 3 and out[1, 0] >= 3                        # split at the dip (row 3)
    one = bayes_int(seg, pos, prob=0.999)                           # one peak: the whole chromosome
    np.testing.assert_array_equal(one, [[1, 1, 4]])                 # 10^6 and 10^4 hold 0.99999


def test_expand2markers_moves_pseudomarker_ends_outward():
    seg = np.array([0, 1, 3, 4, 3, 1, 0.0])
    pos = np.arange(7.0)
    pseudo = np.array([True, True, False, True, False, False, True])   # rows 2, 4, 5 pseudomarkers
    # the interval is rows 1..5 (LOD ≥ 2.5 at rows 2..4, one beyond); row 5 is a pseudomarker
    p = find_peaks(seg, None, pos, threshold=0, drop=1.5, is_marker=pseudo)
    assert (p.ci_lo[0], p.ci_hi[0]) == (1, 6)
    p = find_peaks(seg, None, pos, threshold=0, drop=1.5, is_marker=pseudo, expand2markers=False)
    assert (p.ci_lo[0], p.ci_hi[0]) == (1, 5)
    np.testing.assert_array_equal(lod_int(seg, pos, is_marker=pseudo), [[1, 3, 6]])
    # no marker beyond: the end stays; markers only: no change
    p = find_peaks(seg, None, pos, threshold=0, drop=0.5, is_marker=np.arange(7) == 3)
    assert (p.ci_lo[0], p.ci_hi[0]) == (2, 4)
    np.testing.assert_array_equal(lod_int(seg, pos), lod_int(seg, pos, expand2markers=False))


def test_thresholdX_and_peakdropX_apply_to_the_x_chromosome():
    lod = np.array([1, 4, 1, 4, 1, 1, 4, 1, 4, 1.0])
    cs = [0, 5, 10]
    assert len(find_peaks(lod, cs, threshold=3, is_x=[False, True])) == 2
    assert len(find_peaks(lod, cs, threshold=3, thresholdX=5, is_x=[False, True])) == 1
    p = find_peaks(lod, cs, threshold=3, peakdrop=np.inf, peakdropX=2, is_x=[False, True])
    np.testing.assert_array_equal(p.chr, [0, 1, 1])


def test_maxlod_overall_and_per_chromosome():
    lod = np.column_stack([LOD, LOD[::-1] - 1])
    assert maxlod(lod) == 8.0 and isinstance(maxlod(lod), float)     # R/qtl2: over all columns
    assert maxlod(lod, 1) == 7.0
    np.testing.assert_array_equal(maxlod(lod, range(2)), [8, 7])    # per phenotype
    np.testing.assert_array_equal(maxlod(lod, [1]), [7])
    assert maxlod(LOD) == 8.0
    assert maxlod(np.array([np.nan, 2.0, 1])) == 2.0
    assert np.isnan(maxlod(np.full((3, 1), np.nan)))
    with pytest.raises(InputError):
        maxlod(lod, 2)
    np.testing.assert_array_equal(maxlod_per_chromosome(lod, CS), [[5, 7], [8, 4]])
    assert lmm.maxlod is maxlod and lmm.maxlod_per_chromosome is maxlod_per_chromosome
    assert lmm.lod_int is lod_int and lmm.bayes_int is bayes_int


def test_bad_input():
    for kwargs in [dict(peakdrop=1, drop=2), dict(drop=1, prob=0.9), dict(prob=0), dict(prob=1.5),
                   dict(peakdrop=0), dict(threshold=np.nan), dict(is_x=[True])]:
        with pytest.raises(InputError):
            find_peaks(LOD, CS, POS, **kwargs)
    with pytest.raises(InputError):
        lod_int(np.ones((4, 2)), np.arange(4.0))
    with pytest.raises(InputError):
        find_peaks(LOD, [0, 12, 6], POS)


# --------------------------------------------------------------------------- properties

curves = st.integers(3, 40).flatmap(lambda q: st.tuples(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.5]), min_size=q, max_size=q),
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=q, max_size=q)))


def _curve(data):
    seg, steps = (np.asarray(a, dtype=float) for a in data)
    return seg, np.cumsum(steps)                          # positions may repeat


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curves, st.sampled_from([0.5, 1.0, 1.5, 3.0]))
def test_infinite_peakdrop_is_the_maximum_with_its_support_interval(data, drop):
    seg, pos = _curve(data)
    p = find_peaks(seg, None, pos, threshold=2.0, drop=drop)
    got = list(zip(p.index, p.pos, p.lod, p.ci_lo, p.ci_hi))
    assert got == oracle_one_peak(seg, pos, 2.0, drop)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curves, st.sampled_from([0.5, 1.0, 2.0, 3.5]))
def test_finite_peakdrop_peaks_are_separated_and_maximal(data, peakdrop):
    seg, pos = _curve(data)
    p = find_peaks(seg, None, pos, threshold=1.0, peakdrop=peakdrop, drop=min(1.5, peakdrop))
    peaks = list(p.index)
    cands = local_maxima(seg, 1.0)
    assert set(peaks) <= set(cands)
    assert separated(seg, peaks, peakdrop)
    # no left-out local maximum could join them; the highest maximum is always a peak
    for c in set(cands) - set(peaks):
        assert not separated(seg, sorted(peaks + [c]), peakdrop)
    if cands:
        assert int(np.argmax(seg)) in peaks
    assert ((p.ci_lo <= p.pos) & (p.pos <= p.ci_hi)).all()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curves, st.sampled_from([0.5, 0.8, 0.95, 0.99, 1.0]))
def test_bayes_interval_contains_the_peak_and_at_least_prob(data, prob):
    seg, pos = _curve(data)
    if pos[-1] == pos[0]:
        return
    p = find_peaks(seg, None, pos, threshold=-1, prob=prob)
    # the interval holds the peak's row (a tie's mean position may lie outside: the tied rows
    # need not be contiguous)
    assert len(p) == 1 and p.ci_lo[0] <= pos[p.index[0]] <= p.ci_hi[0]
    lo = int(np.searchsorted(pos, p.ci_lo[0], side="left"))
    hi = int(np.searchsorted(pos, p.ci_hi[0], side="right")) - 1
    assert hpd_mass(seg, pos, lo, hi) >= prob * (1 - 1e-12)
    # the shortest such set: a larger prob never gives a narrower interval
    q = find_peaks(seg, None, pos, threshold=-1, prob=min(1.0, prob + 0.04))
    assert q.ci_lo[0] <= p.ci_lo[0] and q.ci_hi[0] >= p.ci_hi[0]


def test_vectorised_over_phenotypes_equals_one_at_a_time():
    rng = np.random.default_rng(7)
    lod = np.abs(np.cumsum(rng.normal(size=(60, 9)), axis=0))
    cs, pos = [0, 25, 40, 60], np.sort(rng.uniform(0, 100, 60))
    for kw in [dict(drop=1.5), dict(prob=0.95), dict(peakdrop=1.8, drop=1.5), dict(peakdrop=1.8, prob=0.9)]:
        all_at_once = find_peaks(lod, cs, pos, threshold=2, **kw)
        for j in range(9):
            one = find_peaks(lod[:, j], cs, pos, threshold=2, **kw)
            s = all_at_once.lodindex == j
            for f in ("chr", "index", "pos", "lod", "ci_lo", "ci_hi"):
                np.testing.assert_array_equal(getattr(all_at_once, f)[s], getattr(one, f))

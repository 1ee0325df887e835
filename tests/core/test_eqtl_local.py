"""lmm.eqtl: local/distal classification and hotspot counts, against brute-force loops (oracles)."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.eqtl import cis_distance, hotspot_counts
from lmm.errors import InputError


def test_cis_distance_cases():
    peak_chr = ["1", "1", "1", "2", "X", "3"]
    peak_pos = [10.0, 14.0, 30.0, 10.0, 5.0, 7.0]
    trait_chr = ["1", "1", "1", "1", "X", "3"]
    trait_pos = [12.0, 10.0, 10.0, 10.0, 5.0, np.nan]
    res = cis_distance(peak_chr, peak_pos, trait_chr, trait_pos, window=4.0)
    np.testing.assert_array_equal(res.cis, [1.0, 1.0, 0.0, 0.0, 1.0, np.nan])   # |14 − 10| = 4: local
    np.testing.assert_array_equal(res.distance, [-2.0, 4.0, 20.0, np.nan, 0.0, np.nan])


def test_cis_distance_matches_a_loop():
    rng = np.random.default_rng(2)
    k = 500
    pc, tc = rng.choice(["1", "2", "X"], k), rng.choice(["1", "2", "X"], k)
    pp, tp = rng.uniform(0, 100, k), rng.uniform(0, 100, k)
    tp[rng.uniform(size=k) < 0.1] = np.nan
    res = cis_distance(pc, pp, tc, tp, 10.0)
    for i in range(k):
        if np.isnan(tp[i]):
            assert np.isnan(res.cis[i]) and np.isnan(res.distance[i])
        elif pc[i] == tc[i]:
            assert res.distance[i] == pp[i] - tp[i] and res.cis[i] == float(abs(pp[i] - tp[i]) <= 10)
        else:
            assert np.isnan(res.distance[i]) and res.cis[i] == 0.0


def test_hotspot_counts_match_a_loop():
    rng = np.random.default_rng(4)
    pc = rng.choice(["1", "2", "3"], 300)
    pp = np.round(rng.uniform(0, 50, 300), 1)           # rounded: peaks exactly at a window's edge
    pp[:5] = np.nan
    gc = np.repeat(["1", "2", "4"], 40)
    gp = np.tile(np.linspace(0, 50, 40), 3)
    counts = hotspot_counts(pc, pp, gc, gp, 5.0)
    expected = [int(np.sum((pc == c) & (np.abs(pp - x) <= 2.5))) for c, x in zip(gc, gp)]
    np.testing.assert_array_equal(counts, expected)
    assert counts[gc == "4"].sum() == 0 and counts.sum() > 0


@pytest.mark.parametrize("window", [-1.0, np.nan, np.inf])
def test_windows_must_be_finite_and_non_negative(window):
    with pytest.raises(InputError, match="must be a finite number >= 0"):
        cis_distance(["1"], [1.0], ["1"], [1.0], window)
    with pytest.raises(InputError, match="hotspot_window"):
        hotspot_counts(["1"], [1.0], ["1"], [1.0], window)


def test_lengths_must_agree():
    with pytest.raises(InputError, match="one length"):
        cis_distance(["1", "2"], [1.0, 2.0], ["1"], [1.0], 1.0)

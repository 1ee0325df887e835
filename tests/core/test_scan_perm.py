"""scan1perm and the permutation seeding rule (lmm.scan.engine, "Permutation seeding"): a
phenotype's permutations come from the seed and its set of observed individuals only."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import lmm
from lmm.scan import permutation_rng, scan1, scan1perm, scan_rotated
from lmm.scan.engine import draw_permutations


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(17)
    n = 45
    Z = rng.normal(size=(n, 100))
    K = Z @ Z.T / 100 + 0.05 * np.eye(n)
    G = [rng.integers(0, 3, (n, 7)).astype(float), rng.integers(0, 3, (n, 5)).astype(float)]
    y = rng.normal(size=(n, 3))
    y[:4, 1] = np.nan
    y[20:35, 2] = np.nan          # 15 missing
    return K, G, y


def test_the_stream_is_a_function_of_the_seed_and_the_observed_mask():
    obs = np.ones(10, bool)
    obs[[2, 7]] = False
    digest = hashlib.sha256((10).to_bytes(8, "little") + np.packbits(obs).tobytes()).digest()
    want = np.random.default_rng([3, *np.frombuffer(digest, "<u4").tolist()]).permutation(8)
    assert np.array_equal(permutation_rng(3, obs).permutation(8), want)
    assert np.array_equal(draw_permutations(3, obs, 2)[0], want)
    other = obs.copy()
    other[2] = True
    assert not np.array_equal(draw_permutations(3, other, 1)[0][:8], want)
    with pytest.raises(lmm.InputError, match="non-negative integer"):
        permutation_rng(-1, obs)


def test_replicates_are_scans_of_genotypes_permuted_among_the_observed(data):
    K, G, y = data
    out = scan1perm(G, K, y, n_perm=4, seed=5)
    again = scan1perm(G, K, y, n_perm=4, seed=5, block_elements=1)
    np.testing.assert_allclose(out, again, rtol=1e-12)
    hsq = scan1(G, K, y).hsq[0]
    for j in range(y.shape[1]):
        o = np.flatnonzero(~np.isnan(y[:, j]))
        perms = draw_permutations(5, ~np.isnan(y[:, j]), 4)
        dec = lmm.eigen_decompose(K[np.ix_(o, o)])
        for b in range(4):
            Gp = np.hstack([g[o][perms[b]] for g in G])
            r = scan_rotated(dec.kva, dec.kve_t @ y[o, j], dec.kve_t @ np.ones((o.size, 1)), hsq[j], dec.kve_t @ Gp)
            assert out[b, j] == pytest.approx(r.lod.max(), abs=1e-8)


def test_a_new_phenotype_first_changes_no_other_phenotype_s_maxima(data):
    K, G, y = data
    new = np.random.default_rng(2).normal(size=(y.shape[0], 1))
    new[[0, 9, 30], 0] = np.nan                # a missing-data pattern of its own
    before = scan1perm(G, K, y, n_perm=6, seed=1)
    after = scan1perm(G, K, np.hstack([new, y]), n_perm=6, seed=1)
    np.testing.assert_allclose(after[:, 1:], before, rtol=1e-10, atol=1e-10)


def test_phenotypes_of_one_pattern_share_their_permutations(data):
    K, G, y = data
    twin = np.column_stack([y[:, 1], y[:, 1]])
    out = scan1perm(G, K, twin, n_perm=5, seed=8)
    np.testing.assert_allclose(out[:, 0], out[:, 1], rtol=1e-12)
    alone = scan1perm(G, K, y[:, 1], n_perm=5, seed=8)
    np.testing.assert_allclose(alone[:, 0], out[:, 0], rtol=1e-10)

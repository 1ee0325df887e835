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


def test_stratified_draws_exchange_genotypes_within_strata_only():
    obs = np.ones(12, bool)
    strata = np.array([0, 1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    perms = draw_permutations(4, obs, 50, strata, "X")
    assert perms.shape == (50, 12)
    for p in perms:
        assert sorted(p.tolist()) == list(range(12))
        assert np.array_equal(strata[p], strata)
    assert len({tuple(p) for p in perms}) > 40           # they do shuffle
    # the X stream is not the genome's
    assert not np.array_equal(draw_permutations(4, obs, 1, None, "X"), draw_permutations(4, obs, 1))


def test_separate_x_permutations(data):
    """perm_Xsp: the autosomes' maxima are those of scan1perm on the autosomes alone (the same
    stream); the X's are scans of genotypes permuted within strata of x_covar, from the X stream,
    ceil(n_perm·L_A/L_X) of them; the thresholds split α as summary.scan1perm does."""
    K, G, y = data
    rng = np.random.default_rng(3)
    n = y.shape[0]
    sex = (rng.random(n) < 0.5).astype(float)[:, None]
    Gx = rng.integers(0, 2, (n, 4)).astype(float)
    geno = [*G, Gx]
    out = lmm.scan1perm(geno, K, y, x_covar=sex, is_x=[False, False, True], perm_Xsp=True,
                        chr_lengths=[60.0, 40.0, 30.0], n_perm=3, seed=2)
    assert out["A"].shape == (3, 3) and out["X"].shape == (int(np.ceil(3 * 100 / 30)), 3)
    np.testing.assert_allclose(out["A"], scan1perm(G, K, y, n_perm=3, seed=2), rtol=1e-10)
    hsq = scan1(geno, K, y, x_covar=sex, is_x=[False, False, True]).hsq[2]
    for j in range(y.shape[1]):
        o = ~np.isnan(y[:, j])
        rows = np.flatnonzero(o)
        perms = draw_permutations(2, o, out["X"].shape[0], sex[rows, 0], "X")
        dec = lmm.eigen_decompose(K[np.ix_(rows, rows)])
        X = dec.kve_t @ np.column_stack([np.ones(rows.size), sex[rows, 0]])
        for b in range(out["X"].shape[0]):
            assert np.array_equal(sex[rows[perms[b]], 0], sex[rows, 0])
            r = scan_rotated(dec.kva, dec.kve_t @ y[rows, j], X, hsq[j], dec.kve_t @ Gx[rows][perms[b]])
            assert out["X"][b, j] == pytest.approx(r.lod.max(), abs=1e-8)
    thr = lmm.permutation_threshold(out, 0.05, lengths={"A": 100.0, "X": 30.0})
    a_a, a_x = lmm.scan.xsp_alpha(0.05, 100.0, 30.0)
    assert (1 - a_a) * (1 - a_x) == pytest.approx(0.95, rel=1e-14)
    np.testing.assert_allclose(thr["X"], np.quantile(out["X"], 1 - a_x, axis=0))
    with pytest.raises(lmm.InputError, match="chr_lengths"):
        scan1perm(geno, K, y, is_x=[False, False, True], perm_Xsp=True, n_perm=2)


def test_interactive_permutations_keep_the_covariate_with_its_individual(data):
    K, G, y = data
    z = np.random.default_rng(4).normal(size=(y.shape[0], 1))
    out = scan1perm(G, K, y[:, 0], int_covar=z, n_perm=3, seed=6)
    hsq = scan1(G, K, y[:, 0], int_covar=z).hsq[0, 0]
    perms = draw_permutations(6, np.ones(y.shape[0], bool), 3)
    dec = lmm.eigen_decompose(K)
    X = dec.kve_t @ np.column_stack([np.ones(y.shape[0]), z])
    for b in range(3):
        Gp = np.hstack([g[perms[b]] for g in G])
        design = np.hstack([np.column_stack([Gp[:, k], Gp[:, k] * z[:, 0]]) for k in range(Gp.shape[1])])
        r = scan_rotated(dec.kva, dec.kve_t @ y[:, 0], X, hsq, dec.kve_t @ design, 2)
        assert out[b, 0] == pytest.approx(r.lod.max(), abs=1e-8)

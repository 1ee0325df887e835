"""The scan engine (lmm.scan.engine) and the one grouping by missing-data pattern
(lmm.missing.missing_patterns), against direct computations: each phenotype on its complete cases
with its own decomposition, fit and scan."""

from __future__ import annotations

import numpy as np
import pytest

import lmm
from lmm.missing import missing_patterns
from lmm.scan import scan1, scan_rotated
from lmm.scan.engine import fit_null_group, scan_tile, standardize


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(31)
    n = 50
    Z = rng.normal(size=(n, 120))
    K = Z @ Z.T / 120 + 0.05 * np.eye(n)
    G = rng.integers(0, 3, (n, 12)).astype(float)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=(n, 4)) * [1, 5, 0.2, 3] + [0, 10, -3, 100]
    y[:, 0] += G[:, 4]
    y[:3, 1] = np.nan
    y[:3, 2] = np.nan
    y[5:9, 3] = np.nan
    return K, G, X, y


def test_missing_patterns_groups_columns_in_order_of_first_appearance():
    miss = np.zeros((5, 6), dtype=bool)
    miss[0, [1, 4]] = True
    miss[2, [2, 5]] = True
    groups = missing_patterns(miss)
    assert [c.tolist() for _, c in groups] == [[0, 3], [1, 4], [2, 5]]
    assert [o.tolist() for o, _ in groups] == [[0, 1, 2, 3, 4], [1, 2, 3, 4], [0, 1, 3, 4]]
    assert [c.tolist() for _, c in missing_patterns(miss, [5, 4, 0])] == [[5], [4], [0]]


def test_standardize_is_the_scaled_residual_on_the_covariates(data):
    _, _, X, y = data
    miss = np.isnan(y)
    s = standardize(y, X, miss)
    assert np.array_equal(np.isnan(s), miss)
    for j in range(y.shape[1]):
        o = ~miss[:, j]
        r = y[o, j] - X[o] @ np.linalg.lstsq(X[o], y[o, j], rcond=None)[0]
        scale = np.median(s[o, j] / r)
        np.testing.assert_allclose(s[o, j], scale * r, rtol=1e-9, atol=1e-12)
        assert abs(np.log2(scale) - round(np.log2(scale))) < 1e-9        # a power of two
        assert 0.5 <= np.max(np.abs(s[o, j])) < 1
    with pytest.raises(lmm.InputError, match="column 0 is explained exactly"):
        standardize(3 * X[:, 1:2] + 2, X, np.zeros((X.shape[0], 1), bool))
    # a large mean leaves no rounding error of its size: the mean goes first
    far = standardize(y + 1e9, X, miss)
    np.testing.assert_allclose(far[~miss], s[~miss], rtol=0, atol=1e-6)
    # complete columns alone, columns that miss values alone: the same as among the others
    np.testing.assert_allclose(standardize(y[:, :1], X, miss[:, :1]), s[:, :1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(standardize(y[:, 1:], X, miss[:, 1:]), s[:, 1:], rtol=1e-12, atol=1e-15)
    # covariates collinear on a column's observed rows (an indicator of one missing individual)
    Z = np.column_stack([X, np.eye(X.shape[0])[:, 3]])
    hole = np.zeros((X.shape[0], 2), bool)
    hole[3, 1] = True
    with pytest.raises(lmm.InputError, match="collinear on the observed individuals of phenotype column 1"):
        standardize(np.nan_to_num(y[:, :2]), Z, hole)


def test_null_group_and_tile_equal_each_phenotype_on_its_complete_cases(data):
    K, G, X, y = data
    group = fit_null_group(lmm.eigen_decompose(K), y, X)
    dec = lmm.eigen_decompose(K)
    lod, df = scan_tile(group, dec.kve_t @ G)
    assert lod.shape == (12, 4) and df.shape == (12, 4)
    np.testing.assert_array_equal(group.n_obs, (~np.isnan(y)).sum(axis=0))
    for j in range(4):
        o = ~np.isnan(y[:, j])
        d = lmm.eigen_decompose(K[np.ix_(o, o)])
        fit = lmm.fit_lmm(d.kva, d.kve_t @ y[o, j], d.kve_t @ X[o], compute_ci=False, polish=True)
        assert group.hsq[j] == pytest.approx(fit.hsq, abs=1e-9)
        ref = scan_rotated(d.kva, d.kve_t @ y[o, j], d.kve_t @ X[o], fit.hsq, d.kve_t @ G[o])
        np.testing.assert_allclose(lod[:, j], ref.lod[:, 0], atol=1e-8, rtol=1e-8)


def test_scan1_is_the_engine_on_one_chromosome(data):
    K, G, X, y = data
    res = scan1(G, K, y, X)
    dec = lmm.eigen_decompose(K)
    lod, df = scan_tile(fit_null_group(dec, y, X), dec.kve_t @ G)
    np.testing.assert_allclose(res.lod, lod, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res.df, df)


def test_tiles_give_the_scan_of_the_whole_chromosome(data):
    K, G, X, y = data
    dec = lmm.eigen_decompose(K)
    group = fit_null_group(dec, y, X)
    whole, _ = scan_tile(group, dec.kve_t @ G)
    parts = np.vstack([scan_tile(group, dec.kve_t @ G[:, k:k + 5])[0] for k in range(0, 12, 5)])
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-13)

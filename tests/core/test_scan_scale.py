"""The scan does not depend on the units of the phenotypes: y·c for c from 1e-200 to 1e200 and
y + 1e9 give the LODs, hsq and peaks of y (lmm.scan.engine.standardize)."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.peaks import find_peaks
from lmm.scan import scan1, scan1perm

SCALES = (1e-200, 1e-100, 1.0, 1e100, 1e200)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    n = 60
    G = [rng.integers(0, 3, (n, 15)).astype(float), rng.integers(0, 3, (n, 10)).astype(float)]
    Z = rng.normal(size=(n, 100))
    K = Z @ Z.T / 100 + 0.05 * np.eye(n)
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = rng.normal(size=(n, 3))
    y[:, 0] += 1.5 * G[0][:, 3]
    y = np.round(y * 2.0 ** 20) / 2.0 ** 20     # on a grid that y + 1e9 keeps exactly
    y[:4, 1] = np.nan                           # the decomposition of all, with indicators
    y[10:40, 2] = np.nan                        # its own decomposition
    base = scan1(G, K, y, X)
    return G, K, X, y, base


def _peaks(res):
    p = find_peaks(res.lod, res.chr_start, np.arange(res.lod.shape[0], dtype=float), threshold=2.0)
    return list(zip(p.lodindex.tolist(), p.index.tolist()))


@pytest.mark.parametrize("c", SCALES)
def test_scan1_is_invariant_to_the_scale_of_y(data, c):
    G, K, X, y, base = data
    res = scan1(G, K, y * c, X)
    np.testing.assert_allclose(res.lod, base.lod, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.hsq, base.hsq, rtol=0, atol=1e-9)
    assert _peaks(res) == _peaks(base) and _peaks(base)


def test_scan1_is_invariant_to_a_large_shift(data):
    G, K, X, y, base = data
    res = scan1(G, K, y + 1e9, X)
    np.testing.assert_allclose(res.lod, base.lod, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.hsq, base.hsq, rtol=0, atol=1e-9)
    assert _peaks(res) == _peaks(base)


@pytest.mark.parametrize("c", (1e-200, 1e200))
def test_scan1perm_is_invariant_to_the_scale_of_y(data, c):
    G, K, X, y, _ = data
    a = scan1perm(G, K, y, X, n_perm=3, seed=2)
    b = scan1perm(G, K, y * c, X, n_perm=3, seed=2)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)

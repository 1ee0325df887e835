"""The scan's results do not move when its code is made faster: LODs equal to those of the code
before the change to 1e-8 and hsq to 1e-10 (the house rule for exact speed-ups).

``tests/reference/scan/frozen.npz`` holds the results of commit 365ff91 (before issue 18's kernel
changes) on the seeded cases below: DO-like allele probabilities (8 alleles, 7 design columns)
with 6 covariates, LOCO kinships, missing values (indicator covariates of the scan), traits at
``hsq = 0``, and a one-df scan with its maxima only. ``python tests/core/test_scan_frozen.py``
writes the file again from the code it runs (only to be done from code whose results are trusted).
"""

from pathlib import Path

import numpy as np

import lmm

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "scan" / "frozen.npz"


def do_case():
    """Genotypes (2 chromosomes, n = 90, 8 alleles), LOCO kinships, traits (m = 24), covariates (p = 6)."""
    rng = np.random.default_rng(1818)
    n, m, qs = 90, 24, (30, 25)
    probs = []
    for q in qs:
        founder = rng.integers(0, 8, (n, 2, q // 5 + 1)).repeat(5, axis=2)[:, :, :q]   # blocks of 5 markers
        P = np.zeros((n, q, 8))
        for h in range(2):
            P[np.arange(n)[:, None], np.arange(q)[None, :], founder[:, h]] += 0.5
        noise = rng.random((n, q, 8))
        probs.append(0.95 * P + 0.05 * noise / noise.sum(axis=2, keepdims=True))
    S = [P.reshape(n, -1) @ P.reshape(n, -1).T for P in probs]
    kins = [2.0 * S[1 - c] / qs[1 - c] + 0.02 * np.eye(n) for c in range(2)]
    X = np.ones((n, 6))
    X[:, 1] = rng.integers(0, 2, n)
    X[:, 2:] = rng.integers(0, 5, n)[:, None] == np.arange(1, 5)[None, :]
    y = rng.standard_normal((n, m)) + X[:, 1:] @ rng.normal(0, 0.5, (5, m))
    y[:, :8] += 1.2 * (probs[0][:, 12] @ rng.standard_normal((8, 8)))
    y[:, 8:16] += (S[0] / qs[0]) @ rng.standard_normal((n, 8)) * 0.3
    y[rng.integers(0, n, 10), rng.integers(0, m, 10)] = np.nan
    y[:20, 20] = np.nan                                                   # a pattern decomposed again
    return [P.reshape(n, -1) for P in probs], kins, y, X


def one_df_case():
    """Dosages (n = 70, q = 300), one kinship, 40 traits at hsq spread over [0, 1), maxima only."""
    rng = np.random.default_rng(1819)
    n, q, m = 70, 300, 40
    G = rng.integers(0, 3, (n, q)).astype(float)
    dec = lmm.eigen_decompose(G @ G.T / q + 0.05 * np.eye(n))
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    y = rng.standard_normal((n, m)) + 0.8 * G[:, [7]]
    hsq = np.concatenate([np.zeros(5), rng.uniform(0, 0.99, m - 5)])
    return dec.kva, dec.kve_t @ y, dec.kve_t @ X, hsq, dec.kve_t @ G


def results():
    designs, kins, y, X = do_case()
    full = lmm.scan1(designs, kins, y, X, n_alleles=8)
    kva, yr, Xr, hsq, Gr = one_df_case()
    best = lmm.scan_rotated(kva, yr, Xr, hsq, Gr, reduce="max")
    return {"do_lod": full.lod, "do_hsq": full.hsq, "do_df": full.df, "one_df_max": best.max_lod,
            "one_df_argmax": best.argmax}


def test_scan_equals_the_frozen_results():
    ref = np.load(REFERENCE)
    now = results()
    assert np.isfinite(ref["do_lod"]).all() and ref["do_lod"].max() > 5       # a real QTL among them
    np.testing.assert_allclose(now["do_lod"], ref["do_lod"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(now["do_hsq"], ref["do_hsq"], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(now["do_df"], ref["do_df"])
    np.testing.assert_allclose(now["one_df_max"], ref["one_df_max"], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(now["one_df_argmax"], ref["one_df_argmax"])


if __name__ == "__main__":
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(REFERENCE, **results())
    print(f"wrote {REFERENCE}")

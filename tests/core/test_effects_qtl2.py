"""lmm.effects against R/qtl2 0.43-5's fit1, scan1coef and scan1blup tables (tests/reference/qtl2/,
OF_immobile_pct on chromosome 2, addcovar sex, LOCO kinship)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _qtl2_reference import recla_inputs
from lmm.effects import fit1, scan1blup, scan1coef

REF = Path(__file__).resolve().parents[1] / "reference" / "qtl2"
HSQ = 0.471123078084028      # effects_OF_immobile_pct_chr2_info.tsv
PEAK = "backupUNC021331957"


@pytest.fixture(scope="module")
def chr2():
    pd = pytest.importorskip("pandas")
    r = recla_inputs()
    on2 = r.chrs == "2"
    return (r.P[:, on2], r.pheno["OF_immobile_pct"].to_numpy(float), r.covar["sex"].to_numpy(float),
            r.kinship["2"], list(r.markers[on2]), pd)


def _table(pd, name, markers, names):
    t = pd.read_csv(REF / name, sep="\t")
    est = t.pivot(index="marker", columns="coefficient", values="estimate").loc[markers][list(names)]
    se = t.pivot(index="marker", columns="coefficient", values="se").loc[markers][list(names)]
    return est.to_numpy(), se.to_numpy()


def test_fit1_matches_qtl2(chr2):
    P, y, sex, K, markers, pd = chr2
    ref = pd.read_csv(REF / "fit1_OF_immobile_pct_chr2.tsv", sep="\t")
    info = pd.read_csv(REF / "effects_OF_immobile_pct_chr2_info.tsv", sep="\t").set_index("item")["value"]
    j = markers.index(PEAK)
    for zerosum, key in ((True, True), (False, False)):
        r = ref[ref["zerosum"] == key].set_index("coefficient")
        f = fit1(P[:, j], y, K, sex, hsq=HSQ, zerosum=zerosum, covar_names=["sex"])
        np.testing.assert_allclose(f.coef, r.loc[list(f.names), "estimate"], rtol=1e-10)
        np.testing.assert_allclose(f.se, r.loc[list(f.names), "se"], rtol=1e-10)
        # fit1's LOD: the 8 allele columns without an intercept, on the CSV probabilities
        assert f.lod == pytest.approx(float(info["fit1_lod_zerosum"]), abs=1e-10)
        # the library's own null hsq (polished REML): within qtl2's ~1e-7 in hsq
        g = fit1(P[:, j], y, K, sex, zerosum=zerosum, covar_names=["sex"])
        assert g.hsq == pytest.approx(HSQ, abs=1e-6)
        np.testing.assert_allclose(g.coef, f.coef, rtol=1e-6)
        np.testing.assert_allclose(g.se, f.se, rtol=1e-6)


def test_scan1coef_matches_qtl2(chr2):
    P, y, sex, K, markers, pd = chr2
    res = scan1coef(P, y, K, sex, se=True, hsq=HSQ, covar_names=["sex"])
    assert res.names == ("A", "B", "C", "D", "E", "F", "G", "H", "sex", "intercept")
    est, se = _table(pd, "scan1coef_OF_immobile_pct_chr2.tsv", markers, res.names)
    # estimates relative to each marker's largest coefficient (centred effects can be ~0)
    scale = np.abs(est).max(axis=1, keepdims=True)
    assert np.max(np.abs(res.coef - est) / scale) < 1e-9
    assert np.max(np.abs(res.se - se) / se) < 1e-9
    own = scan1coef(P, y, K, sex, se=True, covar_names=["sex"])
    assert np.max(np.abs(own.coef - est) / scale) < 1e-6
    assert np.max(np.abs(own.se - se) / se) < 1e-6


def test_scan1blup_estimates_match_qtl2(chr2):
    P, y, sex, K, markers, pd = chr2
    res = scan1blup(P, y, K, sex, se=True, hsq=HSQ, covar_names=["sex"])
    assert res.names == ("A", "B", "C", "D", "E", "F", "G", "H", "intercept", "sex")
    est, se = _table(pd, "scan1blup_OF_immobile_pct_chr2.tsv", markers, res.names)
    # where qtl2 estimates the QTL variance at 0 (150 markers), so does this: BLUPs and SEs 0
    zero = np.all(est[:, :8] == 0, axis=1)
    assert zero.sum() == 150
    assert np.all(res.qtl_hsq[zero] == 0) and np.all(res.coef[zero, :8] == 0) and np.all(res.se[zero, :8] == 0)
    # 14 more markers are at the boundary here where qtl2's search stopped just inside it
    # (BLUPs below 1e-6 there); elsewhere the BLUPs agree to 1e-4 of the marker's largest
    # (the variance fraction is found by different searches; qtl2's stops ~1e-5 short)
    assert np.abs(est[(res.qtl_hsq == 0) & ~zero, :8]).max() < 1e-6
    scale = np.abs(est).max(axis=1, keepdims=True)
    assert np.max(np.abs(res.coef - est) / scale) < 1e-4


def test_scan1blup_ses_differ_from_qtl2s_as_its_construction_explains(chr2):
    """qtl2 0.43-5's scan1blup SEs are not the mixed-model equations' (ours: checked against the
    dense equations in test_effects.py). Its matrix ``[DZ, X]ᵀ[DZ, X] + diag(I/τ, 0)`` takes the
    (whitened) genotypes ``Z`` rotated by ``D``, the eigenvectors of ``ZZᵀ``, beside the covariates
    ``X`` not rotated, so the crosses ``(DZ)ᵀX`` depend on the signs its eigen solver gives the
    ``k`` eigenvectors with nonzero eigenvalues. Built that way from our whitened data and REML
    ``τ``, one of the ``2ᵏ`` sign choices gives qtl2's SEs at each marker (to 1e-5: qtl2's ``τ``
    search stops short), while ours, which no rotation changes, differ from them by up to 66%."""
    P, y, sex, K, markers, pd = chr2
    res = scan1blup(P, y, K, sex, se=True, hsq=HSQ, covar_names=["sex"])
    _, se = _table(pd, "scan1blup_OF_immobile_pct_chr2.tsv", markers, res.names)
    lam, U = np.linalg.eigh(K)
    w = 1.0 / np.sqrt(HSQ * lam + 1.0 - HSQ)
    X = w[:, None] * (U.T @ np.column_stack([np.ones_like(y), sex]))
    yt = w * (U.T @ y)
    n, p = X.shape
    k = P.shape[2]
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * k)).reshape(k, -1).T     # (2^k, k)
    scanned = np.flatnonzero(res.qtl_hsq > 0)
    for j in scanned[np.argsort(-res.qtl_hsq[scanned])][:12]:            # the largest QTL variances
        Z = w[:, None] * (U.T @ P[:, j])
        tau = res.qtl_hsq[j] / (1.0 - res.qtl_hsq[j])
        W = np.column_stack([Z, X])
        C = W.T @ W
        C[:k, :k] += np.eye(k) / tau
        sigma2 = (yt @ yt - np.linalg.solve(C, W.T @ yt) @ (W.T @ yt)) / (n - p)
        np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(C)) * sigma2), res.se[j], rtol=1e-8)
        # D: eigenvectors of ZZᵀ in ascending order of eigenvalue (rows); DZ is 0 but in its last
        # k rows, so the crosses (DZ)ᵀX take X's last k rows, whatever they are
        DZ = np.linalg.eigh(Z @ Z.T)[1][:, -k:].T @ Z                       # (k, k)
        built = []
        for s in signs:
            Zq = s[:, None] * DZ
            Cq = np.empty((k + p, k + p))
            Cq[:k, :k] = Zq.T @ Zq + np.eye(k) / tau
            Cq[:k, k:] = Zq.T @ X[n - k:]
            Cq[k:, :k] = Cq[:k, k:].T
            Cq[k:, k:] = X.T @ X
            built.append(np.sqrt(np.diag(np.linalg.inv(Cq)) * sigma2))
        gap = np.abs(np.array(built) / se[j] - 1).max(axis=1)
        assert gap.min() < 1e-5, (markers[j], gap.min())
    ours = res.se[scanned] / se[scanned]
    assert np.abs(ours - 1).max() > 0.5

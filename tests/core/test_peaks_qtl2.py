"""lmm.peaks against R/qtl2 0.43-5's own tables (tests/reference/qtl2/, made by
tests/reference/make_qtl2_reference.R): find_peaks at threshold 4 with peakdrop 1.8 and LOD drop
1.5 or Bayes 0.95, at threshold 3 with drop 1.5; lod_int and bayes_int of three phenotype ×
chromosome pairs; maxlod. The LODs are lmm.scan1's on the recla data with covariates intercept and
sex and the LOCO kinships of the allele probabilities (R/qtl2's scan1(.., addcovar = sex)).

Peak and interval positions must be R/qtl2's exactly (a tie's mean position to 1e-12), the LOD to
1e-6. Skipped where the tables or the recla genotypes are absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _qtl2_reference import LOD_TOL, recla_inputs
from lmm.peaks import bayes_int, find_peaks, lod_int, maxlod
from lmm.scan import scan1

pd = pytest.importorskip("pandas")

REF = Path(__file__).resolve().parents[1] / "reference" / "qtl2"
PEAK_TABLES = {"peaks_t4_pd1.8_drop1.5.tsv": dict(threshold=4, peakdrop=1.8, drop=1.5),
               "peaks_t4_pd1.8_bayes0.95.tsv": dict(threshold=4, peakdrop=1.8, prob=0.95),
               "peaks_t3_drop1.5.tsv": dict(threshold=3, drop=1.5)}
PAIRS = [("OF_immobile_pct", "2"), ("TS_frequency_climbing", "6"), ("bw", "7")]
pytestmark = pytest.mark.skipif(not (REF / "maxlod.tsv").is_file(),
                                reason=f"R/qtl2 reference tables ({REF}) not available")
POS_TOL = 1e-12          # a tie's mean position: R's mean and numpy's may differ in the last bit


def _table(name):
    path = REF / name
    if not path.is_file():
        pytest.skip(f"R/qtl2 reference table {path} not available")
    return pd.read_csv(path, sep="\t", dtype={"chr": str}, na_values=["NA"])


@pytest.fixture(scope="module")
def recla_sex_scan():
    r = recla_inputs()
    covar = np.column_stack([np.ones(len(r.pheno)), r.covar["sex"].to_numpy(float)])
    res = scan1([r.P[:, r.chrs == c] for c in r.chr_names], [r.kinship[c] for c in r.chr_names],
                r.pheno.to_numpy(float), covar, n_alleles=8)
    return res, list(r.pheno.columns), r.chr_names, r.pos


def _assert_rows(got, want, what):
    """Rows (phenotype, chr, pos, lod, ci_lo, ci_hi) equal: positions exactly, the LOD to LOD_TOL."""
    assert [r[:2] for r in got] == [r[:2] for r in want], what
    for g, w in zip(got, want):
        for k in (2, 4, 5):
            assert g[k] == pytest.approx(w[k], abs=POS_TOL, rel=0), (what, g, w)
        assert abs(g[3] - w[3]) <= LOD_TOL, (what, g, w)


@pytest.mark.parametrize("name", sorted(PEAK_TABLES))
def test_find_peaks_matches_qtl2(recla_sex_scan, name):
    want_df = _table(name)
    res, names, chr_names, pos = recla_sex_scan
    p = find_peaks(res.lod, res.chr_start, pos, **PEAK_TABLES[name])
    got = [(names[j], chr_names[c], x, v, lo, hi) for j, c, x, v, lo, hi in
           zip(p.lodindex, p.chr, p.pos, p.lod, p.ci_lo, p.ci_hi)]
    want = [tuple(r) for r in want_df[["lodcolumn", "chr", "pos", "lod", "ci_lo", "ci_hi"]].itertuples(index=False)]
    key = {n: j for j, n in enumerate(names)}
    want.sort(key=lambda r: (key[r[0]], chr_names.index(r[1]), r[2]))
    _assert_rows(got, want, name)


@pytest.mark.parametrize("phenotype,chrom", PAIRS)
@pytest.mark.parametrize("kind", ["lod_int", "bayes_int"])
def test_lod_int_and_bayes_int_match_qtl2(recla_sex_scan, phenotype, chrom, kind):
    want = _table(f"{kind}_{phenotype}_chr{chrom}.tsv")
    res, names, chr_names, pos = recla_sex_scan
    c = chr_names.index(chrom)
    rows = slice(res.chr_start[c], res.chr_start[c + 1])
    lod = res.lod[rows, names.index(phenotype)]
    if kind == "lod_int":
        got = lod_int(lod, pos[rows], drop=1.5, peakdrop=1.8, threshold=4)
    else:
        got = bayes_int(lod, pos[rows], prob=0.95, peakdrop=1.8, threshold=4)
    np.testing.assert_allclose(got, want[["ci_lo", "pos", "ci_hi"]].to_numpy(float), atol=POS_TOL, rtol=0)


def test_maxlod_matches_qtl2(recla_sex_scan):
    want = _table("maxlod.tsv").set_index("phenotype")["maxlod"]
    res, names, _, _ = recla_sex_scan
    per_phenotype = maxlod(res.lod, range(len(names)))
    for j, name in enumerate(names):
        assert abs(per_phenotype[j] - want[name]) <= LOD_TOL, name
        assert maxlod(res.lod, j) == per_phenotype[j]
    assert abs(maxlod(res.lod) - want["*"]) <= LOD_TOL

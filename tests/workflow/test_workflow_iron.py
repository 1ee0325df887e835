"""R/qtl2's own ``iron`` F2 example end to end through the workflow, from tables as a user gives
them (tests/reference/qtl2/iron/: genotype probabilities with the X chromosome's own columns, the
map in cM, phenotypes, and ``get_x_covar`` as config ``x_covariates``), LOCO kinships from the
genotypes: the LODs, null hsq and peaks of R/qtl2 0.43-5's ``scan1(probs, pheno, k_loco,
Xcovar = get_x_covar(iron))`` and ``find_peaks(threshold = 3, drop = 1.5)`` (positions exactly;
the tolerances of tests/core/test_scan_iron_qtl2.py, which also explains spleen's)."""

from __future__ import annotations

import shutil
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_project, read_result, run_snakemake
from _qtl2_reference import HSQ_TOL, IRON, LOD_TOL
from _qtl2_reference import IRON_SHORT_SEARCH as SHORT_SEARCH
from _qtl2_reference import IRON_SHORT_TOL as SHORT_TOL
from _qtl2_reference import iron_reference as _ref

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (IRON / "genoprobs.csv.gz").is_file(), reason="iron reference not available")]


@pytest.fixture(scope="module")
def iron_run(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("iron") / "project", with_data=False, scan=True)
    shutil.copytree(IRON, project / "data" / "iron")
    config = {"kinship": None, "phenotypes": "data/iron/pheno.csv", "covariates": None,
              "genotypes": "data/iron/genoprobs.csv.gz", "genotype_map": "data/iron/map.csv",
              "map_position": "pos_cM", "map_unit": "cM", "x_covariates": "data/iron/xcovar.csv",
              # threshold 1: the X peaks too (spleen's and liver's X maxima are 2.3 and 1.3), for the
              # effects; qtl2's peaks at threshold 3 are those of LOD ≥ 3 (one per chromosome)
              "scan": True, "scan_output": "full", "peak_threshold": 1, "interval_drop": 1.5}
    (project / "config" / "iron.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(project, "--cores", "2", "--configfile", "config/iron.yaml", check=True)
    return project / "results", proc


def test_iron_lods_hsq_and_peaks_are_qtl2s(iron_run):
    results, _ = iron_run
    lod = pd.read_parquet(results / "scan" / "lod.parquet").set_index("marker")
    ref = _ref("loco_xcovar", "lod")
    chr_of = lod["chr"].astype(str)
    for p in ("liver", "spleen"):
        want = ref[ref["phenotype"] == p].set_index("marker")["lod"]
        tol = np.where([(p, c) in SHORT_SEARCH for c in chr_of[want.index]], SHORT_TOL, LOD_TOL)
        assert (np.abs(lod.loc[want.index, p].to_numpy() - want.to_numpy()) <= tol).all(), p
    hsq = read_result(results / "scan" / "hsq.tsv")
    got = {(p, str(c)): h for p, c, h in hsq[["phenotype", "chr", "hsq"]].itertuples(index=False)}
    for p, c, h in _ref("loco_xcovar", "hsq")[["phenotype", "kinship_chr", "hsq"]].itertuples(index=False):
        assert abs(got[(p, c)] - h) <= (SHORT_TOL if (p, c) in SHORT_SEARCH else HSQ_TOL), (p, c)
    peaks = read_result(results / "scan" / "peaks.tsv")
    peaks = peaks[peaks["lod"] >= 3].reset_index(drop=True)
    want = _ref("loco_xcovar", "peaks_t3_drop1.5")
    assert list(zip(peaks["phenotype"], peaks["chr"].astype(str), peaks["pos"])) == \
        list(zip(want["lodcolumn"], want["chr"], want["pos"]))
    np.testing.assert_array_equal(peaks[["ci_lo", "ci_hi"]].to_numpy(), want[["ci_lo", "ci_hi"]].to_numpy())
    for g, w, p, c in zip(peaks["lod"], want["lod"], want["lodcolumn"], want["chr"]):
        assert abs(g - w) <= (SHORT_TOL if (p, c) in SHORT_SEARCH else LOD_TOL)


def test_the_x_markers_keep_their_six_genotype_columns(iron_run):
    results, _ = iron_run
    markers = read_result(results / "scan" / "markers.tsv")
    x = markers["chr"].astype(str) == "X"
    assert x.sum() == 2
    # 6 columns less the first; sex and direction (the X covariates) span part of the rest
    assert set(markers.loc[x, "df"]) <= {3, 4, 5} and set(markers.loc[~x, "df"]) == {2}
    meta = yaml.safe_load((results / "genotypes" / "genotypes.yaml").read_text())
    assert meta["x_columns"]["X"] == ["SS", "SB", "BS", "BB", "SY", "BY"]


def test_effects_on_x_are_fit1s_with_the_x_genotype_columns(iron_run):
    """Peaks on X (threshold 1): their effects use X's six genotype columns and equal
    ``fit1(probs[["X"]][, , marker], y, k_loco$X, nullcovar = Xcovar, se = TRUE)`` (the X
    covariates in the null, hence in hsq, not in the alternative), with the scan's LOD."""
    results, _ = iron_run
    project = results.parent
    effects = read_result(project / "results" / "scan" / "effects.tsv")
    on_x = effects[effects["chr"].astype(str) == "X"]
    want = pd.read_csv(IRON / "fit1_loco_xcovar_X.tsv", sep="\t")
    assert set(on_x["phenotype"]) == {"liver", "spleen"}
    for (p, m), got in on_x.groupby(["phenotype", "marker"]):
        ref = want[(want["phenotype"] == p) & (want["marker"] == m)].set_index("coefficient")
        assert list(got["coefficient"]) == list(ref.index), (p, m)   # SS, SB, BS, BB, SY, BY, intercept
        for col in ("estimate", "se"):   # relative to the marker's largest (a centred effect can be ~0)
            want_col = ref[col].to_numpy()
            assert np.abs(got[col].to_numpy() - want_col).max() <= 1e-6 * np.abs(want_col).max(), (p, m, col)
    # the figures' LOD curves are fit1's, the X covariates in the null: spleen's X peak is its scan LOD
    curves = pd.read_parquet(project / "results" / "scan" / "effects_curves.parquet")
    at = curves[(curves["phenotype"] == "spleen") & (curves["chr"].astype(str) == "X")].drop_duplicates("marker")
    fit1_lod = want.drop_duplicates(["phenotype", "marker"]).set_index(["phenotype", "marker"])["lod"]
    for m, lod in zip(at["marker"], at["lod"]):
        assert abs(lod - fit1_lod[("spleen", m)]) <= LOD_TOL, m
    # the 12 strongest peaks get a figure: spleen's X peak (LOD 2.3) is among them, drawn with X's columns
    figures = sorted(p.name for p in (project / "results" / "plots" / "effects").glob("*.png"))
    assert [name for name in figures if name.endswith("_chrX.png")] == ["09_spleen_chrX.png"]

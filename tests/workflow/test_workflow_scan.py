"""The genome scan through the workflow: R/qtl2's recla figures, a PLINK data set with the kinship
computed from the genotypes, reruns and a bad genotype file."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

import lmm
from _qtl2_reference import HSQ_TOL, LOD_TOL, LOD_TOL_EXCEPTIONS, QTL2_HSQ, QTL2_PEAKS
from conftest import make_project, read_result, run_snakemake

pytestmark = pytest.mark.slow

RECLA_CONFIG = ("covariates=null", "kinship=null")


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def recla_scan(tmp_path_factory):
    """The bundled recla example as R/qtl2's reference scan: no covariates, LOCO, untransformed;
    and no kinship file: the heritabilities use the kinship from the allele probabilities."""
    project = make_project(tmp_path_factory.mktemp("recla_scan") / "project", scan=True)
    run_snakemake(project, "--cores", "2", "--config", *RECLA_CONFIG, check=True)
    return project


def test_recla_peaks_match_qtl2(recla_scan):
    peaks = read_result(recla_scan / "results" / "scan" / "peaks.tsv").astype({"chr": str})
    high = peaks[peaks["lod"] > 6.5].reset_index(drop=True)
    assert len(high) == len(QTL2_PEAKS)
    for (pheno, chrom, pos, lod), row in zip(QTL2_PEAKS, high.itertuples(index=False)):
        assert (row.phenotype, row.chr, row.pos) == (pheno, chrom, pos)
        assert abs(row.lod - lod) <= LOD_TOL_EXCEPTIONS.get(pheno, LOD_TOL), (pheno, row.lod, lod)
        assert row.ci_lo <= row.pos <= row.ci_hi
        assert row.n == (261 if pheno in ("OF_corner_pct", "OF_immobile_pct", "bw") else row.n)


def test_recla_null_hsq_match_qtl2(recla_scan):
    hsq = read_result(recla_scan / "results" / "scan" / "hsq.tsv").astype({"chr": str})
    got = hsq.set_index(["phenotype", "chr"])["hsq"]
    for key, value in QTL2_HSQ.items():
        assert abs(got[key] - value) <= HSQ_TOL, (key, got[key], value)
    assert len(hsq) == 26 * 20 and set(hsq["status"]) == {"ok"}


def test_recla_lod_table_and_figures(recla_scan):
    results = recla_scan / "results"
    lod = pd.read_parquet(results / "scan" / "lod.parquet")
    assert list(lod.columns[:3]) == ["marker", "chr", "pos"] and lod.shape == (6394, 3 + 26)
    assert (lod.iloc[:, 3:].dtypes == np.float64).all()
    maxima = read_result(results / "scan" / "max.tsv").astype({"chr": str})
    top = maxima.loc[maxima["lod"].idxmax()]
    assert top["phenotype"] == "OF_immobile_pct" and top["chr"] == "2"
    assert lod[top["phenotype"]].max() == pytest.approx(top["lod"], rel=1e-15)
    for name in ("lod_curves", "manhattan", "peak_map"):
        assert (results / "plots" / f"{name}.png").stat().st_size > 20_000
    prov = yaml.safe_load((results / "provenance.yaml").read_text())
    assert prov["scan"]["loco"] is True and prov["genotypes"]["n_markers"] == 6394
    assert prov["kinship"]["source"] == "computed from the genotypes (shared_alleles)"
    table = read_result(results / "heritability.tsv")
    assert len(table) == 26 and set(table["status"]) == {"ok"}


def test_recla_scan_rerun_does_nothing_and_forced_rerun_is_byte_identical(recla_scan):
    proc = run_snakemake(recla_scan, "--cores", "2", "--config", *RECLA_CONFIG, "-n")
    assert "Nothing to be done" in proc.output, proc.output[-3000:]
    files = [recla_scan / "results" / "scan" / f for f in ("peaks.tsv", "max.tsv", "hsq.tsv", "lod.parquet")]
    before = [sha(f) for f in files]
    run_snakemake(recla_scan, "--cores", "2", "--config", *RECLA_CONFIG, "--forcerun", "scan", check=True)
    assert [sha(f) for f in files] == before


@pytest.fixture(scope="module")
def plink_project(tmp_path_factory):
    """A PLINK data set (bed-reader), phenotypes with a QTL and missing values, a sex covariate,
    no kinship file: the kinship comes from the genotypes."""
    bed_reader = pytest.importorskip("bed_reader")
    rng = np.random.default_rng(7)
    project = make_project(tmp_path_factory.mktemp("plink") / "project", with_data=False, scan=True)
    data = project / "data"
    data.mkdir()
    n, chroms, per = 150, ("1", "2", "3"), 200
    freq = rng.uniform(0.05, 0.95, len(chroms) * per)
    G = rng.binomial(2, freq, size=(n, freq.size)).astype(np.float32)
    G[rng.random(G.shape) < 0.01] = np.nan
    ids = [f"ind{i:03d}" for i in range(n)]
    bed_reader.to_bed(data / "geno.bed", G, properties={
        "iid": ids, "fid": ids, "sid": [f"rs{k}" for k in range(freq.size)],
        "chromosome": np.repeat(chroms, per), "bp_position": np.tile(np.arange(1, per + 1) * 1000, len(chroms)),
        "allele_1": ["A"] * freq.size, "allele_2": ["G"] * freq.size})
    filled = np.where(np.isnan(G), np.nanmean(G, axis=0), G).astype(float)
    sex = rng.integers(0, 2, n)
    y = 1.5 * (filled[:, 250] - filled[:, 250].mean()) + 0.5 * sex + rng.normal(size=n)
    y2 = rng.normal(size=n)
    y2[:5] = np.nan
    pd.DataFrame({"id": ids, "trait": y, "other": y2}).to_csv(data / "pheno.csv", index=False)
    pd.DataFrame({"id": ids, "sex": sex}).to_csv(data / "covar.csv", index=False)
    # the same dosages of A1 as BIMBAM mean genotypes (rs, A1, A0, one dosage per individual),
    # with its annotation file (rs, pos, chr) and the ids in column order
    with open(data / "geno.bimbam.txt", "w") as handle:
        for k in range(freq.size):
            dosages = ",".join("NA" if np.isnan(v) else f"{v:g}" for v in G[:, k])
            handle.write(f"rs{k},A,G,{dosages}\n")
    with open(data / "geno.annot.txt", "w") as handle:
        for k in range(freq.size):
            handle.write(f"rs{k},{(k % per + 1) * 1000},{chroms[k // per]}\n")
    (data / "geno.ids.txt").write_text("".join(f"{i}\n" for i in ids))
    config = {
        "kinship": None, "phenotypes": "data/pheno.csv", "covariates": "data/covar.csv",
        "genotypes": "data/geno.bed", "map_position": None, "map_unit": "bp", "genotype_map": None,
        "scan_permutations": 30,
    }
    (project / "config" / "plink.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(project, "--cores", "2", "--configfile", "config/plink.yaml", check=True)
    return project, proc


def test_plink_kinship_from_genotypes_heritability_and_scan(plink_project):
    project, proc = plink_project
    results = project / "results"
    table = read_result(results / "heritability.tsv")
    assert list(table["phenotype"]) == ["trait", "other"] and list(table["status"]) == ["ok", "ok"]
    prov = yaml.safe_load((results / "provenance.yaml").read_text())
    assert prov["kinship"]["source"] == "computed from the genotypes (standardized)"
    assert prov["genotypes"]["format"] == "plink" and prov["genotypes"]["n"] == 150
    K = np.load(results / "kinship" / "overall.npy")
    assert K.shape == (150, 150) and np.mean(np.diag(K)) == pytest.approx(1.0, abs=1e-12)
    loco = sorted(p.name for p in (results / "kinship" / "loco").iterdir() if not p.name.startswith("."))
    assert loco == ["1.npy", "2.npy", "3.npy", "ids.txt"]
    peaks = read_result(results / "scan" / "peaks.tsv").astype({"chr": str})
    top = peaks.loc[peaks["lod"].idxmax()]
    assert (top["phenotype"], top["chr"], top["marker"]) == ("trait", "2", "rs250")
    hsq = read_result(results / "scan" / "hsq.tsv")
    assert set(hsq.loc[hsq["phenotype"] == "other", "n"]) == {145}
    assert "genotypes: 150 of the 150 phenotyped individuals are genotyped" in proc.output


def test_plink_dosage_effects_at_the_peak_equal_dense_gls(plink_project):
    """effects: peaks (the default) with dosages: dosage, sex, intercept at each peak, fit1's model
    y = g·γ + sex·β + μ with the scan's LOCO hsq (a dense GLS here); no coef.parquet."""
    from lmm.pipeline.genotype_store import open_intermediate

    project, _ = plink_project
    results = project / "results"
    effects = read_result(results / "scan" / "effects.tsv").astype({"chr": str})
    top = effects[(effects["phenotype"] == "trait") & (effects["marker"] == "rs250")].set_index("coefficient")
    assert list(top.index) == ["dosage", "sex", "intercept"]
    clean = np.load(results / "clean" / "cleaned.npz")
    ids = clean["ids"].tolist()
    store = open_intermediate(results / "genotypes")
    g = np.asarray(store.genotypes[int(store.markers.set_index("marker").loc["rs250", "first_column"])])
    g = g[[store.ids.tolist().index(i) for i in ids]]
    kin_ids = (results / "kinship" / "loco" / "ids.txt").read_text().split()
    K = np.load(results / "kinship" / "loco" / "2.npy")[np.ix_(*[[kin_ids.index(i) for i in ids]] * 2)]
    hsq = read_result(results / "scan" / "hsq.tsv").astype({"chr": str}).set_index(["phenotype", "chr"])
    h = float(hsq.loc[("trait", "2"), "hsq"])
    y = clean["phenotypes"][:, 0]
    W = np.column_stack([g, clean["covariates"][:, clean["covariate_names"].tolist().index("sex")], np.ones(len(y))])
    Vi = np.linalg.inv(h * K + (1 - h) * np.eye(len(y)))
    A = np.linalg.inv(W.T @ Vi @ W)
    b = A @ W.T @ Vi @ y
    r = y - W @ b
    np.testing.assert_allclose(top["estimate"], b, rtol=1e-7)
    np.testing.assert_allclose(top["se"], np.sqrt(np.diag(A) * (r @ Vi @ r) / (len(y) - 3)), rtol=1e-7)
    assert abs(top.loc["dosage", "estimate"] - 1.5) < 4 * top.loc["dosage", "se"]   # the simulated effect
    assert not (results / "scan" / "coef.parquet").exists()
    assert any(p.suffix == ".png" for p in (results / "plots" / "effects").iterdir())


def test_bad_genotype_map_fails_with_a_message_and_writes_nothing(tmp_path):
    project = make_project(tmp_path / "project", scan=True)
    gmap = pd.read_csv(project / "data" / "recla" / "genotypes" / "recla_map.csv")
    gmap.iloc[:-3].to_csv(project / "data" / "short_map.csv", index=False)
    proc = run_snakemake(project, "--cores", "2", "--config", "genotype_map=data/short_map.csv")
    assert proc.returncode != 0
    assert "short_map.csv" in proc.output and "Traceback" not in proc.output
    assert not (project / "results" / "genotypes").exists()
    assert not (project / "results" / "scan").exists()


def test_bimbam_gives_the_plink_kinship_heritability_and_scan(plink_project, tmp_path):
    project, _ = plink_project
    bimbam = make_project(tmp_path / "bimbam", with_data=False, scan=True)
    shutil.copytree(project / "data", bimbam / "data")
    config = yaml.safe_load((project / "config" / "plink.yaml").read_text())
    config |= {"genotypes": "data/geno.bimbam.txt", "genotype_map": "data/geno.annot.txt",
               "genotype_ids": "data/geno.ids.txt"}
    (bimbam / "config" / "bimbam.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(bimbam, "--cores", "2", "--configfile", "config/bimbam.yaml", check=True)
    a, b = project / "results", bimbam / "results"
    assert np.array_equal(np.load(a / "kinship" / "overall.npy"), np.load(b / "kinship" / "overall.npy"))
    for name in ("heritability.tsv", "scan/peaks.tsv", "scan/hsq.tsv", "scan/thresholds.tsv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_permutation_thresholds_in_the_peaks_table(plink_project):
    project, _ = plink_project
    thresholds = read_result(project / "results" / "scan" / "thresholds.tsv")
    assert list(thresholds["phenotype"]) == ["trait", "other"]
    assert set(thresholds["n_permutations"]) == {30} and (thresholds["threshold"] > 1).all()
    peaks = read_result(project / "results" / "scan" / "peaks.tsv")
    expected = thresholds.set_index("phenotype")["threshold"]
    assert np.array_equal(peaks["threshold"].to_numpy(), expected[peaks["phenotype"]].to_numpy())
    top = peaks.loc[peaks["lod"].idxmax()]
    assert top["lod"] > top["threshold"]            # the planted QTL is genome-wide significant


def test_recla_several_peaks_per_chromosome_with_bayes_intervals(recla_scan, tmp_path):
    """peakdrop and interval: bayes rerun the scan jobs (a copy of the recla project); peaks.tsv is
    lmm.find_peaks of lod.parquet with the same settings, several rows on some chromosomes."""
    project = tmp_path / "project"
    shutil.copytree(recla_scan, project, symlinks=True)
    settings = ("peak_threshold=4", "peakdrop=1.8", "interval=bayes", "interval_prob=0.9")
    run_snakemake(project, "--cores", "2", "--config", *RECLA_CONFIG, *settings, check=True)
    results = project / "results" / "scan"
    peaks = read_result(results / "peaks.tsv").astype({"chr": str})
    lod = pd.read_parquet(results / "lod.parquet").astype({"chr": str})
    chroms = list(dict.fromkeys(lod["chr"]))
    starts = np.r_[[np.flatnonzero(lod["chr"].to_numpy() == c)[0] for c in chroms], len(lod)]
    names = list(lod.columns[3:])
    p = lmm.find_peaks(lod[names].to_numpy(), starts, lod["pos"].to_numpy(float), threshold=4, peakdrop=1.8,
                       prob=0.9)
    want = [(names[j], chroms[c], lod["marker"].iat[i], lod[names[j]].iat[i], lo, hi)
            for j, c, i, lo, hi in zip(p.lodindex, p.chr, p.index, p.ci_lo, p.ci_hi)]
    got = list(peaks[["phenotype", "chr", "marker", "lod", "ci_lo", "ci_hi"]].itertuples(index=False, name=None))
    assert [g[:3] + g[4:] for g in got] == [w[:3] + w[4:] for w in want]
    np.testing.assert_allclose([g[3] for g in got], [w[3] for w in want], rtol=1e-9)
    assert peaks.groupby(["phenotype", "chr"]).size().max() > 1

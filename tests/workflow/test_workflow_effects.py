"""The effects stages end to end (config ``effects``) on a small synthetic project of allele
probabilities: effects.tsv against lmm.effects.fit1/scan1blup called directly on the same inputs,
coef.parquet against scan1coef/scan1blup, the report figures, and ``effects: none``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_project, run_snakemake
from lmm.effects import fit1, scan1blup, scan1coef
from lmm.pipeline.qtl_effects import PLOT_PEAKS, figure_stem, plotted_peaks

pytestmark = pytest.mark.slow

N, CHROMS, PER, ALLELES = 90, ("1", "2", "3"), 20, "ABCD"


def _probabilities(rng):
    """Founder-allele probabilities with haplotype blocks: (N, markers, 4), rows summing to 1."""
    k = len(ALLELES)
    blocks = []
    for _ in CHROMS:
        hap = np.zeros((N, PER, k))
        for copy in range(2):
            breaks = np.sort(rng.integers(1, PER, size=(N, 2)), axis=1)
            first, second = rng.integers(0, k, size=(2, N))
            m = np.arange(PER)
            allele = np.where((m[None] >= breaks[:, :1]) & (m[None] < breaks[:, 1:]), second[:, None], first[:, None])
            hap[np.arange(N)[:, None], m[None], allele] += 0.5
        noise = rng.dirichlet(np.ones(k), size=(N, PER))
        blocks.append(0.92 * hap + 0.08 * noise)
    return np.concatenate(blocks, axis=1)


@pytest.fixture(scope="module")
def effects_run(tmp_path_factory):
    rng = np.random.default_rng(16)
    project = make_project(tmp_path_factory.mktemp("effects") / "project", with_data=False, scan=True)
    data = project / "data"
    data.mkdir()
    P = _probabilities(rng)
    ids = [f"m{i:03d}" for i in range(N)]
    markers = [f"c{c}m{j:02d}" for c in CHROMS for j in range(PER)]
    table = pd.DataFrame(P.reshape(N, -1), columns=[f"{m}:{a}" for m in markers for a in ALLELES])
    table.insert(0, "id", ids)
    table.to_csv(data / "geno.csv", index=False, float_format="%.10g")
    pd.DataFrame({"marker": markers, "chr": np.repeat(CHROMS, PER),
                  "pos": np.tile(np.arange(PER) * 2.5 + 1.0, len(CHROMS))}).to_csv(data / "map.csv", index=False)
    sex = rng.integers(0, 2, N).astype(float)
    qtl = P[:, PER + 8] @ np.array([2.0, -1.0, 0.0, -1.0])       # chromosome 2, marker 8
    strong = 1.6 * qtl + 0.5 * sex + rng.normal(scale=0.6, size=N) + 10.0
    other = 1.2 * (P[:, 2 * PER + 12] @ np.array([0.0, 2.0, -2.0, 0.0])) + rng.normal(size=N)
    other[[3, 17, 40]] = np.nan                                  # a second missing-data pattern
    pd.DataFrame({"id": ids, "strong": strong, "other": other}).to_csv(data / "pheno.csv", index=False)
    pd.DataFrame({"id": ids, "sex": sex}).to_csv(data / "covar.csv", index=False)
    config = {"kinship": None, "phenotypes": "data/pheno.csv", "covariates": "data/covar.csv",
              "genotypes": "data/geno.csv", "genotype_map": "data/map.csv", "map_position": "pos",
              "peak_threshold": 2.5, "effects": "chromosomes", "profile_grid": 5}
    (project / "config" / "effects.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(project, "--cores", "2", "--configfile", "config/effects.yaml", check=True)
    return project, proc, P


def _inputs(project, phenotype, chrom):
    """What the library functions take for a phenotype on a chromosome, from the run's own files."""
    res = project / "results"
    clean = np.load(res / "clean" / "cleaned.npz")
    ids = clean["ids"].tolist()
    y = clean["phenotypes"][:, clean["phenotype_names"].tolist().index(phenotype)]
    sex = clean["covariates"][:, clean["covariate_names"].tolist().index("sex")]
    kin_ids = (res / "kinship" / "loco" / "ids.txt").read_text().split()
    pos = [kin_ids.index(i) for i in ids]
    K = np.load(res / "kinship" / "loco" / f"{chrom}.npy")[np.ix_(pos, pos)]
    hsq = pd.read_csv(res / "scan" / "hsq.tsv", sep="\t", dtype={"chr": str}).set_index(["phenotype", "chr"])
    return y, sex, K, float(hsq.loc[(phenotype, chrom), "hsq"])


def _genoprobs(project, P, chrom):
    g_ids = pd.read_csv(project / "data" / "geno.csv", usecols=["id"])["id"].tolist()
    ids = np.load(project / "results" / "clean" / "cleaned.npz")["ids"].tolist()
    c = CHROMS.index(chrom)
    return np.round(P, 10)[[g_ids.index(i) for i in ids]][:, c * PER:(c + 1) * PER]


def test_effects_table_equals_fit1_and_scan1blup(effects_run):
    project, _, P = effects_run
    peaks = pd.read_csv(project / "results" / "scan" / "peaks.tsv", sep="\t", dtype={"chr": str})
    effects = pd.read_csv(project / "results" / "scan" / "effects.tsv", sep="\t", dtype={"chr": str})
    assert list(effects.columns) == ["phenotype", "chr", "marker", "pos", "lod", "coefficient", "estimate", "se",
                                     "blup", "blup_se"]
    assert {"strong", "other"} <= set(peaks["phenotype"])
    assert len(effects) == len(peaks) * (len(ALLELES) + 2)
    for peak in peaks.itertuples(index=False):
        rows = effects[(effects["phenotype"] == peak.phenotype) & (effects["chr"] == peak.chr)
                       & (effects["marker"] == peak.marker)].set_index("coefficient")
        assert list(rows.index) == list(ALLELES) + ["sex", "intercept"]
        assert (rows["lod"] == peak.lod).all()
        y, sex, K, hsq = _inputs(project, peak.phenotype, peak.chr)
        G = _genoprobs(project, P, peak.chr)
        obs = ~np.isnan(y)
        m = int(peak.marker[-2:])
        ref = fit1(G[obs, m], y[obs], K[np.ix_(obs, obs)], sex[obs], hsq=hsq, covar_names=["sex"])
        np.testing.assert_allclose(rows["estimate"], ref.coef, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(rows["se"], ref.se, rtol=1e-7)
        blup = scan1blup(G[obs], y[obs], K[np.ix_(obs, obs)], sex[obs], hsq=hsq, se=True, covar_names=["sex"])
        order = list(range(len(ALLELES))) + [len(ALLELES) + 1, len(ALLELES)]
        np.testing.assert_allclose(rows["blup"], blup.coef[m, order], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(rows["blup_se"], blup.se[m, order], rtol=1e-5, atol=1e-7)
    strong = effects[(effects["phenotype"] == "strong") & (effects["chr"] == "2")]
    assert strong["marker"].iloc[0] == "c2m08"                    # the simulated QTL is found...
    effect = strong.set_index("coefficient")["estimate"]           # ... with A above B and D
    assert effect["A"] > effect["B"] + 1 and effect["A"] > effect["D"] + 1


def test_coef_parquet_follows_scan1coef_along_each_chromosome_with_a_peak(effects_run):
    project, _, P = effects_run
    coef = pd.read_parquet(project / "results" / "scan" / "coef.parquet")
    effects = pd.read_csv(project / "results" / "scan" / "effects.tsv", sep="\t", dtype={"chr": str})
    assert list(coef.columns) == ["phenotype", "chr", "marker", "pos", "coefficient", "estimate", "se", "blup",
                                  "blup_se"]
    pairs = effects[["phenotype", "chr"]].drop_duplicates()
    assert len(coef) == len(pairs) * PER * (len(ALLELES) + 2)
    for pair in pairs.itertuples(index=False):
        part = coef[(coef["phenotype"] == pair.phenotype) & (coef["chr"] == pair.chr)]
        est = part.pivot(index="marker", columns="coefficient", values="estimate")[list(ALLELES) + ["sex", "intercept"]]
        y, sex, K, hsq = _inputs(project, pair.phenotype, pair.chr)
        G = _genoprobs(project, P, pair.chr)
        obs = ~np.isnan(y)
        ref = scan1coef(G[obs], y[obs], K[np.ix_(obs, obs)], sex[obs], hsq=hsq, covar_names=["sex"])
        scale = np.abs(ref.coef).max(axis=1, keepdims=True)
        assert np.max(np.abs(est.to_numpy() - ref.coef) / scale) < 1e-8
        # at the peak marker, the same numbers as effects.tsv
        at = effects[(effects["phenotype"] == pair.phenotype) & (effects["chr"] == pair.chr)]
        same = part[part["marker"] == at["marker"].iloc[0]]
        for column in ("estimate", "se", "blup", "blup_se"):
            np.testing.assert_allclose(same[column].to_numpy(), at[column].to_numpy(), rtol=1e-8, atol=1e-10)


def test_effect_figures_are_real_pngs_of_the_strongest_peaks(effects_run):
    project, proc, _ = effects_run
    import matplotlib.image

    peaks = pd.read_csv(project / "results" / "scan" / "peaks.tsv", sep="\t", dtype={"chr": str})
    shown = plotted_peaks(peaks)
    folder = project / "results" / "plots" / "effects"
    expected = sorted(figure_stem(r.rank, r.phenotype, r.chr) + ".png" for r in shown.itertuples(index=False))
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == expected
    assert 0 < len(expected) <= PLOT_PEAKS
    assert shown["lod"].is_monotonic_decreasing
    for name in expected:
        image = matplotlib.image.imread(folder / name)
        assert image.shape[0] > 400 and image.shape[1] > 800
        assert image[..., :3].std() > 0.05                      # drawn, not blank
    log = (project / "logs" / "plot_effects.log").read_text()
    assert f"{len(expected)} effect figure(s)" in log


def test_effects_rows_follow_the_peaks(effects_run):
    """effects.tsv lists the peaks in the order of peaks.tsv (the chromosomes' blocks of fits put
    back in that order), each peak's coefficients together: alleles, covariates, intercept."""
    project, _, _ = effects_run
    res = project / "results" / "scan"
    peaks = pd.read_csv(res / "peaks.tsv", sep="\t", dtype={"chr": str})
    effects = pd.read_csv(res / "effects.tsv", sep="\t", dtype={"chr": str})
    c = len(ALLELES) + 2
    assert peaks["chr"].nunique() > 1 and len(effects) == len(peaks) * c
    keys = ["phenotype", "chr", "marker", "pos", "lod"]
    blocks = effects[keys].to_numpy(dtype=object).reshape(len(peaks), c, len(keys))
    assert (blocks == blocks[:, :1]).all()                       # one peak per block of rows
    np.testing.assert_array_equal(blocks[:, 0, :3], peaks[keys[:3]].to_numpy(dtype=object))
    np.testing.assert_array_equal(blocks[:, 0, 3:].astype(float), peaks[keys[3:]].to_numpy(float))
    assert (effects["coefficient"].to_numpy().reshape(-1, c) == list(ALLELES) + ["sex", "intercept"]).all()


def test_effects_none_writes_nothing_extra(effects_run):
    project, _, _ = effects_run
    names = ("effects.tsv", "effects_curves.parquet", "coef.parquet")
    outputs = [project / "results" / "scan" / name for name in names]
    for path in outputs:
        path.unlink()
    figures = project / "results" / "plots" / "effects"
    for png in figures.iterdir():
        png.unlink()
    figures.rmdir()
    proc = run_snakemake(project, "--cores", "2", "--configfile", "config/effects.yaml", "--config", "effects=none",
                         check=True)
    assert "scan_effects" not in proc.output and "plot_effects" not in proc.output
    assert not any(path.exists() for path in outputs) and not figures.exists()

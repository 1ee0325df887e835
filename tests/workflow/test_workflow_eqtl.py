"""An eQTL study end to end (issue 17): the seeded simulation of tests/_eqtl_sim.py written as files
(dosages, map, trait positions), scanned with permutations; significance.tsv, eqtl_peaks.tsv,
hotspots, the figures and the sparse LOD output; reruns and refusals."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from _eqtl_sim import simulate_eqtl_study
from conftest import make_project, read_result, run_snakemake
from lmm.fdr import DEFAULT_LAMBDAS, pi0est, qvalue
from lmm.pipeline.genome_scan import region_lengths
from lmm.significance import genome_pvalue_cut, lod_thresholds, pvalue_genome

pytestmark = pytest.mark.slow

N_PERM = 60
FDR = 0.05
CIS_WINDOW = 5.0
HOTSPOT_WINDOW = 6.0
#: The eQTL outputs and lod.parquet (the oracle of the sparse output): not the heritability fits
#: and figures, which the eQTL rules do not need (a shorter run).
TARGETS = ["results/scan/significance.tsv", "results/scan/eqtl_peaks.tsv", "results/scan/hotspots.tsv",
           "results/plots/hotspots.png", "results/plots/cis_trans.png", "results/scan/lod.parquet",
           *(f"results/scan/lod_min/{c}.parquet" for c in ("1", "2", "3", "X"))]


def write_study(project, seed=3):
    """The simulated study as the workflow's input files, and its config (config/eqtl.yaml)."""
    s = simulate_eqtl_study(seed, n_strains=60, spacing_cm=1.0, n_traits=100, n_local=30, n_hotspot=20)
    data = project / "data"
    data.mkdir()
    ids = [f"RIL{i:03d}" for i in range(s.pheno.shape[0])]
    markers = [f"m{c}_{int(p)}" for c, p in zip(s.marker_chr, s.marker_pos)]
    pd.DataFrame(s.genotypes, index=pd.Index(ids, name="id"), columns=markers).to_csv(data / "geno.csv")
    pd.DataFrame({"marker": markers, "chr": s.marker_chr, "pos": s.marker_pos}).to_csv(data / "map.csv", index=False)
    pd.DataFrame(s.pheno, index=pd.Index(ids, name="id"), columns=s.trait_names).to_csv(data / "pheno.csv",
                                                                                         float_format="%.17g")
    # traits 95..99 have no position; chromosome names written as 'chr1' (made canonical)
    pd.DataFrame({"phenotype": s.trait_names, "chr": ["chr" + c for c in s.trait_chr], "pos": s.trait_pos}
                 ).iloc[:95].to_csv(data / "positions.tsv", sep="\t", index=False)
    config = {"kinship": None, "covariates": None, "phenotypes": "data/pheno.csv", "genotypes": "data/geno.csv",
              "genotype_map": "data/map.csv", "map_position": "pos", "scan_permutations": N_PERM,
              "peak_threshold": 2.0, "phenotype_positions": "data/positions.tsv", "cis_window": CIS_WINDOW,
              "hotspot_window": HOTSPOT_WINDOW, "fdr": FDR, "lod_min": 4.0, "scan_output": "full",
              "profile_grid": 0}
    (project / "config" / "eqtl.yaml").write_text(yaml.safe_dump(config))
    return s


@pytest.fixture(scope="module")
def eqtl_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("eqtl") / "project", with_data=False, scan=True)
    study = write_study(project)
    proc = run_snakemake(project, *TARGETS, "--cores", "2", "--configfile", "config/eqtl.yaml", check=True)
    return project, study, proc


def test_significance_equals_the_library_on_the_same_maxima(eqtl_project):
    """significance.tsv is pvalue_genome, qvalue, genome_pvalue_cut and lod_thresholds of the
    permutation maxima and max.tsv (the oracle: the library called here on the same numbers)."""
    project, study, _ = eqtl_project
    scan = project / "results" / "scan"
    sig = read_result(scan / "significance.tsv").astype({"chr": str})
    perm = pd.read_parquet(scan / "permutation_maxima.parquet")
    maxima = read_result(scan / "max.tsv").astype({"chr": str})
    markers = read_result(scan / "markers.tsv").astype({"chr": str})
    names = list(study.trait_names)
    assert sig["phenotype"].tolist() == names and list(perm.columns[2:]) == names
    # X permuted apart: 60 autosome replicates, ceil(60 * 300 / 100) X ones
    assert perm.groupby("region", sort=False).size().to_dict() == {"A": N_PERM, "X": 3 * N_PERM}
    thresholds = read_result(scan / "thresholds.tsv")
    assert set(thresholds["region"]) == {"A", "X"}
    table = maxima.pivot(index="phenotype", columns="chr", values="lod").loc[names]
    dfs = maxima.pivot(index="phenotype", columns="chr", values="df").loc[names]
    observed = np.stack([table[["1", "2", "3"]].max(axis=1), table["X"]])
    assert np.array_equal(sig["lod"], observed.max(axis=0))
    assert set(dfs.to_numpy().ravel()) == {1}
    perms = [perm.loc[perm["region"] == r, names].to_numpy() for r in ("A", "X")]
    lengths = region_lengths(markers, ["X"])
    genome = pvalue_genome(observed, perms, 1, [lengths["A"], lengths["X"]])
    np.testing.assert_array_equal(sig["pvalue_genome"], genome.pvalue)
    assert (sig["pvalue_method"] == "beta").mean() > 0.9
    # the A autosome maxima: the largest over chromosomes 1-3 of every scan job's permutation maxima
    assert np.all(perms[0] <= observed[0] + 50) and np.isfinite(perms[0]).all()
    p = genome.pvalue
    lambdas = DEFAULT_LAMBDAS if p.max() >= 0.95 else DEFAULT_LAMBDAS[DEFAULT_LAMBDAS <= p.max()]
    q = qvalue(p, pi0=pi0est(p, lambdas).pi0).qvalues
    np.testing.assert_array_equal(sig["qvalue"], q)
    assert np.array_equal(sig["significant"].to_numpy(bool), q <= FDR)
    thr = lod_thresholds(genome, genome_pvalue_cut(p, q, FDR), perms)
    np.testing.assert_array_equal(sig["lod_threshold_A"], thr[0])
    np.testing.assert_array_equal(sig["lod_threshold_X"], thr[1])
    # a significant trait's maximum reaches its threshold in its region, a non-significant one's does not
    reach = np.where(sig["region"] == "X", sig["lod_threshold_X"], sig["lod_threshold_A"])
    best = np.where(sig["region"] == "X", observed[1], observed[0])
    assert np.array_equal(best >= reach, sig["significant"].to_numpy(bool))


def test_local_traits_and_the_hotspot_are_found(eqtl_project):
    project, study, _ = eqtl_project
    scan = project / "results" / "scan"
    sig = read_result(scan / "significance.tsv").set_index("phenotype")
    kind = pd.Series(study.kind, index=study.trait_names)
    called = sig["significant"]
    assert called[kind == "local"].mean() > 0.8 and called[kind == "hotspot"].mean() > 0.6
    # q <= 0.05: the share of null traits among the called ones stays near 5% (loose)
    assert (kind[called.to_numpy(bool)] == "null").sum() <= max(2, 0.15 * called.sum())
    peaks = read_result(scan / "eqtl_peaks.tsv").astype({"chr": str, "trait_chr": str})
    sig_peaks = peaks[peaks["significant"]]
    local = sig_peaks[sig_peaks["phenotype"].map(kind).eq("local") & sig_peaks["trait_pos"].notna()]
    # each local trait's highest significant peak is labelled cis, at its own position
    top = local.loc[local.groupby("phenotype")["lod"].idxmax()]
    assert len(top) >= 20 and top["cis"].astype(bool).mean() > 0.9
    assert (top["distance"].abs() <= CIS_WINDOW).mean() > 0.9
    assert peaks.loc[peaks["phenotype"].isin(study.trait_names[95:]), "cis"].isna().all()
    hot = read_result(scan / "hotspots.tsv").astype({"chr": str})
    best = hot.loc[hot["n_peaks"].idxmax()]
    assert best["chr"] == study.hotspot[0] and abs(best["pos"] - study.hotspot[1]) <= HOTSPOT_WINDOW
    assert best["n_peaks"] >= 0.6 * (kind == "hotspot").sum()
    for name in ("hotspots.png", "cis_trans.png"):
        assert (project / "results" / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_null_traits_genome_wide_pvalues_are_roughly_uniform(eqtl_project):
    project, study, _ = eqtl_project
    sig = read_result(project / "results" / "scan" / "significance.tsv")
    p = sig.loc[study.kind == "null", "pvalue_genome"].to_numpy(float)
    assert p.size == 50 and np.isfinite(p).all()
    # loose and seeded: the mean of 50 uniforms is 0.5 ± 0.04; few small values
    assert 0.3 < p.mean() < 0.7 and (p < 0.05).sum() <= 6 and (p > 0.5).sum() >= 15


def test_lod_min_is_the_lod_table_above_the_cut(eqtl_project):
    project, _, _ = eqtl_project
    scan = project / "results" / "scan"
    lod = pd.read_parquet(scan / "lod.parquet").astype({"chr": str})
    long = lod.melt(id_vars=["marker", "chr", "pos"], var_name="phenotype", value_name="lod")
    want = long[long["lod"] >= 4.0]
    got = pd.concat([pd.read_parquet(scan / "lod_min" / f"{c}.parquet") for c in ("1", "2", "3", "X")])
    key = ["marker", "phenotype"]
    assert len(got) == len(want) > 0
    merged = got.merge(want, on=key, suffixes=("", "_full"))
    assert len(merged) == len(got) and np.array_equal(merged["lod"], merged["lod_full"])


def test_new_fdr_and_cis_window_rerun_no_scan_job(eqtl_project):
    """A dry run with a new fdr and cis_window: the rules after the scan only (one run for both,
    to keep the test short: cis_window alone reruns a subset of these)."""
    project, _, _ = eqtl_project
    proc = run_snakemake(project, "-n", "--cores", "1", *TARGETS, "--configfile", "config/eqtl.yaml",
                         "--config", "fdr=0.1", "cis_window=2", check=True)
    table = proc.output.split("Job stats:")[1].split("\ntotal")[0]             # the first table
    jobs = {line.split()[0] for line in table.splitlines()[3:] if line.strip()}
    assert jobs == {"significance", "eqtl_peaks", "hotspots", "plot_cis_trans"}, proc.output[-3000:]
    assert "reason: Params have changed" in proc.output


def test_refusals_name_the_file_and_trait(eqtl_project, tmp_path):
    project, _, _ = eqtl_project
    copy = tmp_path / "project"
    shutil.copytree(project, copy, symlinks=True)
    positions = copy / "data" / "positions.tsv"
    good = positions.read_text()
    lines = good.splitlines()
    positions.write_text("\n".join(lines + [lines[3]]) + "\n")        # gene0002 again, on line 97
    proc = run_snakemake(copy, *TARGETS, "--cores", "1", "--configfile", "config/eqtl.yaml")
    assert proc.returncode != 0 and "Traceback" not in proc.output
    assert "positions.tsv' gives trait 'gene0002' twice (lines 4 and 97)" in proc.output
    assert not (copy / "results" / "scan" / "eqtl_peaks.tsv").exists()
    bad = lines[5].split("\t")
    positions.write_text("\n".join(lines[:5] + ["\t".join([bad[0], "chr7", bad[2]])] + lines[6:]) + "\n")
    proc = run_snakemake(copy, *TARGETS, "--cores", "1", "--configfile", "config/eqtl.yaml")
    assert proc.returncode != 0 and "on chromosome 'chr7'" in proc.output and "line 6" in proc.output
    proc = run_snakemake(copy, "-n", "--cores", "1", "--configfile", "config/eqtl.yaml",
                         "--config", "scan_permutations=0")
    assert proc.returncode != 0 and "scan_permutations' is 0" in proc.output
    proc = run_snakemake(copy, "-n", "--cores", "1", "--configfile", "config/eqtl.yaml", "--config", "cis_window=null")
    assert proc.returncode != 0 and "'cis_window' is null" in proc.output

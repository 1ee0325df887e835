"""The scan stages' logic (lmm.pipeline.genome_scan) against an independent path (each phenotype on
its complete cases with its own decomposition, fit and scan, one by one) and the core's scan1, on
seeded synthetic genotypes with missing phenotypes handled by both strategies (own decomposition;
the complete batch's with indicator covariates), with the singular standardized kinship."""

import numpy as np
import pandas as pd
import pytest

import lmm
from lmm.pipeline import genome_scan as gs
from lmm.pipeline.genotype_store import open_intermediate, write_intermediate
from lmm.pipeline.genotypes import read_genotypes
from lmm.pipeline.partition import partition_phenotypes

N, CHROMS, PER_CHR = 80, ("1", "2", "3"), 30


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rng = np.random.default_rng(11)
    tmp = tmp_path_factory.mktemp("gscan")
    ids = [f"m{i:03d}" for i in range(N)]
    freq = rng.uniform(0.1, 0.9, len(CHROMS) * PER_CHR)
    G = rng.binomial(2, freq, size=(N, freq.size)).astype(float)
    G0 = G.copy()                                          # the phenotypes' polygenic part
    G[:, 5] = (np.arange(N) >= 10) & (np.arange(N) < 30)   # constant on p4's observed individuals: df 0 for p4
    markers = [f"snp{k}" for k in range(freq.size)]
    table = pd.DataFrame(G, columns=markers)
    table.insert(0, "id", ids)
    table.to_csv(tmp / "geno.csv", index=False)
    pd.DataFrame({"marker": markers, "chr": np.repeat(CHROMS, PER_CHR),
                  "pos": np.tile(np.arange(PER_CHR) * 2.5, len(CHROMS))}).to_csv(tmp / "map.csv", index=False)
    source = read_genotypes(str(tmp / "geno.csv"), map_path=str(tmp / "map.csv"))
    write_intermediate(source, ids, tmp / "store")
    store = open_intermediate(tmp / "store")
    # phenotypes: a QTL at snp40 (chromosome 2) plus polygenic noise; missing values in patterns
    K = (G0 - G0.mean(0)) @ (G0 - G0.mean(0)).T / G0.shape[1]
    Y = rng.multivariate_normal(np.zeros(N), 0.5 * K + 0.5 * np.eye(N), size=6).T
    Y[:, 0] += 1.2 * G[:, 40]
    Y[:3, 2] = np.nan          # 3 missing: a 'schur' batch with strategy schur
    Y[:3, 3] = np.nan          # the same pattern
    Y[10:30, 4] = np.nan       # 20 missing: own decomposition
    X = np.column_stack([np.ones(N), rng.integers(0, 2, N)])
    return store, ids, Y, X


def _inputs(setup, strategy):
    """The partition, the LOCO kinships and the cleaned data of the synthetic set."""
    store, ids, Y, X = setup
    names = [f"p{j}" for j in range(Y.shape[1])]
    part = partition_phenotypes(Y, names, ["ok"] * len(names), ids, X, ["intercept", "sex"],
                                missing_strategy=strategy)
    kin = gs.compute_kinships(store, "standardized", loco=True)
    data = {"ids": np.array(ids), "phenotypes": Y, "phenotype_names": np.array(names), "covariates": X,
            "covariate_names": np.array(["intercept", "sex"])}
    return part, kin, data



def _one_by_one(blocks, kins, Y, X):
    """hsq (n_chr, m) and LOD (q, m): each phenotype on its complete cases, its own decomposition."""
    hsq = np.empty((len(blocks), Y.shape[1]))
    lods = []
    for c, (G, K) in enumerate(zip(blocks, kins)):
        lod = np.empty((G.shape[1], Y.shape[1]))
        for j in range(Y.shape[1]):
            o = ~np.isnan(Y[:, j])
            dec = lmm.eigen_decompose(K[np.ix_(o, o)])
            fit = lmm.fit_lmm(dec.kva, dec.kve_t @ Y[o, j], dec.kve_t @ X[o], tol=1e-4, compute_ci=False,
                              polish=True)
            hsq[c, j] = fit.hsq
            lod[:, j] = lmm.scan_rotated(dec.kva, dec.kve_t @ Y[o, j], dec.kve_t @ X[o], fit.hsq,
                                         dec.kve_t @ G[o]).lod[:, 0]
        lods.append(lod)
    return hsq, np.vstack(lods)


@pytest.mark.parametrize("strategy", ["schur", "decompose"])
def test_scan_chunk_equals_scan1(setup, strategy):
    store, ids, Y, X = setup
    part, kin, data = _inputs(setup, strategy)
    chunk = gs.scan_chunks(part, 0)[0]
    results = []
    for c in store.chromosomes:
        eig = gs.decompose_chromosome(kin["loco"][c], ids, ids, part)
        results.append([gs.scan_chunk(eig, store, c, data, part, chunk, threshold=3, drop=1.5)])
    blocks = [np.asarray(store.genotypes[store.columns(c)]).T for c in store.chromosomes]
    kins = [kin["loco"][c] for c in store.chromosomes]
    assert all(lmm.eigen_decompose(K).n_clipped > 0 for K in kins)   # singular (K·1 = 0, 60 markers)
    ref = lmm.scan1(blocks, kins, Y, X)
    own_hsq, own_lod = _one_by_one(blocks, kins, Y, X)
    lod = np.vstack([r[0]["lod"] for r in results])
    # the same model by other paths: hsq to the polished optimum, LODs accordingly
    hsq = np.vstack([r[0]["hsq"] for r in results])
    for h, l in ((ref.hsq, ref.lod), (own_hsq, own_lod)):
        np.testing.assert_allclose(hsq, h, atol=1e-9)
        np.testing.assert_allclose(lod, l, atol=1e-8, rtol=1e-8)
    np.testing.assert_array_equal(results[0][0]["n"], ref.n)
    # the degrees of freedom kept by the jobs (the tables' df) are the scan's own
    assert ref.df[5, 4] == 0 and np.all(np.delete(ref.df[5], 4) == 1)
    for c, r in enumerate(results):
        df = ref.df[ref.chr_start[c]:ref.chr_start[c + 1]]
        np.testing.assert_array_equal(r[0]["df_max"], df.max(axis=1))
        np.testing.assert_array_equal(r[0]["max_df"], df[r[0]["argmax"], np.arange(df.shape[1])])
        np.testing.assert_array_equal(r[0]["peak_df"], df[r[0]["peak_index"], r[0]["peak_phenotype"]])
    tables = gs.scan_tables(store, store.chromosomes, results, chunk)
    top = tables["peaks"].sort_values("lod").iloc[-1]
    assert (top["phenotype"], top["chr"], top["marker"]) == ("p0", "2", "snp40")
    assert top["ci_lo"] <= top["pos"] <= top["ci_hi"]
    assert list(tables["hsq"]["phenotype"].unique()) == list(data["phenotype_names"])


@pytest.mark.parametrize("options", [dict(peakdrop=0.5, interval="drop", drop=0.4),
                                     dict(peakdrop=0.5, interval="bayes", prob=0.9),
                                     dict(interval="bayes", prob=0.95), dict()])
def test_peaks_table_is_find_peaks_of_the_lod(setup, options):
    """Several peaks per chromosome (peakdrop) and either interval: the peaks table is
    lmm.find_peaks of the chunk's LODs, one chromosome at a time (rows: its first markers)."""
    store, ids, Y, X = setup
    part, kin, data = _inputs(setup, "schur")
    chunk = gs.scan_chunks(part, 0)[0]
    results = [[gs.scan_chunk(gs.decompose_chromosome(kin["loco"][c], ids, ids, part), store, c, data, part,
                              chunk, threshold=1.0, **options)] for c in store.chromosomes]
    peaks = gs.scan_tables(store, store.chromosomes, results, chunk)["peaks"]
    expected = []
    for c, res in zip(store.chromosomes, results):
        mk = store.markers[store.markers["chr"] == c].reset_index(drop=True)
        p = lmm.find_peaks(res[0]["lod"], None, mk["pos"].to_numpy(float), threshold=1.0,
                           **gs.peak_options(**options))
        expected += [(chunk[j], c, mk["marker"].iat[i], lo, hi)
                     for j, i, lo, hi in zip(p.lodindex, p.index, p.ci_lo, p.ci_hi)]
    order = {p: j for j, p in enumerate(chunk)}
    expected.sort(key=lambda r: (order[r[0]], r[1], int(r[2][3:])))
    got = list(peaks[["phenotype", "chr", "marker", "ci_lo", "ci_hi"]].itertuples(index=False, name=None))
    assert got == expected
    per_chr = peaks.groupby(["phenotype", "chr"]).size()
    assert per_chr.max() > 1 if options.get("peakdrop") else per_chr.max() == 1
    assert ((peaks["ci_lo"] <= peaks["pos"]) & (peaks["pos"] <= peaks["ci_hi"])).all()


def test_peak_options():
    assert gs.peak_options() == {"peakdrop": np.inf, "drop": 1.5, "prob": None}
    assert gs.peak_options(1.8, "bayes", 1.5, 0.9) == {"peakdrop": 1.8, "drop": None, "prob": 0.9}
    with pytest.raises(lmm.InputError):
        gs.peak_options(interval="lod")


def test_permutations_same_on_every_chromosome_and_deterministic(setup):
    store, ids, Y, X = setup
    part, kin, data = _inputs(setup, "schur")
    chunk = gs.scan_chunks(part, 0)[0]
    eig = gs.decompose_chromosome(kin["loco"]["1"], ids, ids, part)
    a = gs.scan_chunk(eig, store, "1", data, part, chunk, n_perm=7, seed=3)
    b = gs.scan_chunk(eig, store, "1", data, part, chunk, n_perm=7, seed=3, tile_columns=7)
    np.testing.assert_allclose(a["perm_max"], b["perm_max"], rtol=1e-12)
    assert np.all(a["perm_max"] >= 0) and a["perm_max"].shape == (7, len(chunk))
    c = gs.scan_chunk(eig, store, "1", data, part, chunk, n_perm=7, seed=4)
    assert not np.allclose(a["perm_max"], c["perm_max"])


@pytest.mark.parametrize("strategy", ["schur", "decompose"])
def test_scan_chunk_on_error_contrasts(setup, strategy, monkeypatch):
    """The scan job's chunk with the kernel forced onto error contrasts (lmm.scan.contrasts) and
    forced off: the same hsq, LODs to 1e-8 and permutation maxima, with missing values (indicator
    covariates or their own decomposition) and a singular kinship."""
    import lmm.scan.kernel as kernel
    store, ids, Y, X = setup
    part, kin, data = _inputs(setup, strategy)
    chunk = gs.scan_chunks(part, 0)[0]
    eig = gs.decompose_chromosome(kin["loco"]["2"], ids, ids, part)
    out = {}
    for flag in (False, True):
        monkeypatch.setattr(kernel, "worthwhile", lambda *args, flag=flag: flag)
        out[flag] = gs.scan_chunk(eig, store, "2", data, part, chunk, n_perm=5, seed=3, tile_columns=11)
    np.testing.assert_array_equal(out[True]["hsq"], out[False]["hsq"])
    np.testing.assert_allclose(out[True]["lod"], out[False]["lod"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(out[True]["perm_max"], out[False]["perm_max"], rtol=0, atol=1e-8)
    assert np.nanmax(out[False]["lod"]) > 5


def test_kinship_method_defaults_and_mismatch():
    assert gs.kinship_method("auto", "probabilities") == "shared_alleles"
    assert gs.kinship_method("auto", "dosages") == "standardized"
    assert gs.kinship_method("centered", "dosages") == "centered"
    with pytest.raises(lmm.InputError, match="shared_alleles"):
        gs.kinship_method("standardized", "probabilities")


def test_kinship_dir_round_trip(tmp_path):
    K = np.arange(9.0).reshape(3, 3)
    gs.write_kinship_dir(str(tmp_path / "loco"), ["a", "b", "c"], {"1": K, "X": K.T})
    ids, back = gs.read_kinship_dir(str(tmp_path / "loco"), "X")
    assert ids == ["a", "b", "c"] and np.array_equal(back, K.T)
    with pytest.raises(lmm.InputError, match="chromosome '7'"):
        gs.read_kinship_dir(str(tmp_path / "loco"), "7")


def test_scan_groups_by_work_and_by_count():
    chroms = [str(c) for c in range(1, 21)]
    small = gs.scan_groups(chroms, {c: 2500 for c in chroms}, n=261, m=26)
    assert small == [chroms]                                   # recla: one job
    large = gs.scan_groups(chroms, {c: 5000 for c in chroms}, n=1000, m=2000)
    assert large == [[c] for c in chroms]                      # one chromosome per job
    assert gs.scan_groups(chroms, {c: 1 for c in chroms}, n=10, m=1, per_job=7) == [
        chroms[:7], chroms[7:14], chroms[14:]]


def test_group_results_round_trip(tmp_path):
    groups = [["1", "2"], ["X"]]
    files = []
    for g, group in enumerate(groups):
        for chunk in range(2):
            arrays = {}
            for k, chrom in enumerate(group):
                arrays |= gs.prefixed({"lod": np.full((2, 1), float(len(files))), "tag": np.array([chrom])}, k)
            files.append(tmp_path / f"{g}_{chunk}.npz")
            np.savez(files[-1], **arrays)
    out = gs.read_scan_results([str(f) for f in files], groups, 2)
    assert [[r["tag"][0] for r in per_chr] for per_chr in out] == [["1", "1"], ["2", "2"], ["X", "X"]]
    assert [r["lod"][0, 0] for r in out[2]] == [2.0, 3.0]
    only = gs.read_scan_results([str(f) for f in files], groups, 2, keys=["lod"])
    assert set(only[0][0]) == {"lod"}


def test_chunks_of_different_widths_give_the_same_tables(setup):
    store, ids, Y, X = setup
    part, kin, data = _inputs(setup, "schur")
    tables = []
    for size in (0, 4):
        chunks = gs.scan_chunks(part, size)
        results = []
        for c in store.chromosomes:
            eig = gs.decompose_chromosome(kin["loco"][c], ids, ids, part)
            results.append([gs.scan_chunk(eig, store, c, data, part, ch) for ch in chunks])
        tables.append(gs.scan_tables(store, store.chromosomes, results, [p for ch in chunks for p in ch]))
        assert [len(ch) for ch in chunks] == ([6] if size == 0 else [4, 2])
    for key in ("peaks", "max", "hsq", "markers"):
        pd.testing.assert_frame_equal(tables[0][key], tables[1][key], check_exact=False, rtol=1e-12)


def test_chunk_size_auto_bounds_the_lod_matrix():
    """scan_chunk_size 'auto': phenotypes × the largest chromosome's markers × 8 bytes within
    SCAN_CHUNK_LOD_BYTES; an integer is used as given (0: one chunk)."""
    assert gs.resolve_chunk_size("auto", 5000) == gs.SCAN_CHUNK_LOD_BYTES // 40000
    assert gs.resolve_chunk_size("auto", 5000) * 5000 * 8 <= gs.SCAN_CHUNK_LOD_BYTES
    assert gs.resolve_chunk_size("auto", 10**12) == 1
    assert gs.resolve_chunk_size(250, 5000) == 250 and gs.resolve_chunk_size(0, 5000) == 0

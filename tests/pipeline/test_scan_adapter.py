"""The workflow's scan job (lmm.pipeline.genome_scan.scan_chunk) is an adapter over the scan engine:
its permutation maxima are lmm.scan1perm's with the same seed, a phenotype added first changes no
other phenotype's, and its LODs do not depend on the units of the phenotypes."""

import numpy as np
import pytest

import lmm
from conftest import dosage_store
from lmm.pipeline import genome_scan as gs
from lmm.pipeline.partition import partition_phenotypes

N, CHROMS, PER_CHR = 70, ("1", "2"), 20


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rng = np.random.default_rng(23)
    tmp = tmp_path_factory.mktemp("adapter")
    store, ids, G = dosage_store(tmp, rng, N, CHROMS, PER_CHR)
    K = (G - G.mean(0)) @ (G - G.mean(0)).T / G.shape[1]
    Y = rng.multivariate_normal(np.zeros(N), 0.5 * K + 0.5 * np.eye(N), size=4).T
    Y[:, 0] += 1.5 * G[:, 5]
    Y = np.round(Y * 2.0 ** 20) / 2.0 ** 20
    Y[:3, 1] = np.nan
    Y[:3, 2] = np.nan
    Y[10:25, 3] = np.nan
    X = np.column_stack([np.ones(N), rng.integers(0, 2, N)])
    kin = gs.compute_kinships(store, "standardized", loco=True)
    return store, ids, Y, X, kin


def _chunk(setup, Y, strategy, n_perm=0, seed=1):
    """scan_chunk on every chromosome: LOD (q, m), hsq (n_chr, m), genome-wide permutation maxima."""
    store, ids, _, X, kin = setup
    names = [f"p{j}" for j in range(Y.shape[1])]
    part = partition_phenotypes(Y, names, ["ok"] * len(names), ids, X, ["intercept", "sex"],
                                missing_strategy=strategy)
    data = {"ids": np.array(ids), "phenotypes": Y, "phenotype_names": np.array(names), "covariates": X,
            "covariate_names": np.array(["intercept", "sex"])}
    chunk = gs.scan_chunks(part, 0)[0]
    res = [gs.scan_chunk(gs.decompose_chromosome(kin["loco"][c], ids, ids, part), store, c, data, part, chunk,
                         n_perm=n_perm, seed=seed, tile_columns=7) for c in store.chromosomes]
    perm = np.max(np.stack([r["perm_max"] for r in res]), axis=0) if n_perm else None
    return np.vstack([r["lod"] for r in res]), np.vstack([r["hsq"] for r in res]), perm, res


def _library(setup):
    store, _, _, X, kin = setup
    blocks = [np.asarray(store.genotypes[store.columns(c)]).T for c in store.chromosomes]
    return blocks, [kin["loco"][c] for c in store.chromosomes], X


@pytest.mark.parametrize("strategy", ["schur", "decompose"])
def test_permutation_maxima_equal_scan1perm_with_the_same_seed(setup, strategy):
    Y = setup[2]
    lod, hsq, perm, _ = _chunk(setup, Y, strategy, n_perm=6, seed=1)
    blocks, kins, X = _library(setup)
    ref = lmm.scan1(blocks, kins, Y, X)
    np.testing.assert_allclose(lod, ref.lod, atol=1e-10, rtol=0)
    np.testing.assert_allclose(hsq, ref.hsq, atol=1e-10, rtol=0)
    np.testing.assert_allclose(perm, lmm.scan1perm(blocks, kins, Y, X, n_perm=6, seed=1), atol=1e-10, rtol=0)


def test_a_phenotype_added_first_changes_no_other_threshold(setup):
    Y = setup[2]
    new = np.random.default_rng(4).normal(size=(N, 1))
    new[[1, 40, 41, 60], 0] = np.nan
    _, _, before, _ = _chunk(setup, Y, "auto", n_perm=5, seed=9)
    _, _, after, _ = _chunk(setup, np.hstack([new, Y]), "auto", n_perm=5, seed=9)
    np.testing.assert_allclose(after[:, 1:], before, atol=1e-10, rtol=0)


@pytest.mark.parametrize("c", (1e-200, 1e-100, 1.0, 1e100, 1e200, "shift"))
def test_chunk_is_invariant_to_the_units_of_the_phenotypes(setup, c):
    Y = setup[2]
    lod, hsq, _, res = _chunk(setup, Y, "schur")
    lod2, hsq2, _, res2 = _chunk(setup, Y + 1e9 if c == "shift" else Y * c, "schur")
    np.testing.assert_allclose(lod2, lod, atol=1e-9, rtol=0)
    np.testing.assert_allclose(hsq2, hsq, atol=1e-9, rtol=0)
    for a, b in zip(res, res2):
        assert np.array_equal(a["peak_phenotype"], b["peak_phenotype"]) and np.array_equal(a["peak_index"], b["peak_index"])
        assert list(a["null_status"]) == list(b["null_status"])
    assert res[0]["peak_lod"].size + res[1]["peak_lod"].size > 0


def test_x_and_interactive_covariates_and_x_permutations_equal_the_library(setup):
    """Chromosome 2 as the X: the scan job with x_covariates (sex and a second column), sex
    interactive, and separate stratified X permutations gives lmm.scan1 / lmm.scan1perm(perm_Xsp)
    with the same seed; the aggregate's thresholds are per region at summary.scan1perm's levels."""
    store, ids, Y, X, kin = setup
    rng = np.random.default_rng(31)
    xcov = np.column_stack([X[:, 1], rng.integers(0, 2, N)]).astype(float)
    names = [f"p{j}" for j in range(Y.shape[1])]
    part = partition_phenotypes(Y, names, ["ok"] * len(names), ids, X, ["intercept", "sex"])
    data = {"ids": np.array(ids), "phenotypes": Y, "phenotype_names": np.array(names), "covariates": X,
            "covariate_names": np.array(["intercept", "sex"])}
    chunk = gs.scan_chunks(part, 0)[0]
    res = []
    for c in store.chromosomes:
        model = gs.chromosome_model(c, store.markers, x_chromosomes=["2"], x_covariates=xcov,
                                    interactive=["sex"], n_perm=4)
        res.append(gs.scan_chunk(gs.decompose_chromosome(kin["loco"][c], ids, ids, part), store, c, data, part,
                                 chunk, seed=3, tile_columns=7, model=model))
    blocks, kins, _ = _library(setup)
    lengths = [float(np.ptp(store.markers.loc[store.markers["chr"] == c, "pos"])) for c in store.chromosomes]
    opts = dict(x_covar=xcov, int_covar=X[:, 1:], is_x=[False, True])
    ref = lmm.scan1(blocks, kins, Y, X, **opts)
    np.testing.assert_allclose(np.vstack([r["lod"] for r in res]), ref.lod, atol=1e-10, rtol=0)
    np.testing.assert_allclose(np.vstack([r["hsq"] for r in res]), ref.hsq, atol=1e-10, rtol=0)
    perm = lmm.scan1perm(blocks, kins, Y, X, perm_Xsp=True, chr_lengths=lengths, n_perm=4, seed=3, **opts)
    np.testing.assert_allclose(res[0]["perm_max"], perm["A"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(res[1]["perm_max"], perm["X"], atol=1e-10, rtol=0)
    additive = lmm.scan1(blocks, kins, Y, X, x_covar=xcov, is_x=[False, True])
    tables = gs.scan_tables(store, list(store.chromosomes), [[r] for r in res], names, x_chromosomes=["2"])
    thr = tables["thresholds"]
    assert sorted(set(thr["region"])) == ["A", "X"]
    want = lmm.permutation_threshold(perm, 0.05, lengths={"A": lengths[0], "X": lengths[1]})
    for j, p in enumerate(names):
        for r in ("A", "X"):
            assert thr.loc[(thr["phenotype"] == p) & (thr["region"] == r), "threshold"].item() == \
                pytest.approx(want[r][j], abs=1e-10)
    peaks = tables["peaks"]
    assert len(peaks) and {"lod_interaction", "df_interaction", "pvalue_interaction"} <= set(peaks.columns)
    starts = np.cumsum([0] + [int((store.markers["chr"] == c).sum()) for c in store.chromosomes])
    for row in peaks.itertuples():
        c = list(store.chromosomes).index(row.chr)
        k = starts[c] + int(np.flatnonzero(store.markers.loc[store.markers["chr"] == row.chr, "marker"] == row.marker)[0])
        j = names.index(row.phenotype)
        assert row.lod_interaction == pytest.approx(ref.lod[k, j] - additive.lod[k, j], abs=1e-9)
        assert row.df_interaction == ref.df[k, j] - additive.df[k, j] == 1
        assert row.threshold == pytest.approx(want["X" if row.chr == "2" else "A"][j], abs=1e-10)

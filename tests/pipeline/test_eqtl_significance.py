"""lmm.pipeline.eqtl_significance (permutation maxima per region, significance at an FDR, the peaks
of significant traits) and lmm.pipeline.sparse_lod (config lod_min), without Snakemake."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmm.errors import InputError
from lmm.fdr import pi0est, qvalue
from lmm.pipeline.eqtl_significance import (eqtl_peaks, permutation_maxima_table, region_names,
                                            significance_table, trait_qvalues)
from lmm.pipeline.sparse_lod import lod_min_table, sparse_lod
from lmm.scan import lod_to_pvalue
from lmm.significance import genome_pvalue_cut, lod_thresholds, pvalue_genome


def test_region_names_follow_the_thresholds_table():
    assert region_names(pd.DataFrame({"region": ["all", "all"]})) == ("all",)
    assert region_names(pd.DataFrame({"region": ["A", "X", "A", "X"]})) == ("A", "X")
    with pytest.raises(InputError, match="without permutations"):
        region_names(pd.DataFrame({"region": []}))
    with pytest.raises(InputError, match="expected 'all'"):
        region_names(pd.DataFrame({"region": ["A"]}))


def test_permutation_maxima_per_region_over_chromosomes_and_chunks():
    rng = np.random.default_rng(1)
    # chromosomes 1, 2 (A: 4 replicates) and X (6), two chunks of 2 and 1 traits
    perm = {c: [rng.uniform(0, 5, (n, 2)), rng.uniform(0, 5, (n, 1))] for c, n in (("1", 4), ("2", 4), ("X", 6))}
    perm["2"][1][0, 0] = -np.inf                                   # trait c never scanned on 2: ignored
    results = [[{"perm_max": a} for a in perm[c]] for c in ("1", "2", "X")]
    table = permutation_maxima_table(["1", "2", "X"], results, ["a", "b", "c"], ("A", "X"), ["X"])
    assert table["region"].tolist() == ["A"] * 4 + ["X"] * 6 and table["replicate"].tolist() == [0, 1, 2, 3, *range(6)]
    whole = {c: np.hstack(perm[c]) for c in perm}
    np.testing.assert_array_equal(table.loc[table["region"] == "A", ["a", "b", "c"]], np.maximum(whole["1"], whole["2"]))
    np.testing.assert_array_equal(table.loc[table["region"] == "X", ["a", "b", "c"]], whole["X"])
    # one region: every chromosome, which then must agree in replicates
    with pytest.raises(InputError, match=r"\[4, 6\] permutation replicates"):
        permutation_maxima_table(["1", "2", "X"], results, ["a", "b", "c"], ("all",), ["X"])
    never = [[{"perm_max": np.full((3, 1), -np.inf)}]]
    assert permutation_maxima_table(["1"], never, ["a"], ("all",), ["X"])["a"].isna().all()


def test_qvalues_with_few_traits_fall_back_as_documented():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=200)
    p[0] = 0.99
    q, pi0, note = trait_qvalues(p)
    assert note is None and pi0 == pi0est(p).pi0 and np.array_equal(q, qvalue(p).qvalues)
    small = np.r_[rng.uniform(0, 0.01, 20), rng.uniform(0, 0.6, 10)]        # largest p < 0.95
    q, pi0, note = trait_qvalues(small)
    lambdas = np.minimum(0.05 + np.arange(19) * 0.05, 0.95)
    within = lambdas[lambdas <= small.max()]
    assert "lambda = 0.05.." in note and pi0 == pi0est(small, within).pi0
    with pytest.raises(InputError):                                       # what R's qvalue(p) does
        pi0est(small)
    tiny = np.array([1e-6, 1e-4, 0.01, 0.12])                              # fewer than four lambdas below
    q, pi0, note = trait_qvalues(tiny)
    assert pi0 == 1.0 and "Benjamini-Hochberg" in note and np.array_equal(q, qvalue(tiny, pi0=1.0).qvalues)
    q, pi0, note = trait_qvalues(np.array([np.nan]))
    assert np.isnan(q).all() and "no trait" in note


def _one_region_study(rng, m=60, n_perm=40):
    """max.tsv rows (two chromosomes, df 1) and permutation maxima of one region ('all')."""
    perm = rng.gumbel(2.0, 0.5, (n_perm, m))
    lod = np.stack([rng.gumbel(1.8, 0.5, m), rng.gumbel(1.8, 0.5, m)])
    lod[0, :10] += 5.0                                                     # ten real QTL on chromosome 1
    names = [f"t{j}" for j in range(m)]
    maxima = pd.DataFrame({"phenotype": np.tile(names, 2), "chr": np.repeat(["1", "2"], m), "lod": lod.ravel(),
                           "marker": np.repeat(["m1", "m2"], m), "pos": np.repeat([10.0, 20.0], m), "df": 1})
    table = pd.DataFrame(perm, columns=names)
    table.insert(0, "replicate", np.arange(n_perm))
    table.insert(0, "region", "all")
    markers = pd.DataFrame({"marker": ["m1", "m2"], "chr": ["1", "2"], "pos": [10.0, 20.0]})
    return maxima, table, markers, lod.max(axis=0), perm, names


def test_significance_table_is_the_library_on_the_same_maxima():
    rng = np.random.default_rng(3)
    maxima, table, markers, observed, perm, names = _one_region_study(rng)
    maxima.loc[(maxima["phenotype"] == "t59"), "lod"] = np.nan                   # a trait never scanned
    observed[59] = np.nan
    result = significance_table(maxima, table, markers, ["X"], 0.05)
    sig = result.table
    genome = pvalue_genome(observed, perm, 1)
    q, pi0, _ = trait_qvalues(genome.pvalue)
    np.testing.assert_array_equal(sig["pvalue_genome"], genome.pvalue)
    np.testing.assert_array_equal(sig["qvalue"], q)
    assert result.pi0 == pi0 and result.p_cut == genome_pvalue_cut(genome.pvalue, q, 0.05)
    np.testing.assert_array_equal(sig["lod_threshold_all"], lod_thresholds(genome, result.p_cut, perm)[0])
    assert sig["significant"].tolist() == (np.nan_to_num(q, nan=1) <= 0.05).tolist()
    assert sig["significant"][:10].all() and sig["significant"][10:].mean() < 0.2
    top = np.argmax(maxima["lod"].fillna(-1).to_numpy().reshape(2, -1), axis=0)
    assert sig["chr"][:59].tolist() == [["1", "2"][k] for k in top[:59]]
    np.testing.assert_array_equal(sig["pvalue"][:59], lod_to_pvalue(observed[:59], 1))
    last = sig.iloc[59]
    assert last["pvalue_method"] == "missing" and np.isnan(last["qvalue"]) and not last["significant"]
    assert list(sig.columns) == ["phenotype", "chr", "marker", "pos", "lod", "df", "pvalue", "pvalue_genome",
                                 "pvalue_method", "region", "qvalue", "significant", "lod_threshold_all"]
    with pytest.raises(InputError, match="fdr"):
        significance_table(maxima, table, markers, ["X"], 1.0)


def test_eqtl_peaks_thresholds_calls_and_cis():
    significance = pd.DataFrame({"phenotype": ["a", "b", "c"], "significant": [True, False, True],
                                 "lod_threshold_A": [3.0, 3.5, 4.0], "lod_threshold_X": [3.2, 3.6, 4.5]})
    peaks = pd.DataFrame({"phenotype": ["a", "a", "b", "c", "c", "d"], "chr": ["1", "X", "2", "1", "X", "1"],
                          "pos": [10.0, 5.0, 7.0, 50.0, 20.0, 1.0], "lod": [5.0, 3.1, 9.0, 4.0, 4.4, 8.0]})
    positions = pd.DataFrame({"phenotype": ["a", "c"], "chr": ["1", "1"], "pos": [12.0, 90.0]})
    out = eqtl_peaks(peaks, significance, ["X"], positions, 5.0)
    np.testing.assert_array_equal(out["lod_threshold_fdr"], [3.0, 3.2, 3.5, 4.0, 4.5, np.nan])
    # b is not significant; c's X peak is below its X threshold; d has no significance row
    assert out["significant"].tolist() == [True, False, False, True, False, False]
    assert out["cis"].tolist() == [True, False, pd.NA, False, False, pd.NA]
    np.testing.assert_array_equal(out["distance"], [-2.0, np.nan, np.nan, -40.0, np.nan, np.nan])
    assert "cis" not in eqtl_peaks(peaks, significance, ["X"]).columns
    with pytest.raises(InputError, match="cis_window"):
        eqtl_peaks(peaks, significance, ["X"], positions, None)


def test_sparse_lod_and_its_table():
    lod_a = np.array([[1.0, 5.0, np.nan], [4.0, 3.9, np.inf]])          # chunk 1: 2 traits x 3 markers
    lod_b = np.array([[4.0, 0.0, 6.0]])                                  # chunk 2: 1 trait
    chunks = [{**sparse_lod(lod_a, 4.0), "phenotypes": np.array(["p", "q"])},
              {**sparse_lod(lod_b, 4.0), "phenotypes": np.array(["r"])}]
    markers = pd.DataFrame({"marker": ["m0", "m1", "m2"], "chr": ["7", "7", "7"], "pos": [0.0, 1.0, 2.0]})
    table = lod_min_table(markers, chunks, ["p", "q", "r"])
    assert list(zip(table["marker"], table["phenotype"], table["lod"])) == [
        ("m0", "q", 4.0), ("m0", "r", 4.0), ("m1", "p", 5.0), ("m2", "q", np.inf), ("m2", "r", 6.0)]
    assert table["chr"].unique().tolist() == ["7"] and table["pos"].tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
    with pytest.raises(InputError, match="without lod_min"):
        lod_min_table(markers, [{"phenotypes": np.array(["p"])}], ["p"])
    with pytest.raises(InputError, match="finite"):
        sparse_lod(lod_a, np.nan)

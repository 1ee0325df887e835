"""Aligning, dropping, covariate checks, phenotype status and transforms (lmm.pipeline.clean)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from lmm.checks import rank_deficient_columns
from lmm.pipeline.clean import (
    clean_inputs,
    dependent_columns,
    drop_summary,
    id_format_mismatches,
    phenotype_status,
    prepare_covariates,
    transform_phenotypes,
)
from lmm.errors import InputError

from conftest import random_kinship


def frame(values, ids, columns):
    return pd.DataFrame(np.asarray(values, dtype=float), index=pd.Index(ids, dtype=object),
                        columns=columns)


@pytest.fixture
def small(rng):
    n = 12
    ids = [f"m{i:02d}" for i in range(n)]
    K = random_kinship(rng, n)
    Y = rng.normal(size=(n, 3))
    C = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    return ids, K, Y, C


def test_alignment_is_by_id_not_by_row_order(small, rng):
    ids, K, Y, C = small
    pheno = frame(Y, ids, ["a", "b", "c"])
    covar = frame(C, ids, ["one", "sex"])
    ref = clean_inputs(np.array(ids), K, pheno, covar)
    p1, p2, p3 = (rng.permutation(len(ids)) for _ in range(3))
    shuffled = clean_inputs(np.array(ids)[p3], K[np.ix_(p3, p3)], pheno.iloc[p1], covar.iloc[p2])
    order = [shuffled.ids.tolist().index(i) for i in ref.ids]
    np.testing.assert_array_equal(shuffled.phenotypes[order], ref.phenotypes)
    np.testing.assert_array_equal(shuffled.covariates[order], ref.covariates)
    np.testing.assert_array_equal(shuffled.kinship[np.ix_(order, order)], ref.kinship)
    # kept individuals follow the phenotype file's order
    assert shuffled.ids.tolist() == [i for i in pheno.iloc[p1].index]


def test_individuals_missing_from_a_file_or_a_covariate_are_recorded(small):
    ids, K, Y, C = small
    C = C.copy()
    C[3, 1] = np.nan
    Y = Y.copy()
    Y[4, :] = np.nan
    pheno = frame(Y[1:], ids[1:], ["a", "b", "c"])            # m00 absent from phenotypes
    covar = frame(np.vstack([C[:-1], [1, 0]]), ids[:-1] + ["zz"], ["one", "sex"])  # m11 absent, zz extra
    data = clean_inputs(np.array(ids), K, pheno, covar)
    dropped = data.dropped.set_index("id")
    assert dropped.loc["m00", "reason"] == "absent from phenotypes"
    assert dropped.loc["m11", "reason"] == "absent from covariates"
    assert dropped.loc["zz", "reason"] == "absent from kinship and phenotypes"
    assert dropped.loc["m03", "reason"] == "missing covariate sex"
    assert dropped.loc["m04", "reason"] == "no value for any selected phenotype"
    assert not bool(dropped.loc["m00", "in_phenotypes"]) and bool(dropped.loc["m00", "in_kinship"])
    assert len(data.ids) == 12 - 4
    assert set(data.ids).isdisjoint(dropped.index)
    assert data.counts["individuals_dropped"] == 5
    assert data.counts["individuals_dropped_by_reason"]["absent from phenotypes"] == 1


def test_no_overlap_stops_with_examples_of_each_files_ids(small):
    ids, K, Y, C = small
    pheno = frame(Y, [f"x{i}" for i in range(len(ids))], ["a", "b", "c"])
    with pytest.raises(InputError) as info:
        clean_inputs(np.array(ids), K, pheno, None)
    assert "No individual is in all input files" in str(info.value)
    assert "'m00'" in str(info.value) and "'x0'" in str(info.value)


def test_too_few_individuals_left_stops_and_says_why_without_pointing_at_unwritten_tables(small):
    ids, K, Y, C = small
    pheno = frame(Y[:2], ids[:2], ["a", "b", "c"])
    with pytest.raises(InputError) as info:
        clean_inputs(np.array(ids), K, pheno, frame(C, ids, ["one", "sex"]))
    message = str(info.value)
    assert message.startswith("Only 2 individuals are left") and "at least 4 are needed" in message
    assert "Dropped: 10 absent from phenotypes." in message
    assert "table" not in message  # the dropped-individuals table is not written when the stage fails


def test_an_all_missing_covariate_column_is_named_with_its_file(small):
    """It used to drop every individual and say "Only 0 individuals are left ... see the table"."""
    ids, K, Y, C = small
    covar = frame(np.column_stack([C, np.full(len(ids), np.nan)]), ids, ["one", "sex", "age"])
    with pytest.raises(InputError) as info:
        clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), covar, paths={"covariates": "covar.csv"})
    message = str(info.value)
    assert message.startswith("Covariate column(s) 'age' in the covariate file 'covar.csv' have no value for "
                              "any of the 12 individuals in all files")
    assert "config 'covariate_columns'" in message and "Only" not in message


def test_every_drop_is_summarised_with_reasons_and_examples(small):
    ids, K, Y, C = small
    Y = Y.copy()
    Y[:, 2] = np.nan
    covar = frame(C[:8], ids[:8], ["one", "sex"])  # covariates for 8 of 12
    data = clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), covar)
    assert data.counts["individuals_dropped"] == 4 and data.counts["ids_differing_only_in_form"] == 0
    text = drop_summary(data, "results/clean/dropped_individuals.tsv")
    assert text.splitlines() == [
        "Individuals: 12 in the kinship, 12 in the phenotypes, 8 in the covariates; 8 in all files; 8 kept, "
        "4 dropped (each listed with its reason in results/clean/dropped_individuals.tsv).",
        "  dropped 4: absent from covariates (ids 'm08', 'm09', 'm10' and 1 more (4 in all))",
        "Phenotypes: 3 selected, 2 to fit, 1 not fitted:",
        "  all_missing: 'c'",
    ]


@pytest.mark.parametrize(
    "covar_ids, kind",
    [(lambda i: f"{int(i[1:]):03d}", "leading zeros"),
     (lambda i: i.upper(), "case"),
     (lambda i: f" {i} ", "surrounding whitespace")],
)
def test_ids_differing_only_in_form_are_said_so(small, covar_ids, kind):
    ids, K, Y, C = small
    pheno_ids = [f"{int(i[1:])}" if kind == "leading zeros" else i for i in ids]
    kin_ids = np.array(pheno_ids)
    other = [covar_ids(i) for i in ids]
    covar = frame(C, other[:6] + pheno_ids[6:], ["one", "sex"])
    data = clean_inputs(kin_ids, K, frame(Y, pheno_ids, ["a", "b", "c"]), covar,
                        paths={"kinship": "kin.csv", "phenotypes": "pheno.csv", "covariates": "covar.csv"})
    assert len(data.ids) == 6 and data.counts["ids_differing_only_in_form"] == 2
    note = [n for n in data.id_notes if "phenotype file" in n][0]
    assert note == (f"ids {', '.join(repr(i) for i in pheno_ids[:3])} and 3 more (6 in all) in the phenotype "
                    f"file 'pheno.csv' and {', '.join(repr(i) for i in other[:3])} and 3 more (6 in all) in the "
                    f"covariate file 'covar.csv' differ only by {kind}")
    assert "note: " + note in drop_summary(data)


def test_no_overlap_caused_by_the_form_of_ids_says_so(small):
    ids, K, Y, C = small
    with pytest.raises(InputError, match=r"No individual is in all input files.*differ only by leading zeros"):
        clean_inputs(np.array([str(k) for k in range(12)]), K, frame(Y, [f"{k:03d}" for k in range(12)],
                                                                        ["a", "b", "c"]), None)


def test_id_format_mismatches_ignores_ids_that_really_differ():
    assert id_format_mismatches({"A": ["1", "2", "x"], "B": ["1", "2", "y"]}) == []
    assert id_format_mismatches({"A": ["01", "2"], "B": ["1", "2"], "C": ["1", "2"]}) == [
        "ids '01' in A and '1' in B differ only by leading zeros",
        "ids '01' in A and '1' in C differ only by leading zeros"]


def test_id_format_mismatches_sees_zeros_at_the_start_of_numbers_inside_ids():
    """Zeros at the start of any number inside an id (M01 ~ M1, ID-007a ~ ID-7a), alone or with
    case; the same sentence as zeros at the start of the whole id."""
    assert id_format_mismatches({"A": ["M01", "ID-007a", "x"], "B": ["M1", "ID-7a", "y"]}) == [
        "ids 'M01', 'ID-007a' in A and 'M1', 'ID-7a' in B differ only by leading zeros"]
    assert id_format_mismatches({"A": ["m02", "s1-p003"], "B": ["M2", "S01-P3"]}) == [
        "ids 'm02', 's1-p003' in A and 'M2', 'S01-P3' in B differ only by leading zeros and case"]
    # both ways round, every number of the id, numbers of zeros alone
    assert id_format_mismatches({"A": ["M1"], "B": ["M001"]}) == [
        "ids 'M1' in A and 'M001' in B differ only by leading zeros"]
    assert id_format_mismatches({"A": ["007-B02-c0"], "B": ["7-B2-c000"]}) == [
        "ids '007-B02-c0' in A and '7-B2-c000' in B differ only by leading zeros"]
    # the rules of the whole id are kept: blanks, case, zeros before letters
    assert id_format_mismatches({"A": [" M01 ", "0a"], "B": ["M1", "a"]}) == [
        "ids ' M01 ', '0a' in A and 'M1', 'a' in B differ only by leading zeros"]


def test_id_format_mismatches_keeps_numbers_that_really_differ():
    """Zeros inside or at the end of a number are part of it; other characters are not ignored."""
    for a, b in [("M10", "M1"), ("M100", "M1"), ("A0B", "AB"), ("M1a", "M1b"), ("M01", "N1"),
                 ("ID-7", "ID7"), ("1.05", "1.5x")]:
        assert id_format_mismatches({"A": [a], "B": [b]}) == [], (a, b)


def test_non_numeric_phenotype_names_column_and_ids(small):
    ids, K, Y, _ = small
    pheno = frame(Y, ids, ["a", "b", "c"]).astype(object)
    pheno.loc["m02", "b"] = "high"
    pheno.loc["m05", "b"] = "12,5"
    with pytest.raises(InputError) as info:
        clean_inputs(np.array(ids), K, pheno, None, paths={"phenotypes": "pheno.csv"})
    message = str(info.value)
    assert "pheno.csv" in message and "column 'b'" in message and "'m02', 'm05'" in message
    assert "'high'" in message


def test_infinite_phenotype_is_an_error(small):
    ids, K, Y, _ = small
    Y = Y.copy()
    Y[7, 0] = -np.inf
    with pytest.raises(InputError, match="infinite values in column 'a' at ids 'm07'"):
        clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), None)


def test_non_numeric_covariate_is_an_error(small):
    ids, K, Y, C = small
    covar = frame(C, ids, ["one", "sex"]).astype(object)
    covar.loc["m01", "sex"] = "M"
    with pytest.raises(InputError, match="covariate file .* non-numeric values in column 'sex' at ids 'm01'"):
        clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), covar)


def test_unknown_selected_columns_are_named(small):
    ids, K, Y, C = small
    with pytest.raises(InputError, match="'phenotype_columns' names columns .*'zz'"):
        clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), None, phenotype_columns=["a", "zz"])


def test_selected_columns_keep_the_requested_order(small):
    ids, K, Y, C = small
    data = clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), frame(C, ids, ["one", "sex"]),
                        phenotype_columns=["c", "a"], covariate_columns=["sex"])
    assert data.phenotype_names == ("c", "a")
    assert data.covariate_names == ("intercept", "sex") and data.intercept_added
    np.testing.assert_array_equal(data.phenotypes[:, 0], Y[:, 2])


def test_intercept_is_added_only_without_a_constant_column():
    x = np.array([0.0, 1, 0, 1, 1])
    X, names, intercept, added = prepare_covariates(x[:, None], ["sex"], path="c.csv")
    assert added and names == ["intercept", "sex"] and intercept == "intercept"
    np.testing.assert_array_equal(X[:, 0], 1.0)
    X, names, intercept, added = prepare_covariates(np.column_stack([x, np.full(5, 2.0)]), ["sex", "k"], path="c")
    assert not added and names == ["sex", "k"] and intercept == "k"
    X, names, _, added = prepare_covariates(np.empty((5, 0)), [], path=None)
    assert added and names == ["intercept"] and X.shape == (5, 1)


@pytest.mark.parametrize(
    "columns, names, words",
    [
        ([np.ones(6), np.full(6, 3.0)], ["intercept", "batch"], ["'intercept', 'batch'", "all constant"]),
        ([np.zeros(6)], ["z"], ["'z'", "zero for all 6"]),
        ([np.ones(6), [0, 1, 0, 1, 0, 1], [1, 0, 1, 0, 1, 0]], ["i", "male", "female"],
         ["linearly dependent", "'female' = combination of 'i', 'male'"]),
        ([[1.0, 2, 3, 4, 5, 6], [2.0, 4, 6, 8, 10, 12]], ["w", "w2"], ["'w2' = combination of 'w'"]),
    ],
)
def test_bad_covariates(columns, names, words):
    with pytest.raises(InputError) as info:
        prepare_covariates(np.column_stack(columns), names, path="covar.csv")
    for word in words:
        assert word in str(info.value)
    assert "covar.csv" in str(info.value)


def test_covariate_rank_uses_the_one_criterion_of_the_core():
    """w + 1e-11 * noise passed load and partition, then killed the rotate job without naming it."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=40)
    X = np.column_stack([np.ones(40), w, w + 1e-11 * rng.normal(size=40)])
    assert rank_deficient_columns(X) == [2]
    assert dependent_columns(X, ["intercept", "w", "w_copy"]) == [("w_copy", ["w"])]
    with pytest.raises(InputError) as info:
        prepare_covariates(X[:, 1:], ["w", "w_copy"], path="covar.csv")
    assert str(info.value).startswith("The covariates in the covariate file 'covar.csv' are linearly dependent "
                                      "over the 40 individuals kept: 'w_copy' = combination of 'w'.")
    # and a column the core accepts is accepted here
    Xok = np.column_stack([np.ones(40), w, w + 1e-3 * rng.normal(size=40)])
    assert rank_deficient_columns(Xok) == [] and dependent_columns(Xok, ["i", "w", "v"]) == []


def test_dependent_columns_ignores_scale():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(50), rng.normal(size=50) * 1e-6, rng.normal(size=50) * 1e6])
    assert dependent_columns(X, ["a", "b", "c"]) == []
    X2 = np.column_stack([X, X[:, 1] * 1e6 + X[:, 2]])
    assert dependent_columns(X2, ["a", "b", "c", "d"]) == [("d", ["b", "c"])]


def test_phenotype_status_values():
    Y = np.array([
        [np.nan, 1.0, 2.0, 1.0, 5.0],
        [np.nan, np.nan, 2.0, 2.0, 5.0],
        [np.nan, np.nan, 2.0, 3.0, np.nan],
        [np.nan, 3.0, 2.0, 4.0, 6.0],
        [np.nan, np.nan, 2.0, 5.0, 7.0],
    ])
    status, n_obs = phenotype_status(Y, n_covariates=2)
    assert status == ["all_missing", "too_few_observations", "constant", "ok", "ok"]
    assert n_obs.tolist() == [0, 2, 5, 5, 4]


def test_status_is_recorded_and_only_ok_phenotypes_are_transformed(small):
    ids, K, Y, C = small
    Y = Y.copy()
    Y[:, 1] = 4.0
    Y[:, 2] = np.nan
    Y[0, 2] = 1.0
    data = clean_inputs(np.array(ids), K, frame(Y, ids, ["a", "b", "c"]), frame(C, ids, ["one", "sex"]),
                        transform="standardize")
    assert data.phenotype_table["status"].tolist() == ["ok", "constant", "too_few_observations"]
    assert data.counts["phenotypes_by_status"] == {"too_few_observations": 1, "constant": 1, "ok": 1}
    np.testing.assert_allclose([data.phenotypes[:, 0].mean(), data.phenotypes[:, 0].std(ddof=1)], [0, 1], atol=1e-12)
    np.testing.assert_array_equal(data.phenotypes[:, 1], 4.0)


def test_rank_inverse_normal_transform():
    y = np.array([[3.0], [np.nan], [1.0], [10.0], [1.0], [7.0]])
    out = transform_phenotypes(y, "rank_inverse_normal")[:, 0]
    assert np.isnan(out[1])
    ranks = np.array([3, 1.5, 5, 1.5, 4])
    np.testing.assert_allclose(out[[0, 2, 3, 4, 5]], stats.norm.ppf((ranks - 0.5) / 5))
    assert out[2] == out[4]  # ties share a value


def test_unknown_transform():
    with pytest.raises(InputError, match="Unknown transform 'log'"):
        transform_phenotypes(np.ones((3, 1)), "log")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 9),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    missing_rate=st.floats(0, 1),
    n_covariates=st.integers(0, 3),
    drop_ids=st.integers(0, 3),
)
def test_clean_inputs_returns_consistent_data_or_a_clear_input_error(n, m, seed, missing_rate, n_covariates,
                                                                    drop_ids):
    rng = np.random.default_rng(seed)
    ids = [f"i{k}" for k in range(n)]
    K = random_kinship(rng, n, 20)
    Y = np.round(rng.normal(size=(n, m)), 1)
    Y[rng.random((n, m)) < missing_rate] = np.nan
    C = rng.integers(0, 2, size=(n, n_covariates)).astype(float)
    pheno = frame(Y, ids, [f"p{j}" for j in range(m)])
    covar = frame(C[drop_ids:], ids[drop_ids:], [f"c{j}" for j in range(n_covariates)]) if n_covariates else None
    try:
        data = clean_inputs(np.array(ids), K, pheno, covar)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    n_kept = len(data.ids)
    assert data.kinship.shape == (n_kept, n_kept)
    assert data.phenotypes.shape == (n_kept, m)
    assert data.covariates.shape[0] == n_kept and data.covariates.shape[1] == len(data.covariate_names)
    assert np.linalg.matrix_rank(data.covariates) == data.covariates.shape[1]
    assert n_kept + len(data.dropped) == n
    assert len(data.phenotype_table) == m
    assert set(data.phenotype_table["status"]) <= {"ok", "all_missing", "too_few_observations", "constant"}

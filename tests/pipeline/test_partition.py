"""Batching phenotypes by missing-data pattern (lmm.pipeline.partition)."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.pipeline.partition import (Chunk, Partition, chunk_table, partition_phenotypes, pattern_digest,
                                    phenotype_assignments)

NAN = np.nan


@pytest.fixture
def data():
    ids = ["a", "b", "c", "d", "e", "f"]
    Y = np.array([
        [1.0, 2, NAN, 4, 5, NAN, 7],
        [2.0, 3, 1, 5, 6, NAN, 8],
        [3.0, 1, 2, NAN, 7, NAN, 9],
        [4.0, 5, 3, 6, 8, NAN, 1],
        [5.0, 4, 4, 7, 9, NAN, 2],
        [6.0, 6, 5, 8, 1, NAN, 3],
    ])
    status = ["ok"] * 5 + ["all_missing", "ok"]
    X = np.column_stack([np.ones(6), [0, 1, 0, 1, 0, 1]])
    return ids, Y, status, X


def test_batches_group_equal_patterns_named_by_first_appearance(data):
    ids, Y, status, X = data
    part = partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["intercept", "sex"])
    batches = part.batches
    assert [b.name for b in batches] == ["b001", "b002", "b003"]
    assert [c.phenotypes for b in batches for c in b.chunks] == [("p", "q", "t", "v"), ("r",), ("s",)]
    assert [c.kind for b in batches for c in b.chunks] == ["decompose"] * 3
    assert [b.missing_ids for b in batches] == [(), ("a",), ("c",)]
    assert [b.n for b in batches] == [6, 5, 5]
    assert batches[1].pattern == pattern_digest(["a"])
    rows = phenotype_assignments(part)
    assert rows["phenotype"].tolist() == list("pqrstuv")
    assert rows.loc[rows["phenotype"] == "u", "batch"].isna().all()
    assert rows.loc[rows["phenotype"] == "u", "status"].item() == "all_missing"
    assert rows["chunk"].dropna().eq("c001").all()


def test_partition_is_deterministic_and_independent_of_other_columns(data):
    ids, Y, status, X = data
    first = partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["intercept", "sex"])
    again = partition_phenotypes(Y.copy(), list("pqrstuv"), list(status), list(ids), X, ["intercept", "sex"])
    assert first == again
    # more columns after these (one of a new pattern, one not fitted), and the values of the others:
    # the batches of p..v keep their names, members, chunks and missing ids
    extra = np.column_stack([Y * 10 + 3, [NAN, NAN, 1, 2, 3, 4], np.full(6, NAN)])
    more = partition_phenotypes(extra, list("pqrstuv") + ["w", "z"], status + ["ok", "all_missing"], ids, X,
                                ["intercept", "sex"])
    assert more.batches[:3] == first.batches
    assert [b.missing_ids for b in more.batches[3:]] == [("a", "b")]
    assert more.phenotypes[:7] == first.phenotypes


def test_a_covariate_nearly_equal_to_another_within_a_batch_is_dropped_by_the_core_criterion():
    """w + 1e-11 * noise passed the partition and then killed the rotate job (issue 9, section 3)."""
    from lmm.checks import rank_deficient_columns

    rng = np.random.default_rng(7)
    n = 12
    w = rng.normal(size=n)
    near = w + np.where(np.arange(n) < 2, 1.0, 1e-11 * rng.normal(size=n))  # differs from w on a, b only
    X = np.column_stack([np.ones(n), w, near])
    Y = np.column_stack([rng.normal(size=n), np.where(np.arange(n) < 2, NAN, rng.normal(size=n))])
    part = partition_phenotypes(Y, ["all", "later"], ["ok", "ok"], [str(i) for i in range(n)], X,
                                ["intercept", "w", "near"])
    full, later = part.batches
    assert full.covariates_dropped == () and later.covariates_dropped == ("near",)
    assert rank_deficient_columns(X[2:]) == [2] and rank_deficient_columns(X) == []


def test_max_batch_size_splits_in_column_order(data):
    ids, Y, status, X = data
    part = partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["intercept", "sex"], max_batch_size=3)
    first = part.batches[0]
    assert [(c.name, c.phenotypes) for c in first.chunks] == [("c001", ("p", "q", "t")), ("c002", ("v",))]
    table = chunk_table(part)
    assert table[["batch", "chunk", "n_phenotypes"]].values.tolist() == [
        ["b001", "c001", 3], ["b001", "c002", 1], ["b002", "c001", 1], ["b003", "c001", 1]]
    assert partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["i", "s"], max_batch_size=0).batches[0].chunks[
        0].phenotypes == ("p", "q", "t", "v")


def test_covariate_dependent_within_a_batch_is_dropped_for_that_batch_only():
    ids = list("abcdef")
    sex = np.array([0, 1, 0, 1, 0, 1.0])
    X = np.column_stack([np.ones(6), sex])
    Y = np.column_stack([np.arange(6.0), np.where(sex == 1, [1.0, 2, 3, 4, 5, 6], NAN)])
    part = partition_phenotypes(Y, ["all", "males"], ["ok", "ok"], ids, X, ["intercept", "sex"])
    full, males = part.batches
    assert full.covariates_dropped == () and full.covariates_used == ("intercept", "sex")
    assert males.covariates_dropped == ("sex",) and males.covariates_used == ("intercept",)
    assert chunk_table(part)["covariates_dropped"].tolist() == ["", "sex"]


def test_a_batch_too_small_for_its_covariates_is_reported_not_fitted():
    ids = list("abcde")
    X = np.column_stack([np.ones(5), [0, 1, 0, 1, 1.0], [1.0, 2, 5, 3, 4]])
    Y = np.column_stack([np.arange(5.0), [1.0, 2, 3, NAN, NAN]])
    part = partition_phenotypes(Y, ["p", "q"], ["ok", "ok"], ids, X, ["i", "s", "w"])
    assert part.batches[1].chunks == ()
    rows = phenotype_assignments(part).set_index("phenotype")
    assert rows.loc["q", "status"] == "too_few_observations" and rows.loc["p", "status"] == "ok"
    assert chunk_table(part)["batch"].tolist() == ["b001"]


def test_many_patterns(rng):
    n, m = 30, 200
    Y = rng.normal(size=(n, m))
    Y[rng.random((n, m)) < 0.03] = NAN
    ids = [str(i) for i in range(n)]
    part = partition_phenotypes(Y, [f"p{j}" for j in range(m)], ["ok"] * m, ids, np.ones((n, 1)), ["intercept"],
                                max_batch_size=7)
    patterns = {tuple(np.isnan(Y[:, j])) for j in range(m)}
    assert len(part.batches) == len(patterns)
    seen = [p for b in part.batches for c in b.chunks for p in c.phenotypes]
    assert sorted(seen) == sorted(f"p{j}" for j in range(m))
    for b in part.batches:
        assert all(len(c.phenotypes) <= 7 for c in b.chunks)
        cols = [int(p[1:]) for c in b.chunks for p in c.phenotypes]
        assert len({tuple(np.isnan(Y[:, j])) for j in cols}) == 1
        assert b.n == n - len(b.missing_ids)


def test_schur_strategy_attaches_masked_chunks_to_the_complete_batch(data):
    ids, Y, status, X = data
    part = partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["intercept", "sex"], max_batch_size=1,
                                missing_strategy="schur")
    b1, b2, b3 = part.batches
    assert [b.strategy for b in part.batches] == ["decompose", "schur", "schur"]
    assert [c.phenotypes for c in b1.decomposed_chunks] == [("p",), ("q",), ("t",), ("v",)]
    assert b1.masked_chunks == (Chunk("m001", "masked", ("r",)), Chunk("m002", "masked", ("s",)))
    assert b2.chunks == () and b3.chunks == ()
    assert part.complete_batch() is b1 and part.chunk("b001", "m002").kind == "masked"
    assert [(b.name, c.name) for b, c in part.fit_jobs()] == [
        ("b001", "c001"), ("b001", "c002"), ("b001", "c003"), ("b001", "c004"), ("b001", "m001"), ("b001", "m002")]
    rows = phenotype_assignments(part).set_index("phenotype")
    assert rows.loc["r", ["batch", "chunk", "strategy"]].tolist() == ["b002", "m001", "schur"]
    assert rows.loc["p", ["batch", "chunk", "strategy"]].tolist() == ["b001", "c001", "decompose"]
    assert chunk_table(part)[["batch", "chunk", "strategy"]].values.tolist()[-2:] == [
        ["b001", "m001", "schur"], ["b001", "m002", "schur"]]


def test_schur_without_a_complete_pattern_adds_the_complete_batch():
    ids = list("abcdef")
    Y = np.column_stack([[NAN, 1, 2, 3, 4, 5.0], [1.0, NAN, 2, 4, 3, 5]])
    part = partition_phenotypes(Y, ["x", "y"], ["ok", "ok"], ids, np.ones((6, 1)), ["intercept"],
                                missing_strategy="schur")
    assert [b.name for b in part.batches] == ["b001", "b002", "b003"]
    full = part.batches[2]
    assert full.n_missing == 0 and full.n == 6 and full.n_phenotypes == 0 and full.decomposed_chunks == ()
    assert full.masked_chunks == (Chunk("m001", "masked", ("x", "y")),)
    assert phenotype_assignments(part)["batch"].tolist() == ["b001", "b002"]


def test_a_batch_whose_covariates_become_dependent_is_always_decomposed():
    ids = list("abcdefgh")
    sex = np.array([0, 1, 0, 1, 0, 1, 1, 1.0])
    X = np.column_stack([np.ones(8), sex])
    Y = np.column_stack([np.arange(8.0), np.where(sex == 1, np.arange(8.0), NAN)])
    part = partition_phenotypes(Y, ["all", "males"], ["ok", "ok"], ids, X, ["intercept", "sex"],
                                missing_strategy="schur")
    assert [b.strategy for b in part.batches] == ["decompose", "decompose"]
    assert part.batches[1].covariates_dropped == ("sex",)


def test_auto_strategy_follows_the_cost_model(monkeypatch):
    import lmm.pipeline.partition as partition_module

    calls = []

    def fake(n, k, n_phenotypes, p):
        calls.append((n, k, n_phenotypes, p))
        return "schur" if k == 1 else "decompose"

    monkeypatch.setattr(partition_module, "choose_strategy", fake)
    ids = [str(i) for i in range(10)]
    Y = np.arange(40.0).reshape(10, 4) % 7
    Y[0, 1] = NAN
    Y[[0, 1], 2] = NAN
    part = partition_phenotypes(Y, list("abcd"), ["ok"] * 4, ids, np.ones((10, 1)), ["intercept"],
                                missing_strategy="auto")
    assert calls == [(10, 1, 1, 1), (10, 2, 1, 1)]
    assert [b.strategy for b in part.batches] == ["decompose", "schur", "decompose"]


def test_unknown_strategy():
    with pytest.raises(ValueError, match="Unknown missing_strategy 'guess'"):
        partition_phenotypes(np.ones((3, 1)), ["a"], ["ok"], list("abc"), np.ones((3, 1)), ["i"],
                             missing_strategy="guess")


def test_json_round_trip_keeps_the_checkpoint_file_stable(data):
    """partition.json: the same bytes for the same data, chunks and masked chunks listed apart, and
    read back to an equal Partition (so every stage sees the partition the checkpoint wrote)."""
    import json

    ids, Y, status, X = data
    part = partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["intercept", "sex"], max_batch_size=1,
                                missing_strategy="schur")
    text = part.to_json()
    assert Partition.from_json(text) == part
    assert partition_phenotypes(Y, list("pqrstuv"), status, ids, X, ["intercept", "sex"], max_batch_size=1,
                                missing_strategy="schur").to_json() == text
    record = json.loads(text)
    assert list(record) == ["covariates", "batches", "phenotypes"]
    assert list(record["batches"][0]) == ["batch", "strategy", "n", "n_missing", "pattern", "missing_ids",
                                          "covariates_used", "covariates_dropped", "n_phenotypes", "chunks",
                                          "masked_chunks"]
    assert record["batches"][0]["masked_chunks"] == [{"chunk": "m001", "phenotypes": ["r"]},
                                                     {"chunk": "m002", "phenotypes": ["s"]}]
    assert record["phenotypes"][5] == {"phenotype": "u", "status": "all_missing", "n_observed": 0, "batch": None,
                                       "chunk": None, "strategy": None}

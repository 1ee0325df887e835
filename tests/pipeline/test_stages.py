"""The workflow's stage functions without Snakemake: rotate/fit a batch (lmm.pipeline.batch), the final
table (lmm.pipeline.aggregate), atomic writes (lmm.pipeline.atomic), figures (lmm.pipeline.plots), provenance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import lmm
from lmm.pipeline import aggregate, atomic, batch, plots, provenance
from lmm.pipeline.clean import clean_inputs
from lmm.errors import InputError
from lmm.pipeline.io import read_results
from lmm.pipeline.partition import Batch, Chunk, Partition, partition_phenotypes, phenotype_assignments

from conftest import random_kinship


@pytest.fixture
def cleaned(rng):
    n = 40
    ids = [f"i{k}" for k in range(n)]
    K = random_kinship(rng, n)
    g = rng.multivariate_normal(np.zeros(n), K, size=5).T
    Y = g + rng.normal(size=(n, 5))
    Y[[1, 2], 1] = np.nan
    Y[[1, 2], 3] = np.nan
    Y[:, 4] = 7.0
    sex = rng.integers(0, 2, n).astype(float)
    pheno = pd.DataFrame(Y, index=ids, columns=list("abcde"))
    covar = pd.DataFrame({"sex": sex}, index=ids)
    data = clean_inputs(np.array(ids), K, pheno, covar)
    part = partition_phenotypes(data.phenotypes, data.phenotype_names, data.phenotype_table["status"],
                                data.ids, data.covariates, data.covariate_names, max_batch_size=1)
    return data, part


def test_rotate_batch_and_fit_chunk_match_lmm_on_complete_cases(cleaned):
    data, part = cleaned
    assert [b.n for b in part.batches] == [40, 38]
    b2 = part.batches[1]
    rotated = batch.rotate_batch(data.ids, data.kinship, data.phenotypes, data.phenotype_names,
                                 data.covariates, data.covariate_names, b2)
    assert rotated["chunks"].tolist() == ["c001", "c002"]
    assert rotated["ids"].tolist() == [i for i in data.ids if i not in ("i1", "i2")]
    keep = np.array([i not in ("i1", "i2") for i in data.ids])
    Ksub = data.kinship[np.ix_(keep, keep)]
    np.testing.assert_allclose(rotated["kve_t"].T @ np.diag(rotated["kva"]) @ rotated["kve_t"], Ksub, atol=1e-10)
    table, profile = batch.fit_chunk(batch.load_chunk(rotated, "c002"), ["d"], profile_grid=[0, 0.5, 1])
    y = data.phenotypes[keep, 3]
    rot = lmm.eigen_rotation(Ksub, y, data.covariates[keep])
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True)
    row = table.iloc[0]
    assert row["phenotype"] == "d" and row["status"] == "ok" and row["n"] == 38
    np.testing.assert_allclose([row["hsq"], row["loglik"], row["beta_sex"]], [fit.hsq, fit.loglik, fit.beta[1]],
                               rtol=1e-10, atol=1e-12)
    assert profile["phenotype"].tolist() == ["d"] * 3
    np.testing.assert_allclose(profile["loglik"], lmm.calc_ll([0, 0.5, 1], rot.kva, rot.y, rot.X).loglik, rtol=1e-10)


def test_fit_chunk_reports_phenotypes_explained_by_covariates_and_fits_the_rest(rng):
    n = 30
    K = random_kinship(rng, n)
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    Y = np.column_stack([rng.normal(size=n), 3 * X[:, 1] - 1])
    rot = lmm.eigen_rotation(K, Y, X)
    rotated = {"kva": rot.kva, "X": rot.X, "y": rot.y, "phenotypes": np.array(["noise", "sexlike"]),
               "covariates": np.array(["intercept", "sex"])}
    table, profile = batch.fit_chunk(rotated, ["noise", "sexlike"], method="ml", profile_grid=[0.5])
    assert table["status"].tolist() == ["ok", "explained_by_covariates"]
    assert table["method"].tolist() == ["ml", None]
    assert np.isnan(table.loc[1, "hsq"]) and not np.isnan(table.loc[0, "hsq"])
    assert profile["phenotype"].tolist() == ["noise"]
    with pytest.raises(InputError, match="not in this rotated batch"):
        batch.fit_chunk(rotated, ["other"])


def test_not_positive_semidefinite_kinship_names_the_batch(cleaned):
    data, part = cleaned
    K = data.kinship.copy()
    K[0, 1] = K[1, 0] = 5.0
    with pytest.raises(InputError, match="Batch b001 .*not positive semi-definite"):
        batch.rotate_batch(data.ids, K, data.phenotypes, data.phenotype_names, data.covariates,
                           data.covariate_names, part.batches[0])


def test_heritability_table_has_every_phenotype_in_order(cleaned):
    data, part = cleaned
    assignments = phenotype_assignments(part)
    fits = []
    for b in part.batches:
        rotated = batch.rotate_batch(data.ids, data.kinship, data.phenotypes, data.phenotype_names,
                                     data.covariates, data.covariate_names, b)
        for c in b.chunks:
            fits.append(batch.fit_chunk(batch.load_chunk(rotated, c.name), c.phenotypes)[0])
    table = aggregate.heritability_table(assignments, fits, data.covariate_names, part.batches)
    assert table["phenotype"].tolist() == list("abcde")
    assert table["status"].tolist() == ["ok", "ok", "ok", "ok", "constant"]
    assert table.loc[4, ["hsq", "beta_sex"]].isna().all() and table.loc[4, "batch"] is None
    assert table["n"].tolist() == [40, 38, 40, 38, 40]
    assert list(table.columns[-3:]) == ["beta_intercept", "beta_sex", "covariates_dropped"]
    with pytest.raises(InputError, match="do not match the partition"):
        aggregate.heritability_table(assignments, fits[:-1], data.covariate_names)


@pytest.mark.parametrize("c, status", [(1e200, "scale_overflow"), (1e-200, "scale_underflow")])
def test_heritability_table_of_phenotypes_out_of_float64_range(cleaned, tmp_path, c, status):
    """Phenotypes ×1e±200: hsq of the unscaled, finite variances for y·2^−y_scale_log2, a status
    from lmm.STATUSES; the written table has no inf."""
    data, part = cleaned
    b = part.batches[0]
    scaled = data.phenotypes.copy()
    scaled[:, 2] *= c
    rotated = batch.rotate_batch(data.ids, data.kinship, scaled, data.phenotype_names,
                                 data.covariates, data.covariate_names, b)
    fits = [batch.fit_chunk(batch.load_chunk(rotated, ch.name), ch.phenotypes)[0] for ch in b.chunks]
    plain = batch.rotate_batch(data.ids, data.kinship, data.phenotypes, data.phenotype_names,
                               data.covariates, data.covariate_names, b)
    ref = pd.concat([batch.fit_chunk(batch.load_chunk(plain, ch.name), ch.phenotypes)[0] for ch in b.chunks])
    assignments = phenotype_assignments(part)
    assignments = assignments[assignments["batch"].isna() | (assignments["batch"] == b.name)]
    table = aggregate.heritability_table(assignments, fits, data.covariate_names, part.batches)
    row = table.set_index("phenotype").loc["c"]
    ref_row = ref.set_index("phenotype").loc["c"]
    assert row["status"] == status and status in lmm.STATUSES
    assert set(table["status"]) <= set(lmm.STATUSES)
    assert abs(row["hsq"] - ref_row["hsq"]) <= 1e-6          # Brent's tol 1e-4 stops at the same point
    k = int(row["y_scale_log2"])
    assert k != 0 and table.set_index("phenotype").loc["a", "y_scale_log2"] == 0
    c_k = np.ldexp(c, -k)
    np.testing.assert_allclose(row[["sigmasq", "sigmasq_g", "sigmasq_e"]].astype(float),
                               ref_row[["sigmasq", "sigmasq_g", "sigmasq_e"]].astype(float) * c_k ** 2,
                               rtol=1e-6)
    atomic.write_tsv(tmp_path / "h.tsv", table, float_format=aggregate.FLOAT_FORMAT)
    back = read_results(tmp_path / "h.tsv")
    numbers = back.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(numbers).any()


def test_table_formatting_is_fixed(tmp_path):
    frame = pd.DataFrame({"phenotype": ["a", "b"], "hsq": [1 / 3, np.nan], "n": [5, 6]})
    atomic.write_tsv(tmp_path / "t.tsv", frame, float_format=aggregate.FLOAT_FORMAT)
    assert (tmp_path / "t.tsv").read_text() == "phenotype\thsq\tn\na\t0.3333333333\t5\nb\tNA\t6\n"


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out" / "result.tsv"
    atomic.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            with open(tmp, "w") as handle:
                handle.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["result.tsv"]
    assert target.stat().st_mode & 0o044  # readable by others, like any file the user writes


def test_plots_return_figures(tmp_path):
    table = pd.DataFrame({"phenotype": ["a", "b", "c"], "status": ["ok", "ok", "constant"],
                          "hsq": [0.3, 1.0, np.nan], "hsq_ci_lower": [0.1, 0.6, np.nan],
                          "hsq_ci_upper": [0.7, 1.0, np.nan], "boundary": ["none", "upper", None],
                          "loglik": [-10.0, -12.0, np.nan]})
    grid = np.linspace(0, 1, 5)
    profile = pd.DataFrame({"phenotype": ["a"] * 5 + ["b"] * 5, "hsq": np.tile(grid, 2),
                            "loglik": np.r_[-11, -10.2, -10.5, -11, -12, -20, -16, -14, -13, -12.0]})
    fig = plots.plot_heritability(table)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert set(labels) == {"a", "b"}
    atomic.save_figure(tmp_path / "h.png", fig)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    fig2 = plots.plot_profiles(profile, table)
    assert sum(ax.get_visible() and bool(ax.lines) for ax in fig2.axes) == 2
    empty = plots.plot_profiles(profile.iloc[:0], table)
    assert "profile_grid" in empty.axes[0].texts[0].get_text()
    many = pd.DataFrame({"phenotype": [f"p{i}" for i in range(300)], "status": "ok",
                         "hsq": np.linspace(0, 1, 300), "hsq_ci_lower": 0.0, "hsq_ci_upper": 1.0,
                         "boundary": "none", "loglik": -1.0})
    assert "sorted by hsq (300)" in plots.plot_heritability(many).axes[0].get_xlabel()


def test_heritability_plots_survive_no_estimate_and_infinite_values(tmp_path, caplog):
    """All-NA estimates, an unbounded likelihood (ℓ = +inf at hsq = 1) and a phenotype whose
    profile is all NaN: both figures are drawn and say what they leave out."""
    table = pd.DataFrame({"phenotype": ["a", "b", "c"], "status": ["ok", "unbounded", "constant"],
                          "hsq": [0.3, 1.0, np.nan], "hsq_ci_lower": [0.1, np.nan, np.nan],
                          "hsq_ci_upper": [0.7, np.nan, np.nan], "boundary": ["none", "upper", None],
                          "loglik": [-10.0, np.inf, np.nan]})
    grid = np.linspace(0, 1, 5)
    profile = pd.DataFrame({"phenotype": ["a"] * 5 + ["b"] * 5 + ["c"] * 5, "hsq": np.tile(grid, 3),
                            "loglik": np.r_[-11, -10.2, -10.5, -11, -12, -20, -16, -14, -13, np.inf,
                                            [np.nan] * 5]})
    fig = plots.plot_heritability(table)
    assert fig.left_out == ["phenotype c: no hsq (constant), not drawn"]
    prof = plots.plot_profiles(profile, table)
    assert "phenotype b: profile log-likelihood infinite at hsq = 1 (unbounded), not drawn" in prof.left_out
    assert "phenotype c: no finite profile log-likelihood, not drawn" in prof.left_out
    assert "Left out" in prof._suptitle.get_text()
    none = table.assign(hsq=np.nan, status="all_missing")
    fig_none = plots.plot_heritability(none)
    assert len(fig_none.left_out) == 3 and "No phenotype has an estimate" in fig_none.axes[0].texts[0].get_text()
    nan_profile = profile.assign(loglik=np.nan)
    prof_nan = plots.plot_profiles(nan_profile, none)
    assert len(prof_nan.left_out) == 3
    for k, f in enumerate((fig, prof, fig_none, prof_nan)):
        atomic.save_figure(tmp_path / f"{k}.png", f)
        for ax in f.axes:
            assert np.isfinite(ax.get_ylim()).all() and np.isfinite(ax.get_xlim()).all()
    assert any("no finite profile" in r.getMessage() for r in caplog.records)
    assert plots.plot_heritability(table.iloc[:1]).left_out == []


def test_a_phenotype_named_NA_goes_through_aggregate_and_both_plots(rng, tmp_path):
    """The stages as the workflow's scripts chain them, files included: a phenotype named ``NA``
    (fitted by a masked chunk) keeps its name through the fit tables, the final tables and the
    figures, because every table is read back with lmm.pipeline.io.read_results."""
    n = 30
    ids = [f"i{k}" for k in range(n)]
    K = random_kinship(rng, n)
    Y = rng.multivariate_normal(np.zeros(n), K, size=2).T + rng.normal(size=(n, 2))
    Y[[3, 7], 0] = np.nan
    data = clean_inputs(np.array(ids), K, pd.DataFrame(Y, index=ids, columns=["NA", "bw"]), None)
    part = partition_phenotypes(data.phenotypes, data.phenotype_names, data.phenotype_table["status"], data.ids,
                                data.covariates, data.covariate_names, missing_strategy="schur")
    assert [(a.phenotype, a.batch, a.chunk) for a in part.phenotypes] == [("NA", "b001", "m001"),
                                                                           ("bw", "b002", "c001")]
    atomic.write_tsv(tmp_path / "phenotypes.tsv", phenotype_assignments(part))
    grid = [0.0, 0.5, 1.0]
    names = list(data.phenotype_names)
    for b, c in part.fit_jobs():  # rotate and fit, as workflow/scripts/rotate.py and fit.py
        rotated = batch.rotate_batch(data.ids, data.kinship, data.phenotypes, names, data.covariates,
                                     data.covariate_names, b)
        if c.kind == "decompose":
            table, profile = batch.fit_chunk(batch.load_chunk(rotated, c.name), c.phenotypes, profile_grid=grid)
        else:
            dec = lmm.EigenDecomposition(rotated["kva"], rotated["kve_t"], int(rotated["n_clipped"]),
                                         float(rotated["min_eigenvalue"]))
            y = data.phenotypes[:, [names.index(p) for p in c.phenotypes]]
            table, profile = batch.fit_masked_chunk(dec, y, data.covariates, c.phenotypes, data.covariate_names,
                                                    profile_grid=grid)
        atomic.write_tsv(tmp_path / f"{b.name}.{c.name}.tsv", table)
        atomic.write_tsv(tmp_path / f"{b.name}.{c.name}.profile.tsv", profile)
    jobs = [f"{b.name}.{c.name}" for b, c in part.fit_jobs()]
    # the aggregate stage, as workflow/scripts/aggregate.py
    assignments = read_results(tmp_path / "phenotypes.tsv")
    table = aggregate.heritability_table(assignments, [read_results(tmp_path / f"{j}.tsv") for j in jobs],
                                         part.covariates, part.batches)
    profile = aggregate.profile_table(assignments, [read_results(tmp_path / f"{j}.profile.tsv") for j in jobs])
    atomic.write_tsv(tmp_path / "heritability.tsv", table, float_format=aggregate.FLOAT_FORMAT)
    atomic.write_tsv(tmp_path / "profile_loglik.tsv", profile, float_format=aggregate.FLOAT_FORMAT)
    lines = (tmp_path / "heritability.tsv").read_text().splitlines()
    assert lines[1].startswith("NA\tok\tb001\tm001\tschur\t28\t") and lines[2].startswith("bw\tok\tb002\tc001\t")
    assert "\ttrue\treml\t" in lines[1]
    # the figures, as workflow/scripts/plot_heritability.py and plot_profiles.py
    heritability = read_results(tmp_path / "heritability.tsv")
    curves = read_results(tmp_path / "profile_loglik.tsv")
    assert heritability["phenotype"].tolist() == ["NA", "bw"] and heritability["hsq"].notna().all()
    assert curves["phenotype"].tolist() == ["NA"] * 3 + ["bw"] * 3
    figure = plots.plot_heritability(heritability)
    assert {t.get_text() for t in figure.axes[0].get_yticklabels()} == {"NA", "bw"}
    panels = plots.plot_profiles(curves, heritability)
    assert [ax.get_title() for ax in panels.axes if ax.get_visible() and ax.lines] == ["NA", "bw"]
    atomic.save_figure(tmp_path / "heritability.png", figure)
    atomic.save_figure(tmp_path / "profiles.png", panels)
    assert (tmp_path / "profiles.png").read_bytes()[:4] == b"\x89PNG"


def test_provenance_record(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("id,a\na,1\n")
    record = provenance.provenance(
        {"method": "reml", "profile_grid": [0, 1]}, {"kinship": str(path), "covariates": None},
        {"kinship_mean_diagonal": 1.0, "counts": {"individuals_kept": 1}, "intercept": {"added": True}},
        Partition(covariates=("intercept",), phenotypes=(), batches=(
            Batch(name="b001", strategy="decompose", n=1, n_missing=0, pattern="x", missing_ids=(),
                  covariates_used=("intercept",), covariates_dropped=(), n_phenotypes=1,
                  chunks=(Chunk("c001", "decompose", ("a",)),)),)),
        {"ok": 1}, {"b001": {"min_eigenvalue": 1.0, "n_clipped": 0}})
    assert record["inputs"]["kinship"]["sha256"] == provenance.sha256_file(path)
    assert record["inputs"]["covariates"] is None
    assert record["counts"]["batches"] == 1 and record["counts"]["phenotypes_by_final_status"] == {"ok": 1}
    assert record["batches"][0]["n_clipped"] == 0
    assert record["software"]["numpy"] == np.__version__
    assert yaml.safe_load(yaml.safe_dump(record)) == record


def test_lmm_package_does_not_import_snakemake():
    import ast
    from pathlib import Path

    for path in sorted(Path(lmm.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "snakemake" for n in names), path.name


def test_status_summary_counts_every_status_and_explains_the_others():
    """The terminal's summary of the heritability table: counts in the vocabulary's order, and the
    meaning of every status but ``ok`` (a table with phenotypes ×1e200 says why σ² is scaled)."""
    from lmm.pipeline.aggregate import status_summary
    from lmm.result import STATUSES

    table = pd.DataFrame({"status": ["scale_overflow", "ok", "unbounded", "scale_overflow"]})
    lines = status_summary(table, "h.tsv").splitlines()
    assert lines[0] == "heritability: 4 phenotypes (h.tsv): 1 ok, 1 unbounded, 2 scale_overflow"
    assert lines[1:] == [f"  unbounded: {STATUSES['unbounded']}", f"  scale_overflow: {STATUSES['scale_overflow']}"]

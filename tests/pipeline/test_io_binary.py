"""Binary inputs (lmm.pipeline.io): .npy matrices with their sidecar files, and Parquet tables.

Each format must read to exactly what the equivalent CSV reads to, get the same checks as CSV,
and give byte-identical results through the workflow. Parquet needs pyarrow (the optional extra
``lmm-pipeline[parquet]``): its tests are skipped without it, except the one that checks the
message given when it is missing.
"""

from __future__ import annotations

import builtins
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RECLA, make_project, run_snakemake
from lmm.errors import InputError
from lmm.pipeline.io import input_format, npy_sidecars, read_kinship, read_table

REPO = Path(__file__).resolve().parents[2]


# --- helpers: write a table or a kinship in each format --------------------------------------

def save_npy(path: Path, values, ids, columns=None) -> Path:
    """`values` as <path>.npy, with <name>.ids.txt and (if `columns`) <name>.columns.txt."""
    path = Path(path)
    np.save(path, np.asarray(values))
    stem = str(path)[: -len(".npy")]
    Path(stem + ".ids.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    if columns is not None:
        Path(stem + ".columns.txt").write_text("".join(f"{c}\n" for c in columns), encoding="utf-8")
    return path


def save_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """`frame` (indexed by id) as a Parquet table with an `id` column."""
    frame.rename_axis("id").reset_index().to_parquet(path, index=False)
    return Path(path)


def csv_and_frame(tmp_path, role="phenotype"):
    text = "id,a,b\n007,1.5,NA\n7,2,3\n10,,4.25\n"
    path = tmp_path / "p.csv"
    path.write_text(text)
    return path, read_table(str(path), id_column="id", role=role)


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame):
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.index.tolist() == want.index.tolist() and got.index.name == want.index.name


# --- reading to the same result as CSV --------------------------------------------------------

def test_input_format_and_sidecar_names():
    assert input_format("a/K.npy") == "npy" and input_format("P.Parquet") == "parquet"
    assert input_format("p.csv.gz") == "text" and input_format("p.tsv") == "text"
    assert npy_sidecars("a/K.npy", "kinship") == {"ids": "a/K.ids.txt"}
    assert npy_sidecars("a/p.npy", "covariate") == {"ids": "a/p.ids.txt", "columns": "a/p.columns.txt"}
    assert npy_sidecars("a/p.csv", "phenotype") == {}


def load_stage_inputs(workdir: Path, *config: str) -> list[str]:
    """The input files of the load_and_clean job, as Snakemake's file graph lists them."""
    proc = run_snakemake(workdir, "--filegraph", "--config", *config, check=True)
    node = next(block for block in proc.output.split("label=<")
                if '<font point-size="18">load_and_clean</font>' in block)
    return re.findall(r'monospace">([^<]*)<', node.split("<hr/>")[1])


@pytest.mark.slow
def test_workflow_declares_as_inputs_the_sidecars_lmm_io_reads(tmp_path):
    """Every sidecar that lmm.pipeline.io.npy_sidecars names is an input of the load stage (so
    editing one reruns it), for each of the three roles, and nothing else is."""
    workdir = make_project(tmp_path / "project", with_data=False)
    data = workdir / "data" / "npy"
    data.mkdir(parents=True)
    paths = {}
    for key, role in (("kinship", "kinship"), ("phenotypes", "phenotype"), ("covariates", "covariate")):
        columns = None if role == "kinship" else ["x"]
        paths[key] = (f"data/npy/{key}.npy", role)
        save_npy(data / f"{key}.npy", np.eye(2) if columns is None else np.ones((2, 1)), ["a", "b"], columns)
    inputs = load_stage_inputs(workdir, *(f"{key}={path}" for key, (path, _) in paths.items()))
    expected = {path for path, _ in paths.values()}
    for path, role in paths.values():
        expected.update(npy_sidecars(path, role).values())
    assert sorted(inputs) == sorted(expected)
    assert "data/npy/phenotypes.columns.txt" in inputs and "data/npy/kinship.columns.txt" not in inputs


def test_npy_table_reads_like_csv(tmp_path):
    _, want = csv_and_frame(tmp_path)
    path = save_npy(tmp_path / "p.npy", want.to_numpy(), want.index, want.columns)
    assert_same_frame(read_table(str(path), id_column="id", role="phenotype"), want)


def test_npy_float32_and_integer_matrices_become_float64(tmp_path):
    for dtype in (np.float32, np.int32):
        path = save_npy(tmp_path / f"c_{np.dtype(dtype).name}.npy", np.array([[1, 0], [1, 1], [1, 0]], dtype=dtype),
                        ["a", "b", "c"], ["intercept", "sex"])
        frame = read_table(str(path), id_column="id", role="covariate")
        assert frame.dtypes.eq(np.float64).all() and frame["sex"].tolist() == [0.0, 1.0, 0.0]


def test_npy_kinship_reads_like_csv(tmp_path):
    K = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.3], [0.1, 0.3 + 1e-12, 1.0]])
    ids = ["007", "7", "x y"]
    csv = tmp_path / "k.csv"
    pd.DataFrame(K, index=ids, columns=ids).to_csv(csv, index_label="id", float_format="%.17g")
    want_ids, want = read_kinship(str(csv), id_column="id")
    got_ids, got = read_kinship(str(save_npy(tmp_path / "k.npy", K, ids)), id_column="id")
    assert got_ids.tolist() == want_ids.tolist() == ids
    assert got.dtype == np.float64 and got.flags.c_contiguous and got.flags.writeable
    np.testing.assert_array_equal(got, want)
    assert got[1, 2] == got[2, 1]  # symmetrised


def test_parquet_table_reads_like_csv(tmp_path):
    pytest.importorskip("pyarrow")
    _, want = csv_and_frame(tmp_path)
    path = save_parquet(tmp_path / "p.parquet", want)
    assert_same_frame(read_table(str(path), id_column="id", role="phenotype"), want)


def test_parquet_index_integer_ids_and_text_na_codes(tmp_path):
    pytest.importorskip("pyarrow")
    # ids written as pandas' index named 'id'; integer ids are read as text; 'NA' text is missing
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["1.5", "NA", "2"]}, index=pd.Index([3, 1, 2], name="id"))
    frame.to_parquet(tmp_path / "p.parquet")
    got = read_table(str(tmp_path / "p.parquet"), id_column="id", role="phenotype")
    assert got.index.tolist() == ["3", "1", "2"] and got["a"].dtype == np.float64
    assert got["b"].isna().tolist() == [False, True, False]


def test_parquet_kinship_reads_like_csv(tmp_path):
    pytest.importorskip("pyarrow")
    K = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.3], [0.1, 0.3, 1.0]])
    ids = ["a", "b", "c"]
    perm = [2, 0, 1]  # columns in another order: matched by id
    frame = pd.DataFrame(K[:, perm], index=pd.Index(ids, name="id"), columns=[ids[j] for j in perm])
    save_parquet(tmp_path / "k.parquet", frame)
    got_ids, got = read_kinship(str(tmp_path / "k.parquet"), id_column="id")
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(got, K)


# --- the same checks as CSV, and the format's own --------------------------------------------

def message_of(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    return str(info.value)


def test_npy_missing_sidecars(tmp_path):
    np.save(tmp_path / "k.npy", np.eye(2))
    msg = message_of(lambda: read_kinship(str(tmp_path / "k.npy"), id_column="id"))
    assert "k.npy' is a .npy matrix" in msg and "k.ids.txt' beside it, which does not exist" in msg
    save_npy(tmp_path / "p.npy", np.ones((2, 1)), ["a", "b"])
    msg = message_of(lambda: read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype"))
    assert "column-name file" in msg and "p.columns.txt' beside it, which does not exist" in msg


def test_npy_sidecar_lengths_must_match_the_shape(tmp_path):
    save_npy(tmp_path / "k.npy", np.eye(3), ["a", "b"])
    msg = message_of(lambda: read_kinship(str(tmp_path / "k.npy"), id_column="id"))
    assert "has 3 rows but its id file" in msg and "k.ids.txt' lists 2 ids" in msg
    save_npy(tmp_path / "h.npy", np.eye(2), ["id", "a", "b"])
    msg = message_of(lambda: read_kinship(str(tmp_path / "h.npy"), id_column="id"))
    assert "lists 3 ids" in msg and "is 'id' a header?" in msg
    save_npy(tmp_path / "p.npy", np.ones((2, 3)), ["a", "b"], ["x", "y"])
    msg = message_of(lambda: read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype"))
    assert "has 3 columns but its column-name file" in msg and "p.columns.txt' lists 2 names" in msg


@pytest.mark.parametrize("array, words", [
    (np.ones(3), ["shape (3,)", "expected a 2-D matrix", "(n, 1)"]),
    (np.ones((2, 2, 2)), ["shape (2, 2, 2)"]),
    (np.array([["a", "b"], ["c", "d"]]), ["holds text", "not numbers"]),
    (np.ones((2, 2), dtype=bool), ["true/false"]),
    (np.ones((2, 2), dtype=complex), ["complex"]),
    (np.ones((0, 2)), ["no rows"]),
    (np.ones((2, 0)), ["no columns"]),
])
def test_npy_must_be_a_2d_numeric_matrix(tmp_path, array, words):
    np.save(tmp_path / "p.npy", array)
    msg = message_of(lambda: read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype"))
    assert "phenotype file" in msg and "p.npy" in msg
    for word in words:
        assert word in msg


def test_npy_object_array_or_garbage_is_not_readable(tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    assert "not a readable .npy file" in message_of(
        lambda: read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype"))
    (tmp_path / "k.npy").write_text("id,a\na,1\n")
    assert "not a readable .npy file" in message_of(lambda: read_kinship(str(tmp_path / "k.npy"), id_column="id"))


def test_npy_ids_and_names_get_the_csv_checks(tmp_path):
    save_npy(tmp_path / "p.npy", np.ones((3, 1)), ["a", "b", "a"], ["x"])
    msg = message_of(lambda: read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype"))
    assert "duplicated ids in its id file" in msg and "'a'" in msg
    save_npy(tmp_path / "q.npy", np.ones((3, 1)), ["a", "", "c"], ["x"])
    msg = message_of(lambda: read_table(str(tmp_path / "q.npy"), id_column="id", role="phenotype"))
    assert "rows without an id" in msg and "'2'" in msg
    save_npy(tmp_path / "r.npy", np.ones((2, 2)), ["a", "b"], ["x", "x"])
    assert "duplicated column names: 'x'" in message_of(
        lambda: read_table(str(tmp_path / "r.npy"), id_column="id", role="phenotype"))
    save_npy(tmp_path / "s.npy", np.ones((2, 2)), ["a", "b"], ["", "x"])
    assert "columns without a name" in message_of(
        lambda: read_table(str(tmp_path / "s.npy"), id_column="id", role="phenotype"))


def test_npy_column_names_are_used_exactly_as_written(tmp_path):
    save_npy(tmp_path / "p.npy", np.ones((2, 2)), ["a", "b"], ["NA", "bw"])
    assert read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype").columns.tolist() == ["NA", "bw"]
    save_npy(tmp_path / "q.npy", np.ones((2, 2)), ["a", "b"], ["x", "bw "])
    msg = message_of(lambda: read_table(str(tmp_path / "q.npy"), id_column="id", role="phenotype"))
    assert "column name with leading or trailing whitespace: 'bw ' (line 2 of '" in msg
    assert "q.columns.txt')" in msg


def test_parquet_column_names_are_never_stripped_or_blank(tmp_path):
    pytest.importorskip("pyarrow")
    path = str(tmp_path / "p.parquet")
    pd.DataFrame({"id": ["1", "2"], " bw": [1.0, 2.0]}).to_parquet(path, index=False)
    assert "column name with leading or trailing whitespace: ' bw' (column 2)" in message_of(
        lambda: read_table(path, id_column="id", role="phenotype"))
    pd.DataFrame({"id": ["1", "2"], "bw\nkg": [1.0, 2.0]}).to_parquet(path, index=False)
    assert "column name with a line break: 'bw\\nkg'" in message_of(
        lambda: read_table(path, id_column="id", role="phenotype"))
    pd.DataFrame({"id": ["1", "2"], "bw": [1.0, 2.0]}, index=[5, 6]).to_parquet(path)  # unnamed index kept
    msg = message_of(lambda: read_table(path, id_column="id", role="phenotype"))
    assert "column without a name (column 1)" in msg and "index=False" in msg


def test_npy_kinship_checks(tmp_path):
    save_npy(tmp_path / "k.npy", np.ones((3, 2)), ["a", "b", "c"])
    assert "not square: 3 rows and 2 columns." in message_of(
        lambda: read_kinship(str(tmp_path / "k.npy"), id_column="id"))
    K = np.eye(3)
    K[0, 2] = 0.4
    save_npy(tmp_path / "a.npy", K, ["a", "b", "c"])
    msg = message_of(lambda: read_kinship(str(tmp_path / "a.npy"), id_column="id"))
    assert "not symmetric" in msg and "K[a, c] = 0.4" in msg
    K = np.eye(2)
    K[1, 0] = np.nan
    save_npy(tmp_path / "n.npy", K, ["a", "b"])
    assert "missing or non-finite entries, at (row, column) (b, a)" in message_of(
        lambda: read_kinship(str(tmp_path / "n.npy"), id_column="id"))
    save_npy(tmp_path / "d.npy", np.eye(2), ["a", "a"])
    assert "duplicated ids" in message_of(lambda: read_kinship(str(tmp_path / "d.npy"), id_column="id"))


def test_npy_phenotype_nan_is_missing_and_inf_is_reported(tmp_path):
    from lmm.pipeline.clean import check_numeric

    save_npy(tmp_path / "p.npy", [[1.0, np.nan], [np.inf, 2.0]], ["a", "b"], ["x", "y"])
    frame = read_table(str(tmp_path / "p.npy"), id_column="id", role="phenotype")
    assert np.isnan(frame.at["a", "y"])
    msg = message_of(lambda: check_numeric(frame, ["x", "y"], role="phenotype", path="p.npy"))
    assert "infinite values in column 'x' at ids 'b'" in msg


def test_parquet_gets_the_csv_checks(tmp_path):
    pytest.importorskip("pyarrow")
    path = str(tmp_path / "p.parquet")
    pd.DataFrame({"id": ["1", "2", "1"], "a": [1.0, 2.0, 3.0]}).to_parquet(path, index=False)
    assert "duplicated ids in column 'id': '1'" in message_of(
        lambda: read_table(path, id_column="id", role="phenotype"))
    pd.DataFrame({"name": ["1", "2"], "a": [1.0, 2.0]}).to_parquet(path, index=False)
    assert "no id column 'id'" in message_of(lambda: read_table(path, id_column="id", role="phenotype"))
    pd.DataFrame({"id": ["1", None], "a": [1.0, 2.0]}).to_parquet(path, index=False)
    assert "rows without an id" in message_of(lambda: read_table(path, id_column="id", role="phenotype"))
    pd.DataFrame({"id": pd.Series([], dtype=str), "a": pd.Series([], dtype=float)}).to_parquet(path, index=False)
    assert "no rows" in message_of(lambda: read_table(path, id_column="id", role="phenotype"))
    pd.DataFrame({"id": ["a", "b"], "a": [1.0, 0.5], "b": [0.5, 1.0], "c": [0.0, 0.0]}).to_parquet(path, index=False)
    assert "not square: 2 rows and 3 columns" in message_of(lambda: read_kinship(path, id_column="id"))
    pd.DataFrame({"id": ["a", "b"], "a": [1.0, 0.5], "b": ["x", "1"]}).to_parquet(path, index=False)
    assert "non-numeric values in column 'b'" in message_of(lambda: read_kinship(path, id_column="id"))


def test_parquet_that_is_not_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "p.parquet").write_text("id,a\n1,2\n")
    msg = message_of(lambda: read_table(str(tmp_path / "p.parquet"), id_column="id", role="phenotype"))
    assert "not a readable Parquet file" in msg


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "p.parquet").write_bytes(b"PAR1")
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    monkeypatch.setattr("importlib.import_module", lambda name, *a: no_pyarrow(name))
    msg = message_of(lambda: read_table(str(tmp_path / "p.parquet"), id_column="id", role="phenotype"))
    assert "needs the Python package pyarrow" in msg and "pip install 'lmm-pipeline[parquet]'" in msg


def test_missing_binary_file(tmp_path):
    assert "does not exist" in message_of(lambda: read_kinship(str(tmp_path / "k.npy"), id_column="id"))
    assert "does not exist" in message_of(
        lambda: read_table(str(tmp_path / "p.parquet"), id_column="id", role="phenotype"))


# --- through the workflow ----------------------------------------------------------------------

def convert_recla(data: Path, fmt: str) -> dict[str, str]:
    """recla's three CSV files as `fmt` files in `data`; the config overrides naming them."""
    kin_ids, K = read_kinship(str(RECLA / "kinship.csv"), id_column="id")
    tables = {role: read_table(str(RECLA / f"{name}.csv"), id_column="id", role=role)
              for role, name in (("phenotype", "pheno"), ("covariate", "covar"))}
    paths = {}
    if fmt == "npy":
        paths["kinship"] = save_npy(data / "kinship.npy", K, kin_ids)
        for key, role in (("phenotypes", "phenotype"), ("covariates", "covariate")):
            frame = tables[role]
            paths[key] = save_npy(data / f"{key}.npy", frame.to_numpy(), frame.index, frame.columns)
    else:
        paths["kinship"] = save_parquet(data / "kinship.parquet", pd.DataFrame(K, index=kin_ids, columns=kin_ids))
        for key, role in (("phenotypes", "phenotype"), ("covariates", "covariate")):
            paths[key] = save_parquet(data / f"{key}.parquet", tables[role])
    return {key: str(path.relative_to(data.parent.parent)) for key, path in paths.items()}


@pytest.fixture(scope="module")
def csv_results(tmp_path_factory):
    workdir = make_project(tmp_path_factory.mktemp("csv") / "project")
    run_snakemake(workdir, "--cores", "2", check=True)
    return {name: (workdir / "results" / name).read_bytes()
            for name in ("heritability.tsv", "profile_loglik.tsv")}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_recla_in_binary_format_gives_byte_identical_results(csv_results, tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    workdir = make_project(tmp_path / "project")
    (workdir / "data" / fmt).mkdir()
    paths = convert_recla(workdir / "data" / fmt, fmt)
    overrides = [f"{key}={path}" for key, path in paths.items()]
    proc = run_snakemake(workdir, "--cores", "2", "--config", *overrides, check=True)
    for name, data in csv_results.items():
        assert (workdir / "results" / name).read_bytes() == data, name
    prov = (workdir / "results" / "provenance.yaml").read_text()
    assert f"data/{fmt}/kinship.{fmt}" in prov
    if fmt == "npy":
        assert "kinship_ids:" in prov and "phenotypes_columns:" in prov
        # a sidecar is an input: editing it (renaming a phenotype) reruns the load stage
        names = workdir / "data" / "npy" / "phenotypes.columns.txt"
        names.write_text(names.read_text().replace("bw", "body_weight"))
        proc = run_snakemake(workdir, "--cores", "2", "-n", "--config", *overrides, check=True)
        assert re.search(r"load_and_clean\s+1", proc.output), proc.output[-3000:]


@pytest.mark.slow
def test_workflow_says_which_sidecar_is_missing(tmp_path):
    workdir = make_project(tmp_path / "project")
    data = workdir / "data" / "npy"
    data.mkdir()
    save_npy(data / "kinship.npy", np.eye(2), ["a", "b"])
    (data / "kinship.ids.txt").unlink()
    proc = run_snakemake(workdir, "--cores", "1", "-n", "--config", "kinship=data/npy/kinship.npy")
    assert proc.returncode != 0
    assert "config 'kinship': the .npy file 'data/npy/kinship.npy' holds no ids" in proc.output
    assert "data/npy/kinship.ids.txt" in proc.output
    shutil.rmtree(data)

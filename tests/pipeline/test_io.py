"""Reading and validating the input tables (lmm.pipeline.io): one test per bad input, and the good paths."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from lmm.errors import InputError
from lmm.pipeline.io import describe_ids, read_kinship, read_table


def write(path, text, mode="w"):
    with open(path, mode) as handle:
        handle.write(text)
    return str(path)


def test_read_table_keeps_ids_as_text_in_file_order(tmp_path):
    path = write(tmp_path / "p.csv", "id,a,b\n007,1.5,NA\n7,2,3\n10,,4\n")
    frame = read_table(path, id_column="id", role="phenotype")
    assert frame.index.tolist() == ["007", "7", "10"]
    assert frame.columns.tolist() == ["a", "b"]
    assert frame["a"].tolist()[:2] == [1.5, 2.0] and np.isnan(frame.at["10", "a"])
    assert np.isnan(frame.at["007", "b"])
    assert frame.dtypes.eq(np.float64).all()


def test_read_table_tsv_and_gzip(tmp_path):
    path = tmp_path / "p.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("id\tx\nA\t1\nB\t2\n")
    frame = read_table(str(path), id_column="id", role="phenotype")
    assert frame.index.tolist() == ["A", "B"] and frame["x"].tolist() == [1.0, 2.0]


def test_na_values_are_configurable(tmp_path):
    path = write(tmp_path / "p.csv", "id,a\n1,-999\n2,3\n")
    frame = read_table(path, id_column="id", role="phenotype", na_values=["-999"])
    assert np.isnan(frame.at["1", "a"]) and frame.at["2", "a"] == 3


@pytest.mark.parametrize(
    "content, words",
    [
        (None, ["does not exist", "p.csv"]),
        ("", ["is empty"]),
        ("\n\n", ["is empty"]),
        ("id,a\n", ["no rows"]),
        ("id;a;b\n1;2;3\n", ["semicolon", "comma-separated"]),
        ("id\ta\n1\t2\n", ["tab", "comma-separated"]),
        ("name,a\n1,2\n", ["no id column 'id'", "'name', 'a'"]),
        ("id,a,a\n1,2,3\n", ["duplicated column names", "'a'"]),
        ("id,a\n1,2\n2,3\n1,4\n", ["duplicated ids", "'1'"]),
        ("id,a\n1,2\n,3\n", ["without an id", "line"]),
        ("id,a\n1,2\n2,3,4,5\n", ["more fields than its header in line 3", "4 fields", "2 columns"]),
        ("onlyone\n1\n", ["single column"]),
    ],
)
def test_bad_tables_get_one_clear_message(tmp_path, content, words):
    path = tmp_path / "p.csv"
    if content is not None:
        write(path, content)
    with pytest.raises(InputError) as info:
        read_table(str(path), id_column="id", role="phenotype")
    message = str(info.value)
    assert "phenotype file" in message
    for word in words:
        assert word in message


def test_binary_file_is_not_a_table(tmp_path):
    path = tmp_path / "k.csv"
    np.save(path.with_suffix(".npy"), np.eye(3))
    path.write_bytes(path.with_suffix(".npy").read_bytes())
    with pytest.raises(InputError, match="kinship file .* is not a readable text table .*UnicodeDecodeError"):
        read_table(str(path), id_column="id", role="kinship")


# --- rows longer than the header: pandas would shift every column (issue 9, section 2) -----------

def test_every_row_ending_with_a_comma_is_an_error_not_a_shifted_table(tmp_path):
    """The issue's file: read as ids from 'alt_id' and values of the column to the right, exit 0."""
    path = write(tmp_path / "pheno.csv", "id,alt_id,bw,HP_latency\n1,a1,10,5,\n2,a2,11,6,\n3,a3,12,7,\n")
    with pytest.raises(InputError) as info:
        read_table(path, id_column="id", role="phenotype")
    message = str(info.value)
    assert f"The phenotype file '{path}' has more fields than its header in line 2: 5 fields" in message
    assert "the header names 4 columns" in message and "remove the trailing separators" in message


@pytest.mark.parametrize("name", ["p.tsv", "p.tsv.gz", "p.txt"])
def test_longer_rows_are_an_error_in_tab_separated_and_gzipped_files(tmp_path, name):
    text = "id\ta\tb\n1\t2\t3\n2\t3\t4\t\n"
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    with pytest.raises(InputError, match=r"more fields than its header in line 3: 4 fields, but the header names 3"):
        read_table(str(path), id_column="id", role="covariate")


def test_a_longer_row_after_blank_lines_and_a_multi_line_cell_is_found_on_its_file_line(tmp_path):
    path = write(tmp_path / "p.csv", 'id,a,note\n\n1,2,"two\nlines"\n2,3,x\n3,4,y,extra\n')
    with pytest.raises(InputError, match="in line 6: 4 fields"):
        read_table(path, id_column="id", role="phenotype")


def test_a_kinship_with_trailing_commas_is_an_error(tmp_path):
    path = write(tmp_path / "k.csv", "id,a,b\na,1,0.5,\nb,0.5,1,\n")
    with pytest.raises(InputError, match="kinship file .* more fields than its header in line 2"):
        read_kinship(path, id_column="id")


def test_shorter_rows_are_still_read_as_missing_values(tmp_path):
    frame = read_table(write(tmp_path / "p.csv", "id,a,b\n1,2\n2,3,4\n"), id_column="id", role="phenotype")
    assert np.isnan(frame.at["1", "b"]) and frame.at["2", "b"] == 4


# --- column names: never blank, never changed (issue 9, sections 2 and 6) ------------------------

def test_a_table_written_by_r_write_csv_is_rejected_with_a_hint_about_row_names(tmp_path):
    path = write(tmp_path / "p.csv", '"","id","bw"\n"1","a",1.5\n"2","b",2.5\n')
    with pytest.raises(InputError) as info:
        read_table(path, id_column="id", role="phenotype")
    message = str(info.value)
    assert f"The phenotype file '{path}' has a column without a name (column 1)" in message
    assert "write.csv(..., row.names = FALSE)" in message


def test_a_kinship_written_by_r_write_csv_with_an_id_column_is_rejected(tmp_path):
    path = write(tmp_path / "k.csv", '"","id","a","b"\n"1","a",1,0.5\n"2","b",0.5,1\n')
    with pytest.raises(InputError, match=r"column without a name \(column 1\).*row.names = FALSE"):
        read_kinship(path, id_column="id")


@pytest.mark.parametrize("header, where", [("id,bw,,x", "(column 3)"), ("id,,bw,", "(columns 2, 4)")])
def test_blank_column_names_anywhere_are_rejected(tmp_path, header, where):
    path = write(tmp_path / "p.csv", header + "\n" + ",".join(str(k) for k in range(header.count(",") + 1)) + "\n")
    with pytest.raises(InputError) as info:
        read_table(path, id_column="id", role="phenotype")
    assert "without a name " + where in str(info.value) and "Every column needs a name" in str(info.value)


def test_column_names_that_look_like_missing_values_are_kept_as_names(tmp_path):
    path = write(tmp_path / "p.csv", "id,NA,nan,NULL,bw\n1,1,2,3,4\n2,NA,3,4,5\n")
    frame = read_table(path, id_column="id", role="phenotype")
    assert frame.columns.tolist() == ["NA", "nan", "NULL", "bw"]
    assert np.isnan(frame.at["2", "NA"])  # the cell NA is missing; the name NA is a name


@pytest.mark.parametrize(
    "header, shown, problem",
    [('id,"bw\nkg",x', "'bw\\nkg' (column 2)", "a line break"),
     ('id,"bw\r\nkg",x', "'bw\\r\\nkg' (column 2)", "a line break"),
     ('id,"bw\tkg",x', "'bw\\tkg' (column 2)", "a tab"),
     ("id,bw ,x", "'bw ' (column 2)", "leading or trailing whitespace"),
     ("id, bw,x", "' bw' (column 2)", "leading or trailing whitespace")],
)
def test_column_names_are_never_cut_or_stripped_but_rejected(tmp_path, header, shown, problem):
    path = write(tmp_path / "p.csv", header + "\n1,2,3\n2,3,4\n")
    with pytest.raises(InputError) as info:
        read_table(path, id_column="id", role="phenotype")
    assert f"has a column name with {problem}: {shown}" in str(info.value)


def test_results_are_read_back_with_a_phenotype_named_na_kept_and_plotted(tmp_path):
    """A phenotype named 'NA' crashed plot_profiles (KeyError: nan) once the table was read back."""
    from lmm.pipeline.io import read_results
    from lmm.pipeline.plots import plot_heritability, plot_profiles

    table_path = write(tmp_path / "heritability.tsv",
                       "phenotype\tstatus\tbatch\thsq\thsq_ci_lower\thsq_ci_upper\tloglik\tboundary\n"
                       "NA\tok\tb001\t0.5\t0.1\t0.9\t-3\tnone\n"
                       "bw\tall_missing\tNA\tNA\tNA\tNA\tNA\tNA\n")
    profile_path = write(tmp_path / "profile.tsv", "phenotype\thsq\tloglik\nNA\t0\t-4\nNA\t0.5\t-3\nNA\t1\tNA\n")
    table, profile = read_results(table_path), read_results(profile_path)
    assert table["phenotype"].tolist() == ["NA", "bw"] and profile["phenotype"].eq("NA").all()
    assert table["batch"].isna().tolist() == [False, True] and np.isnan(table.at[1, "hsq"])
    assert np.isnan(profile.at[2, "loglik"])
    figure = plot_profiles(profile, table)
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["NA"]
    plot_heritability(table)
    # a name already lost to NA parsing is reported plainly, not as KeyError: nan
    lost = profile.assign(phenotype=np.nan)
    with pytest.raises(ValueError, match="phenotype named 'NA' was read as missing.*read_results"):
        plot_profiles(lost, table)


def kinship_csv(tmp_path, K, ids, col_ids=None, name="k.csv"):
    frame = pd.DataFrame(K, index=ids, columns=col_ids if col_ids is not None else ids)
    path = tmp_path / name
    frame.to_csv(path, index_label="id", float_format="%.17g")
    return str(path)


def test_kinship_columns_are_matched_to_rows_by_id(tmp_path):
    K = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.3], [0.1, 0.3, 1.0]])
    ids = ["a", "b", "c"]
    perm = [2, 0, 1]
    shuffled = K[:, perm]
    path = kinship_csv(tmp_path, shuffled, ids, [ids[j] for j in perm])
    got_ids, got = read_kinship(path, id_column="id")
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(got, K)


def test_kinship_with_unnamed_first_column(tmp_path):
    path = write(tmp_path / "k.csv", ',"x","y"\n"x",1,0.5\n"y",0.5,1\n')
    ids, K = read_kinship(path, id_column="id")
    assert ids.tolist() == ["x", "y"] and K[0, 1] == 0.5


def test_kinship_not_square(tmp_path):
    path = kinship_csv(tmp_path, np.ones((3, 2)), ["a", "b", "c"], ["a", "b"])
    with pytest.raises(InputError, match="not square: 3 rows and 2 columns"):
        read_kinship(path, id_column="id")


def test_kinship_row_ids_differ_from_column_ids(tmp_path):
    path = kinship_csv(tmp_path, np.eye(3), ["a", "b", "c"], ["a", "b", "d"])
    with pytest.raises(InputError) as info:
        read_kinship(path, id_column="id")
    assert "rows only 'c'" in str(info.value) and "columns only 'd'" in str(info.value)


def test_kinship_not_symmetric_says_by_how_much(tmp_path):
    K = np.eye(3)
    K[0, 2] = 0.4
    path = kinship_csv(tmp_path, K, ["a", "b", "c"])
    with pytest.raises(InputError) as info:
        read_kinship(path, id_column="id")
    message = str(info.value)
    assert "not symmetric" in message and "K[a, c] = 0.4" in message and "largest difference 0.4" in message


def test_kinship_round_off_asymmetry_is_accepted_and_symmetrised(tmp_path):
    K = np.array([[1.0, 0.5], [0.5 + 1e-12, 1.0]])
    _, got = read_kinship(kinship_csv(tmp_path, K, ["a", "b"]), id_column="id")
    assert got[0, 1] == got[1, 0]


@pytest.mark.parametrize("bad, words", [("NA", ["missing or non-finite", "(b, a)"]),
                                        ("inf", ["non-finite"]),
                                        ("x", ["non-numeric", "column 'a'"])])
def test_kinship_non_finite_or_non_numeric(tmp_path, bad, words):
    path = write(tmp_path / "k.csv", f"id,a,b\na,1,0.5\nb,{bad},1\n")
    with pytest.raises(InputError) as info:
        read_kinship(path, id_column="id")
    for word in words:
        assert word in str(info.value)


def test_describe_ids_shows_first_few_and_count():
    assert describe_ids(["a"]) == "'a'"
    assert describe_ids([str(i) for i in range(12)], limit=3) == "'0', '1', '2' and 9 more (12 in all)"


def test_header_longer_than_one_read_is_read_whole(tmp_path):
    """A kinship of many individuals has a header line longer than the first read of the file."""
    from lmm.pipeline import io, io_text

    n = 9000  # ~110 KB of header, more than io_text._HEAD_CHARS
    ids = [f"individual{i:05d}" for i in range(n)]
    path = tmp_path / "wide.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(["id", *ids]) + "\n")
        for i in range(3):
            fh.write(",".join([ids[i], *("1" if j == i else "0" for j in range(n))]) + "\n")
    assert len(",".join(["id", *ids])) > io_text._HEAD_CHARS
    table = io.read_table(str(path), id_column="id", role="phenotype")
    assert table.shape == (3, n)
    assert list(table.columns[-2:]) == ids[-2:]


def _truncated_gz(path, text: str, keep: float = 0.6) -> str:
    """`text` gzip-compressed into `path`, cut after `keep` of its bytes (as an interrupted copy)."""
    data = gzip.compress(text.encode())
    path.write_bytes(data[: int(len(data) * keep)])
    return str(path)


def _kinship_text(n: int) -> str:
    ids = [f"i{k:04d}" for k in range(n)]
    rows = [",".join([i, *("1" if j == k else "0.125" for j in range(n))]) for k, i in enumerate(ids)]
    return ",".join(["id", *ids]) + "\n" + "\n".join(rows) + "\n"


def _phenotype_text(n: int) -> str:
    rng = np.random.default_rng(1)
    return "id,a,b\n" + "".join(f"i{k:05d},{rng.normal():.17g},{rng.normal():.17g}\n" for k in range(n))


@pytest.mark.parametrize("size", ["small", "large"])  # cut within the first read, or far after it
@pytest.mark.parametrize("role", ["phenotype", "kinship"])
def test_truncated_gzip_is_an_input_error_naming_the_file(tmp_path, role, size):
    n = {"small": 20, "large": 400 if role == "kinship" else 40_000}[size]
    text = _kinship_text(n) if role == "kinship" else _phenotype_text(n)
    path = _truncated_gz(tmp_path / f"{role}.csv.gz", text, keep=0.5 if size == "small" else 0.9)
    with pytest.raises(InputError) as info:
        if role == "kinship":
            read_kinship(path, id_column="id")
        else:
            read_table(path, id_column="id", role="phenotype")
    assert f"The {role} file '{path}' is truncated or not a valid gzip file" in str(info.value)


@pytest.mark.parametrize("damage", ["not_gzip", "corrupt"])
def test_damaged_gzip_is_an_input_error_naming_the_file(tmp_path, damage):
    data = gzip.compress(_phenotype_text(2000).encode())
    if damage == "not_gzip":
        data = _phenotype_text(20).encode()
    else:  # flip bytes in the middle of the deflate stream
        middle = len(data) // 2
        data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]
    path = tmp_path / "p.csv.gz"
    path.write_bytes(data)
    with pytest.raises(InputError, match="is truncated or not a valid gzip file"):
        read_table(str(path), id_column="id", role="phenotype")

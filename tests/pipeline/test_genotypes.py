"""Genotype inputs (lmm.pipeline.genotypes) and their intermediate (lmm.pipeline.genotype_store).

Small seeded genotypes are written as PLINK (with bed-reader), BIMBAM and tables in tmp_path;
each format is read, the equivalences between formats, orders and splits are checked byte for
byte, and each bad input gives an InputError naming the file and the marker or id.
(No BLAS products here; the threads are pinned all the same.)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmm.errors import InputError
from lmm.pipeline.genotype_store import open_intermediate, write_intermediate
from lmm.pipeline.genotypes import (
    PROBABILITY_SUM_TOLERANCE,
    chromosome_sort_key,
    match_ids,
    read_genotypes,
)

bed_reader = pytest.importorskip("bed_reader")

RECLA_GENO = Path(__file__).resolve().parents[2] / "data" / "recla" / "genotypes"
for candidate in (Path(__file__).resolve().parents[2] / "data" / "recla" / "genotypes",
                  Path(__file__).resolve().parents[3] / "shared" / "data" / "recla" / "genotypes"):
    if (candidate / "recla_alleleprobs.csv.gz").exists():
        RECLA_GENO = candidate
        break


# ---------------------------------------------------------------------------------------------
# data and writers
# ---------------------------------------------------------------------------------------------

def make_data(seed: int = 7, n: int = 23, q: int = 40):
    """Dosages (n, q) with a few missing values, ids, and a marker table on 1, 2, 10, X."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.9, size=q)
    G = rng.binomial(2, freq, size=(n, q)).astype(float)
    G[rng.random((n, q)) < 0.01] = np.nan
    ids = np.array([f"s{k:03d}" for k in range(n)], dtype=object)
    chrs = np.array(["1"] * 12 + ["2"] * 10 + ["10"] * 10 + ["X"] * (q - 32))
    pos = np.concatenate([np.sort(rng.choice(10_000_000, size=(chrs == c).sum(), replace=False)) + 1
                          for c in ("1", "2", "10", "X")]).astype(float)
    markers = pd.DataFrame({"marker": [f"rs{1000 + k}" for k in range(q)], "chr": chrs, "pos": pos,
                            "a1": rng.choice(list("ACGT"), size=q), "a2": "N"})
    return G, ids, markers


def write_plink(prefix: Path, G, ids, markers) -> Path:
    bed = Path(str(prefix) + ".bed")
    bed_reader.to_bed(bed, G.astype(np.float32), properties={
        "fid": ids, "iid": ids, "sid": markers["marker"].to_numpy(), "chromosome": markers["chr"].to_numpy(),
        "bp_position": markers["pos"].to_numpy().astype(int), "allele_1": markers["a1"].to_numpy(),
        "allele_2": markers["a2"].to_numpy(),
    }, count_A1=True)
    return bed


def write_bimbam(path: Path, G, ids, markers, sep=", ") -> tuple[Path, Path, Path]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as handle:
        for j, row in markers.reset_index(drop=True).iterrows():
            values = ["NA" if np.isnan(v) else f"{v:g}" for v in G[:, j]]
            handle.write(sep.join([row["marker"], row["a1"], row["a2"], *values]) + "\n")
    annotation = path.parent / "anno.txt"
    annotation.write_text("".join(f"{m}, {int(p)}, {c}\n" for m, p, c in zip(markers["marker"], markers["pos"], markers["chr"])))
    id_file = path.parent / "ids.txt"
    id_file.write_text("".join(f"{i}\n" for i in ids))
    return path, annotation, id_file


def write_map(path: Path, markers) -> Path:
    frame = pd.DataFrame({"marker": markers["marker"], "chr": markers["chr"], "pos": markers["pos"].astype(int),
                          "pos_cM": markers["pos"] / 1e6})
    frame.to_csv(path, index=False)
    return path


def write_table(path: Path, G, ids, columns) -> Path:
    frame = pd.DataFrame(G, columns=list(columns))
    frame.insert(0, "id", list(ids))
    if str(path).endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if ".tsv" in str(path) else ",", na_rep="NA", float_format="%.17g")
    return path


def intermediate(tmp_path: Path, name: str, source, keep, **kwargs):
    out = tmp_path / name
    summary = write_intermediate(source, keep, out, **kwargs)
    return summary, open_intermediate(out), (out / "genotypes.npy").read_bytes()


def expected_matrix(G, ids, markers, keep, max_missing=0.05):
    """The intermediate computed directly: rows in `keep` order, mean-imputed, genome order."""
    rows = [list(ids).index(i) for i in keep if i in set(ids)]
    sub = G[rows]
    order = sorted(range(len(markers)), key=lambda j: (chromosome_sort_key(markers["chr"].iat[j]), markers["pos"].iat[j],
                                                       markers["marker"].iat[j]))
    cols = []
    for j in order:
        x = sub[:, j]
        miss = np.isnan(x)
        if miss.mean() > max_missing or np.nanmax(x) == np.nanmin(x):
            continue
        cols.append(np.where(miss, np.nanmean(x), x))
    return np.array(cols)


# ---------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------

def test_plink_dosage_counts_a1_and_matches_direct_computation(tmp_path):
    G, ids, markers = make_data()
    bed = write_plink(tmp_path / "geno", G, ids, markers)
    source = read_genotypes(bed)
    assert source.format == "plink" and source.kind == "dosages" and source.n_alleles == 1
    assert "A1" in source.dosage_allele
    assert list(source.ids) == list(ids)
    # the .bim's 5th column is the counted allele
    bim = pd.read_csv(tmp_path / "geno.bim", sep="\t", header=None)
    assert list(bim[4]) == list(markers["a1"])
    by_name = source.markers.set_index("marker")
    assert by_name.loc["rs1000", "allele"] == markers["a1"].iat[0]
    keep = list(ids[::-1])
    summary, store, _ = intermediate(tmp_path, "out", source, keep, max_marker_missing=0.2)
    np.testing.assert_array_equal(store.genotypes, expected_matrix(G, ids, markers, keep, 0.2))
    assert list(store.ids) == keep
    assert store.kind == "dosages" and store.chromosomes == ["1", "2", "10", "X"]
    assert summary["n"] == len(ids) and summary["n_markers_read"] == G.shape[1]
    # the prefix works as well as the .bed
    assert len(read_genotypes(tmp_path / "geno", "plink").markers) == G.shape[1]


def test_plink_vs_bimbam_vs_tables_identical(tmp_path):
    G, ids, markers = make_data()
    keep = [ids[k] for k in (5, 0, 3, 9, 1, 2, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22)]
    keep = keep[:-2] + ["not_genotyped_1"]
    outputs = {}
    bed = write_plink(tmp_path / "geno", G, ids, markers)
    outputs["plink"] = intermediate(tmp_path, "plink", read_genotypes(bed), keep)
    (tmp_path / "bb").mkdir()
    geno, anno, id_file = write_bimbam(tmp_path / "bb" / "mean.txt.gz", G, ids, markers)
    outputs["bimbam"] = intermediate(tmp_path, "bimbam",
                                     read_genotypes(geno, "bimbam", map_path=anno, ids_path=id_file), keep)
    (tmp_path / "bbw").mkdir()
    geno, anno, id_file = write_bimbam(tmp_path / "bbw" / "mean.txt", G, ids, markers, sep="\t")
    outputs["bimbam_tabs"] = intermediate(tmp_path, "bimbam_tabs",
                                          read_genotypes(geno, "bimbam", map_path=anno, ids_path=id_file), keep)
    gmap = write_map(tmp_path / "map.csv", markers)
    for name in ("g.csv", "g.tsv.gz", "g.parquet"):
        path = write_table(tmp_path / name, G, ids, markers["marker"])
        outputs[name] = intermediate(tmp_path, "out_" + name, read_genotypes(path, map_path=gmap, map_position="pos"), keep)
    ref_summary, ref_store, ref_bytes = outputs["plink"]
    assert ref_summary["ids_not_genotyped"] == ["not_genotyped_1"]
    assert ref_summary["ids_not_in_analysis"] == [ids[21], ids[22]]
    for name, (summary, store, raw) in outputs.items():
        assert raw == ref_bytes, name
        assert list(store.ids) == list(ref_store.ids), name
        pd.testing.assert_frame_equal(store.markers[["marker", "chr", "pos", "first_column", "missing_fraction"]],
                                      ref_store.markers[["marker", "chr", "pos", "first_column", "missing_fraction"]])
        assert summary["markers_dropped"] == ref_summary["markers_dropped"], name
        assert summary["n_imputed"] == ref_summary["n_imputed"], name


def test_same_data_other_orders_and_split_files_identical(tmp_path):
    G, ids, markers = make_data(seed=3)
    gmap = write_map(tmp_path / "map.csv", markers)
    keep = list(ids)
    _, _, reference = intermediate(tmp_path, "ref", read_genotypes(write_table(tmp_path / "a.csv", G, ids, markers["marker"]),
                                                                   map_path=gmap), keep)
    rng = np.random.default_rng(1)
    rows, cols = rng.permutation(len(ids)), rng.permutation(G.shape[1])
    shuffled = write_table(tmp_path / "b.csv", G[rows][:, cols], ids[rows], markers["marker"].to_numpy()[cols])
    assert intermediate(tmp_path, "shuffled", read_genotypes(shuffled, map_path=gmap), keep)[2] == reference
    # one file per chromosome (each with the individuals in its own order)
    files = []
    for c in ("X", "2", "1", "10"):
        sel = np.flatnonzero(markers["chr"].to_numpy() == c)
        order = rng.permutation(len(ids))
        files.append(write_table(tmp_path / f"chr{c}.csv", G[order][:, sel], ids[order], markers["marker"].to_numpy()[sel]))
    assert intermediate(tmp_path, "split", read_genotypes(files, map_path=gmap), keep)[2] == reference
    # PLINK split by chromosome, too
    beds = []
    for c in ("1", "2", "10", "X"):
        sel = markers["chr"].to_numpy() == c
        beds.append(write_plink(tmp_path / f"p{c}", G[:, sel], ids, markers[sel]))
    assert intermediate(tmp_path, "plink_split", read_genotypes(beds), keep)[2] == reference


def test_chunked_write_and_blocks_equal_full(tmp_path):
    G, ids, markers = make_data(seed=11, n=31, q=60)
    bed = write_plink(tmp_path / "g", G, ids, markers)
    source = read_genotypes(bed)
    _, store, full = intermediate(tmp_path, "full", source, None)
    _, _, chunked = intermediate(tmp_path, "chunked", source, None, chunk_bytes=8 * 31 * 3)  # 3 markers a chunk
    assert chunked == full
    whole = np.asarray(next(store.iter_blocks()))
    assert whole.shape == (31, store.genotypes.shape[0])
    for c in store.chromosomes:
        blocks = list(store.iter_blocks(c, max_columns=4))
        assert all(b.shape[1] <= 4 and b.shape[0] == 31 for b in blocks)
        np.testing.assert_array_equal(np.hstack(blocks), whole[:, store.columns(c)])
    np.testing.assert_array_equal(np.hstack([np.hstack(list(store.iter_blocks(c, 5))) for c in store.chromosomes]), whole)


def test_float32_storage(tmp_path):
    G, ids, markers = make_data()
    source = read_genotypes(write_plink(tmp_path / "g", G, ids, markers))
    _, store64, _ = intermediate(tmp_path, "f64", source, None)
    _, store32, _ = intermediate(tmp_path, "f32", source, None, dtype="float32")
    assert store32.genotypes.dtype == np.float32
    np.testing.assert_array_equal(store32.genotypes, store64.genotypes.astype(np.float32))


# ---------------------------------------------------------------------------------------------
# imputation and filters
# ---------------------------------------------------------------------------------------------

def test_imputation_missing_and_monomorphic_filters_counted(tmp_path):
    n = 40
    rng = np.random.default_rng(5)
    G = rng.binomial(2, 0.4, size=(n, 6)).astype(float)
    G[:, 0] = rng.binomial(2, 0.5, size=n)
    G[[3], 0] = np.nan                      # 1/40 = 2.5 % missing: kept, imputed
    G[[1, 2, 3], 1] = np.nan                # 3/40 = 7.5 %: dropped (missing)
    G[:, 2] = 1.0                            # monomorphic
    G[:, 3] = 2.0
    G[[0, 5], 3] = np.nan                    # monomorphic with 5 % missing: kept by missing, dropped monomorphic
    G[:, 4] = np.nan                         # all missing
    G[0, 5] = 0.0
    ids = np.array([f"i{k}" for k in range(n)], dtype=object)
    markers = pd.DataFrame({"marker": [f"m{k}" for k in range(6)], "chr": "1", "pos": np.arange(6.0)})
    gmap = write_map(tmp_path / "map.csv", markers)
    source = read_genotypes(write_table(tmp_path / "g.csv", G, ids, markers["marker"]), map_path=gmap)
    summary, store, _ = intermediate(tmp_path, "out", source, list(ids))
    assert summary["markers_dropped"] == {"missing": 2, "monomorphic": 2}
    assert summary["n_markers"] == 2 and summary["n_imputed"] == 1
    assert list(store.markers["marker"]) == ["m0", "m5"]
    x = G[:, 0]
    assert store.genotypes[0, 3] == np.nanmean(x)
    assert store.markers["missing_fraction"].iat[0] == 1 / 40
    dropped = pd.read_csv(tmp_path / "out" / "dropped_markers.tsv", sep="\t")
    assert dict(zip(dropped["marker"], dropped["reason"])) == {"m1": "missing", "m2": "monomorphic",
                                                               "m3": "monomorphic", "m4": "missing"}
    # a looser threshold keeps m1; a stricter one drops m0
    assert write_intermediate(source, list(ids), tmp_path / "loose", max_marker_missing=0.1)["n_markers"] == 3
    assert write_intermediate(source, list(ids), tmp_path / "strict", max_marker_missing=0.0)["n_markers"] == 1
    # missingness counts among the kept individuals only: without i1..i3, m0 and m1 are complete
    # and m3 misses 2 of 37 (5.4 %)
    keep = [i for i in ids if i not in ("i1", "i2", "i3")]
    s = write_intermediate(source, keep, tmp_path / "subset")
    assert s["markers_dropped"] == {"missing": 2, "monomorphic": 1} and s["n_imputed"] == 0
    ids_file = pd.read_csv(tmp_path / "subset" / "dropped_ids.tsv", sep="\t")
    assert ids_file.to_dict("list") == {"id": ["i1", "i2", "i3"], "reason": ["not_in_analysis"] * 3}


def probabilities(rng, n, q, alleles="ABCD"):
    raw = rng.dirichlet(np.full(len(alleles), 0.3), size=(n, q))
    return np.round(raw, 6)


def test_probability_table_imputation_and_monomorphic(tmp_path):
    rng = np.random.default_rng(9)
    n, q, alleles = 30, 5, "ABCD"
    P = probabilities(rng, n, q, alleles)
    P[:, 4, :] = [0.25, 0.25, 0.25, 0.25]        # monomorphic in every allele
    P[2, 0, 1] = np.nan                          # one allele missing: the individual misses marker m0
    ids = np.array([f"d{k}" for k in range(n)], dtype=object)
    cols = [f"m{j}:{a}" for j in range(q) for a in alleles]
    markers = pd.DataFrame({"marker": [f"m{j}" for j in range(q)], "chr": ["2", "2", "1", "1", "1"],
                            "pos": [5.0, 1.0, 3.0, 2.0, 1.5]})
    gmap = write_map(tmp_path / "map.csv", markers)
    source = read_genotypes(write_table(tmp_path / "p.csv.gz", P.reshape(n, -1), ids, cols), map_path=gmap)
    assert source.kind == "probabilities" and source.alleles == tuple(alleles) and source.n_alleles == 4
    summary, store, _ = intermediate(tmp_path, "out", source, list(ids))
    assert summary["markers_dropped"] == {"missing": 0, "monomorphic": 1}
    assert list(store.markers["marker"]) == ["m3", "m2", "m1", "m0"]
    assert list(store.markers["first_column"]) == [0, 4, 8, 12] and store.n_alleles == 4
    m0 = store.genotypes[12:16]
    complete = np.delete(P[:, 0, :], 2, axis=0)
    np.testing.assert_allclose(m0[:, 2], complete.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(np.delete(m0, 2, axis=1), complete.T)
    assert abs(m0[:, 2].sum() - 1) < 1e-5
    assert summary["n_imputed"] == 1
    blocks = list(store.iter_blocks("1", max_columns=6))
    assert [b.shape[1] for b in blocks] == [4, 4]     # whole markers only


def test_split_on_last_colon_and_dosage_names_with_colons(tmp_path):
    G, ids, markers = make_data(q=34)
    markers["marker"] = [f"{c}:{int(p)}" for c, p in zip(markers["chr"], markers["pos"])]
    gmap = write_map(tmp_path / "map.csv", markers)
    source = read_genotypes(write_table(tmp_path / "g.csv", G, ids, markers["marker"]), map_path=gmap)
    assert source.kind == "dosages" and set(source.markers["marker"]) == set(markers["marker"])


def test_match_ids_and_map_position(tmp_path):
    m = match_ids(["a", "b", "c"], ["c", "x", "a"])
    assert (m.kept, m.not_genotyped, m.not_in_analysis) == (["c", "a"], ["x"], ["b"])
    G, ids, markers = make_data()
    gmap = write_map(tmp_path / "map.csv", markers)
    table = write_table(tmp_path / "g.csv", G, ids, markers["marker"])
    cm = read_genotypes(table, map_path=gmap, map_position="pos_cM")
    assert cm.map_position == "pos_cM"
    np.testing.assert_allclose(cm.markers["pos"], read_genotypes(table, map_path=gmap).markers["pos"] / 1e6)
    with pytest.raises(InputError, match="several position columns"):
        pd.read_csv(gmap).rename(columns={"pos": "pos_bp"}).to_csv(tmp_path / "map2.csv", index=False)
        read_genotypes(table, map_path=tmp_path / "map2.csv")


def test_chromosome_order():
    names = ["X", "10", "2", "MT", "1", "Y", "Un_1", "chr3", "XY"]
    assert sorted(names, key=chromosome_sort_key) == ["1", "2", "chr3", "10", "X", "Y", "XY", "MT", "Un_1"]


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def plink(tmp_path):
    G, ids, markers = make_data()
    return write_plink(tmp_path / "geno", G, ids, markers), G, ids, markers


@pytest.mark.parametrize("missing", ["bim", "fam"])
def test_bed_without_bim_or_fam(plink, missing):
    bed = plink[0]
    os.remove(bed.with_suffix("." + missing))
    with pytest.raises(InputError, match=rf"'{bed}' has no \.{missing} file beside it"):
        read_genotypes(bed)


def test_bed_missing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_genotypes(tmp_path / "nothing.bed")


def test_bim_count_disagrees_with_bed(plink):
    bed = plink[0]
    bim = bed.with_suffix(".bim")
    lines = bim.read_text().splitlines(keepends=True)
    bim.write_text("".join(lines[:-1]))
    with pytest.raises(InputError, match=r"\.bim \(39 markers\).*it holds 40 markers"):
        read_genotypes(bed)
    bim.write_text("".join(lines + ["1\textra\t0\t999\tA\tG\n"]))
    with pytest.raises(InputError, match=r"\.bim \(41 markers\)"):
        read_genotypes(bed)


def test_truncated_bed(plink):
    bed = plink[0]
    data = bed.read_bytes()
    bed.write_bytes(data[:-3])
    with pytest.raises(InputError, match=rf"'{bed}' has {len(data) - 3} bytes.*truncated"):
        read_genotypes(bed)
    bed.write_bytes(b"\x00\x01\x02" + data[3:])
    with pytest.raises(InputError, match="not a PLINK 1 binary"):
        read_genotypes(bed)


def test_plink_repeated_iids(tmp_path):
    G, ids, markers = make_data()
    ids = ids.copy()
    ids[4] = ids[3]
    bed = tmp_path / "g.bed"
    bed_reader.to_bed(bed, G.astype(np.float32), properties={
        "fid": [f"f{k}" for k in range(len(ids))], "iid": ids, "sid": markers["marker"].to_numpy(),
        "chromosome": markers["chr"].to_numpy()})
    with pytest.raises(InputError, match=rf"repeated individual ids \(IID.*'{ids[3]}'"):
        read_genotypes(bed)


def test_allele_column_missing_or_different_allele_sets(tmp_path):
    rng = np.random.default_rng(2)
    P = probabilities(rng, 6, 3, "ABC").reshape(6, -1)
    ids = [f"x{k}" for k in range(6)]
    cols = [f"m{j}:{a}" for j in range(3) for a in "ABC"]
    gmap = write_map(tmp_path / "map.csv", pd.DataFrame({"marker": ["m0", "m1", "m2"], "chr": "1", "pos": [1.0, 2, 3]}))
    keep = [k for k, c in enumerate(cols) if c != "m1:B"]
    path = write_table(tmp_path / "p.csv", P[:, keep], ids, [cols[k] for k in keep])
    with pytest.raises(InputError, match=r"'.*p\.csv': marker 'm1' lacks m1:B"):
        read_genotypes(path, map_path=gmap)
    renamed = [c.replace("m2:C", "m2:Z") for c in cols]
    path = write_table(tmp_path / "q.csv", P, ids, renamed)
    with pytest.raises(InputError, match=r"marker 'm2' lacks m2:C; has extra m2:Z"):
        read_genotypes(path, map_path=gmap)


def test_probabilities_out_of_range_or_not_summing_to_one(tmp_path):
    rng = np.random.default_rng(4)
    P = probabilities(rng, 6, 3, "AB")
    ids = [f"x{k}" for k in range(6)]
    cols = [f"m{j}:{a}" for j in range(3) for a in "AB"]
    gmap = write_map(tmp_path / "map.csv", pd.DataFrame({"marker": ["m0", "m1", "m2"], "chr": "1", "pos": [1.0, 2, 3]}))
    bad = P.copy()
    bad[3, 1] = [1.2, -0.2]
    with pytest.raises(InputError, match=r"outside \[0, 1\].*'m1:A', id 'x3'"):
        read_genotypes(write_table(tmp_path / "r.csv", bad.reshape(6, -1), ids, cols), map_path=gmap)
    bad = P.copy()
    bad[4, 2] = [0.5, 0.49]
    with pytest.raises(InputError, match=r"do not sum to 1 \(tolerance 0\.001\).*marker 'm2', id 'x4': sum 0\.99"):
        read_genotypes(write_table(tmp_path / "s.csv", bad.reshape(6, -1), ids, cols), map_path=gmap)
    ok = P.copy()
    ok[4, 2] = [0.5, 0.5 - PROBABILITY_SUM_TOLERANCE / 2]
    read_genotypes(write_table(tmp_path / "t.csv", ok.reshape(6, -1), ids, cols), map_path=gmap)


def test_map_lacks_marker_or_lists_it_twice(tmp_path):
    G, ids, markers = make_data()
    table = write_table(tmp_path / "g.csv", G, ids, markers["marker"])
    short = write_map(tmp_path / "short.csv", markers.iloc[1:])
    with pytest.raises(InputError, match=r"map '.*short\.csv' lacks markers of the genotype file '.*g\.csv': 'rs1000'"):
        read_genotypes(table, map_path=short)
    twice = pd.concat([markers, markers.iloc[[5]].assign(chr="2")])
    with pytest.raises(InputError, match=r"more than once: 'rs1005' \('rs1005' on chromosomes '1', '2'\)"):
        read_genotypes(table, map_path=write_map(tmp_path / "twice.csv", twice))


def test_bimbam_bad_lines_and_missing_annotation(tmp_path):
    G, ids, markers = make_data()
    geno, anno, id_file = write_bimbam(tmp_path / "m.txt", G, ids, markers)
    anno.write_text("".join(anno.read_text().splitlines(keepends=True)[1:]))
    with pytest.raises(InputError, match=r"annotation file '.*anno\.txt' lacks markers .*'rs1000'"):
        read_genotypes(geno, "bimbam", map_path=anno, ids_path=id_file)
    geno, anno, id_file = write_bimbam(tmp_path / "m.txt", G, ids, markers)
    id_file.write_text("".join(f"{i}\n" for i in ids[:-1]))
    with pytest.raises(InputError, match=r"23 dosages on line 1 \(marker 'rs1000'\).*lists 22"):
        read_genotypes(geno, "bimbam", map_path=anno, ids_path=id_file)
    id_file.write_text("".join(f"{i}\n" for i in [*ids[:-1], ids[0]]))
    with pytest.raises(InputError, match=rf"duplicated ids: '{ids[0]}'"):
        read_genotypes(geno, "bimbam", map_path=anno, ids_path=id_file)
    id_file.write_text("".join(f"{i}\n" for i in ids))
    assert read_genotypes(geno, map_path=anno, ids_path=id_file).format == "bimbam"  # auto: an id file
    os.replace(geno, tmp_path / "m.mean")
    with pytest.raises(InputError, match="genotype_format"):
        read_genotypes(tmp_path / "m.mean", map_path=anno)


def test_duplicated_ids_in_table(tmp_path):
    G, ids, markers = make_data()
    ids = ids.copy()
    ids[7] = ids[2]
    gmap = write_map(tmp_path / "map.csv", markers)
    with pytest.raises(InputError, match=rf"'.*g\.csv' has duplicated ids: '{ids[2]}'"):
        read_genotypes(write_table(tmp_path / "g.csv", G, ids, markers["marker"]), map_path=gmap)


def test_split_files_with_different_individuals(tmp_path):
    G, ids, markers = make_data()
    gmap = write_map(tmp_path / "map.csv", markers)
    a = write_table(tmp_path / "a.csv", G[:, :20], ids, markers["marker"][:20])
    b = write_table(tmp_path / "b.csv", G[:-1, 20:], ids[:-1], markers["marker"][20:])
    with pytest.raises(InputError, match=rf"list different individuals: only in the first '{ids[-1]}'"):
        read_genotypes([a, b], map_path=gmap)
    c = write_table(tmp_path / "c.csv", G[:, 15:], ids, markers["marker"][15:])
    with pytest.raises(InputError, match=r"markers more than once: 'rs1015'"):
        read_genotypes([a, c], map_path=gmap)


def test_no_marker_left_and_nothing_half_written(tmp_path):
    G = np.ones((10, 3))
    G[:5, 2] = np.nan
    ids = [f"k{i}" for i in range(10)]
    markers = pd.DataFrame({"marker": ["a", "b", "c"], "chr": "1", "pos": [1.0, 2, 3]})
    source = read_genotypes(write_table(tmp_path / "g.csv", G, ids, markers["marker"]), map_path=write_map(tmp_path / "m.csv", markers))
    out = tmp_path / "results" / "genotypes"
    with pytest.raises(InputError, match=r"No marker .* left .* 1 missing in more than 0\.05.* 2 monomorphic"):
        write_intermediate(source, ids, out)
    assert not (tmp_path / "results").exists() or os.listdir(tmp_path / "results") == []
    with pytest.raises(InputError, match="None of the 2 individuals of the analysis is genotyped"):
        write_intermediate(source, ["zz", "yy"], out)
    # an earlier complete intermediate survives a failed rewrite
    good_G, good_ids, good_markers = make_data()
    good = read_genotypes(write_plink(tmp_path / "p", good_G, good_ids, good_markers))
    write_intermediate(good, None, out)
    before = (out / "genotypes.npy").read_bytes()
    with pytest.raises(InputError):
        write_intermediate(source, ids, out)
    assert (out / "genotypes.npy").read_bytes() == before
    assert sorted(os.listdir(tmp_path / "results")) == ["genotypes"]


# ---------------------------------------------------------------------------------------------
# the bundled recla probabilities
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def recla(tmp_path_factory):
    if not (RECLA_GENO / "recla_alleleprobs.csv.gz").exists():
        pytest.skip("recla genotype probabilities not available")
    source = read_genotypes(RECLA_GENO / "recla_alleleprobs.csv.gz", map_path=RECLA_GENO / "recla_map.csv",
                            map_position="pos_cM")
    out = tmp_path_factory.mktemp("recla") / "genotypes"
    summary = write_intermediate(source, None, out)
    return source, summary, open_intermediate(out)


def test_recla_probabilities(recla):
    source, summary, store = recla
    assert source.kind == "probabilities" and source.alleles == tuple("ABCDEFGH")
    assert store.genotypes.shape == (6394 * 8, 261) and store.genotypes.dtype == np.float64
    assert summary["n_markers"] == 6394 and summary["markers_dropped"] == {"missing": 0, "monomorphic": 0}
    assert store.chromosomes == [str(c) for c in range(1, 20)] + ["X"]
    assert summary["markers_per_chromosome"]["1"] == 448 and summary["markers_per_chromosome"]["X"] == 369
    # first row of the file: mouse '1', marker JAX00240603, alleles A..H
    row = store.markers.index[store.markers["marker"] == "JAX00240603"][0]
    first = store.markers["first_column"].iat[row]
    column = list(store.ids).index("1")
    np.testing.assert_array_equal(store.genotypes[first:first + 8, column],
                                  [0.994088, 0.00047, 0, 0, 0.000501, 0, 0.00494, 0])
    sums = store.genotypes.reshape(6394, 8, 261).sum(axis=1)
    assert np.abs(sums - 1).max() < 1e-5
    block = next(store.iter_blocks("2"))
    assert block.shape == (261, 447 * 8)


def test_failure_while_writing_leaves_no_directory(tmp_path, monkeypatch):
    import lmm.pipeline.genotype_store as store_module

    G, ids, markers = make_data()
    source = read_genotypes(write_plink(tmp_path / "g", G, ids, markers))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "write_tsv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_intermediate(source, None, tmp_path / "out" / "genotypes")
    assert os.listdir(tmp_path / "out") == []

"""Genotype inputs written the wrong way (issue 15): each is read right or stopped with a message
naming the file and the column, marker or id.

- chromosome names written two ways (``2``/``chr2``, ``01``/``1``, ``x``/``X``, ``M``/``MT``) in
  one file: one chromosome, the same intermediate and kinships as the file written one way;
- ``.fam`` ids ``M1``… against phenotype ids ``M01``…: a note (summary), an error when no one
  matches;
- a ``.bim`` separated by blanks (read, as PLINK reads it), a ``.bim`` or ``.fam`` with the wrong
  number of columns (the file and line named);
- a table of dosages whose values all lie in [0, 1]: a note on how they are read.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmm.errors import InputError
from lmm.kinship import KinshipAccumulator
from lmm.pipeline.genotype_store import open_intermediate, write_intermediate
from lmm.pipeline.genotypes import canonical_chromosome, read_genotypes

bed_reader = pytest.importorskip("bed_reader")

CANONICAL = ["1"] * 10 + ["2"] * 12 + ["10"] * 8 + ["X"] * 6 + ["MT"] * 4
#: The same chromosomes, each written two or three ways, interleaved along the file.
MIXED = (["01", "1", "chr1", "1", "Chr01"] * 2 + ["2", "chr2"] * 6 + ["10", "CHR10", "010", "chr10"] * 2
         + ["x", "X", "chrX"] * 2 + ["M", "MT", "chrM", "mt"])


def make_data(seed: int = 3, n: int = 21):
    rng = np.random.default_rng(seed)
    q = len(CANONICAL)
    G = rng.binomial(2, rng.uniform(0.2, 0.8, size=q), size=(n, q)).astype(float)
    G[rng.random((n, q)) < 0.02] = np.nan
    ids = np.array([f"M{k + 1}" for k in range(n)], dtype=object)
    markers = pd.DataFrame({"marker": [f"rs{k}" for k in range(q)], "chr": CANONICAL,
                            "pos": np.arange(q) * 1000.0 + 1})
    return G, ids, markers


def write_plink(prefix: Path, G, ids, names, chromosomes, positions) -> Path:
    bed = Path(str(prefix) + ".bed")
    bed_reader.to_bed(bed, G.astype(np.float32), properties={
        "fid": ids, "iid": ids, "sid": np.asarray(names), "chromosome": np.asarray(chromosomes),
        "bp_position": np.asarray(positions).astype(int), "allele_1": ["A"] * len(names),
        "allele_2": ["G"] * len(names)}, count_A1=True)
    return bed


def kinships(store) -> tuple[dict, dict]:
    """LOCO kinships and markers per chromosome, as the kinship stage computes them."""
    acc = KinshipAccumulator(store.n, "standardized", loco=True)
    for chrom in store.chromosomes:
        for block in store.iter_blocks(chrom, 7):
            acc.add(block, chrom, n_alleles=1)
    return ({c: acc.loco(c) for c in acc.chromosomes},
            {c: int(acc.n_markers(c)) for c in acc.chromosomes})


# ---------------------------------------------------------------------------------------------
# a. chromosome names written two ways
# ---------------------------------------------------------------------------------------------

def test_canonical_chromosome_rule():
    assert [canonical_chromosome(c) for c in MIXED] == CANONICAL
    assert [canonical_chromosome(c) for c in [" chr7 ", "007", "0", "chrY", "xy", "Un", "chrUn_1", "chr", "23"]] == \
        ["7", "7", "0", "Y", "XY", "Un", "Un_1", "chr", "23"]


def test_plink_with_two_spellings_equals_one_spelling(tmp_path):
    G, ids, markers = make_data()
    one = write_plink(tmp_path / "one", G, ids, markers["marker"], CANONICAL, markers["pos"])
    two = write_plink(tmp_path / "two", G, ids, markers["marker"], MIXED, markers["pos"])
    assert pd.read_csv(tmp_path / "two.bim", sep="\t", header=None)[0].astype(str).tolist() == MIXED
    results = {}
    for name, bed in (("one", one), ("two", two)):
        source = read_genotypes(bed)
        summary = write_intermediate(source, list(ids), tmp_path / f"out_{name}", max_marker_missing=0.2)
        store = open_intermediate(tmp_path / f"out_{name}")
        assert store.chromosomes == ["1", "2", "10", "X", "MT"]
        results[name] = (summary, store, (tmp_path / f"out_{name}" / "genotypes.npy").read_bytes(), kinships(store))
    (s1, st1, b1, (k1, m1)), (s2, st2, b2, (k2, m2)) = results["one"], results["two"]
    assert b1 == b2
    assert s1["markers_per_chromosome"] == s2["markers_per_chromosome"]
    assert m1 == m2 and sum(m2.values()) == s2["n_markers"] <= len(CANONICAL)
    for c in k1:
        np.testing.assert_array_equal(k1[c], k2[c])
    pd.testing.assert_frame_equal(st1.markers.drop(columns="file"), st2.markers.drop(columns="file"))
    # each chromosome is one block of rows, the blocks tile the matrix
    slices = [st2.columns(c) for c in st2.chromosomes]
    assert [s.start for s in slices[1:]] == [s.stop for s in slices[:-1]] and slices[-1].stop == st2.genotypes.shape[0]


def test_table_map_with_two_spellings_equals_one_spelling(tmp_path):
    G, ids, markers = make_data()
    table = tmp_path / "g.csv"
    frame = pd.DataFrame(G, columns=markers["marker"])
    frame.insert(0, "id", ids)
    frame.to_csv(table, index=False, na_rep="NA")
    stores = []
    for name, chrs in (("one", CANONICAL), ("two", MIXED)):
        gmap = tmp_path / f"map_{name}.csv"
        pd.DataFrame({"marker": markers["marker"], "chr": chrs, "pos": markers["pos"]}).to_csv(gmap, index=False)
        source = read_genotypes(table, map_path=gmap)
        assert sorted(set(source.markers["chr"])) == sorted(set(CANONICAL))
        write_intermediate(source, list(ids), tmp_path / name, max_marker_missing=0.2)
        stores.append(open_intermediate(tmp_path / name))
    assert (tmp_path / "one" / "genotypes.npy").read_bytes() == (tmp_path / "two" / "genotypes.npy").read_bytes()
    (k1, m1), (k2, m2) = kinships(stores[0]), kinships(stores[1])
    assert m1 == m2
    for c in k1:
        np.testing.assert_array_equal(k1[c], k2[c])


def test_chromosome_names_differing_only_by_case_are_refused(tmp_path):
    G, ids, markers = make_data()
    chrs = CANONICAL[:-4] + ["Un", "UN", "Un", "UN"]
    bed = write_plink(tmp_path / "g", G, ids, markers["marker"], chrs, markers["pos"])
    with pytest.raises(InputError) as err:
        read_genotypes(bed)
    message = str(err.value)
    assert "g.bim" in message and "'Un' (e.g. marker 'rs36')" in message and "'UN' (e.g. marker 'rs37')" in message


# ---------------------------------------------------------------------------------------------
# b. ids written differently in the .fam and the phenotype file
# ---------------------------------------------------------------------------------------------

def test_fam_ids_without_leading_zeros_are_noted(tmp_path):
    G, ids, markers = make_data()  # ids M1 ... M21
    bed = write_plink(tmp_path / "g", G, ids, markers["marker"], CANONICAL, markers["pos"])
    source = read_genotypes(bed)
    analysis = [f"M{k:02d}" for k in range(1, 10)] + [f"M{k}" for k in range(10, 22)]  # M01 ... M09, M10 ...
    summary = write_intermediate(source, analysis, tmp_path / "out", max_marker_missing=0.2,
                                 analysis_label="the phenotype file 'p.csv'")
    assert summary["n"] == 12 and summary["n_not_genotyped"] == 9
    assert summary["ids_not_genotyped"] == [f"M0{k}" for k in range(1, 10)]
    (note,) = summary["id_format_notes"]
    assert "'M01'" in note and "the phenotype file 'p.csv'" in note and "'M1'" in note and "g.fam" in note
    assert "zeros" in note and "compared as text" in note
    # the shared rule (lmm.pipeline.clean.id_format_mismatches) says it, with its own words
    assert "'M01', 'M02', 'M03' and 6 more" in note and "differ only by leading zeros: ids are" in note


def test_no_fam_id_matches_stops_with_the_hint(tmp_path):
    G, ids, markers = make_data(n=9)
    bed = write_plink(tmp_path / "g", G, ids, markers["marker"], CANONICAL, markers["pos"])
    with pytest.raises(InputError) as err:
        write_intermediate(read_genotypes(bed), [f"M0{k}" for k in range(1, 10)], tmp_path / "out",
                           analysis_label="the phenotype file 'p.csv'")
    message = str(err.value)
    assert "None of the 9 individuals of the phenotype file 'p.csv' is genotyped" in message
    assert "'M01'" in message and "'M1'" in message and "g.fam" in message and "zeros" in message
    assert not (tmp_path / "out").exists()


def test_ids_differing_by_case_use_the_shared_rule(tmp_path):
    G, ids, markers = make_data(n=9)
    bed = write_plink(tmp_path / "g", G, ids, markers["marker"], CANONICAL, markers["pos"])
    summary = write_intermediate(read_genotypes(bed), ["m1", "m2"] + list(ids[2:]), tmp_path / "out",
                                 max_marker_missing=0.5)
    (note,) = summary["id_format_notes"]
    assert "'m1', 'm2'" in note and "case" in note


# ---------------------------------------------------------------------------------------------
# c. malformed .bim / .fam
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def plink(tmp_path):
    G, ids, markers = make_data()
    bed = write_plink(tmp_path / "g", G, ids, markers["marker"], CANONICAL, markers["pos"])
    return bed, tmp_path / "g.bim", tmp_path / "g.fam"


def test_bim_separated_by_blanks_is_read_as_plink_reads_it(plink, tmp_path):
    bed, bim, fam = plink
    write_intermediate(read_genotypes(bed), None, tmp_path / "tabs")
    bim.write_text(bim.read_text().replace("\t", " "))
    fam.write_text(fam.read_text().replace(" ", "\t"))
    write_intermediate(read_genotypes(bed), None, tmp_path / "blanks")
    assert (tmp_path / "tabs" / "genotypes.npy").read_bytes() == (tmp_path / "blanks" / "genotypes.npy").read_bytes()
    assert (tmp_path / "tabs" / "markers.tsv").read_text().replace("g.bed", "") == \
        (tmp_path / "blanks" / "markers.tsv").read_text().replace("g.bed", "")


def test_fam_with_five_columns_names_the_fam(plink):
    bed, bim, fam = plink
    fam.write_text("".join(" ".join(line.split()[:5]) + "\n" for line in fam.read_text().splitlines()))
    with pytest.raises(InputError) as err:
        read_genotypes(bed)
    message = str(err.value)
    assert f"The PLINK .fam file '{fam}' has 5 field(s) on line 1" in message
    assert "expected 6: FID, IID, father, mother, sex, phenotype" in message and ".bed" not in message


def test_bim_with_a_short_line_names_the_bim(plink):
    bed, bim, fam = plink
    lines = bim.read_text().splitlines()
    lines[3] = "\t".join(lines[3].split("\t")[:5])
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_genotypes(bed)
    message = str(err.value)
    assert f"The PLINK .bim file '{bim}' has 5 field(s) on line 4" in message and "rs3" in message
    assert "chromosome, marker, cM, bp position, A1, A2" in message


def test_bim_with_a_non_numeric_position_names_marker(plink):
    bed, bim, fam = plink
    lines = bim.read_text().splitlines()
    fields = lines[2].split("\t")
    fields[3] = "12kb"
    lines[2] = "\t".join(fields)
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"g\.bim' has 1 non-numeric base-pair position.*'12kb' for marker 'rs2'"):
        read_genotypes(bed)


# ---------------------------------------------------------------------------------------------
# d. a table of dosages between 0 and 1
# ---------------------------------------------------------------------------------------------

def test_table_of_values_between_0_and_1_gets_a_note(tmp_path):
    G, ids, markers = make_data()
    gmap = tmp_path / "map.csv"
    markers.to_csv(gmap, index=False)
    for name, values in (("probs", np.round(G / 2 * 0.9 + 0.05, 3)), ("dosages", G)):
        table = tmp_path / f"{name}.csv"
        frame = pd.DataFrame(values, columns=markers["marker"])
        frame.insert(0, "id", ids)
        frame.to_csv(table, index=False, na_rep="NA")
        source = read_genotypes(table, map_path=gmap)
        summary = write_intermediate(source, None, tmp_path / f"out_{name}", max_marker_missing=0.2)
        if name == "dosages":
            assert source.notes == () and summary["notes"] == []
            continue
        assert source.kind == "dosages"
        (note,) = summary["notes"]
        assert note == source.notes[0]
        assert f"'{table}'" in note and "between 0 and 1" in note and "read as dosages" in note
        assert "<marker>:<allele>" in note and "'rs0:A'" in note

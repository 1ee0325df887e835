"""X chromosomes with their own genotype columns: R/qtl2's iron F2 (tests/reference/qtl2/iron/).

The iron genotype probabilities (autosomes SS, SB, BB; X SS, SB, BS, BB, SY, BY) are loaded as a
user gives them; the store's per-chromosome columns and values are checked against the table
read independently (pandas), the kinships against R/qtl2 0.43-5's calc_kinship (overall and
LOCO, X included), and bad X column sets against their messages.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import lmm
from lmm.alleles import x_genotype_sets
from lmm.errors import InputError
from lmm.pipeline.genome_scan import compute_kinships
from lmm.pipeline.genotype_store import open_intermediate, write_intermediate
from lmm.pipeline.genotypes import read_genotypes

IRON = Path(__file__).resolve().parents[1] / "reference" / "qtl2" / "iron"
F2 = ("SS", "SB", "BB")
F2_X = ("SS", "SB", "BS", "BB", "SY", "BY")


def iron_table() -> pd.DataFrame:
    return pd.read_csv(IRON / "genoprobs.csv.gz", dtype={"id": str}).set_index("id")


def iron_map() -> pd.DataFrame:
    return pd.read_csv(IRON / "map.csv", dtype={"marker": str, "chr": str})


def load(tmp_path: Path, paths, name="store", keep=None, **kwargs):
    source = read_genotypes(paths, map_path=IRON / "map.csv", map_position="pos_cM")
    write_intermediate(source, keep, tmp_path / name, **kwargs)
    return source, open_intermediate(tmp_path / name)


def write(path: Path, frame: pd.DataFrame) -> Path:
    frame.copy().reset_index().to_csv(path, index=False, float_format="%.17g")
    return path


@pytest.fixture(scope="module")
def iron(tmp_path_factory):
    return load(tmp_path_factory.mktemp("iron"), IRON / "genoprobs.csv.gz")


def test_iron_columns_per_chromosome_and_values(iron):
    source, store = iron
    assert source.alleles == F2 and source.x_columns == {"X": F2_X} and source.x_chromosomes == ("X",)
    assert source.allele_names == ("S", "B") and source.dosage_allele == "none (genotype probabilities)"
    assert store.is_x("X") and not store.is_x("1")
    assert store.alleles_of("1") == F2 and store.alleles_of("X") == F2_X
    assert store.n_alleles_of("19") == 3 and store.n_alleles_of("X") == 6
    assert store.allele_names == ("S", "B")
    gmap = iron_map()
    markers = store.markers
    assert markers["marker"].tolist() == gmap["marker"].tolist()        # iron's map is in genome order
    expected_width = np.where(markers["chr"] == "X", 6, 3)
    np.testing.assert_array_equal(markers["n_columns"], expected_width)
    np.testing.assert_array_equal(markers["first_column"], np.r_[0, np.cumsum(expected_width)[:-1]])
    assert store.genotypes.shape == (64 * 3 + 2 * 6, 284)
    table = iron_table()
    columns = [f"{m}:{g}" for m, c in zip(markers["marker"], markers["chr"]) for g in store.alleles_of(c)]
    assert store.ids.tolist() == table.index.tolist()
    np.testing.assert_array_equal(store.genotypes, table[columns].to_numpy().T)   # bit for bit
    x = store.columns("X")
    assert (x.start, x.stop) == (192, 204)
    blocks = list(store.iter_blocks(max_columns=10))
    assert all(b.shape[1] % 3 == 0 for b in blocks) and sum(b.shape[1] for b in blocks) == 204
    assert [b.shape[1] for b in store.iter_blocks("X", max_columns=10)] == [6, 6]
    meta = yaml.safe_load((Path(store.path) / "genotypes.yaml").read_text())
    assert meta["format_version"] == 2 and meta["x_chromosomes"] == ["X"]
    assert meta["x_columns"] == {"X": list(F2_X)} and meta["alleles"] == list(F2)
    assert meta["summary"]["x_columns"] == {"X": list(F2_X)}


def read_kinship(name: str) -> np.ndarray:
    return pd.read_csv(IRON / name, dtype={"id": str}).set_index("id").to_numpy()


def test_iron_kinships_equal_qtl2(iron):
    _, store = iron
    kin = compute_kinships(store, "shared_alleles", loco=True, max_columns=7)
    # lmm.kinship's shared_alleles is R/qtl2's calc_kinship doubled (module docstring)
    for ours, reference in [(kin["overall"], "kinship_overall.csv.gz"), (kin["loco"]["1"], "kinship_loco_1.csv.gz"),
                            (kin["loco"]["X"], "kinship_loco_X.csv.gz")]:
        assert np.abs(ours / 2 - read_kinship(reference)).max() <= 1e-12, reference
    assert kin["record"]["x_chromosomes"] == ["X"]
    assert kin["record"]["n_markers"] == 66 and kin["record"]["markers_per_chromosome"]["X"] == 2


def test_split_files_and_chunks_give_the_same_store(iron, tmp_path):
    _, whole = iron
    table = iron_table()
    x_cols = [c for c in table.columns if c.startswith("DX")]
    a = write(tmp_path / "auto.csv", table.drop(columns=x_cols))
    x = write(tmp_path / "x.csv", table[x_cols].iloc[::-1])        # X only, other id order
    source, split = load(tmp_path, [x, a], "split", keep=table.index.tolist())
    assert source.alleles == F2 and source.x_columns == {"X": F2_X}
    np.testing.assert_array_equal(split.genotypes, whole.genotypes)
    _, chunked = load(tmp_path, IRON / "genoprobs.csv.gz", "chunked", chunk_bytes=8 * 284 * 6 * 3)
    assert (Path(chunked.path) / "genotypes.npy").read_bytes() == (Path(whole.path) / "genotypes.npy").read_bytes()


def test_missing_x_value_imputed_by_marker_means(tmp_path):
    table = iron_table()
    table.iloc[5, table.columns.get_loc("DXMit16:SY")] = np.nan
    _, store = load(tmp_path, write(tmp_path / "g.csv", table))
    rows = store.genotypes[store.columns("X")][:6]                   # DXMit16's six columns
    others = np.delete(table[[f"DXMit16:{g}" for g in F2_X]].to_numpy(), 5, axis=0)
    np.testing.assert_allclose(rows[:, 5], others.mean(axis=0), rtol=1e-15)
    assert store.summary["n_imputed"] == 1


def test_unknown_x_column_set_is_refused(tmp_path):
    table = iron_table()
    path = write(tmp_path / "g.csv", table.drop(columns=["DXMit16:SY"]))
    with pytest.raises(InputError, match=r"'.*g\.csv': marker 'DXMit16' on X chromosome 'X' \(config 'x_chromosomes'\) "
                                         r"has the columns DXMit16:SS, DXMit16:SB, DXMit16:BS, DXMit16:BB, DXMit16:BY, "
                                         r"which are neither the autosomes' \(SS, SB, BB\) nor a known X set "
                                         r"\(SS, SB, BS, BB, SY, BY\) or \(SS, SB, BB, SY, BY\)"):
        read_genotypes(path, map_path=IRON / "map.csv", map_position="pos_cM")
    odd = table.drop(columns=["DXMit186:SY", "DXMit186:BY"])
    with pytest.raises(InputError, match=r"marker 'DXMit186' on X chromosome 'X' lacks DXMit186:SY, DXMit186:BY; "
                                         r"the markers of a chromosome need the same columns .*'DXMit16'"):
        read_genotypes(write(tmp_path / "h.csv", odd), map_path=IRON / "map.csv", map_position="pos_cM")


def test_x_columns_on_a_chromosome_not_declared_x(tmp_path):
    with pytest.raises(InputError, match=r"marker 'DXMit16' has extra DXMit16:BS, DXMit16:SY, DXMit16:BY\. .*"
                                         r"if chromosome 'X' is an X chromosome, add it to config 'x_chromosomes'"):
        read_genotypes(IRON / "genoprobs.csv.gz", map_path=IRON / "map.csv", map_position="pos_cM", x_chromosomes=[])
    # the configured names are made canonical like the map's
    source = read_genotypes(IRON / "genoprobs.csv.gz", map_path=IRON / "map.csv", map_position="pos_cM",
                            x_chromosomes=["chrx"])
    assert source.x_chromosomes == ("X",) and source.x_columns == {"X": F2_X}


def test_do_genotype_probabilities_36_and_44(tmp_path):
    alleles = "ABCDEFGH"
    auto = tuple(a + b for i, a in enumerate(alleles) for b in alleles[i:])
    xset = x_genotype_sets(auto)[1]
    rng = np.random.default_rng(3)
    ids = [f"d{k}" for k in range(6)]
    layout = [("m1", auto), ("m2", auto), ("x1", xset), ("x2", xset)]
    frame = pd.concat([pd.DataFrame(rng.dirichlet(np.ones(len(names)), size=len(ids)), index=pd.Index(ids, name="id"),
                                    columns=[f"{m}:{g}" for g in names]) for m, names in layout], axis=1)
    gmap = pd.DataFrame({"marker": ["m1", "m2", "x1", "x2"], "chr": ["1", "2", "X", "X"], "pos": [1.0, 2, 3, 4]})
    gmap.to_csv(tmp_path / "map.csv", index=False)
    source = read_genotypes(write(tmp_path / "do.csv", frame), map_path=tmp_path / "map.csv")
    assert len(source.alleles) == 36 and len(source.columns_of("X")) == 44
    write_intermediate(source, None, tmp_path / "s")
    store = open_intermediate(tmp_path / "s")
    assert store.genotypes.shape == (2 * 36 + 2 * 44, 6) and store.allele_names == tuple(alleles)
    kin = compute_kinships(store, "shared_alleles", loco=False)
    P = np.hstack([lmm.genoprob_to_alleleprob(frame[[f"{m}:{g}" for g in names]].to_numpy(), names,
                                                      tuple(alleles))
                   for m, names in layout])
    np.testing.assert_allclose(kin["overall"], 2 * P @ P.T / 4, rtol=1e-13)


def test_allele_probabilities_unchanged_with_x(tmp_path):
    """Allele probabilities (recla's layout) keep one set on X; the kinship is calc_kinship's."""
    rng = np.random.default_rng(5)
    ids = [f"r{k}" for k in range(9)]
    P = rng.dirichlet(np.ones(4), size=(9, 5)).reshape(9, -1)
    cols = [f"m{j}:{a}" for j in range(5) for a in "ABCD"]
    frame = pd.DataFrame(P, index=pd.Index(ids, name="id"), columns=cols)
    pd.DataFrame({"marker": [f"m{j}" for j in range(5)], "chr": ["1", "1", "2", "X", "X"],
                  "pos": [1.0, 2, 1, 1, 2]}).to_csv(tmp_path / "map.csv", index=False)
    source = read_genotypes(write(tmp_path / "a.csv", frame), map_path=tmp_path / "map.csv")
    assert source.alleles == tuple("ABCD") and source.x_columns == {"X": tuple("ABCD")}
    write_intermediate(source, None, tmp_path / "s")
    store = open_intermediate(tmp_path / "s")
    assert store.allele_names == tuple("ABCD") and store.n_alleles_of("X") == 4
    kin = compute_kinships(store, "shared_alleles", loco=True)
    chroms = np.array(["1", "1", "2", "X", "X"])
    np.testing.assert_allclose(kin["overall"], lmm.calc_kinship(P, "shared_alleles", n_alleles=4), rtol=1e-14)
    ref = lmm.calc_kinship(P, "shared_alleles", chromosomes=chroms, n_alleles=4, loco=True)
    for c in ("1", "2", "X"):
        np.testing.assert_allclose(kin["loco"][c], ref[c], rtol=1e-14)


def test_store_of_format_1_is_refused_with_a_clear_message(iron, tmp_path):
    _, store = iron
    old = tmp_path / "old"
    old.mkdir()
    for name in os.listdir(store.path):
        (old / name).write_bytes((Path(store.path) / name).read_bytes())
    meta = yaml.safe_load((old / "genotypes.yaml").read_text())
    meta["format_version"] = 1
    (old / "genotypes.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(InputError, match=r"format version 1, not 2 .*X chromosomes.*rerun the load stage"):
        open_intermediate(old)


def test_scan_job_reads_each_chromosome_with_its_own_columns(iron):
    """The workflow's scan job on chromosome 19 (3 columns a marker) and X (6) equals lmm.scan1 given
    each chromosome's genotypes with its n_alleles (tiles of 7 columns: tiles are cut at markers)."""
    from lmm.pipeline import genome_scan as gs
    from lmm.pipeline.partition import partition_phenotypes

    _, store = iron
    ids = store.ids.tolist()
    pheno = pd.read_csv(IRON / "pheno.csv", dtype={"id": str}).set_index("id").loc[ids]
    Y = pheno.to_numpy()
    X = np.ones((len(ids), 1))
    kin = compute_kinships(store, "shared_alleles", loco=True)
    part = partition_phenotypes(Y, list(pheno.columns), ["ok", "ok"], ids, X, ["intercept"], missing_strategy="auto")
    data = {"ids": np.array(ids), "phenotypes": Y, "phenotype_names": np.array(pheno.columns), "covariates": X,
            "covariate_names": np.array(["intercept"])}
    chunk = gs.scan_chunks(part, 0)[0]
    for chrom, width in (("19", 3), ("X", 6)):
        res = gs.scan_chunk(gs.decompose_chromosome(kin["loco"][chrom], ids, ids, part), store, chrom, data, part,
                            chunk, tile_columns=7)
        G = np.asarray(store.genotypes[store.columns(chrom)]).T
        ref = lmm.scan1([G], [kin["loco"][chrom]], Y, X, n_alleles=width)
        np.testing.assert_allclose(res["lod"], ref.lod, atol=1e-10, rtol=0)
        assert res["lod"].shape == (2, 2) and np.all(res["df_max"] == width - 1)
        assert np.all(res["max_df"] == width - 1)

"""lmm.pipeline.eqtl (trait positions, local/distal, hotspots) and lmm.pipeline.eqtl_plots, and the
library chain of an eQTL study on the seeded simulation of tests/_eqtl_sim.py: scan, permutations
of the autosomes and X apart, beta p-values, q-values, LOD thresholds, peaks, tables, figures."""

from __future__ import annotations

import gzip
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from _eqtl_sim import simulate_eqtl_study  # noqa: E402
from lmm import find_peaks, maxlod_per_chromosome, scan1, scan1perm  # noqa: E402
from lmm.errors import InputError  # noqa: E402
from lmm.pipeline import atomic  # noqa: E402
from lmm.pipeline.eqtl import annotate_peaks, hotspot_table, read_phenotype_positions  # noqa: E402
from lmm.pipeline.eqtl_plots import DISTAL_COLOUR, LOCAL_COLOUR, plot_cis_trans, plot_hotspots  # noqa: E402
from lmm.fdr import DEFAULT_LAMBDAS, qvalue  # noqa: E402
from lmm.significance import genome_pvalue_cut, lod_thresholds, pvalue_genome  # noqa: E402

MAP_CHRS = ["1", "2", "3", "X"]


def _write(path, text, gz=False):
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return str(path)


def test_read_table_and_bed(tmp_path):
    table = _write(tmp_path / "pos.tsv", "phenotype\tchr\tpos\textra\ng1\tchr1\t10.5\tx\ng2\t02\t3\ty\n"
                                         "g3\tx\t0\tz\n")
    got = read_phenotype_positions(table, MAP_CHRS)
    assert got["phenotype"].tolist() == ["g1", "g2", "g3"] and got["chr"].tolist() == ["1", "2", "X"]
    np.testing.assert_array_equal(got["pos"], [10.5, 3.0, 0.0])
    bed = _write(tmp_path / "pheno.bed.gz", "#chr\tstart\tend\tphenotype_id\ts1\ts2\n"
                                           "chr1\t1000\t1001\tg1\t0.1\t0.2\nchrX\t50\t51\tg2\t0.3\t0.4\n", gz=True)
    got = read_phenotype_positions(bed, MAP_CHRS)
    assert got["phenotype"].tolist() == ["g1", "g2"] and got["chr"].tolist() == ["1", "X"]
    np.testing.assert_array_equal(got["pos"], [1000.0, 50.0])      # the start, as written
    csv = _write(tmp_path / "pos.csv", "chr,pos,phenotype\n3,7.25,g9\n")
    assert read_phenotype_positions(csv, MAP_CHRS)["pos"].tolist() == [7.25]


@pytest.mark.parametrize("name, text, match", [
    ("dup.tsv", "phenotype\tchr\tpos\ng1\t1\t1\ng2\t1\t2\ng1\t2\t3\n", r"'g1' twice \(lines 2 and 4\)"),
    ("unknown.tsv", "phenotype\tchr\tpos\ng1\t1\t1\ng2\tchr7\t2\n", r"'g2' \(line 3\) on chromosome 'chr7'"),
    ("text.tsv", "phenotype\tchr\tpos\ng1\t1\t1\ng2\t2\tabc\n", r"'g2' \(line 3\) the position 'abc'"),
    ("blank.tsv", "phenotype\tchr\tpos\ng1\t1\t\n", r"'g1' \(line 2\) the position ''"),
    ("short.tsv", "phenotype\tchr\tpos\n\ng1\t1\t1\ng2\t1\n", r"'g2' \(line 4\) the position ''"),
    ("cols.tsv", "gene\tchr\tpos\ng1\t1\t1\n", r"lacks the column\(s\) \['phenotype'\]"),
    ("short.bed", "chr1\t10\t11\tg1\nchr2\t5\n", "2 tab-separated field.* line 2"),
    ("dup.bed", "track name=x\nchr1\t10\t11\tg1\nchr2\t5\t6\tg1\n", r"'g1' twice \(lines 2 and 3\)"),
    ("nan.bed", "chr1\tNaN\t11\tg1\n", r"'g1' \(line 1\) the position 'NaN'"),
])
def test_reader_refusals_name_file_and_line(tmp_path, name, text, match):
    path = _write(tmp_path / name, text)
    with pytest.raises(InputError, match=match) as err:
        read_phenotype_positions(path, MAP_CHRS)
    assert path in str(err.value)


def test_reader_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_phenotype_positions(tmp_path / "none.tsv", MAP_CHRS)


def test_annotate_peaks_and_hotspot_table():
    positions = pd.DataFrame({"phenotype": ["a", "b"], "chr": ["1", "2"], "pos": [10.0, 40.0]})
    peaks = pd.DataFrame({"phenotype": ["a", "a", "b", "c"], "chr": ["1", "2", "1", "1"],
                          "pos": [12.0, 10.0, 40.0, 5.0], "lod": [5.0, 4.0, 6.0, 7.0]})
    out = annotate_peaks(peaks, positions, cis_window=5.0)
    assert str(out["cis"].dtype) == "boolean"
    assert out["cis"].tolist() == [True, False, False, pd.NA]
    np.testing.assert_array_equal(out["distance"], [2.0, np.nan, np.nan, np.nan])
    assert out["trait_pos"].isna().tolist() == [False, False, False, True]
    markers = pd.DataFrame({"chr": ["1"] * 3 + ["2"] * 2, "pos": [0.0, 10.0, 40.0, 0.0, 10.0]})
    hot = hotspot_table(peaks, markers, 10.0)
    assert list(hot.columns) == ["chr", "pos", "n_peaks"]
    assert hot["n_peaks"].tolist() == [1, 2, 1, 0, 1]      # chr 1 at 10: the peaks at 5 and 12


@pytest.fixture(scope="module")
def study_tables():
    """The simulated study through the library chain; X permuted apart as qtl2's perm_Xsp."""
    s = simulate_eqtl_study(5)
    genos = s.genotypes_by_chromosome()
    scan = scan1(genos, s.kinship, s.pheno)
    df = scan.df.max(axis=0)
    per_chr = maxlod_per_chromosome(scan.lod, scan.chr_start)
    observed = np.stack([per_chr[:3].max(axis=0), per_chr[3]])
    lengths = np.array([300.0, 100.0])
    n_auto = 100
    perms = [scan1perm(genos[:3], s.kinship, s.pheno, n_perm=n_auto, seed=1),
             scan1perm(genos[3:], s.kinship, s.pheno, n_perm=int(np.ceil(n_auto * lengths[0] / lengths[1])), seed=2)]
    genome = pvalue_genome(observed, perms, df, lengths)
    # few traits: the largest p-value may fall below 0.95 (R's qvalue then fails too); use the λ
    # of the default grid within the p-values' range, as one would with R's qvalue(p, lambda = ...)
    q = qvalue(genome.pvalue, lambdas=DEFAULT_LAMBDAS[DEFAULT_LAMBDAS <= np.nanmax(genome.pvalue)]).qvalues
    cut = genome_pvalue_cut(genome.pvalue, q, 0.05)
    thresholds = lod_thresholds(genome, cut, perms)
    significant = q <= 0.05
    pk = find_peaks(scan.lod[:, significant], scan.chr_start, s.marker_pos,
                    threshold=thresholds[0, significant], thresholdX=thresholds[1, significant],
                    is_x=np.array([False, False, False, True]))
    names = s.trait_names[significant]
    peaks = pd.DataFrame({"phenotype": names[pk.lodindex], "chr": [s.chromosomes[c] for c in pk.chr],
                          "pos": pk.pos, "lod": pk.lod})
    positions = pd.DataFrame({"phenotype": s.trait_names, "chr": s.trait_chr, "pos": s.trait_pos})
    positions = positions.iloc[5:]                       # five traits without a position
    markers = pd.DataFrame({"chr": s.marker_chr, "pos": s.marker_pos})
    return dict(study=s, genome=genome, q=q, significant=significant, peaks=annotate_peaks(peaks, positions, 10.0),
                hotspots=hotspot_table(peaks, markers, 10.0), markers=markers)


def test_simulated_study_is_recovered(study_tables):
    s, sig = study_tables["study"], study_tables["significant"]
    genome = study_tables["genome"]
    assert set(genome.method) == {"beta"}
    assert sig[s.kind == "local"].mean() > 0.8 and sig[s.kind == "hotspot"].mean() > 0.8
    assert sig[s.kind == "null"].sum() <= max(2, 0.1 * sig.sum())
    peaks = study_tables["peaks"]
    kind = dict(zip(s.trait_names, s.kind))
    local = peaks[peaks["phenotype"].map(kind).eq("local") & peaks["trait_pos"].notna()]
    assert local["cis"].mean() > 0.9
    hot = study_tables["hotspots"]
    top = hot.loc[hot["n_peaks"].idxmax()]
    assert top["chr"] == s.hotspot[0] and abs(top["pos"] - s.hotspot[1]) <= 10
    assert top["n_peaks"] >= 0.7 * (s.kind == "hotspot").sum()


def test_figures(study_tables, tmp_path):
    peaks, markers = study_tables["peaks"], study_tables["markers"]
    fig = plot_cis_trans(peaks, markers, position_label="cM")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    drawn = {tuple(np.round(c.get_facecolor()[0][:3], 3)): len(c.get_offsets()) for c in ax.collections
             if len(c.get_offsets())}
    n_local = int(peaks["cis"].fillna(False).sum())
    n_shown = int(peaks["trait_pos"].notna().sum())
    assert drawn[tuple(np.round(to_rgb(LOCAL_COLOUR), 3))] == n_local
    assert drawn[tuple(np.round(to_rgb(DISTAL_COLOUR), 3))] == n_shown - n_local
    assert len(fig.left_out) == (1 if n_shown < len(peaks) else 0)
    hot = plot_hotspots(study_tables["hotspots"], position_label="cM", window=10.0)
    assert len(hot.axes[0].get_lines()) == 4 and "largest: " in hot.axes[0].get_title(loc="left")
    for name, figure in (("cis_trans.png", fig), ("hotspots.png", hot)):
        atomic.save_figure(tmp_path / name, figure)
        first = (tmp_path / name).read_bytes()
        atomic.save_figure(tmp_path / name, figure)
        assert first == (tmp_path / name).read_bytes() and first[:4] == b"\x89PNG"


def test_figures_without_peaks():
    markers = pd.DataFrame({"chr": ["1", "1"], "pos": [0.0, 5.0]})
    empty = pd.DataFrame({"phenotype": [], "chr": [], "pos": [], "lod": [], "trait_chr": [], "trait_pos": [],
                          "cis": pd.array([], dtype="boolean")})
    assert "No significant peak" in plot_cis_trans(empty, markers, position_label="cM").axes[0].texts[0].get_text()
    none = pd.DataFrame({"chr": ["1", "1"], "pos": [0.0, 5.0], "n_peaks": [0, 0]})
    assert "No significant peak" in plot_hotspots(none, position_label="cM", window=2).axes[0].texts[0].get_text()

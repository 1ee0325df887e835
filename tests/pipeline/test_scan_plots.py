"""Figures of the genome scan (lmm.pipeline.scan_plots), on small seeded synthetic LOD tables."""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lmm.peaks import find_peaks  # noqa: E402
from lmm.pipeline import atomic, scan_plots  # noqa: E402
from lmm.scan import lod_to_pvalue  # noqa: E402

CHROMS = ["1", "2", "10", "X"]          # not sorted: the genome order is the markers' order
PHENOS = ["bw", "NA", "open field", "flat"]


def _tables(chroms=CHROMS, per_chr=30, seed=3, df=7, threshold=3.0):
    """lod, markers, peaks in the workflow's formats; peaks from lmm.peaks.find_peaks."""
    rng = np.random.default_rng(seed)
    chr_col = np.repeat(chroms, per_chr)
    pos = np.concatenate([np.sort(rng.uniform(2, 90, per_chr)) for _ in chroms])
    q = chr_col.size
    L = np.abs(rng.normal(0, 0.8, (q, len(PHENOS))))
    bump = lambda c, centre, h: h * np.exp(-0.5 * ((np.arange(q) - c) / 2.0) ** 2)  # noqa: E731
    L[:, 0] += bump(10, 10, 9.0) + bump(per_chr + 15, 0, 5.0)        # bw: two peaks
    L[:, 1] += bump(q - 8, 0, 6.0)                                    # NA: one peak on the last chromosome
    L[:, 2] += bump(2 * per_chr + 5, 0, 4.5) if len(chroms) > 2 else bump(5, 0, 4.5)
    L[:, 3] = np.minimum(L[:, 3], 2.0)                                # flat: no peak
    markers_names = [f"m{i:03d}" for i in range(q)]
    lod = pd.concat([pd.DataFrame({"marker": markers_names, "chr": chr_col, "pos": pos}),
                     pd.DataFrame(L, columns=PHENOS)], axis=1)
    markers = pd.DataFrame({"marker": markers_names, "chr": chr_col, "pos": pos, "df": np.full(q, df)})
    starts = np.concatenate([[0], np.cumsum([per_chr] * len(chroms))])
    pk = find_peaks(L, starts, pos, threshold=threshold, drop=1.5)
    peaks = pd.DataFrame({
        "phenotype": [PHENOS[j] for j in pk.lodindex], "chr": [chroms[c] for c in pk.chr],
        "marker": [markers_names[i] for i in pk.index], "pos": pk.pos, "lod": pk.lod,
        "pvalue": lod_to_pvalue(pk.lod, df), "df": df, "ci_lo": pk.ci_lo, "ci_hi": pk.ci_hi,
        "hsq": 0.4, "n": 100, "threshold": np.nan})
    return lod, markers, peaks


def _dashed_levels(ax):
    return sorted(float(line.get_ydata()[0]) for line in ax.get_lines()
                  if line.get_linestyle() == "--" and np.ptp(line.get_ydata()) == 0)


def _labels(ax):
    return [t for t in ax.texts if "LOD" in t.get_text()]


def _tick_texts(ax):
    return [t.get_text() for t in ax.get_xticklabels()]


# --------------------------------------------------------------------------- genome axis


def test_genome_layout_orders_chromosomes_as_markers_and_leaves_gaps():
    layout = scan_plots.genome_layout(["3", "3", "1", "1", "X"], [5.0, 25.0, 0.0, 10.0, 7.0])
    assert layout.names == ["3", "1", "X"]
    gap = scan_plots.GAP_FRACTION * 30.0
    np.testing.assert_allclose(layout.start, [5.0, 25.0 + gap, 35.0 + 2 * gap])
    np.testing.assert_allclose(layout.x(["1", "X"], [10.0, 7.0]), [35.0 + gap, 35.0 + 2 * gap])
    with pytest.raises(KeyError, match="'Y'"):
        layout.x(["Y"], [1.0])


def test_single_chromosome_axis_is_its_positions():
    layout = scan_plots.genome_layout(["7"] * 3, [3.0, 4.0, 9.0])
    np.testing.assert_allclose(layout.x(["7"] * 3, [3.0, 4.0, 9.0]), [3.0, 4.0, 9.0])


# --------------------------------------------------------------------------- LOD curves


def test_lod_curves_panels_order_thresholds_and_labels():
    lod, _, peaks = _tables()
    fig = scan_plots.plot_lod_curves(lod, peaks, position_label="cM", threshold=3.0,
                                     thresholds={"bw": 7.5})
    assert isinstance(fig, Figure)
    axes = fig.axes
    top = peaks.groupby("phenotype")["lod"].max().sort_values(ascending=False)
    assert [ax.get_title(loc="left") for ax in axes] == list(top.index)     # highest peak first
    assert "flat" not in [ax.get_title(loc="left") for ax in axes]
    assert _tick_texts(axes[-1]) == CHROMS
    assert all(ax.xaxis.get_label().get_text() == "" for ax in axes[:-1])
    assert "cM" in axes[-1].get_xlabel()
    for ax in axes:
        name = ax.get_title(loc="left")
        assert _dashed_levels(ax) == ([3.0, 7.5] if name == "bw" else [3.0])
        labels = _labels(ax)
        assert labels, name                                  # the highest peak is always labelled
        best = peaks[peaks["phenotype"] == name].nlargest(1, "lod").iloc[0]
        assert labels[0].get_text().startswith(f"{best['marker']}\nLOD {best['lod']:.2f}")
        assert f"chr {best['chr']}," in labels[0].get_text()
    # the labels overlap neither each other nor a panel's title
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    for ax in axes:
        boxes = [t.get_window_extent(renderer) for t in _labels(ax)]
        title = ax.title.get_window_extent(renderer)
        for i, a in enumerate(boxes):
            assert not a.overlaps(title)
            assert all(not a.overlaps(b) for b in boxes[i + 1:])


def test_lod_curves_max_panels_notes_the_rest():
    lod, _, peaks = _tables()
    fig = scan_plots.plot_lod_curves(lod, peaks, position_label="Mbp", max_panels=1)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title(loc="left") == "bw"
    assert "(1 of 3; 2 more phenotypes with peaks not shown)" in fig.get_suptitle()
    assert _dashed_levels(fig.axes[0]) == []                 # no threshold given: no line


def test_lod_curves_uses_permutation_thresholds_of_the_peaks_table():
    lod, _, peaks = _tables()
    peaks.loc[peaks["phenotype"] == "NA", "threshold"] = 5.25
    fig = scan_plots.plot_lod_curves(lod, peaks, position_label="cM", threshold=3.0)
    by_name = {ax.get_title(loc="left"): ax for ax in fig.axes}
    assert _dashed_levels(by_name["NA"]) == [3.0, 5.25]
    assert _dashed_levels(by_name["bw"]) == [3.0]


def test_lod_curves_without_peaks_says_so():
    lod, _, peaks = _tables()
    fig = scan_plots.plot_lod_curves(lod, peaks.iloc[:0], position_label="cM", threshold=12.0)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(texts) == 1
    assert texts[0].startswith("No peaks: no phenotype has a LOD above the peak threshold (12).")
    assert "The highest LOD of the scan is" in texts[0] and "(bw, marker" in texts[0]
    assert not fig.axes[0].axison


def test_lod_curves_one_chromosome():
    lod, _, peaks = _tables(chroms=["1"])
    fig = scan_plots.plot_lod_curves(lod, peaks, position_label="cM", threshold=3.0)
    assert fig.axes[-1].get_xlabel() == "Chromosome 1, position (cM)"
    lo, hi = fig.axes[-1].get_xlim()
    assert lo == pytest.approx(lod["pos"].min()) and hi == pytest.approx(lod["pos"].max())


def test_lod_curves_reject_unnamed_or_unknown_phenotypes():
    lod, _, peaks = _tables()
    bad = peaks.copy()
    bad.loc[bad["phenotype"] == "NA", "phenotype"] = np.nan
    with pytest.raises(ValueError, match="phenotype named 'NA' was read as missing"):
        scan_plots.plot_lod_curves(lod, bad, position_label="cM")
    bad = peaks.replace({"phenotype": {"bw": "nope"}})
    with pytest.raises(ValueError, match="not in the LOD table"):
        scan_plots.plot_lod_curves(lod, bad, position_label="cM")


# --------------------------------------------------------------------------- Manhattan


@pytest.mark.parametrize("phenotype", ["NA", "open field"])
def test_manhattan_points_colours_and_bonferroni(phenotype):
    lod, markers, _ = _tables()
    markers.loc[5, "df"] = 0                                  # a marker not tested: p = 1
    fig = scan_plots.plot_manhattan(lod, markers, phenotype, position_label="cM")
    (ax,) = fig.axes
    assert _tick_texts(ax) == CHROMS
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(lod)
    expected = -np.log10(lod_to_pvalue(lod[phenotype].to_numpy(), markers["df"].to_numpy()))
    np.testing.assert_allclose(np.sort(points[:, 1]), np.sort(expected), rtol=1e-12, atol=1e-300)
    colours = [tuple(c.get_facecolor()[0]) for c in ax.collections]
    assert len(ax.collections) == 2 and colours[0] != colours[1]
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [60, 60]                                  # chromosomes 1, 10 | 2, X
    q = len(lod) - 1
    assert _dashed_levels(ax) == [pytest.approx(-np.log10(0.05 / q))]
    assert any(f"Bonferroni 0.05 ({q} markers)" in t.get_text() for t in ax.texts)
    assert ax.get_title(loc="left").startswith(f"{phenotype}: −log10 p")


def test_manhattan_huge_lod_does_not_underflow():
    lod, markers, _ = _tables()
    lod.loc[3, "bw"] = 400.0                                  # p underflows to 0 in double
    fig = scan_plots.plot_manhattan(lod, markers, "bw", position_label="cM")
    y = np.concatenate([c.get_offsets()[:, 1] for c in fig.axes[0].collections])
    assert np.isfinite(y).all() and y.max() > 390
    # the asymptotic series where p underflows (reference values: mpmath, 50 digits)
    got = scan_plots.neg_log10_pvalue(np.array([400.0, 1000.0, 2.0]), np.array([1, 7, 7]))
    np.testing.assert_allclose(got[:2], [401.73094822186295, 992.1155654063054], rtol=1e-13)
    assert got[2] == pytest.approx(-np.log10(lod_to_pvalue(2.0, 7)), rel=1e-15)


def test_manhattan_checks_its_inputs():
    lod, markers, _ = _tables()
    with pytest.raises(ValueError, match="'nope' is not in the LOD table"):
        scan_plots.plot_manhattan(lod, markers, "nope", position_label="cM")
    with pytest.raises(ValueError, match="same markers in the same order"):
        scan_plots.plot_manhattan(lod, markers.iloc[::-1], "bw", position_label="cM")


# --------------------------------------------------------------------------- peak map


def test_peak_map_rows_ordered_by_position_of_the_top_peak():
    lod, markers, peaks = _tables()
    fig = scan_plots.plot_peak_map(peaks, markers, position_label="cM")
    ax, cbar = fig.axes
    assert cbar.get_ylabel() == "LOD at the peak"
    assert _tick_texts(ax) == CHROMS
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["bw", "open field", "NA"]                 # top peaks on 1, 10, X
    points = ax.collections[-1].get_offsets()
    assert len(points) == len(peaks)
    np.testing.assert_allclose(np.sort(ax.collections[-1].get_array()), np.sort(peaks["lod"]))


def test_peak_map_many_phenotypes_counts_rows():
    rng = np.random.default_rng(7)
    _, markers, _ = _tables()
    k = 300
    i = rng.integers(0, len(markers), k)
    peaks = pd.DataFrame({"phenotype": [f"gene {j}" for j in range(k)], "chr": markers["chr"].to_numpy()[i],
                          "marker": markers["marker"].to_numpy()[i], "pos": markers["pos"].to_numpy()[i],
                          "lod": rng.uniform(3, 20, k)})
    fig = scan_plots.plot_peak_map(peaks, markers, position_label="Mbp")
    ax = fig.axes[0]
    assert ax.get_ylabel() == f"phenotypes, ordered by the position of their highest peak ({k})"
    assert not any(t.get_text().startswith("gene") for t in ax.get_yticklabels())
    ys = ax.collections[-1].get_offsets()[:, 1]
    assert sorted(set(ys)) == list(range(k))
    fig = scan_plots.plot_peak_map(peaks, markers, position_label="Mbp", max_phenotypes=50)
    assert len(fig.axes[0].get_yticklabels()) == 50
    assert "the 50 with the highest peaks of 300 phenotypes" in fig.axes[0].get_title(loc="left")


def test_peak_map_without_peaks_says_so():
    _, markers, peaks = _tables()
    fig = scan_plots.plot_peak_map(peaks.iloc[:0], markers, position_label="cM")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts and texts[0].startswith("No peaks")


# --------------------------------------------------------------------------- determinism


def test_png_byte_identical_when_saved_twice(tmp_path):
    lod, markers, peaks = _tables()
    builders = {
        "curves": lambda: scan_plots.plot_lod_curves(lod, peaks, position_label="cM", threshold=3.0),
        "manhattan": lambda: scan_plots.plot_manhattan(lod, markers, "NA", position_label="cM"),
        "map": lambda: scan_plots.plot_peak_map(peaks, markers, position_label="cM"),
    }
    for name, build in builders.items():
        fig = build()
        atomic.save_figure(tmp_path / f"{name}1.png", fig, dpi=60)
        atomic.save_figure(tmp_path / f"{name}2.png", fig, dpi=60)
        atomic.save_figure(tmp_path / f"{name}3.png", build(), dpi=60)
        first = (tmp_path / f"{name}1.png").read_bytes()
        assert first[:8] == b"\x89PNG\r\n\x1a\n"
        assert first == (tmp_path / f"{name}2.png").read_bytes() == (tmp_path / f"{name}3.png").read_bytes()


# --------------------------------------------------------------------------- non-finite LODs


def _inf_tables():
    """bw explained exactly by its top marker (LOD +inf there, as for y = 3·dosage + 1)."""
    lod, markers, peaks = _tables()
    top = peaks[peaks["phenotype"] == "bw"]["lod"].idxmax()
    marker = peaks.loc[top, "marker"]
    lod.loc[lod["marker"] == marker, "bw"] = np.inf
    peaks.loc[top, "lod"] = np.inf
    return lod, markers, peaks, marker


def _all_text(fig):
    texts = [t.get_text() for t in fig.texts] + [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")] + [t.get_text() for t in ax.texts]
    return "\n".join(texts)


def test_every_scan_plot_draws_an_infinite_lod_at_the_top_and_says_so(tmp_path, caplog):
    lod, markers, peaks, marker = _inf_tables()
    figs = {
        "curves": scan_plots.plot_lod_curves(lod, peaks, position_label="cM", threshold=3.0),
        "manhattan": scan_plots.plot_manhattan(lod, markers, "bw", position_label="cM"),
        "map": scan_plots.plot_peak_map(peaks, markers, position_label="cM"),
    }
    for what, fig in figs.items():
        assert any("bw: LOD infinite at marker" in n and marker in n for n in fig.left_out), what
        assert "Left out" in _all_text(fig) and marker in _all_text(fig), what
        atomic.save_figure(tmp_path / f"{what}.png", fig, dpi=60)
        assert (tmp_path / f"{what}.png").stat().st_size > 0
        for ax in fig.axes:
            assert np.isfinite(ax.get_ylim()).all() and np.isfinite(ax.get_xlim()).all()
    ax = figs["curves"].axes[0]
    assert ax.get_title(loc="left") == "bw"
    tri = [ln for ln in ax.get_lines() if ln.get_marker() == "^"]
    assert tri and np.allclose(tri[0].get_ydata(), ax.get_ylim()[1])
    assert any("LOD infinite" in r.getMessage() for r in caplog.records)


def test_every_scan_plot_survives_an_all_nan_lod_table(tmp_path):
    lod, markers, peaks = _tables()
    lod[PHENOS] = np.nan
    empty = peaks.iloc[:0]
    curves = scan_plots.plot_lod_curves(lod, empty, position_label="cM", threshold=3.0)
    manhattan = scan_plots.plot_manhattan(lod, markers, "bw", position_label="cM")
    peak_map = scan_plots.plot_peak_map(empty, markers, position_label="cM")
    assert any("no finite LOD, not drawn" in n for n in curves.left_out)
    assert manhattan.left_out == ["phenotype bw: no finite LOD, not drawn"]
    assert "no finite LOD" in _all_text(manhattan)
    assert peak_map.left_out == []
    for k, fig in enumerate((curves, manhattan, peak_map)):
        atomic.save_figure(tmp_path / f"f{k}.png", fig, dpi=60)


def test_scan_plots_with_mixed_nan_and_inf_lods():
    lod, markers, peaks, marker = _inf_tables()
    lod.loc[:4, "bw"] = np.nan                          # gaps
    lod["flat"] = np.nan                                # a phenotype with no LOD at all
    lod.loc[3, "NA"] = np.inf
    peaks = pd.concat([peaks, peaks.iloc[[0]].assign(lod=np.nan)], ignore_index=True)  # a peak without LOD
    curves = scan_plots.plot_lod_curves(lod, peaks[peaks["lod"].notna()], position_label="cM")
    notes = "\n".join(curves.left_out)
    assert "phenotype flat: no finite LOD, not drawn" in notes
    assert "phenotype bw: no LOD at 5 markers" in notes and "phenotype NA: LOD infinite at marker m003" in notes
    manhattan = scan_plots.plot_manhattan(lod, markers, "bw", position_label="cM")
    assert any("no LOD at 5 markers" in n for n in manhattan.left_out)
    peak_map = scan_plots.plot_peak_map(peaks, markers, position_label="cM")
    assert any("without a LOD" in n for n in peak_map.left_out)
    assert any("LOD infinite" in n for n in peak_map.left_out)
    only_inf = peaks[peaks["phenotype"] == "bw"].assign(lod=np.inf)   # no finite LOD at all
    assert len(scan_plots.plot_peak_map(only_inf, markers, position_label="cM").left_out) == len(only_inf)


def test_scan_plots_report_nothing_left_out_on_clean_tables():
    lod, markers, peaks = _tables()
    assert scan_plots.plot_lod_curves(lod, peaks, position_label="cM").left_out == []
    assert scan_plots.plot_manhattan(lod, markers, "bw", position_label="cM").left_out == []
    assert scan_plots.plot_peak_map(peaks, markers, position_label="cM").left_out == []


def test_region_thresholds_draw_the_x_threshold_over_the_x_only():
    from lmm.pipeline.scan_plots import plot_lod_curves, region_thresholds

    thr = pd.DataFrame({"phenotype": ["a", "a", "b"], "region": ["A", "X", "all"], "threshold": [4.0, 5.5, 3.5]})
    got = region_thresholds(thr, ["1", "2", "X"], ["X"])
    assert got == {"a": {"1": 4.0, "2": 4.0, "X": 5.5}, "b": 3.5}
    lod = pd.DataFrame({"marker": [f"m{k}" for k in range(9)], "chr": ["1"] * 3 + ["2"] * 3 + ["X"] * 3,
                        "pos": [0.0, 5.0, 10.0] * 3, "a": [1, 6, 1, 1, 2, 1, 1, 7, 1.0]})
    peaks = pd.DataFrame({"phenotype": ["a", "a"], "chr": ["1", "X"], "marker": ["m1", "m7"], "pos": [5.0, 5.0],
                          "lod": [6.0, 7.0], "threshold": [4.0, 5.5]})
    fig = plot_lod_curves(lod, peaks, position_label="cM", thresholds=got)
    ax = fig.axes[0]
    segments = [c for c in ax.collections if c.get_segments()]
    levels = {}
    for coll in segments:
        for seg in coll.get_segments():
            levels.setdefault(float(seg[0][1]), []).append((float(seg[0][0]), float(seg[1][0])))
    assert sorted(levels) == [4.0, 5.5]
    assert len(levels[4.0]) == 2 and len(levels[5.5]) == 1
    x_lo, x_hi = levels[5.5][0]
    assert all(hi <= x_lo + 1e-9 for _, hi in levels[4.0])    # the X threshold lies right of the autosomes'

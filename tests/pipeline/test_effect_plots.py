"""lmm.pipeline.effect_plots: genotype calls for allele probabilities (DO: eight founders),
genotype probabilities (an F2: SS, SB, BB; its X: SS, SB, BS, BB, SY, BY) and dosages, and the
phenotype-by-genotype panel's classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmm.checks import GENOTYPE_CALL_TOL
from lmm.pipeline.effect_plots import genotype_calls, plot_peak_effects

X_COLUMNS = ["SS", "SB", "BS", "BB", "SY", "BY"]


def test_allele_probabilities_are_called_as_pairs_of_alleles():
    g = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.7, 0.3, 0.0]])   # expected counts 1.4, 0.6: not within 0.25 of integers
    assert genotype_calls(g, ["A", "B", "C"]).tolist() == ["AA", "AB", "BC", ""]


def test_genotype_probabilities_are_called_by_their_column():
    g = np.zeros((5, 6))
    g[0, 0] = g[1, 2] = g[2, 4] = g[3, 5] = 1.0
    g[4, [1, 2]] = 0.5                                  # unsure between SB and BS: not called
    g[2, 4] -= GENOTYPE_CALL_TOL / 2                     # within the tolerance of 1: called
    calls = genotype_calls(g, X_COLUMNS, genotype_columns=True)
    assert calls.tolist() == ["SS", "BS", "SY", "BY", ""]
    # read as alleles, the same rows would be nonsense pairs ("SSSS"): the flag matters
    assert genotype_calls(g[:1], X_COLUMNS)[0] == "SSSS"


def test_dosages_are_called_as_counts():
    assert genotype_calls(np.array([[0.0], [1.0], [2.0], [1.5]]), ["A"]).tolist() == ["0", "1", "2", ""]


def test_the_figure_of_an_f2_x_peak_shows_its_genotype_classes_in_column_order():
    rng = np.random.default_rng(3)
    n = 60
    G = np.zeros((n, 6))
    G[np.arange(n), rng.integers(0, 6, n)] = 1.0
    y = G @ np.arange(6.0) + rng.normal(size=n)
    pos = np.array([10.0, 20.0, 30.0])
    curve = pd.DataFrame([{"marker": f"m{i}", "pos": pos[i], "coefficient": c, "estimate": float(k - 2.5) * (i + 1),
                           "lod": 2.0 + i} for i in range(3) for k, c in enumerate(X_COLUMNS)])
    peak = next(pd.DataFrame([{"phenotype": "spleen", "chr": "X", "marker": "m2", "pos": 30.0, "lod": 4.0,
                               "rank": 1}]).itertuples(index=False))
    fig = plot_peak_effects(curve, peak, X_COLUMNS, y, G, position_label="cM", genotype_columns=True)
    ax_coef, _, ax_pxg = fig.axes
    labels = [t.get_text().split("\n")[0] for t in ax_pxg.get_xticklabels()]
    present = [c for c in X_COLUMNS if G[:, X_COLUMNS.index(c)].any()]
    assert labels == present
    counts = [int(t.get_text().split("(")[1].rstrip(")")) for t in ax_pxg.get_xticklabels()]
    assert sum(counts) == n
    assert [t.get_text() for t in ax_coef.get_legend().get_texts()] == X_COLUMNS

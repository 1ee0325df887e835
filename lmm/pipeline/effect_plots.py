"""Figures of the QTL effects: for a peak, the allele effects along its chromosome above the LOD
curve (R/qtl2's ``plot_coefCC``) beside the phenotype by genotype at the peak marker.

Like :mod:`lmm.pipeline.scan_plots`, every function returns a :class:`matplotlib.figure.Figure`
on the Agg canvas (no ``pyplot`` state) that the caller saves; what a figure cannot show (markers
with no estimate, individuals whose genotype is not called) is said on it, logged as a warning and
listed in ``figure.left_out``.

Tables
------
``curve``
    One peak's rows of ``results/scan/effects_curves.parquet``
    (:data:`lmm.pipeline.qtl_effects.CURVE_COLUMNS`): every marker of its chromosome, fit1's
    estimates (zerosum) and LOD.
``peak``
    Its row of :func:`lmm.pipeline.qtl_effects.plotted_peaks` (``phenotype, chr, marker, pos, lod, rank``).

Colours: with eight alleles R/qtl2's founder colours (:data:`CC_COLORS`, A/J … WSB/EiJ); with
another number, matplotlib's ``tab10``/``tab20`` cycle.
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lmm.checks import GENOTYPE_CALL_TOL  # noqa: E402

__all__ = ["CC_COLORS", "allele_colors", "genotype_calls", "plot_peak_effects"]

_LOG = logging.getLogger(__name__)

#: R/qtl2's colours of the eight Collaborative Cross founders (``CCcolors``), alleles A to H.
CC_COLORS = ("#FFDC00", "#888888", "#F08080", "#0064C9", "#7FDBFF", "#2ECC40", "#FF4136", "#B10DC9")


def allele_colors(k: int) -> list:
    """Colours of ``k`` genotype columns: :data:`CC_COLORS` for 8, else a qualitative cycle."""
    if k == 8:
        return list(CC_COLORS)
    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def genotype_calls(genotypes: np.ndarray, alleles, *, genotype_columns: bool = False) -> np.ndarray:
    """Genotype of each individual at one marker, or ``""`` when it is not called.

    Parameters
    ----------
    genotypes : ndarray, shape (n, k)
        Allele probabilities (``k > 1``; diploid: expected counts ``2·p``), genotype
        probabilities (`genotype_columns`) or dosages (``k = 1``).
    alleles : sequence of str
        The ``k`` column names: alleles, genotypes (``SS, SB, BB``; an F2's X ``SS, SB, BS, BB,
        SY, BY``) or, for dosages, the counted allele's name (used as ``0``, ``1``, ``2``).
    genotype_columns : bool
        The columns are genotypes, not alleles: an individual is called the column whose
        probability is within :data:`lmm.checks.GENOTYPE_CALL_TOL` of 1.

    Returns
    -------
    ndarray of str, shape (n,)
        Allele probabilities: ``AA``, ``AB``, … (alleles in their given order), called when every
        expected count is within :data:`lmm.checks.GENOTYPE_CALL_TOL` of an integer and the
        integers sum to 2; genotype probabilities: the column's name; dosages: ``0``, ``1``, ``2``.
    """
    g = np.asarray(genotypes, dtype=float)
    if genotype_columns and g.shape[1] > 1:
        best = np.argmax(g, axis=1)
        sure = np.abs(g[np.arange(g.shape[0]), best] - 1.0) <= GENOTYPE_CALL_TOL
        return np.where(sure, np.asarray([str(a) for a in alleles], dtype=object)[best], "").astype(object)
    counts = 2.0 * g if g.shape[1] > 1 else g
    rounded = np.rint(counts)
    ok = (np.abs(counts - rounded) <= GENOTYPE_CALL_TOL).all(axis=1) & (rounded >= 0).all(axis=1)
    ok &= (rounded.sum(axis=1) == 2) if g.shape[1] > 1 else (rounded[:, 0] <= 2)
    out = np.full(g.shape[0], "", dtype=object)
    names = [str(a) for a in alleles]
    for i in np.flatnonzero(ok):
        if g.shape[1] == 1:
            out[i] = str(int(rounded[i, 0]))
        else:
            out[i] = "".join(names[a] * int(rounded[i, a]) for a in range(len(names)))
    return out


def _coef_panel(ax, curve: pd.DataFrame, alleles, peak, notes: list) -> None:
    colors = allele_colors(len(alleles))
    for a, color in zip(alleles, colors):
        rows = curve[curve["coefficient"] == a]
        ax.plot(rows["pos"].to_numpy(float), rows["estimate"].to_numpy(float), color=color, lw=1.4, label=a)
    nan = curve[curve["coefficient"].isin(alleles)].groupby("marker", sort=False)["estimate"].apply(
        lambda v: bool(v.isna().any()))
    if nan.any():
        notes.append(f"{int(nan.sum())} marker(s) with no estimate (an allele absent): gaps in the curves")
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.axvline(float(peak.pos), color="0.3", lw=0.6, ls=":")
    ax.set_ylabel("dosage effect" if len(alleles) == 1 else "allele effect (centred)")
    ax.legend(ncol=min(len(alleles), 8), fontsize=7, loc="upper left", frameon=False, handlelength=1.2,
              columnspacing=0.8)


def _pxg_panel(ax, y: np.ndarray, calls: np.ndarray, alleles, notes: list, genotype_columns: bool) -> None:
    called = calls != ""
    if (~called).any():
        rule = "no genotype's probability" if genotype_columns else "expected counts not"
        notes.append(f"{int((~called).sum())} of {calls.size} individuals with no clear genotype "
                     f"({rule} within {GENOTYPE_CALL_TOL} of {'1' if genotype_columns else 'integers'}): not drawn")
    names = [str(a) for a in alleles]
    if genotype_columns:   # the columns' order (qtl2's: SS, SB, BB; X: SS, SB, BS, BB, SY, BY)
        classes = [c for c in names if c in set(calls[called].tolist())]
    else:
        classes = sorted(set(calls[called].tolist()), key=lambda c: (len(set(c)) > 1, c))
    colors = dict(zip(names, allele_colors(len(alleles))))
    xs, vs, cs, means, ses = [], [], [], [], []
    for x, c in enumerate(classes):                                        # one class per genotype: few
        v = y[calls == c]
        xs.append(x + ((np.arange(v.size) * 0.618034) % 1.0 - 0.5) * 0.5)  # deterministic jitter
        vs.append(v)
        if genotype_columns:                                               # a genotype: its column's colour
            color = colors[c]
        elif len(alleles) > 1 and len(set(c)) == 1:                        # a homozygote: its allele's
            color = colors.get(c[0], "0.45")
        else:
            color = "0.45"
        cs.extend([color] * v.size)
        means.append(float(np.mean(v)))
        ses.append(float(np.std(v, ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0)
    if classes:
        ax.scatter(np.concatenate(xs), np.concatenate(vs), s=6, c=cs, edgecolors="0.2", linewidths=0.3, zorder=2)
        ax.errorbar(np.arange(len(classes)), means, yerr=ses, fmt="_", color="black", ms=9, mew=1.5, capsize=2.5,
                    zorder=3)
    few = len(classes) <= 12
    ax.set_xticks(range(len(classes)), [f"{c}{chr(10) if few else ' '}({int(np.sum(calls == c))})" for c in classes],
                  fontsize=7 if few else 6, rotation=0 if few else 90)
    ax.set_xlim(-0.7, max(len(classes), 1) - 0.3)
    ax.set_xlabel("genotype (individuals); mean ± SE")


def plot_peak_effects(curve: pd.DataFrame, peak, alleles, y: np.ndarray, genotypes: np.ndarray, *,
                      position_label: str, genotype_columns: bool = False) -> Figure:
    """One peak: allele effects along its chromosome over the LOD curve, and phenotype by genotype.

    Parameters
    ----------
    curve : pandas.DataFrame
        The peak's curve rows (module Tables).
    peak : row (attributes ``phenotype, chr, marker, pos, lod, rank``)
    alleles : sequence of str
        The genotype coefficients drawn (the alleles, or ``["dosage"]``).
    y : ndarray, shape (n,)
        The phenotype of the individuals observed and genotyped (as analysed: transformed).
    genotypes : ndarray, shape (n, k)
        Their genotypes at the peak marker (:func:`genotype_calls`).
    position_label : str
        Unit of the positions.
    genotype_columns : bool
        The columns are genotype probabilities (an F2's ``SS, SB, BB``), not alleles
        (:func:`genotype_calls`).
    """
    fig = Figure(figsize=(11, 5.2))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.9, 1], height_ratios=[2, 1], left=0.07, right=0.985,
                            bottom=0.12, top=0.87, wspace=0.16, hspace=0.08)
    ax_coef = fig.add_subplot(grid[0, 0])
    ax_lod = fig.add_subplot(grid[1, 0], sharex=ax_coef)
    ax_pxg = fig.add_subplot(grid[:, 1])
    notes: list = []
    _coef_panel(ax_coef, curve, list(alleles), peak, notes)
    lod = curve.drop_duplicates("marker")
    ax_lod.plot(lod["pos"].to_numpy(float), lod["lod"].to_numpy(float), color="black", lw=1.2)
    ax_lod.axvline(float(peak.pos), color="0.3", lw=0.6, ls=":")
    ax_lod.set_ylabel("LOD")
    ax_lod.set_ylim(bottom=0)
    ax_lod.set_xlabel(f"chromosome {peak.chr} position ({position_label})")
    ax_coef.tick_params(labelbottom=False)
    calls = genotype_calls(genotypes, alleles, genotype_columns=genotype_columns)
    _pxg_panel(ax_pxg, np.asarray(y, dtype=float), calls, alleles, notes, genotype_columns)
    ax_pxg.set_ylabel(str(peak.phenotype))
    title = (f"#{int(peak.rank)} {peak.phenotype}, chromosome {peak.chr}: peak at {peak.marker} "
             f"({float(peak.pos):.4g} {position_label}), LOD {float(peak.lod):.3g}")
    fig.left_out = list(notes)
    for note in notes:
        _LOG.warning("%s: %s", peak.phenotype, note)
    fig.suptitle(title + ("\n" + "; ".join(notes) if notes else ""), fontsize=10)
    return fig

"""Figures of an eQTL study: peak counts along the genome (hotspots) and peak against trait position.

Like :mod:`lmm.pipeline.scan_plots` (whose genome axis and conventions they share): each function
takes tables and returns a :class:`matplotlib.figure.Figure` on the Agg canvas, which the caller
saves (:func:`lmm.pipeline.atomic.save_figure`); what a figure cannot draw is said on it, logged
as a warning and listed in ``figure.left_out``.

Tables
------
``hotspots``
    ``chr, pos, n_peaks`` (:func:`lmm.pipeline.eqtl.hotspot_table`).
``peaks``
    ``phenotype, chr, pos, lod`` with ``trait_chr, trait_pos, cis``
    (:func:`lmm.pipeline.eqtl.annotate_peaks`), the significant peaks.
``markers``
    ``chr, pos``: the genome axis (chromosomes in the markers' order).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lmm.pipeline.scan_plots import (genome_axis, genome_layout, freeze_layout, message_figure,  # noqa: E402
                                     new_figure, record_left_out)

__all__ = ["plot_hotspots", "plot_cis_trans", "LOCAL_COLOUR", "DISTAL_COLOUR"]

#: Colours of local (cis) and distal (trans) peaks.
LOCAL_COLOUR = "#c0392b"
DISTAL_COLOUR = "#1b4f8a"
_HOTSPOT_COLOUR = "#1b4f8a"


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} table lacks the column(s) {missing}")


def plot_hotspots(hotspots: pd.DataFrame, *, position_label: str, window: float) -> Figure:
    """Number of significant peaks in a sliding window along the genome (``hotspots.png``).

    Parameters
    ----------
    hotspots : pandas.DataFrame
        ``chr, pos, n_peaks``, rows in genome order.
    position_label : str
        Unit of the positions (``"cM"``, ``"Mbp"``).
    window : float
        The window's width (for the title).

    Returns
    -------
    matplotlib.figure.Figure
        One line per chromosome (counts at the window centres), the largest count named in the
        title; with no row, or no peak at all, a figure that says so.
    """
    _require(hotspots, ("chr", "pos", "n_peaks"), "hotspot")
    title = "Hotspots: significant peaks in a sliding window"
    if len(hotspots) == 0:
        return message_figure(title, "No markers: no window to count peaks in.")
    counts = hotspots["n_peaks"].to_numpy(float)
    if not (counts > 0).any():
        return message_figure(title, f"No significant peak: every window of {window:g} {position_label} "
                                     "holds none.")
    layout = genome_layout(hotspots["chr"], hotspots["pos"])
    x = layout.x(hotspots["chr"].astype(str), hotspots["pos"])
    fig = new_figure(figsize=(10, 3.4))
    ax = fig.add_subplot()
    genome_axis(ax, layout, position_label)
    chrom = hotspots["chr"].astype(str).to_numpy()
    for name in layout.names:
        on = chrom == name
        ax.plot(x[on], counts[on], color=_HOTSPOT_COLOUR, lw=0.9, drawstyle="steps-mid")
    ax.set_ylim(0, counts.max() * 1.08 + 0.5)
    ax.set_ylabel("peaks in the window", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    top = int(np.argmax(counts))
    record_left_out(fig, [])
    ax.set_title(f"{title} of {window:g} {position_label}\nlargest: {int(counts[top])} peaks at chromosome "
                 f"{chrom[top]}, {hotspots['pos'].iloc[top]:g} {position_label}", fontsize=9, loc="left")
    return freeze_layout(fig)


def plot_cis_trans(peaks: pd.DataFrame, markers: pd.DataFrame, *, position_label: str) -> Figure:
    """Each significant peak's position (x) against its trait's position (y), genome by genome
    (``cis_trans.png``, like R/qtl2's ``plot_cistrans``).

    Parameters
    ----------
    peaks : pandas.DataFrame
        ``phenotype, chr, pos, lod, trait_chr, trait_pos, cis``.
    markers : pandas.DataFrame
        ``chr, pos``: both axes' chromosomes and extents.
    position_label : str
        Unit of the positions.

    Returns
    -------
    matplotlib.figure.Figure
        Square; chromosome boundaries as grid lines on both axes; local peaks (on the diagonal) and
        distal ones in two colours, point area growing with the LOD. Peaks whose trait has no
        position, or lies on a chromosome without markers, are left out and said so.
    """
    _require(peaks, ("phenotype", "chr", "pos", "lod", "trait_chr", "trait_pos", "cis"), "peaks")
    _require(markers, ("chr", "pos"), "marker")
    title = "Peak position against trait position"
    if len(peaks) == 0:
        return message_figure(title, "No significant peak: nothing to draw.")
    layout = genome_layout(markers["chr"], markers["pos"])
    notes = []
    no_pos = peaks["trait_pos"].isna().to_numpy()
    if no_pos.any():
        names = list(dict.fromkeys(peaks["phenotype"].astype(str)[no_pos]))
        notes.append(f"{int(no_pos.sum())} peak(s) of {len(names)} trait(s) without a position (e.g. "
                     f"{', '.join(names[:3])}), not drawn")
    known = set(layout.names)
    off = ~no_pos & ~(peaks["trait_chr"].astype(str).isin(known) & peaks["chr"].astype(str).isin(known)).to_numpy()
    if off.any():
        notes.append(f"{int(off.sum())} peak(s) on or of a chromosome without markers, not drawn")
    shown = peaks[~no_pos & ~off]
    if len(shown) == 0:
        return message_figure(title, "No significant peak of a trait with a known position.", notes)
    px = layout.x(shown["chr"].astype(str), shown["pos"])
    ty = layout.x(shown["trait_chr"].astype(str), shown["trait_pos"])
    lod = shown["lod"].to_numpy(float)
    finite = lod[np.isfinite(lod)]
    top = finite.max() if finite.size else 1.0
    size = 6 + 30 * np.clip(np.nan_to_num(lod, nan=0.0, posinf=top) / max(top, 1e-12), 0, 1)
    local = shown["cis"].fillna(False).to_numpy(bool)
    fig = new_figure(figsize=(7.5, 7.5))
    ax = fig.add_subplot()
    genome_axis(ax, layout, position_label, shade=False, minor=False)
    ax.set_ylim(ax.get_xlim())
    ax.set_aspect("equal")
    bounds = np.concatenate([layout.start - layout.gap / 2, [layout.end[-1] + layout.gap / 2]])
    for b in bounds[1:-1]:
        ax.axvline(b, color="0.8", lw=0.5, zorder=0)
        ax.axhline(b, color="0.8", lw=0.5, zorder=0)
    if len(layout.names) > 1:
        ax.set_yticks(layout.mid, layout.names, fontsize=7)
        ax.tick_params(axis="y", length=0)
    ax.set_ylabel(f"Trait position (chromosome; {position_label})", fontsize=8)
    ax.set_xlabel(f"Peak position (chromosome; {position_label})", fontsize=8)
    for mask, colour, label in ((~local, DISTAL_COLOUR, "distal"), (local, LOCAL_COLOUR, "local")):
        ax.scatter(px[mask], ty[mask], s=size[mask], c=colour, lw=0, alpha=0.75, zorder=3,
                   label=f"{label} ({int(mask.sum())})")
    ax.legend(loc="upper left", fontsize=7, frameon=True, markerscale=1.2)
    left_text = record_left_out(fig, notes)
    ax.set_title(f"{title} ({len(shown)} peaks of {shown['phenotype'].nunique()} traits); area: LOD"
                 + (f"\nLeft out: {left_text}" if left_text else ""), fontsize=9, loc="left")
    return freeze_layout(fig)

"""Figures of the genome scan: LOD curves, a Manhattan plot of one phenotype, and the peak map.

Every function takes the scan's result tables (:mod:`pandas`) and returns a
:class:`matplotlib.figure.Figure` built with the object-oriented API on the Agg canvas (no global
``pyplot`` state); the caller saves it (:func:`lmm.pipeline.atomic.save_figure`). A PNG written
from the same tables is byte-identical on a rerun (Agg's PNG carries no date).

Tables (as the workflow writes them)
------------------------------------
``lod``
    ``marker, chr, pos`` then one float64 column per phenotype; rows are the markers in genome
    order (``results/scan/lod.parquet``).
``markers``
    ``marker, chr, pos, df``: the same rows, with each marker's degrees of freedom (1 for a dosage,
    7 for eight allele probabilities).
``peaks``
    ``phenotype, chr, marker, pos, lod, pvalue, df, ci_lo, ci_hi, hsq, n, threshold``, one row per
    peak (``results/scan/peaks.tsv``; ``threshold`` is the permutation threshold or NaN).

What a figure leaves out
------------------------
Every figure draws what it can of any table: missing (NaN) LODs leave gaps, an infinite LOD (a
phenotype that a marker explains exactly, e.g. ``y = 3·dosage + 1``) is drawn at the top of the
axis with an upward triangle (with the colour of the highest finite LOD on the peak map), and a
phenotype with no finite LOD is not drawn. Each such fact is a sentence (e.g. ``phenotype X: LOD
infinite at marker M (drawn at the top of the axis)``, ``phenotype Y: no finite LOD, not drawn``)
that is written on the figure (in its title), logged as a warning (logger
``lmm.pipeline.scan_plots``) and returned as the list ``figure.left_out`` (empty when nothing is
left out).

The genome axis
---------------
Chromosomes are laid end to end in the order of their first appearance among the markers, with a
gap of :data:`GAP_FRACTION` of the genome's length between them, as R/qtl2's ``plot_scan1`` does:
a marker at position ``pos`` on chromosome ``c`` is drawn at ``pos − min(pos on c) + start(c)``.
Alternate chromosomes are shaded; their names label the x axis at their midpoints, and minor ticks
every few map units (cM or Mbp; the step is in the axis label) restart at each chromosome so that
positions can be read. With a single chromosome the axis is simply its positions.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from scipy import special  # noqa: E402

from lmm.scan import lod_to_pvalue  # noqa: E402

__all__ = ["plot_lod_curves", "region_thresholds", "plot_manhattan", "plot_peak_map", "genome_layout", "GenomeLayout",
           "neg_log10_pvalue", "genome_axis", "new_figure", "freeze_layout", "record_left_out", "message_figure"]

#: Gap between adjacent chromosomes, as a fraction of the summed chromosome lengths.
GAP_FRACTION = 0.015
#: Shading of every other chromosome, and the two point colours of the Manhattan plot.
SHADE = "0.925"
MANHATTAN_COLOURS = ("#1b4f8a", "#8fb3d9")
#: Peak map: phenotype names label the rows when there are at most this many.
MAX_NAMED_ROWS = 60

_LOG = logging.getLogger(__name__)

_FIXED = ("marker", "chr", "pos")
_PEAK_COLUMNS = ("phenotype", "chr", "marker", "pos", "lod")


# --------------------------------------------------------------------------- genome axis


@dataclass(frozen=True)
class GenomeLayout:
    """Where each chromosome lies on the cumulative genome axis.

    Attributes
    ----------
    names : list of str
        Chromosomes in genome order.
    first, last : ndarray
        Smallest and largest marker position of each chromosome (map units).
    start : ndarray
        Axis coordinate of each chromosome's first marker.
    gap : float
        Axis distance between the last marker of a chromosome and the first of the next.
    """

    names: list
    first: np.ndarray
    last: np.ndarray
    start: np.ndarray
    gap: float

    @property
    def end(self) -> np.ndarray:
        return self.start + (self.last - self.first)

    @property
    def mid(self) -> np.ndarray:
        return (self.start + self.end) / 2

    def index(self, chrom) -> np.ndarray:
        """Position of each chromosome name of `chrom` in :attr:`names` (KeyError if unknown)."""
        where = {c: i for i, c in enumerate(self.names)}
        try:
            return np.fromiter((where[str(c)] for c in chrom), dtype=np.int64, count=len(chrom))
        except KeyError as err:
            raise KeyError(f"chromosome {err.args[0]!r} is not among the markers' chromosomes "
                           f"{self.names}") from None

    def x(self, chrom, pos) -> np.ndarray:
        """Axis coordinate of positions `pos` on chromosomes `chrom`."""
        i = self.index(list(chrom))
        return np.asarray(pos, dtype=float) - self.first[i] + self.start[i]


def genome_layout(chrom, pos) -> GenomeLayout:
    """The cumulative genome axis of markers on chromosomes `chrom` at positions `pos` (module notes)."""
    chrom = pd.Series(np.asarray(chrom)).astype(str)
    pos = np.asarray(pos, dtype=float)
    if not np.isfinite(pos).all():
        raise ValueError("marker positions must be finite")
    names = list(dict.fromkeys(chrom))
    if not names:
        raise ValueError("no markers: the genome axis needs at least one")
    grouped = pd.Series(pos).groupby(chrom.to_numpy(), sort=False)
    first = grouped.min().reindex(names).to_numpy(float)
    last = grouped.max().reindex(names).to_numpy(float)
    length = last - first
    total = float(length.sum())
    gap = GAP_FRACTION * total if total > 0 else 1.0
    start = first[0] + np.concatenate([[0.0], np.cumsum(length + gap)[:-1]])  # one chromosome: x = pos
    return GenomeLayout(names=names, first=first, last=last, start=start, gap=gap if len(names) > 1 else 0.0)


def _nice_step(span: float, target: int) -> float:
    """A 1, 2 or 5 × 10^k step giving about `target` intervals over `span`."""
    if not span > 0:
        return 1.0
    raw = span / target
    k = 10.0 ** math.floor(math.log10(raw))
    for f in (1, 2, 5, 10):
        if f * k >= raw:
            return f * k
    return 10 * k  # pragma: no cover


def _genome_axis(ax, layout: GenomeLayout, unit: str, *, shade=True, label=True, minor=True) -> None:
    """Shade alternate chromosomes, name them at their midpoints, minor ticks in map units."""
    g = layout.gap
    lo = layout.start[0] - g / 2 if len(layout.names) > 1 else layout.start[0]
    hi = layout.end[-1] + g / 2 if len(layout.names) > 1 else layout.end[-1]
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    ax.set_xlim(lo, hi)
    if len(layout.names) == 1:
        ax.set_xlabel(f"Chromosome {layout.names[0]}, position ({unit})" if label else "", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        return
    if shade:
        for i in range(1, len(layout.names), 2):
            ax.axvspan(layout.start[i] - g / 2, layout.end[i] + g / 2, color=SHADE, lw=0, zorder=0)
    many = len(layout.names) > 30
    ax.set_xticks(layout.mid, layout.names, fontsize=5 if many else 7, rotation=90 if many else 0)
    ax.tick_params(axis="x", length=0, pad=3)
    step = _nice_step(float((layout.last - layout.first).sum()), 120)
    if minor:
        ticks = []
        for f, la, s in zip(layout.first, layout.last, layout.start):
            k = np.arange(math.ceil(f / step - 1e-9), math.floor(la / step + 1e-9) + 1)
            ticks.append(k * step - f + s)
        ax.set_xticks(np.concatenate(ticks), minor=True)
        ax.tick_params(axis="x", which="minor", length=2.5, width=0.5, color="0.35")
    if label:
        note = f"; minor ticks every {step:g} {unit}" if minor else ""
        ax.set_xlabel(f"Chromosome (positions in {unit}{note})", fontsize=8)


# --------------------------------------------------------------------------- checks


def _new_figure(**kwargs) -> Figure:
    fig = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _phenotype_columns(lod: pd.DataFrame) -> list:
    missing = [c for c in _FIXED if c not in lod.columns]
    if missing or list(lod.columns[:3]) != list(_FIXED):
        raise ValueError(f"the LOD table must start with the columns {list(_FIXED)}; it has "
                         f"{list(lod.columns[:5])}")
    names = list(lod.columns[3:])
    bad = [c for c in names if not isinstance(c, str)]
    if bad:
        raise ValueError(f"the LOD table has phenotype columns that are not names: {bad[:5]}")
    return names


def _check_peaks(peaks: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _PEAK_COLUMNS if c not in peaks.columns]
    if missing:
        raise ValueError(f"the peaks table lacks the column(s) {missing}")
    unnamed = peaks["phenotype"].isna()
    if unnamed.any():
        raise ValueError(
            f"the peaks table has {int(unnamed.sum())} peak(s) without a phenotype name: a phenotype "
            "named 'NA' was read as missing. Read it with keep_default_na=False, na_values=['NA'] "
            "and dtype={'phenotype': str}.")
    out = peaks.copy()
    out["phenotype"] = out["phenotype"].astype(str)
    out["chr"] = out["chr"].astype(str)
    return out.reset_index(drop=True)


def _freeze_layout(fig: Figure) -> Figure:
    """Run the constrained layout once and keep it: a figure saved twice (or at another dpi) is
    laid out the same (constrained layout with a colour bar moves a little on every run)."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return fig


def _message_figure(title: str, text: str, notes=()) -> Figure:
    fig = _new_figure(figsize=(9, 2.2))
    extra = _left_out(fig, list(notes))
    if extra:
        text += "\n" + extra
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, wrap=True)
    fig.suptitle(title, fontsize=10)
    return _freeze_layout(fig)


def _left_out(fig: Figure, notes: list) -> list:
    """Record what `fig` does not show as drawn: ``fig.left_out`` (list of str), each a warning
    in the log. Returns the text for the figure (the first three notes, and how many more)."""
    fig.left_out = list(notes)
    for note in notes:
        _LOG.warning("%s", note)
    if not notes:
        return ""
    text = "; ".join(notes[:3])
    return text + (f"; and {len(notes) - 3} more (see the log)" if len(notes) > 3 else "")


def _names_text(names, k: int = 5) -> str:
    shown = ", ".join(str(n) for n in names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


def _lod_notes(lod: pd.DataFrame, name: str, values: np.ndarray) -> list:
    """The sentences for the non-finite LODs of phenotype `name`."""
    finite = np.isfinite(values)
    if not finite.any() and not np.isposinf(values).any():
        return [f"phenotype {name}: no finite LOD, not drawn"]
    notes = []
    inf = np.flatnonzero(np.isposinf(values))
    if inf.size:
        notes.append(f"phenotype {name}: LOD infinite at marker"
                     f"{'s' if inf.size > 1 else ''} {_names_text(lod['marker'].iloc[inf].astype(str).tolist(), 3)}"
                     " (drawn at the top of the axis)")
    gaps = int((~finite & ~np.isposinf(values)).sum())
    if gaps:
        notes.append(f"phenotype {name}: no LOD at {gaps} marker{'s' if gaps > 1 else ''} (not drawn)")
    return notes


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return str(v)
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


#: The figure helpers, public for the other figure modules (:mod:`lmm.pipeline.eqtl_plots`).
genome_axis = _genome_axis
new_figure = _new_figure
freeze_layout = _freeze_layout
record_left_out = _left_out
message_figure = _message_figure


# --------------------------------------------------------------------------- label placement


def _boxes_overlap(a, b, pad=3.0) -> bool:
    return not (a.x1 + pad < b.x0 or b.x1 + pad < a.x0 or a.y1 + pad < b.y0 or b.y1 + pad < a.y0)


def _place_labels(fig, ax, candidates, curve_x, curve_y, keep_out, limit) -> int:
    """Annotate peaks, highest first, where a label fits: inside the axes, clear of the other
    labels, of the boxes in `keep_out` and of the curve; at most `limit`. Returns the number placed.

    `candidates`: (x, y, text) in data coordinates, in the order of priority.
    """
    renderer = fig.canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    to_data = ax.transData.inverted()
    placed = []
    for x, y, text in candidates:
        if len(placed) >= limit:
            break
        for ha, dx in (("center", 0), ("left", -3), ("right", 3)):
            ann = ax.annotate(text, (x, y), xytext=(dx, 5), textcoords="offset points", ha=ha, va="bottom",
                              fontsize=6, color="0.1", linespacing=1.0, annotation_clip=False,
                              bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75))
            ann.set_in_layout(False)
            box = ann.get_window_extent(renderer)
            ok = (box.x0 >= axbox.x0 + 1 and box.x1 <= axbox.x1 - 1 and box.y1 <= axbox.y1 - 1
                  and not any(_boxes_overlap(box, other) for other in placed + keep_out))
            if ok:  # the curve must stay below the label
                (d0x, d0y), (d1x, _) = to_data.transform([(box.x0, box.y0), (box.x1, box.y1)])
                inside = (curve_x >= d0x) & (curve_x <= d1x)
                ok = not (inside.any() and np.nanmax(curve_y[inside]) > d0y)
            if ok:
                placed.append(box)
                break
            ann.remove()
    return len(placed)


def region_thresholds(thresholds: pd.DataFrame, chromosomes, x_chromosomes) -> dict:
    """Each phenotype's permutation threshold from ``thresholds.tsv`` (columns ``phenotype, region,
    threshold``), for :func:`plot_lod_curves`: a float (region ``all``), or with separate X
    permutations a dict giving every chromosome of `chromosomes` its region's threshold (``X`` for
    those in `x_chromosomes`, ``A`` for the others)."""
    xs = {str(c) for c in x_chromosomes}
    out = {}
    for name, rows in thresholds.groupby("phenotype", sort=False):
        by_region = dict(zip(rows["region"].astype(str), rows["threshold"].astype(float)))
        if "all" in by_region:
            out[str(name)] = by_region["all"]
        else:
            out[str(name)] = {str(c): by_region.get("X" if str(c) in xs else "A", np.nan) for c in chromosomes}
    return out


def _draw_permutation_threshold(ax, layout: GenomeLayout, value) -> list:
    """Draw a phenotype's permutation threshold (a float, or per chromosome: :func:`region_thresholds`)
    dashed red; return the values drawn (for the axis' ceiling)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        if not np.isfinite(value):
            return []
        ax.axhline(value, color="C3", lw=0.8, ls="--", zorder=1)
        return [float(value)]
    drawn = []
    half = layout.gap / 2
    for i, c in enumerate(layout.names):
        v = value.get(c, np.nan)
        if np.isfinite(v):
            ax.hlines(v, layout.start[i] - half, layout.end[i] + half, color="C3", lw=0.8, ls="--", zorder=1)
            drawn.append(float(v))
    return drawn


# --------------------------------------------------------------------------- LOD curves


def plot_lod_curves(lod: pd.DataFrame, peaks: pd.DataFrame, *, position_label: str,
                    threshold: float | None = None, thresholds: dict | None = None,
                    max_panels: int = 12, max_labels: int = 6) -> Figure:
    """LOD along the genome for the phenotypes with peaks, one panel each, stacked.

    Parameters
    ----------
    lod : pandas.DataFrame
        ``marker, chr, pos`` and one LOD column per phenotype (module notes).
    peaks : pandas.DataFrame
        The peaks table (module notes); may have no rows.
    position_label : str
        Unit of the positions, e.g. ``"cM"`` or ``"Mbp"``.
    threshold : float, optional
        The LOD threshold of the peaks (config ``peak_threshold``), drawn dashed grey.
    thresholds : dict, optional
        A permutation threshold per phenotype, drawn dashed red: a float for the whole genome, or
        a dict of chromosome name to float (with separate X permutations, the autosomes' and the
        X's thresholds, each drawn over its own chromosomes: :func:`region_thresholds`). Without
        it, the finite values of the peaks table's ``threshold`` column (if any) are used.
    max_panels : int, optional
        At most this many phenotypes, those with the highest peaks first; the title says how many
        more have peaks.
    max_labels : int, optional
        At most this many peaks labelled per panel (the highest that fit); every peak is marked.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per phenotype shown (shared genome x axis, see the module notes), its peaks
        marked by triangles and labelled with the marker and LOD, highest first, wherever a label
        fits without covering another label, the panel's title or the curve. With no peak, a
        figure that says so and gives the highest LOD of the scan.

    Raises
    ------
    ValueError
        Malformed tables, a peak's phenotype absent from the LOD table, an unnamed phenotype.
    """
    names = _phenotype_columns(lod)
    peaks = _check_peaks(peaks)
    absent = sorted(set(peaks["phenotype"]) - set(names))
    if absent:
        raise ValueError(f"peaks of phenotype(s) {absent[:5]} that are not in the LOD table")
    if thresholds is None and "threshold" in peaks.columns:
        t = peaks[np.isfinite(peaks["threshold"].to_numpy(float))]
        thresholds = dict(zip(t["phenotype"], t["threshold"].astype(float)))
    thresholds = thresholds or {}
    title = "LOD score along the genome"
    dead = [n for n in names if not (np.isfinite(lod[n].to_numpy(float)).any()
                                     or np.isposinf(lod[n].to_numpy(float)).any())]
    notes = [f"phenotype{'s' if len(dead) > 1 else ''} {_names_text(dead)}: no finite LOD, not drawn"] if dead else []
    if len(peaks) == 0:
        text = "No peaks: no phenotype has a LOD above the peak threshold"
        text += f" ({threshold:g})." if threshold is not None else "."
        if names and len(lod):
            values = lod[names].to_numpy(float)
            if (np.isfinite(values) | np.isposinf(values)).any():
                i, j = np.unravel_index(np.nanargmax(values), values.shape)
                text += (f"\nThe highest LOD of the scan is {_fmt(values[i, j])} "
                         f"({names[j]}, marker {lod['marker'].iloc[i]}, chromosome {lod['chr'].iloc[i]}).")
        return _message_figure(title, text, notes)

    layout = genome_layout(lod["chr"], lod["pos"])
    x = layout.x(lod["chr"].astype(str), lod["pos"])
    chr_idx = layout.index(list(lod["chr"].astype(str)))
    breaks = np.flatnonzero(np.diff(chr_idx) != 0) + 1          # break the curve between chromosomes
    peaks = peaks.assign(x=layout.x(peaks["chr"], peaks["pos"]))
    top = peaks.groupby("phenotype", sort=False)["lod"].max()
    order = sorted(top.index, key=lambda p: (-top[p], names.index(p)))
    shown = order[:max_panels]

    k = len(shown)
    fig = _new_figure(figsize=(10, 1.25 + 1.45 * k))
    axes = fig.subplots(k, 1, sharex=True, squeeze=False)[:, 0]
    drawn = {}                                  # the curve as drawn: +inf at the top of the axis
    for ax, name in zip(axes, shown):
        y = lod[name].to_numpy(float)
        if name not in dead:
            notes += _lod_notes(lod, name, y)
        own = peaks[peaks["phenotype"] == name].sort_values(["lod", "x"], ascending=[False, True],
                                                            kind="stable")
        own_lod = own["lod"].to_numpy(float)
        finite = np.concatenate([y[np.isfinite(y)], own_lod[np.isfinite(own_lod)]])
        ceiling = [float(finite.max()) if finite.size else 0.0]
        if threshold is not None:
            ax.axhline(threshold, color="0.45", lw=0.8, ls="--", zorder=1)
            ceiling.append(threshold)
        ceiling += _draw_permutation_threshold(ax, layout, thresholds.get(name))
        ymax = max(max(ceiling) / 0.72, 1.0)
        inf = np.isposinf(y)
        y = np.where(inf, ymax, np.where(np.isfinite(y), y, np.nan))
        drawn[name] = y
        xs, ys = np.insert(x, breaks, np.nan), np.insert(y, breaks, np.nan)
        ax.plot(xs, ys, color="#1b4f8a", lw=0.9, zorder=2)
        if inf.any():
            ax.plot(x[inf], np.full(int(inf.sum()), ymax), "^", color="#1b4f8a", ms=5, zorder=4,
                    clip_on=False)
        ax.plot(own["x"], np.where(np.isposinf(own_lod), ymax, own_lod), "v", color="C3", ms=4,
                zorder=3, mec="none")
        ax.set_ylim(0, ymax)
        ax.set_title(name, loc="left", fontsize=8, pad=2)
        ax.set_ylabel("LOD", fontsize=7)
        ax.tick_params(axis="y", labelsize=6)
        _genome_axis(ax, layout, position_label, label=ax is axes[-1])
        ax.tick_params(axis="x", labelbottom=ax is axes[-1])
        ax.margins(y=0)

    more = len(order) - k
    suffix = f"; {more} more phenotype{'s' if more > 1 else ''} with peaks not shown" if more > 0 else ""
    extra = _left_out(fig, notes)
    fig.suptitle(f"{title}: phenotypes with peaks, highest first ({k} of {len(order)}{suffix})"
                 + (f"\nLeft out: {extra}" if extra else ""), fontsize=9)
    handles = [Line2D([], [], color="#1b4f8a", lw=0.9, label="LOD"),
               Line2D([], [], color="C3", marker="v", ls="none", ms=4, mec="none", label="peak")]
    if threshold is not None:
        handles.append(Line2D([], [], color="0.45", lw=0.8, ls="--", label=f"peak threshold ({threshold:g})"))
    if any(n in thresholds for n in shown):
        handles.append(Line2D([], [], color="C3", lw=0.8, ls="--", label="permutation threshold"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7, frameon=False)

    _freeze_layout(fig)                     # settle the layout, then place labels where they fit
    renderer = fig.canvas.get_renderer()
    for ax, name in zip(axes, shown):
        own = peaks[peaks["phenotype"] == name].sort_values(["lod", "x"], ascending=[False, True],
                                                            kind="stable")
        cands = [(px, pl, f"{m}\nLOD {pl:.2f} · chr {c}, {_fmt(pp)} {position_label}")
                 for px, pl, m, c, pp in zip(own["x"], own["lod"], own["marker"], own["chr"], own["pos"])]
        keep_out = [ax.title.get_window_extent(renderer)]
        cands = [(px, min(pl, ax.get_ylim()[1]), t) for px, pl, t in cands]
        _place_labels(fig, ax, cands, x, drawn[name], keep_out, max_labels)
    return fig


# --------------------------------------------------------------------------- Manhattan


def neg_log10_pvalue(lod, df) -> np.ndarray:
    """``−log10 p`` of :func:`lmm.scan.lod_to_pvalue`, finite where ``p`` underflows to 0.

    Where the double ``p`` is 0 (a LOD above about 300), the upper incomplete gamma function
    ``Q(a, x)`` (``a = df/2``, ``x = ln(10)·LOD``) is taken from its asymptotic series
    ``log Q = (a − 1)·log x − x − log Γ(a) + log(1 + (a−1)/x + (a−1)(a−2)/x² + …)``, exact to
    rounding there (``x > 690``).
    """
    lod = np.asarray(lod, dtype=float)
    df = np.asarray(df)
    p = lod_to_pvalue(lod, df)
    with np.errstate(divide="ignore"):
        out = -np.log10(p)
    under = (p == 0) & (df > 0) & np.isfinite(lod)
    if under.any():
        a = df[under] / 2.0
        x = np.log(10.0) * lod[under]
        term = np.ones_like(x)
        series = np.ones_like(x)
        for k in range(1, 12):
            term = term * (a - k) / x
            series = series + term
        logq = (a - 1) * np.log(x) - x - special.gammaln(a) + np.log(series)
        out[under] = -logq / np.log(10.0)
    return out


def plot_manhattan(lod: pd.DataFrame, markers: pd.DataFrame, phenotype: str, *,
                   position_label: str, alpha: float = 0.05) -> Figure:
    """−log10 p along the genome for one phenotype (Manhattan plot).

    Parameters
    ----------
    lod : pandas.DataFrame
        ``marker, chr, pos`` and one LOD column per phenotype.
    markers : pandas.DataFrame
        ``marker, chr, pos, df``, the same rows as `lod`.
    phenotype : str
        The LOD column to draw.
    position_label : str
        Unit of the positions (``"cM"``, ``"Mbp"``).
    alpha : float, optional
        Level of the Bonferroni line, ``−log10(alpha / q)`` with ``q`` the markers tested
        (``df > 0``).

    Returns
    -------
    matplotlib.figure.Figure
        One point per marker, p from the LOD and the marker's degrees of freedom
        (:func:`lmm.scan.lod_to_pvalue`: ``P(χ²_df > 2·ln(10)·LOD)``), coloured alternately by
        chromosome; the Bonferroni line, labelled; the marker with the smallest p named.
    """
    names = _phenotype_columns(lod)
    if phenotype not in names:
        raise ValueError(f"phenotype {phenotype!r} is not in the LOD table (it has {names[:8]}"
                         f"{' …' if len(names) > 8 else ''})")
    for col in ("marker", "chr", "pos", "df"):
        if col not in markers.columns:
            raise ValueError(f"the marker table lacks the column {col!r}")
    if len(markers) != len(lod) or not (markers["marker"].astype(str).to_numpy()
                                       == lod["marker"].astype(str).to_numpy()).all():
        raise ValueError("the marker table and the LOD table must list the same markers in the same order")
    layout = genome_layout(lod["chr"], lod["pos"])
    x = layout.x(lod["chr"].astype(str), lod["pos"])
    chr_idx = layout.index(list(lod["chr"].astype(str)))
    L = lod[phenotype].to_numpy(float)
    df = markers["df"].to_numpy()
    mlp = neg_log10_pvalue(L, df)
    ok = np.isfinite(mlp)
    inf = np.isposinf(mlp)                      # LOD +inf: p = 0, drawn at the top of the axis
    tested = int((df > 0).sum())
    bonf = -math.log10(alpha / tested) if tested else math.nan

    fig = _new_figure(figsize=(10, 3.8))
    ax = fig.add_subplot()
    _genome_axis(ax, layout, position_label, shade=False)
    top = float(np.nanmax(mlp[ok])) if ok.any() else 1.0
    ymax = max(top, bonf if np.isfinite(bonf) else 0.0, 1.0) * 1.15
    for parity in (0, 1):
        sel = ok & (chr_idx % 2 == parity)
        ax.scatter(x[sel], mlp[sel], s=5, color=MANHATTAN_COLOURS[parity], lw=0, zorder=2)
        sel = inf & (chr_idx % 2 == parity)
        if sel.any():
            ax.scatter(x[sel], np.full(int(sel.sum()), ymax), s=16, marker="^",
                       color=MANHATTAN_COLOURS[parity], lw=0, zorder=3, clip_on=False)
    ax.set_ylim(0, ymax)
    notes = _lod_notes(lod, phenotype, L)
    untested = int((~ok & ~inf & np.isfinite(L)).sum())
    if untested:
        notes.append(f"phenotype {phenotype}: {untested} marker{'s' if untested > 1 else ''} with "
                     "df = 0 (no p-value, not drawn)")
    if np.isfinite(bonf):
        ax.axhline(bonf, color="C3", lw=0.9, ls="--", zorder=1)
        ax.annotate(f"Bonferroni {alpha:g} ({tested} markers): −log10 p = {bonf:.2f}", (1, bonf),
                    xycoords=("axes fraction", "data"), xytext=(-3, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=7, color="C3")
    if ok.any() or inf.any():
        i = int(np.argmax(inf)) if inf.any() else int(np.nanargmax(np.where(ok, mlp, -np.inf)))
        frac = (x[i] - ax.get_xlim()[0]) / np.ptp(ax.get_xlim())
        ha = "left" if frac < 0.2 else "right" if frac > 0.8 else "center"
        ax.annotate(f"{lod['marker'].iloc[i]} (chr {lod['chr'].iloc[i]}, {_fmt(lod['pos'].iloc[i])} "
                    f"{position_label}; LOD {L[i]:.2f}, df {int(df[i])})",
                    (x[i], min(mlp[i], ymax)), xytext=(0, 4), textcoords="offset points", ha=ha,
                    va="bottom", fontsize=7, color="0.1", annotation_clip=False)
    ax.set_ylabel("−log10 p", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    dfs = sorted({int(d) for d in df[df > 0]})
    dfs_text = ", ".join(str(d) for d in dfs[:4]) + (" …" if len(dfs) > 4 else "")
    extra = _left_out(fig, notes)
    ax.set_title(f"{phenotype}: −log10 p at each marker (likelihood ratio, χ² with df = {dfs_text or '—'})"
                 + (f"\nLeft out: {extra}" if extra else ""), fontsize=9, loc="left")
    return _freeze_layout(fig)


# --------------------------------------------------------------------------- peak map


def plot_peak_map(peaks: pd.DataFrame, markers: pd.DataFrame, *, position_label: str,
                  max_phenotypes: int | None = None, max_named: int = MAX_NAMED_ROWS) -> Figure:
    """Peak position (x, along the genome) by phenotype (y): the eQTL view.

    Parameters
    ----------
    peaks : pandas.DataFrame
        The peaks table (module notes); ``ci_lo``/``ci_hi``, when present and finite, are drawn as
        the support interval of each peak.
    markers : pandas.DataFrame
        ``marker, chr, pos`` (and ``df``): the genome's extent, chromosome by chromosome.
    position_label : str
        Unit of the positions (``"cM"``, ``"Mbp"``).
    max_phenotypes : int, optional
        Draw at most this many phenotypes, those with the highest peaks (default: all); the title
        says how many are left out.
    max_named : int, optional
        Name the rows when there are at most this many phenotypes; beyond, the y axis counts them.

    Returns
    -------
    matplotlib.figure.Figure
        One row per phenotype with a peak, ordered (bottom to top) by the genome position of its
        highest peak; every peak a point coloured by its LOD (colour bar). With no peak, a figure
        that says so.
    """
    peaks = _check_peaks(peaks)
    for col in ("marker", "chr", "pos"):
        if col not in markers.columns:
            raise ValueError(f"the marker table lacks the column {col!r}")
    title = "Peak map: position of each peak by phenotype"
    if len(peaks) == 0:
        return _message_figure(title, "No peaks: no phenotype has a LOD above the peak threshold,\n"
                                      "so there is nothing to map.")
    notes = []
    lods = peaks["lod"].to_numpy(float)
    nan = np.isnan(lods)
    if nan.any():
        notes.append(f"{int(nan.sum())} peak{'s' if nan.sum() > 1 else ''} without a LOD (phenotypes "
                     f"{_names_text(list(dict.fromkeys(peaks['phenotype'][nan])))}), not drawn")
        peaks = peaks[~nan].reset_index(drop=True)
    if len(peaks) == 0:
        return _message_figure(title, "No peak with a LOD: nothing to map.", notes)
    for name, marker in zip(peaks["phenotype"][np.isinf(peaks["lod"].to_numpy(float))],
                            peaks["marker"][np.isinf(peaks["lod"].to_numpy(float))]):
        notes.append(f"phenotype {name}: LOD infinite at marker {marker} (drawn with the colour of "
                     "the top of the scale)")
    layout = genome_layout(markers["chr"], markers["pos"])
    peaks = peaks.assign(x=layout.x(peaks["chr"], peaks["pos"]))
    best = peaks.sort_values(["lod", "x"], ascending=[False, True], kind="stable").groupby(
        "phenotype", sort=False).head(1).set_index("phenotype")
    total = len(best)
    if max_phenotypes is not None and total > max_phenotypes:
        best = best.iloc[:max_phenotypes]                       # highest peaks first
    rows = best.sort_values(["x", "lod"], ascending=[True, False], kind="stable")
    row_of = {p: i for i, p in enumerate(rows.index)}
    peaks = peaks[peaks["phenotype"].isin(row_of)]
    y = peaks["phenotype"].map(row_of).to_numpy(float)
    k = len(rows)
    named = k <= max_named

    height = 1.7 + 0.17 * k if named else 7.0
    fig = _new_figure(figsize=(10, min(max(height, 3.0), 12)))
    ax = fig.add_subplot()
    _genome_axis(ax, layout, position_label)
    shown_lod = peaks["lod"].to_numpy(float)
    fin = shown_lod[np.isfinite(shown_lod)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    norm = Normalize(vmin=lo, vmax=hi)
    if norm.vmin == norm.vmax:
        norm = Normalize(vmin=norm.vmin - 0.5, vmax=norm.vmax + 0.5)
    peaks = peaks.assign(lod=np.clip(shown_lod, norm.vmin, norm.vmax))   # ±inf: ends of the scale
    cmap = matplotlib.colormaps["viridis"]
    if {"ci_lo", "ci_hi"} <= set(peaks.columns):
        ci = peaks[np.isfinite(peaks["ci_lo"].to_numpy(float)) & np.isfinite(peaks["ci_hi"].to_numpy(float))]
        if len(ci):
            ax.hlines(ci["phenotype"].map(row_of).to_numpy(float), layout.x(ci["chr"], ci["ci_lo"]),
                      layout.x(ci["chr"], ci["ci_hi"]), colors=cmap(norm(ci["lod"].to_numpy(float))),
                      lw=1.2 if named else 0.6, zorder=2)
    size = 22 if named else max(2.0, min(12.0, 3000.0 / k))
    order = np.argsort(peaks["lod"].to_numpy(float), kind="stable")  # highest drawn last, on top
    sc = ax.scatter(peaks["x"].to_numpy(float)[order], y[order], c=peaks["lod"].to_numpy(float)[order],
                    cmap=cmap, norm=norm, s=size, lw=0.3 if named else 0, edgecolors="0.2", zorder=3)
    cb = fig.colorbar(sc, ax=ax, pad=0.01, aspect=30 if named else 40, fraction=0.03)
    cb.set_label("LOD at the peak", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    ax.set_ylim(-0.7, k - 0.3) if named else ax.set_ylim(-0.02 * k - 0.5, 1.02 * k - 0.5)
    if named:
        ax.set_yticks(np.arange(k), list(rows.index), fontsize=6.5)
        ax.grid(True, axis="y", color="0.88", lw=0.5, zorder=0)
        ax.set_ylabel("phenotype", fontsize=8)
    else:
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel(f"phenotypes, ordered by the position of their highest peak ({k})", fontsize=8)
    left = total - k
    extra = f"; the {k} with the highest peaks of {total} phenotypes" if left else ""
    left_text = _left_out(fig, notes)
    ax.set_title(f"{title} ({len(peaks)} peaks of {k} phenotypes{extra})\nrows ordered by the position of "
                 "each phenotype's highest peak; colour: LOD; lines: support intervals"
                 + (f"\nLeft out: {left_text}" if left_text else ""), fontsize=9, loc="left")
    return _freeze_layout(fig)

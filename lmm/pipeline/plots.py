"""Figures of the results: heritability with its interval, and profile log-likelihood curves.

Both functions return a :class:`matplotlib.figure.Figure` built with the object-oriented API
(no global ``pyplot`` state), so they can be called from any process; the caller saves it.

Each draws what it can of any table (no estimate at all, NaN or infinite values) and says what
it left out: a sentence per fact (e.g. ``phenotype X: profile log-likelihood infinite at hsq = 1,
not drawn``) written on the figure, logged as a warning (logger ``lmm.pipeline.plots``) and
returned as the list ``figure.left_out`` (empty when nothing is left out).
"""

from __future__ import annotations

import logging
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["plot_heritability", "plot_profiles"]

#: At most this many phenotypes are labelled one per row; more are drawn as a sorted curve.
MAX_LABELLED = 120

_LOG = logging.getLogger(__name__)


def _left_out(fig: Figure, notes: list) -> str:
    """``fig.left_out = notes``, each logged as a warning; the text for the figure (three notes at most)."""
    fig.left_out = list(notes)
    for note in notes:
        _LOG.warning("%s", note)
    text = "; ".join(notes[:3])
    return text + (f"; and {len(notes) - 3} more (see the log)" if len(notes) > 3 else "")


def _check_names(frame: pd.DataFrame, what: str) -> None:
    """Phenotype names must be present: a name read as missing (``NA``) cannot be drawn or matched."""
    missing = frame["phenotype"].isna()
    if missing.any():
        raise ValueError(
            f"The {what} has {int(missing.sum())} phenotype(s) without a name (rows "
            f"{', '.join(str(i) for i in np.flatnonzero(missing.to_numpy())[:5])}): a phenotype named "
            "'NA' was read as missing. Read result tables with lmm.pipeline.io.read_results, which "
            "keeps names as text."
        )


def plot_heritability(table: pd.DataFrame, title: str = "Heritability (95% profile-likelihood interval)") -> Figure:
    """hsq and its confidence interval for every fitted phenotype, in one figure.

    Parameters
    ----------
    table : pandas.DataFrame
        The heritability table (:func:`lmm.pipeline.aggregate.heritability_table`).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Up to :data:`MAX_LABELLED` phenotypes: one labelled row each, in input order, points at
        hsq with horizontal interval bars (hollow points at a boundary). Beyond that, the
        phenotypes sorted by hsq, with the intervals as a band. Phenotypes without an estimate
        are listed in a note.
    """
    _check_names(table, "heritability table")
    finite = np.isfinite(table["hsq"].to_numpy(float))
    fitted = table[finite]
    skipped = table[~finite]
    m = len(fitted)
    if m <= MAX_LABELLED:
        fig = Figure(figsize=(7.5, 1.6 + 0.24 * max(m, 1)), layout="constrained")
        ax = fig.add_subplot()
        ypos = np.arange(m)[::-1]
        lo = fitted["hsq_ci_lower"].to_numpy(float)
        hi = fitted["hsq_ci_upper"].to_numpy(float)
        h = fitted["hsq"].to_numpy(float)
        has_ci = np.isfinite(lo) & np.isfinite(hi)
        ax.hlines(ypos[has_ci], lo[has_ci], hi[has_ci], color="0.55", lw=2)
        at_bound = fitted["boundary"].isin(["lower", "upper"]).to_numpy()
        ax.plot(h[~at_bound], ypos[~at_bound], "o", color="C0")
        if at_bound.any():
            ax.plot(h[at_bound], ypos[at_bound], "o", mfc="white", color="C0")
        ax.set_yticks(ypos, fitted["phenotype"].tolist(), fontsize=8)
        ax.set_ylim(-0.8, max(m, 1) - 0.2)
        ax.set_xlabel("hsq (hollow points: estimate on the boundary 0 or 1)")
    else:
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        order = np.argsort(fitted["hsq"].to_numpy(float), kind="stable")
        x = np.arange(m)
        ax.fill_between(x, fitted["hsq_ci_lower"].to_numpy(float)[order],
                        fitted["hsq_ci_upper"].to_numpy(float)[order], color="0.85", label="95% interval")
        ax.plot(x, fitted["hsq"].to_numpy(float)[order], color="C0", lw=1, label="hsq")
        ax.set_xlabel(f"phenotypes, sorted by hsq ({m})")
        ax.set_ylabel("hsq")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_xlim(-0.02, 1.02) if m <= MAX_LABELLED else ax.set_ylim(-0.02, 1.02)
    ax.grid(True, axis="x" if m <= MAX_LABELLED else "y", color="0.92")
    ax.set_title(title, fontsize=10)
    notes = [f"phenotype {p}: no hsq ({s}), not drawn" for p, s in zip(skipped["phenotype"], skipped["status"])]
    _left_out(fig, notes)
    if m == 0:
        ax.text(0.5, 0.5, "No phenotype has an estimate of hsq.", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
    if len(skipped):
        shown = ", ".join(f"{p} ({s})" for p, s in zip(skipped["phenotype"][:6], skipped["status"][:6]))
        more = f" and {len(skipped) - 6} more" if len(skipped) > 6 else ""
        fig.supxlabel(f"Not fitted: {shown}{more}", fontsize=7, color="0.3")
    return fig


def plot_profiles(profile: pd.DataFrame, table: pd.DataFrame, max_panels: int = 36) -> Figure:
    """Profile log-likelihood ``loglik(hsq) - max`` over the grid, one small panel per phenotype.

    Parameters
    ----------
    profile : pandas.DataFrame
        ``phenotype, hsq, loglik`` (:func:`lmm.pipeline.aggregate.profile_table`).
    table : pandas.DataFrame
        The heritability table: the estimate and interval are marked in each panel.
    max_panels : int, optional
        The first `max_panels` phenotypes (input order) are drawn; the title says how many more.

    Returns
    -------
    matplotlib.figure.Figure
        Each panel: the curve (non-finite values, e.g. at hsq = 1 with a singular kinship, are
        left out), the drop of ``chi2(1, 0.95) / 2 = 1.92`` that defines the interval as a dashed
        line, and the estimate as a vertical line.

    Raises
    ------
    ValueError
        A phenotype name is missing (a table read back with ``NA`` parsing, which turns a
        phenotype named ``NA`` into NaN: read it with :func:`lmm.pipeline.io.read_results`).
    """
    _check_names(profile, "profile table")
    _check_names(table, "heritability table")
    names = list(dict.fromkeys(profile["phenotype"]))
    if not names:
        fig = Figure(figsize=(6, 2), layout="constrained")
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "No profile log-likelihood: config 'profile_grid' is empty\n"
                "or no phenotype was fitted.", ha="center", va="center")
        _left_out(fig, [])
        return fig
    shown = names[:max_panels]
    ncol = min(6, len(shown))
    nrow = math.ceil(len(shown) / ncol)
    fig = Figure(figsize=(2.1 * ncol + 0.4, 1.7 * nrow + 0.7), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True)
    est = table.set_index("phenotype")
    groups = {k: g for k, g in profile.groupby("phenotype", sort=False)}
    notes = []
    for ax, name in zip(axes.flat, shown):
        g = groups[name]
        h = g["hsq"].to_numpy(float)
        ll = g["loglik"].to_numpy(float)
        ok = np.isfinite(ll) & np.isfinite(h)
        if not ok.any():
            notes.append(f"phenotype {name}: no finite profile log-likelihood, not drawn")
            ax.text(0.5, 0.5, "no finite\nlog-likelihood", ha="center", va="center",
                    transform=ax.transAxes, fontsize=6, color="0.4")
        elif np.isposinf(ll).any():
            at = ", ".join(f"{v:g}" for v in h[np.isposinf(ll)][:3])
            notes.append(f"phenotype {name}: profile log-likelihood infinite at hsq = {at} (unbounded), "
                         "not drawn")
        top = ll[ok].max() if ok.any() else 0.0
        if name in est.index and np.isfinite(est.at[name, "loglik"]):
            top = max(top, float(est.at[name, "loglik"]))
        ax.plot(h[ok], ll[ok] - top, color="C0", lw=1.2)
        ax.axhline(-1.920729410347062, color="0.6", lw=0.8, ls="--")
        if name in est.index and np.isfinite(est.at[name, "hsq"]):
            ax.axvline(float(est.at[name, "hsq"]), color="C3", lw=0.8)
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=6, labelbottom=True)
        ax.set_ylim(bottom=max(-12.0, float(np.min(ll[ok] - top)) - 0.5) if ok.any() else -12.0, top=0.5)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    more = f" (first {len(shown)} of {len(names)} phenotypes)" if len(names) > len(shown) else ""
    extra = _left_out(fig, notes)
    fig.suptitle(f"Profile log-likelihood minus its maximum, over hsq{more}; dashed: 95% interval cut-off"
                 + (f"\nLeft out: {extra}" if extra else ""), fontsize=9)
    fig.supxlabel("hsq", fontsize=8)
    return fig

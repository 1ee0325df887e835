r"""Where an eQTL lies relative to its trait: local (cis) or distal (trans), and hotspots.

An expression trait has a position (its gene's, e.g. the transcription start); a QTL peak of the
trait is *local* when it lies on the trait's own chromosome within a window of that position,
*distal* otherwise (on another chromosome, or farther away). A *hotspot* is a region where the
peaks of many traits fall: typically one distal locus regulating many genes.

Notes
-----
For a peak at ``(c_p, x_p)`` of a trait at ``(c_t, x_t)`` and a window ``w`` (map units):

- ``distance = x_p − x_t`` when ``c_p = c_t``, NaN otherwise;
- ``cis = 1`` when ``c_p = c_t`` and ``|x_p − x_t| ≤ w``, ``0`` otherwise, NaN when the trait has
  no position (``x_t`` NaN).

Hotspot counts (:func:`hotspot_counts`): at a point ``(c, x)``, the number of peaks on ``c`` with
``|x_p − x| ≤ w/2`` (a window of width ``w`` centred on the point, slid along each chromosome
from point to point, e.g. over the markers). The caller decides which peaks count (the
significant ones; one per trait or all).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .checks import as_float_array
from .errors import InputError

__all__ = ["LocalDistal", "cis_distance", "hotspot_counts"]


class LocalDistal(NamedTuple):
    """:func:`cis_distance`'s result, shape (k,) each: ``cis`` (1.0 local, 0.0 distal, NaN unknown)
    and ``distance`` (peak − trait position on the same chromosome, NaN otherwise)."""

    cis: np.ndarray
    distance: np.ndarray


def _check_window(window, name: str) -> float:
    window = float(window)
    if not (np.isfinite(window) and window >= 0):
        raise InputError(f"{name} must be a finite number >= 0, got {window}")
    return window


def _aligned(chrom, pos, name: str, k: int | None = None):
    chrom = np.asarray(chrom, dtype=object).ravel()
    pos = as_float_array(pos, f"{name} positions").ravel()
    if chrom.shape != pos.shape or (k is not None and pos.size != k):
        raise InputError(f"{name}: chromosomes and positions must be 1-D of one length"
                         + (f" ({k})" if k is not None else "") + f", got {chrom.size} and {pos.size}")
    return np.array([str(c) for c in chrom], dtype=object), pos


def cis_distance(peak_chr, peak_pos, trait_chr, trait_pos, window) -> LocalDistal:
    """Local (cis) or distal, and the distance, of each peak relative to its trait's position.

    Parameters
    ----------
    peak_chr, peak_pos : array_like, shape (k,)
        Each peak's chromosome (canonical name) and position.
    trait_chr, trait_pos : array_like, shape (k,)
        The position of each peak's trait; ``trait_pos`` NaN where the trait has none (its
        chromosome is then ignored).
    window : float
        The cis window (map units, those of the positions), ``≥ 0``.

    Returns
    -------
    LocalDistal

    Notes
    -----
    The rules are in the module's notes.
    """
    window = _check_window(window, "cis_window")
    pc, pp = _aligned(peak_chr, peak_pos, "peaks")
    tc, tp = _aligned(trait_chr, trait_pos, "trait positions", pp.size)
    known = ~np.isnan(tp)
    same = known & (pc == tc)
    distance = np.where(same, pp - tp, np.nan)
    with np.errstate(invalid="ignore"):
        cis = np.where(known, (same & (np.abs(distance) <= window)).astype(float), np.nan)
    return LocalDistal(cis, distance)


def hotspot_counts(peak_chr, peak_pos, grid_chr, grid_pos, window) -> np.ndarray:
    """Number of peaks within ``window/2`` of each grid point on its chromosome.

    Parameters
    ----------
    peak_chr, peak_pos : array_like, shape (k,)
        The peaks that count (NaN positions are ignored).
    grid_chr, grid_pos : array_like, shape (g,)
        The points where the window is centred (e.g. the markers), finite positions.
    window : float
        Width of the sliding window (map units), ``≥ 0``.

    Returns
    -------
    ndarray of int64, shape (g,)

    Notes
    -----
    Per chromosome, the sorted peak positions are searched for ``x ± w/2`` (``numpy.searchsorted``),
    so the cost is ``O((k + g) log k)``.
    """
    window = _check_window(window, "hotspot_window")
    pc, pp = _aligned(peak_chr, peak_pos, "peaks")
    gc, gp = _aligned(grid_chr, grid_pos, "grid")
    if not np.isfinite(gp).all():
        raise InputError("grid positions must be finite")
    keep = ~np.isnan(pp)
    pc, pp = pc[keep], pp[keep]
    counts = np.zeros(gp.size, dtype=np.int64)
    for chrom in np.unique(gc):
        on_grid = gc == chrom
        peaks = np.sort(pp[pc == chrom])
        x = gp[on_grid]
        counts[on_grid] = (np.searchsorted(peaks, x + window / 2, side="right")
                           - np.searchsorted(peaks, x - window / 2, side="left"))
    return counts

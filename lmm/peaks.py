r"""Peaks of LOD curves and their intervals: R/qtl2's ``find_peaks``, ``lod_int``, ``bayes_int``, ``maxlod``.

Written from R/qtl2's documentation (0.43) and the definitions below, not from its code.

Definitions
-----------
For one phenotype's LOD curve on one chromosome (positions in map order):

* **Peak** (``peakdrop = ∞``, the default): the largest LOD of the chromosome,
  reported when it exceeds ``threshold`` (strictly); one peak per chromosome.
* **Several peaks** (finite ``peakdrop``): the local maxima exceeding
  ``threshold`` such that between any two adjacent peaks the LOD drops at least
  ``peakdrop`` below the lower of the two (R/qtl2's definition). Computed as:
  a local maximum ``v`` is a peak when, on each side, the curve falls to
  ``v − peakdrop`` or lower before it first exceeds ``v`` (the chromosome's end
  counts as such a fall): its topographic prominence, with the curve taken to
  ``−∞`` beyond the ends, is at least ``peakdrop``. Of equal local maxima without
  the drop between them, the first is the peak (on its left, "exceeds" reads "reaches").
* **Position**: where several positions share a peak's LOD exactly (a flat
  top), the average of their positions, as R/qtl2 reports (with ``peakdrop = ∞``
  every position of the chromosome at the maximum; otherwise the run of equal
  values); the ``index`` is the first of them.
* **Region** of a peak: the whole chromosome with ``peakdrop = ∞``; otherwise
  from the lowest point between it and the previous peak to the lowest point
  between it and the next (both included; the chromosome's ends for the first
  and last peak). Intervals are computed within the region.
* **LOD support interval** (``drop``): from the position just before the first
  to the position just after the last position of the region with
  ``LOD ≥ peak − drop`` (not necessarily contiguous; the region's ends bound
  it); ``drop ≤ peakdrop``. This is what R/qtl2 0.43 reports (its figures on
  the recla data, ``tests/core/test_peaks_qtl2.py``).
* **Bayes credible interval** (``prob``): the posterior density of the QTL
  position is taken ∝ ``10^LOD`` on the region, and each position carries the
  mass ``10^LOD · w``, ``w`` its weight on the chromosome's map: the mean of
  its gaps to its two neighbours, at the chromosome's ends its one gap (so the
  posterior weights by marker spacing; equal weights if every ``w`` is 0).
  Positions are added in decreasing order of LOD (ties: map order) until their
  mass reaches ``prob`` of the region's; the interval runs from the first to
  the last position added (highest posterior density: it contains the peak's
  row and at least ``prob`` of the mass). R/qtl2 0.43 gives the same
  intervals on the recla data.
* **expand2markers**: with pseudomarkers (``is_marker`` false), an interval end
  that is not a marker moves outward to the nearest marker of the chromosome
  (it stays if there is none). On a map of markers only, as in the workflow, it
  changes nothing.
* ``ci_lo``/``ci_hi`` are the positions of the interval's first and last points.

A chromosome is a run of consecutive rows of the LOD matrix (``chr_start``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import SCAN_BLOCK_ELEMENTS, as_float_array, as_matrix
from .errors import InputError

__all__ = ["Peaks", "find_peaks", "lod_int", "bayes_int", "maxlod", "maxlod_per_chromosome", "chromosome_weights"]


@dataclass(frozen=True, eq=False)
class Peaks:
    """Peaks found by :func:`find_peaks`, one entry per peak, sorted by phenotype, chromosome, position.

    Attributes
    ----------
    lodindex : ndarray of int (k,)
        Phenotype column of the LOD matrix.
    chr : ndarray of int (k,)
        Chromosome index (position in ``chr_start``).
    index : ndarray of int (k,)
        Row of the LOD matrix (the marker) of the peak: the first of a flat top.
    pos : ndarray (k,)
        Peak position (mean position of the positions tied at the peak LOD).
    lod : ndarray (k,)
        LOD at the peak.
    ci_lo, ci_hi : ndarray (k,)
        Interval ends (positions): the LOD support interval with ``drop``, the Bayes
        credible interval with ``prob``, NaN with neither.
    """

    lodindex: np.ndarray
    chr: np.ndarray
    index: np.ndarray
    pos: np.ndarray
    lod: np.ndarray
    ci_lo: np.ndarray
    ci_hi: np.ndarray

    def __len__(self) -> int:
        return int(self.lod.size)


def _checked(lod, chr_start, pos):
    lod = as_matrix(lod, "lod", "(q,) or (q, m)")
    q = lod.shape[0]
    cs = np.asarray([0, q] if chr_start is None else chr_start, dtype=np.int64)
    if cs.ndim != 1 or cs.size < 2 or cs[0] != 0 or cs[-1] != q or (np.diff(cs) <= 0).any():
        raise InputError(f"chr_start must rise strictly from 0 to the number of markers {q}")
    pos = np.arange(q, dtype=float) if pos is None else as_float_array(pos, "pos")
    if pos.shape != (q,):
        raise InputError(f"pos has shape {pos.shape}; expected ({q},)")
    return lod, cs, pos


def maxlod(lod, lodcolumn=None):
    """Overall maximum LOD (R/qtl2 ``maxlod``).

    Parameters
    ----------
    lod : array_like, shape (q,) or (q, m)
        LOD scores, all chromosomes (a 1-D array is one phenotype).
    lodcolumn : None, int or sequence of int
        ``None`` (R/qtl2's default): the maximum over every position and every column, one
        number; an int: that column's maximum; a sequence: the maximum of each of those
        columns (``range(m)``: per phenotype).

    Returns
    -------
    float, or ndarray (len(lodcolumn),) for a sequence
        NaN values are ignored; NaN where there is nothing else.
    """
    lod = as_matrix(lod, "lod", "(q,) or (q, m)")
    if lod.shape[0] == 0:
        raise InputError("lod has no rows")
    m = lod.shape[1]
    cols = np.arange(m) if lodcolumn is None else np.atleast_1d(np.asarray(lodcolumn))
    if cols.dtype.kind not in "iu" or ((cols < -m) | (cols >= m)).any():
        raise InputError(f"lodcolumn {lodcolumn!r}: expected column numbers in [0, {m})")
    sub = lod[:, cols]
    if lodcolumn is None:
        sub = sub.reshape(-1, 1)
    nan = np.isnan(sub)
    best = np.where(nan.all(axis=0), np.nan, np.where(nan, -np.inf, sub).max(axis=0))
    return best if np.ndim(lodcolumn) else float(best[0])


def maxlod_per_chromosome(lod, chr_start=None) -> np.ndarray:
    """Largest LOD of each chromosome and phenotype.

    Parameters
    ----------
    lod : array_like, shape (q, m)
    chr_start : array_like of int, shape (n_chr + 1,), optional
        Chromosome ``c`` is rows ``chr_start[c] .. chr_start[c+1] − 1`` (default: one).

    Returns
    -------
    ndarray, shape (n_chr, m)
    """
    lod, cs, _ = _checked(lod, chr_start, None)
    return np.maximum.reduceat(lod, cs[:-1], axis=0)


def _hysteresis_rows(block, pdrop):
    """Peaks (rows, columns) of the curves of `block` (L, k), `pdrop` (k,): a left-to-right pass,
    vectorised over the columns, equivalent to the prominence rule (module notes). The running
    maximum since the last dip becomes a peak when the curve falls `pdrop` below it (or at the
    end); the running minimum since then ends the dip when the curve rises `pdrop` above it."""
    L, k = block.shape
    rising = np.ones(k, dtype=bool)
    top, top_row = np.full(k, -np.inf), np.full(k, -1, dtype=np.int64)
    low = np.full(k, np.inf)
    rows, cols = [], []
    for i in range(L):
        x = block[i]
        higher = rising & (x > top)
        top = np.where(higher, x, top)
        top_row = np.where(higher, i, top_row)
        fell = rising & ~higher & (x <= top - pdrop)
        if fell.any():
            rows.append(top_row[fell])
            cols.append(np.flatnonzero(fell))
        low = np.where(fell, x, np.where(~rising, np.minimum(low, x), low))
        rose = ~rising & ~fell & (x >= low + pdrop)
        top = np.where(rose, x, top)
        top_row = np.where(rose, i, top_row)
        rising = (rising & ~fell) | rose
    end = rising & (top_row >= 0)
    rows.append(top_row[end])
    cols.append(np.flatnonzero(end))
    return np.concatenate(rows), np.concatenate(cols)


def _per_column(value, m, name, default=None):
    value = default if value is None else value
    out = np.broadcast_to(np.asarray(value, dtype=float), (m,)) if value is not None else None
    if out is not None and np.isnan(out).any():
        raise InputError(f"{name} is NaN")
    return out


def _chunks(items, rows):
    """`items` in pieces whose blocks of `rows` rows hold at most SCAN_BLOCK_ELEMENTS elements."""
    step = max(1, SCAN_BLOCK_ELEMENTS // max(1, int(rows)))
    return [items[s:s + step] for s in range(0, len(items), step)]


def _peak_rows(lod, cs, thr, pdrop):
    """(phenotype, chromosome, first row) of every peak, sorted; `thr`, `pdrop` (n_chr, m)."""
    mx = maxlod_per_chromosome(lod, cs)
    cand_c, cand_j = np.nonzero(mx > thr)
    inf_sel = ~np.isfinite(pdrop[cand_c, cand_j])
    rows_j, rows_c, rows_i = [cand_j[inf_sel]], [cand_c[inf_sel]], []
    first = np.empty(int(inf_sel.sum()), dtype=np.int64)
    cc, jj = cand_c[inf_sel], cand_j[inf_sel]
    for c in np.unique(cc):                                # one vectorised argmax per chromosome
        s = cc == c
        first[s] = cs[c] + np.argmax(lod[cs[c]:cs[c + 1]][:, jj[s]] == mx[c, jj[s]][None, :], axis=0)
    rows_i.append(first)
    fc, fj = cand_c[~inf_sel], cand_j[~inf_sel]
    for c in np.unique(fc):                                # several peaks: one pass per chromosome
        a, b = cs[c], cs[c + 1]
        for jj in _chunks(fj[fc == c], b - a):
            r, k = _hysteresis_rows(lod[a:b][:, jj], pdrop[c, jj])
            keep = lod[a + r, jj[k]] > thr[c, jj[k]]
            rows_j.append(jj[k][keep])
            rows_c.append(np.full(int(keep.sum()), c))
            rows_i.append(a + r[keep])
    J, C, I = (np.concatenate(r).astype(np.int64) for r in (rows_j, rows_c, rows_i))
    order = np.lexsort((I, C, J))
    return J[order], C[order], I[order]


def _positions_and_regions(lod, cs, pos, J, C, I, finite):
    """Each peak's position (tie-averaged) and region (first and last row, module notes)."""
    P, lo, hi = np.empty(J.size), cs[C].copy(), cs[C + 1] - 1
    v = lod[I, J]
    for c in np.unique(C[~finite]):                        # one peak per chromosome: every tied row
        sel = np.flatnonzero(~finite & (C == c))
        tied = lod[cs[c]:cs[c + 1]][:, J[sel]] == v[sel][None, :]
        P[sel] = (tied * pos[cs[c]:cs[c + 1], None]).sum(axis=0) / tied.sum(axis=0)
    for t in np.flatnonzero(finite):                       # several: the run of equal values
        e = I[t]
        while e + 1 < cs[C[t] + 1] and lod[e + 1, J[t]] == v[t]:
            e += 1
        P[t] = pos[I[t]:e + 1].mean()
    for t in np.flatnonzero((J[1:] == J[:-1]) & (C[1:] == C[:-1])):   # the next peak: split at the dip
        dip = I[t] + int(np.argmin(lod[I[t]:I[t + 1] + 1, J[t]]))
        hi[t], lo[t + 1] = dip, dip
    return P, lo, hi


def _drop_bounds(block, pk, lo, hi, drop):
    """First and last rows (relative) of the LOD support intervals of the columns of `block`: one
    row beyond the first and the last row of the region with ``LOD ≥ peak − drop``."""
    L = block.shape[0]
    idx = np.arange(L)[:, None]
    v = block[pk, np.arange(block.shape[1])]
    above = (block >= (v - drop)[None, :]) & (idx >= lo) & (idx <= hi)
    first, last = above.argmax(axis=0), L - 1 - above[::-1].argmax(axis=0)
    return np.maximum(first - 1, lo), np.minimum(last + 1, hi)


def chromosome_weights(pos) -> np.ndarray:
    """Posterior weight of each position of one chromosome: the mean of its gaps to its two
    neighbours, an end's one gap counted twice (1 for a chromosome of one position)."""
    pos = np.asarray(pos, dtype=float)
    if pos.size < 2:
        return np.ones(pos.size)
    d = np.diff(pos)
    return (np.r_[d[0], d] + np.r_[d, d[-1]]) / 2.0


def _bayes_bounds(block, weight, lo, hi, prob):
    """First and last rows (relative) of the Bayes credible intervals of the columns of `block`
    (`weight`: :func:`chromosome_weights` of its rows)."""
    L, k = block.shape
    idx = np.arange(L)[:, None]
    inside = (idx >= lo) & (idx <= hi)
    top = np.where(inside, block, -np.inf).max(axis=0)
    dens = np.where(inside, 10.0 ** (np.where(inside, block, top) - top), 0.0)
    mass = dens * weight[:, None]
    flat = mass.sum(axis=0) <= 0                       # every weight 0: equal weights
    mass[:, flat] = dens[:, flat]
    order = np.argsort(np.where(inside, -block, np.inf), axis=0, kind="stable")
    cum = np.cumsum(np.take_along_axis(mass, order, axis=0), axis=0)
    reached = cum >= prob * cum[-1]
    n_in = np.where(reached.any(axis=0), reached.argmax(axis=0) + 1, inside.sum(axis=0))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(idx, (L, k)), axis=0)
    incl = rank < n_in[None, :]
    return incl.argmax(axis=0), L - 1 - incl[::-1].argmax(axis=0)


def _expand(lo_row, hi_row, C, cs, is_marker):
    """Move interval ends that are not markers outward to the nearest marker of the chromosome."""
    q = is_marker.size
    rows = np.arange(q)
    prev = np.maximum.accumulate(np.where(is_marker, rows, -1))
    nxt = np.minimum.accumulate(np.where(is_marker, rows, q)[::-1])[::-1]
    lo_new, hi_new = prev[lo_row], nxt[hi_row]
    lo_row = np.where(lo_new >= cs[C], lo_new, lo_row)
    hi_row = np.where(hi_new < cs[C + 1], hi_new, hi_row)
    return lo_row, hi_row


def _intervals(lod, cs, pos, J, C, I, lo, hi, drop, prob):
    """Interval ends (rows) of every peak: per chromosome, peaks in order of their regions, a
    block of peaks at a time on the rows their regions span."""
    lo_row, hi_row = I.copy(), I.copy()
    for c in np.unique(C):
        weight = chromosome_weights(pos[cs[c]:cs[c + 1]])
        on = np.flatnonzero(C == c)
        on = on[np.argsort(lo[on], kind="stable")]
        for sel in _chunks(on, cs[c + 1] - cs[c]):
            a, b = lo[sel].min(), hi[sel].max() + 1
            block = lod[a:b][:, J[sel]]
            if prob is None:
                left, right = _drop_bounds(block, I[sel] - a, lo[sel] - a, hi[sel] - a, drop[J[sel]])
            else:
                w = weight[a - cs[c]:b - cs[c]]
                left, right = _bayes_bounds(block, w, lo[sel] - a, hi[sel] - a, prob[J[sel]])
            lo_row[sel], hi_row[sel] = a + left, a + right
    return lo_row, hi_row


def find_peaks(lod, chr_start=None, pos=None, *, threshold=3.0, peakdrop=np.inf, drop=None, prob=None,
               thresholdX=None, peakdropX=None, expand2markers=True, is_x=None, is_marker=None) -> Peaks:
    """Peaks of LOD curves above a threshold, with LOD support or Bayes credible intervals (R/qtl2 ``find_peaks``).

    Parameters
    ----------
    lod : array_like, shape (q, m) or (q,)
        LOD scores, positions in map order within each chromosome (a 1-D array: one phenotype).
    chr_start : array_like of int, shape (n_chr + 1,), optional
        Chromosome boundaries (``Scan1Result.chr_start``); default one chromosome.
    pos : array_like, shape (q,), optional
        Positions (cM or Mbp), non-decreasing within a chromosome; default the row numbers.
    threshold : float or array_like (m,)
        A peak's LOD must exceed it.
    peakdrop : float or array_like (m,)
        Drop required between adjacent peaks (default ∞: one peak per chromosome).
    drop : float or array_like (m,), optional
        LOD support intervals around the positions with ``LOD ≥ peak − drop``; at most ``peakdrop``.
    prob : float or array_like (m,), optional
        Bayes credible intervals of this coverage, in (0, 1]. Give at most one of `drop` and `prob`.
    thresholdX, peakdropX : float or array_like (m,), optional
        `threshold` and `peakdrop` of the chromosomes flagged by `is_x` (default: the same).
    expand2markers : bool
        Move interval ends that are pseudomarkers out to markers (module notes).
    is_x : array_like of bool, shape (n_chr,), optional
        The X chromosome(s) (default: none).
    is_marker : array_like of bool, shape (q,), optional
        Which positions are markers (default: all; the rest are pseudomarkers).

    Returns
    -------
    Peaks
        Sorted by phenotype, chromosome, position.

    Notes
    -----
    See the module notes for the definitions. Vectorised over phenotypes: ``peakdrop = ∞``
    takes each chromosome's maximum; a finite ``peakdrop`` makes one pass along each chromosome
    over the curves whose maximum exceeds the threshold (the running maximum becomes a peak when
    the curve falls ``peakdrop`` below it, the running minimum ends the dip when the curve rises
    ``peakdrop`` above it: the prominence rule). Intervals: per chromosome, blocks of peaks on
    the rows of their regions. Blocks hold at most ``lmm.checks.SCAN_BLOCK_ELEMENTS`` values.
    """
    lod, cs, pos = _checked(lod, chr_start, pos)
    q, m = lod.shape
    n_chr = cs.size - 1
    thr, pdrop = _per_column(threshold, m, "threshold"), _per_column(peakdrop, m, "peakdrop")
    thrX, pdropX = _per_column(thresholdX, m, "thresholdX", thr), _per_column(peakdropX, m, "peakdropX", pdrop)
    drp, prb = _per_column(drop, m, "drop"), _per_column(prob, m, "prob")
    if drp is not None and prb is not None:
        raise InputError("give either drop (LOD support intervals) or prob (Bayes credible intervals), not both")
    if (pdrop <= 0).any() or (pdropX <= 0).any():
        raise InputError("peakdrop must be positive")
    if drp is not None and ((drp < 0).any() or (drp > np.minimum(pdrop, pdropX)).any()):
        raise InputError("drop must lie in [0, peakdrop]")
    if prb is not None and ((prb <= 0).any() or (prb > 1).any()):
        raise InputError("prob must lie in (0, 1]")
    x = np.zeros(n_chr, dtype=bool) if is_x is None else np.asarray(is_x, dtype=bool)
    mk = np.ones(q, dtype=bool) if is_marker is None else np.asarray(is_marker, dtype=bool)
    if x.shape != (n_chr,) or mk.shape != (q,):
        raise InputError(f"is_x must have shape ({n_chr},) and is_marker ({q},)")
    thr_cj = np.where(x[:, None], thrX[None, :], thr[None, :])
    pd_cj = np.where(x[:, None], pdropX[None, :], pdrop[None, :])
    J, C, I = _peak_rows(lod, cs, thr_cj, pd_cj)
    P, lo, hi = _positions_and_regions(lod, cs, pos, J, C, I, np.isfinite(pd_cj[C, J]))
    ci_lo, ci_hi = np.full(J.size, np.nan), np.full(J.size, np.nan)
    if J.size and (drp is not None or prb is not None):
        lo_row, hi_row = _intervals(lod, cs, pos, J, C, I, lo, hi, drp, prb)
        if expand2markers:
            lo_row, hi_row = _expand(lo_row, hi_row, C, cs, mk)
        ci_lo, ci_hi = pos[lo_row], pos[hi_row]
    return Peaks(lodindex=J, chr=C, index=I, pos=P, lod=lod[I, J], ci_lo=ci_lo, ci_hi=ci_hi)


def _one_curve(lod):
    lod = as_float_array(lod, "lod")
    if lod.ndim == 2 and lod.shape[1] == 1:
        lod = lod[:, 0]
    if lod.ndim != 1 or lod.size == 0:
        raise InputError(f"lod must be one LOD curve (q,) of one chromosome; got shape {lod.shape}")
    return lod


def lod_int(lod, pos, *, drop=1.5, peakdrop=np.inf, threshold=0.0, expand2markers=True,
            is_marker=None) -> np.ndarray:
    """LOD support intervals of the peaks of one LOD curve on one chromosome (R/qtl2 ``lod_int``).

    Parameters
    ----------
    lod : array_like, shape (q,)
        One phenotype's LOD on one chromosome.
    pos : array_like, shape (q,)
        Positions, non-decreasing.
    drop : float
        The interval: around the positions with ``LOD ≥ peak − drop`` (module notes); at most
        `peakdrop`.
    peakdrop, threshold, expand2markers, is_marker
        As in :func:`find_peaks` (here the defaults are R/qtl2's ``lod_int``'s: the highest
        peak, whatever its LOD, when it is positive).

    Returns
    -------
    ndarray, shape (k, 3)
        One row per peak in map order: ``ci_lo, pos, ci_hi``.
    """
    p = find_peaks(_one_curve(lod), None, pos, threshold=threshold, peakdrop=peakdrop, drop=drop,
                   expand2markers=expand2markers, is_marker=is_marker)
    return np.column_stack([p.ci_lo, p.pos, p.ci_hi])


def bayes_int(lod, pos, *, prob=0.95, peakdrop=np.inf, threshold=0.0, expand2markers=True,
              is_marker=None) -> np.ndarray:
    """Bayes credible intervals of the peaks of one LOD curve on one chromosome (R/qtl2 ``bayes_int``).

    Parameters
    ----------
    lod : array_like, shape (q,)
        One phenotype's LOD on one chromosome.
    pos : array_like, shape (q,)
        Positions, non-decreasing.
    prob : float
        Nominal coverage, in (0, 1].
    peakdrop, threshold, expand2markers, is_marker
        As in :func:`find_peaks` (defaults as R/qtl2's ``bayes_int``).

    Returns
    -------
    ndarray, shape (k, 3)
        One row per peak in map order: ``ci_lo, pos, ci_hi``.

    Notes
    -----
    The posterior ∝ ``10^LOD`` weighted by marker spacing (:func:`chromosome_weights`); module
    notes.
    """
    p = find_peaks(_one_curve(lod), None, pos, threshold=threshold, peakdrop=peakdrop, prob=prob,
                   expand2markers=expand2markers, is_marker=is_marker)
    return np.column_stack([p.ci_lo, p.pos, p.ci_hi])

r"""Peaks of LOD curves and their support intervals (R/qtl2's ``find_peaks`` and ``maxlod``).

Definitions
-----------
For one phenotype's LOD curve on one chromosome (markers in map order):

* **Peak** (``peakdrop = ∞``, the default): the largest LOD of the chromosome,
  reported when it exceeds ``threshold`` (strictly); one peak per chromosome.
* **Several peaks** (finite ``peakdrop``): the local maxima exceeding
  ``threshold`` such that between any two adjacent peaks the LOD drops at least
  ``peakdrop`` below the lower of the two. Equivalently (and so computed):
  a local maximum ``v`` is a peak when, on each side, the curve falls to
  ``v − peakdrop`` or lower before it first exceeds ``v`` (the chromosome's end
  counts as such a fall): its topographic prominence, with the curve taken to
  ``−∞`` beyond the ends, is at least ``peakdrop``.
* **Position**: where several markers share a peak's LOD exactly (a flat
  top), the average of their positions, as R/qtl2 reports; the ``index`` is
  the first of them.
* **LOD support interval** (``drop``): the markers around the peak where
  ``LOD ≥ peak − drop``, contiguous (the run containing the peak);
  ``ci_lo``/``ci_hi`` are the positions of its first and last markers
  (R/qtl2's intervals with ``expand2markers``; on a marker map every position
  is a marker). ``drop`` must not exceed ``peakdrop``.

A chromosome is a run of consecutive rows of the LOD matrix (``chr_start``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import as_float_array, as_matrix
from .errors import InputError

__all__ = ["Peaks", "find_peaks", "maxlod"]


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
        Row of the LOD matrix (the marker) of the peak.
    pos : ndarray (k,)
        Peak position (mean position of markers tied at the peak LOD).
    lod : ndarray (k,)
        LOD at the peak.
    ci_lo, ci_hi : ndarray (k,)
        Support interval ends (positions); NaN when ``drop`` is not given.
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


def maxlod(lod, chr_start=None) -> np.ndarray:
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


def _prominent(seg, v_thr, peakdrop):
    """Indices of the peaks of one curve (first index of a flat top)."""
    L = seg.size
    idx = []
    # local maxima (flat tops: first index), then the prominence test
    i = 0
    while i < L:
        j = i
        while j + 1 < L and seg[j + 1] == seg[i]:
            j += 1
        left_ok = i == 0 or seg[i - 1] < seg[i]
        right_ok = j == L - 1 or seg[j + 1] < seg[i]
        if left_ok and right_ok and seg[i] > v_thr:
            v = seg[i]
            ok = True
            for side in (-1, 1):
                k = i - 1 if side < 0 else j + 1
                low = np.inf
                while 0 <= k < L and seg[k] <= v:
                    low = min(low, seg[k])
                    k += side
                if 0 <= k < L and low > v - peakdrop:   # a higher point reached without the drop
                    ok = False
                    break
            if ok:
                idx.append(i)
        i = j + 1
    return idx


def find_peaks(lod, chr_start=None, pos=None, *, threshold=3.0, peakdrop=np.inf, drop=None) -> Peaks:
    """Peaks of LOD curves above a threshold, with LOD support intervals (R/qtl2 ``find_peaks``).

    Parameters
    ----------
    lod : array_like, shape (q, m)
        LOD scores, markers in map order within each chromosome.
    chr_start : array_like of int, shape (n_chr + 1,), optional
        Chromosome boundaries (``Scan1Result.chr_start``); default one chromosome.
    pos : array_like, shape (q,), optional
        Marker positions (cM or Mbp); default the row numbers.
    threshold : float or array_like (m,)
        A peak's LOD must exceed it.
    peakdrop : float or array_like (m,)
        Drop required between adjacent peaks (default ∞: one peak per chromosome).
    drop : float or array_like (m,), optional
        LOD support interval: ``LOD ≥ peak − drop``; at most ``peakdrop``.

    Returns
    -------
    Peaks

    Notes
    -----
    See the module notes for the definitions. ``peakdrop = ∞`` is fully
    vectorised; a finite ``peakdrop`` examines only the (phenotype,
    chromosome) curves whose maximum exceeds ``threshold``.
    """
    lod, cs, pos = _checked(lod, chr_start, pos)
    q, m = lod.shape
    thr = np.broadcast_to(np.asarray(threshold, dtype=float), (m,))
    pdrop = np.broadcast_to(np.asarray(peakdrop, dtype=float), (m,))
    drp = None if drop is None else np.broadcast_to(np.asarray(drop, dtype=float), (m,))
    if (pdrop <= 0).any():
        raise InputError("peakdrop must be positive")
    if drp is not None and ((drp < 0).any() or (drp > pdrop).any()):
        raise InputError("drop must lie in [0, peakdrop]")
    mx = maxlod(lod, cs)                                   # (n_chr, m)
    cand_c, cand_j = np.nonzero(mx > thr[None, :])
    rows_j, rows_c, rows_i = [], [], []
    fin = np.isfinite(pdrop)
    # peakdrop = ∞: the first marker reaching each chromosome's maximum
    inf_sel = ~fin[cand_j]
    if inf_sel.any():
        cc, jj = cand_c[inf_sel], cand_j[inf_sel]
        first = np.empty(cc.size, dtype=np.int64)
        for c in np.unique(cc):                            # one vectorised argmax per chromosome
            s = cc == c
            first[s] = cs[c] + np.argmax(lod[cs[c]:cs[c + 1]][:, jj[s]] == mx[c, jj[s]][None, :], axis=0)
        rows_j.append(jj)
        rows_c.append(cc)
        rows_i.append(first)
    for c, j in zip(cand_c[~inf_sel], cand_j[~inf_sel]):
        seg = lod[cs[c]:cs[c + 1], j]
        ii = _prominent(seg, thr[j], pdrop[j])
        rows_j.append(np.full(len(ii), j))
        rows_c.append(np.full(len(ii), c))
        rows_i.append(cs[c] + np.asarray(ii, dtype=np.int64))
    J = np.concatenate(rows_j) if rows_j else np.zeros(0, np.int64)
    C = np.concatenate(rows_c) if rows_c else np.zeros(0, np.int64)
    I = np.concatenate(rows_i) if rows_i else np.zeros(0, np.int64)
    order = np.lexsort((I, C, J))
    J, C, I = J[order].astype(np.int64), C[order].astype(np.int64), I[order].astype(np.int64)
    v = lod[I, J]
    k = J.size
    P = np.empty(k)
    lo = np.full(k, np.nan)
    hi = np.full(k, np.nan)
    for t in range(k):
        a, b = cs[C[t]], cs[C[t] + 1]
        seg = lod[a:b, J[t]]
        i = I[t] - a
        if np.isfinite(pdrop[J[t]]):
            e = i
            while e + 1 < seg.size and seg[e + 1] == v[t]:
                e += 1
            P[t] = pos[a + i:a + e + 1].mean()
        else:
            P[t] = pos[a:b][seg == v[t]].mean()
        if drp is not None:
            below = seg < v[t] - drp[J[t]]
            left = np.flatnonzero(below[:i])
            right = np.flatnonzero(below[i:])
            l0 = left[-1] + 1 if left.size else 0
            r0 = i + right[0] - 1 if right.size else seg.size - 1
            lo[t], hi[t] = pos[a + l0], pos[a + r0]
    return Peaks(lodindex=J, chr=C, index=I, pos=P, lod=v, ci_lo=lo, ci_hi=hi)

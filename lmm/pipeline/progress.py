"""Progress of a scan job: a time-based logger, so that a long run on a cluster is seen to advance.

A scan job (``workflow/scripts/scan.py``) scans a group of ``k`` chromosomes for a chunk of
traits; one chromosome of the DO islet scale (21,771 traits, 5,000 markers of 8 alleles) takes
minutes. :class:`ScanProgress` is handed to :func:`lmm.pipeline.genome_scan.scan_chunk`, which
tells it where the job is (chromosome, tile of genotype columns, markers done, permutation
replicates) after every block of markers the scan kernel finishes; it writes one line through the
stage's :mod:`logging` logger at the start and end of each chromosome, after its null fits, and in
between whenever :data:`LOG_INTERVAL_S` seconds of its clock have passed since its last line::

    scan: chromosome 2 of 3 (19), tile 1 of 1: 804 of 1,609 markers (50%), 21,771 traits,
    187 traits/s, 58 s on this chromosome

``traits/s`` counts a trait of this chromosome as done when all its markers are: ``m·f/t`` with
``f`` the fraction of the chromosome's markers scanned and ``t`` the seconds since the chromosome
began (its null fits included). The gap between two lines is at most the interval plus the time
of one block of markers (a second or two at that scale); the clock is injectable
(``clock``), so the rule is tested with a fake clock, never with wall time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["LOG_INTERVAL_S", "ScanProgress"]

#: Longest time (seconds of the progress clock) between two progress lines of a scan job.
LOG_INTERVAL_S = 30.0


class ScanProgress:
    """The progress lines of one scan job: ``n_chromosomes`` chromosomes, at least every `interval` s.

    Parameters
    ----------
    logger : logging.Logger
        The stage's logger (INFO lines).
    n_chromosomes : int
        Chromosomes the job scans (``k`` of "chromosome i of k").
    interval : float
        Seconds of `clock` after which the next report logs a line (default :data:`LOG_INTERVAL_S`).
    clock : callable () -> float
        Monotonic seconds (default :func:`time.monotonic`).

    Notes
    -----
    :func:`lmm.pipeline.genome_scan.scan_chunk` calls :meth:`begin` (chromosome ``i`` is the
    number of :meth:`begin` calls so far), :meth:`null_fits_done`, :meth:`markers_callback` /
    :meth:`advance` while it scans, :meth:`replicates_callback` while it permutes, and :meth:`end`.
    """

    def __init__(self, logger: logging.Logger, n_chromosomes: int, *, interval: float = LOG_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic):
        self.logger, self.n_chromosomes = logger, int(n_chromosomes)
        self.interval, self.clock = float(interval), clock
        self.index = 0
        self.name, self.n_traits, self.n_markers, self.n_tiles = "", 0, 0, 0
        self.tile, self.markers, self.replicates = 0, 0.0, None
        self.started = self.last = clock()

    def _where(self) -> str:
        return f"scan: chromosome {self.index} of {self.n_chromosomes} ({self.name})"

    def traits_per_second(self, now: float) -> float:
        """``m · (markers done / markers) / seconds on this chromosome`` (0 before any time has passed)."""
        elapsed = now - self.started
        if elapsed <= 0 or not self.n_markers:
            return 0.0
        return self.n_traits * (self.markers / self.n_markers) / elapsed

    def _log(self, now: float, message: str, *args) -> None:
        self.last = now
        self.logger.info(message, *args)

    def begin(self, name: str, n_traits: int, n_markers: int, n_tiles: int) -> None:
        """A chromosome starts (its null fits first): always logged."""
        self.index += 1
        self.name, self.n_traits, self.n_markers, self.n_tiles = str(name), int(n_traits), int(n_markers), int(n_tiles)
        self.tile, self.markers, self.replicates = 0, 0.0, None
        self.started = now = self.clock()
        self._log(now, "%s: %d traits x %d markers in %d tile(s): null fits", self._where(), self.n_traits,
                  self.n_markers, self.n_tiles)

    def null_fits_done(self) -> None:
        """The chromosome's null fits are done: always logged."""
        now = self.clock()
        self._log(now, "%s: null fits of %d traits done in %.1f s", self._where(), self.n_traits, now - self.started)

    def advance(self, tile: int, markers: float, replicates: tuple[int, int] | None = None) -> None:
        """Tile ``tile`` (1-based) is being scanned, ``markers`` of the chromosome's are done
        (marker-equivalents, fractional when a tile is scanned for several null groups), and, while
        permuting, ``replicates = (done, total)`` of the tile's; logs a line when one is due."""
        self.tile, self.markers, self.replicates = int(tile), float(markers), replicates
        now = self.clock()
        if now - self.last < self.interval:
            return
        perm = "" if replicates is None else f", permutation replicates {replicates[0]} of {replicates[1]}"
        self._log(now, "%s, tile %d of %d: %d of %d markers (%.0f%%)%s, %d traits, %.3g traits/s, %.0f s on this "
                  "chromosome", self._where(), self.tile, self.n_tiles, int(self.markers), self.n_markers,
                  100.0 * self.markers / max(self.n_markers, 1), perm, self.n_traits, self.traits_per_second(now),
                  now - self.started)

    def markers_callback(self, tile: int, first: int, width: int, group: int, n_groups: int) -> Callable[[int], None]:
        """The kernel's ``progress`` callable for null group ``group`` (of ``n_groups``) on tile ``tile``,
        whose ``width`` markers start at marker ``first``: ``k`` markers of it done."""
        def report(k: int) -> None:
            self.advance(tile, first + (group * width + k) / n_groups)
        return report

    def replicates_callback(self, tile: int, n_perm: int) -> Callable[[int], None]:
        """The permutations' ``progress`` callable on tile ``tile``: ``b`` of ``n_perm`` replicates done."""
        def report(b: int) -> None:
            self.advance(tile, self.markers, (int(b), int(n_perm)))
        return report

    def end(self) -> None:
        """The chromosome is done: always logged, with its rate."""
        now = self.clock()
        self.markers = float(self.n_markers)
        self._log(now, "%s done: %d traits x %d markers in %.1f s, %.3g traits/s", self._where(), self.n_traits,
                  self.n_markers, now - self.started, self.traits_per_second(now))

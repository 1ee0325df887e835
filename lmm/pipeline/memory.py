"""Process setting of a workflow job: memory that numpy frees is kept for its next arrays.

glibc's ``malloc`` serves a request above its *mmap threshold* (128 KiB at start, raised
dynamically up to the size of the largest freed block) with fresh pages from the kernel, and
gives the top of its heap back once more than its *trim threshold* is free there. numpy's
temporaries of a few MiB, made and freed thousands of times by the null fits and the scan
kernel, then cost a page fault per 4 KiB on every use: about 4 µs each on a virtual machine
(a 3 MiB product of the scan kernel took 10 ms instead of 0.5 ms on the 2-core VM of
``benchmarks/README.md``; recla's ``lmm.scan1`` spent 0.14–0.4 s in the kernel, ``sys`` time, of
1.4 s). :func:`keep_freed_memory` fixes both thresholds (``mallopt``), so that freed memory is
reused: the peak memory of a job is what it was (the largest arrays, above 32 MiB, are still
mapped and unmapped each time), and results do not change.

The workflow's scripts call it at start-up (``workflow/scripts/_stage.py``); a user's own
process is left alone unless it calls it, or sets ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` in its environment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: Requests up to this size come from the heap (glibc's largest mmap threshold on 64-bit).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: The heap is given back to the kernel only when this much is free at its top.
TRIM_THRESHOLD = 1024 * 1024 * 1024

_M_TRIM_THRESHOLD = -1          # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> str:
    """Set glibc's mmap and trim thresholds for this process (module notes).

    Returns
    -------
    str
        What was done, for the job's log: the two thresholds, or why nothing was changed
        (not Linux, no ``mallopt``, or a C library that refused them, as musl does).
    """
    if not sys.platform.startswith("linux"):
        return "malloc unchanged (not Linux)"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "malloc unchanged (no mallopt in the C library)"
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 or mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1:
        return "malloc unchanged (the C library refused mallopt)"
    return (f"malloc: mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold "
            f"{TRIM_THRESHOLD >> 20} MiB (freed memory reused)")

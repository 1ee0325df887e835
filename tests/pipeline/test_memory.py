"""lmm.pipeline.memory: a workflow job keeps the memory numpy frees for its next arrays.

Each check runs in a fresh interpreter (the setting is per process): the same chain of numpy
temporaries of a few MiB (the scan kernel's products of column pairs) page-faults on every
repetition with glibc's defaults and not at all after :func:`keep_freed_memory`.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from lmm.pipeline.memory import MMAP_THRESHOLD, TRIM_THRESHOLD, keep_freed_memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from lmm.pipeline.memory import keep_freed_memory
    print(keep_freed_memory())
Z = np.random.default_rng(0).random((45, 7, 320))
ia, ib = np.tril_indices(7)
(Z[:, ia] * Z[:, ib]).sum()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    (Z[:, ia] * Z[:, ib]).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _faults(mode):
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return out[:-2], int(out[-2])


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_freed_temporaries_are_reused():
    said, kept = _faults("keep")
    assert said == [f"malloc: mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold "
                    f"{TRIM_THRESHOLD >> 20} MiB (freed memory reused)"]
    assert kept < 100
    if _huge_pages_always():
        return              # the defaults fault 2 MiB at a time there: too few to compare
    _, default = _faults("none")
    # 20 products of 3.2 MB: 20 × ~780 pages each with the defaults (measured 46,635)
    assert default > 20 * 500


def _huge_pages_always():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="ascii") as f:
            return "[always]" in f.read()
    except OSError:
        return False


def test_says_what_it_did():
    said = keep_freed_memory()
    assert said.startswith("malloc: mmap threshold" if GLIBC else "malloc unchanged (")

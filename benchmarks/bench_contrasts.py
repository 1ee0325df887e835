"""Benchmark of the scan on error contrasts (lmm.scan.contrasts) against the kernel's plain path.

Run from the repository root (one BLAS thread: the CPU seconds are those of one core)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_contrasts.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_contrasts.py --traits 500 --repeats 2   # quick

The workload: :func:`lmm.scan_rotated` at DO islet shape (n = 500, 8-allele probabilities, 7
design columns per marker, 412 markers, ``--traits`` traits at hsq uniform in [0, 0.9)),
p = 2 and p = 6 covariates (intercept, sex, 4 wave indicators), maxima only; seeded and
synthetic. For each p the two paths run alternately, ``--repeats`` times each; printed: their
best CPU seconds, the ratio, the largest LOD difference between them, and each path against
its floor, its matrix products at the GEMM rate measured in the same run on the kernel's product
shape ((2,048 × 500) by (500 × 5,600), float64, best of 5)::

    plain      2nqm·(d(d+1)/2 + d + d·p)
    contrasts  2(n − p)qm·(d(d+1)/2 + d)

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import lmm

N, Q, D = 500, 412, 7


def gemm_rate(repeats=5) -> float:
    """Flops per second of a (2,048 × 500) by (500 × 5,600) float64 product, best of ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2048, N)), rng.standard_normal((N, 5600))
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2.0 * 2048 * N * 5600 / best


def case(p, m, seed=5):
    """The arguments of :func:`lmm.scan_rotated` for ``p`` covariates and ``m`` traits."""
    rng = np.random.default_rng(seed)
    G = rng.dirichlet(np.ones(D + 1), (N, Q))[:, :, 1:].reshape(N, Q * D)
    dec = lmm.eigen_decompose(G @ G.T / Q + 0.02 * np.eye(N))
    X = np.ones((N, p))
    X[:, 1:] = rng.integers(0, 2, (N, p - 1))
    y = rng.standard_normal((N, m))
    return dec.kva, dec.kve_t @ y, dec.kve_t @ X, rng.uniform(0, 0.9, m), dec.kve_t @ G, D


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traits", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    m = args.traits
    print(f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load {os.getloadavg()[0]:.2f} {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    rate = gemm_rate()
    print(f"GEMM rate {rate / 1e9:.1f} GFlop/s; n = {N}, m = {m:,} traits, {Q} markers x {D} columns")
    pairs = D * (D + 1) // 2 + D
    for p in (2, 6):
        inputs = case(p, m)
        times = {False: [], True: []}
        res = {}
        for _ in range(args.repeats):
            for fast in (False, True):
                t = time.process_time()
                res[fast] = lmm.scan_rotated(*inputs, reduce="max", contrasts=fast)
                times[fast].append(time.process_time() - t)
        floor = {False: 2.0 * N * Q * m * (pairs + D * p) / rate, True: 2.0 * (N - p) * Q * m * pairs / rate}
        diff = float(np.abs(res[True].max_lod - res[False].max_lod).max())
        for fast, name in ((False, "plain    "), (True, "contrasts")):
            best = min(times[fast])
            print(f"p = {p} {name} CPU s {' '.join(f'{t:.2f}' for t in times[fast])}  best {best:.2f}  "
                  f"floor {floor[fast]:.2f} s  ratio {best / floor[fast]:.2f}x")
        print(f"p = {p} contrasts / plain {min(times[True]) / min(times[False]):.2f}; "
              f"largest |max LOD difference| {diff:.1e}")
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

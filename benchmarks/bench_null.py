"""Benchmark of the scan's null fits per trait and chromosome (issue 18, target 5).

Run from the repository root (one command; prints, asserts nothing)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_null.py              # n 1,000, 2,000 traits
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_null.py --n 500 --m 5000 --p 6

What a scan job does first for every chromosome: :func:`lmm.scan.engine.fit_null_group` of all
its traits on the chromosome's (LOCO) decomposition (REML, ``scan_tol`` 1e-4, the Newton polish).
Timed, in CPU seconds of this process (best of ``--repeat``), for three sets of seeded traits
(true hsq uniform in [0, 0.9), an intercept and a sex covariate, ``p − 2`` more normal ones):

* complete: no missing value;
* masked: each trait misses one individual, at random (nearly every trait its own missing-data
  pattern: fitted by the Schur complement of :mod:`lmm.missing`);
* masked 5: each misses five.

Printed per set: the time, the time per trait, the target (issue 18: at n = 1,000, ≤ 0.05 ms
per complete trait, ≤ 0.3 ms per masked one) and the ratio against the floor measured in the
same run: one rotation ``Uᵀy`` of the same traits (a GEMM of 2n²m flops, which every null fit
of a decomposition needs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import lmm
from lmm.scan.engine import fit_null_group


def data(n, m, p, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3 * n))
    K = Z @ Z.T / Z.shape[1]
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=(n, p - 2))])
    h = rng.uniform(0.0, 0.9, m)
    L = np.linalg.cholesky(K + 1e-8 * np.eye(n))
    Y = (L @ rng.normal(size=(n, m))) * np.sqrt(h) + rng.normal(size=(n, m)) * np.sqrt(1.0 - h) + X[:, 1:2]
    sets = {"complete": Y}
    for k in (1, 5):
        Ym = Y.copy()
        rows = np.argsort(rng.random((n, m)), axis=0)[:k]
        Ym[rows, np.arange(m)[None, :]] = np.nan
        sets[f"masked ({k} missing)"] = Ym
    return lmm.eigen_decompose(K), X, sets


def best_cpu(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--m", type=int, default=2000)
    ap.add_argument("--p", type=int, default=2, help="covariates, intercept and sex included (>= 2)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args(argv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · load {os.getloadavg()[0]:.2f} · "
          f"numpy {np.__version__} · OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    dec, X, sets = data(args.n, args.m, max(args.p, 2), args.seed)
    Y = sets["complete"]
    floor = best_cpu(lambda: dec.kve_t @ Y, args.repeat)
    print(f"n = {args.n:,}, m = {args.m:,} traits, p = {X.shape[1]}; floor (one rotation kve_t @ y, "
          f"2n²m flops): {floor:.3f} s CPU, {floor / args.m * 1e3:.4f} ms per trait")
    print("| traits | fit_null_group CPU s | ms per trait | target ms | / floor |")
    print("|---|---|---|---|---|")
    for name, y in sets.items():
        t = best_cpu(lambda: fit_null_group(dec, y, X, reml=True, tol=1e-4), args.repeat)
        target = 0.05 if name == "complete" else 0.3
        print(f"| {name} | {t:.3f} | {t / args.m * 1e3:.3f} | {target} | {t / floor:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

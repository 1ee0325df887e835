"""Crossover between the two ways of fitting a phenotype with missing values.

Run from the repository root::

    python benchmarks/bench_missing.py [--sizes 1000 2000] [--ks 1 5 10 20 50 100]

A phenotype missing ``k`` of the ``n`` individuals of a decomposition can be
fitted (a) through the Schur complement of ``lmm.fit_lmm_masked`` on the
existing decomposition, at a cost per phenotype that grows with ``k²n``, or
(b) by decomposing the kinship of its ``n − k`` observed individuals afresh
(``O(n³)`` once per missing-data pattern), after which each phenotype of the
pattern costs a complete-data fit. With ``c`` phenotypes sharing a pattern, (b)
is cheaper when ``c > t_eig / (t_schur − t_complete)``. This script measures the
three times (per phenotype for the fits, with the SE and the profile CI, as the
workflow computes them) on seeded synthetic data and prints that crossover;
``lmm.pipeline.plan.choose_strategy`` uses the fitted constants.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import lmm

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_fit import simulate  # noqa: E402


def per_phenotype(fn, m):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10, 20, 50, 100])
    ap.add_argument("--m", type=int, default=200, help="phenotypes per measurement")
    args = ap.parse_args(argv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}; fits with SE and CI (REML, tol 1e-4)")
    head = ("n", "k", "eigh(n-k) s", "complete fit ms/pheno", "Schur fit ms/pheno",
            "crossover: decompose when a pattern has more than")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    rng = np.random.default_rng(5)
    for n in args.sizes:
        K, Y, X = simulate(n, args.m)
        dec = lmm.eigen_decompose(K)
        rot = dec.rotate(Y, X)
        t_full = per_phenotype(lambda: lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True), args.m)
        for k in args.ks:
            Ym = Y.copy()
            for j in range(args.m):
                Ym[rng.choice(n, k, replace=False), j] = np.nan
            t_schur = per_phenotype(
                lambda: lmm.fit_lmm_masked(dec, Ym, X, compute_se=True), args.m)
            o = np.ones(n, bool)
            o[rng.choice(n, k, replace=False)] = False
            t0 = time.perf_counter()
            lmm.eigen_decompose(K[np.ix_(o, o)])
            t_eig = time.perf_counter() - t0
            gain = t_schur - t_full
            cross = f"{t_eig / gain:.0f} phenotypes" if gain > 0 else "never (Schur is as fast)"
            print(f"| {n} | {k} | {t_eig:.3f} | {t_full * 1e3:.3f} | {t_schur * 1e3:.3f} | {cross} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

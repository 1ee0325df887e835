"""Benchmark of the numerical core: decomposition, rotation and the fit of many phenotypes.

Run from the repository root::

    python benchmarks/bench_fit.py            # the three sizes of the issue
    python benchmarks/bench_fit.py --quick    # (261, 26) and (1000, 1000) only

For each (n, m) it makes a seeded synthetic data set (a kinship matrix from
simulated genotypes of three related sub-populations, m phenotypes with true
heritabilities spread over [0, 0.9], an intercept and a sex covariate) and
prints the wall time of the eigen-decomposition, of the rotation and of the fit
of all columns (``fit_lmm``, REML, tol 1e-4, without SE and CI, then with both),
the time per phenotype, the peak memory of the fit (tracemalloc, in a second,
untimed run) and the
process's peak RSS. The baseline, measured in the same run on the same rotated
data, is a Python loop that calls ``scipy.optimize.minimize_scalar`` (bounded
Brent, same tolerance) on one column at a time with a plain numpy objective,
then checks the boundaries: the way one would write it without vectorising.
On the largest sizes the baseline runs on the first ``--baseline-columns``
columns and its time per phenotype is reported from those.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np
from scipy.optimize import minimize_scalar

import lmm


def simulate(n: int, m: int, seed: int = 20261124, n_markers: int | None = None):
    """Kinship of related individuals (3 sub-populations), m phenotypes, covariates."""
    rng = np.random.default_rng(seed)
    n_markers = n_markers or max(2 * n, 500)
    # Balding–Nichols allele frequencies for 3 sub-populations (F_ST = 0.1)
    anc = rng.uniform(0.1, 0.9, n_markers)
    fst = 0.1
    a, b = anc * (1 - fst) / fst, (1 - anc) * (1 - fst) / fst
    freqs = rng.beta(a, b, size=(3, n_markers))
    pop = rng.integers(0, 3, n)
    G = rng.binomial(2, freqs[pop]).astype(float)
    Z = G - G.mean(axis=0)
    sd = Z.std(axis=0)
    Z = Z[:, sd > 0] / sd[sd > 0]
    K = Z @ Z.T / Z.shape[1]
    K = (K + K.T) / 2
    # phenotypes with true hsq in [0, 0.9]
    lam, U = np.linalg.eigh(K)
    lam = np.clip(lam, 0, None)
    hsq = rng.uniform(0.0, 0.9, m)
    g = U @ (np.sqrt(lam)[:, None] * rng.standard_normal((n, m)))
    e = rng.standard_normal((n, m))
    sex = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([np.ones(n), sex])
    y = X @ np.array([10.0, 0.5])[:, None] + np.sqrt(hsq) * g + np.sqrt(1 - hsq) * e
    return K, y, X


def baseline_fit(kva, y, X, tol=1e-4):
    """Per-column scipy loop: bounded Brent on a plain numpy REML objective, then 0 and 1."""
    n, p = X.shape
    _, logdet_xtx = np.linalg.slogdet(X.T @ X)

    def negll(h, yj):
        s = 1.0 / (h * kva + 1.0 - h)
        xs = X * s[:, None]
        xsx = X.T @ xs
        beta = np.linalg.solve(xsx, xs.T @ yj)
        r = yj - X @ beta
        rss = float(r @ (s * r))
        sigmasq = rss / (n - p)
        _, logdet_xsx = np.linalg.slogdet(xsx)
        ll = -0.5 * (np.sum(np.log(h * kva + 1.0 - h)) + n * np.log(rss))
        ll += 0.5 * (p * np.log(2 * np.pi * sigmasq) + logdet_xtx - logdet_xsx)
        return -ll

    out = np.empty(y.shape[1])
    for j in range(y.shape[1]):
        yj = y[:, j]
        res = minimize_scalar(negll, bounds=(0.0, 1.0), args=(yj,), method="bounded",
                              options={"xatol": tol})
        cands = [(res.fun, res.x), (negll(0.0, yj), 0.0), (negll(1.0, yj), 1.0)]
        out[j] = min(cands)[1]
    return out


def timed(fn, *args, trace=False, **kw):
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    dt = time.perf_counter() - t0
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return out, dt, peak


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        return "threadpoolctl not installed"


def run(n, m, baseline_columns):
    K, y, X = simulate(n, m)
    dec, t_eig, _ = timed(lmm.eigen_decompose, K)
    rot, t_rot, _ = timed(dec.rotate, y, X)
    fit, t_fit, _ = timed(lmm.fit_lmm, rot.kva, rot.y, rot.X, compute_ci=False)
    _, _, peak_fit = timed(lmm.fit_lmm, rot.kva, rot.y, rot.X, compute_ci=False, trace=True)
    fit_all, t_fit_all, _ = timed(lmm.fit_lmm, rot.kva, rot.y, rot.X, compute_se=True,
                                  compute_ci=True)
    mb = min(m, baseline_columns)
    base, t_base, _ = timed(baseline_fit, rot.kva, rot.y[:, :mb], rot.X)
    agree = float(np.max(np.abs(base - fit.hsq[:mb])))
    per = t_fit / m
    per_base = t_base / mb
    return dict(n=n, m=m, t_eig=t_eig, t_rot=t_rot, t_fit=t_fit, per=per, t_fit_all=t_fit_all,
                per_all=t_fit_all / m, peak_fit=peak_fit / 2**20,
                rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                per_base=per_base, ratio=per_base / per, mb=mb, agree=agree,
                evals=float(np.mean(fit.n_eval)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the two smaller sizes")
    ap.add_argument("--baseline-columns", type=int, default=1000,
                    help="columns given to the scipy baseline (default 1000)")
    args = ap.parse_args(argv)
    sizes = [(261, 26), (1000, 1000)] + ([] if args.quick else [(2000, 5000)])
    print(f"# lmm {lmm.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cpus; BLAS: {blas_info()}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}; fit = fit_lmm REML tol 1e-4; "
          "'+se+ci' adds the SE and the profile CI; baseline = scipy minimize_scalar loop")
    head = ("n", "m", "eigh s", "rotate s", "fit s", "fit/pheno ms", "+se+ci s",
            "+se+ci/pheno ms", "evals", "fit peak MiB", "max RSS MiB", "scipy/pheno ms",
            "speed-up", "max |Δhsq|")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n, m in sizes:
        r = run(n, m, args.baseline_columns)
        print(f"| {r['n']} | {r['m']} | {r['t_eig']:.3f} | {r['t_rot']:.3f} | {r['t_fit']:.3f} | "
              f"{r['per'] * 1e3:.4f} | {r['t_fit_all']:.3f} | {r['per_all'] * 1e3:.4f} | "
              f"{r['evals']:.1f} | {r['peak_fit']:.0f} | {r['rss']:.0f} | "
              f"{r['per_base'] * 1e3:.3f} (on {r['mb']}) | {r['ratio']:.1f}x | {r['agree']:.1e} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark at DO islet scale (issue 18): a slice of the genome with all traits, through the workflow's scan job.

Run from the repository root (one BLAS thread per core the job has)::

    OPENBLAS_NUM_THREADS=2 python benchmarks/bench_do_islet.py                  # chromosome 19, 21,771 traits
    OPENBLAS_NUM_THREADS=2 python benchmarks/bench_do_islet.py --chromosomes 1 19
    OPENBLAS_NUM_THREADS=2 python benchmarks/bench_do_islet.py --traits 2000 --covariates 2   # quick

The workload (issue 18): n = 500 Diversity Outbred mice, m = 21,771 traits, 69,005 markers of 8
allele probabilities on 20 chromosomes (markers per chromosome proportional to the mouse genome's
lengths, GRCm38), LOCO kinships, peaks and maxima only. Everything is synthetic and seeded:

* genotypes: each mouse's two haplotypes are mosaics of the 8 founders along each chromosome
  (a founder switch at rate 0.1 per Mb, about 20 generations of outbreeding at 0.5 cM/Mb), and
  the allele probabilities are the diploid truth ``(e_f1 + e_f2)/2`` blurred with 4% of a random
  probability vector (rows sum to one);
* kinships: R/qtl2's shared-allele kinship with LOCO (:class:`lmm.kinship.KinshipAccumulator`,
  one pass over all 69,005 markers);
* traits: a polygenic part drawn through the overall kinship with heritability uniform in
  [0, 0.8] (20% of the traits at 0), a sex effect, 4 wave effects (``--covariates 6``, the
  default: intercept, sex and 4 wave indicators; ``--covariates 2``: intercept and sex), and for
  15% of the traits one QTL at a random marker of the genome with 8 random founder effects
  explaining 10–40% of the variance.

The slice (``--chromosomes``, default 19) goes through :func:`lmm.pipeline.genome_scan.scan_chunk`,
the function the workflow's scan job calls, with the workflow's defaults (REML, ``scan_tol``
1e-4 and the polish, ``scan_tile_columns`` 20,000, ``keep_lod=False``: peaks and maxima only),
one chunk of all traits. Printed for each chromosome: the decomposition, the null fits (timed once
more on their own with :func:`lmm.scan.engine.fit_null_group`, the step ``scan_chunk`` starts
with), the whole ``scan_chunk`` call, the process's peak RSS, and the floor of the chromosome's
scan: its ``2·n·q_c·m·(35 + 7p)`` flops (``benchmarks/README.md``; and ``2·(n − p)·q_c·m·35``, the
products without covariate crosses of the scan on error contrasts) at the GEMM rate measured in
the same run on the kernel's own product shape (a (2,048 × 500) by (500 × 5,600) float64 GEMM, best of
5, at the thread count of the run; again after the scan, the better of the two is the floor's).
Then the planted QTL of the slice found in a peak's support interval,
and the extrapolation to the genome: scan time per (marker × trait) and null-fit time per
chromosome measured on the slice, scaled to 69,005 markers and 20 chromosomes, for one job
at a time on the machine (the workflow would run 2 one-thread jobs: not measured here).

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time

import numpy as np
import pandas as pd

import lmm
from lmm.kinship import KinshipAccumulator
from lmm.pipeline import genome_scan as gs
from lmm.pipeline.genotype_store import GenotypeStore
from lmm.pipeline.partition import partition_phenotypes
from lmm.scan.engine import fit_null_group

#: GRCm38 chromosome lengths (Mb), the 19 autosomes and X.
MOUSE_MB = {"1": 195.5, "2": 182.1, "3": 160.0, "4": 156.5, "5": 151.8, "6": 149.7, "7": 145.4, "8": 129.4,
            "9": 124.6, "10": 130.7, "11": 122.1, "12": 120.1, "13": 120.4, "14": 124.9, "15": 104.0,
            "16": 98.2, "17": 95.3, "18": 90.7, "19": 61.4, "X": 171.0}
N, M, Q, FOUNDERS = 500, 21771, 69005, 8


def markers_per_chromosome(q=Q):
    """Markers of each chromosome, proportional to its length, summing to ``q``."""
    mb = np.array(list(MOUSE_MB.values()))
    raw = q * mb / mb.sum()
    k = np.floor(raw).astype(int)
    k[np.argsort(raw - k)[::-1][:q - k.sum()]] += 1
    return dict(zip(MOUSE_MB, k.tolist()))


def allele_probabilities(rng, n, q, mb, switch_per_mb=0.1, blur=0.04):
    """(n, q, 8) DO-like allele probabilities of one chromosome of ``mb`` megabases."""
    p_switch = 1.0 - np.exp(-switch_per_mb * mb / q)
    probs = np.zeros((n, q, FOUNDERS))
    rows = np.arange(n)[:, None]
    for _ in range(2):                                     # two haplotypes
        segment = np.cumsum(rng.random((n, q)) < p_switch, axis=1)
        founder = rng.integers(0, FOUNDERS, (n, int(segment.max()) + 1))
        probs[rows, np.arange(q)[None, :], founder[rows, segment]] += 0.5
    noise = rng.random((n, q, FOUNDERS))
    noise /= noise.sum(axis=2, keepdims=True)
    probs *= 1.0 - blur
    probs += blur * noise
    return probs


def make_data(seed, slice_chrs, m, p):
    """The slice's probabilities, LOCO kinships, QTL genotypes, traits and covariates."""
    rng = np.random.default_rng(seed)
    per = markers_per_chromosome()
    acc = KinshipAccumulator(N, "shared_alleles", loco=True)
    qtl_marker = np.where(rng.random(m) < 0.15, rng.integers(0, Q, m), -1)   # genome-wide index, -1: none
    first = np.cumsum([0, *per.values()])[:-1]
    has_qtl = np.flatnonzero(qtl_marker >= 0)
    qtl_probs = np.zeros((N, has_qtl.size, FOUNDERS))
    kept = {}
    for (c, q), f0 in zip(per.items(), first):
        P = allele_probabilities(rng, N, q, MOUSE_MB[c])
        acc.add(P.reshape(N, -1), c, n_alleles=FOUNDERS)
        t = np.flatnonzero((qtl_marker[has_qtl] >= f0) & (qtl_marker[has_qtl] < f0 + q))
        qtl_probs[:, t] = P[:, qtl_marker[has_qtl[t]] - f0]
        if c in slice_chrs:
            kept[c] = P
    K = acc.overall()
    loco = {c: acc.loco(c) for c in slice_chrs}
    X = np.ones((N, p))
    if p > 1:
        X[:, 1] = rng.integers(0, 2, N)
    if p > 2:
        wave = rng.integers(0, p - 1, N)                    # p - 1 waves, p - 2 indicators
        X[:, 2:] = wave[:, None] == np.arange(1, p - 1)[None, :]
    hsq = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(0.0, 0.8, m))
    evals, evecs = np.linalg.eigh(K / np.mean(np.diag(K)))
    poly = evecs @ (np.sqrt(np.maximum(evals, 0.0))[:, None] * rng.standard_normal((N, m)))
    poly /= poly.std(axis=0)
    y = np.sqrt(hsq) * poly + np.sqrt(1.0 - hsq) * rng.standard_normal((N, m))
    y += X[:, 1:] @ rng.normal(0.0, 0.5, (p - 1, m))
    effect = np.einsum("ija,aj->ij", qtl_probs, rng.standard_normal((FOUNDERS, has_qtl.size)))
    effect -= effect.mean(axis=0)
    share = rng.uniform(0.1, 0.4, has_qtl.size)
    y[:, has_qtl] += np.sqrt(share / (1.0 - share)) / effect.std(axis=0) * effect
    return dict(per=per, first=dict(zip(per, first.tolist())), probs=kept, loco=loco, X=X, y=y,
                qtl_marker=qtl_marker)


def slice_store(ids, per, probs):
    """A :class:`GenotypeStore` of the slice's chromosomes, in memory (the workflow memory-maps it)."""
    rows, blocks, col = [], [], 0
    for c, P in probs.items():
        q = per[c]
        rows.append(pd.DataFrame({"marker": [f"{c}_{k}" for k in range(q)], "chr": c,
                                  "pos": np.linspace(3.0, MOUSE_MB[c], q), "n_columns": FOUNDERS,
                                  "first_column": col + FOUNDERS * np.arange(q)}))
        blocks.append(P.reshape(P.shape[0], -1).T)
        col += FOUNDERS * q
    markers = pd.concat(rows, ignore_index=True)
    return GenotypeStore("(in memory)", np.asarray(ids), markers, "probabilities", tuple("ABCDEFGH"),
                         np.ascontiguousarray(np.vstack(blocks)), {})


def gemm_rate(reps=5):
    """Best float64 GEMM rate (flop/s) on the kernel's product shape: (2048 × 500) @ (500 × 5600)."""
    rng = np.random.default_rng(0)
    A, B = rng.random((2048, N)), rng.random((N, 5600))
    A @ B
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t0)
    return 2.0 * A.shape[0] * N * B.shape[1] / best


def rss_mb():
    """Peak RSS of the process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    """RSS of the process now (MB; Linux ``/proc``, NaN elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return float("nan")


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        return "threadpoolctl not installed"


def scan_slice(data, m, p, rate):
    """Run each slice chromosome through ``scan_chunk``; per-chromosome figures and totals."""
    ids = [f"DO{i:03d}" for i in range(N)]
    names = [f"trait{j:05d}" for j in range(m)]
    cov_names = ["intercept", "sex", *[f"wave{k}" for k in range(2, p + 1)]][:p]
    part = partition_phenotypes(data["y"], names, ["ok"] * m, ids, data["X"], cov_names)
    clean = {"ids": np.asarray(ids), "phenotypes": data["y"], "phenotype_names": np.asarray(names),
             "covariates": data["X"], "covariate_names": np.asarray(cov_names)}
    store = slice_store(ids, data["per"], data["probs"])
    out = []
    for c in data["probs"]:
        q = data["per"][c]
        t0 = time.perf_counter()
        eig = gs.decompose_chromosome(data["loco"][c], ids, ids, part)
        t_dec = time.perf_counter() - t0
        dec = lmm.EigenDecomposition(eig[f"kva__{part.complete_batch().name}"],
                                     eig[f"kve_t__{part.complete_batch().name}"])
        t0 = time.perf_counter()
        fit_null_group(dec, data["y"], data["X"], reml=True, tol=1e-4)
        t_null = time.perf_counter() - t0
        before = current_rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        res = gs.scan_chunk(eig, store, c, clean, part, names, reml=True, tol=1e-4, tile_columns=20000,
                            threshold=6.0, keep_lod=False)
        t_chunk, cpu_chunk = time.perf_counter() - t0, time.process_time() - c0
        t_scan = t_chunk - t_null
        print(f"  chr {c:>2}: {q:,} markers x {m:,} traits: decompose {t_dec:.2f} s, null fits {t_null:.1f} s, "
              f"scan_chunk {t_chunk:.1f} s ({cpu_chunk:.1f} CPU s; scan after the null fits {t_scan:.1f} s, "
              f"{q * m / t_scan / 1e6:.2f} M marker-traits/s); RSS {before:.0f} MB before scan_chunk, peak "
              f"{rss_mb():.0f} MB",
              flush=True)
        found, planted = planted_found(data, c, res)
        print(f"         planted QTL on chr {c}: {planted}; in the 1.5-LOD interval of a peak (LOD > 6) of "
              f"their trait: {found}")
        out.append(dict(chr=c, q=q, dec=t_dec, null=t_null, chunk=t_chunk, scan=t_scan))
    return out


def against_floor(rows, m, p, rate):
    """Each chromosome's scan against its floor ``2·n·q_c·m·(35 + 7p)`` flops at ``rate`` (the
    products with the covariate crosses), and against ``2·(n − p)·q_c·m·35`` (on error contrasts,
    :mod:`lmm.scan.contrasts`: without them)."""
    for r in rows:
        floor = 2.0 * N * r["q"] * m * (35 + 7 * p) / rate
        low = 2.0 * (N - p) * r["q"] * m * 35 / rate
        print(f"  chr {r['chr']:>2}: floor {floor:.1f} s ({rate / 1e9:.1f} GFlop/s) → scan / floor "
              f"{r['scan'] / floor:.2f}x, scan_chunk (null fits included) / floor {r['chunk'] / floor:.2f}x; "
              f"on contrasts: floor {low:.1f} s → scan / floor {r['scan'] / low:.2f}x")


def planted_found(data, c, res):
    """Planted QTL of chromosome ``c``, and how many lie in the 1.5-LOD support interval of a peak
    of their trait (positions in Mb, as ``slice_store`` places the markers)."""
    f0, q = data["first"][c], data["per"][c]
    pos = np.linspace(3.0, MOUSE_MB[c], q)
    js = np.flatnonzero((data["qtl_marker"] >= f0) & (data["qtl_marker"] < f0 + q))
    intervals = {}
    for j, lo, hi in zip(res["peak_phenotype"].tolist(), res["peak_ci_lo"].tolist(), res["peak_ci_hi"].tolist()):
        intervals.setdefault(j, []).append((lo, hi))
    found = sum(any(lo <= pos[data["qtl_marker"][j] - f0] <= hi for lo, hi in intervals.get(j, []))
                for j in js.tolist())
    return found, js.size


def extrapolate(rows, m, p, rate):
    """The whole genome from the slice: scan per marker-trait, null fits and decompositions per chromosome."""
    q_slice = sum(r["q"] for r in rows)
    per_pair = sum(r["scan"] for r in rows) / (q_slice * m)
    per_chr = sum(r["null"] + r["dec"] for r in rows) / len(rows) * (M / m)
    scan = per_pair * Q * M
    nulls = per_chr * len(MOUSE_MB)
    floor = 2.0 * N * Q * M * (35 + 7 * p) / rate
    total = scan + nulls
    print(f"  extrapolation to the genome (69,005 markers, 20 chromosomes, {M:,} traits, one job at a time):")
    print(f"    scan {per_pair * 1e9:.1f} ns per marker-trait x {Q * M:.3e} = {scan:.0f} s; null fits and "
          f"decompositions {per_chr:.1f} s per chromosome x 20 = {nulls:.0f} s")
    low = 2.0 * (N - p) * Q * M * 35 / rate
    print(f"    total {total:.0f} s = {total / 60:.1f} min (goal <= 60 min: {'met' if total <= 3600 else 'missed'}); "
          f"floor {floor:.0f} s ({rate / 1e9:.0f} GFlop/s) → {total / floor:.2f}x the floor; "
          f"on contrasts {low:.0f} s → {total / low:.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chromosomes", nargs="+", default=["19"], help="the slice (default 19)")
    ap.add_argument("--traits", type=int, default=M, help=f"traits (default {M:,}, the issue's)")
    ap.add_argument("--covariates", type=int, default=6, choices=range(1, 8),
                    help="covariate columns p: 1 intercept, 2 + sex, 3..7 + p - 2 wave indicators (default 6)")
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args(argv)
    unknown = set(args.chromosomes) - set(MOUSE_MB)
    if unknown:
        ap.error(f"unknown chromosome(s) {sorted(unknown)}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {platform.machine()} · {os.cpu_count()} cpus · "
          f"load {os.getloadavg()[0]:.2f} · python {platform.python_version()} · numpy {np.__version__} · "
          f"{blas_threads()}")
    print(f"DO islet: n = {N}, m = {args.traits:,} traits, {Q:,} markers x 8 alleles, 20 chromosomes, LOCO, "
          f"p = {args.covariates}; slice: chromosome(s) {', '.join(args.chromosomes)}")
    t0 = time.perf_counter()
    data = make_data(args.seed, args.chromosomes, args.traits, args.covariates)
    print(f"  data (genotypes of all 20 chromosomes, LOCO kinships, traits): {time.perf_counter() - t0:.1f} s; "
          f"peak RSS {rss_mb():.0f} MB", flush=True)
    rate = gemm_rate()
    print(f"  GEMM rate (2048 x 500 x 5600, float64, best of 5): {rate / 1e9:.1f} GFlop/s", flush=True)
    t0 = time.perf_counter()
    rows = scan_slice(data, args.traits, args.covariates, rate)
    wall = time.perf_counter() - t0
    spent = sum(r["dec"] + r["chunk"] for r in rows)
    print(f"  measured on the slice ({sum(r['q'] for r in rows):,} markers): decompositions + scan_chunk "
          f"{spent:.0f} s = {spent / 60:.1f} min (the loop {wall:.0f} s, with the null fits timed once more "
          f"on their own)", flush=True)
    rate2 = gemm_rate()
    print(f"  GEMM rate again after the scan: {rate2 / 1e9:.1f} GFlop/s (load {os.getloadavg()[0]:.2f})")
    against_floor(rows, args.traits, args.covariates, max(rate, rate2))
    extrapolate(rows, args.traits, args.covariates, max(rate, rate2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

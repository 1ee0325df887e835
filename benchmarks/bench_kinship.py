"""Benchmark of the kinship core: genotypes streamed from PLINK into overall + LOCO kinships.

Run from the repository root::

    python benchmarks/bench_kinship.py            # n × q = 1,000 × 100,000 and 5,000 × 100,000
    python benchmarks/bench_kinship.py --quick    # 500 × 20,000 and 1,000 × 20,000
    python benchmarks/bench_kinship.py --sizes 2000x50000 --no-gemma

For each size it writes a seeded PLINK file set with ``bed_reader.to_bed`` (allele frequencies
Beta(0.5, 0.5) clipped to a minor allele frequency ≥ 0.01, 20 chromosomes of equal numbers of
markers, 2% of genotypes missing at random, a random phenotype in the .fam for GEMMA), then, in
a fresh process per size so that the peak RSS is that size's own:

- **kinship**: reads the markers in chunks (``open_bed(...).read(index=np.s_[:, a:b],
  dtype="float32")``, chunks within one chromosome), imputes each missing genotype by its
  marker's mean, adds the chunk to a :class:`lmm.kinship.KinshipAccumulator` (``standardized``,
  float64 products), then forms the overall kinship and the 20 LOCO kinships (each formed and
  dropped). Times: read, impute, accumulate, results, total; peak RSS of the process at the end
  of this stage (``resource.getrusage``).
- **GEMM floor**, measured afterwards in the same process: ``A @ A.T`` of one n × q float64
  array in memory (numpy calls BLAS ``syrk`` for it), the least any method that forms the
  kinship from all markers needs. ``ratio`` = kinship total / floor (goal ≤ 1.5×).
- **GEMMA** ``-gk 2`` on the same PLINK files, wall time of the command (it also reads the file
  and writes the matrix as text), when ``gemma`` is installed, ``--no-gemma`` is not given and
  n ≤ ``--gemma-max-n`` (default 1000: GEMMA 0.98.5 had not finished after 14 minutes at
  n = 5,000, q = 100,000 on a busy 2-core machine; "skipped" in the table otherwise).

Prints a Markdown table, each row as soon as it is measured; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_CHROM = 20


def make_plink(prefix: Path, n: int, q: int, seed: int = 20261124, missing: float = 0.02) -> None:
    """Seeded PLINK files: Beta(0.5, 0.5) allele frequencies (MAF ≥ 0.01), 20 chromosomes."""
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    G = np.empty((n, q), dtype=np.int8)
    step = 5000
    for a in range(0, q, step):
        b = min(a + step, q)
        f = np.clip(rng.beta(0.5, 0.5, b - a), 0.01, 0.99)
        g = rng.binomial(2, f, (n, b - a)).astype(np.int8)
        g[rng.random((n, b - a)) < missing] = -127
        G[:, a:b] = g
    props = {
        "iid": [f"i{i}" for i in range(n)],
        "sid": [f"rs{j}" for j in range(q)],
        "chromosome": np.repeat(np.arange(1, N_CHROM + 1), -(-q // N_CHROM))[:q].astype(str),
        "bp_position": np.arange(q) + 1,
        "pheno": rng.standard_normal(n),
    }
    to_bed(f"{prefix}.bed", G, properties=props)


def chunks_by_chromosome(chrom: np.ndarray, chunk: int):
    """(start, stop, chromosome) of chunks of at most ``chunk`` markers within one chromosome."""
    starts = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]])
    stops = np.r_[starts[1:], len(chrom)]
    for s, e in zip(starts, stops):
        for a in range(s, e, chunk):
            yield a, min(a + chunk, e), str(chrom[s])


def impute_mean(X: np.ndarray) -> np.ndarray:
    """Replace NaN by its column's mean over the observed values, in place."""
    miss = np.isnan(X)
    n_miss = miss.sum(axis=0)
    if n_miss.any():
        X[miss] = 0
        means = X.sum(axis=0, dtype=np.float64) / (X.shape[0] - n_miss)
        np.copyto(X, means.astype(X.dtype)[None, :], where=miss)
    return X


def run_one(prefix: str, chunk: int) -> dict:
    """The kinship stage, then the GEMM floor, in this process; returns timings."""
    from bed_reader import open_bed

    from lmm.kinship import KinshipAccumulator, mean_diagonal

    out = {}
    t0 = time.perf_counter()
    with open_bed(f"{prefix}.bed") as bed:
        n, q = bed.iid_count, bed.sid_count
        chrom = np.asarray(bed.chromosome)
        acc = KinshipAccumulator(n, "standardized")
        t_read = t_imp = t_add = 0.0
        for a, b, c in chunks_by_chromosome(chrom, chunk):
            t = time.perf_counter()
            X = bed.read(index=np.s_[:, a:b], dtype="float32")
            t_read += time.perf_counter() - t
            t = time.perf_counter()
            impute_mean(X)
            t_imp += time.perf_counter() - t
            t = time.perf_counter()
            acc.add(X, c)
            t_add += time.perf_counter() - t
            del X
    t = time.perf_counter()
    diag = [mean_diagonal(acc.overall())]
    for c in acc.chromosomes:
        diag.append(mean_diagonal(acc.loco(c)))
    t_res = time.perf_counter() - t
    out.update(n=n, q=q, n_chrom=len(acc.chromosomes), t_read=t_read, t_impute=t_imp,
               t_add=t_add, t_results=t_res, t_total=time.perf_counter() - t0,
               rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               mean_diag=diag[0])
    del acc
    # GEMM floor: one n × q float64 array, A @ A.T
    rng = np.random.default_rng(1)
    A = np.empty((n, q))
    for a in range(0, q, 10000):
        A[:, a:a + 10000] = rng.random((n, min(10000, q - a)))
    t = time.perf_counter()
    C = A @ A.T
    out["t_floor"] = time.perf_counter() - t
    del A, C
    return out


def run_gemma(prefix: Path, workdir: Path) -> float:
    gemma = shutil.which("gemma")
    t = time.perf_counter()
    subprocess.run([gemma, "-bfile", str(prefix), "-gk", "2", "-o", "bench", "-outdir",
                    str(workdir / "gemma_out")], check=True, capture_output=True)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 × 20,000 and 1,000 × 20,000")
    ap.add_argument("--sizes", nargs="+", help="sizes as NxQ, e.g. 1000x100000")
    ap.add_argument("--chunk", type=int, default=2000, help="markers per chunk read (default 2000)")
    ap.add_argument("--no-gemma", action="store_true", help="do not time GEMMA -gk 2")
    ap.add_argument("--gemma-max-n", type=int, default=1000,
                    help="time GEMMA only for n up to this (default 1000)")
    ap.add_argument("--tmpdir", default=None, help="where to write the PLINK files")
    ap.add_argument("--child", nargs=2, metavar=("PREFIX", "CHUNK"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child[0], int(args.child[1]))))
        return
    if args.sizes:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    elif args.quick:
        sizes = [(500, 20_000), (1000, 20_000)]
    else:
        sizes = [(1000, 100_000), (5000, 100_000)]
    threads = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                               "MKL_NUM_THREADS") if os.environ.get(k)}
    print(f"# numpy {np.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, BLAS threads env {threads or 'unset'}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}; standardized kinship, float64 products, "
          f"chunks of {args.chunk} markers read as float32, overall + {N_CHROM} LOCO")
    gemma = None if args.no_gemma else shutil.which("gemma")
    head = ["n", "q", "read s", "impute s", "accumulate s", "overall+LOCO s", "total s",
            "peak RSS MiB", "A@Aᵀ floor s", "ratio", "GEMMA -gk 2 s", "mean diag"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head), flush=True)
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        tmp = Path(tmp)
        for n, q in sizes:
            prefix = tmp / f"bench_{n}_{q}"
            make_plink(prefix, n, q)
            proc = subprocess.run([sys.executable, __file__, "--child", str(prefix),
                                   str(args.chunk)], check=True, capture_output=True, text=True)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if gemma and n <= args.gemma_max_n:
                gem = f"{run_gemma(prefix, tmp):.1f}"
            else:
                gem = "skipped" if gemma else "not installed"
            print(f"| {r['n']} | {r['q']} | {r['t_read']:.2f} | {r['t_impute']:.2f} | "
                  f"{r['t_add']:.2f} | {r['t_results']:.2f} | {r['t_total']:.2f} | "
                  f"{r['rss_mib']:.0f} | {r['t_floor']:.2f} | "
                  f"{r['t_total'] / r['t_floor']:.2f}x | {gem} | {r['mean_diag']:.6f} |",
                  flush=True)
            for ext in (".bed", ".bim", ".fam"):
                Path(f"{prefix}{ext}").unlink()
            shutil.rmtree(tmp / "gemma_out", ignore_errors=True)

if __name__ == "__main__":
    main()

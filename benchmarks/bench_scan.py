"""Benchmark of the genome scan (lmm.scan): recla, many phenotypes, and a large LOCO scan.

Run from the repository root::

    python benchmarks/bench_scan.py            # (a), (b) and (c)
    python benchmarks/bench_scan.py --quick    # (a) and a reduced (b); skips (c)
    python benchmarks/bench_scan.py --only-a   # (a) only
    python benchmarks/bench_scan.py --no-r     # (a) without running R/qtl2
    python benchmarks/bench_scan.py --only-a --job-memory   # as a workflow job's process

(a) recla (261 DO mice, 26 phenotypes, 6,394 markers × 8 alleles, qtl2's LOCO
    kinship, intercept only), one BLAS thread: wall time of the kinships, of the
    decompositions (one per chromosome), of the null fits (REML, tol 1e-12), of the
    rotations and of the scan itself, once; then the library's LOCO kinship
    (``lmm.kinship.calc_kinship``) + ``lmm.scan1``, best of 3, against R/qtl2's
    ``calc_kinship(probs, "loco")`` + ``scan1(probs, pheno, kinship)`` with
    ``cores = 1`` on the same numbers (``benchmarks/qtl2_recla.R``, run when
    ``Rscript`` and qtl2 are installed, best of 3, one BLAS thread), reading
    excluded on both sides; the ratio qtl2 / ours (issue 18's goal: ≥ 25×) and the
    largest LOD and hsq differences between the two. Without R/qtl2 (or with
    ``--no-r``) the last measured qtl2 time is printed with its date.
(b) n = 79, m = 35,554 phenotypes, q = 7,321 one-df markers, one kinship, an
    exact hsq per phenotype: the scan (full LOD matrix, float32 storage).
(c) n = 1,000, m = 10,000, q = 100,000 one-df markers on 20 chromosomes with
    LOCO kinships: the library scan (max LOD per chromosome and phenotype), and
    the GEMM floor measured in the same run: the machine's GEMM rate times the
    ``(2 + p)·2nqm`` flops of the scan's matrix products.

``--job-memory`` first sets this process's malloc as every workflow job sets its own
(:func:`lmm.pipeline.memory.keep_freed_memory`: freed temporaries reused, not page-faulted
afresh); without it the process keeps glibc's defaults, as a user's own Python session does.

Data of (b) and (c) are seeded and synthetic. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lmm
from lmm.kinship import calc_kinship
from lmm.missing import missing_patterns
from lmm.scan import scan_rotated

RECLA = Path(__file__).resolve().parents[1] / "data" / "recla" / "genotypes"
PHENO = Path(__file__).resolve().parents[1] / "data" / "recla" / "pheno.csv"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import rbaseline  # noqa: E402

#: R/qtl2's time for case (a) (best of 3, one thread), printed when R or qtl2 is not installed.
QTL2_RECLA_LAST = {"date": "2026-12-07", "kinship_s": 1.827, "scan1_s": 23.481,
                   "machine": "the shared 2-core VM, load 2.5-2.7; R 4.2.2, reference BLAS, qtl2 0.43-5"}


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        return "threadpoolctl not installed"


def timed(fn, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def row(label, seconds, note=""):
    print(f"  {label:<46s} {seconds:9.3f} s  {note}")


def gemm_rate(n=2000):
    """Measured double-precision GEMM rate (flop/s) of this machine and BLAS."""
    rng = np.random.default_rng(0)
    A, B = rng.random((n, n)), rng.random((n, n))
    A @ B
    best = np.inf
    for _ in range(3):
        _, t = timed(np.matmul, A, B)
        best = min(best, t)
    return 2.0 * n ** 3 / best


def bench_recla(r_baseline=True, repeats=3):
    with rbaseline.one_blas_thread():
        _bench_recla(r_baseline, repeats)


def _bench_recla(r_baseline, repeats):
    import pandas as pd
    print("(a) recla: 261 mice, 26 phenotypes, 6,394 markers x 8 alleles, LOCO kinships")
    print(f"  one BLAS thread in this case: {blas_info()}")
    (ap, mp, ph), t_read = timed(lambda: (pd.read_csv(RECLA / "recla_alleleprobs.csv.gz"),
                                          pd.read_csv(RECLA / "recla_map.csv", dtype={"chr": str}),
                                          pd.read_csv(PHENO)))
    ids = ap["id"].astype(str).to_numpy()
    ph = ph.assign(id=ph["id"].astype(str)).set_index("id").loc[ids]
    n = ids.size
    P = ap.drop(columns="id").to_numpy(float).reshape(n, -1, 8)
    y = ph.to_numpy(float)
    chrs = mp["chr"].to_numpy()
    names = list(dict.fromkeys(chrs))
    row("read CSV (pandas)", t_read)

    def kinships():
        S = {c: np.einsum("ika,jka->ij", P[:, chrs == c], P[:, chrs == c], optimize=True) for c in names}
        tot = sum(S.values())
        return [2.0 * (tot - S[c]) / (P.shape[1] - np.sum(chrs == c)) for c in names]

    kins, t_kin = timed(kinships)
    row("kinships (20 LOCO, qtl2 formula, x2)", t_kin)
    designs = [P[:, chrs == c, 1:].reshape(n, -1) for c in names]
    n_pat = len(missing_patterns(np.isnan(y)))
    miss = int(np.isnan(y).sum())
    # the steps of scan1, timed one by one: one decomposition per chromosome (all 261 mice), the
    # null fits of every phenotype (missing values through the Schur complement), the rotations,
    # the scan with one indicator covariate per missing value
    obs = ~np.isnan(y)
    y0, X = np.where(obs, y, 0.0), np.ones((n, 1))
    union = np.flatnonzero((~obs).any(axis=1))
    t_dec = t_fit = t_scan = t_rot = 0.0
    for c in range(len(names)):
        dec, t = timed(lmm.eigen_decompose, kins[c])
        t_dec += t
        fit, t = timed(lmm.fit_lmm_masked, dec, y, X, reml=True, tol=1e-12, compute_ci=False, polish=True)
        t_fit += t
        (yr, Xr, Gr), t = timed(lambda: (dec.kve_t @ y0, dec.kve_t @ X, dec.kve_t @ designs[c]))
        t_rot += t
        _, t = timed(scan_rotated, dec.kva, yr, Xr, np.atleast_1d(fit.hsq), Gr, 7,
                     extra=dec.kve_t[:, union], extra_used=~obs[union])
        t_scan += t
    row("decompositions (20 chr, all 261 mice)", t_dec)
    row("rotations of y, X and the genotypes", t_rot)
    row(f"null fits (REML, polished; {n_pat} missing-data patterns)", t_fit)
    row(f"scan (6,394 markers, 7 df; {miss} missing values as indicators)", t_scan, "goal <= 0.3 s")
    total = t_kin + t_dec + t_rot + t_fit + t_scan
    row("total after reading (the steps above, once)", total)

    # The comparison with R/qtl2 (issue 18, target 1): what qtl2's calc_kinship(probs, "loco") +
    # scan1(probs, pheno, kinship) compute, through the library: lmm.kinship.calc_kinship (LOCO,
    # shared alleles) and lmm.scan1 (decompositions, rotations, null fits, scan), the first allele
    # dropped as qtl2 does, intercept only. The per-chromosome arrays are made before the clock
    # starts, as qtl2's probabilities are a list by chromosome when read.
    P2 = P.reshape(n, -1)
    per_chr = [P[:, chrs == c] for c in names]
    t = {"kinship": ([], []), "scan1": ([], [])}
    for _ in range(repeats):
        kins, w, c = rbaseline.clocked(calc_kinship, P2, "shared_alleles", chromosomes=chrs,
                                       n_alleles=8, loco=True)
        t["kinship"][0].append(w)
        t["kinship"][1].append(c)
        res, w, c = rbaseline.clocked(lmm.scan1, per_chr, [kins[k] for k in names], y, n_alleles=8)
        t["scan1"][0].append(w)
        t["scan1"][1].append(c)
    ours = {k: (min(w), min(c)) for k, (w, c) in t.items()}
    ours_total = (min(np.add(t["kinship"][0], t["scan1"][0])),  # best of the per-run sums
                  min(np.add(t["kinship"][1], t["scan1"][1])))
    print(f"  LOCO kinship + scan after reading, best of {repeats}, wall (CPU) seconds:")
    row("ours: lmm.kinship.calc_kinship (20 LOCO)", ours["kinship"][0], f"CPU {ours['kinship'][1]:.3f} s")
    row("ours: lmm.scan1 (decompose, rotate, null fits, scan)", ours["scan1"][0],
        f"CPU {ours['scan1'][1]:.3f} s")
    row("ours: total", ours_total[0], f"CPU {ours_total[1]:.3f} s")
    why = rbaseline.r_package("qtl2") if r_baseline else "--no-r"
    if why is None:
        _recla_qtl2(P, chrs, mp["marker"].to_numpy(), ids, ph, res, names, repeats, ours_total)
    else:
        last = QTL2_RECLA_LAST
        print(f"  R/qtl2 not run ({why}); last measured on {last['date']} ({last['machine']}): "
              f"calc_kinship {last['kinship_s']:.3f} s + scan1 {last['scan1_s']:.3f} s = "
              f"{last['kinship_s'] + last['scan1_s']:.3f} s; against ours here: "
              f"{(last['kinship_s'] + last['scan1_s']) / ours_total[0]:.1f}x (goal >= 25x; "
              f"not a same-run baseline)")


def _recla_qtl2(P, chrs, markers, ids, ph, res, names, repeats, ours_total):
    """Run benchmarks/qtl2_recla.R on the same numbers; print its times, the ratio, the agreement."""
    n, q, _ = P.shape
    m = ph.shape[1]
    with tempfile.TemporaryDirectory(prefix="qtl2_recla_") as tmp:
        d = Path(tmp)
        (d / "ids.txt").write_text("\n".join(ids) + "\n")
        (d / "markers.csv").write_text("marker,chr\n"
                                       + "".join(f"{mk},{c}\n" for mk, c in zip(markers, chrs)))
        (d / "pheno_names.txt").write_text("\n".join(map(str, ph.columns)) + "\n")
        np.ascontiguousarray(P.transpose(1, 2, 0), dtype="<f8").tofile(d / "probs.bin")  # R (n, 8, q)
        np.ascontiguousarray(ph.to_numpy(float).T, dtype="<f8").tofile(d / "pheno.bin")  # R (n, m)
        out = rbaseline.run_r("qtl2_recla.R", d, repeats)
        lod_r = np.fromfile(d / "lod.bin", dtype="<f8").reshape(m, q).T
        hsq_r = np.fromfile(d / "hsq.bin", dtype="<f8").reshape(m, len(names)).T
    kin = rbaseline.seconds(out, "kinship_elapsed_s"), rbaseline.seconds(out, "kinship_cpu_s")
    scan = rbaseline.seconds(out, "scan1_elapsed_s"), rbaseline.seconds(out, "scan1_cpu_s")
    total = min(np.add(kin[0], scan[0])), min(np.add(kin[1], scan[1]))
    print(f"  R/qtl2 {out['qtl2_version']} ({out['r_version']}; BLAS {out['blas']}; "
          f"LAPACK {out['lapack']}), one thread, best of {repeats}:")
    row("qtl2: calc_kinship(probs, \"loco\", cores = 1)", min(kin[0]), f"CPU {min(kin[1]):.3f} s")
    row("qtl2: scan1(probs, pheno, kinship, cores = 1)", min(scan[0]), f"CPU {min(scan[1]):.3f} s")
    row("qtl2: total", total[0], f"CPU {total[1]:.3f} s")
    ratio, ratio_cpu = total[0] / ours_total[0], total[1] / ours_total[1]
    print(f"  qtl2 / ours, LOCO kinship + scan after reading: {ratio:.1f}x wall, {ratio_cpu:.1f}x CPU "
          f"(goal >= 25x: {'met' if ratio >= 25 else 'not met'})")
    dl = np.abs(res.lod - lod_r)
    j = int(np.argmax(dl.max(axis=0)))
    print(f"  agreement with qtl2 (same run): max |LOD difference| {dl.max():.2e} over "
          f"{q:,} markers x {m} phenotypes (largest in {ph.columns[j]}); max |hsq difference| "
          f"of the null fits {np.abs(res.hsq - hsq_r).max():.2e} ({len(names)} chr x {m})")


def _kinship(rng, n, n_markers):
    Z = rng.normal(size=(n, n_markers))
    return Z @ Z.T / n_markers + 0.05 * np.eye(n)


def bench_many(n, m, q):
    print(f"(b) n = {n}, m = {m:,} phenotypes, q = {q:,} one-df markers, exact hsq per phenotype")
    rng = np.random.default_rng(79)
    dec = lmm.eigen_decompose(_kinship(rng, n, 500))
    G = rng.integers(0, 3, (n, q)).astype(float)
    y = rng.normal(size=(n, m))
    hsq = rng.uniform(0, 0.95, m)
    yr, Xr = dec.kve_t @ y, dec.kve_t @ np.ones((n, 1))
    Gr, t_rot = timed(lmm.scan.rotate_genotypes, dec, G)
    row("rotate genotypes", t_rot)
    res, t = timed(scan_rotated, dec.kva, yr, Xr, hsq, Gr, 1, lod_dtype=np.float32)
    row("scan, full LOD matrix (float32)", t, f"goal <= 10 s; {q * m / t / 1e6:.0f} M LOD/s")
    _, t2 = timed(scan_rotated, dec.kva, yr, Xr, hsq, Gr, 1, reduce="max")
    row("scan, max LOD per phenotype only", t2)
    rate = gemm_rate()
    floor = 3 * 2.0 * n * q * m / rate
    row("GEMM floor: 3 x 2nqm flops at the GEMM rate", floor, f"scan / floor = {t / floor:.1f}")


def bench_large(n, m, q, n_chr):
    print(f"(c) n = {n:,}, m = {m:,}, q = {q:,} one-df markers on {n_chr} chromosomes, LOCO")
    rng = np.random.default_rng(1000)
    per = q // n_chr
    G = [rng.integers(0, 3, (n, per)).astype(float) for _ in range(n_chr)]
    Z = [(g - g.mean(0)) / np.maximum(g.std(0), 1e-12) for g in G]
    S = [z[:, :500] @ z[:, :500].T for z in Z]        # kinship from 500 markers per chromosome
    tot = sum(S)
    y = rng.normal(size=(n, m))
    X = np.ones((n, 1))
    t_dec = t_fit = t_rot = t_scan = 0.0
    for c in range(n_chr):
        K = (tot - S[c]) / (500 * (n_chr - 1)) + 1e-3 * np.eye(n)
        dec, t = timed(lmm.eigen_decompose, K)
        t_dec += t
        (yr, Xr, Gr), t = timed(lambda: (dec.kve_t @ y, dec.kve_t @ X, dec.kve_t @ G[c]))
        t_rot += t
        fit, t = timed(lmm.fit_lmm, dec.kva, yr, Xr, tol=1e-12, compute_ci=False)
        t_fit += t
        _, t = timed(scan_rotated, dec.kva, yr, Xr, fit.hsq, Gr, 1, reduce="max")
        t_scan += t
        print(f"    chromosome {c + 1}: scan {t:.1f} s", flush=True)
    row("decompositions (20 LOCO)", t_dec)
    row("rotations", t_rot)
    row("null fits (REML, tol 1e-12)", t_fit)
    rate = gemm_rate()
    floor = 3 * 2.0 * n * q * m / rate
    row("scan (max LOD per chromosome and phenotype)", t_scan)
    row(f"GEMM floor (3 x 2nqm flops at {rate / 1e9:.0f} GFlop/s)", floor,
        f"scan / floor = {t_scan / floor:.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="(a) and a reduced (b); skip (c)")
    ap.add_argument("--no-r", action="store_true",
                    help="(a) without R/qtl2 (print its last measured time instead)")
    ap.add_argument("--only-a", action="store_true", help="case (a) only")
    ap.add_argument("--job-memory", action="store_true",
                    help="set malloc as a workflow job does (lmm.pipeline.memory.keep_freed_memory)")
    args = ap.parse_args(argv)
    memory = "malloc: glibc defaults (a user's own process)"
    if args.job_memory:
        from lmm.pipeline.memory import keep_freed_memory

        memory = keep_freed_memory() + ", as a workflow job"
    print(f"python {platform.python_version()}, numpy {np.__version__}, {blas_info()}, "
          f"{os.cpu_count()} CPUs; {memory}")
    if (RECLA / "recla_alleleprobs.csv.gz").exists() and PHENO.exists():
        bench_recla(r_baseline=not args.no_r)
    else:
        print("(a) skipped: recla genotype data not found")
    if args.only_a:
        return
    if args.quick:
        bench_many(79, 5000, 7321)
    else:
        bench_many(79, 35554, 7321)
        bench_large(1000, 10000, 100000, 20)


if __name__ == "__main__":
    main()

"""The benchmark suite: the library and the whole workflow at several scales.

Run from the repository root (one command; each configuration can be picked alone)::

    python benchmarks/run.py                       # every configuration below
    python benchmarks/run.py recla lib-2000        # some of them
    python benchmarks/run.py --list
    python benchmarks/run.py lib-2000 --no-r       # without the R/lmmlite baseline

Configurations (data made here, seeded, under ``benchmarks/.work/``, which git ignores):

``recla``
    The bundled data through the library (26 phenotypes, 4 missing-data patterns, one
    decomposition each) and through the workflow (``snakemake --cores 2``).
``lib-2000``
    n = 2,000, m = 1,000 complete phenotypes, library: decomposition + rotation + fit; then
    the same on one BLAS thread, best of 3, against R/lmmlite's ``eigen_rotation`` + ``fitLMM``
    of every phenotype on the same numbers (``benchmarks/lmmlite_heritability.R``, one thread,
    best of 3, run when ``Rscript`` and lmmlite are installed; ``--no-r`` skips it), reading
    excluded: the ratio lmmlite / ours (issue 18's goal: ≥ 8×) and the largest hsq difference.
    Without lmmlite the last measured lmmlite time is printed with its date.
``pipe-10000``
    n = 10,000, m = 10,000 complete phenotypes, the whole workflow from CSV files.
``scattered-5000``
    n = 5,000, m = 5,000, each phenotype missing 0–20 random individuals (thousands of
    distinct patterns), the whole workflow from CSV files (Schur complement on one
    decomposition).
``do-islet``
    DO islet scale (issue 18): n = 500, m = 21,771 traits, 69,005 markers × 8 allele
    probabilities, LOCO; chromosome 19 with all traits through the workflow's ``scan_chunk``
    against the GEMM floor of the same run, extrapolated to the genome
    (``benchmarks/bench_do_islet.py``, which takes other slices).

Synthetic kinship: families of 8 full sibs (kinship 0.5 between sibs) in 4 sub-populations,
plus genomic noise from 500 random markers, scaled to a diagonal near 1; positive definite.
Phenotypes: a genetic part drawn through that structure with true hsq in [0, 0.9], a sex
effect, an intercept.

Each configuration prints wall time per stage (from the workflow's per-rule benchmark files),
the peak RSS of any job, the time per phenotype of the fit, and ratios against baselines
measured in the same run: a per-column ``scipy.optimize.minimize_scalar`` loop (on up to 300
columns, scaled per phenotype), and, for missing data, one re-decomposition per missing-data
pattern (timed on 3 patterns, scaled to the number of patterns).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
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

import lmm

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE))
from bench_fit import baseline_fit  # noqa: E402
import rbaseline  # noqa: E402

#: R/lmmlite's time for lib-2000 (eigen_rotation + 1,000 fitLMM, best of 3, one thread), printed
#: when R or lmmlite is not installed.
LMMLITE_LAST = {"date": "2026-12-07", "eigen_rotation_s": 6.418, "fit_s": 0.438,
                "machine": "the shared 2-core VM, load 1.0; R 4.2.2, reference BLAS, lmmlite 0.2-2 at fe92eba"}


def structured_kinship(n, rng, family=8, pops=4, markers=500):
    """Families of full sibs within sub-populations, plus genomic noise; diagonal ≈ 1."""
    fam = np.arange(n) // family
    pop = fam % pops
    K = 0.5 * (fam[:, None] == fam[None, :]) + 0.1 * (pop[:, None] == pop[None, :])
    Z = rng.standard_normal((n, markers))
    K += Z @ Z.T / markers * 0.4
    K[np.diag_indices(n)] += 0.1
    return K / np.mean(np.diag(K)), fam, pop


def phenotypes(n, m, fam, pop, rng):
    """A genetic part with family, population and marker structure, sex, intercept."""
    hsq = rng.uniform(0.0, 0.9, m)
    nf = fam.max() + 1
    g = (rng.standard_normal((nf, m))[fam] * np.sqrt(0.5)
         + rng.standard_normal((pop.max() + 1, m))[pop] * np.sqrt(0.1))
    g = (g - g.mean(0)) / g.std(0)
    sex = rng.integers(0, 2, n)
    y = 10.0 + 0.5 * sex[:, None] + np.sqrt(hsq) * g + np.sqrt(1 - hsq) * rng.standard_normal((n, m))
    return y, sex


def write_csv(path, ids, columns, values, id_name="id"):
    """A numeric table with an id column, full precision, fast (numpy formatting by rows)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join([id_name, *columns]) + "\n")
        fmt = ",".join(["%s"] + ["%.17g"] * values.shape[1]) + "\n"
        for i in range(0, values.shape[0], 500):
            block = values[i:i + 500]
            fh.write("".join(
                (fmt % (ids[i + r], *row)).replace("nan", "") for r, row in enumerate(block)))


def make_dataset(name, n, m, max_missing, seed):
    """Write kinship.csv, pheno.csv, covar.csv under benchmarks/.work/<name>/data."""
    d = WORK / name / "data"
    if (d / "done").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    K, fam, pop = structured_kinship(n, rng)
    y, sex = phenotypes(n, m, fam, pop, rng)
    if max_missing:
        for j in range(m):
            k = rng.integers(0, max_missing + 1)
            y[rng.choice(n, k, replace=False), j] = np.nan
    ids = [f"ind{i:05d}" for i in range(n)]
    write_csv(d / "kinship.csv", ids, ids, K)
    write_csv(d / "pheno.csv", ids, [f"trait{j:05d}" for j in range(m)], y)
    write_csv(d / "covar.csv", ids, ["sex"], sex[:, None].astype(float))
    (d / "done").write_text("")
    return d


def run_workflow(name, data_dir, extra_config=()):
    """Copy the workflow next to the data, run it with 2 cores; stage times and peak RSS."""
    proj = WORK / name / "project"
    if proj.exists():
        shutil.rmtree(proj)
    proj.mkdir(parents=True)
    for f in ("Snakefile", "environment.yml"):
        shutil.copy2(REPO / f, proj / f)
    for folder in ("workflow", "config"):
        shutil.copytree(REPO / folder, proj / folder)
    shutil.copytree(REPO / "profiles" / "default", proj / "profiles" / "default")
    cfg = [f"kinship={data_dir / 'kinship.csv'}", f"phenotypes={data_dir / 'pheno.csv'}",
           f"covariates={data_dir / 'covar.csv'}", "genotypes=null", "genotype_map=null", *extra_config]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "all",
                           "--config", *cfg], cwd=proj, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stdout[-4000:])
        raise SystemExit(f"workflow failed for {name}")
    stages, peak = {}, 0.0
    for tsv in sorted((proj / "logs" / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(proj / "logs" / "benchmarks").parts[0].removesuffix(".tsv")
        with open(tsv, encoding="utf-8") as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        stages.setdefault(rule, [0.0, 0])
        stages[rule][0] += float(row["s"])
        stages[rule][1] += 1
        if row.get("max_rss") not in (None, "", "NA", "-"):
            peak = max(peak, float(row["max_rss"]))
    n_rows = sum(1 for _ in open(proj / "results" / "heritability.tsv", encoding="utf-8")) - 1
    return wall, stages, peak, n_rows


def report_workflow(name, wall, stages, peak, n_rows, m):
    parts = ", ".join(f"{r} {s:.1f} s ({k} job{'s' * (k > 1)})" for r, (s, k) in stages.items())
    fit_s = stages.get("fit", [0.0])[0]
    print(f"  workflow: {wall:.1f} s wall with 2 cores; peak RSS of a job {peak:.0f} MB; "
          f"{n_rows} rows in heritability.tsv")
    print(f"  stages (sum of job times): {parts}")
    print(f"  fit: {fit_s / m * 1e3:.3f} ms per phenotype (all fit jobs, SE and CI included)")


def library(n, K, y, X, label):
    t0 = time.perf_counter()
    dec = lmm.eigen_decompose(K)
    t1 = time.perf_counter()
    rot = dec.rotate(y, X)
    t2 = time.perf_counter()
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_ci=False)
    t3 = time.perf_counter()
    lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True, compute_ci=True)
    t4 = time.perf_counter()
    m = y.shape[1]
    mb = min(m, 300)
    t5 = time.perf_counter()
    base = baseline_fit(rot.kva, rot.y[:, :mb], rot.X)
    t6 = time.perf_counter()
    per, per_base = (t3 - t2) / m, (t6 - t5) / mb
    print(f"  library ({label}): eigh {t1 - t0:.3f} s, rotate {t2 - t1:.3f} s, fit {t3 - t2:.3f} s "
          f"({per * 1e3:.4f} ms/phenotype; with SE+CI {(t4 - t3) / m * 1e3:.4f} ms), "
          f"total {t3 - t0:.3f} s; scipy loop {per_base * 1e3:.3f} ms/phenotype → "
          f"{per_base / per:.1f}x; max |Δhsq| vs loop {np.max(np.abs(base - fit.hsq[:mb])):.1e}")


def bench_recla():
    import pandas as pd

    d = REPO / "data" / "recla"
    kin = pd.read_csv(d / "kinship.csv", index_col="id")
    ph = pd.read_csv(d / "pheno.csv", index_col="id")
    cv = pd.read_csv(d / "covar.csv", index_col="id")
    ids = kin.index
    K = kin.loc[ids, ids.astype(str)].to_numpy()
    Y = ph.loc[ids].to_numpy()
    X = cv.loc[ids].to_numpy()
    t0 = time.perf_counter()
    pattern = np.isnan(Y)
    n_fit = 0
    for key in {tuple(c) for c in pattern.T}:
        cols = [j for j in range(Y.shape[1]) if tuple(pattern[:, j]) == key]
        o = ~np.array(key)
        rot = lmm.eigen_rotation(K[np.ix_(o, o)], Y[np.ix_(o, cols)], X[o])
        lmm.fit_lmm(rot.kva, rot.y, rot.X, compute_se=True)
        n_fit += len(cols)
    t1 = time.perf_counter()
    dec = lmm.eigen_decompose(K)
    lmm.fit_lmm_masked(dec, Y, X, compute_se=True)
    t2 = time.perf_counter()
    print(f"  library: {n_fit} phenotypes, one decomposition per pattern {t1 - t0:.3f} s; "
          f"one decomposition + Schur {t2 - t1:.3f} s")
    wall, stages, peak, rows = run_workflow("recla", d)
    report_workflow("recla", wall, stages, peak, rows, Y.shape[1])


def bench_lib_2000(r_baseline=True, repeats=3):
    rng = np.random.default_rng(2000)
    K, fam, pop = structured_kinship(2000, rng)
    y, sex = phenotypes(2000, 1000, fam, pop, rng)
    X = np.column_stack([np.ones(2000), sex])
    library(2000, K, y, X, "n = 2000, m = 1000")
    ours, fit = timed_library(K, y, X, repeats, one_thread=True)
    ours_all, _ = timed_library(K, y, X, repeats, one_thread=False)
    why = rbaseline.r_package("lmmlite") if r_baseline else "--no-r"
    if why is None:
        lmmlite_baseline(K, y, X, fit.hsq, ours, ours_all, repeats)
    else:
        last = LMMLITE_LAST
        t = last["eigen_rotation_s"] + last["fit_s"]
        print(f"  R/lmmlite not run ({why}); last measured on {last['date']} ({last['machine']}): "
              f"eigen_rotation {last['eigen_rotation_s']:.3f} s + fitLMM x 1000 {last['fit_s']:.3f} s "
              f"= {t:.3f} s; against ours here: {t / ours[0]:.1f}x on one thread, {t / ours_all[0]:.1f}x "
              f"at this machine's BLAS threads (goal >= 8x; not a same-run baseline)")


def timed_library(K, y, X, repeats, one_thread):
    """eigh + rotate + fit (REML, no SE or CI: what lmmlite's fitLMM returns) on one BLAS thread
    (`one_thread`) or the BLAS's own threads, best of ``repeats``: (wall, CPU) of the best total,
    and the last fit."""
    walls, cpus, parts = [], [], []
    with rbaseline.one_blas_thread() if one_thread else contextlib.nullcontext():
        for _ in range(repeats):
            dec, w1, c1 = rbaseline.clocked(lmm.eigen_decompose, K)
            rot, w2, c2 = rbaseline.clocked(dec.rotate, y, X)
            fit, w3, c3 = rbaseline.clocked(lmm.fit_lmm, rot.kva, rot.y, rot.X, compute_ci=False)
            walls.append(w1 + w2 + w3)
            cpus.append(c1 + c2 + c3)
            parts.append((w1, w2, w3))
    b = int(np.argmin(walls))
    print(f"  {'one BLAS thread' if one_thread else 'the BLAS threads of the environment'}, best of {repeats}: eigh {parts[b][0]:.3f} s, "
          f"rotate {parts[b][1]:.3f} s, "
          f"fit {parts[b][2]:.3f} s; ours: eigh + rotate + fit {walls[b]:.3f} s (CPU {min(cpus):.3f} s)")
    return (walls[b], min(cpus)), fit


def lmmlite_baseline(K, y, X, hsq, ours, ours_all, repeats):
    """Run benchmarks/lmmlite_heritability.R on the same K, y, X; print its times, the ratio and
    the largest hsq difference."""
    n, m = y.shape
    with tempfile.TemporaryDirectory(prefix="lmmlite_") as tmp:
        d = Path(tmp)
        (d / "dims.txt").write_text(f"{n} {m} {X.shape[1]}\n")
        for name, a in (("K", K), ("y", y), ("X", X)):
            np.ascontiguousarray(a.T, dtype="<f8").tofile(d / f"{name}.bin")  # R column-major
        out = rbaseline.run_r("lmmlite_heritability.R", d, repeats)
        hsq_r = np.fromfile(d / "hsq.bin", dtype="<f8")
    eig = rbaseline.seconds(out, "eigen_rotation_elapsed_s"), rbaseline.seconds(out, "eigen_rotation_cpu_s")
    fits = rbaseline.seconds(out, "fit_elapsed_s"), rbaseline.seconds(out, "fit_cpu_s")
    total = min(np.add(eig[0], fits[0])), min(np.add(eig[1], fits[1]))
    print(f"  R/lmmlite {out['lmmlite_version']} ({out['r_version']}; BLAS {out['blas']}; "
          f"LAPACK {out['lapack']}), one thread, best of {repeats}: eigen_rotation(K, y, X) "
          f"{min(eig[0]):.3f} s (CPU {min(eig[1]):.3f}), fitLMM x {m} {min(fits[0]):.3f} s "
          f"(CPU {min(fits[1]):.3f}); total {total[0]:.3f} s (CPU {total[1]:.3f} s)")
    ratio, ratio_cpu = total[0] / ours[0], total[1] / ours[1]
    print(f"  lmmlite / ours, eigh + fit of {m:,} phenotypes at n = {n:,}: {ratio:.1f}x wall, "
          f"{ratio_cpu:.1f}x CPU, one thread each (goal >= 8x: {'met' if ratio >= 8 else 'not met'}); "
          f"ours at this machine's BLAS threads (lmmlite's Eigen decomposition has one): "
          f"{total[0] / ours_all[0]:.1f}x wall")
    dh = np.abs(hsq - hsq_r)
    print(f"  agreement with lmmlite (same run): max |hsq difference| {dh.max():.2e} over {m:,} "
          f"phenotypes (median {np.median(dh):.1e}; lmmlite's and our tol 1e-4)")


def bench_pipe_10000():
    t0 = time.perf_counter()
    d = make_dataset("pipe-10000", 10000, 10000, 0, 10000)
    print(f"  data: {time.perf_counter() - t0:.0f} s to make "
          f"({sum(f.stat().st_size for f in d.glob('*.csv')) / 2**30:.2f} GiB of CSV)")
    wall, stages, peak, rows = run_workflow("pipe-10000", d)
    report_workflow("pipe-10000", wall, stages, peak, rows, 10000)


def bench_scattered_5000():
    t0 = time.perf_counter()
    d = make_dataset("scattered-5000", 5000, 5000, 20, 5000)
    print(f"  data: {time.perf_counter() - t0:.0f} s to make")
    wall, stages, peak, rows = run_workflow("scattered-5000", d)
    report_workflow("scattered-5000", wall, stages, peak, rows, 5000)
    # baseline: one decomposition per pattern (timed on 3 patterns, scaled)
    import pandas as pd

    kin = pd.read_csv(d / "kinship.csv", index_col="id")
    ph = pd.read_csv(d / "pheno.csv", index_col="id")
    K = kin.to_numpy()
    patterns = {tuple(np.flatnonzero(c)) for c in np.isnan(ph.to_numpy()).T}
    t1 = time.perf_counter()
    for miss in list(patterns)[:3]:
        o = np.ones(K.shape[0], bool)
        o[list(miss)] = False
        lmm.eigen_decompose(K[np.ix_(o, o)])
    per = (time.perf_counter() - t1) / 3
    print(f"  baseline: {len(patterns)} distinct patterns x {per:.1f} s per decomposition = "
          f"{len(patterns) * per / 3600:.1f} h of decompositions alone "
          f"({len(patterns) * per / wall:.0f}x the workflow)")


def bench_do_islet():
    import bench_do_islet

    bench_do_islet.main([])


CONFIGS = {"recla": bench_recla, "lib-2000": bench_lib_2000, "pipe-10000": bench_pipe_10000,
           "scattered-5000": bench_scattered_5000, "do-islet": bench_do_islet}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", help=f"some of {', '.join(CONFIGS)} (default all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-r", action="store_true",
                    help="lib-2000 without R/lmmlite (print its last measured time instead)")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(CONFIGS))
        return 0
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        ap.error(f"unknown configuration(s) {sorted(unknown)}; choose from {list(CONFIGS)}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {platform.machine()} · {os.cpu_count()} cpus · "
          f"python {platform.python_version()} · numpy {np.__version__} · lmm {lmm.__version__}")
    for name in args.configs or CONFIGS:
        print(f"## {name}", flush=True)
        t0 = time.perf_counter()
        if name == "lib-2000":
            CONFIGS[name](r_baseline=not args.no_r)
        else:
            CONFIGS[name]()
        print(f"  ({time.perf_counter() - t0:.0f} s for this configuration; max RSS of this "
              f"process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

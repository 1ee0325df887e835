"""Running an R baseline from a benchmark: is R (and a package) installed, run a script on one core.

Also the one-thread context and the wall + CPU clock that the Python side of these comparisons uses.

The R scripts next to this file (``qtl2_recla.R``, ``lmmlite_heritability.R``, with their shared
helpers in ``rbaseline.R``) read inputs that the Python benchmark wrote to a temporary folder,
time only the computation, and print one ``key value`` pair per line; :func:`run_r` returns those
pairs as a dict of strings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The environment of the R process: one BLAS / OpenMP thread (R's BLAS may be OpenBLAS, MKL or
#: the reference BLAS; the variables are harmless where they do not apply).
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "GOTO_NUM_THREADS": "1", "RCPP_PARALLEL_NUM_THREADS": "1"}


def one_blas_thread():
    """A context in which numpy's and scipy's BLAS run one thread (threadpoolctl), whatever
    OPENBLAS_NUM_THREADS says; without threadpoolctl, a context that changes nothing."""
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        import contextlib
        return contextlib.nullcontext()


def clocked(fn, *a, **kw):
    """fn's result, its wall and its CPU seconds (this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    return out, time.perf_counter() - w0, time.process_time() - c0


def r_package(package: str) -> str | None:
    """Why R with ``package`` cannot be run here (``None``: it can). Costs one R start (~0.3 s)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found"
    code = f'quit(status = if (requireNamespace("{package}", quietly = TRUE)) 0 else 3)'
    try:
        proc = subprocess.run([rscript, "--vanilla", "-e", code], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"Rscript failed to start ({err})"
    if proc.returncode == 3:
        return f"R package {package} not installed"
    if proc.returncode:
        return f"Rscript exited with status {proc.returncode}"
    return None


def run_r(script: str, *args, timeout: float = 600) -> dict:
    """Run ``Rscript --vanilla benchmarks/<script> args...`` on one thread; its ``key value`` lines.

    Raises ``RuntimeError`` with the end of R's output when the script fails.
    """
    env = {**os.environ, **ONE_THREAD}
    t0 = time.perf_counter()
    proc = subprocess.run(["Rscript", "--vanilla", str(HERE / script), *map(str, args)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{script} failed (status {proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    out = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key and value:
            out[key] = value.strip()
    out["process_wall_s"] = f"{time.perf_counter() - t0:.3f}"
    return out


def seconds(out: dict, key: str) -> list:
    """The comma-separated seconds of ``key`` (one per repetition)."""
    return [float(x) for x in out[key].split(",")]

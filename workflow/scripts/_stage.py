"""Shared start-up of the workflow's scripts: pinned BLAS threads, logging, clean user errors.

Import this module before numpy (it imports nothing heavy), then::

    log = start(snakemake)          # pins threads, logs to snakemake.log[0]
    with user_errors(log):
        ...                         # lmm.InputError -> one clear message, exit status 1

A user error (:class:`lmm.InputError`, a problem in the data or configuration) is written to the
log and to stderr without a traceback, and the script exits with status 1, so Snakemake reports
the failed job and removes its outputs. Any other exception is a bug: its traceback goes to the
log and it propagates.
"""

import contextlib
import logging
import os
import sys

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def pin_threads(threads):
    """Make BLAS/LAPACK use exactly `threads` threads, so results are bitwise reproducible."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=int(threads))


def start(snakemake):
    """Pin threads to the job's, send logging to the job's log file, return the logger."""
    pin_threads(snakemake.threads)
    log_path = snakemake.log[0]
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    log = logging.getLogger(snakemake.rule)
    log.info("rule %s, threads %s", snakemake.rule, snakemake.threads)
    return log


@contextlib.contextmanager
def user_errors(log):
    """Report lmm.InputError as a plain message and exit 1; let anything else propagate."""
    from lmm.errors import InputError

    try:
        yield
    except InputError as exc:
        log.error("%s", exc)
        print(f"\nERROR: {exc}\n", file=sys.stderr, flush=True)
        logging.shutdown()
        sys.exit(1)
    except Exception:
        log.exception("unexpected failure (a bug: please report it with this log)")
        raise

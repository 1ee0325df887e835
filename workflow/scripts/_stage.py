"""Shared start-up of the workflow's scripts: pinned BLAS threads, freed memory kept for reuse
(:mod:`lmm.pipeline.memory`), logging, clean user errors.

Import this module before numpy (it imports nothing heavy), then::

    log = start(snakemake)          # pins threads, keeps freed memory, logs to snakemake.log[0]
    with user_errors(log):
        ...                         # lmm.InputError -> one clear message, exit status 1

A user error (:class:`lmm.InputError`, a problem in the data or configuration) is written to the
log and to stderr without a traceback, and the script exits with status 1, so Snakemake reports
the failed job and removes its outputs. So is a file that cannot be written because of the disk
(full, over quota, read-only, no permission): one message naming the file, or the job's outputs
when the system did not say which file. Any other exception is a bug: its traceback goes to the
log and it propagates.
"""

import contextlib
import errno
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


# What an OSError's errno says about the disk, for the plain message of `user_errors`.
_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
# The job's output files (set by `start`): named when the system does not say which file failed.
_outputs = []


def start(snakemake):
    """Pin threads to the job's, send logging to the job's log file, keep freed memory for reuse
    (:func:`lmm.pipeline.memory.keep_freed_memory`, logged), return the logger."""
    pin_threads(snakemake.threads)
    _outputs[:] = [str(path) for path in snakemake.output]
    logging.raiseExceptions = False  # a log write on a full disk must not add a traceback
    log_path = snakemake.log[0]
    try:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    except OSError as exc:
        if disk_error(exc) is None:
            raise
        print(f"\nERROR: {disk_message(exc, log_path)}\n", file=sys.stderr, flush=True)
        sys.exit(1)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    log = logging.getLogger(snakemake.rule)
    log.info("rule %s, threads %s", snakemake.rule, snakemake.threads)
    from lmm.pipeline.memory import keep_freed_memory  # after the threads are pinned: imports numpy

    log.info("%s", keep_freed_memory())
    return log


@contextlib.contextmanager
def user_errors(log):
    """Report lmm.InputError as a plain message and exit 1; let anything else propagate."""
    from lmm.errors import InputError

    try:
        yield
    except InputError as exc:
        _exit(log, str(exc))
    except Exception as exc:
        disk = disk_error(exc)
        if disk is not None:
            _exit(log, disk_message(disk, ", ".join(_outputs)))
        log.exception("unexpected failure (a bug: please report it with this log)")
        raise


def disk_error(exc):
    """The OSError about the disk that `exc` is, or was raised from or while handling; else None.

    A failed write can surface as another exception (e.g. zipfile's AttributeError while
    closing a file whose write failed), with the OSError as its cause or context.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def disk_message(exc, fallback):
    """One plain sentence for a disk OSError, naming its file (else `fallback`, e.g. outputs)."""
    advice = "free some space there" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
    return (f"Cannot write {exc.filename or fallback}: {_DISK_ERRORS[exc.errno]} ({exc.strerror}). "
            f"{advice.capitalize()} and run again.")


def _exit(log, message):
    """Log `message` (if the log can still be written), print it to stderr, exit 1."""
    log.error("%s", message)
    print(f"\nERROR: {message}\n", file=sys.stderr, flush=True)
    logging.shutdown()
    sys.exit(1)

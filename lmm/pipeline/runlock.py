"""One run at a time in a working directory, and no ``snakemake --unlock`` after a kill.

The default profile turns Snakemake's own lock off (``nolock: true``); instead the main process
of a run that executes jobs holds an operating-system lock (:func:`fcntl.lockf`) on
``.snakemake/lmm-pipeline/run.lock`` for as long as it lives (``workflow/rules/common.smk``
takes it in its ``onstart`` handler). The operating system releases it when the process ends in
any way, SIGKILL and power loss included, so nothing is left to remove; a second run while the
first is alive is refused with a message naming the process that holds the lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

__all__ = ["DirectoryLocked", "lock_directory"]

# The open (hence locked) lock files of this process: kept until it ends.
_held = []


class DirectoryLocked(RuntimeError):
    """Another living process holds the run lock of the directory."""


def lock_directory(lock_file: str | os.PathLike, directory: str | os.PathLike | None = None) -> None:
    """Take the run lock `lock_file` for this process until it ends, or raise.

    Parameters
    ----------
    lock_file : path
        The lock file (created, with its directory, if needed). On success it holds
        ``process <pid> on <host>``.
    directory : path, optional
        The working directory named in the message (default: the current one).

    Raises
    ------
    DirectoryLocked
        Another process holds the lock: the message names the directory and that process.
    """
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_file, "a+", encoding="utf-8")
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another snakemake"
        handle.close()
        raise DirectoryLocked(
            f"The directory {Path(directory or Path.cwd())} cannot be locked: a run is already working "
            f"in it ({holder}). Wait for it to finish, or stop it; a run that was killed holds no lock."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    _held.append(handle)

"""The run lock (lmm.pipeline.runlock): one run per directory, released when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

HOLD = """
import sys, time
from lmm.pipeline.runlock import lock_directory
lock_directory(sys.argv[1], sys.argv[2])
print("locked", flush=True)
time.sleep(120)
"""

TRY = """
import sys
from lmm.pipeline.runlock import DirectoryLocked, lock_directory
try:
    lock_directory(sys.argv[1], sys.argv[2])
except DirectoryLocked as exc:
    print(exc)
    sys.exit(3)
print("locked")
"""


def run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def holder(tmp_path):
    """A process holding the lock of `tmp_path`; killed (SIGKILL) at the end if still alive."""
    lock = tmp_path / ".snakemake" / "lmm-pipeline" / "run.lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc, lock
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_second_lock_in_the_same_directory_fails_with_the_message(holder, tmp_path):
    proc, lock = holder
    got = run(TRY, str(lock), str(tmp_path))
    assert got.returncode == 3, got.stdout + got.stderr
    assert f"The directory {tmp_path} cannot be locked: a run is already working in it" in got.stdout
    assert f"(process {proc.pid} on " in got.stdout
    assert lock.read_text().startswith(f"process {proc.pid} on ")


def test_lock_is_released_when_the_holder_is_killed(holder, tmp_path):
    proc, lock = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    got = run(TRY, str(lock), str(tmp_path))
    assert got.returncode == 0 and got.stdout.strip() == "locked", got.stdout + got.stderr


def test_lock_in_another_directory_is_independent(holder, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    got = run(TRY, str(other / "run.lock"), str(other))
    assert got.returncode == 0, got.stdout + got.stderr

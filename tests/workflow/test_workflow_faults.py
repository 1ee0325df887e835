"""Faults: a run killed mid-way and restarted, two runs at once, an output deleted by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, make_project, run_snakemake

pytestmark = pytest.mark.slow

OUTPUTS = ["results/heritability.tsv", "results/profile_loglik.tsv", "results/partition/partition.json"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A complete, undisturbed run: its outputs' bytes."""
    workdir = make_project(tmp_path_factory.mktemp("reference") / "project")
    run_snakemake(workdir, "--cores", "2", check=True)
    return workdir, {rel: (workdir / rel).read_bytes() for rel in OUTPUTS}


def start_snakemake(workdir, *args):
    return subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(condition, proc, what, limit=300.0):
    """Poll `condition` until it holds; fail if `proc` ends first (no fixed sleeps as assertions)."""
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended before {what}:\n{proc.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def jobs_run(output):
    """Names of the rules whose jobs a (non-dry) run executed."""
    return sorted(line.split()[-1].rstrip(":") for line in output.splitlines()
                  if line.startswith(("rule ", "localrule ", "checkpoint ", "localcheckpoint ")))


def test_killed_during_fit_then_restarted_gives_identical_results(tmp_path, reference):
    _, expected = reference
    workdir = make_project(tmp_path / "project")
    proc = start_snakemake(workdir, "--cores", "1")
    fit_logs = workdir / "logs" / "fit"
    wait_for(lambda: fit_logs.exists() and any(fit_logs.rglob("*.log")), proc, "a fit job started")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert not (workdir / "results" / "heritability.tsv").exists()
    clean = workdir / "results" / "clean" / "cleaned.npz"
    stamp = clean.stat().st_mtime_ns
    # the workflow's lock is the operating system's: it ends with the process, so the next run
    # starts without `snakemake --unlock`
    assert (workdir / ".snakemake" / "lmm-pipeline" / "run.lock").exists()
    restarted = run_snakemake(workdir, "--cores", "2", check=True)
    assert clean.stat().st_mtime_ns == stamp, "the completed load stage was redone"
    assert "load_and_clean" not in jobs_run(restarted.output)
    for rel, data in expected.items():
        assert (workdir / rel).read_bytes() == data, rel


def test_second_concurrent_run_is_refused_and_first_completes(tmp_path, reference):
    _, expected = reference
    workdir = make_project(tmp_path / "project")
    first = start_snakemake(workdir, "--cores", "1")
    lock = workdir / ".snakemake" / "lmm-pipeline" / "run.lock"
    wait_for(lambda: lock.exists() and lock.read_text().strip(), first, "the first run locked the directory")
    # the first run is paused while the second starts: on a busy machine it could otherwise finish
    # before the second reaches the lock (a race, not a test of the lock); a stopped process is
    # alive and keeps its lock
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        second = run_snakemake(workdir, "--cores", "1")
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    out, _ = first.communicate()
    assert second.returncode != 0
    assert "cannot be locked: a run is already working in it (process" in second.output, second.output
    assert first.returncode == 0, out[-3000:]
    for rel, data in expected.items():
        assert (workdir / rel).read_bytes() == data, rel


def test_deleted_output_is_rebuilt_with_only_what_depends_on_it(reference):
    workdir, expected = reference
    (workdir / "results" / "heritability.tsv").unlink()
    proc = run_snakemake(workdir, "--cores", "2", check=True)
    assert jobs_run(proc.output) == ["aggregate", "all", "plot_heritability", "plot_profiles", "provenance"]
    for rel, data in expected.items():
        assert (workdir / rel).read_bytes() == data, rel
    (workdir / "results" / "plots" / "heritability.png").unlink()
    proc = run_snakemake(workdir, "--cores", "2", check=True)
    assert jobs_run(proc.output) == ["all", "plot_heritability"]


def test_deleted_intermediate_is_rebuilt_on_request_identically(reference):
    workdir, expected = reference
    rotated = workdir / "results" / "rotate" / "b001.npz"  # recla's one decomposition
    original = rotated.read_bytes()
    rotated.unlink()
    # the final results are complete and up to date: nothing needs the intermediate
    assert "Nothing to be done" in run_snakemake(workdir, "--cores", "2", "-n", check=True).output
    proc = run_snakemake(workdir, "--cores", "2", "results/rotate/b001.npz", check=True)
    assert jobs_run(proc.output) == ["rotate"] and "batch=b001" in proc.output
    assert rotated.read_bytes() == original
    # same bytes, so Snakemake's input checksums see no change: nothing downstream reruns
    assert "Nothing to be done" in run_snakemake(workdir, "--cores", "2", "-n", check=True).output


def test_disk_errors_in_a_job_give_one_plain_message(tmp_path, monkeypatch, capsys):
    """A full disk (seen: zipfile's AttributeError raised while closing, after ENOSPC) or a
    read-only results/ ends the job with one message naming the file, no traceback, exit 1."""
    import errno
    import logging

    monkeypatch.syspath_prepend(str(REPO / "workflow" / "scripts"))
    import _stage

    monkeypatch.setattr(_stage, "_outputs", ["results/clean/cleaned.npz"])
    log = logging.getLogger("test_stage")
    with pytest.raises(SystemExit) as exit_info:
        with _stage.user_errors(log):
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError:
                raise AttributeError("'_idat' object has no attribute 'seek'")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Cannot write results/clean/cleaned.npz: the disk is full (No space left on device)" in err
    assert "Traceback" not in err and "_idat" not in err
    with pytest.raises(SystemExit):
        with _stage.user_errors(log):
            raise OSError(errno.EROFS, "Read-only file system", "results/fit/b001/c001.tsv")
    assert "Cannot write results/fit/b001/c001.tsv: the file system is read-only" in capsys.readouterr().err
    with pytest.raises(ZeroDivisionError):  # a bug still shows its traceback
        with _stage.user_errors(log):
            1 / 0

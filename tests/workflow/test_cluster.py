"""The SLURM profile (profiles/slurm) on a real single-node SLURM cluster.

tests/workflow/cluster/local-slurm.sh starts slurmctld, slurmd and munged on 127.0.0.1 (installing them from
Debian's packages if missing; root only). The pipeline then runs on the bundled recla data with
``--profile profiles/slurm``: its jobs must really go through SLURM (squeue lists them, in the
profile's partition), its ``results/heritability.tsv`` must be byte-identical to a local
``--cores 2`` run, a failed batch must end the run non-zero with a message naming the failed rule
and its log, and a rerun after the fix must redo only what had not finished.

Where SLURM cannot be started (not root, no apt-get, a site's own slurm.conf), the tests are
skipped and the reason is printed (``pytest -rs``). Each Snakemake run is wrapped in
``timeout -k``: the SLURM executor plugin can wait forever when its status queries fail.

Select or deselect them with ``-m cluster`` / ``-m "not cluster"``. They take about 5 minutes on
2 cores, nearly all of it SLURM's and the plugin's per-job overhead.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "workflow" / "cluster" / "local-slurm.sh"
STATE = Path(os.environ.get("LMM_SLURM_STATE", "/tmp/lmm-slurm"))
# The partition profiles/slurm asks for; the test cluster's default partition is another one.
PARTITION = "debug"
# Seconds: a whole SLURM run of recla takes about 2 minutes on 2 cores.
SLURM_TIMEOUT = 600
LOCAL_TIMEOUT = 300
# Outputs of a run and caches: not part of the project (as in .gitignore).
IGNORED_NAMES = {".git", ".snakemake", "__pycache__", ".pytest_cache", ".hypothesis", "build"}
IGNORED_TOP = {"results", "logs", "report.html"}


def _ignored(directory, names):
    """shutil.copytree's ignore: run outputs and caches, at the project's top or anywhere."""
    relative = Path(directory).resolve().relative_to(REPO)
    ignored = {n for n in names if n in IGNORED_NAMES or n.endswith(".egg-info")}
    if relative == Path("."):
        ignored |= IGNORED_TOP & set(names)
    return ignored


def _env(workdir):
    """The environment for snakemake in workdir: no user-wide profile, this interpreter first on
    PATH, and the copy's own `lmm` imported (by the workflow and, through SLURM, by its jobs)
    rather than an installed one, so that every run of a test runs the same code."""
    env = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH")]))
    return env


def _copy_project(source, dest):
    """A copy of the project without any run's outputs (what a fresh clone holds)."""
    shutil.copytree(source, dest, ignore=_ignored if source == REPO else None)
    return dest


def _snakemake(workdir, *args, timeout):
    """Run snakemake in workdir under `timeout -k 10`; return (CompletedProcess, seconds)."""
    cmd = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "snakemake", *args]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, env=_env(workdir), capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode in (124, 137):
        pytest.fail(
            f"snakemake {' '.join(args)} did not finish within {timeout} s and was killed; "
            f"last output:\n{proc.stderr[-4000:]}"
        )
    return proc, seconds


def _on_slurm(workdir, *args):
    return _snakemake(workdir, "--profile", "profiles/slurm", *args, timeout=SLURM_TIMEOUT)


def _slurm_jobs(stderr):
    """SLURM run id and job ids that snakemake reported submitting."""
    run_id = re.search(r"SLURM run ID: (\S+)", stderr)
    job_ids = re.findall(r"has been submitted with SLURM jobid (\d+)", stderr)
    return (run_id.group(1) if run_id else None), job_ids


def _job_stats(stderr):
    """{rule: count} from the 'Job stats' table snakemake prints before running."""
    block = stderr.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def _squeue(job_ids):
    """{job id: (name, state, partition)} for finished and running jobs (MinJobAge is 300 s)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%j|%T|%P"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    return {r[0]: tuple(r[1:]) for r in rows}


def _fail_output(proc):
    return f"exit {proc.returncode}\n--- stderr (end) ---\n{proc.stderr[-6000:]}"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM cluster, shared by concurrent test sessions.

    The cluster is stopped after the last test session that uses it, if a test session started
    it; one that was running already (started by hand) is left running.
    """
    if shutil.which("bash") is None or shutil.which("timeout") is None:
        pytest.skip("SLURM cannot be started here: bash and timeout (coreutils) are needed")
    was_up = subprocess.run(
        ["bash", str(SCRIPT), "status"], capture_output=True, text=True, timeout=60
    ).returncode == 0
    start = subprocess.run(
        ["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=900
    )
    if start.returncode == 3:
        pytest.skip(start.stderr.strip().splitlines()[-1])
    if start.returncode != 0:
        pytest.fail(f"tests/workflow/cluster/local-slurm.sh start failed:\n{start.stdout}{start.stderr}")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail(
            "SLURM is up, but the Snakemake executor plugin is missing: "
            "pip install snakemake-executor-plugin-slurm"
        )
    sessions = STATE / "pytest-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    me = sessions / str(os.getpid())
    me.touch()
    if not was_up:
        (STATE / "started-by-pytest").touch()
    yield
    me.unlink(missing_ok=True)
    others = [p for p in sessions.iterdir() if p.name.isdigit() and _alive(int(p.name))]
    if not others and (STATE / "started-by-pytest").exists():
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, text=True, timeout=120)
        (STATE / "started-by-pytest").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """One copy of the project that every run of this module starts from (same code in all).

    Without the genome scan (``scan: false``): these tests are about the heritability stages'
    SLURM jobs and their grouping; the scan's jobs run locally in tests/workflow/test_workflow_scan.py.
    One eigen-decomposition per missing-data pattern (``missing_strategy: decompose``), so that
    each batch is fitted by its own SLURM jobs from its own rotated data (the failed-batch test).
    """
    project = _copy_project(REPO, tmp_path_factory.mktemp("snapshot") / "project")
    config = project / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\nscan: false\nmissing_strategy: decompose\n",
                      encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def local_reference(snapshot, tmp_path_factory):
    """heritability.tsv of a local `--cores 2` run of recla, and that run's wall time."""
    workdir = _copy_project(snapshot, tmp_path_factory.mktemp("local") / "project")
    proc, seconds = _snakemake(workdir, "--cores", "2", timeout=LOCAL_TIMEOUT)
    assert proc.returncode == 0, _fail_output(proc)
    print(f"\nrecla, local --cores 2: {seconds:.1f} s")
    return (workdir / "results" / "heritability.tsv").read_bytes(), seconds


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, snapshot, tmp_path_factory):
    """The whole recla pipeline run once on SLURM through profiles/slurm."""
    workdir = _copy_project(snapshot, tmp_path_factory.mktemp("slurm") / "project")
    proc, seconds = _on_slurm(workdir)
    jobs = _squeue(_slurm_jobs(proc.stderr)[1]) if proc.returncode == 0 else {}
    print(f"\nrecla, SLURM through profiles/slurm: {seconds:.1f} s, {len(jobs)} SLURM jobs")
    return workdir, proc, seconds, jobs


def test_recla_runs_on_slurm(slurm_run, local_reference, record_property):
    workdir, proc, seconds, jobs = slurm_run
    assert proc.returncode == 0, _fail_output(proc)
    record_property("slurm_seconds", round(seconds, 1))
    record_property("local_seconds", round(local_reference[1], 1))

    # The jobs really went through SLURM: squeue knows every job snakemake submitted, each
    # finished, named after this run, in the partition the profile asks for.
    run_id, job_ids = _slurm_jobs(proc.stderr)
    assert run_id and job_ids, "snakemake reported no SLURM submission:\n" + proc.stderr[-3000:]
    assert sorted(jobs) == sorted(job_ids), (job_ids, jobs)
    for job_id, (name, state, partition) in jobs.items():
        assert name == run_id, (job_id, name, run_id)
        assert state == "COMPLETED", (job_id, state)
        assert partition == PARTITION, (
            f"SLURM job {job_id} ran in partition {partition!r}, not the profile's {PARTITION!r}: "
            "profiles/slurm's default-resources did not reach sbatch (a key of the same name in "
            "profiles/default, the workflow profile, replaces it)"
        )
    # Grouping: one SLURM job to load and partition, one per eigen-decomposition, one per fit
    # chunk, one for the table, plots and provenance; not one per phenotype or per rule instance.
    n_rotations = len(list((workdir / "results" / "rotate").glob("*.npz")))
    n_chunks = len(list((workdir / "results" / "fit").glob("*/*.profile.tsv")))
    assert len(job_ids) == 2 + n_rotations + n_chunks, (len(job_ids), n_rotations, n_chunks)

    reference, _ = local_reference
    assert (workdir / "results" / "heritability.tsv").read_bytes() == reference
    for path in ("results/plots/heritability.png", "results/plots/profile_loglik.png",
                 "results/provenance.yaml"):
        assert (workdir / path).is_file(), path


def test_failed_batch_on_slurm_then_rerun(slurm_run, local_reference, tmp_path):
    """From the finished SLURM run, less its table: one batch's rotated data is corrupt, so its
    fits fail on SLURM; the run ends non-zero naming the rule and its log, and the other batches'
    fits are kept; after the fix, the rerun fits only that batch and gives the local run's table."""
    source, proc, _, _ = slurm_run
    assert proc.returncode == 0, "the SLURM run this test starts from failed"
    workdir = shutil.copytree(source, tmp_path / "project", symlinks=True)   # copy2: time stamps kept
    batches = [b["batch"] for b in
               json.loads((workdir / "results/partition/partition.json").read_text())["batches"]]
    assert len(batches) >= 2, batches
    bad = batches[1]
    finished = {p: p.stat().st_mtime_ns
                for b in batches if b != bad
                for p in (workdir / "results" / "fit" / b).glob("*.tsv")}
    assert len(finished) >= 2 * (len(batches) - 1), sorted(finished)
    # The table is made again (as after a run stopped before it), and one batch's rotated data is
    # corrupt and newer than its fits, which are redone.
    table = workdir / "results" / "heritability.tsv"
    table.unlink()
    corrupt = workdir / "results" / "rotate" / f"{bad}.npz"
    corrupt.write_bytes(b"not an npz file\n")
    failed, _ = _on_slurm(workdir)
    (workdir / "failed-run.stderr").write_text(failed.stderr)

    # The run fails, and says which rule failed and where its log is.
    assert failed.returncode != 0, _fail_output(failed)
    fit_log = f"logs/fit/{bad}/"
    # ("Error in rule fit" with its log; a grouped job would say "Error in group <name>", its
    # SLURM log, then the rule and its log. Then the logs' contents: show-failed-logs.)
    error = re.search(r"Error in (group \w+|rule fit)(.*?)(\nLogfile |\Z)", failed.stderr, re.S)
    assert error, _fail_output(failed)
    assert error.group(1) == "rule fit" or "rule fit:" in error.group(2), error.group(0)
    assert re.search(rf"log: {re.escape(fit_log)}\S+\.log", error.group(2)), error.group(0)
    logs = list((workdir / fit_log).glob("*.log"))
    assert logs and any(p.read_text().strip() for p in logs), "the failed fit's log is empty"
    # The failed batch left no output, nor anything downstream; the other batches' fits were kept.
    assert not list((workdir / "results" / "fit" / bad).glob("*.tsv"))
    assert not table.exists()
    assert {p: p.stat().st_mtime_ns for p in finished} == finished, "a finished fit was redone"

    # The fix: the good file back, with its time stamp. The rerun fits only that batch.
    shutil.copy2(source / "results" / "rotate" / f"{bad}.npz", corrupt)
    rerun, _ = _on_slurm(workdir)
    (workdir / "rerun.stderr").write_text(rerun.stderr)
    assert rerun.returncode == 0, _fail_output(rerun)
    stats = _job_stats(rerun.stderr)
    n_chunks = len(list((source / "results" / "fit" / bad).glob("*.profile.tsv")))
    assert stats.get("fit") == n_chunks, stats
    assert not {"load_and_clean", "partition", "rotate"} & set(stats), stats
    assert {p: p.stat().st_mtime_ns for p in finished} == finished, "a finished fit was redone"
    assert table.read_bytes() == local_reference[0]

"""A scan job's progress lines (lmm.pipeline.progress.ScanProgress): chromosome i of k, tile t of T,
traits per second, at least every 30 s of its clock. Tested with a fake clock, never with wall time;
the scan's results do not depend on the reporting."""

import logging

import numpy as np
import pytest

import lmm
from conftest import dosage_store
from lmm.pipeline import genome_scan as gs
from lmm.pipeline.partition import partition_phenotypes
from lmm.pipeline.progress import LOG_INTERVAL_S, ScanProgress

N, CHROMS, PER_CHR = 60, ("1", "2"), 25


class FakeClock:
    """A clock that moves ``step`` seconds at every reading (or stays where the test puts it)."""

    def __init__(self, step=0.0):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


class Lines(logging.Handler):
    """The messages of a logger, each with the fake time it was logged at."""

    def __init__(self, clock):
        super().__init__(logging.INFO)
        self.clock, self.lines = clock, []

    def emit(self, record):
        self.lines.append((self.clock.now, record.getMessage()))


def _logger(clock, name):
    log = logging.getLogger(f"test_progress.{name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.handlers[:] = [Lines(clock)]
    return log, log.handlers[0]


def test_lines_at_start_end_and_every_interval():
    clock = FakeClock()
    log, lines = _logger(clock, "unit")
    p = ScanProgress(log, 2, clock=clock)
    assert LOG_INTERVAL_S == 30.0 and p.interval == 30.0
    p.begin("19", 1000, 200, 2)
    clock.now = 10.0
    p.null_fits_done()
    for now, tile, markers in [(20.0, 1, 50), (41.0, 1, 100), (70.0, 2, 150), (71.0, 2, 160)]:
        clock.now = now
        p.advance(tile, markers)
    clock.now = 80.0
    p.end()
    p.begin("X", 1000, 100, 1)
    msgs = [m for _, m in lines.lines]
    assert [t for t, _ in lines.lines] == [0.0, 10.0, 41.0, 71.0, 80.0, 80.0]
    assert msgs[0] == "scan: chromosome 1 of 2 (19): 1000 traits x 200 markers in 2 tile(s): null fits"
    assert msgs[1] == "scan: chromosome 1 of 2 (19): null fits of 1000 traits done in 10.0 s"
    # 1000 traits x (100 / 200 markers) in 41 s: 12.2 traits/s
    assert msgs[2] == ("scan: chromosome 1 of 2 (19), tile 1 of 2: 100 of 200 markers (50%), 1000 traits, "
                       "12.2 traits/s, 41 s on this chromosome")
    assert msgs[3].startswith("scan: chromosome 1 of 2 (19), tile 2 of 2: 160 of 200 markers (80%)")
    assert msgs[4] == "scan: chromosome 1 of 2 (19) done: 1000 traits x 200 markers in 80.0 s, 12.5 traits/s"
    assert msgs[5].startswith("scan: chromosome 2 of 2 (X): 1000 traits x 100 markers in 1 tile(s)")
    assert p.traits_per_second(80.0) == 0.0      # no marker of chromosome X done yet


def test_replicates_and_callbacks():
    clock = FakeClock()
    log, lines = _logger(clock, "callbacks")
    p = ScanProgress(log, 1, interval=5.0, clock=clock)
    p.begin("3", 10, 40, 2)
    # tile 2 (markers 20..39) scanned for the second of two null groups: 20 + (1·20 + 10)/2 = 35;
    # 10 traits x (35 / 40 markers) in 12 s: 0.729 traits/s
    clock.now = 6.0
    p.markers_callback(2, 20, 20, 1, 2)(10)
    assert p.markers == 35.0 and p.tile == 2
    clock.now = 12.0
    p.replicates_callback(2, 100)(64)
    assert lines.lines[-1] == (12.0, "scan: chromosome 1 of 1 (3), tile 2 of 2: 35 of 40 markers (88%), "
                                     "permutation replicates 64 of 100, 10 traits, 0.729 traits/s, "
                                     "12 s on this chromosome")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rng = np.random.default_rng(5)
    tmp = tmp_path_factory.mktemp("progress")
    store, ids, G = dosage_store(tmp, rng, N, CHROMS, PER_CHR)
    K = (G - G.mean(0)) @ (G - G.mean(0)).T / G.shape[1]
    Y = rng.multivariate_normal(np.zeros(N), 0.5 * K + 0.5 * np.eye(N), size=3).T
    Y[:, 0] += 1.5 * G[:, 5]
    Y[:4, 2] = np.nan
    X = np.column_stack([np.ones(N), rng.integers(0, 2, N)])
    names = [f"p{j}" for j in range(Y.shape[1])]
    part = partition_phenotypes(Y, names, ["ok"] * len(names), ids, X, ["intercept", "sex"], missing_strategy="schur")
    data = {"ids": np.array(ids), "phenotypes": Y, "phenotype_names": np.array(names), "covariates": X,
            "covariate_names": np.array(["intercept", "sex"])}
    kin = gs.compute_kinships(store, "standardized", loco=True)
    return store, ids, part, data, kin, names


@pytest.mark.parametrize("step", [7.0, 31.0])
def test_scan_chunk_reports_at_least_every_interval_and_changes_nothing(setup, step):
    store, ids, part, data, kin, names = setup
    clock = FakeClock(step=step)                    # every reading of the clock is `step` s later
    log, lines = _logger(clock, f"chunk{step}")
    progress = ScanProgress(log, len(CHROMS), clock=clock)
    for c in CHROMS:
        eig = gs.decompose_chromosome(kin["loco"][c], ids, ids, part)
        options = dict(tile_columns=10, n_perm=3, seed=2)        # tiles of 10, 10 and 5 markers
        plain = gs.scan_chunk(eig, store, c, data, part, names, **options)
        shown = gs.scan_chunk(eig, store, c, data, part, names, progress=progress, **options)
        assert plain.keys() == shown.keys()
        for key in plain:
            np.testing.assert_array_equal(plain[key], shown[key], err_msg=key)
    times = [t for t, _ in lines.lines]
    msgs = [m for _, m in lines.lines]
    # no gap longer than the interval plus one reading of the clock
    assert max(np.diff(times)) <= LOG_INTERVAL_S + clock.step
    for i, c in enumerate(CHROMS, 1):
        mine = [m for m in msgs if m.startswith(f"scan: chromosome {i} of 2 ({c})")]
        assert mine[0].endswith(f"3 traits x {PER_CHR} markers in 3 tile(s): null fits")
        assert mine[-1].startswith(f"scan: chromosome {i} of 2 ({c}) done: 3 traits x {PER_CHR} markers in ")
        if step > LOG_INTERVAL_S:                    # every report is due: each tile and replicate block shows
            for t in (1, 2, 3):
                assert any(f", tile {t} of 3: " in m and "traits/s" in m for m in mine)
            assert any("permutation replicates 3 of 3" in m for m in mine)
        else:
            assert any(", tile " in m and "traits/s" in m for m in mine)


def test_scan_rotated_reports_each_block_of_markers():
    rng = np.random.default_rng(3)
    n, q = 40, 23
    G = rng.integers(0, 3, (n, q)).astype(float)
    dec = lmm.eigen_decompose(G @ G.T / q + 0.1 * np.eye(n))
    y = dec.kve_t @ rng.normal(size=(n, 4))
    X = dec.kve_t @ np.ones((n, 1))
    Gr = dec.kve_t @ G
    done = []
    # blocks of kb = block_elements // (n·2 + mb·per_pair) = 5 markers with these sizes
    shown = lmm.scan_rotated(dec.kva, y, X, 0.4, Gr, block_elements=600, progress=done.append)
    plain = lmm.scan_rotated(dec.kva, y, X, 0.4, Gr, block_elements=600)
    assert done == sorted(done) and done[-1] == q and len(done) > 1
    np.testing.assert_array_equal(shown.lod, plain.lod)

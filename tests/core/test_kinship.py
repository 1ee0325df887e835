"""Tests of the kinship core (lmm.kinship).

1. Against the formulas written naively (a loop over markers) on seeded random data: the three
   methods, overall and LOCO; streaming in blocks == all at once; invariance to the order of the
   markers; individuals permuted; float32 input.
2. Against GEMMA 0.98.5 (``gemma -gk 1`` / ``-gk 2``) from PLINK and BIMBAM files of seeded data
   (skipped when ``gemma`` or ``bed_reader`` is not installed).
3. ``shared_alleles`` on the recla allele probabilities: REML heritabilities with the kinships
   leaving out chromosomes 1 and 2 against R/qtl2 0.43-5's (data/recla/genotypes/README.md).
4. Bad input: each an InputError whose message names the problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lmm
from lmm.errors import InputError
from lmm.kinship import METHODS, KinshipAccumulator, calc_kinship, mean_diagonal

REPO = Path(__file__).resolve().parents[2]
GENO_DIR = Path(__file__).resolve().parents[2] / "data" / "recla" / "genotypes"
if not GENO_DIR.exists():
    GENO_DIR = REPO / "data" / "recla" / "genotypes"


# ---------------------------------------------------------------------------------------------
# 1. naive formulas
# ---------------------------------------------------------------------------------------------


def naive_kinship(G, method, n_alleles=1):
    """K written as a loop over markers, straight from the definitions (2K for shared_alleles)."""
    n, ncol = G.shape
    q = ncol // n_alleles
    K = np.zeros((n, n))
    for m in range(q):
        if method == "shared_alleles":
            if n_alleles == 1:
                d = G[:, m]
                P = np.column_stack([d / 2, 1 - d / 2])
            else:
                P = G[:, m * n_alleles:(m + 1) * n_alleles]
            K += np.einsum("ia,ja->ij", P, P)
        else:
            g = G[:, m]
            w = g - g.mean()
            if method == "standardized":
                w = w / np.sqrt(np.mean((g - g.mean()) ** 2))
            K += np.outer(w, w)
    K /= q
    return 2 * K if method == "shared_alleles" else K


def naive_loco(G, method, chrom, c, n_alleles=1):
    keep = np.flatnonzero(chrom != c)
    cols = (keep[:, None] * n_alleles + np.arange(n_alleles)).ravel()
    return naive_kinship(G[:, cols], method, n_alleles)


def random_dosages(rng, n, q):
    f = np.clip(rng.beta(0.7, 0.7, q), 0.05, 0.95)
    G = rng.binomial(2, f, (n, q)).astype(float)
    # mean-imputed "missing" values: fractional dosages
    G[rng.random((n, q)) < 0.03] = np.nan
    G = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    const = np.flatnonzero(np.ptp(G, axis=0) == 0)
    G[:, const] = (np.arange(n)[:, None] + const) % 3  # no constant column
    return G


def random_allele_probs(rng, n, q, a=4):
    P = rng.dirichlet(np.full(a, 0.3), size=(n, q))  # (n, q, a)
    return P.reshape(n, q * a)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20261124)
    n, q = 23, 61
    chrom = rng.choice(np.array(["1", "2", "3", "X"]), size=q)  # chromosomes interleaved
    return {
        "G": random_dosages(rng, n, q),
        "P": random_allele_probs(rng, n, q, 4),
        "chrom": chrom,
        "rng": rng,
    }


CASES = [("shared_alleles", 1), ("shared_alleles", 4), ("centered", 1), ("standardized", 1)]


def _geno(data, n_alleles):
    return data["P"] if n_alleles > 1 else data["G"]


@pytest.mark.parametrize("method,n_alleles", CASES)
def test_overall_and_loco_match_naive_formulas(data, method, n_alleles):
    G, chrom = _geno(data, n_alleles), data["chrom"]
    K = calc_kinship(G, method, n_alleles=n_alleles)
    np.testing.assert_allclose(K, naive_kinship(G, method, n_alleles), rtol=0, atol=1e-12)
    assert np.array_equal(K, K.T)
    K2 = calc_kinship(G, method, chromosomes=chrom, n_alleles=n_alleles)
    np.testing.assert_allclose(K2, K, rtol=0, atol=1e-12)
    loco = calc_kinship(G, method, chromosomes=chrom, n_alleles=n_alleles, loco=True)
    assert list(loco) == list(dict.fromkeys(chrom))
    for c, Kc in loco.items():
        np.testing.assert_allclose(Kc, naive_loco(G, method, chrom, c, n_alleles), rtol=0, atol=1e-12)
        assert np.array_equal(Kc, Kc.T)


def test_shared_alleles_dosage_is_two_allele_probabilities(data):
    d = data["G"]
    P = np.stack([d / 2, 1 - d / 2], axis=2).reshape(d.shape[0], -1)
    np.testing.assert_allclose(
        calc_kinship(d, "shared_alleles"), calc_kinship(P, "shared_alleles", n_alleles=2),
        rtol=0, atol=1e-13)


def test_scales():
    rng = np.random.default_rng(1)
    G = random_dosages(rng, 40, 300)
    assert mean_diagonal(calc_kinship(G, "standardized")) == pytest.approx(1.0, abs=1e-13)
    # homozygous inbred lines: 2K has diagonal exactly 2; one haplotype each side: 1
    P = np.eye(8)[rng.integers(0, 8, (30, 50))].reshape(30, 400)
    K = calc_kinship(P, "shared_alleles", n_alleles=8)
    np.testing.assert_array_equal(np.diag(K), 2.0)
    het = (np.eye(8)[0] + np.eye(8)[1]) / 2
    assert calc_kinship(np.tile(het, (2, 1)), "shared_alleles", n_alleles=8)[0, 0] == 1.0


@pytest.mark.parametrize("method,n_alleles", CASES)
@pytest.mark.parametrize("sizes", [[1], [7], [13, 1, 50], [1000]])
def test_streaming_in_blocks_equals_all_at_once(data, method, n_alleles, sizes):
    G, chrom = _geno(data, n_alleles), data["chrom"]
    n = G.shape[0]
    acc = KinshipAccumulator(n, method)
    # markers of each chromosome in blocks of the given sizes, chromosomes interleaved
    pending = {c: list(np.flatnonzero(chrom == c)) for c in dict.fromkeys(chrom)}
    i = 0
    while any(pending.values()):
        for c, ms in pending.items():
            take, pending[c] = ms[: sizes[i % len(sizes)]], ms[sizes[i % len(sizes)]:]
            i += 1
            if take:
                cols = (np.array(take)[:, None] * n_alleles + np.arange(n_alleles)).ravel()
                acc.add(G[:, cols], c, n_alleles=n_alleles)
    np.testing.assert_allclose(acc.overall(), calc_kinship(G, method, n_alleles=n_alleles),
                               rtol=0, atol=1e-12)
    loco = calc_kinship(G, method, chromosomes=chrom, n_alleles=n_alleles, loco=True)
    for c in acc.chromosomes:
        np.testing.assert_allclose(acc.loco(c), loco[c], rtol=0, atol=1e-12)
        assert acc.n_markers(c) == int(np.sum(chrom == c))
    assert acc.n_markers() == len(chrom)


@pytest.mark.parametrize("method,n_alleles", CASES)
def test_marker_order_and_individual_permutation(data, method, n_alleles):
    G, chrom, rng = _geno(data, n_alleles), data["chrom"], np.random.default_rng(7)
    q = len(chrom)
    loco = calc_kinship(G, method, chromosomes=chrom, n_alleles=n_alleles, loco=True)
    order = rng.permutation(q)
    cols = (order[:, None] * n_alleles + np.arange(n_alleles)).ravel()
    loco2 = calc_kinship(G[:, cols], method, chromosomes=chrom[order], n_alleles=n_alleles, loco=True)
    perm = rng.permutation(G.shape[0])
    loco3 = calc_kinship(G[perm], method, chromosomes=chrom, n_alleles=n_alleles, loco=True)
    for c in loco:
        np.testing.assert_allclose(loco2[c], loco[c], rtol=0, atol=1e-12)
        np.testing.assert_allclose(loco3[c], loco[c][np.ix_(perm, perm)], rtol=0, atol=1e-12)


@pytest.mark.parametrize("method,n_alleles", CASES)
def test_float32_input(data, method, n_alleles):
    G32 = _geno(data, n_alleles).astype(np.float32)
    K = calc_kinship(G32, method, n_alleles=n_alleles)
    assert K.dtype == np.float64
    # the float32 values are used exactly: same as their float64 copies
    np.testing.assert_allclose(K, naive_kinship(G32.astype(np.float64), method, n_alleles),
                               rtol=0, atol=1e-12)
    # products in float32: single precision
    K32 = calc_kinship(G32, method, n_alleles=n_alleles, product_dtype=np.float32)
    assert K32.dtype == np.float64 and np.array_equal(K32, K32.T)
    np.testing.assert_allclose(K32, K, rtol=0, atol=1e-5 * np.abs(K).max())


def test_accumulator_without_loco(data):
    G, chrom = data["G"], data["chrom"]
    acc = KinshipAccumulator(G.shape[0], "centered", loco=False)
    for c in dict.fromkeys(chrom):
        acc.add(G[:, chrom == c], c)
    np.testing.assert_allclose(acc.overall(), calc_kinship(G, "centered"), rtol=0, atol=1e-12)
    assert acc.chromosomes == tuple(dict.fromkeys(chrom))
    assert acc.n_markers("2") == int(np.sum(chrom == "2"))
    with pytest.raises(InputError, match="loco=False"):
        acc.loco("1")


def test_block_is_not_modified_and_chromosome_labels(data):
    G = data["G"][:, :10].copy(order="F")
    before = G.copy()
    acc = KinshipAccumulator(G.shape[0], "standardized")
    acc.add(G, 1)
    acc.add(G, "2")
    np.testing.assert_array_equal(G, before)
    assert acc.chromosomes == ("1", "2")
    np.testing.assert_array_equal(acc.loco(2), acc.loco("2"))


@pytest.mark.parametrize("method,n_alleles", CASES)
@pytest.mark.parametrize("product_columns", [1, 5, 64])
def test_product_buffer_and_tiles_do_not_change_the_result(data, method, n_alleles, product_columns,
                                                           monkeypatch):
    """Blocks wait in the product buffer (several per syrk, flushed at a change of chromosome,
    when full and when a result is asked for) and are prepared a tile of columns at a time: the
    kinships stay those of all markers at once. Tiles of 8 columns here (at least 8)."""
    import lmm.kinship as kinship

    monkeypatch.setattr(kinship, "_TILE_BYTES", 1)
    G, chrom = _geno(data, n_alleles), data["chrom"]
    n = G.shape[0]
    full = calc_kinship(G, method, chromosomes=chrom, n_alleles=n_alleles, loco=True)
    acc = KinshipAccumulator(n, method, product_columns=product_columns)
    order = np.argsort(chrom, kind="stable")  # chromosome by chromosome, blocks of 1 to 12 markers
    sizes = np.random.default_rng(3).integers(1, 13, len(order))
    i, asked = 0, False
    while i < len(order):
        c = chrom[order[i]]
        take = [m for m in order[i:i + sizes[i]] if chrom[m] == c]
        cols = (np.array(take)[:, None] * n_alleles + np.arange(n_alleles)).ravel()
        block = np.asfortranarray(G[:, cols])  # Fortran float64: a wide one is multiplied as it is
        acc.add(block, c, n_alleles=n_alleles)
        i += len(take)
        if not asked and i > len(order) // 2:  # a result half-way flushes the buffer
            acc.overall()
            asked = True
    np.testing.assert_allclose(acc.overall(), calc_kinship(G, method, n_alleles=n_alleles),
                               rtol=0, atol=1e-12)
    for c in acc.chromosomes:
        np.testing.assert_allclose(acc.loco(c), full[c], rtol=0, atol=1e-12)
        assert np.array_equal(acc.loco(c), acc.loco(c).T)
    with pytest.raises(InputError, match="product_columns"):
        KinshipAccumulator(n, method, product_columns=0)


@pytest.mark.parametrize("method", ["centered", "standardized"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_missing_mean_equals_imputing_before(method, dtype, monkeypatch):
    """``missing="mean"``: a NaN is imputed by its marker's mean over the observed values (GEMMA's
    rule), as if the block had been imputed in float64 beforehand; the block is not changed."""
    import lmm.kinship as kinship

    monkeypatch.setattr(kinship, "_TILE_BYTES", 1)  # tiles of 8 columns
    rng = np.random.default_rng(11)
    n, q = 31, 90
    G = rng.binomial(2, rng.uniform(0.1, 0.9, q), (n, q)).astype(float)
    G[:, :3] = np.arange(n)[:, None] % 3  # no constant column once imputed
    G[rng.random((n, q)) < 0.1] = np.nan
    G[:, 5] = np.nan
    G[0, 5] = 1.0
    G[1, 5] = 2.0  # one column with two observed values
    imputed = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    chrom = np.repeat(["1", "2", "3"], 30)
    ref = calc_kinship(imputed, method, chromosomes=chrom, loco=True)
    B = G.astype(dtype)
    before = B.copy()
    acc = KinshipAccumulator(n, method)
    for c in ("1", "2", "3"):
        for a in range(0, 30, 11):
            acc.add(B[:, chrom == c][:, a:a + 11], c, missing="mean")
    np.testing.assert_array_equal(B, before)
    np.testing.assert_allclose(acc.overall(), calc_kinship(imputed, method), rtol=0, atol=1e-12)
    for c in ("1", "2", "3"):
        np.testing.assert_allclose(acc.loco(c), ref[c], rtol=0, atol=1e-12)
    # without missing="mean" a NaN stays an error; an infinite value and a column without
    # observed values are errors with it; shared_alleles does not impute
    with pytest.raises(InputError, match="non-finite"):
        KinshipAccumulator(n, method).add(B, "1")
    X = G.copy()
    X[4, 20] = np.inf
    with pytest.raises(InputError, match=r"Genotype column 20 .*non-finite value \(inf\) in row 4"):
        KinshipAccumulator(n, method).add(X, "1", missing="mean")
    X = G.copy()
    X[:, 17] = np.nan
    with pytest.raises(InputError, match="Genotype column 17 .*no observed value"):
        KinshipAccumulator(n, method).add(X, "1", missing="mean")
    with pytest.raises(InputError, match="missing must be"):
        KinshipAccumulator(n, method).add(imputed, "1", missing="drop")
    with pytest.raises(InputError, match="shared_alleles"):
        KinshipAccumulator(n, "shared_alleles").add(imputed, "1", missing="mean")


# ---------------------------------------------------------------------------------------------
# 2. GEMMA
# ---------------------------------------------------------------------------------------------

GEMMA_N, GEMMA_Q = 60, 500


def _gemma_data():
    """Seeded genotypes with missing values; a few markers at GEMMA's filter edges."""
    rng = np.random.default_rng(2026)
    n, q = GEMMA_N, GEMMA_Q
    f = np.clip(rng.beta(0.8, 0.8, q), 0.05, 0.95)
    G = rng.binomial(2, f, (n, q)).astype(float)
    while True:  # no marker of minor allele frequency < 0.05 among the random ones
        p = G.mean(axis=0) / 2
        rare = np.flatnonzero(np.minimum(p, 1 - p) < 0.05)
        if rare.size == 0:
            break
        G[:, rare] = rng.binomial(2, 0.5, (n, rare.size))
    for j in range(5, q):  # 0–3 missing genotypes per marker: at most 5%, kept by GEMMA
        G[rng.choice(n, rng.integers(0, 4), replace=False), j] = np.nan
    G[:, 0] = np.where(np.arange(n) < 5, np.nan, G[:, 0])  # 5/60 missing: dropped
    G[:, 1] = np.where(np.arange(n) < 3, np.nan, G[:, 1])  # 3/60 = 0.05 missing: kept
    G[:, 2] = 0.0
    G[7, 2] = 1.0  # minor allele frequency 1/120 < 0.01: dropped
    G[:, 3] = 2.0  # monomorphic: dropped
    G[:, 4] = 0.0
    G[7:10, 4] = 1.0  # MAF 3/120 = 0.025: kept
    return G


def gemma_filter(G):
    """GEMMA 0.98.5's default marker filters, as observed: drop a marker if its fraction of
    missing genotypes exceeds 0.05 (``-miss``) or its minor allele frequency, from the observed
    genotypes, is below 0.01 (``-maf``)."""
    n = G.shape[0]
    obs = np.isfinite(G)
    miss = (~obs).sum(axis=0) / n
    p = np.nanmean(G, axis=0) / 2
    maf = np.minimum(p, 1 - p)
    return (miss <= 0.05) & (maf >= 0.01)


def _read_gemma_log(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line:
            k, v = line.lstrip("#").split("=", 1)
            out[k.strip()] = v.strip()
    return out


@pytest.fixture(scope="module")
def gemma_runs(tmp_path_factory):
    gemma = shutil.which("gemma")
    if gemma is None:
        pytest.skip("gemma is not installed (Debian package 'gemma')")
    bed_reader = pytest.importorskip("bed_reader", reason="bed_reader is needed to write PLINK files")
    tmp = tmp_path_factory.mktemp("gemma")
    G = _gemma_data()
    rng = np.random.default_rng(3)
    pheno = rng.standard_normal(GEMMA_N)
    bed_reader.to_bed(tmp / "geno.bed", G, properties={
        "iid": [f"i{i}" for i in range(GEMMA_N)],
        "sid": [f"rs{j}" for j in range(GEMMA_Q)],
        "chromosome": np.repeat(np.arange(1, 6), GEMMA_Q // 5),
        "bp_position": np.arange(GEMMA_Q) * 1000 + 1,
        "pheno": pheno,
    })
    with open(tmp / "geno.txt", "w") as fh:  # BIMBAM mean genotypes: rs, A1, A0, dosages
        for j in range(GEMMA_Q):
            vals = ", ".join("NA" if np.isnan(v) else f"{v:g}" for v in G[:, j])
            fh.write(f"rs{j}, A, T, {vals}\n")
    np.savetxt(tmp / "pheno.txt", pheno)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    runs = {}
    for fmt, inp in (("plink", ["-bfile", "geno"]), ("bimbam", ["-g", "geno.txt", "-p", "pheno.txt"])):
        for gk in (1, 2):
            name = f"{fmt}{gk}"
            subprocess.run([gemma, *inp, "-gk", str(gk), "-o", name, "-outdir", "out"],
                           cwd=tmp, env=env, check=True, capture_output=True, text=True)
            ext = "cXX" if gk == 1 else "sXX"
            runs[(fmt, gk)] = (np.loadtxt(tmp / "out" / f"{name}.{ext}.txt"),
                               _read_gemma_log(tmp / "out" / f"{name}.log.txt"),
                               (tmp / "out" / f"{name}.{ext}.txt").read_text().split()[0])
    return G, runs


def printed_half_unit(K_printed, digits=10):
    """Half a unit in the last place of a value printed with ``digits`` significant digits."""
    a = np.abs(K_printed)
    e = np.floor(np.log10(np.where(a > 0, a, 1.0)))
    return np.where(a > 0, 0.5 * 10.0 ** (e - (digits - 1)), 0.5e-300)


@pytest.mark.parametrize("fmt", ["plink", "bimbam"])
@pytest.mark.parametrize("gk,method", [(1, "centered"), (2, "standardized")])
def test_matches_gemma(gemma_runs, fmt, gk, method):
    """GEMMA prints 10 significant digits (checked below); every entry of our matrix must lie
    within half a unit of that last digit (relative error ≤ 5e-10) plus 1e-13·max|K| for the
    round-off of the two computations. Observed (GEMMA 0.98.5): the largest |Δ| is 0.9998 of a
    half-unit (4.4e-11 for -gk 1, 5.0e-10 for -gk 2; relative ≤ 4.8e-10): GEMMA's value is ours
    rounded to 10 digits."""
    G, runs = gemma_runs
    K_gemma, log, first = runs[(fmt, gk)]
    keep = gemma_filter(G)
    assert int(log["number of analyzed SNPs/var"]) == keep.sum() == GEMMA_Q - 3
    assert int(log["number of analyzed individuals"]) == GEMMA_N
    assert len(first.lstrip("-").replace(".", "").lstrip("0")) <= 10  # ≤ 10 significant digits
    Gk = G[:, keep]
    Gk = np.where(np.isnan(Gk), np.nanmean(Gk, axis=0), Gk)  # GEMMA's mean imputation
    K = calc_kinship(Gk, method)
    diff = np.abs(K - K_gemma)
    tol = printed_half_unit(K_gemma) + 1e-13 * np.abs(K_gemma).max()
    worst = np.max(diff / tol)
    assert worst <= 1.0, f"max |Δ| / tolerance = {worst} (max |Δ| {diff.max():.3g})"
    assert np.max(diff / np.abs(K_gemma)) < 1e-8
    # the other denominators of the standard deviation are far from GEMMA's
    if method == "standardized":
        W = Gk - Gk.mean(axis=0)
        Z = W / Gk.std(axis=0, ddof=1)
        assert np.abs(Z @ Z.T / Z.shape[1] - K_gemma).max() > 1e-3
    # the allele counted (A1 or A2) does not matter: K(2 - G) == K(G)
    np.testing.assert_allclose(calc_kinship(2 - Gk, method), K, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------------------
# 3. recla: shared_alleles against R/qtl2
# ---------------------------------------------------------------------------------------------

RECLA_HSQ = {  # data/recla/genotypes/README.md: R/qtl2 0.43-5, REML, intercept only, 2K
    ("OF_immobile_pct", "1"): 0.554529385275652,
    ("OF_immobile_pct", "2"): 0.466079846216682,
    ("bw", "1"): 0.503510609656273,
    ("bw", "2"): 0.454452936627259,
}


@pytest.fixture(scope="module")
def recla_loco():
    pd = pytest.importorskip("pandas")
    probs = GENO_DIR / "recla_alleleprobs.csv.gz"
    if not probs.exists():
        pytest.skip(f"{probs} is not available")
    ap = pd.read_csv(probs, dtype={"id": str}).set_index("id")
    gmap = pd.read_csv(GENO_DIR / "recla_map.csv", dtype={"marker": str, "chr": str})
    markers = ap.columns.str.rsplit(":", n=1).str[0]
    assert list(markers[::8]) == list(gmap["marker"])  # 8 alleles per marker, in map order
    assert (markers.to_numpy().reshape(-1, 8) == markers[::8].to_numpy()[:, None]).all()
    loco = calc_kinship(ap.to_numpy(np.float64), "shared_alleles",
                        chromosomes=gmap["chr"].to_numpy(), n_alleles=8, loco=True)
    pheno = pd.read_csv(REPO / "data" / "recla" / "pheno.csv", dtype={"id": str}).set_index("id")
    return loco, pheno.loc[ap.index]


@pytest.mark.parametrize("phenotype,chrom", list(RECLA_HSQ))
def test_recla_loco_heritability_matches_qtl2(recla_loco, phenotype, chrom):
    """Observed |Δhsq| ≤ 5e-8 with tol 1e-12: the profile likelihood is flat at its maximum,
    so the optimum is located only to about √ε relative; qtl2's own search has the same limit."""
    loco, pheno = recla_loco
    assert len(loco) == 20
    y = pheno[phenotype].to_numpy(np.float64)
    ok = np.isfinite(y)
    K = loco[chrom][np.ix_(ok, ok)]
    rot = lmm.eigen_rotation(K, y[ok])
    fit = lmm.fit_lmm(rot.kva, rot.y, rot.X, reml=True, tol=1e-12)
    assert float(fit.hsq) == pytest.approx(RECLA_HSQ[(phenotype, chrom)], abs=1e-6)
    # not doubling the kinship would give another heritability
    rot1 = lmm.eigen_rotation(K / 2, y[ok])
    hsq1 = float(lmm.fit_lmm(rot1.kva, rot1.y, rot1.X, reml=True, tol=1e-12).hsq)
    assert abs(hsq1 - RECLA_HSQ[(phenotype, chrom)]) > 1e-2


# ---------------------------------------------------------------------------------------------
# 4. bad input
# ---------------------------------------------------------------------------------------------


def test_bad_shapes():
    with pytest.raises(InputError, match="two-dimensional"):
        calc_kinship(np.ones(5), "centered")
    acc = KinshipAccumulator(4, "centered")
    with pytest.raises(InputError, match="two-dimensional"):
        acc.add(np.ones(4), "1")
    with pytest.raises(InputError, match="3 rows but .* n = 4"):
        acc.add(np.ones((3, 2)), "1")
    with pytest.raises(InputError, match="positive integer"):
        KinshipAccumulator(0, "centered")
    with pytest.raises(InputError, match="one chromosome per marker"):
        calc_kinship(np.eye(3), "centered", chromosomes=["1", "2"])
    with pytest.raises(InputError, match="square"):
        mean_diagonal(np.ones((2, 3)))


def test_non_finite_values_name_the_column():
    G = np.arange(12.0).reshape(3, 4) % 3
    G[1, 2] = np.nan
    with pytest.raises(InputError, match=r"column 2 .*non-finite value \(nan\) in row 1.*impute"):
        calc_kinship(G, "centered")
    acc = KinshipAccumulator(3, "standardized")
    acc.add(np.array([[0.0], [1.0], [2.0]]), "1")
    G[1, 2] = np.inf
    with pytest.raises(InputError, match=r"column 2 of the block \(column 3 of all"):
        acc.add(G, "2")


def test_unknown_method():
    with pytest.raises(InputError, match="Unknown kinship method 'gcta'.*shared_alleles"):
        calc_kinship(np.eye(3), "gcta")
    with pytest.raises(InputError, match="Unknown kinship method"):
        KinshipAccumulator(3, "vanraden")
    assert set(METHODS) == {"shared_alleles", "centered", "standardized"}


def test_allele_columns_not_a_multiple():
    P = np.full((3, 10), 0.25)
    with pytest.raises(InputError, match="10 columns, not a multiple of n_alleles = 4"):
        calc_kinship(P, "shared_alleles", n_alleles=4)
    with pytest.raises(InputError, match="10 columns, not a multiple of n_alleles = 4"):
        KinshipAccumulator(3, "shared_alleles").add(P, "1", n_alleles=4)
    with pytest.raises(InputError, match="applies only to the 'shared_alleles'"):
        calc_kinship(P, "centered", n_alleles=2)


def test_values_out_of_range():
    with pytest.raises(InputError, match="allele probabilities in \\[0, 1\\]"):
        calc_kinship(np.full((3, 4), 1.5), "shared_alleles", n_alleles=2)
    with pytest.raises(InputError, match="dosages in \\[0, 2\\]"):
        calc_kinship(np.array([[0.0], [3.0]]), "shared_alleles")


def test_constant_marker_standardized():
    G = np.array([[0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
    with pytest.raises(InputError, match="column 1 .* is constant"):
        calc_kinship(G, "standardized")
    calc_kinship(G, "centered")  # a constant marker contributes 0 to the centred kinship


def test_loco_unknown_or_single_chromosome():
    G = np.array([[0.0, 1.0], [2.0, 1.0], [1.0, 0.0]])
    acc = KinshipAccumulator(3, "centered")
    acc.add(G, "1")
    with pytest.raises(InputError, match="Chromosome '7' has no markers.*chromosomes: 1"):
        acc.loco(7)
    with pytest.raises(InputError, match="Chromosome 'X'"):
        acc.n_markers("X")
    with pytest.raises(InputError, match="leaves no markers.*at least two chromosomes"):
        acc.loco("1")
    with pytest.raises(InputError, match="at least two chromosomes; all are on chromosome '1'"):
        calc_kinship(G, "centered", chromosomes=["1", "1"], loco=True)
    with pytest.raises(InputError, match="need the chromosome of each marker"):
        calc_kinship(G, "centered", loco=True)
    with pytest.raises(InputError, match="No markers"):
        KinshipAccumulator(3, "centered").overall()

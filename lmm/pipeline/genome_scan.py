"""The genotype, kinship and genome-scan stages' logic: kinships from the genotype intermediate,
per-chromosome decompositions, scan jobs and the scan's result tables.

The numbers come from the core (:mod:`lmm.kinship`, :mod:`lmm.scan`, :mod:`lmm.peaks`,
:func:`lmm.fit_lmm`, :func:`lmm.fit_lmm_masked`); this module decides which individuals, kinship
and decomposition each phenotype uses, and writes the tables.

Individuals of the scan
-----------------------
The cleaned individuals (``results/clean/cleaned.npz``) that are genotyped. Each phenotype uses its
complete cases, through its missing-data batch of :mod:`lmm.pipeline.partition`:

* a ``decompose`` batch has its own decomposition of each chromosome's kinship, restricted to its
  individuals: the null fit (:func:`lmm.fit_lmm`) and the scan use it directly;
* a ``schur`` batch (a few values missing) uses the decomposition of all individuals (the complete
  batch's): the null fit is :func:`lmm.fit_lmm_masked` (exact), and the scan adds one indicator
  covariate per missing individual. With those indicators, the generalised least-squares fits on
  all individuals equal those on the complete cases (an indicator fits its individual's value
  exactly, which removes that observation from the quadratic form: the marginal of the observed
  individuals), so ``RSS0`` and ``RSS1`` are the complete-case ones and the LOD is
  ``(n_obs/2)·log10(RSS0/RSS1)``: exact, not an approximation.

All batches that share a decomposition and their covariates are fitted and scanned together by
the scan engine (:mod:`lmm.scan.engine`, the one that :func:`lmm.scan1` and :func:`lmm.scan1perm`
call): one null fit (:func:`lmm.scan.engine.fit_null_group`) and, for each tile of markers read
from the memory-mapped genotype store, one :func:`lmm.scan.engine.scan_tile` call, the indicators
as phenotype-specific covariates (``extra``): the matrix products are shared by every
missing-data pattern, and the cost grows with the number of missing values, not with the number
of patterns. This module is the adapter: which individuals, decompositions and tiles.

Kinship of each chromosome
--------------------------
With ``loco: true`` the kinship of chromosome ``c`` leaves ``c``'s markers out
(:meth:`lmm.kinship.KinshipAccumulator.loco`); otherwise the analysis kinship (the given one, or
the overall kinship from the genotypes) serves every chromosome, decomposed once (unit name
``all``).

Permutations
------------
Genome-wide thresholds permute the genotype rows among each phenotype's complete cases (as R/qtl2's
``scan1perm`` does with a kinship; the reasons are in :mod:`lmm.scan.permutations`). A
phenotype's permutations are drawn from the seed and its set of observed individuals among the
scan's (the cleaned, genotyped individuals, in the cleaned order), by the rule of
:mod:`lmm.scan.engine` ("Permutation seeding"): the same on every chromosome and in every chunk,
shared by the phenotypes of a missing-data pattern, and the same as :func:`lmm.scan1perm`'s on
the same data and seed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

import lmm
from lmm.errors import InputError
from lmm.kinship import KinshipAccumulator, mean_diagonal
from lmm.peaks import find_peaks
from lmm.pipeline.genotypes.chromosomes import canonical_chromosome
from lmm.pipeline.partition import Partition
from lmm.pipeline.sparse_lod import sparse_lod
from lmm.scan import lod_to_pvalue, permutation_threshold, strata_labels, xsp_permutations
from lmm.scan.engine import (added_covariates, fit_null_group, interaction_design, marker_design,
                             permutation_patterns, scan_tile, update_permutation_maxima)

__all__ = [
    "KINSHIP_DEFAULTS",
    "kinship_method",
    "compute_kinships",
    "write_kinship_dir",
    "read_kinship_dir",
    "scan_chunks",
    "resolve_chunk_size",
    "scan_groups",
    "prefixed",
    "split_prefixed",
    "read_scan_results",
    "decompose_chromosome",
    "scan_chunk",
    "ChromosomeModel",
    "chromosome_model",
    "region_lengths",
    "peak_options",
    "scan_tables",
    "lod_table",
]

#: The default ``kinship_method`` for each kind of genotypes.
KINSHIP_DEFAULTS = {"probabilities": "shared_alleles", "dosages": "standardized"}

#: Permutation threshold level reported in the peaks table.
PERMUTATION_ALPHA = 0.05


# --------------------------------------------------------------------------- kinship


def kinship_method(configured: str, kind: str) -> str:
    """The kinship method: `configured`, or the default for the genotypes' `kind` when ``auto``."""
    if configured in (None, "auto"):
        return KINSHIP_DEFAULTS[kind]
    if configured == "shared_alleles" or kind == "dosages":
        return configured
    raise InputError(
        f"kinship_method '{configured}' needs dosages (one column per marker), but the genotypes are "
        "allele probabilities: use kinship_method 'shared_alleles' (or 'auto')."
    )


def compute_kinships(store, method: str, loco: bool, max_columns: int = 4096) -> dict:
    """The overall kinship and (with `loco`) one per chromosome, from one pass over the markers.

    Parameters
    ----------
    store : lmm.pipeline.genotype_store.GenotypeStore
        The genotype intermediate (n individuals).
    method : {'shared_alleles', 'centered', 'standardized'}
    loco : bool
        Also the kinship leaving out each chromosome.
    max_columns : int
        Genotype columns read at once (views of the memory map). The accumulator prepares
        consecutive blocks of a chromosome into its product buffer (``8·n·c`` bytes, ``c`` =
        :data:`lmm.kinship.PRODUCT_COLUMNS_MAX` = 8,192 columns up to n = 4,096, 256 MiB above)
        and multiplies them by one ``syrk`` when it is full or the chromosome ends.

    Returns
    -------
    dict
        ``overall`` (n, n); ``loco`` {chromosome: (n, n)} (empty without `loco`);
        ``record``: method, markers per chromosome, mean diagonals (the scale hsq refers to),
        the X chromosomes.

    Notes
    -----
    ``shared_alleles`` uses allele probabilities: a store of genotype probabilities (e.g.
    R/qtl2's F2, ``SS, SB, BB``; on X ``SS, SB, BS, BB, SY, BY``) is converted block by block as
    R/qtl2's ``genoprob_to_alleleprob`` does (:mod:`lmm.alleles`: ``SB`` is half S and half B,
    ``SY`` is S). Every chromosome counts in the overall kinship, X included, and the kinship
    leaving out chromosome c uses all the others, X included: that of X is the autosomes'
    (R/qtl2's ``calc_kinship(probs, "loco")``, checked in ``tests/reference/qtl2/iron``).
    """
    acc = KinshipAccumulator(store.n, method, loco=loco)
    alleles = len(store.allele_names) if method == "shared_alleles" and store.kind == "probabilities" else 1
    for chrom in store.chromosomes:
        for block in store.iter_blocks(chrom, max_columns):
            acc.add(store.allele_probabilities(block, chrom) if alleles > 1 else block, chrom, n_alleles=alleles)
    overall = acc.overall()
    per_chr = {c: acc.loco(c) for c in acc.chromosomes} if loco else {}
    record = {
        "method": method,
        "n": int(store.n),
        "n_markers": int(acc.n_markers()),
        "markers_per_chromosome": {c: int(acc.n_markers(c)) for c in acc.chromosomes},
        "mean_diagonal": float(mean_diagonal(overall)),
        "loco_mean_diagonal": {c: float(mean_diagonal(K)) for c, K in per_chr.items()},
        "x_chromosomes": [c for c in acc.chromosomes if store.is_x(c)],
    }
    return {"overall": overall, "loco": per_chr, "record": record}


def write_kinship_dir(path: str, ids: Sequence[str], matrices: Mapping[str, np.ndarray]) -> None:
    """Write LOCO kinships as ``<path>/<chromosome>.npy`` and ``<path>/ids.txt``, atomically.

    The directory is written under a temporary name beside `path` and renamed into place, so a
    failure leaves no half-written directory.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    try:
        with open(os.path.join(tmp, "ids.txt"), "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(f"{i}\n" for i in ids))
        for chrom, K in matrices.items():
            np.save(os.path.join(tmp, f"{chrom}.npy"), np.ascontiguousarray(K, dtype=np.float64))
        os.chmod(tmp, 0o755)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_kinship_dir(path: str, chromosome: str) -> tuple[list[str], np.ndarray]:
    """The ids and the kinship leaving out `chromosome`, from :func:`write_kinship_dir`'s directory."""
    with open(os.path.join(path, "ids.txt"), encoding="utf-8") as handle:
        ids = handle.read().split("\n")[:-1]
    file = os.path.join(path, f"{chromosome}.npy")
    if not os.path.isfile(file):
        raise InputError(f"No LOCO kinship for chromosome {chromosome!r} in '{path}': rerun the kinship stage.")
    return ids, np.load(file)


# --------------------------------------------------------------------------- jobs: chromosome groups

#: Work of one scan job, in floating-point operations (a few seconds on one core): consecutive
#: chromosomes are scanned by the same jobs while their estimated work stays under it, so that a
#: small data set (recla: 20 chromosomes) is not split into jobs that cost more to start than to
#: run, while a large one gets a job per chromosome.
SCAN_JOB_FLOPS = 2e10


def scan_groups(chromosomes: Sequence[str], columns: Mapping[str, int], n: int, m: int,
                per_job: int = 0, budget: float = SCAN_JOB_FLOPS) -> list[list[str]]:
    """Consecutive chromosomes scanned by the same jobs.

    Parameters
    ----------
    chromosomes : sequence of str
        Genome order.
    columns : mapping
        Genotype columns (markers × alleles) of each chromosome.
    n, m : int
        Individuals; phenotypes of a scan job (a chunk).
    per_job : int
        Chromosomes per group (config ``scan_chromosomes_per_job``); 0: by estimated work,
        ``9·n³`` for a chromosome's decompositions plus ``16·n·columns·m`` for its scan, summed
        until `budget` would be exceeded.

    Returns
    -------
    list of lists of str
    """
    groups: list[list[str]] = []
    work = 0.0
    for chrom in chromosomes:
        cost = 9.0 * n ** 3 + 16.0 * n * columns[chrom] * max(m, 1)
        if not groups or (len(groups[-1]) >= per_job if per_job else work + cost > budget):
            groups.append([])
            work = 0.0
        groups[-1].append(chrom)
        work += cost
    return groups


def prefixed(arrays: Mapping, k: int) -> dict:
    """``{f"c{k}__{key}": value}``: the arrays of a group's ``k``-th chromosome in one ``.npz``."""
    return {f"c{k}__{key}": value for key, value in arrays.items()}


def split_prefixed(arrays: Mapping, k: int) -> dict:
    """The arrays of the ``k``-th chromosome of a group's ``.npz`` (the inverse of :func:`prefixed`)."""
    head = f"c{k}__"
    return {key[len(head):]: arrays[key] for key in arrays.keys() if key.startswith(head)}


def read_scan_results(files: Sequence[str], groups: Sequence[Sequence[str]], n_chunks: int,
                      keys: Sequence[str] | None = None) -> list[list[dict]]:
    """The scan jobs' results per chromosome (genome order), each a list per chunk.

    Parameters
    ----------
    files : sequence of str
        The jobs' ``.npz`` files, group-major then chunk (the order of the workflow's inputs).
    groups : sequence of sequences of str
        :func:`scan_groups`.
    n_chunks : int
    keys : sequence of str, optional
        Only these arrays (e.g. ``["lod"]``); default all.
    """
    files = iter(files)
    out = {chrom: [] for group in groups for chrom in group}
    for group in groups:
        for _ in range(n_chunks):
            with np.load(next(files), allow_pickle=False) as data:
                for k, chrom in enumerate(group):
                    arrays = split_prefixed(data, k)
                    out[chrom].append({key: arrays[key] for key in (keys or arrays)})
    return list(out.values())


# --------------------------------------------------------------------------- units and chunks


def scan_units(partition: Partition) -> list[str]:
    """Batches whose decomposition the scan needs: those with a fit job (fitted ``decompose``
    batches, and the complete batch when it holds the ``masked`` chunks of ``schur`` batches)."""
    return [b.name for b in partition.rotated_batches()]


#: ``scan_chunk_size: auto``: a scan job's LOD matrix (markers of a chromosome × phenotypes,
#: float64) takes at most this many bytes (the job's peak is about three times it).
SCAN_CHUNK_LOD_BYTES = 1 << 29


def resolve_chunk_size(configured, max_markers: int) -> int:
    """The phenotypes per scan job: config ``scan_chunk_size`` (an int, 0 for no limit) or, for
    ``auto``, as many as keep the LOD matrix of the largest chromosome (`max_markers`) within
    :data:`SCAN_CHUNK_LOD_BYTES`."""
    if configured == "auto":
        return max(1, SCAN_CHUNK_LOD_BYTES // (8 * max(1, int(max_markers))))
    return int(configured)


def scan_chunks(partition: Partition, size: int) -> list[list[str]]:
    """The fitted phenotypes in input order, in chunks of at most `size` (0: one chunk)."""
    names = partition.fitted_phenotypes()
    size = int(size) or max(1, len(names))
    return [names[s:s + size] for s in range(0, len(names), size)]


def _rows(clean_ids: Sequence[str], store_ids: Sequence[str], missing: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows (in the cleaned data, in the genotype store) of the genotyped individuals not in `missing`."""
    spos = {i: k for k, i in enumerate(store_ids)}
    drop = set(missing)
    pairs = [(k, spos[i]) for k, i in enumerate(clean_ids) if i in spos and i not in drop]
    rows = np.array([a for a, _ in pairs], dtype=np.intp)
    srows = np.array([b for _, b in pairs], dtype=np.intp)
    return rows, srows


def decompose_chromosome(K: np.ndarray, kin_ids: Sequence[str], clean_ids: Sequence[str],
                         partition: Partition) -> dict:
    """Eigen-decompositions of one chromosome's kinship for every unit the scan needs.

    Parameters
    ----------
    K : ndarray, shape (N, N)
        The chromosome's kinship (LOCO or overall), rows in the order of `kin_ids`.
    kin_ids : sequence of str, length N
    clean_ids : sequence of str
        The cleaned individuals (``cleaned.npz``'s ``ids``).
    partition : lmm.pipeline.partition.Partition

    Returns
    -------
    dict
        Arrays for an ``.npz``: ``units``; for each unit ``u``: ``ids__u`` (its genotyped,
        observed individuals, cleaned order), ``kva__u`` and ``kve_t__u``.
    """
    out = {"units": np.asarray(scan_units(partition), dtype=str)}
    for unit in out["units"].tolist():
        rows, krows = _rows(clean_ids, kin_ids, partition.batch(unit).missing_ids)
        ids = [clean_ids[k] for k in rows]
        sub = K[np.ix_(krows, krows)] if len(kin_ids) else K
        try:
            dec = lmm.eigen_decompose(sub)
        except InputError as exc:
            raise InputError(f"Batch {unit} ({len(ids)} individuals): {exc}") from None
        out[f"ids__{unit}"] = np.asarray(ids, dtype=str)
        out[f"kva__{unit}"] = dec.kva
        out[f"kve_t__{unit}"] = dec.kve_t
    return out


# --------------------------------------------------------------------------- the scan of a chunk


@dataclass(frozen=True)
class ChromosomeModel:
    """What a chromosome's scan adds to the phenotypes' covariates, and its permutations.

    Attributes
    ----------
    x_covariates : ndarray (N, k) or None
        On an X chromosome, its covariates (config ``x_covariates``) for the ``N`` cleaned
        individuals; None elsewhere or without them.
    interactive : tuple of str
        Covariates (names in ``cleaned.npz``) that interact with the QTL.
    n_perm : int
        Permutation replicates of this chromosome.
    region : str or None
        ``"X"`` when the X chromosomes are permuted on their own (their own stream,
        :func:`lmm.scan.engine.permutation_rng`), else None.
    strata : ndarray (N,) or None
        With ``region "X"``: permutation strata, the distinct rows of the X covariates.
    """

    x_covariates: np.ndarray | None = None
    interactive: tuple = ()
    n_perm: int = 0
    region: str | None = None
    strata: np.ndarray | None = None


def _canonical(chromosomes: Sequence[str]) -> set:
    """The canonical names (:func:`lmm.pipeline.genotypes.chromosomes.canonical_chromosome`, as the
    genotype store has them) of config ``x_chromosomes``."""
    return {canonical_chromosome(c) for c in chromosomes}


def region_lengths(markers: pd.DataFrame, x_chromosomes: Sequence[str]) -> dict:
    """``{"A": L_A, "X": L_X}``: the summed lengths (span of the map positions) of the autosomes and
    of the X chromosomes (R/qtl2's ``chr_lengths``), from a markers table (``chr``, ``pos``)."""
    span = markers.groupby("chr", sort=False)["pos"].agg(lambda p: float(p.max() - p.min()))
    x = span.index.isin(_canonical(x_chromosomes))
    return {"A": float(span[~x].sum()), "X": float(span[x].sum())}


def chromosome_model(chromosome: str, markers: pd.DataFrame, *, x_chromosomes: Sequence[str] = ("X",),
                     x_covariates: np.ndarray | None = None, interactive: Sequence[str] = (),
                     n_perm: int = 0) -> ChromosomeModel:
    """The :class:`ChromosomeModel` of `chromosome` in a genome of `markers`.

    The X chromosomes are permuted on their own (R/qtl2's ``perm_Xsp``) when the genome has both
    autosomes and X chromosomes of positive length: :func:`lmm.scan.xsp_permutations` replicates,
    stratified by the X covariates (:func:`lmm.scan.strata_labels`).
    """
    is_x = str(chromosome) in _canonical(x_chromosomes)
    has_x = x_covariates is not None and x_covariates.shape[1] > 0
    model = dict(x_covariates=x_covariates if is_x and has_x else None, interactive=tuple(interactive),
                 n_perm=int(n_perm))
    lengths = region_lengths(markers, x_chromosomes)
    if is_x and n_perm and lengths["A"] > 0 and lengths["X"] > 0:
        model.update(n_perm=xsp_permutations(n_perm, lengths["A"], lengths["X"]), region="X",
                     strata=strata_labels(x_covariates) if has_x else None)
    return ChromosomeModel(**model)


def scan_chunk(eigen: Mapping, store, chromosome: str, data: Mapping, partition: Partition,
               phenotypes: Sequence[str], *, reml: bool = True, tol: float = 1e-4,
               tile_columns: int = 20000, threshold: float = 3.0, peakdrop: float | None = None,
               interval: str = "drop", drop: float = 1.5, prob: float = 0.95, keep_lod: bool = True,
               n_perm: int = 0, seed: int = 1, model: ChromosomeModel | None = None,
               lod_min: float | None = None, progress=None) -> dict:
    """Null fits and LOD scores of one chunk of phenotypes on one chromosome.

    Parameters
    ----------
    eigen : mapping
        :func:`decompose_chromosome`'s arrays for this chromosome.
    store : GenotypeStore
        The genotype intermediate.
    chromosome : str
    data : mapping
        ``cleaned.npz``: ``ids``, ``phenotypes``, ``phenotype_names``, ``covariates``,
        ``covariate_names``.
    partition : lmm.pipeline.partition.Partition
        The batch, strategy and covariates of each phenotype.
    phenotypes : sequence of str
        The chunk (all fitted phenotypes of the partition).
    reml, tol
        The null fit (REML by default; tolerance of Brent's search where the grid start leaves
        it to Brent, default 1e-4; :func:`lmm.scan.engine.fit_null_group`), polished by Newton
        steps to about 1e-14.
    tile_columns : int
        Genotype columns scanned at once: bounds memory at about ``8·n·tile_columns`` bytes
        for the designs plus the block temporaries of :func:`lmm.scan.scan_rotated`.
    threshold, peakdrop, interval, drop, prob
        Peaks (:func:`lmm.peaks.find_peaks`): above `threshold`; several per chromosome separated
        by dips of `peakdrop` (``None``: infinite, one per chromosome, the highest); with the
        LOD support interval of `drop` (`interval` ``"drop"``) or the Bayes credible interval
        of coverage `prob` (``"bayes"``).
    keep_lod : bool
        Return the LOD of every marker (``scan_output: full``).
    n_perm, seed
        Permutation replicates (0: none) and their seed (module notes); `model`'s ``n_perm``
        replaces `n_perm` when a model is given.
    model : ChromosomeModel, optional
        The chromosome's X covariates, interactive covariates and permutations
        (:func:`chromosome_model`; default: none, `n_perm` replicates).
    lod_min : float, optional
        Also keep every (marker, phenotype) with ``LOD ≥ lod_min``
        (:func:`lmm.pipeline.sparse_lod.sparse_lod`: ``lodmin_*`` arrays).
    progress : lmm.pipeline.progress.ScanProgress, optional
        Told where the job is (this chromosome, tile, markers, replicates): it logs a line at
        least every 30 s. No result depends on it.

    Returns
    -------
    dict
        Arrays for an ``.npz``: ``phenotypes`` (m,), ``hsq``, ``n``, ``null_status`` (m,),
        ``max_lod``, ``argmax``, ``max_df`` (m,) (``max_df``: the degrees of freedom at
        ``argmax``), ``df_max`` (q_c,) each marker's most degrees of freedom over the phenotypes,
        ``lod`` (q_c, m) when `keep_lod`, ``perm_max`` (n_perm, m), and the peaks
        ``peak_phenotype``, ``peak_index``, ``peak_lod``, ``peak_df``, ``peak_ci_lo``,
        ``peak_ci_hi``; with interactive covariates also ``peak_lod_additive`` and
        ``peak_df_additive`` (the additive scan's LOD and df at each peak's marker).
    """
    model = ChromosomeModel(n_perm=int(n_perm)) if model is None else model
    markers = store.markers[store.markers["chr"] == str(chromosome)]
    if progress is not None:  # progress lines (lmm.pipeline.progress)
        width = store.n_alleles_of(chromosome)
        step = max(width, (int(tile_columns) // width) * width)
        progress.begin(chromosome, len(phenotypes), len(markers), -(-len(markers) * width // step))
    units = _chunk_units(eigen, store, data, partition, phenotypes, reml=reml, tol=tol, seed=seed, model=model)
    if progress is not None:
        progress.null_fits_done()
    lod_t, df_t, perm_max, additive = _scan_tiles(units, store, chromosome, len(phenotypes), len(markers),
                                                  tile_columns, model.n_perm, progress)
    if progress is not None:
        progress.end()
    out = {"phenotypes": np.asarray(list(phenotypes), dtype=str), **_null_arrays(units, len(phenotypes)),
           **_maxima_and_peaks(lod_t, markers["pos"].to_numpy(dtype=float), threshold,
                               peak_options(peakdrop, interval, drop, prob)),
           "perm_max": perm_max}
    # the degrees of freedom the tables need, not the (q_c, m) array (scan_tables would read it all)
    j, k = out["peak_phenotype"], out["peak_index"]
    m, q = df_t.shape
    out |= {"df_max": df_t.max(axis=0, initial=0), "peak_df": df_t[j, k],
            "max_df": df_t[np.arange(m), out["argmax"]] if q else np.zeros(m, dtype=df_t.dtype)}
    if additive is not None:
        out["peak_lod_additive"] = additive[0][j, k]
        out["peak_df_additive"] = additive[1][j, k].astype(np.int64)
    if keep_lod:
        out["lod"] = lod_t.T
    if lod_min is not None:
        out |= sparse_lod(lod_t, lod_min)
    return out


def _group_covariates(C: np.ndarray, rows: np.ndarray, columns: Sequence[int], model: ChromosomeModel) -> np.ndarray:
    """A null group's covariates: the batch's, and on an X chromosome the X covariates they do not span."""
    X = C[np.ix_(rows, columns)]
    return X if model.x_covariates is None else added_covariates(X, model.x_covariates[rows])


def _chunk_units(eigen: Mapping, store, data: Mapping, partition: Partition, phenotypes: Sequence[str], *,
                 reml: bool, tol: float, seed: int, model: ChromosomeModel) -> dict:
    """The chunk's decompositions (units), each with its null-fit groups: one per set of covariates,
    all its batches together (:func:`lmm.scan.engine.fit_null_group`), with their permutations.

    Returns ``{unit: {"dec", "srows", "Z", "groups": [(js, NullGroup, [PermutedPattern])]}}``, ``js``
    the group's phenotypes as positions in `phenotypes`, ``Z`` the interactive covariates of the
    unit's individuals (or None).
    """
    clean_ids = [str(i) for i in data["ids"].tolist()]
    ppos = {str(p): j for j, p in enumerate(data["phenotype_names"].tolist())}
    cpos = {str(c): j for j, c in enumerate(data["covariate_names"].tolist())}
    absent = [c for c in model.interactive if c not in cpos]
    if absent:
        raise InputError(f"interactive covariates {absent} are not among the cleaned covariates {sorted(cpos)}")
    store_pos = {i: k for k, i in enumerate(store.ids.tolist())}
    scan_pos = {i: k for k, i in enumerate(i for i in clean_ids if i in store_pos)}  # the seed's individuals
    clean_pos = {i: k for k, i in enumerate(clean_ids)}
    batch_of = {a.phenotype: a.batch for a in partition.phenotypes}
    complete = partition.complete_batch()
    members: dict[tuple, list[int]] = {}
    for j, p in enumerate(phenotypes):
        record = partition.batch(batch_of[p])
        unit = record.name if record.strategy == "decompose" else complete.name
        members.setdefault((unit, tuple(record.covariates_used)), []).append(j)
    Y = np.asarray(data["phenotypes"], dtype=float)
    C = np.asarray(data["covariates"], dtype=float)
    units: dict[str, dict] = {}
    for (unit, covariates), js in members.items():
        if unit not in units:
            ids = [str(i) for i in eigen[f"ids__{unit}"].tolist()]
            rows = np.array([clean_pos[i] for i in ids], dtype=np.intp)
            units[unit] = {"dec": lmm.EigenDecomposition(eigen[f"kva__{unit}"], eigen[f"kve_t__{unit}"]),
                           "rows": rows, "srows": np.array([store_pos[i] for i in ids], dtype=np.intp),
                           "pos": np.array([scan_pos[i] for i in ids], dtype=np.intp), "groups": [],
                           "Z": C[np.ix_(rows, [cpos[c] for c in model.interactive])] if model.interactive else None}
        u = units[unit]
        y = Y[np.ix_(u["rows"], [ppos[phenotypes[j]] for j in js])]
        group = fit_null_group(u["dec"], y, _group_covariates(C, u["rows"], [cpos[c] for c in covariates], model),
                               reml=reml, tol=tol)
        strata = None if model.strata is None else model.strata[u["rows"]]
        patterns = (permutation_patterns(group, seed, model.n_perm, u["pos"], len(scan_pos), strata, model.region)
                    if model.n_perm else [])
        u["groups"].append((np.asarray(js, dtype=np.intp), group, patterns))
    return units


def _scan_tiles(units: Mapping, store, chromosome: str, m: int, q: int, tile_columns: int, n_perm: int,
                progress=None):
    """LODs (m, q), degrees of freedom (m, q) and permutation maxima (n_perm, m) of a chromosome,
    a tile of genotype columns at a time from the memory-mapped store (one rotation per unit and tile),
    and with interactive covariates the additive scan's (LODs, df), else None; `progress` (a
    ScanProgress or None) is told each tile's markers and replicates as they are done."""
    width = store.n_alleles_of(chromosome)
    d = width - 1 if width > 1 else 1
    cols = store.columns(chromosome)
    lod_t = np.zeros((m, q))               # phenotype-major: a phenotype's markers are contiguous
    df_t = np.zeros((m, q), dtype=np.int16)
    interactive = any(u["Z"] is not None for u in units.values())
    additive = (np.zeros((m, q)), np.zeros((m, q), dtype=np.int16)) if interactive else None
    perm_max = np.full((int(n_perm), m), -np.inf)
    step = max(width, (int(tile_columns) // width) * width)
    n_groups = sum(len(u["groups"]) for u in units.values())
    for t, c0 in enumerate(range(cols.start, cols.stop, step), 1):
        c1 = min(cols.stop, c0 + step)
        k0, k1 = (c0 - cols.start) // width, (c1 - cols.start) // width
        tile = store.genotypes[c0:c1].T
        g = 0
        for u in units.values():
            G = marker_design(tile[u["srows"]], width)
            G_rot = u["dec"].kve_t @ G
            Z = u["Z"]
            G_full = G_rot if Z is None else u["dec"].kve_t @ interaction_design(G, d, Z)
            d_full = d if Z is None else d * (1 + Z.shape[1])
            for js, group, patterns in u["groups"]:
                tick = None if progress is None else progress.markers_callback(t, k0, k1 - k0, g, n_groups)
                ticks = None if progress is None else progress.replicates_callback(t, n_perm)
                g += 1
                lod, df = scan_tile(group, G_full, d_full, progress=tick)
                lod_t[js, k0:k1] = lod.T
                df_t[js, k0:k1] = df.T
                if Z is not None:
                    lod_a, df_a = scan_tile(group, G_rot, d)
                    additive[0][js, k0:k1], additive[1][js, k0:k1] = lod_a.T, df_a.T
                for pattern in patterns:
                    update_permutation_maxima(perm_max, js[pattern.cols], group, pattern, G, d, interactive=Z,
                                              progress=ticks)
    return lod_t, df_t, perm_max, additive


def _null_arrays(units: Mapping, m: int) -> dict:
    """``hsq``, ``n``, ``null_status`` (m,) of the chunk's null fits."""
    hsq, nobs, status = np.full(m, np.nan), np.zeros(m, dtype=np.int64), np.full(m, "", dtype=object)
    for u in units.values():
        for js, group, _ in u["groups"]:
            hsq[js], nobs[js], status[js] = group.hsq, group.n_obs, group.status
    return {"hsq": hsq, "n": nobs, "null_status": np.asarray(status.astype(str), dtype=str)}


def peak_options(peakdrop: float | None = None, interval: str = "drop", drop: float = 1.5,
                 prob: float = 0.95) -> dict:
    """:func:`lmm.peaks.find_peaks`'s ``peakdrop``, ``drop``, ``prob`` from the workflow's settings
    (``peakdrop`` ``None``: infinite; ``interval`` ``drop`` or ``bayes``)."""
    if interval not in ("drop", "bayes"):
        raise InputError(f"interval must be 'drop' or 'bayes', not {interval!r}")
    return {"peakdrop": np.inf if peakdrop is None else float(peakdrop),
            "drop": float(drop) if interval == "drop" else None,
            "prob": float(prob) if interval == "bayes" else None}


def _maxima_and_peaks(lod_t: np.ndarray, pos: np.ndarray, threshold: float, options: Mapping) -> dict:
    """``max_lod``, ``argmax`` (m,) and the peaks of phenotype-major LODs (m, q) (NaN: not scanned;
    `options`: :func:`peak_options`)."""
    m, q = lod_t.shape
    nan = np.isnan(lod_t)
    scored = ~nan.all(axis=1) if q else np.zeros(m, dtype=bool)
    gaps = nan.any()
    filled_t = np.where(nan, -np.inf, lod_t) if gaps else lod_t
    max_lod = np.where(scored, filled_t.max(axis=1), np.nan) if q else np.full(m, np.nan)
    argmax = filled_t.argmax(axis=1) if q else np.zeros(m, dtype=np.int64)
    peaks = find_peaks(np.where(nan, 0.0, lod_t).T if gaps else lod_t.T, None, pos, threshold=threshold, **options)
    return {"max_lod": max_lod, "argmax": argmax,
            "peak_phenotype": peaks.lodindex.astype(np.int64), "peak_index": peaks.index.astype(np.int64),
            "peak_lod": peaks.lod, "peak_ci_lo": peaks.ci_lo, "peak_ci_hi": peaks.ci_hi}


# --------------------------------------------------------------------------- tables


def scan_tables(store, chromosomes: Sequence[str], chunk_results: Sequence[Sequence[Mapping]],
                phenotypes: Sequence[str], *, alpha: float = PERMUTATION_ALPHA,
                x_chromosomes: Sequence[str] = ("X",)) -> dict:
    """The scan's result tables from every (chromosome, chunk) job.

    Parameters
    ----------
    store : GenotypeStore
        For the markers (names, chromosomes, positions).
    chromosomes : sequence of str
        Genome order.
    chunk_results : sequence (per chromosome) of sequences (per chunk) of mappings
        :func:`scan_chunk`'s arrays.
    phenotypes : sequence of str
        The scanned phenotypes in input order (the chunks' concatenation).
    alpha : float
        Level of the permutation thresholds.
    x_chromosomes : sequence of str
        With separate X permutations (their replicate count differs from the autosomes'), the
        thresholds are per region (``A``, ``X``) at the levels of :func:`lmm.scan.xsp_alpha`, and
        a peak's ``threshold`` is its region's.

    Returns
    -------
    dict of pandas.DataFrame
        ``peaks``, ``max``, ``hsq``, ``markers``, ``thresholds`` (empty without permutations).
    """
    order = {p: j for j, p in enumerate(phenotypes)}
    peaks, maxima, hsqs = [], [], []
    perm_parts: dict[tuple, list[np.ndarray]] = {}
    xs = _canonical(x_chromosomes)
    marker_rows = []
    for chrom, results in zip(chromosomes, chunk_results):
        mk = store.markers[store.markers["chr"] == str(chrom)].reset_index(drop=True)
        mk_name = mk["marker"].to_numpy(dtype=object)      # arrays: a pandas lookup per row costs ~50 µs
        mk_pos = mk["pos"].to_numpy(dtype=float)
        df_chr = None
        for res in results:
            names = [str(p) for p in res["phenotypes"].tolist()]
            df_chr = res["df_max"] if df_chr is None else np.maximum(df_chr, res["df_max"])
            for j, p in enumerate(names):
                k = int(res["argmax"][j])
                maxima.append({"phenotype": p, "chr": chrom, "lod": float(res["max_lod"][j]),
                               "marker": mk_name[k], "pos": float(mk_pos[k]),
                               "df": int(res["max_df"][j]), "n": int(res["n"][j])})
                hsqs.append({"phenotype": p, "chr": chrom, "hsq": float(res["hsq"][j]), "n": int(res["n"][j]),
                             "status": str(res["null_status"][j])})
                perm_parts.setdefault((p, "X" if chrom in xs else "A"), []).append(res["perm_max"][:, j])
            for t in range(res["peak_lod"].size):
                j, k = int(res["peak_phenotype"][t]), int(res["peak_index"][t])
                row = {"phenotype": names[j], "chr": chrom, "marker": mk_name[k],
                       "pos": float(mk_pos[k]), "lod": float(res["peak_lod"][t]),
                       "df": int(res["peak_df"][t]), "ci_lo": float(res["peak_ci_lo"][t]),
                       "ci_hi": float(res["peak_ci_hi"][t]), "hsq": float(res["hsq"][j]), "n": int(res["n"][j])}
                if "peak_lod_additive" in res:
                    row["lod_interaction"] = row["lod"] - float(res["peak_lod_additive"][t])
                    row["df_interaction"] = row["df"] - int(res["peak_df_additive"][t])
                peaks.append(row)
        marker_rows.append(pd.DataFrame({"marker": mk["marker"], "chr": chrom, "pos": mk["pos"].astype(float),
                                         "df": df_chr if df_chr is not None else 0}))
    thresholds = _permutation_thresholds(perm_parts, alpha, region_lengths(store.markers, x_chromosomes))
    chr_rank = {c: k for k, c in enumerate(chromosomes)}

    def ordered(frame, by_pos=True):
        if frame.empty:
            return frame
        key = frame["phenotype"].map(order).astype(int) * 10_000 + frame["chr"].map(chr_rank).astype(int)
        frame = frame.assign(_k=key)
        frame = frame.sort_values(["_k", "pos"] if by_pos else ["_k"], kind="mergesort")
        return frame.drop(columns="_k").reset_index(drop=True)

    peak_cols = ["phenotype", "chr", "marker", "pos", "lod", "pvalue", "df", "ci_lo", "ci_hi", "hsq", "n", "threshold"]
    interaction = any("peak_lod_additive" in res for results in chunk_results for res in results)
    extra = ["lod_interaction", "df_interaction"] if interaction else []
    peaks = pd.DataFrame.from_records(peaks, columns=[c for c in peak_cols if c not in ("pvalue", "threshold")] + extra)
    peaks.insert(5, "pvalue", lod_to_pvalue(peaks["lod"].to_numpy(float), peaks["df"].to_numpy(int)) if len(peaks) else [])
    peaks["threshold"] = [_region_threshold(thresholds, p, c, xs) for p, c in zip(peaks["phenotype"], peaks["chr"])]
    if interaction:
        peaks = _interaction_columns(peaks)
    maxima = pd.DataFrame.from_records(maxima, columns=["phenotype", "chr", "lod", "marker", "pos", "df", "n"])
    maxima.insert(6, "pvalue", lod_to_pvalue(maxima["lod"].to_numpy(float), maxima["df"].to_numpy(int)) if len(maxima) else [])
    hsq = pd.DataFrame.from_records(hsqs, columns=["phenotype", "chr", "hsq", "n", "status"])
    thr = pd.DataFrame([{"phenotype": p, "region": r, "n_permutations": k, "alpha": alpha, "alpha_region": a,
                         "threshold": v}
                        for (p, r), (k, a, v) in sorted(thresholds.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))],
                       columns=["phenotype", "region", "n_permutations", "alpha", "alpha_region", "threshold"])
    return {"peaks": ordered(peaks), "max": ordered(maxima, by_pos=False), "hsq": ordered(hsq, by_pos=False),
            "markers": pd.concat(marker_rows, ignore_index=True) if marker_rows else pd.DataFrame(),
            "thresholds": thr}


def _permutation_thresholds(perm_parts: Mapping, alpha: float, lengths: Mapping) -> dict:
    """``{(phenotype, region): (n_permutations, alpha_region, threshold)}`` from each chromosome's
    permutation maxima by (phenotype, region ``A``/``X``). When the genome has autosomes and X
    chromosomes of positive length, the X has replicates of its own (:func:`chromosome_model`'s
    rule) and each region's maxima give its threshold at :func:`lmm.scan.xsp_alpha`'s level;
    otherwise every chromosome's maxima are one genome's (region ``all``)."""
    out = {}
    for p in dict.fromkeys(p for p, _ in perm_parts):
        parts = {r: np.max(np.stack(perm_parts[(p, r)]), axis=0) for r in ("A", "X") if (p, r) in perm_parts}
        if not any(v.size for v in parts.values()):
            continue
        if len(parts) == 2 and lengths["A"] > 0 and lengths["X"] > 0:
            thr = permutation_threshold(parts, alpha, lengths=lengths)
            levels = dict(zip(("A", "X"), lmm.scan.xsp_alpha(alpha, lengths["A"], lengths["X"])))
            for r in ("A", "X"):
                out[(p, r)] = (parts[r].size, levels[r], float(thr[r]))
        else:
            allmax = np.max(np.stack(list(parts.values())), axis=0)
            out[(p, "all")] = (allmax.size, alpha, float(permutation_threshold(allmax[:, None], alpha)[0]))
    return out


def _region_threshold(thresholds: Mapping, phenotype: str, chrom: str, xs: set) -> float:
    """The permutation threshold that applies to a peak of `phenotype` on `chrom` (NaN without one)."""
    for key in ((phenotype, "all"), (phenotype, "X" if chrom in xs else "A")):
        if key in thresholds:
            return thresholds[key][2]
    return float("nan")


def _interaction_columns(peaks: pd.DataFrame) -> pd.DataFrame:
    """``lod_interaction`` (full − additive LOD at the peak's marker), its df and ``pvalue_interaction``
    (:func:`lmm.scan.lod_to_pvalue`: the χ² test of the QTL × covariate terms), after ``lod``'s."""
    pval = lod_to_pvalue(np.maximum(peaks["lod_interaction"].to_numpy(float), 0.0),
                         np.maximum(peaks["df_interaction"].to_numpy(int), 1)) if len(peaks) else []
    peaks = peaks.assign(pvalue_interaction=pval)
    if len(peaks):
        peaks.loc[peaks["df_interaction"] <= 0, "pvalue_interaction"] = np.nan
    cols = [c for c in peaks.columns if c not in ("lod_interaction", "df_interaction", "pvalue_interaction")]
    at = cols.index("df") + 1
    return peaks[cols[:at] + ["lod_interaction", "df_interaction", "pvalue_interaction"] + cols[at:]]


def lod_table(markers: pd.DataFrame, chunk_results: Sequence[Sequence[Mapping]], phenotypes: Sequence[str]) -> pd.DataFrame:
    """The LOD of every marker (rows) and phenotype (float64 columns): ``marker, chr, pos, <phenotypes>``."""
    blocks = []
    for results in chunk_results:
        blocks.append(np.hstack([np.asarray(r["lod"], dtype=np.float64) for r in results]) if results
                      else np.empty((0, len(phenotypes))))
    values = np.vstack(blocks) if blocks else np.empty((0, len(phenotypes)))
    frame = pd.DataFrame(values, columns=list(phenotypes))
    return pd.concat([markers[["marker", "chr", "pos"]].reset_index(drop=True), frame], axis=1)

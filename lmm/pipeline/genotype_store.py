"""The genotype intermediate: genotypes aligned to the analysis' individuals, imputed and filtered,
in one memory-mappable matrix, written once by the load stage.

Format (a directory, e.g. ``results/genotypes/``)
-------------------------------------------------
``genotypes.npy``
    ``(n_columns, n)`` C-order, float64 (default) or float32 (``dtype``): **marker-major**, one
    row per marker (dosages) or per marker and column (probabilities, the columns of a marker in
    adjacent rows, in :meth:`GenotypeStore.alleles_of` order: :attr:`GenotypeStore.alleles` on
    the autosomes, an X chromosome's own set on X), the markers in genome order. A
    chromosome is thus a contiguous block of rows; its ``(n, k)`` genotype matrix is the
    transposed view (Fortran order), which BLAS multiplies without a copy. No missing values.
``ids.txt``
    The ``n`` individuals, one per line, in the order of the analysis ids given to
    :func:`write_intermediate` (those that are genotyped).
``markers.tsv``
    The kept markers in genome order: ``marker, chr, pos, allele, other_allele, n_columns,
    first_column, missing_fraction, file`` (``first_column``: their first row in
    ``genotypes.npy``; ``missing_fraction``: among the ``n`` individuals, before imputation).
``dropped_markers.tsv``
    ``marker, chr, pos, reason, missing_fraction``, reason ``missing`` (missing in more than
    ``max_marker_missing`` of the kept individuals) or ``monomorphic`` (no variation among them:
    for probabilities, every allele column constant).
``dropped_ids.tsv``
    ``id, reason``: ``not_genotyped`` (in the analysis, no genotypes: dropped from the analysis)
    and ``not_in_analysis`` (genotyped, not used).
``genotypes.yaml``
    Format version (2: per-chromosome column sets), ``kind`` (``dosages`` / ``probabilities``),
    ``alleles`` (the autosomes' columns), ``x_chromosomes`` (config ``x_chromosomes``),
    ``x_columns`` (each X chromosome's columns, probabilities only), ``dtype``, shape, and the
    summary returned by :func:`write_intermediate` (counts for the log, the provenance
    and the report).

Missing genotypes are replaced by the marker's mean over the kept individuals that have it (for
probabilities: an individual missing any allele of a marker is missing that marker, and each
allele column gets its mean; the means still sum to 1), as GEMMA and FaST-LMM do. Markers missing
in more than ``max_marker_missing`` of the kept individuals are dropped first, then monomorphic
ones.

The directory is written under a temporary name beside ``out_dir`` and renamed into place when
complete: a failure leaves nothing at ``out_dir`` (or the previous complete one). The data are
streamed in chunks of markers (two passes: statistics, then imputed values written at their
rows of the ``.npy`` file), so a PLINK file is never in memory whole; tables and BIMBAM files
are held once (as parsed).

Every value written is a function of the marker's values for the kept individuals in the order of
the analysis ids only (means are pairwise sums of one contiguous row), so PLINK, BIMBAM and tables
of the same dosages, the individuals or markers in any order, in one file or several, give a
byte-identical intermediate.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import yaml

from lmm.alleles import genoprob_to_alleleprob, genotype_pair_alleles
from lmm.errors import InputError
from lmm.pipeline.atomic import write_text, write_tsv, write_yaml
from lmm.pipeline.clean import id_format_mismatches
from lmm.pipeline.genotypes import GenotypeSource, IdMatch, chromosome_sort_key, match_ids, plink_paths
from lmm.pipeline.io import describe_ids

__all__ = ["FORMAT_VERSION", "GenotypeStore", "open_intermediate", "write_intermediate"]

FORMAT_VERSION = 2

#: Bytes of float64 values per chunk of markers read and processed at once.
_CHUNK_BYTES = 16 << 20


def _chunk_markers(n: int, width: int, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // (8 * max(1, n) * width))


def write_intermediate(
    source: GenotypeSource,
    keep_ids: Sequence[str] | None,
    out_dir: str | os.PathLike,
    *,
    max_marker_missing: float = 0.05,
    dtype: str = "float64",
    chunk_bytes: int = _CHUNK_BYTES,
    analysis_label: str = "the analysis",
) -> dict:
    """Write `source`, aligned to `keep_ids`, imputed and filtered, as the intermediate `out_dir`.

    Parameters
    ----------
    source : GenotypeSource
        From :func:`lmm.pipeline.genotypes.read_genotypes`.
    keep_ids : sequence of str or None
        The analysis' individuals, in the order wanted (e.g. the phenotype/kinship ids after
        cleaning). Those without genotypes are left out (listed); ``None`` keeps every genotyped
        individual in file order.
    out_dir : str
        The directory to write (replaced if it exists).
    max_marker_missing : float
        Markers missing in more than this fraction of the kept individuals are dropped.
    dtype : {"float64", "float32"}
        Storage type of ``genotypes.npy``. float32 halves the size (dosages are exact in it);
        keep float64 for probabilities to reproduce R/qtl2 to 1e-6.
    chunk_bytes : int
        Size of the chunks of markers processed at once (float64 bytes).
    analysis_label : str
        Where `keep_ids` come from, for the messages (e.g. ``"the phenotype file 'p.csv'"``).

    Returns
    -------
    dict
        The summary (also in ``genotypes.yaml``): ``format, kind, files, dosage_allele, alleles,
        dtype, max_marker_missing, n_genotyped, n_analysis, n, n_not_genotyped,
        n_not_in_analysis, n_markers_read, n_markers, n_columns, markers_dropped`` ({reason:
        count}), ``n_imputed`` (values imputed), ``markers_per_chromosome``, the id lists
        ``ids_not_genotyped``, ``ids_not_in_analysis``, ``id_format_notes`` (ids of the two sides
        that differ only by leading zeros, case or blanks:
        :func:`lmm.pipeline.clean.id_format_mismatches`) and ``notes`` (the source's notes).

    Raises
    ------
    InputError
        No analysis individual is genotyped (with the id format notes, if any); no marker is left
        after filtering; bad arguments.
    """
    _check_arguments(dtype, max_marker_missing)
    match, id_notes = _match_analysis(source, keep_ids, analysis_label)
    n = len(match.kept)
    widths = source.marker_widths()
    width = int(widths.max(initial=1))
    blocks = _BlockReader(source, match.kept, _chunk_markers(len(source.ids), width, chunk_bytes), widths)
    stats = _marker_statistics(blocks, len(source.markers), width, n)
    kept = _filter_markers(stats, source, n, max_marker_missing, widths)
    table, dropped_markers = _marker_tables(source.markers, stats, kept, widths)
    summary = _summary(source, keep_ids, match, stats, kept, table, dtype, max_marker_missing, id_notes)
    meta = {"format_version": FORMAT_VERSION, "kind": source.kind, "alleles": list(source.alleles),
            "x_chromosomes": list(source.x_chromosomes),
            "x_columns": {c: list(v) for c, v in source.x_columns.items()},
            "dtype": dtype, "n": n, "n_columns": summary["n_columns"], "summary": summary}

    def fill(tmp: str) -> None:
        _write_genotype_rows(os.path.join(tmp, "genotypes.npy"), blocks, stats, kept, dtype)
        write_text(os.path.join(tmp, "ids.txt"), "".join(f"{i}\n" for i in match.kept))
        write_tsv(os.path.join(tmp, "markers.tsv"), table)
        write_tsv(os.path.join(tmp, "dropped_markers.tsv"), dropped_markers)
        write_tsv(os.path.join(tmp, "dropped_ids.tsv"), _dropped_ids(match))
        write_yaml(os.path.join(tmp, "genotypes.yaml"), meta)

    _write_directory(out_dir, fill)
    return summary


def _check_arguments(dtype: str, max_marker_missing: float) -> None:
    if dtype not in ("float64", "float32"):
        raise InputError(f"genotype_dtype must be float64 or float32, not {dtype!r}.")
    if not 0 <= float(max_marker_missing) <= 1:
        raise InputError(f"max_marker_missing must be between 0 and 1, not {max_marker_missing!r}.")


def _genotype_id_file(source: GenotypeSource) -> str:
    """Where the genotyped ids come from, in words (the .fam of PLINK files)."""
    if source.format == "plink":
        fams = [plink_paths(f)["fam"] for f in source.files]
        return f"the PLINK .fam file {describe_ids(fams)}"
    return f"the genotype file {describe_ids(list(source.files))}"


#: What an id note adds: why it matters and what to do.
_ID_NOTE_ADVICE = ("ids are compared as text, so these are different individuals to the pipeline; write the ids "
                   "the same way in both files")


def _match_analysis(source: GenotypeSource, keep_ids: Sequence[str] | None,
                    analysis_label: str) -> tuple[IdMatch, list[str]]:
    """The analysis ids matched to the genotyped ids, and notes on ids that differ only in form.

    Raises :class:`InputError` when no analysis id is genotyped, with those notes.
    """
    match = match_ids(source.ids, keep_ids)
    notes = []
    if match.not_genotyped and match.not_in_analysis:
        files = {analysis_label: match.not_genotyped, _genotype_id_file(source): match.not_in_analysis}
        notes = [f"{note}: {_ID_NOTE_ADVICE}"
                 for note in id_format_mismatches(files)]
    if not match.kept:
        hint = " " + " ".join(f"The {note}." for note in notes) if notes else " Check that the files use the same ids."
        raise InputError(
            f"None of the {len(keep_ids)} individuals of {analysis_label} is genotyped in "
            f"{describe_ids(list(source.files))}: analysis ids {describe_ids(list(keep_ids))}; genotyped ids "
            f"{describe_ids(source.ids.tolist())}.{hint}"
        )
    return match, notes


class _BlockReader:
    """The source's values for the kept individuals, chunk by chunk, in the parts' marker order.

    Iterating yields ``(index, values, missing)``: the genome indices of the chunk's markers,
    their values ``(m, width, n)`` C-order (``width`` the widest marker's columns; a narrower
    marker's are first, the rest 0: :meth:`valid`), and which are missing ``(m, n)``.
    """

    def __init__(self, source: GenotypeSource, kept: Sequence[str], step: int, widths: np.ndarray):
        self.source, self.step, self.n = source, step, len(kept)
        self.widths, self.width = widths, int(widths.max(initial=1))
        # rows of each part's individuals, in the order of the kept ids
        self.rows = []
        for part in source.parts:
            position = {i: k for k, i in enumerate(part.ids.tolist())}
            self.rows.append(np.array([position[i] for i in kept], dtype=np.intp))
        # where each part's markers are in the genome-ordered table
        markers = source.markers
        self.where = [np.empty(len(p.markers), dtype=np.intp) for p in source.parts]
        for k, (p, i) in enumerate(zip(markers["part"].to_numpy(), markers["part_index"].to_numpy())):
            self.where[p][i] = k
        # each part's first column of each of its markers (file order), and the end
        self.bounds = [np.r_[0, np.cumsum(widths[w])] for w in self.where]

    def valid(self, index: np.ndarray) -> np.ndarray:
        """Which of the ``width`` columns of the markers `index` are theirs: (m, width) bool."""
        return np.arange(self.width) < self.widths[index][:, None]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for p, part in enumerate(self.source.parts):
            bounds = self.bounds[p]
            for start, block in part.chunks(self.step, self.rows[p]):
                m = int(np.searchsorted(bounds, bounds[start] + block.shape[0])) - start
                index = self.where[p][start:start + m]
                block = np.asarray(block, dtype=np.float64)
                if block.shape[0] == m * self.width:
                    values = np.ascontiguousarray(block).reshape(m, self.width, self.n)
                else:  # markers of fewer columns: pad them with zeros
                    values = np.zeros((m, self.width, self.n))
                    values[self.valid(index)] = block
                missing = np.isnan(values).any(axis=1)
                yield index, values, missing


@dataclass
class _MarkerStatistics:
    """Pass 1 over the markers: missing counts, means (of the present values) and variation."""

    n_missing: np.ndarray  # (q,) int
    means: np.ndarray  # (q, width)
    varies: np.ndarray  # (q,) bool


@dataclass
class _KeptMarkers:
    """The filter: markers too often missing, monomorphic, kept; and the rows of the kept ones."""

    fraction: np.ndarray  # missing fraction, (q,)
    too_missing: np.ndarray
    monomorphic: np.ndarray
    keep: np.ndarray
    index: np.ndarray  # genome indices of the kept markers
    first_row: np.ndarray  # (q,) first row in genotypes.npy, -1 when dropped
    n_columns: int


def _marker_statistics(blocks: _BlockReader, q: int, width: int, n: int) -> _MarkerStatistics:
    stats = _MarkerStatistics(np.zeros(q, dtype=np.int64), np.zeros((q, width)), np.zeros(q, dtype=bool))
    for index, values, missing in blocks:
        count = missing.sum(axis=1)
        stats.n_missing[index] = count
        if count.any():
            present = ~missing[:, None, :]
            filled = np.where(present, values, 0.0)
            low = np.where(present, values, np.inf).min(axis=2)
            high = np.where(present, values, -np.inf).max(axis=2)
        else:
            filled, low, high = values, values.min(axis=2), values.max(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats.means[index] = filled.sum(axis=2) / (n - count)[:, None]
        stats.varies[index] = (high > low).any(axis=1)
    return stats


def _filter_markers(stats: _MarkerStatistics, source: GenotypeSource, n: int,
                    max_marker_missing: float, widths: np.ndarray) -> _KeptMarkers:
    """Drop markers missing in more than `max_marker_missing` of the `n` individuals, then monomorphic ones."""
    q = len(stats.n_missing)
    fraction = stats.n_missing / n
    too_missing = (fraction > max_marker_missing) | (stats.n_missing == n)
    monomorphic = ~too_missing & ~stats.varies
    keep = ~too_missing & ~monomorphic
    if not keep.any():
        raise InputError(
            f"No marker of {describe_ids(source.files)} is left after filtering the {q} markers on the "
            f"{n} individuals of the analysis: {int(too_missing.sum())} missing in more than "
            f"{max_marker_missing:g} of them (config 'max_marker_missing'), {int(monomorphic.sum())} monomorphic."
        )
    index = np.flatnonzero(keep)
    first_row = np.full(q, -1, dtype=np.int64)
    first_row[index] = np.r_[0, np.cumsum(widths[index])[:-1]]
    return _KeptMarkers(fraction, too_missing, monomorphic, keep, index, first_row, int(widths[index].sum()))


def _marker_tables(markers: pd.DataFrame, stats: _MarkerStatistics, kept: _KeptMarkers,
                   widths: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``markers.tsv`` (the kept markers) and ``dropped_markers.tsv``."""
    kept_markers = markers.iloc[kept.index].reset_index(drop=True)
    table = pd.DataFrame({
        "marker": kept_markers["marker"], "chr": kept_markers["chr"].astype(str), "pos": kept_markers["pos"],
        "allele": kept_markers["allele"], "other_allele": kept_markers["other_allele"],
        "n_columns": widths[kept.index], "first_column": kept.first_row[kept.index], "missing_fraction": kept.fraction[kept.index],
        "file": kept_markers["file"],
    })
    reason = np.where(kept.too_missing, "missing", "monomorphic")
    dropped = np.flatnonzero(~kept.keep)
    dropped_markers = pd.DataFrame({
        "marker": markers["marker"].to_numpy()[dropped], "chr": markers["chr"].to_numpy()[dropped],
        "pos": markers["pos"].to_numpy()[dropped], "reason": reason[dropped],
        "missing_fraction": kept.fraction[dropped],
    })
    return table, dropped_markers


def _dropped_ids(match: IdMatch) -> pd.DataFrame:
    """``dropped_ids.tsv``: the analysis ids not genotyped, the genotyped ids not in the analysis."""
    return pd.DataFrame({
        "id": match.not_genotyped + match.not_in_analysis,
        "reason": ["not_genotyped"] * len(match.not_genotyped) + ["not_in_analysis"] * len(match.not_in_analysis),
    })


def _summary(source: GenotypeSource, keep_ids, match: IdMatch, stats: _MarkerStatistics, kept: _KeptMarkers,
             table: pd.DataFrame, dtype: str, max_marker_missing: float, id_notes: list[str]) -> dict:
    """The counts of :func:`write_intermediate` (its return value and ``genotypes.yaml``'s summary)."""
    per_chromosome = table.groupby("chr", sort=False).size()
    return {
        "format": source.format,
        "kind": source.kind,
        "files": list(source.files),
        "dosage_allele": source.dosage_allele,
        "alleles": list(source.alleles),
        "x_chromosomes": list(source.x_chromosomes),
        "x_columns": {c: list(v) for c, v in source.x_columns.items()},
        "map_position": source.map_position,
        "dtype": dtype,
        "max_marker_missing": float(max_marker_missing),
        "n_genotyped": int(len(source.ids)),
        "n_analysis": int(len(keep_ids)) if keep_ids is not None else int(len(source.ids)),
        "n": len(match.kept),
        "n_not_genotyped": len(match.not_genotyped),
        "n_not_in_analysis": len(match.not_in_analysis),
        "n_markers_read": int(len(source.markers)),
        "n_markers": int(len(kept.index)),
        "n_columns": int(kept.n_columns),
        "markers_dropped": {"missing": int(kept.too_missing.sum()), "monomorphic": int(kept.monomorphic.sum())},
        "n_imputed": int(stats.n_missing[kept.index].sum()),
        "markers_per_chromosome": {str(c): int(v) for c, v in per_chromosome.items()},
        "ids_not_genotyped": list(match.not_genotyped),
        "ids_not_in_analysis": list(match.not_in_analysis),
        "id_format_notes": list(id_notes),
        "notes": list(source.notes),
    }


def _write_genotype_rows(npy: str, blocks: _BlockReader, stats: _MarkerStatistics, kept: _KeptMarkers,
                         dtype: str) -> None:
    """Pass 2: ``genotypes.npy``, the imputed values of the kept markers written at their rows.

    The header, the file at its full size, then runs of consecutive rows written with ``pwrite``
    (the pages of a written memory map would count as resident memory until the end).
    """
    n, width = blocks.n, blocks.width
    offsets = np.arange(width)
    row_bytes = n * np.dtype(dtype).itemsize
    with open(npy, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (kept.n_columns, n)})
        offset = handle.tell()
        handle.truncate(offset + kept.n_columns * row_bytes)
    fd = os.open(npy, os.O_WRONLY)
    try:
        for index, values, missing in blocks:
            sel = kept.keep[index]
            if not sel.any():
                continue
            values, missing, index = values[sel], missing[sel], index[sel]
            if missing.any():
                values = np.where(missing[:, None, :], stats.means[index][:, :, None], values)
            valid = blocks.valid(index)
            block = np.ascontiguousarray(values[valid], dtype=dtype)  # (columns of the markers, n)
            target = (kept.first_row[index][:, None] + offsets)[valid]
            breaks = np.flatnonzero(np.diff(target) != 1) + 1
            for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(target)]):
                _pwrite_all(fd, memoryview(block[lo:hi]).cast("B"), offset + int(target[lo]) * row_bytes)
        os.fsync(fd)
    finally:
        os.close(fd)


def _pwrite_all(fd: int, data: memoryview, position: int) -> None:
    while data:
        written = os.pwrite(fd, data, position)
        data, position = data[written:], position + written


def _write_directory(out_dir: str | os.PathLike, fill: Callable[[str], None]) -> None:
    """Make a temporary directory beside `out_dir`, `fill` it, and move it into place (or remove it)."""
    out_dir = os.fspath(out_dir)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", suffix=".tmp", dir=parent)
    try:
        fill(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes a 0700 directory
        _replace_directory(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _replace_directory(tmp: str, out_dir: str) -> None:
    """Move the complete directory `tmp` to `out_dir`, replacing what is there."""
    if os.path.lexists(out_dir):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", suffix=".old",
                               dir=os.path.dirname(os.path.abspath(out_dir)))
        os.rmdir(old)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(old)
    else:
        os.replace(tmp, out_dir)


@dataclass(frozen=True)
class GenotypeStore:
    """An intermediate written by :func:`write_intermediate`, opened read-only.

    Attributes
    ----------
    ids : numpy.ndarray of str, shape (n,)
    markers : pandas.DataFrame
        ``markers.tsv`` (kept markers in genome order; ``chr`` as str; ``n_columns`` and
        ``first_column`` each marker's rows of :attr:`genotypes`).
    kind : str
        ``"dosages"`` or ``"probabilities"`` (default kinship: ``standardized`` for dosages,
        ``shared_alleles`` for probabilities).
    alleles : tuple of str
        The column names of the autosomes' markers (alleles, or genotypes such as ``SS, SB,
        BB``); those of a chromosome: :meth:`alleles_of`.
    genotypes : numpy.memmap, shape (n_columns, n)
        The marker-major matrix (read-only).
    summary : dict
        As returned by :func:`write_intermediate`.
    x_chromosomes : tuple of str
        The chromosomes treated as X (config ``x_chromosomes``), whether they have markers or not.
    x_columns : dict of str to tuple of str
        The column names of each X chromosome with markers (probabilities only).
    """

    path: str
    ids: np.ndarray
    markers: pd.DataFrame
    kind: str
    alleles: tuple[str, ...]
    genotypes: np.ndarray
    summary: dict
    x_chromosomes: tuple[str, ...] = ()
    x_columns: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.genotypes.shape[1]

    @property
    def n_alleles(self) -> int:
        """Columns per marker of the autosomes: alleles for probabilities, 1 for dosages.
        On an X chromosome it may differ: use :meth:`n_alleles_of`."""
        return len(self.alleles) if self.kind == "probabilities" else 1

    def is_x(self, chromosome: str) -> bool:
        """Whether `chromosome` is treated as an X chromosome (config ``x_chromosomes``)."""
        return str(chromosome) in self.x_chromosomes

    def alleles_of(self, chromosome: str) -> tuple[str, ...]:
        """The column names of each marker of `chromosome` (``()`` for dosages)."""
        return tuple(self.x_columns.get(str(chromosome), self.alleles))

    def n_alleles_of(self, chromosome: str) -> int:
        """Columns per marker of `chromosome`: 1 for dosages."""
        return len(self.alleles_of(chromosome)) if self.kind == "probabilities" else 1

    @property
    def allele_names(self) -> tuple[str, ...]:
        """The alleles of the allele probabilities: those of the genotype pairs of :attr:`alleles`
        (``S, B`` for ``SS, SB, BB``: :func:`lmm.alleles.genotype_pair_alleles`), else
        :attr:`alleles` (the columns are allele probabilities); ``()`` for dosages."""
        if self.kind != "probabilities":
            return ()
        return genotype_pair_alleles(self.alleles) or tuple(self.alleles)

    def genotype_columns(self, chromosome: str) -> bool:
        """Whether `chromosome`'s columns are genotype probabilities (an F2's ``SS, SB, BB``; its
        X's ``SS, SB, BS, BB, SY, BY``) rather than allele probabilities or dosages."""
        columns = self.alleles_of(chromosome)
        return len(columns) > 1 and self.kind == "probabilities" and columns != self.allele_names

    def allele_probabilities(self, block: np.ndarray, chromosome: str) -> np.ndarray:
        """A block ``(n, k)`` of `chromosome`'s columns as allele probabilities ``(n, k / g · a)``
        (:func:`lmm.alleles.genoprob_to_alleleprob`; the block itself when its columns are the
        alleles already)."""
        if not self.genotype_columns(chromosome):
            return block
        return genoprob_to_alleleprob(block, self.alleles_of(chromosome), self.allele_names)

    @property
    def chromosomes(self) -> list[str]:
        """The chromosomes in genome order."""
        return sorted(dict.fromkeys(self.markers["chr"]), key=chromosome_sort_key)

    def columns(self, chromosome: str | None = None) -> slice:
        """The rows of :attr:`genotypes` of one chromosome (all when ``None``): a slice."""
        if chromosome is None:
            return slice(0, self.genotypes.shape[0])
        rows = self.markers.index[self.markers["chr"] == str(chromosome)]
        if len(rows) == 0:
            raise KeyError(f"no marker on chromosome {chromosome!r}; chromosomes: {', '.join(self.chromosomes)}")
        if rows[-1] - rows[0] + 1 != len(rows):
            raise InputError(
                f"The genotype intermediate '{self.path}' has the markers of chromosome {chromosome!r} in "
                "several blocks (chromosome names not made canonical?): rerun the load stage."
            )
        first = int(self.markers["first_column"].iat[rows[0]])
        last = int(self.markers["first_column"].iat[rows[-1]]) + int(self.markers["n_columns"].iat[rows[-1]])
        return slice(first, last)

    def iter_blocks(self, chromosome: str | None = None, max_columns: int | None = None) -> Iterator[np.ndarray]:
        """Yield the genotypes of `chromosome` (all when ``None``) as ``(n, k)`` blocks.

        Each block is a read-only transposed view of the memory map (Fortran order, no copy),
        holds whole markers (``k`` a multiple of their columns per marker, at most `max_columns`
        unless one marker is wider), and the blocks follow the genome order. When the
        chromosomes' columns per marker differ (an X chromosome's own set), a block holds
        markers of one chromosome only.
        """
        uniform = self.markers["n_columns"].nunique() <= 1
        for chrom in ([None] if chromosome is None and uniform else
                      self.chromosomes if chromosome is None else [chromosome]):
            cols = self.columns(chrom)
            width = self.n_alleles if chrom is None else self.n_alleles_of(chrom)
            step = cols.stop - cols.start if max_columns is None else max(width, (max_columns // width) * width)
            for start in range(cols.start, cols.stop, step):
                yield self.genotypes[start:min(cols.stop, start + step)].T


def open_intermediate(path: str | os.PathLike) -> GenotypeStore:
    """Open the intermediate directory `path` written by :func:`write_intermediate` (memory map)."""
    path = os.fspath(path)
    meta_path = os.path.join(path, "genotypes.yaml")
    if not os.path.isfile(meta_path):
        raise InputError(f"'{path}' is not a genotype intermediate (no genotypes.yaml).")
    with open(meta_path, encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"The genotype intermediate '{path}' has format version {meta.get('format_version')}, "
                         f"not {FORMAT_VERSION} (this version records the X chromosomes and their columns): "
                         "rerun the load stage.")
    genotypes = np.load(os.path.join(path, "genotypes.npy"), mmap_mode="r")
    with open(os.path.join(path, "ids.txt"), encoding="utf-8") as handle:
        ids = np.asarray(handle.read().split("\n")[:-1], dtype=object)
    markers = pd.read_csv(os.path.join(path, "markers.tsv"), sep="\t", keep_default_na=False, na_values=["NA"],
                          dtype={"marker": str, "chr": str, "allele": str, "other_allele": str, "file": str})
    if genotypes.shape != (meta["n_columns"], meta["n"]) or len(ids) != meta["n"]:
        raise InputError(f"The genotype intermediate '{path}' is inconsistent (shape {genotypes.shape}): rerun the load stage.")
    return GenotypeStore(path=path, ids=ids, markers=markers, kind=meta["kind"], alleles=tuple(meta["alleles"]),
                         genotypes=genotypes, summary=meta["summary"],
                         x_chromosomes=tuple(str(c) for c in meta["x_chromosomes"]),
                         x_columns={str(c): tuple(v) for c, v in meta["x_columns"].items()})

"""Group phenotypes by their missing-data pattern into batches, and batches into chunks.

All phenotypes of a batch are observed on exactly the same individuals, so one
eigen-decomposition of that set's kinship serves them all. Batches are named ``b001``,
``b002``, ... in the order in which their pattern first appears among the phenotype columns
(input column order), so the same data always gives the same names. A batch with more than
``max_batch_size`` phenotypes is split, in column order, into chunks ``c001``, ``c002``, ...
that share the batch's decomposition and are fitted as separate jobs.

Covariates are checked again on each batch's individuals: a column that has become a linear
combination of the others (for example ``sex`` when only males remain) is dropped for that
batch, and the batch records which. The criterion is the one the fits apply
(:func:`lmm.checks.rank_deficient_columns`, through :func:`lmm.pipeline.clean.dependent_columns`),
so a batch's covariates never fail the rank check of the rotate or fit jobs.

Strategies. A batch is fitted either from its own eigen-decomposition (``decompose``) or, when
it misses only a few individuals, exactly from the decomposition of all individuals with the
Schur-complement correction of :mod:`lmm.missing` (``schur``). With ``missing_strategy='auto'``
each pattern gets the cheaper one by :func:`lmm.pipeline.plan.choose_strategy`'s cost model; a pattern
whose covariates become dependent is always decomposed. The phenotypes of all ``schur`` batches
are fitted together, in chunks ``m001``, ``m002``, ... of ``max_batch_size`` (kind ``masked``),
attached to the batch of the complete pattern, which is created if no phenotype has it.

The result is a :class:`Partition`: the batches (:class:`Batch`), each with its fit jobs
(:class:`Chunk`, whose ``kind`` says how it is fitted), and one :class:`PhenotypeAssignment` per
input column. :meth:`Partition.to_json` writes the workflow's checkpoint file
(``results/partition/partition.json``) and :meth:`Partition.from_json` reads it back.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from lmm.errors import InputError
from lmm.missing import missing_patterns
from lmm.pipeline.clean import dependent_columns
from lmm.pipeline.plan import choose_strategy

__all__ = ["STRATEGIES", "Chunk", "Batch", "PhenotypeAssignment", "Partition", "pattern_digest",
           "partition_phenotypes", "group_by_pattern", "batch_strategy", "split_into_chunks", "chunk_table",
           "phenotype_assignments"]

#: Values of ``missing_strategy``.
STRATEGIES = ("decompose", "schur", "auto")

#: Name prefix of the chunks of each kind.
_CHUNK_PREFIX = {"decompose": "c", "masked": "m"}


@dataclass(frozen=True)
class Chunk:
    """One fit job: some phenotypes of a batch, fitted together.

    Attributes
    ----------
    name : str
        ``c001``, ``c002``, ... (kind ``decompose``) or ``m001``, ... (kind ``masked``).
    kind : {'decompose', 'masked'}
        How it is fitted: ``decompose`` from its batch's own rotation; ``masked`` (phenotypes of
        ``schur`` batches) from the complete batch's decomposition, each column on its observed
        individuals.
    phenotypes : tuple of str
        In input column order.
    """

    name: str
    kind: str
    phenotypes: tuple[str, ...]

    def to_dict(self) -> dict:
        """The chunk as written in ``partition.json`` (its kind is the list it is in)."""
        return {"chunk": self.name, "phenotypes": list(self.phenotypes)}


@dataclass(frozen=True)
class Batch:
    """The phenotypes of one missing-data pattern, and the individuals that have it.

    Attributes
    ----------
    name : str
        ``b001``, ``b002``, ... in order of first appearance of the pattern.
    strategy : {'decompose', 'schur'}
        Fitted from its own decomposition, or from the complete batch's (its phenotypes are then
        in the ``masked`` chunks of :meth:`Partition.complete_batch`).
    n : int
        Individuals observed.
    n_missing : int
        Individuals missing (of the cleaned data's).
    pattern : str
        :func:`pattern_digest` of `missing_ids`.
    missing_ids : tuple of str
        In the cleaned data's order.
    covariates_used, covariates_dropped : tuple of str
        The covariates of its model, and those left out as linearly dependent over its individuals.
    n_phenotypes : int
        Phenotypes of its pattern (0 for a complete batch created only to hold masked chunks).
    chunks : tuple of Chunk
        Its fit jobs: its ``decompose`` chunks, then the ``masked`` chunks it holds (the complete
        batch only). Empty for a ``schur`` batch and for one too small for its covariates.
    """

    name: str
    strategy: str
    n: int
    n_missing: int
    pattern: str
    missing_ids: tuple[str, ...]
    covariates_used: tuple[str, ...]
    covariates_dropped: tuple[str, ...]
    n_phenotypes: int
    chunks: tuple[Chunk, ...] = ()

    @property
    def decomposed_chunks(self) -> tuple[Chunk, ...]:
        """Its chunks of kind ``decompose``: the phenotypes rotated by its own decomposition."""
        return tuple(c for c in self.chunks if c.kind == "decompose")

    @property
    def masked_chunks(self) -> tuple[Chunk, ...]:
        """Its chunks of kind ``masked``: phenotypes of ``schur`` batches (the complete batch only)."""
        return tuple(c for c in self.chunks if c.kind == "masked")

    @property
    def too_few_individuals(self) -> bool:
        """``n <= p + 1`` for its ``p`` covariates: its phenotypes cannot be fitted."""
        return self.n <= len(self.covariates_used) + 1

    def chunk(self, name: str) -> Chunk:
        """Its chunk `name` (``KeyError`` if it has none of that name)."""
        for c in self.chunks:
            if c.name == name:
                return c
        raise KeyError(f"batch {self.name} has no chunk {name!r}")

    def to_dict(self) -> dict:
        """The batch as written in ``partition.json``."""
        return {
            "batch": self.name,
            "strategy": self.strategy,
            "n": self.n,
            "n_missing": self.n_missing,
            "pattern": self.pattern,
            "missing_ids": list(self.missing_ids),
            "covariates_used": list(self.covariates_used),
            "covariates_dropped": list(self.covariates_dropped),
            "n_phenotypes": self.n_phenotypes,
            "chunks": [c.to_dict() for c in self.decomposed_chunks],
            "masked_chunks": [c.to_dict() for c in self.masked_chunks],
        }

    @classmethod
    def from_dict(cls, record: Mapping) -> Batch:
        """The inverse of :meth:`to_dict`."""
        chunks = tuple(Chunk(str(c["chunk"]), kind, tuple(str(p) for p in c["phenotypes"]))
                       for kind, key in (("decompose", "chunks"), ("masked", "masked_chunks"))
                       for c in record.get(key, ()))
        return cls(name=str(record["batch"]), strategy=str(record["strategy"]), n=int(record["n"]),
                   n_missing=int(record["n_missing"]), pattern=str(record["pattern"]),
                   missing_ids=tuple(str(i) for i in record["missing_ids"]),
                   covariates_used=tuple(str(c) for c in record["covariates_used"]),
                   covariates_dropped=tuple(str(c) for c in record["covariates_dropped"]),
                   n_phenotypes=int(record["n_phenotypes"]), chunks=chunks)


@dataclass(frozen=True)
class PhenotypeAssignment:
    """Where one input phenotype column goes: its batch and chunk, or why it is not fitted.

    Attributes
    ----------
    phenotype : str
    status : str
        From :func:`lmm.pipeline.clean.phenotype_status`, or ``too_few_observations`` when its
        batch is too small for its covariates.
    n_observed : int
    batch, chunk, strategy : str or None
        Its batch, the chunk that fits it (a ``masked`` chunk of the complete batch for a
        ``schur`` batch) and the batch's strategy; None when it is not fitted.
    """

    phenotype: str
    status: str
    n_observed: int
    batch: str | None = None
    chunk: str | None = None
    strategy: str | None = None

    @property
    def fitted(self) -> bool:
        """Whether a fit job fits it."""
        return self.batch is not None and self.chunk is not None

    def to_dict(self) -> dict:
        """The row as written in ``partition.json``."""
        return {"phenotype": self.phenotype, "status": self.status, "n_observed": self.n_observed,
                "batch": self.batch, "chunk": self.chunk, "strategy": self.strategy}

    @classmethod
    def from_dict(cls, record: Mapping) -> PhenotypeAssignment:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: record[k] for k in ("phenotype", "status", "n_observed", "batch", "chunk", "strategy")})


@dataclass(frozen=True)
class Partition:
    """The phenotypes in batches by missing-data pattern, the batches in chunks (the fit jobs).

    Attributes
    ----------
    covariates : tuple of str
        All covariates of the cleaned data, in order.
    batches : tuple of Batch
        In order of their names.
    phenotypes : tuple of PhenotypeAssignment
        One per input phenotype column, in input order.
    """

    covariates: tuple[str, ...]
    batches: tuple[Batch, ...]
    phenotypes: tuple[PhenotypeAssignment, ...]

    @cached_property
    def _by_name(self) -> dict:
        return {b.name: b for b in self.batches}

    def batch(self, name: str) -> Batch:
        """The batch `name` (``KeyError`` if there is none)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown batch {name!r}") from None

    def chunk(self, batch: str, name: str) -> Chunk:
        """Chunk `name` of batch `batch`."""
        return self.batch(batch).chunk(name)

    def fit_jobs(self) -> list[tuple[Batch, Chunk]]:
        """Every fit job as (batch, chunk): each batch's chunks in order, batches in order."""
        return [(b, c) for b in self.batches for c in b.chunks]

    def rotated_batches(self) -> list[Batch]:
        """The batches with a fit job, hence a decomposition (the others are not rotated)."""
        return [b for b in self.batches if b.chunks]

    def complete_batch(self) -> Batch | None:
        """The batch of all individuals (none missing), which holds the ``masked`` chunks; None if
        no phenotype is complete and there is no ``schur`` batch."""
        return next((b for b in self.batches if b.n_missing == 0), None)

    def fitted_phenotypes(self) -> list[str]:
        """The phenotypes that a fit job fits, in input order."""
        return [a.phenotype for a in self.phenotypes if a.fitted]

    def to_dict(self) -> dict:
        """Plain lists and dicts, as written in ``partition.json``."""
        return {"covariates": list(self.covariates), "batches": [b.to_dict() for b in self.batches],
                "phenotypes": [a.to_dict() for a in self.phenotypes]}

    @classmethod
    def from_dict(cls, record: Mapping) -> Partition:
        """The inverse of :meth:`to_dict`."""
        return cls(covariates=tuple(str(c) for c in record["covariates"]),
                   batches=tuple(Batch.from_dict(b) for b in record["batches"]),
                   phenotypes=tuple(PhenotypeAssignment.from_dict(a) for a in record["phenotypes"]))

    def to_json(self) -> str:
        """The text of ``partition.json``: the same partition gives the same bytes.

        Each batch lists its ``chunks`` (kind ``decompose``) and its ``masked_chunks`` (kind
        ``masked``) apart; each phenotype row has ``phenotype, status, n_observed, batch, chunk,
        strategy`` (``null`` when not fitted).
        """
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Partition:
        """The partition of a ``partition.json`` text (:meth:`to_json`)."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def read(cls, path: str | os.PathLike) -> Partition:
        """The partition of a ``partition.json`` file."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(handle.read())


def pattern_digest(missing_ids: Sequence[str]) -> str:
    """Short, stable fingerprint of a set of missing ids (first 12 hex digits of a SHA-256).

    Examples
    --------
    >>> pattern_digest([]) == pattern_digest([])
    True
    >>> pattern_digest(["b", "a"]) == pattern_digest(["a", "b"])
    True
    """
    text = "\n".join(sorted(str(i) for i in missing_ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def partition_phenotypes(
    phenotypes: np.ndarray,
    phenotype_names: Sequence[str],
    status: Sequence[str],
    ids: Sequence[str],
    covariates: np.ndarray,
    covariate_names: Sequence[str],
    max_batch_size: int | None = None,
    missing_strategy: str = "decompose",
) -> Partition:
    """Batch the ``ok`` phenotypes by missing-data pattern and split batches into chunks.

    Parameters
    ----------
    phenotypes : numpy.ndarray, shape (n, m)
        NaN where missing.
    phenotype_names : sequence of str, length m
    status : sequence of str, length m
        Status from :func:`lmm.pipeline.clean.phenotype_status`; only ``ok`` columns are batched.
    ids : sequence of str, length n
    covariates : numpy.ndarray, shape (n, p)
    covariate_names : sequence of str, length p
    max_batch_size : int or None, optional
        Most phenotypes per chunk; ``None`` or 0 for no limit.
    missing_strategy : {'decompose', 'schur', 'auto'}, optional
        How batches with missing individuals are fitted (see the module notes).

    Returns
    -------
    Partition
        A ``schur`` batch has no chunks: its phenotypes are in the ``masked`` chunks of the
        complete batch. A batch whose individuals are too few for its covariates
        (``n <= p + 1``) gets no chunks and its phenotypes the status ``too_few_observations``.

    Raises
    ------
    InputError
        An unknown `missing_strategy`.
    """
    if missing_strategy not in STRATEGIES:
        raise InputError(f"Unknown missing_strategy {missing_strategy!r}; expected one of {', '.join(STRATEGIES)}.")
    Y = np.asarray(phenotypes, dtype=np.float64)
    X = np.asarray(covariates, dtype=np.float64)
    ids = [str(i) for i in ids]
    names = [str(c) for c in phenotype_names]
    x_names = [str(c) for c in covariate_names]
    status = [str(s) for s in status]
    limit = int(max_batch_size) if max_batch_size else 0
    observed = ~np.isnan(Y)

    groups = group_by_pattern(observed, status)
    batches = [_pattern_batch(f"b{b:03d}", [names[j] for j in cols], observed[:, cols[0]], ids, X, x_names, limit,
                              missing_strategy) for b, cols in enumerate(groups, start=1)]
    masked = sorted(j for b, cols in zip(batches, groups) if b.strategy == "schur" and not b.too_few_individuals
                    for j in cols)
    if masked:
        batches = _with_masked_chunks(batches, [names[j] for j in masked], len(ids), x_names, limit)
    rows = _assignments(names, status, observed.sum(axis=0), groups, batches)
    return Partition(covariates=tuple(x_names), batches=tuple(batches), phenotypes=tuple(rows))


def group_by_pattern(observed: np.ndarray, status: Sequence[str]) -> list[list[int]]:
    """The ``ok`` columns grouped by missing-data pattern, groups in order of first appearance.

    Parameters
    ----------
    observed : numpy.ndarray of bool, shape (n, m)
    status : sequence of str, length m

    Returns
    -------
    list of list of int
        Column indices of each pattern, in column order (:func:`lmm.missing.missing_patterns`).
    """
    ok = [j for j in range(observed.shape[1]) if status[j] == "ok"]
    return [cols.tolist() for _, cols in missing_patterns(~np.asarray(observed, dtype=bool), ok)]


def batch_strategy(missing_strategy: str, n_all: int, n_missing: int, n_phenotypes: int, n_covariates: int,
                   covariates_dropped: Sequence[str]) -> str:
    """The strategy of one batch: ``decompose`` when nobody is missing, a covariate was dropped, or
    `missing_strategy` is ``decompose``; else ``schur``, or by the cost model when ``auto``."""
    if n_missing == 0 or covariates_dropped or missing_strategy == "decompose":
        return "decompose"
    if missing_strategy == "schur":
        return "schur"
    return choose_strategy(n_all, n_missing, n_phenotypes, n_covariates)


def split_into_chunks(phenotypes: Sequence[str], kind: str, limit: int) -> tuple[Chunk, ...]:
    """`phenotypes` in order, in chunks of at most `limit` (0: one chunk), named by `kind`'s prefix."""
    size = limit or len(phenotypes)
    prefix = _CHUNK_PREFIX[kind]
    return tuple(Chunk(f"{prefix}{c:03d}", kind, tuple(phenotypes[start:start + size]))
                 for c, start in enumerate(range(0, len(phenotypes), size), start=1))


def _pattern_batch(name: str, phenotypes: Sequence[str], mask: np.ndarray, ids: Sequence[str], X: np.ndarray,
                   x_names: Sequence[str], limit: int, missing_strategy: str) -> Batch:
    """The batch of the phenotypes observed on the individuals of `mask`: its covariates, its
    strategy and (when decomposed and large enough) its chunks."""
    missing = tuple(i for i, o in zip(ids, mask) if not o)
    dropped = tuple(c for c, _ in dependent_columns(X[mask], list(x_names)))
    used = tuple(c for c in x_names if c not in dropped)
    strategy = batch_strategy(missing_strategy, len(ids), len(missing), len(phenotypes), len(x_names), dropped)
    batch = Batch(name=name, strategy=strategy, n=int(mask.sum()), n_missing=len(missing),
                  pattern=pattern_digest(missing), missing_ids=missing, covariates_used=used,
                  covariates_dropped=dropped, n_phenotypes=len(phenotypes))
    if strategy == "decompose" and not batch.too_few_individuals:
        batch = replace(batch, chunks=split_into_chunks(phenotypes, "decompose", limit))
    return batch


def _with_masked_chunks(batches: list[Batch], phenotypes: Sequence[str], n_all: int, x_names: Sequence[str],
                        limit: int) -> list[Batch]:
    """`batches` with the ``masked`` chunks of `phenotypes` added to the complete batch (a new last
    batch when no phenotype is complete)."""
    batches = list(batches)
    k = next((k for k, b in enumerate(batches) if b.n_missing == 0), None)
    if k is None:
        batches.append(Batch(name=f"b{len(batches) + 1:03d}", strategy="decompose", n=n_all, n_missing=0,
                             pattern=pattern_digest([]), missing_ids=(), covariates_used=tuple(x_names),
                             covariates_dropped=(), n_phenotypes=0))
        k = len(batches) - 1
    full = batches[k]
    batches[k] = replace(full, chunks=full.chunks + split_into_chunks(phenotypes, "masked", limit))
    return batches


def _assignments(names: Sequence[str], status: Sequence[str], n_observed: np.ndarray,
                 groups: Sequence[Sequence[int]], batches: Sequence[Batch]) -> list[PhenotypeAssignment]:
    """One row per column: its batch, chunk and strategy, or its status when not fitted."""
    rows = [PhenotypeAssignment(names[j], status[j], int(n_observed[j])) for j in range(len(names))]
    chunk_of = {p: c.name for b in batches for c in b.chunks for p in c.phenotypes}
    for b, cols in zip(batches, groups):
        for j in cols:
            if b.too_few_individuals:
                rows[j] = replace(rows[j], status="too_few_observations")
            else:
                rows[j] = replace(rows[j], batch=b.name, chunk=chunk_of[names[j]], strategy=b.strategy)
    return rows


def chunk_table(partition: Partition) -> pd.DataFrame:
    """One row per fit job: ``batch, chunk, strategy, n, n_missing, n_phenotypes, pattern,
    covariates_dropped`` (dropped covariates joined by ``,``; ``n_phenotypes`` counts the chunk's;
    ``strategy`` is ``schur`` for a ``masked`` chunk, whose ``n``/``n_missing`` are those of the
    complete batch it uses)."""
    records = [{
        "batch": b.name, "chunk": c.name, "strategy": "schur" if c.kind == "masked" else "decompose", "n": b.n,
        "n_missing": b.n_missing, "n_phenotypes": len(c.phenotypes), "pattern": b.pattern,
        "covariates_dropped": ",".join(b.covariates_dropped),
    } for b, c in partition.fit_jobs()]
    return pd.DataFrame.from_records(records, columns=["batch", "chunk", "strategy", "n", "n_missing",
                                                       "n_phenotypes", "pattern", "covariates_dropped"])


def phenotype_assignments(partition: Partition) -> pd.DataFrame:
    """One row per phenotype, input order: ``phenotype, status, n_observed, batch, chunk, strategy``."""
    return pd.DataFrame.from_records(
        [a.to_dict() for a in partition.phenotypes],
        columns=["phenotype", "status", "n_observed", "batch", "chunk", "strategy"])

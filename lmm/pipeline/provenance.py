"""What a result depends on: software versions, BLAS, configuration, input checksums, counts.

:func:`provenance` gathers it as a plain dict (written as ``results/provenance.yaml``). It holds
no time stamp and no host name, so the same inputs, configuration and software give the same
file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import sys
from collections.abc import Mapping

import numpy as np

from lmm.pipeline.partition import Partition

__all__ = ["sha256_file", "software_versions", "blas_info", "provenance"]

_PACKAGES = ("lmm-pipeline", "numpy", "scipy", "pandas", "matplotlib", "pyyaml", "snakemake",
             "threadpoolctl")


def sha256_file(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def software_versions() -> dict:
    """Python and the installed versions of the packages the pipeline uses (``None`` if absent)."""
    out = {"python": platform.python_version(), "implementation": sys.implementation.name,
           "platform": f"{platform.system()} {platform.machine()}"}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def blas_info() -> list | dict:
    """The BLAS/LAPACK libraries numpy uses and their thread counts.

    From ``threadpoolctl.threadpool_info()`` when threadpoolctl is installed (library, version,
    threading layer, number of threads; sorted, so that the record does not depend on which
    module loaded its library first), else from ``numpy.show_config(mode="dicts")``.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        try:
            config = np.show_config(mode="dicts")
            deps = config.get("Build Dependencies", {})
            return {k: {kk: str(vv) for kk, vv in v.items()} for k, v in deps.items() if k in ("blas", "lapack")}
        except Exception as exc:  # numpy < 1.26 has no mode="dicts"
            return {"unavailable": str(exc)}
    keys = ("user_api", "internal_api", "prefix", "version", "threading_layer", "architecture", "num_threads")
    libraries = [{k: info.get(k) for k in keys} for info in threadpool_info()]
    # in a fixed order, not the order in which the process happened to load them
    return sorted(libraries, key=lambda lib: tuple(str(lib[k]) for k in keys))


def provenance(config: Mapping, inputs: Mapping[str, str | None], clean_summary: Mapping,
               partition: Partition, status_counts: Mapping[str, int],
               eigen: Mapping[str, Mapping] | None = None, genotypes: Mapping | None = None,
               kinship_record: Mapping | None = None, scan: Mapping | None = None) -> dict:
    """Assemble the provenance record.

    Parameters
    ----------
    config : mapping
        The workflow configuration, after validation (defaults filled in).
    inputs : mapping of str to path
        ``{"kinship": ..., "phenotypes": ..., "covariates": ...}`` (``None`` for an absent file),
        plus the sidecar files of a ``.npy`` input (``"kinship_ids"``, ``"phenotypes_columns"``, ...).
    clean_summary : mapping
        The load stage's summary (counts, kinship scale, intercept).
    partition : lmm.pipeline.partition.Partition
        The partition (:func:`lmm.pipeline.partition.partition_phenotypes`): per batch its counts,
        pattern, dropped covariates and number of ``decompose`` chunks.
    status_counts : mapping of str to int
        Phenotypes per final status.
    eigen : mapping of str to mapping, optional
        Per batch: ``min_eigenvalue`` (before clipping) and ``n_clipped`` (round-off negative
        eigenvalues set to 0) of its kinship.

    Returns
    -------
    dict
    """
    files = {}
    for role, path in inputs.items():
        if path is None:
            files[role] = None
            continue
        files[role] = {"path": str(path), "bytes": os.path.getsize(path), "sha256": sha256_file(path)}
    eigen = eigen or {}
    batches = [{"batch": b.name, "n": b.n, "n_missing": b.n_missing, "pattern": b.pattern,
                "n_phenotypes": b.n_phenotypes, "covariates_dropped": list(b.covariates_dropped),
                "chunks": len(b.decomposed_chunks)} | dict(eigen.get(b.name, {})) for b in partition.batches]
    return {
        "software": software_versions(),
        "blas": blas_info(),
        "config": _plain(dict(config)),
        "inputs": files,
        "kinship": {
            "mean_diagonal_kept": clean_summary.get("kinship_mean_diagonal"),
            "mean_diagonal_file": clean_summary.get("kinship_mean_diagonal_file"),
            "source": (f"computed from the genotypes ({kinship_record['method']})"
                       if kinship_record and not config.get("kinship") else "given (config 'kinship')"),
            "note": "hsq is the share of variance explained by sigmasq_g * K; its meaning depends on "
                    "the scale of K, summarised by the mean of its diagonal.",
        },
        "genotypes": _plain(_without_id_lists(genotypes)) if genotypes else None,
        "kinship_from_genotypes": _plain(dict(kinship_record)) if kinship_record else None,
        "scan": _plain(dict(scan)) if scan else None,
        "intercept": clean_summary.get("intercept"),
        "counts": {
            **dict(clean_summary.get("counts", {})),
            "batches": len(partition.batches),
            "chunks": sum(len(b.decomposed_chunks) for b in partition.batches),
            "phenotypes_by_final_status": {str(k): int(v) for k, v in status_counts.items()},
        },
        "batches": batches,
    }


def _without_id_lists(summary: Mapping) -> dict:
    """A genotype summary without its (possibly long) id lists: their counts are kept."""
    return {k: v for k, v in summary.items() if not k.startswith("ids_")}


def _plain(value):
    """Convert a config structure to plain YAML-safe Python types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value

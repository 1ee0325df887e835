"""The pipeline's plumbing around the :mod:`lmm` core: reading and cleaning input files,
partitioning phenotypes by missing-data pattern, the work of each workflow stage, result tables,
plots, provenance and atomic writes.

This subpackage may use pandas, matplotlib and yaml; the core (:mod:`lmm` without ``pipeline``)
imports numpy and scipy only. See ``docs/architecture.md``.
"""

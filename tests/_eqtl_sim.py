"""A seeded simulated eQTL study: recombinant inbred strains, expression traits with positions,
local QTL at the traits' own positions, a distal hotspot driving a few dozen traits, null traits.

``simulate_eqtl_study(seed)`` uses numpy only and returns plain arrays (no file), for the core's
tests and, written out, for end-to-end workflow tests. Everything follows from the seed.

The model
---------
- ``n_strains`` recombinant inbred lines (two founders, selfing): on each chromosome of
  ``length_cm`` cM, markers every ``spacing_cm``; the genotype (0 or 2 copies of the second
  founder's allele) switches between adjacent markers with the RIL-by-selfing map expansion
  ``R = 2r/(1 + 2r)`` of the Haldane recombination fraction ``r = (1 − e^{−2d/100})/2``.
- ``n_traits`` traits at uniform random positions (a chromosome, a position within its length).
  The first ``n_local`` have a local QTL at the marker nearest their own position (effect
  ``local_effect`` per copy); the next ``n_hotspot`` are driven by one distal locus (the marker
  ``hotspot`` = (chromosome, position)), each with effect ``hotspot_effect``; the rest are null.
- Each trait: ``y = effect·g + polygenic + noise``, noise ``N(0, 1)``. The polygenic part comes from
  ``n_background`` further chromosomes that are not scanned (so a null trait has no QTL on the
  scanned ones, and genotype permutations are its null): ``N(0, hsq_poly·K_b)``, ``K_b`` their
  genotype similarity. ``kinship`` is that of all chromosomes, scanned and background (centred
  dosages, ``G Gᵀ / Σ var``), as a kinship from genome-wide markers would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EqtlStudy", "simulate_eqtl_study"]


@dataclass(frozen=True)
class EqtlStudy:
    """The simulated study. ``genotypes`` (n, q) dosages 0/2; ``marker_chr`` (q,) str,
    ``marker_pos`` (q,) cM; ``chromosomes`` names in order, ``starts`` (n_chr + 1,) marker offsets;
    ``pheno`` (n, m); ``trait_names``, ``trait_chr``, ``trait_pos`` (m,); ``kind`` (m,) of
    ``"local"``, ``"hotspot"``, ``"null"``; ``qtl_marker`` (m,) the causal marker's index (−1 for
    null); ``hotspot`` (chromosome, position); ``kinship`` (n, n)."""

    genotypes: np.ndarray
    marker_chr: np.ndarray
    marker_pos: np.ndarray
    chromosomes: list
    starts: np.ndarray
    pheno: np.ndarray
    trait_names: np.ndarray
    trait_chr: np.ndarray
    trait_pos: np.ndarray
    kind: np.ndarray
    qtl_marker: np.ndarray
    hotspot: tuple
    kinship: np.ndarray

    def genotypes_by_chromosome(self) -> list:
        """The genotypes split per chromosome (as :func:`lmm.scan1` takes them)."""
        return [self.genotypes[:, a:b] for a, b in zip(self.starts[:-1], self.starts[1:])]


def simulate_eqtl_study(seed: int = 1, *, n_strains: int = 80, chromosomes=("1", "2", "3", "X"),
                        length_cm: float = 100.0, spacing_cm: float = 5.0, n_traits: int = 120,
                        n_local: int = 40, n_hotspot: int = 30, hotspot=("2", 50.0),
                        local_effect: float = 0.9, hotspot_effect: float = 0.7,
                        hsq_poly: float = 0.2, n_background: int = 8) -> EqtlStudy:
    rng = np.random.default_rng(seed)
    per_chr = int(round(length_cm / spacing_cm)) + 1
    grid = np.linspace(0.0, length_cm, per_chr)
    r = 0.5 * (1.0 - np.exp(-2.0 * np.diff(grid) / 100.0))
    ril = 2.0 * r / (1.0 + 2.0 * r)
    blocks = []
    for _ in range(len(chromosomes) + n_background):
        switch = rng.uniform(size=(n_strains, per_chr - 1)) < ril
        first = rng.integers(0, 2, size=(n_strains, 1))
        blocks.append(2.0 * ((first + np.concatenate([np.zeros((n_strains, 1), int), np.cumsum(switch, 1)], 1)) % 2))
    background = np.concatenate(blocks[len(chromosomes):], axis=1) if n_background else np.zeros((n_strains, 0))
    genotypes = np.concatenate(blocks[:len(chromosomes)], axis=1)
    marker_chr = np.repeat(np.asarray(chromosomes, dtype=object), per_chr)
    marker_pos = np.tile(grid, len(chromosomes))
    starts = np.arange(len(chromosomes) + 1) * per_chr
    def similarity(g):
        centred = g - g.mean(axis=0)
        return centred @ centred.T / max(centred.var(axis=0).sum(), 1e-300)

    kinship = similarity(np.concatenate([genotypes, background], axis=1))
    trait_chr = rng.choice(np.asarray(chromosomes, dtype=object), size=n_traits)
    trait_pos = np.round(rng.uniform(0.0, length_cm, size=n_traits), 3)
    chr_index = {c: i for i, c in enumerate(chromosomes)}
    nearest = np.array([starts[chr_index[c]] + int(np.argmin(np.abs(grid - p))) for c, p in zip(trait_chr, trait_pos)])
    hot_marker = starts[chr_index[hotspot[0]]] + int(np.argmin(np.abs(grid - hotspot[1])))
    kind = np.array(["local"] * n_local + ["hotspot"] * n_hotspot + ["null"] * (n_traits - n_local - n_hotspot),
                    dtype=object)
    qtl_marker = np.where(kind == "local", nearest, np.where(kind == "hotspot", hot_marker, -1))
    effect = np.where(kind == "local", local_effect, np.where(kind == "hotspot", hotspot_effect, 0.0))
    k_background = similarity(background) if n_background else np.zeros((n_strains, n_strains))
    values, vectors = np.linalg.eigh(k_background)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    polygenic = np.sqrt(hsq_poly) * root @ rng.standard_normal((n_strains, n_traits))
    signal = np.where(qtl_marker >= 0, genotypes[:, np.maximum(qtl_marker, 0)] / 2.0 - 0.5, 0.0) * effect * 2.0
    pheno = signal + polygenic + rng.standard_normal((n_strains, n_traits))
    names = np.array([f"gene{i:04d}" for i in range(n_traits)], dtype=object)
    return EqtlStudy(genotypes, marker_chr, marker_pos, list(chromosomes), starts, pheno, names,
                     trait_chr, trait_pos, kind, qtl_marker, (hotspot[0], float(grid[hot_marker - starts[chr_index[hotspot[0]]]])),
                     kinship)

"""Planning: which exact path fits a missing-data pattern faster (the cost model of ``missing_strategy: auto``).

Both paths give the same numbers (``lmm.fit_lmm_masked`` by the Schur complement on the full
decomposition, or ``lmm.fit_lmm`` on a decomposition of the observed individuals); this module only
estimates their time, from constants fitted to ``benchmarks/bench_missing.py``.
"""

from __future__ import annotations

__all__ = ["choose_strategy", "schur_seconds"]


#: Seconds per n³ of an eigen-decomposition (LAPACK ``syevd`` through numpy, 2 cores).
EIG_SECONDS_PER_N3 = 9.0e-11
#: Extra seconds, per individual and per likelihood evaluation, of fitting a phenotype that
#: misses ``k`` individuals by the Schur complement rather than on its own decomposition:
#: ``c0 + c1·k + c2·k²`` (the weighted Gram matrix, the ``k × n`` products, the ``k × k`` ones).
#: Least-squares fit to ``benchmarks/bench_missing.py`` (n = 1000 and 2000, k = 1 … 50, 2 cores,
#: 2026-11-24): within 10% of the measured times for k ≥ 5.
SCHUR_SECONDS_PER_N = (1.14e-8, 4.25e-9, 7.6e-11)
#: Likelihood evaluations of one fit (search, boundaries, SE and CI).
EVALUATIONS_PER_FIT = 30
#: Fixed cost of a separate decomposition batch in the workflow (one more job to start).
BATCH_OVERHEAD_SECONDS = 1.0


def schur_seconds(n: int, k: int) -> float:
    """Estimated extra time of one Schur-complement fit of a phenotype missing ``k`` of ``n``."""
    c0, c1, c2 = SCHUR_SECONDS_PER_N
    return EVALUATIONS_PER_FIT * n * (c0 + c1 * k + c2 * k * k)


def choose_strategy(n: int, k: int, n_phenotypes: int, p: int) -> str:
    """``'schur'`` or ``'decompose'`` for a missing-data pattern, by estimated time.

    Parameters
    ----------
    n : int
        Individuals of the full decomposition.
    k : int
        Individuals this pattern misses.
    n_phenotypes : int
        Phenotypes that share the pattern.
    p : int
        Covariates.

    Returns
    -------
    str
        ``'decompose'`` when a new decomposition of the ``n − k`` observed
        individuals (``EIG_SECONDS_PER_N3·(n − k)³ + BATCH_OVERHEAD_SECONDS``)
        costs less than the Schur corrections of all the pattern's phenotypes
        (``n_phenotypes · schur_seconds(n, k)``), else ``'schur'``. A complete
        pattern (``k = 0``) is the full decomposition itself.

    Notes
    -----
    Measured crossovers (``benchmarks/bench_missing.py``; 2 cores): at n = 2000 a
    pattern is worth its own decomposition from about 720 phenotypes when they miss
    1 individual, 210 for 10, 100 for 20 and 28 for 50; at n = 1000 from about 400,
    57, 27 and 7. Scattered missing values (one or a few phenotypes per pattern)
    therefore always go through the Schur complement.
    """
    if k == 0:
        return "decompose"
    t_decompose = EIG_SECONDS_PER_N3 * float(n - k) ** 3 + BATCH_OVERHEAD_SECONDS
    t_schur = n_phenotypes * schur_seconds(n, k)
    return "decompose" if t_decompose < t_schur else "schur"

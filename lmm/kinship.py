"""Kinship matrices from genotypes: shared alleles (R/qtl2), centred and standardised (GEMMA), LOCO.

The mixed model ``y = Xβ + g + ε``, ``g ~ N(0, σ²_g K)``, needs a kinship matrix ``K``
(n × n) that measures how alike the genomes of two individuals are. Three definitions are
offered (config key ``kinship_method``); all are averages over the q markers of an n × n
contribution of each marker, so they are computed by one pass over the markers, a block of
marker columns at a time (:class:`KinshipAccumulator`), each block's contribution being one
symmetric matrix product (BLAS ``syrk``).

Definitions
-----------
Write ``g_im`` for the genotype of individual ``i`` at marker ``m`` (``i = 1..n``,
``m = 1..q``).

``shared_alleles`` (R/qtl2's ``calc_kinship``; Broman et al. 2019).
    For allele probabilities ``p_ima`` (the probability that one of the two haplotypes of
    ``i`` at ``m`` carries allele ``a``, ``Σ_a p_ima = 1``)::

        K_ij = (1/q) Σ_m Σ_a p_ima p_jma ,

    the probability that an allele drawn at random from ``i`` and one from ``j`` at a random
    marker are the same (identical by descent from the same founder, for founder alleles).
    ``q`` is the number of **markers**, not of allele columns. For one-column dosages
    ``d_im ∈ [0, 2]`` (count of one allele) the same is applied to the two-allele
    probabilities ``(d/2, 1 − d/2)``; then ``Σ_a p_ia p_ja = ½ (d_i − 1)(d_j − 1) + ½``.

    **This module returns 2K, not K.** R/qtl2 doubles its kinship before it enters the mixed
    model (``scan1``, ``est_herit`` use ``2K``), so that ``2K`` is a relationship matrix:
    its diagonal is ``1 + F_i`` (about 1 for outbred individuals such as Diversity Outbred
    mice, 2 for fully inbred lines) and off-diagonal entries are twice the kinship
    coefficients. With the returned matrix, ``hsq`` means what qtl2's ``est_herit`` reports.

``centered`` (GEMMA ``-gk 1``; VanRaden 2008's first method up to its denominator).
    With dosages centred per marker, ``w_im = g_im − ḡ_m`` (``ḡ_m`` the mean over the n
    individuals)::

        K = W Wᵀ / q ,        W: (n, q).

    GEMMA divides by the number of markers q, not by ``2 Σ p_m (1 − p_m)`` as VanRaden does.

``standardized`` (GEMMA ``-gk 2``; Yang et al. 2011's GCTA GRM without its diagonal
correction).
    Each centred marker is also divided by its standard deviation over the n individuals,
    with denominator **n** (the population standard deviation of the mean-imputed column)::

        z_im = (g_im − ḡ_m) / s_m ,   s_m² = (1/n) Σ_i (g_im − ḡ_m)² ,   K = Z Zᵀ / q .

    A constant marker (``s_m = 0``) is an error (GEMMA's MAF filter removes such markers).

Which standard deviation GEMMA uses was found by comparing with GEMMA 0.98.5's output
(``tests/core/test_kinship.py``), not from its source: with the same markers (GEMMA drops a marker
whose missing fraction exceeds 0.05 or whose minor allele frequency is below 0.01, both over
the analysed individuals, and imputes a missing genotype by the marker's mean over the observed
ones), ``centered`` and ``standardized`` equal GEMMA's ``-gk 1`` / ``-gk 2`` matrices from
PLINK and from BIMBAM input to the 10 significant digits GEMMA prints (every entry within half
a unit of its last printed digit: relative error ≤ 5e-10). The denominators ``n − 1``, the
number of observed genotypes, or ``√(2p(1 − p))`` differ from GEMMA's matrix by 2e-2 to 5e-2
on the same data (n = 60, 497 markers).
Whether GEMMA counts PLINK's A1 or A2 allele does not matter: ``g → 2 − g`` changes the sign
of ``W`` and ``Z`` and leaves ``K`` unchanged.

Scale
-----
``hsq = σ²_g / (σ²_g + σ²_e)`` depends on the scale of ``K``: multiplying ``K`` by c multiplies
``σ²_g`` by 1/c and changes ``hsq``. The mean of the diagonal (:func:`mean_diagonal`) is the
scale to record: 1 for ``standardized`` (exactly, since ``Σ_m z_im²/n = 1`` per marker),
``2 Σ p(1 − p)``-like for ``centered``, about ``1 + F`` for ``shared_alleles``.

LOCO
----
For a genome scan the kinship that leaves out the chromosome being scanned ("leave one
chromosome out") avoids absorbing the QTL into the polygenic term. With per-chromosome sums
``S_c = Σ_{m∈c} (n × n contribution of m)`` and marker counts ``q_c``, accumulated in one pass::

    K = Σ_c S_c / Σ_c q_c ,            K_{−c} = (S − S_c) / (q − q_c) ,   S = Σ_c S_c ,

times 2 for ``shared_alleles``. This is R/qtl2's ``calc_kinship(type = "loco")`` (its
per-chromosome kinships weighted by their numbers of markers) and, for the GEMMA matrices, the
same normalisation by the number of markers used. The centring and scaling are per marker and
so do not depend on which chromosomes are left out. With one chromosome LOCO is undefined
(an error).

Input
-----
The functions take already imputed (and filtered) genotypes: a non-finite value is an
:class:`~lmm.errors.InputError` naming its column; the pipeline imputes a missing genotype by
the marker's mean (GEMMA's rule), which contributes 0 to ``W`` and ``Z``. Blocks may be
float32 (as read by bed-reader); they are converted to float64 and every product is
accumulated in float64 (``product_dtype=np.float32`` does the products in float32, see
:class:`KinshipAccumulator`). Results are exactly symmetric.

Memory: ``8 n²`` bytes per chromosome for LOCO (plus one ``n × n`` for the total and one for a
result), ``8 n²`` in all without; the product buffer adds ``8 n c`` bytes (``c`` columns,
:class:`KinshipAccumulator`'s ``product_columns``).

Cost: the products, ``n² q`` flops (``n² q A`` for ``A`` allele columns per marker) in ``syrk``,
are what a kinship must cost at least: ``A Aᵀ`` of one n × q float64 array. Besides them each
block is read and its prepared float64 columns are written (memory traffic that ``syrk``
cannot fuse): the centring, scaling, checks and (``missing="mean"``) imputation run one 2 MiB
tile of columns at a time, so their temporaries stay small (at n = 1,000 this measured as fast
as whole blocks, not faster: numpy's passes, not the memory, set their pace).

References
----------
VanRaden PM (2008) Efficient methods to compute genomic predictions. J Dairy Sci 91:4414–4423.
Yang J, Lee SH, Goddard ME, Visscher PM (2011) GCTA: a tool for genome-wide complex trait
analysis. Am J Hum Genet 88:76–82.
Zhou X, Stephens M (2012) Genome-wide efficient mixed-model analysis for association studies
(GEMMA). Nat Genet 44:821–824.
Broman KW, Gatti DM, Simecek P, et al. (2019) R/qtl2: software for mapping quantitative trait
loci with high-dimensional data and multiparent populations. Genetics 211:495–502.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

from .checks import CONSTANT_COLUMN_RTOL
from .errors import InputError

__all__ = ["METHODS", "KinshipAccumulator", "calc_kinship", "mean_diagonal"]

METHODS = ("shared_alleles", "centered", "standardized")

#: Columns of the strips copied from the upper onto the lower triangle (``_symmetrize_upper``):
#: 64 takes 1 ms at n = 1,000 where 512 took 7 ms (its diagonal blocks' triangles were large).
_SYMMETRIZE_BLOCK = 64

#: Bytes of float64 columns prepared at a time (centred, scaled, checked, imputed): a tile that
#: stays in the cache between its passes (2 MiB: 262 columns at n = 1,000).
_TILE_BYTES = 1 << 21

#: Default width of the product buffer (:class:`KinshipAccumulator`, ``product_columns=None``):
#: ``min(8192, max(2048, 2**28 // (8 n)))`` columns, at most 256 MiB once n > 4,096 (64 MiB at
#: n = 1,000). Each ``syrk`` also reads and writes its ``n × n`` sum, a cost per product that
#: is paid less often with wide products: at n = 1,000, q = 100,000 (one thread) products of
#: 1,000 columns took 1.21× the time of one ``A Aᵀ``, of 2,000 1.08×, of 5,000 1.05×.
PRODUCT_COLUMNS_MAX = 8192
_PRODUCT_BYTES = 1 << 28


def _check_method(method) -> str:
    if method not in METHODS:
        raise InputError(
            f"Unknown kinship method {method!r}: use one of {', '.join(METHODS)}."
        )
    return method


def _symmetrize_upper(A: np.ndarray) -> np.ndarray:
    """Copy the upper triangle of square ``A`` onto its lower triangle, in place."""
    n = A.shape[0]
    for r0 in range(0, n, _SYMMETRIZE_BLOCK):
        r1 = min(r0 + _SYMMETRIZE_BLOCK, n)
        if r0:
            A[r0:r1, :r0] = A[:r0, r0:r1].T
        D = A[r0:r1, r0:r1]
        D[...] = np.triu(D) + np.triu(D, 1).T
    return A


def _raise_non_finite(B: np.ndarray, chromosome, first: int, at: int = 0) -> None:
    """Raise the InputError naming the first column of ``B`` with a non-finite value.

    ``B`` holds the columns ``at, at + 1, ...`` of the block added; ``first`` is the number of
    columns added before the block."""
    finite = np.isfinite(B).all(axis=0)
    if finite.all():  # the column means overflowed
        raise InputError(
            f"A genotype block of chromosome {chromosome} has values too large to average "
            f"(overflow): genotypes should be dosages or probabilities."
        )
    j = int(np.flatnonzero(~finite)[0])
    i = int(np.flatnonzero(~np.isfinite(B[:, j]))[0])
    value = B[i, j]
    j += at
    raise InputError(
        f"Genotype column {j} of the block (column {first + j} of all added so far, "
        f"chromosome {chromosome}) has a non-finite value ({value}) in row {i}: "
        f"impute missing genotypes before computing the kinship."
    )


class KinshipAccumulator:
    """Kinship matrices accumulated over blocks of markers, overall and leaving out a chromosome.

    Parameters
    ----------
    n : int
        Number of individuals (rows of every block).
    method : {"shared_alleles", "centered", "standardized"}
        Kinship definition (see the module docstring).
    loco : bool, default True
        Keep one ``n × n`` sum per chromosome so that :meth:`loco` is available (memory
        ``8 n²`` bytes per chromosome); ``False`` keeps only the total.
    product_dtype : {numpy.float64, numpy.float32}, default float64
        Precision of each block's product. With float32 the block's product ``B Bᵀ`` is
        computed in single precision (relative error about ``1e-7 √k`` for a block of k
        columns) and added to the float64 sums; the default does everything in float64.
    product_columns : int, optional
        Width c of the product buffer. Blocks are prepared (centred, scaled, checked) into an
        ``(n, c)`` float64 buffer, consecutive blocks of one chromosome side by side, and the
        buffer is multiplied into its chromosome's sum by one ``syrk`` when the next block does
        not fit, at a change of chromosome, or when a result is asked for: fewer, wider products
        (each ``syrk`` also reads and writes its ``n × n`` sum). Memory ``8 n c`` bytes (a wider
        block widens it to the block). Default ``min(8192, max(2048, 2²⁸ / (8 n)))``: 64 MiB at
        n = 1,000, at most 256 MiB above n = 4,096.

    Notes
    -----
    For block ``B`` (n × k) of chromosome c, the contribution added to ``S_c`` is

    - ``shared_alleles``, allele probabilities (``n_alleles`` = A > 1): ``B Bᵀ``,
      ``q_c += k / A``;
    - ``shared_alleles``, dosages (``n_alleles = 1``): ``½ (B − 1)(B − 1)ᵀ + k/2``, ``q_c += k``;
    - ``centered``: ``W Wᵀ`` with ``W = B − 1 b̄ᵀ`` (column means over the n rows), ``q_c += k``;
    - ``standardized``: ``Z Zᵀ`` with ``Z = W diag(1/s)``, ``s`` the columns' standard deviations
      with denominator n, ``q_c += k``.

    The blocks of one chromosome wait in the product buffer, so one ``syrk`` (upper triangle,
    accumulated in place, ``S_c ← S_c + α W Wᵀ`` with ``W`` the buffered columns) covers several
    blocks; a float64 block of allele probabilities in Fortran order at least half as wide as
    the buffer (a genotype store's view) is multiplied as it is, without a copy. The lower
    triangle is filled when a matrix is returned. The centring and scaling use only the
    block's own columns, so the result does not depend on how the markers are split into
    blocks or ordered (nor on ``product_columns``), to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from lmm.kinship import KinshipAccumulator
    >>> G = np.array([[0., 1., 2., 1.], [2., 1., 0., 1.], [1., 1., 2., 0.]])
    >>> acc = KinshipAccumulator(3, "centered")
    >>> acc.add(G[:, :2], "1"); acc.add(G[:, 2:], "2")
    >>> acc.chromosomes, acc.n_markers()
    (('1', '2'), 4)
    >>> np.allclose(acc.overall(), (G - G.mean(0)) @ (G - G.mean(0)).T / 4)
    True
    >>> np.allclose(acc.loco("2"), (G[:, :2] - G[:, :2].mean(0)) @ (G[:, :2] - G[:, :2].mean(0)).T / 2)
    True
    """

    def __init__(self, n, method, loco=True, product_dtype=np.float64,
                 product_columns=None):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"The number of individuals n must be a positive integer, got {n!r}.")
        self.n = int(n)
        self.method = _check_method(method)
        self._keep_loco = bool(loco)
        pd = np.dtype(product_dtype)
        if pd not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise InputError(f"product_dtype must be float64 or float32, got {pd}.")
        self.product_dtype = pd
        if product_columns is None:
            product_columns = min(PRODUCT_COLUMNS_MAX, max(2048, _PRODUCT_BYTES // (8 * self.n)))
        if (isinstance(product_columns, bool) or not isinstance(product_columns, (int, np.integer))
                or product_columns < 1):
            raise InputError(f"product_columns must be a positive integer, got {product_columns!r}.")
        self.product_columns = int(product_columns)
        self._sums: dict[str, np.ndarray] = {}  # chromosome (or "") -> upper triangle of P_c
        self._const: dict[str, float] = {}  # chromosome -> constant added to every entry of S_c
        self._count: dict[str, int] = {}  # chromosome -> number of markers q_c
        self._order: list[str] = []
        self._columns_seen = 0
        self._total = None  # cached Σ_c P_c (upper triangle)
        self._work = None  # (n, product_columns) float64 buffer of prepared columns
        self._pending = None  # (key, alpha) of the columns waiting in the buffer
        self._n_pending = 0  # their number: W = self._work[:, :self._n_pending]

    # -- adding blocks -----------------------------------------------------------------------

    def add(self, block, chromosome, n_alleles=1, missing="error") -> None:
        """Add the contribution of a block of marker columns of one chromosome.

        Parameters
        ----------
        block : array_like, shape (n, k)
            Imputed genotypes of k marker columns (float32 or float64, no missing values
            unless ``missing="mean"``):
            dosages for ``centered`` and ``standardized``; allele probabilities in [0, 1]
            (``n_alleles`` columns per marker, adjacent) or dosages in [0, 2]
            (``n_alleles=1``) for ``shared_alleles``.
        chromosome : str or int
            The chromosome of all k columns (kept as ``str(chromosome)``).
        n_alleles : int, default 1
            Columns per marker (only for ``shared_alleles``): the block holds k / n_alleles
            markers.
        missing : {"error", "mean"}, default "error"
            ``"error"``: a NaN is an error (the block must be imputed). ``"mean"`` (``centered``
            and ``standardized`` only): a NaN is a missing genotype, imputed by its marker's
            mean over the observed individuals (GEMMA's rule), in float64 as the block is
            centred: ``w_im = 0`` for a missing ``g_im``, ``ḡ_m`` the mean of the observed
            values and ``s_m² = (1/n) Σ_i w_im²`` over all n rows (the imputed column's), so the
            result equals that of the block imputed in float64 beforehand (to rounding). The
            block itself is not changed.

        Raises
        ------
        InputError
            If the block is not two-dimensional with n rows, has a non-finite value
            (naming the column; with ``missing="mean"`` an infinite one, or a column with
            no observed value), values out of range, k not a multiple of ``n_alleles``,
            or a constant column for ``standardized``.
        """
        B = np.asarray(block)
        if B.ndim != 2:
            raise InputError(
                f"A genotype block must be a two-dimensional (individuals × markers) array; "
                f"got {B.ndim} dimension(s) with shape {B.shape}."
            )
        if B.shape[0] != self.n:
            raise InputError(
                f"A genotype block has {B.shape[0]} rows but the kinship is for n = {self.n} "
                f"individuals (rows are individuals, columns are markers)."
            )
        if not (np.issubdtype(B.dtype, np.floating) or np.issubdtype(B.dtype, np.integer)
                or B.dtype == bool):
            raise InputError(f"A genotype block must hold numbers, got dtype {B.dtype}.")
        if isinstance(n_alleles, bool) or not isinstance(n_alleles, (int, np.integer)) or n_alleles < 1:
            raise InputError(f"n_alleles must be a positive integer, got {n_alleles!r}.")
        n_alleles = int(n_alleles)
        if missing not in ("error", "mean"):
            raise InputError(f"missing must be 'error' or 'mean', got {missing!r}.")
        if missing == "mean" and self.method == "shared_alleles":
            raise InputError(
                "missing='mean' (imputation by the marker's mean) applies to the 'centered' and "
                "'standardized' kinships; impute allele probabilities before 'shared_alleles'."
            )
        if n_alleles > 1 and self.method != "shared_alleles":
            raise InputError(
                f"n_alleles = {n_alleles} (allele probabilities) applies only to the "
                f"'shared_alleles' kinship, not to {self.method!r}, which takes dosages."
            )
        k = B.shape[1]
        if k % n_alleles:
            raise InputError(
                f"A block of allele probabilities has {k} columns, not a multiple of "
                f"n_alleles = {n_alleles} (columns per marker)."
            )
        first = self._columns_seen
        if k == 0:
            return
        name = str(chromosome)
        key = name if self._keep_loco else ""
        alpha = 0.5 if self.method == "shared_alleles" and n_alleles == 1 else 1.0
        if self._pending != (key, alpha) or self._n_pending + k > self.product_columns:
            self._flush()
        if self.method == "shared_alleles":
            W, const = self._prepare_shared(B, chromosome, first, n_alleles)
            q_add = k // n_alleles
        else:
            W = self._prepare_centred(B, chromosome, first, missing == "mean")
            const, q_add = 0.0, k
        if W is B:  # a wide float64 block of allele probabilities: multiplied as it is
            self._accumulate(key, W, alpha)
        else:  # prepared into the buffer: multiplied when it is full, or at a change of key
            self._pending = (key, alpha)
            self._n_pending += k
        if name not in self._order:
            self._order.append(name)
        self._const[name] = self._const.get(name, 0.0) + const
        self._count[name] = self._count.get(name, 0) + q_add
        self._columns_seen += k
        self._total = None

    def _workspace(self, k: int) -> np.ndarray:
        """The next ``k`` free columns of the product buffer, ``(n, k)`` float64, Fortran order.

        The buffer (``n × max(product_columns, k)``, reused from block to block) holds the
        prepared columns of consecutive blocks of one chromosome until :meth:`_flush` multiplies
        them in one ``syrk``; the caller has flushed it if ``k`` columns do not fit.
        """
        width = max(self.product_columns, k)
        if self._work is None or self._work.shape[1] < width:
            self._work = np.empty((self.n, width), dtype=np.float64, order="F")
        return self._work[:, self._n_pending:self._n_pending + k]

    def _flush(self) -> None:
        """Multiply the columns waiting in the buffer into their chromosome's sum."""
        if self._n_pending:
            key, alpha = self._pending
            self._accumulate(key, self._work[:, :self._n_pending], alpha)
        self._pending = None
        self._n_pending = 0

    def _tiles(self, k: int):
        """Column ranges ``(t0, t1)`` of about ``_TILE_BYTES`` of float64 each."""
        step = max(8, _TILE_BYTES // (8 * self.n))
        return ((t0, min(k, t0 + step)) for t0 in range(0, k, step))

    def _prepare_centred(self, B: np.ndarray, chromosome, first: int, impute: bool = False) -> np.ndarray:
        """``W = B − 1 b̄ᵀ`` (``centered``) or ``Z = W diag(1/s)`` (``standardized``), (n, k) float64.

        One tile of columns at a time (:func:`_tiles`, 2 MiB of float64): its means, its
        centring, its sums of squares and its scaling pass over the tile while it is in the
        cache, and ``W`` is written into the product buffer, reused from block to block. The arithmetic is that of the whole block at once (column means in float64 over
        the n rows, ``s = √(Σ_i w_i² / n)``, ``w / s``), column by column, so the values are the
        same. With `impute`, NaN are missing: ``W`` is the float64 copy of the tile with 0 at the
        missing entries, ``ḡ = Σ_observed g / n_observed``, ``w = g − ḡ`` and 0 where missing.
        """
        n, k = B.shape
        W = self._workspace(k)
        standardized = self.method == "standardized"
        for t0, t1 in self._tiles(k):
            Bt, Wt = B[:, t0:t1], W[:, t0:t1]
            if impute:
                mu = self._impute_centre(Bt, Wt, chromosome, first, t0)
            else:
                mu = Bt.mean(axis=0, dtype=np.float64)  # NaN or inf propagate
                if not np.isfinite(mu).all():
                    _raise_non_finite(B, chromosome, first)
                np.subtract(Bt, mu, out=Wt)  # in float64 (mu is float64)
            if standardized:
                s = np.sqrt(np.einsum("ij,ij->j", Wt, Wt) / n)
                const_cols = s <= CONSTANT_COLUMN_RTOL * np.maximum(np.abs(mu), 1.0)
                if const_cols.any():
                    if not impute and not np.isfinite(B).all():  # a non-finite value first
                        _raise_non_finite(B, chromosome, first)
                    j = t0 + int(np.flatnonzero(const_cols)[0])
                    raise InputError(
                        f"Genotype column {j} of the block (column {first + j} of all added "
                        f"so far, chromosome {chromosome}) is constant: its standard deviation "
                        f"is 0, so the standardized kinship is undefined; drop monomorphic "
                        f"markers (GEMMA drops markers with minor allele frequency < 0.01)."
                    )
                Wt /= s
        return W

    def _impute_centre(self, Bt: np.ndarray, Wt: np.ndarray, chromosome, first: int, t0: int) -> np.ndarray:
        """Centre tile `Bt` (the block's columns from `t0`) into `Wt` (float64), NaN as missing
        (0 in `Wt`); return the means ``ḡ`` of the observed values, shape (tile columns,)."""
        n = Bt.shape[0]
        np.copyto(Wt, Bt)
        miss = np.isnan(Wt)
        n_miss = np.count_nonzero(miss, axis=0)
        if n_miss.any():
            if (n_miss == n).any():
                j = int(np.flatnonzero(n_miss == n)[0])
                raise InputError(
                    f"Genotype column {t0 + j} of the block (column {first + t0 + j} of all "
                    f"added so far, chromosome {chromosome}) has no observed "
                    f"value: its mean, which imputes it, is undefined; drop the marker."
                )
            np.copyto(Wt, 0.0, where=miss)
            mu = Wt.sum(axis=0) / (n - n_miss)
        else:
            miss = None
            mu = Wt.mean(axis=0)
        if not np.isfinite(mu).all():  # an infinite genotype
            _raise_non_finite(np.where(np.isnan(Bt), 0, Bt), chromosome, first, t0)
        np.subtract(Wt, mu, out=Wt)
        if miss is not None:
            np.copyto(Wt, 0.0, where=miss)
        return mu

    def _prepare_shared(self, B: np.ndarray, chromosome, first: int, n_alleles: int):
        """The block of ``shared_alleles`` checked (finite, in range) and ready for ``syrk``.

        Returns ``(W, const)``: for allele probabilities ``W = B`` itself when it is float64
        in Fortran order and at least half as wide as the product buffer (a transposed view of
        the genotype store: no copy), else a float64 copy in the buffer; for dosages
        ``W = B − 1`` (multiplied with ``alpha = ½``) and ``const = k/2``. The checks and the
        copy run one cache-sized tile of columns at a time.
        """
        n, k = B.shape
        lo, hi = (0.0, 2.0) if n_alleles == 1 else (0.0, 1.0)
        tol = 0.0 if n_alleles == 1 else 1e-6
        direct = (n_alleles > 1 and B.dtype == np.float64 and B.flags.f_contiguous
                  and 2 * k >= self.product_columns)
        W = B if direct else self._workspace(k)
        for t0, t1 in self._tiles(k):
            Bt = B[:, t0:t1]
            cmin, cmax = Bt.min(axis=0), Bt.max(axis=0)  # NaN propagates: a cheap finiteness test
            if not (np.isfinite(cmin).all() and np.isfinite(cmax).all()):
                _raise_non_finite(B, chromosome, first)
            bad = (cmin < lo - tol) | (cmax > hi + tol)
            if bad.any():
                if not np.isfinite(B).all():  # a non-finite value is reported first
                    _raise_non_finite(B, chromosome, first)
                j = int(np.flatnonzero(bad)[0])
                what = "dosages in [0, 2]" if n_alleles == 1 else "allele probabilities in [0, 1]"
                raise InputError(
                    f"Genotype column {t0 + j} of the block (column {first + t0 + j} of all added "
                    f"so far) has values outside the range of {what} (min {cmin[j]}, "
                    f"max {cmax[j]})."
                )
            if not direct:
                Wt = W[:, t0:t1]
                if n_alleles == 1:
                    np.subtract(Bt, 1.0, out=Wt, dtype=np.float64)
                else:
                    Wt[...] = Bt
        return W, (0.5 * k if n_alleles == 1 else 0.0)

    def _accumulate(self, key: str, W: np.ndarray, alpha: float) -> None:
        S = self._sums.get(key)
        if S is None:
            S = np.zeros((self.n, self.n), dtype=np.float64, order="F")
            self._sums[key] = S
        if self.product_dtype == np.float64:
            blas.dsyrk(alpha, W, beta=1.0, c=S, trans=0, lower=0, overwrite_c=1)
        else:
            P = blas.ssyrk(alpha, np.asfortranarray(W, dtype=np.float32), trans=0, lower=0)
            S += P

    # -- results -----------------------------------------------------------------------------

    @property
    def chromosomes(self) -> tuple:
        """The chromosomes added, as strings, in order of first appearance."""
        return tuple(self._order)

    def n_markers(self, chromosome=None) -> int:
        """Number of markers added: of one chromosome, or of all (``None``)."""
        if chromosome is None:
            return int(sum(self._count.values()))
        return int(self._count[self._known(chromosome)])

    def _known(self, chromosome) -> str:
        name = str(chromosome)
        if name not in self._order:
            shown = ", ".join(self._order) if self._order else "none"
            raise InputError(
                f"Chromosome {name!r} has no markers in this kinship (chromosomes: {shown})."
            )
        return name

    def _factor(self) -> float:
        return 2.0 if self.method == "shared_alleles" else 1.0

    def _total_upper(self) -> np.ndarray:
        self._flush()
        if len(self._sums) == 1:  # no copy: callers only read it
            return next(iter(self._sums.values()))
        if self._total is None:
            it = iter(self._sums.values())
            T = next(it).copy(order="F")
            for S in it:
                T += S
            self._total = T
        return self._total

    def overall(self) -> np.ndarray:
        """The kinship from all markers added.

        Returns
        -------
        numpy.ndarray, shape (n, n)
            ``S / q`` (``2 S / q`` for ``shared_alleles``), exactly symmetric, float64.
        """
        if not self._order:
            raise InputError("No markers have been added to the kinship.")
        q = sum(self._count.values())
        const = sum(self._const.values())
        K = self._total_upper() * (self._factor() / q)
        if const:
            K += const * self._factor() / q
        return _symmetrize_upper(K)

    def loco(self, chromosome) -> np.ndarray:
        """The kinship from all markers except those of ``chromosome`` (LOCO).

        Parameters
        ----------
        chromosome : str or int
            A chromosome that was added (compared as ``str``).

        Returns
        -------
        numpy.ndarray, shape (n, n)
            ``(S − S_c) / (q − q_c)`` (times 2 for ``shared_alleles``), exactly symmetric.

        Raises
        ------
        InputError
            If the accumulator was made with ``loco=False``, the chromosome is unknown, or it
            is the only chromosome (nothing is left).
        """
        if not self._keep_loco:
            raise InputError(
                "This kinship accumulator was made with loco=False: it keeps no "
                "per-chromosome sums, so LOCO kinships are not available."
            )
        name = self._known(chromosome)
        q_rest = sum(self._count.values()) - self._count[name]
        if q_rest <= 0:
            raise InputError(
                f"Leaving out chromosome {name!r} leaves no markers: all markers are on it, so "
                f"the LOCO kinship is undefined (LOCO needs markers on at least two chromosomes)."
            )
        T = self._total_upper()  # flushes the buffer
        K = T - self._sums[name]
        factor = self._factor() / q_rest
        K *= factor
        const = sum(self._const.values()) - self._const[name]
        if const:
            K += const * factor
        return _symmetrize_upper(K)


def calc_kinship(genotypes, method, chromosomes=None, n_alleles=1, loco=False,
                 product_dtype=np.float64):
    """Kinship matrix (or LOCO kinships) of genotypes held in memory.

    Parameters
    ----------
    genotypes : array_like, shape (n, q * n_alleles)
        Imputed genotypes, individuals in rows: dosages (``n_alleles = 1``), or for
        ``shared_alleles`` allele probabilities with ``n_alleles`` adjacent columns per marker.
    method : {"shared_alleles", "centered", "standardized"}
        Kinship definition (module docstring).
    chromosomes : array_like, shape (q,), optional
        Chromosome of each **marker** (not of each column). Needed for ``loco=True``; the
        markers of a chromosome need not be adjacent.
    n_alleles : int, default 1
        Columns per marker (``shared_alleles`` only).
    loco : bool, default False
        Return the LOCO kinships instead of the overall one.
    product_dtype : {numpy.float64, numpy.float32}, default float64
        See :class:`KinshipAccumulator`.

    Returns
    -------
    numpy.ndarray, shape (n, n), or dict of str to numpy.ndarray
        The overall kinship (``2K`` for ``shared_alleles``); with ``loco=True`` a dict from
        each chromosome (as ``str``, in order of first appearance) to the kinship leaving it
        out.

    Raises
    ------
    InputError
        Bad shapes or values (see :meth:`KinshipAccumulator.add`), ``chromosomes`` of the
        wrong length, ``loco=True`` without ``chromosomes`` or with a single chromosome.

    Examples
    --------
    >>> import numpy as np
    >>> from lmm.kinship import calc_kinship
    >>> G = np.array([[0., 2., 1.], [2., 0., 1.], [1., 1., 0.], [2., 1., 1.]])
    >>> K = calc_kinship(G, "standardized")
    >>> K.shape, round(mean_diagonal(K), 12)
    ((4, 4), 1.0)
    >>> calc_kinship(np.array([[0.], [2.]]), "shared_alleles")  # 2K: a homozygote's diagonal is 2
    array([[2., 0.],
           [0., 2.]])
    >>> sorted(calc_kinship(G, "centered", chromosomes=["1", "1", "2"], loco=True))
    ['1', '2']
    """
    _check_method(method)
    G = np.asarray(genotypes)
    if G.ndim != 2:
        raise InputError(
            f"genotypes must be a two-dimensional (individuals × markers) array; got shape "
            f"{G.shape}."
        )
    n, ncol = G.shape
    acc = KinshipAccumulator(n, method, loco=loco, product_dtype=product_dtype)
    if isinstance(n_alleles, bool) or not isinstance(n_alleles, (int, np.integer)) or n_alleles < 1:
        raise InputError(f"n_alleles must be a positive integer, got {n_alleles!r}.")
    if ncol % n_alleles:
        raise InputError(
            f"genotypes has {ncol} columns, not a multiple of n_alleles = {n_alleles} "
            f"(columns per marker)."
        )
    q = ncol // n_alleles
    if q == 0:
        raise InputError("genotypes has no marker columns.")
    if chromosomes is None:
        if loco:
            raise InputError("LOCO kinships need the chromosome of each marker (chromosomes=).")
        acc.add(G, "all", n_alleles=n_alleles)
        return acc.overall()
    chrom = np.asarray(chromosomes).astype(str)
    if chrom.ndim != 1 or chrom.shape[0] != q:
        raise InputError(
            f"chromosomes must give one chromosome per marker: {q} markers "
            f"({ncol} columns / n_alleles {n_alleles}), got shape {np.shape(chromosomes)}."
        )
    names, first = np.unique(chrom, return_index=True)
    names = [str(x) for x in names[np.argsort(first)]]
    for name in names:
        markers = np.flatnonzero(chrom == name)
        if n_alleles > 1:
            cols = (markers[:, None] * n_alleles + np.arange(n_alleles)).ravel()
        else:
            cols = markers
        acc.add(G[:, cols], name, n_alleles=n_alleles)
    if not loco:
        return acc.overall()
    if len(names) < 2:
        raise InputError(
            f"LOCO kinships need markers on at least two chromosomes; all are on "
            f"chromosome {names[0]!r}."
        )
    return {name: acc.loco(name) for name in acc.chromosomes}


def mean_diagonal(K) -> float:
    """Mean of the diagonal of a kinship matrix: its scale, ``tr(K) / n``.

    ``hsq`` depends on the scale of ``K``; record this number beside it.

    Parameters
    ----------
    K : array_like, shape (n, n)

    Returns
    -------
    float
    """
    K = np.asarray(K)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise InputError(f"A kinship matrix must be square (n × n), got shape {K.shape}.")
    return float(np.mean(np.diagonal(K)))

"""lmm.alleles: genotype-pair names, the known X sets, and R/qtl2's genoprob_to_alleleprob rule.

Checked against rows computed by hand, an independent per-entry oracle (a loop over genotype
names, no matrix), the property that allele probabilities of a marker sum to what its genotype
probabilities sum to (1), and R/qtl2 itself through the iron kinships
(tests/pipeline/test_genotypes_x.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from lmm.alleles import allele_matrix, genoprob_to_alleleprob, genotype_pair_alleles, x_genotype_sets
from lmm.errors import InputError

F2 = ("SS", "SB", "BB")
F2_X = ("SS", "SB", "BS", "BB", "SY", "BY")
DO_ALLELES = tuple("ABCDEFGH")
DO = tuple(a + b for i, a in enumerate(DO_ALLELES) for b in DO_ALLELES[i:])


def test_genotype_pair_names():
    assert genotype_pair_alleles(F2) == ("S", "B")
    assert genotype_pair_alleles(("BB", "BS", "SS")) == ("B", "S")  # either order of a heterozygote
    assert len(DO) == 36 and genotype_pair_alleles(DO) == DO_ALLELES
    assert genotype_pair_alleles(DO_ALLELES) is None          # allele names (recla)
    assert genotype_pair_alleles(("SS", "SB", "BS", "BB")) is None   # a heterozygote twice
    assert genotype_pair_alleles(("SS", "BB")) is None         # a pair missing
    assert genotype_pair_alleles(("AA", "AB", "BB", "AC")) is None  # C has no homozygote
    assert genotype_pair_alleles(("B6", "CAST")) is None


def test_known_x_sets():
    full, with_hemi = x_genotype_sets(F2)
    assert full == F2_X                                       # R/qtl2's F2 X columns, in its order
    assert set(with_hemi) == {"SS", "SB", "BB", "SY", "BY"}
    do_full, do_x = x_genotype_sets(DO)
    assert len(do_x) == 36 + 8 and set(DO) < set(do_x)        # R/qtl2's DO X: 36 + 8
    assert len(do_full) == 8 + 56 + 8
    assert x_genotype_sets(DO_ALLELES) == [DO_ALLELES]        # allele probabilities: the same set


def test_allele_matrix_hand_rows():
    C = allele_matrix(F2_X, ("S", "B"))
    expected = np.array([[1, 0], [0.5, 0.5], [0.5, 0.5], [0, 1], [1, 0], [0, 1]])
    np.testing.assert_array_equal(C, expected)
    np.testing.assert_array_equal(allele_matrix(DO_ALLELES, DO_ALLELES), np.eye(8))
    C = allele_matrix(DO, DO_ALLELES)
    assert C[DO.index("CF")].tolist() == [0, 0, 0.5, 0, 0, 0.5, 0, 0]
    assert C[DO.index("HH")].tolist() == [0] * 7 + [1]
    with pytest.raises(InputError, match=r"Genotype column 'SZ' is not an allele \(S, B\)"):
        allele_matrix(("SS", "SZ"), ("S", "B"))


def test_genoprob_to_alleleprob_hand_rows():
    # two individuals, two markers: an autosomal F2 marker then the same probabilities again
    probs = np.array([[0.25, 0.5, 0.25, 1.0, 0.0, 0.0],
                      [0.0, 0.2, 0.8, 0.1, 0.3, 0.6]])
    got = genoprob_to_alleleprob(probs, F2, ("S", "B"))
    np.testing.assert_allclose(got, [[0.5, 0.5, 1.0, 0.0], [0.1, 0.9, 0.25, 0.75]], rtol=0, atol=1e-15)
    # X: a female SB/BS and a male SY
    x = np.array([[0.0, 0.3, 0.7, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.9, 0.1]])
    np.testing.assert_allclose(genoprob_to_alleleprob(x, F2_X, ("S", "B")), [[0.5, 0.5], [0.9, 0.1]],
                               rtol=0, atol=1e-15)


def _oracle(probs, genotypes, alleles):
    """Entry by entry from the names: half to each allele of a pair, all to a hemizygote's."""
    n, g = probs.shape[0], len(genotypes)
    q = probs.shape[1] // g
    out = np.zeros((n, q * len(alleles)))
    for i in range(n):
        for m in range(q):
            for k, name in enumerate(genotypes):
                p = probs[i, m * g + k]
                share = [name[0]] if name[1] == "Y" else [name[0], name[1]]
                for a in share:
                    out[i, m * len(alleles) + alleles.index(a)] += p / len(share)
    return out


@pytest.mark.parametrize("genotypes, alleles", [(F2, ("S", "B")), (F2_X, ("S", "B")),
                                                (x_genotype_sets(DO)[1], DO_ALLELES)])
def test_genoprob_to_alleleprob_oracle_and_sums(genotypes, alleles):
    rng = np.random.default_rng(len(genotypes))
    n, q = 7, 5
    probs = rng.dirichlet(np.ones(len(genotypes)), size=(n, q)).reshape(n, -1)
    got = genoprob_to_alleleprob(probs, genotypes, alleles)
    assert got.shape == (n, q * len(alleles))
    np.testing.assert_allclose(got, _oracle(probs, genotypes, list(alleles)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(got.reshape(n, q, -1).sum(axis=2), 1.0, rtol=0, atol=1e-14)
    assert (got >= 0).all()


def test_genoprob_to_alleleprob_shape_errors():
    with pytest.raises(InputError, match=r"not \(n, markers x 3 genotypes\)"):
        genoprob_to_alleleprob(np.ones((2, 4)), F2, ("S", "B"))
    with pytest.raises(InputError, match=r"not \(n, markers x 3 genotypes\)"):
        genoprob_to_alleleprob(np.ones(6), F2, ("S", "B"))

"""The scan's extra covariates as the workflow reads them (lmm.pipeline.scan_covariates): the X
covariates aligned to the analysed individuals, and the interactive covariates added to the
covariate columns; each bad value stopped with a message naming the file, the key, the column
and the ids."""

import numpy as np
import pandas as pd
import pytest

from lmm.errors import InputError
from lmm.pipeline.scan_covariates import align_x_covariates, covariate_columns_with_interactive


def _table(**columns):
    return pd.DataFrame(columns, index=pd.Index(["a", "b", "c"], name="id"))


def test_x_covariates_are_aligned_to_the_analysed_individuals():
    values, names = align_x_covariates(_table(sex=[0, 1, 1], dir=[1, 0, 1]), ["c", "a"], path="x.csv")
    assert names == ("sex", "dir")
    np.testing.assert_array_equal(values, [[1, 1], [0, 1]])


def test_x_covariate_file_missing_ids_is_an_error_naming_them():
    with pytest.raises(InputError, match=r"The X covariate file 'x.csv' \(config 'x_covariates'\) lacks 2 of "
                                         r"the 3 analysed individuals: .*'d'.*'e'"):
        align_x_covariates(_table(sex=[0, 1, 1]), ["a", "d", "e"], path="x.csv")


@pytest.mark.parametrize("column, match", [
    ([0, np.nan, 1], r"missing values in column 'sex' at ids .*'b'"),
    (["0", "male", "1"], r"non-numeric values in column 'sex' at ids .*'b'"),
])
def test_bad_x_covariate_values_name_the_column_and_ids(column, match):
    with pytest.raises(InputError, match=match):
        align_x_covariates(_table(sex=column), ["a", "b", "c"], path="x.csv")


def test_x_covariate_file_without_columns_or_with_repeated_ids():
    with pytest.raises(InputError, match="has no covariate columns"):
        align_x_covariates(_table(), ["a"], path="x.csv")
    twice = pd.DataFrame({"sex": [0, 1]}, index=pd.Index(["a", "a"], name="id"))
    with pytest.raises(InputError, match="lists ids more than once: .*'a'"):
        align_x_covariates(twice, ["a"], path="x.csv")


def test_interactive_covariates_are_added_to_the_covariate_columns():
    assert covariate_columns_with_interactive(["age"], ["sex"], ["age", "sex", "diet"], path="c.csv") == ["age", "sex"]
    assert covariate_columns_with_interactive(["sex"], ["sex"], ["age", "sex"], path="c.csv") == ["sex"]
    assert covariate_columns_with_interactive(None, ["sex"], ["age", "sex"], path="c.csv") is None
    assert covariate_columns_with_interactive(["age"], None, ["age", "sex"], path="c.csv") == ["age"]


def test_an_interactive_covariate_that_is_not_a_column_is_an_error():
    with pytest.raises(InputError, match=r"Config 'interactive_covariates' names columns that are not in the "
                                         r"covariate file 'c.csv': 'diet'\. The file's columns are 'age', 'sex'"):
        covariate_columns_with_interactive(None, ["diet"], ["age", "sex"], path="c.csv")
    with pytest.raises(InputError, match="config 'covariates' names no file"):
        covariate_columns_with_interactive(None, ["sex"], None, path=None)

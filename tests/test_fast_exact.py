"""sim/fast/exact.py: the int64 road and the Python-integer road give Python's own integers, at and
beyond the 64-bit edge, and a column turns into Python integers instead of wrapping."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.fast.exact import INT64_MAX, add, add_into, add_one, dot, product, put, put_one, sub, total

EDGE = 2**63
# values that sit near the edges that matter: small, around 2^31/2^32 (the split sums), around 2^63, beyond
ints = st.one_of(st.integers(-1000, 1000), st.integers(-(2**33), 2**33), st.integers(-EDGE - 5, EDGE + 5),
                 st.integers(-(2**63) * 2**40, 2**63 * 2**40), st.sampled_from([INT64_MAX, -EDGE, EDGE, 2**62]))


def _arrays(values, as_int64):
    """The same values as an int64 array when they fit and ``as_int64``, else as Python integers."""
    if as_int64 and all(-EDGE <= v <= INT64_MAX for v in values):
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _same(result, expected):
    assert [int(v) for v in np.asarray(result).tolist()] == expected
    if isinstance(result, np.ndarray) and result.dtype == np.int64:  # the int64 road only when it was exact
        assert all(-EDGE <= v <= INT64_MAX for v in expected)


pairs = st.integers(0, 12).flatmap(lambda n: st.tuples(st.lists(ints, min_size=n, max_size=n),
                                                       st.lists(ints, min_size=n, max_size=n), st.booleans(),
                                                       st.booleans()))


@settings(max_examples=300, deadline=None)
@given(pairs)
def test_add_sub_and_product_are_pythons_integers(case):
    a, b, a64, b64 = case
    x, y = _arrays(a, a64), _arrays(b, b64)
    _same(add(x, y), [p + q for p, q in zip(a, b)])
    _same(sub(x, y), [p - q for p, q in zip(a, b)])
    _same(product(x, y), [p * q for p, q in zip(a, b)])
    _same(product(x, y, x), [p * q * p for p, q in zip(a, b)])


@settings(max_examples=300, deadline=None)
@given(pairs)
def test_sums_and_dot_products_are_pythons_integers(case):
    a, b, a64, b64 = case
    x, y = _arrays(a, a64), _arrays(b, b64)
    assert total(x) == sum(a) and type(total(x)) is int
    assert dot(x, y) == sum(p * q for p, q in zip(a, b))


def test_a_sum_of_many_large_int64_values_does_not_wrap():
    values = np.full(1000, INT64_MAX, dtype=np.int64)
    assert total(values) == 1000 * INT64_MAX
    assert total(-values - 1) == -1000 * EDGE
    index = np.array([2**40 + 7, 2**40, 2**40 + 3 * 10**9], dtype=np.int64)  # close accrual indices
    weight = np.array([10**10, 3 * 10**10, 7], dtype=np.int64)
    assert dot(weight, index) == sum(int(w) * int(i) for w, i in zip(weight, index))


def test_a_python_integer_meets_an_array():
    big = np.array([1, 2**62], dtype=np.int64)
    _same(sub(2**64, big), [2**64 - 1, 2**64 - 2**62])
    _same(add(5, big), [6, 2**62 + 5])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), ints), min_size=1, max_size=30))
def test_a_column_becomes_python_integers_instead_of_wrapping(steps):
    column = np.zeros(6, dtype=np.int64)
    expected = [0] * 6
    for row, value in steps:
        if value % 3 == 0:
            column = put_one(column, row, value) if value % 2 else put(column, np.array([row]), _arrays([value], True))
            expected[row] = value
            continue
        if value % 2:
            column = add_one(column, row, value)
        else:
            column = add_into(column, np.array([row]), _arrays([value], True))
        expected[row] += value
        assert [int(v) for v in column.tolist()] == expected
    if column.dtype == np.int64:
        assert all(-EDGE <= v <= INT64_MAX for v in expected)

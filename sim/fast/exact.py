"""Exact integer arithmetic over arrays: machine integers where every value provably fits, Python
integers where one does not.

The pool's and the yield monitor's amounts (wei, yield, accrual indices) can outgrow 64 bits, so the
core keeps them in numpy ``object`` arrays of Python integers, or in ``int64`` columns that turn into
Python integers the first time a value would leave 64 bits (:func:`add_into`). Most of a round's
arithmetic still fits: a holder's sats times a day of index times a multiplier is about 10^18. Each
helper takes the ``int64`` road when a bound computed from its operands' largest magnitudes (in Python
integers, so the bound itself cannot overflow) shows that no result can leave it, and the ``object``
road otherwise. Both roads give the same integers; ``tests/test_fast_exact.py`` holds them to
Python's arithmetic at and beyond the 64-bit edge.
"""

from __future__ import annotations

import operator

import numpy as np

INT64_MAX = 2**63 - 1


def _array(values) -> np.ndarray:
    return values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)


def _int64(values: np.ndarray) -> np.ndarray | None:
    """``values`` as ``int64`` if each fits, else None."""
    if values.dtype == np.int64:
        return values
    try:
        return values.astype(np.int64)
    except OverflowError:  # a Python integer beyond 64 bits
        return None


def _magnitude(values: np.ndarray) -> int:
    """The largest absolute value of an ``int64`` array, as a Python integer (0 for none)."""
    if not values.size:
        return 0
    return max(int(values.max()), -int(values.min()))


def _objects(values: np.ndarray) -> np.ndarray:
    return values if values.dtype == object else values.astype(object)


def _sum_or_difference(combine, a, b) -> np.ndarray:
    a, b = _array(a), _array(b)
    small_a, small_b = _int64(a), _int64(b)
    if small_a is not None and small_b is not None and _magnitude(small_a) + _magnitude(small_b) <= INT64_MAX:
        return combine(small_a, small_b)
    return combine(_objects(a), _objects(b))


def add(a, b) -> np.ndarray:
    """``a + b`` elementwise, exactly (arrays, or a Python integer and an array)."""
    return _sum_or_difference(operator.add, a, b)


def sub(a, b) -> np.ndarray:
    """``a - b`` elementwise, exactly (arrays, or a Python integer and an array)."""
    return _sum_or_difference(operator.sub, a, b)


def product(*factors: np.ndarray) -> np.ndarray:
    """The elementwise product of integer arrays, exactly."""
    factors = [_array(f) for f in factors]
    small = [_int64(f) for f in factors]
    if all(s is not None for s in small):
        bound = 1
        for s in small:
            bound *= _magnitude(s)
        if bound <= INT64_MAX:
            out = small[0]
            for s in small[1:]:
                out = out * s
            return out
    out = _objects(factors[0])
    for f in factors[1:]:
        out = out * _objects(f)
    return out


def total(values: np.ndarray) -> int:
    """The exact sum of an integer array, as a Python integer. An ``int64`` array is summed as its high
    and low 32 bits (each partial sum fits for fewer than 2^31 values)."""
    small = _int64(values)
    if small is None:
        return sum(values.tolist())
    if len(small) * _magnitude(small) <= INT64_MAX:
        return int(small.sum())
    return (int((small >> 32).sum()) << 32) + int((small & 0xFFFF_FFFF).sum())


def dot(a: np.ndarray, b: np.ndarray) -> int:
    """The exact sum of ``a * b``, as a Python integer. ``b`` is shifted by its smallest value first
    (``sum(a * b) = sum(a * (b - b0)) + b0 * sum(a)``), which keeps close values such as accrual indices
    within 64 bits."""
    small_b = _int64(_array(b))
    if small_b is not None and len(small_b):
        low, high = int(small_b.min()), int(small_b.max())
        if high - low <= INT64_MAX:
            return total(product(a, small_b - low)) + low * total(a)
    return total(product(a, b))


def add_into(column: np.ndarray, index, values) -> np.ndarray:
    """``column[index] += values`` exactly (``index`` without repeats); returns the column, which is an
    ``int64`` column until a sum would leave 64 bits and a column of Python integers from then on."""
    return put(column, index, add(column[index], values))


def add_one(column: np.ndarray, i: int, value: int) -> np.ndarray:
    """``column[i] += value`` for one Python integer: :func:`add_into` for a single row."""
    return put_one(column, i, int(column[i]) + value)


def put(column: np.ndarray, index, values) -> np.ndarray:
    """``column[index] = values`` exactly; returns the column (Python integers from the first value that
    does not fit ``int64`` on)."""
    values = _array(values)
    if column.dtype != object:
        small = _int64(values)
        if small is not None:
            column[index] = small
            return column
        column = column.astype(object)
    column[index] = values
    return column


def put_one(column: np.ndarray, i: int, value: int) -> np.ndarray:
    """``column[i] = value`` for one Python integer: :func:`put` for a single row."""
    if column.dtype != object and not -INT64_MAX - 1 <= value <= INT64_MAX:
        column = column.astype(object)
    column[i] = value
    return column

"""Uniform integer draws of any size from a world's generator.

``numpy``'s ``Generator.integers`` works in int64, so a range such as ``prepay_wei = [10**18, 10**19]``
(wei amounts are uint256) would overflow it. :func:`uniform_int` keeps numpy's draw, and therefore
every existing run's event log, for ranges whose exclusive upper bound fits in int64, and draws larger
ranges exactly from the same generator with rejection sampling over random bytes.
"""

from __future__ import annotations

import numpy as np

_INT64_BOUND = 2**63


def uniform_int(rng: np.random.Generator, low: int, high: int) -> int:
    """A uniform integer in ``[low, high]`` (both inclusive); ``low`` when ``high <= low``."""
    if high <= low:
        return int(low)
    if -_INT64_BOUND <= low and high < _INT64_BOUND:
        return int(rng.integers(low, high + 1))
    span = high - low + 1
    bits = (span - 1).bit_length()
    size = (bits + 7) // 8
    excess = size * 8 - bits
    while True:  # accepts with probability > 1/2 per try
        value = int.from_bytes(rng.bytes(size), "big") >> excess
        if value < span:
            return low + value

"""The one percentile definition of summaries, reports and gas tables: nearest rank over a multiset.

Values are kept as ``value -> count`` (a :class:`collections.Counter`), which bounds memory by the
number of distinct values; the quantile ``q`` is ``sorted(values)[round(q * (n - 1))]``.
"""

from __future__ import annotations

from collections import Counter


def nearest_rank(counts: Counter, q: float):
    """The value at quantile ``q`` in [0, 1] of the multiset ``counts``; None when it is empty."""
    total = sum(counts.values())
    if not total:
        return None
    rank = min(total - 1, int(q * (total - 1) + 0.5))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen > rank:
            return value
    return None

"""Waiting for the next arrival of a Poisson stream whose rate may change while it waits."""

from __future__ import annotations

import numpy as np

#: Longest wait before a caller recomputes its rate (its population may have grown meanwhile).
RATE_RECHECK_S = 600


def next_arrival(env, rng: np.random.Generator, rate_per_s: float):
    """SimPy sub-process (``yield from``): wait for the next arrival at ``rate_per_s`` (> 0).

    Returns True when an arrival is due now. A gap longer than :data:`RATE_RECHECK_S` is cut short
    and returns False, so the caller recomputes its rate and waits again; waiting is memoryless, so
    cutting it short does not change the stream. Gaps are whole seconds.
    """
    gap = rng.exponential(1.0 / rate_per_s)
    if gap > RATE_RECHECK_S + 0.5:  # round(gap) > RATE_RECHECK_S, also when a tiny rate makes gap infinite
        yield env.timeout(RATE_RECHECK_S)
        return False
    yield env.timeout(int(round(gap)))
    return True

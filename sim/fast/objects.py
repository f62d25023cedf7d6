"""The fast engine and Python's cyclic garbage collector.

A long world holds millions of small long-lived containers (each address's coins, pending
transactions, per-user sets), and each block allocates a few thousand more. CPython's default
collector then rescans the long-lived ones over and over: measured on the outside world's chain, a
block of 700 transactions took 10 µs per transaction with the collector as it is and 0.9 µs with
the objects already alive moved out of its sight (``gc.freeze``), the same 0.8 µs as with no
collector at all (``tests/test_fast_engine.py`` holds the engine's outcome, ``bench`` the time).

So both of the engine's processes :func:`settle` after every block's batch: what is alive then is
frozen, and the collector looks only at what the next block allocates. Nothing the engine keeps
forms reference cycles, so freezing loses nothing that reference counting would not free; a
world's :meth:`~sim.fast.world.FastWorld.run` ends with :func:`release`, which hands every frozen
object back to the collector (a process running many worlds — the tests, a sweep's worker — keeps
its usual collection).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Move every object alive now out of the cyclic collector's generations (``gc.freeze``)."""
    gc.freeze()


def release() -> None:
    """Give the frozen objects back to the collector's oldest generation (``gc.unfreeze``)."""
    gc.unfreeze()

"""Gas per function: what each kind of transaction cost over a run, kept beside the event log.

Gas is not part of the event log (its digest must be the same on every backend, and only py-evm
meters transaction gas), so the world's recorder feeds :class:`GasTable` instead: one row per
``(contract, function)`` with the count of successful transactions, their gas (min, mean, p50, p95,
max) and, separately, how many reverted. A reverted call is counted but not measured: what it costs
depends on how far it got, which says nothing about the function's cost.
"""

from __future__ import annotations

from collections import Counter

from sim.quantiles import nearest_rank

#: What the figures are, as summary.json and the report state it.
UNIT = ("gas per successful transaction, as its receipt's gasUsed: the 21,000 intrinsic cost and calldata "
        "included, storage refunds deducted (EIP-3529 cap), each call metered cold as its own transaction "
        "(like Foundry's gas report with its default isolation)")


class GasTable:
    """Gas of every transaction of a run, per ``(contract, function)``; values kept as counts."""

    def __init__(self):
        self._gas: dict[tuple[str, str], Counter] = {}
        self._reverted: Counter = Counter()

    def record(self, contract: str, function: str, gas: int) -> None:
        key = (contract, function)
        counts = self._gas.get(key)
        if counts is None:
            counts = self._gas[key] = Counter()
        counts[gas] += 1

    def reverted(self, contract: str, function: str) -> None:
        self._reverted[(contract, function)] += 1

    @property
    def metered(self) -> bool:
        return bool(self._gas)

    def rows(self) -> list[dict]:
        """One dict per function, sorted by contract and function name."""
        out = []
        for contract, function in sorted(set(self._gas) | set(self._reverted)):
            counts = self._gas.get((contract, function), Counter())
            count = sum(counts.values())
            row = {"contract": contract, "function": function, "count": count,
                   "min": None, "mean": None, "p50": None, "p95": None, "max": None,
                   "reverted": self._reverted[(contract, function)]}
            if count:
                row.update(min=min(counts), mean=round(sum(g * n for g, n in counts.items()) / count),
                           p50=nearest_rank(counts, 0.5), p95=nearest_rank(counts, 0.95), max=max(counts))
            out.append(row)
        return out

    def summary(self) -> dict | None:
        """summary.json's ``gas``: the unit and the rows; None if the backend metered nothing."""
        if not self.metered:
            return None
        return {"unit": UNIT, "functions": self.rows()}

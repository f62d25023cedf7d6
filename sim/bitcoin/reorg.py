"""What a reorg does to the transactions of the blocks it replaces.

A reorg of depth ``k`` disconnects the last ``k`` blocks and connects a competing branch. Each
transaction of the disconnected blocks meets one *fate* (:class:`Fate`), chosen by a
:class:`ReorgPolicy` — explicitly per txid, or drawn from the world's generator — and then made
consistent with its parents' fates by :func:`plan_fates`: a child cannot be confirmed before its
parent, and cannot exist at all once its parent is gone. The chain
(:meth:`sim.bitcoin.chain.BitcoinChain.reorg`) carries the plan out and reports it as a
:class:`ReorgResult`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import numpy as np
from attrs import define, field

from .block import Block
from .transactions import Transaction

__all__ = ["Fate", "ReorgPolicy", "ReorgResult", "plan_fates"]


class Fate(enum.Enum):
    """What becomes of a transaction of a disconnected block.

    KEEP: confirmed again, in the replacement block at the same position in the branch.
    DELAY: confirmed later — in the last block of the new branch (so with fewer confirmations).
    DROP: not in the new branch; back to the mempool, where it keeps its old place in the queue.
    VANISH: not in the new branch and not in the mempool: it is gone.
    DOUBLE_SPEND: a conflicting transaction spending the same inputs to another address is
        confirmed in its place (for a deposit: the external source takes the coins back).
    INVALIDATED: only as an outcome, never requested: the transaction depended on one that
        vanished or was double-spent, so it can no longer be valid.
    """

    KEEP = "keep"
    DELAY = "delay"
    DROP = "drop"
    VANISH = "vanish"
    DOUBLE_SPEND = "double-spend"
    INVALIDATED = "invalidated"


_REMOVED = frozenset({Fate.VANISH, Fate.DOUBLE_SPEND, Fate.INVALIDATED})


def _fates_converter(value: Mapping[str, Fate | str] | tuple[tuple[str, Fate], ...] | None):
    items = value.items() if isinstance(value, Mapping) else (value or ())
    converted = tuple(sorted((str(txid), Fate(fate)) for txid, fate in items))
    for txid, fate in converted:
        if fate is Fate.INVALIDATED:
            raise ValueError(f"fate of {txid}: INVALIDATED is an outcome and cannot be requested")
    return converted


def _probability(instance: object, attribute: object, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value}")  # type: ignore[attr-defined]


@define(frozen=True)
class ReorgPolicy:
    """How a reorg treats the transactions of the blocks it replaces.

    Attributes:
        new_length: blocks in the competing branch; ``None`` means ``depth + 1``. It must be at
            least ``depth`` (a shorter branch would not win).
        p_drop, p_vanish, p_delay, p_double_spend: probabilities of each fate for a transaction
            without an explicit fate; the rest is KEEP. One ``rng.random()`` is drawn per
            disconnected transaction, in chain order, and mapped through the cumulative
            probabilities in the order drop, vanish, delay, double-spend. Their sum must be <= 1.
        double_spend_kinds: the transaction kinds a *random* draw may double-spend (by default
            only deposits: "the source reverses the deposit"); other kinds drawing it are kept.
        double_spend_to: where the conflicting transaction of a non-deposit sends the coins;
            ``None`` draws a fresh P2WPKH address from the generator. A deposit's conflict always
            pays its external source back.
        fates: explicit fates by txid (a mapping is accepted), overriding the draw.
    """

    new_length: int | None = None
    p_drop: float = field(default=0.0, validator=_probability)
    p_vanish: float = field(default=0.0, validator=_probability)
    p_delay: float = field(default=0.0, validator=_probability)
    p_double_spend: float = field(default=0.0, validator=_probability)
    double_spend_kinds: tuple[str, ...] = field(default=("deposit",), converter=tuple)
    double_spend_to: str | None = None
    fates: tuple[tuple[str, Fate], ...] = field(default=(), converter=_fates_converter)

    def __attrs_post_init__(self) -> None:
        total = self.p_drop + self.p_vanish + self.p_delay + self.p_double_spend
        if total > 1.0 + 1e-12:
            raise ValueError(f"reorg fate probabilities sum to {total}, more than 1")
        if self.new_length is not None and self.new_length < 1:
            raise ValueError(f"new_length must be >= 1, got {self.new_length}")

    def branch_length(self, depth: int) -> int:
        """Blocks in the competing branch for a reorg of ``depth``."""
        length = depth + 1 if self.new_length is None else self.new_length
        if length < depth:
            raise ValueError(f"a branch of {length} blocks cannot replace {depth} blocks")
        return length

    def drawn(self, tx: Transaction, draw: float) -> Fate:
        """The fate a uniform ``draw`` in [0, 1) selects for ``tx`` (ignoring explicit fates)."""
        edge = self.p_drop
        if draw < edge:
            return Fate.DROP
        edge += self.p_vanish
        if draw < edge:
            return Fate.VANISH
        edge += self.p_delay
        if draw < edge:
            return Fate.DELAY
        edge += self.p_double_spend
        if draw < edge and tx.kind in self.double_spend_kinds:
            return Fate.DOUBLE_SPEND
        return Fate.KEEP


def plan_fates(
    txs: list[Transaction], rng: np.random.Generator, policy: ReorgPolicy
) -> list[tuple[Transaction, Fate]]:
    """Give every transaction of the disconnected blocks (in chain order) its effective fate.

    Draws exactly one ``rng.random()`` per transaction. Then, walking in chain order:

    * a transaction spending an output of one that vanished, was double-spent or was
      invalidated is INVALIDATED;
    * otherwise a requested VANISH stands;
    * otherwise, if a parent was DROPped, it is DROPped too (it can only follow its parent);
    * otherwise, if a parent was DELAYed, a KEEP or DOUBLE_SPEND becomes DELAY (a DROP stands);
    * otherwise the requested fate stands.
    """
    draws = rng.random(len(txs)) if txs else np.empty(0)
    explicit = dict(policy.fates)
    effective: dict[str, Fate] = {}
    plan: list[tuple[Transaction, Fate]] = []
    for tx, draw in zip(txs, draws):
        fate = explicit.get(tx.txid) or policy.drawn(tx, float(draw))
        parent_fates = {
            effective[txin.prevout.txid] for txin in tx.inputs if txin.prevout.txid in effective
        }
        if parent_fates & _REMOVED:
            fate = Fate.INVALIDATED
        elif fate is Fate.VANISH:
            pass
        elif Fate.DROP in parent_fates:
            fate = Fate.DROP
        elif Fate.DELAY in parent_fates and fate in (Fate.KEEP, Fate.DOUBLE_SPEND):
            fate = Fate.DELAY
        effective[tx.txid] = fate
        plan.append((tx, fate))
    return plan


@define(frozen=True)
class ReorgResult:
    """What a reorg changed.

    Attributes:
        reorg_number: 1 for the chain's first reorg, 2 for the second, ...
        depth: blocks disconnected; ``fork_height`` is the height of the last common block.
        old_tip_height, old_tip_hash, new_tip_height, new_tip_hash: the tips before and after.
        disconnected: the replaced blocks, lowest first; ``connected``: the new branch, lowest
            first.
        fates: every transaction of the disconnected blocks with its effective fate, in chain order.
        kept, delayed, dropped, vanished: txids by fate (``dropped`` went back to the mempool).
        double_spent: ``(original txid, conflicting txid)`` pairs; the conflicts are confirmed in
            the new branch.
        invalidated: txids removed because they depended on a vanished or double-spent
            transaction — from the disconnected blocks and from the mempool.
        affected_addresses: every address touched by a disconnected or connected block, sorted:
            the only addresses whose confirmed balance (at any ``min_conf``) can differ from before
            the reorg, apart from coins merely maturing as the tip height changes.
        cursor_before, cursor_after: the chain's change cursor before and after (see
            :meth:`sim.bitcoin.chain.BitcoinChain.changes_since`).
    """

    reorg_number: int
    depth: int
    fork_height: int
    old_tip_height: int
    old_tip_hash: str
    new_tip_height: int
    new_tip_hash: str
    disconnected: tuple[Block, ...]
    connected: tuple[Block, ...]
    fates: tuple[tuple[str, Fate], ...]
    kept: tuple[str, ...]
    delayed: tuple[str, ...]
    dropped: tuple[str, ...]
    vanished: tuple[str, ...]
    double_spent: tuple[tuple[str, str], ...]
    invalidated: tuple[str, ...]
    affected_addresses: tuple[str, ...]
    cursor_before: int
    cursor_after: int

    def fate_of(self, txid: str) -> Fate | None:
        """The effective fate of a transaction of the disconnected blocks, else ``None``."""
        for candidate, fate in self.fates:
            if candidate == txid:
                return fate
        return None

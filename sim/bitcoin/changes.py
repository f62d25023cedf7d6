"""The change journal: which addresses' confirmed balances may have changed since a cursor.

Every block connected to or disconnected from the active chain appends one entry, naming the
addresses whose coins that block creates or spends. A *cursor* is a position in this journal
(the number of entries so far); unlike a height it only ever grows, so it stays meaningful across
reorgs. An incremental poller keeps the cursor of its last poll and asks for what changed since.

Why the answer is complete: between two states, an address's coins (and their heights) can only
change through a block that touches it, and those blocks are journaled. An address touched by no
journaled block has the same coins at both ends; its ``min_conf`` balance can still differ only
if one of its coins crossed the ``min_conf`` threshold because the tip height moved, which means
the coin sits in an active block whose height ``h`` satisfies
``min(tip then, tip now) - min_conf + 1 < h <= max(tip then, tip now) - min_conf + 1``. So the
answer is: the addresses of every journal entry after the cursor, plus those of the active blocks
in that height window (empty when the tip height did not move; one block per new block otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from attrs import define

from .block import Block

__all__ = ["JournalEntry", "ChangeSet", "ChangeJournal"]


@define(frozen=True)
class JournalEntry:
    """One block connected (``action == "connect"``) or disconnected (``"disconnect"``).

    ``cursor`` is the journal length after this entry; ``tip_height`` the tip after it.
    """

    cursor: int
    action: str
    height: int
    block_hash: str
    addresses: tuple[str, ...]
    tip_height: int


@define(frozen=True)
class ChangeSet:
    """The answer to "what changed since cursor ``since``".

    ``addresses`` (sorted) is a superset of the addresses whose confirmed balance at
    ``min_conf`` differs between the state at ``since`` and now (``cursor``, ``tip_height``,
    ``tip_hash``). ``reorged`` is true when a block was disconnected in between. Store
    ``cursor`` and pass it as ``since`` next time.
    """

    since: int
    cursor: int
    min_conf: int
    tip_height: int
    tip_hash: str
    addresses: tuple[str, ...]
    reorged: bool


class ChangeJournal:
    """Append-only list of :class:`JournalEntry`, with the change query."""

    def __init__(self, genesis_height: int = 0) -> None:
        self._entries: list[JournalEntry] = []
        self._genesis_height = genesis_height

    @property
    def cursor(self) -> int:
        """The current position: the number of entries so far."""
        return len(self._entries)

    def record(self, action: str, block: Block, tip_height: int) -> JournalEntry:
        entry = JournalEntry(
            cursor=len(self._entries) + 1,
            action=action,
            height=block.height,
            block_hash=block.hash,
            addresses=block.addresses,
            tip_height=tip_height,
        )
        self._entries.append(entry)
        return entry

    def entries_since(self, cursor: int) -> list[JournalEntry]:
        """The entries after ``cursor``, oldest first."""
        self._check(cursor)
        return self._entries[cursor:]

    def tip_height_at(self, cursor: int) -> int:
        """The tip height when the journal was at ``cursor``."""
        self._check(cursor)
        return self._entries[cursor - 1].tip_height if cursor else self._genesis_height

    def changes_since(
        self,
        cursor: int,
        min_conf: int,
        tip_height: int,
        tip_hash: str,
        block_at: Callable[[int], Block],
        watched: Collection[str] | None = None,
    ) -> ChangeSet:
        """See the module docstring; ``block_at(h)`` returns the active block at height ``h``."""
        self._check(cursor)
        changed: set[str] = set()
        reorged = False
        for entry in self._entries[cursor:]:
            changed.update(entry.addresses)
            reorged = reorged or entry.action == "disconnect"
        then = self.tip_height_at(cursor)
        low, high = min(then, tip_height), max(then, tip_height)
        for height in range(max(1, low - min_conf + 2), min(high - min_conf + 1, tip_height) + 1):
            changed.update(block_at(height).addresses)
        if watched is not None:
            changed.intersection_update(watched)
        return ChangeSet(
            since=cursor,
            cursor=len(self._entries),
            min_conf=min_conf,
            tip_height=tip_height,
            tip_hash=tip_hash,
            addresses=tuple(sorted(changed)),
            reorged=reorged,
        )

    def _check(self, cursor: int) -> None:
        if not 0 <= cursor <= len(self._entries):
            raise ValueError(f"cursor {cursor} is outside 0..{len(self._entries)}")

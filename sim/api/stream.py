"""``/api/realtime/stream``: Server-Sent Events, one per batch of records the indexer committed.

The indexer writes a row to ``index_batches`` in the same transaction as each batch (records per kind
in it, the newest indexed time, the chain heights). One :class:`StreamHub` per app watches that
table — a primary-key lookup every ``poll_s`` seconds, whoever writes the database (the live
indexer of ``rbtc-sim run --serve`` in this process, or an indexer elsewhere) — and sends every new
row to every connected client, encoded once. An event::

    id: <last_seq of the batch>
    event: batch
    data: {"first_seq", "last_seq", "records", "indexed_until", "indexed_until_timestamp", "btc_height",
           "evm_block", "counts": {"btc_blocks", "reorgs", "syncs", "emergency_burns", "needs_topup",
           "disputes_filed", "disputes_resolved", "por_rounds", "violations", "oracle_outages", ...},
           "kinds": {<record kind>: n}}

A client that reconnects with ``Last-Event-ID: N`` (browsers do it by themselves) first gets every
batch after record ``N`` that it missed, oldest first (at most :data:`REPLAY_LIMIT`; past that one
``reset`` event tells it to reload), then the live ones. A new client gets a ``ready`` event whose id
is the newest committed record, so its own reconnection resumes from there. A comment line every
``keepalive_s`` keeps proxies from closing a quiet stream. A client too slow to take its events
(:data:`QUEUE_LIMIT` behind) is disconnected; it reconnects and resumes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Callable

from sim.api.queries import iso

REPLAY_LIMIT = 1_000
QUEUE_LIMIT = 256
_MAX_ID = 10**18


def parse_last_event_id(value: str | None) -> int | None:
    """The record after which to resume, or None for no (or an unusable) ``Last-Event-ID``."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 19 or not text.isascii() or not text.lstrip("-").isdigit():
        return None
    number = int(text)
    return number if -1 <= number < _MAX_ID else None


def batch_event(row: dict) -> dict:
    kinds = json.loads(row["counts"])
    return {
        "first_seq": row["first_seq"], "last_seq": row["last_seq"],
        "records": sum(v for k, v in kinds.items() if ":" not in k),
        "indexed_until": iso(row["latest_at"]), "indexed_until_timestamp": row["latest_at"],
        "btc_height": row["btc_height"], "evm_block": row["evm_block"],
        "counts": {
            "btc_blocks": kinds.get("btc_block", 0), "reorgs": kinds.get("btc_reorg", 0),
            "syncs": kinds.get("oracle_op:sync", 0), "emergency_burns": kinds.get("oracle_op:emergency_burn", 0),
            "needs_topup": kinds.get("oracle_op:needs_topup", 0), "disputes_filed": kinds.get("dispute_filed", 0),
            "disputes_resolved": kinds.get("dispute_resolved", 0), "por_rounds": kinds.get("por_published", 0),
            "violations": kinds.get("invariant_violation", 0), "oracle_outages": kinds.get("oracle_outage", 0),
            "oracle_rounds": kinds.get("oracle_round", 0),
        },
        "kinds": {k: v for k, v in sorted(kinds.items()) if ":" not in k},
    }


def encode(event: str, ident: int | None, data: dict) -> bytes:
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class StreamHub:
    """Fans committed batches out to the connected clients of one app (one event loop)."""

    def __init__(self, read_after: Callable, newest: Callable, *, poll_s: float = 0.25, keepalive_s: float = 15.0):
        #: ``await read_after(seq, limit)`` -> batch rows after ``seq``; ``await newest()`` -> last seq or None
        self.read_after, self.newest = read_after, newest
        self.poll_s, self.keepalive_s = poll_s, keepalive_s
        self.clients: set[asyncio.Queue] = set()
        self.last_seq: int | None = None
        self._task: asyncio.Task | None = None
        self.sent = 0

    async def subscribe(self, resume_after: int | None) -> tuple[asyncio.Queue, list[bytes]]:
        """A new client's queue and what to send it first (its missed batches, or ``ready``)."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        if self._task is None or self._task.done():  # nobody was watching: start from where the index is
            self.last_seq = await self.newest()
        current = self.last_seq
        first: list[bytes] = []
        if resume_after is not None and (current is None or resume_after < current):
            rows = await self.read_after(resume_after, REPLAY_LIMIT + 1)
            rows = [r for r in rows if current is None or r["last_seq"] <= current]
            if len(rows) > REPLAY_LIMIT:
                first.append(encode("reset", current, {"reason": f"more than {REPLAY_LIMIT} batches were missed; "
                                                                  "reload the state", "last_seq": current}))
            else:
                first.extend(encode("batch", r["last_seq"], batch_event(r)) for r in rows)
        else:
            first.append(encode("ready", current, {"last_seq": current}))
        self.clients.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())
        return queue, first

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.clients.discard(queue)

    async def _watch(self) -> None:
        while self.clients:
            await asyncio.sleep(self.poll_s)
            try:
                rows = await self.read_after(-1 if self.last_seq is None else self.last_seq, REPLAY_LIMIT)
            except Exception:  # noqa: BLE001 - a database hiccup: try again at the next poll
                continue
            for row in rows:
                self.publish(encode("batch", row["last_seq"], batch_event(row)))
                self.last_seq = row["last_seq"]

    def publish(self, message: bytes) -> None:
        for queue in list(self.clients):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # too slow: drop it; it reconnects with Last-Event-ID
                self.clients.discard(queue)
                _close(queue)
        self.sent += 1

    async def events(self, queue: asyncio.Queue, first: list[bytes]):
        """The byte chunks of one client's response."""
        try:
            for chunk in first:
                yield chunk
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), self.keepalive_s)
                except asyncio.TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if chunk is None:
                    return
                yield chunk
        finally:
            self.unsubscribe(queue)


def _close(queue: asyncio.Queue) -> None:
    """Make room for the end-of-stream marker in a full queue."""
    try:
        queue.get_nowait()
    except asyncio.QueueEmpty:
        pass
    queue.put_nowait(None)

"""The fast engine's event log: typed record batches, one canonical serializer, a running digest.

A *batch* is ``n`` records of one typed kind that happened at the same simulated second, held as
columns (a numpy ``int64`` array, a list of Python ints or strings, or one value for every row).
Its canonical bytes are the kind, ``t``, ``n`` and every column in field order, integers as
little-endian ``int64`` when the column is an ``int64`` array and as decimal text otherwise (so wei
amounts beyond 64 bits stay exact). The digest is SHA-256 over those bytes in emission order: a
log with a billion records costs one hash update per batch, not one JSON encoding per record.
Rare records (a reorg, a dispute, a violation) are single-row batches of the generic kind ``rec``,
whose canonical bytes are the reference log's canonical JSON.

With a full log (``--log full``) or a listener attached (tests, the live indexer), every batch is
also *rendered* into the reference engine's record dicts (``evm_tx`` with its decoded events,
``oracle_op``, ``btc_tx``…) and written to ``events.jsonl`` in the reference format, so the
indexer, the API and the report read a fast run like any other. The digest does not depend on
whether the log is rendered.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np

from sim.eventlog import EventLog, canonical

ZERO = "0x" + "00" * 20
EMERGENCY_REASON = "Insufficient fees"
USDT_SCALE = 100


class Context:
    """What rendering needs besides the columns: account names and the clock."""

    def __init__(self, contracts: dict, committee: str, users: list, addresses: list, block_time_s: int,
                 genesis: int):
        self.contracts, self.committee, self.users, self.addresses = contracts, committee, users, addresses
        self.block_time_s, self.genesis = block_time_s, genesis


def _column_bytes(name: str, column, n: int) -> bytes:
    head = name.encode() + b"="
    if isinstance(column, np.ndarray):
        if column.dtype == object:
            return head + b"I" + ",".join(map(str, column.tolist())).encode() + b";"
        return head + b"i" + np.ascontiguousarray(column, dtype="<i8").tobytes() + b";"
    if isinstance(column, list):
        return head + b"L" + "\x1f".join(map(str, column)).encode() + b";"
    return head + b"c" + str(column).encode() + b";"


class FastLog(EventLog):
    """Counts records, keeps the digest, and renders batches when anyone reads them. The file, the
    listeners and the digest's reading are :class:`~sim.eventlog.EventLog`'s; what enters the digest
    (typed batches) and when a record is rendered differ."""

    def __init__(self, path: Path | str | None = None, *, keep: bool = False, flush_every: int = 4096):
        super().__init__(path, keep=keep, flush_every=flush_every)
        self.context: Context | None = None
        self._rendered = 0
        self._evm_block = -1
        self._evm_index = 0

    @property
    def rendering(self) -> bool:
        return self.keep or self._file is not None or bool(self._listeners)

    # ------------------------------------------------------------------ writing

    def record(self, t: int, kind: str, **fields) -> None:
        """One generic record, in the reference log's format (``seq`` aside)."""
        record = {"t": t, "kind": kind, **fields}
        self._digest.update(b"rec:" + canonical(record).encode() + b"\n")
        self.count += 1
        if self.rendering:
            self._emit(record)

    def append(self, t: int, kind: str, **fields) -> None:
        """The reference :class:`~sim.eventlog.EventLog`'s name for :meth:`record` (the violation sink uses it)."""
        self.record(t, kind, **fields)

    def batch(self, kind: str, t, n: int, **columns) -> None:
        """``n`` typed records of ``kind`` at second ``t`` (or at the seconds of an ``int64`` array ``t``)."""
        if n <= 0:
            return
        per_row = isinstance(t, np.ndarray)
        parts = [b"batch:", kind.encode(), b"|", b"" if per_row else str(t).encode(), b"|", str(n).encode(), b"|"]
        if per_row:
            parts.append(_column_bytes("t", t, n))
        parts.extend(_column_bytes(name, column, n) for name, column in columns.items())
        parts.append(b"\n")
        self._digest.update(b"".join(parts))
        self.count += n * ROWS_ARE_RECORDS.get(kind, 1)
        if self.rendering:
            for i in range(n):
                row = {name: (col[i] if isinstance(col, (list, np.ndarray)) else col) for name, col in columns.items()}
                for name, value in row.items():
                    if isinstance(value, np.generic):
                        row[name] = value.item()
                for record in RENDER[kind](self.context, int(t[i]) if per_row else t, row):
                    self._emit(record)

    def _emit(self, record: dict) -> None:
        if record["kind"] == "evm_tx":
            self._place_tx(record)
        record = {"seq": self._rendered, **record}
        self._rendered += 1
        if self.keep:
            self.records.append(record)
        if self._file is not None:
            self._pending.append(canonical(record))
            if len(self._pending) >= self._flush_every:
                self.flush()
        for listener in self._listeners:
            listener(record)

    def _place_tx(self, record: dict) -> None:
        """The transaction's position in its EVM block and its hash, as the reference recorder makes them."""
        number = record["block"]
        if number != self._evm_block:
            self._evm_block, self._evm_index = number, 0
        record["index"] = index = self._evm_index
        self._evm_index += 1
        identity = (f"{number}|{index}|{record['from']}|{record['to']}|{record['fn']}|{tuple(record['args'])!r}|"
                    f"{record['value']}")
        record["hash"] = "0x" + hashlib.sha256(identity.encode()).hexdigest()


# ---------------------------------------------------------------------------------------- rendering


def _tx(ctx: Context, t: int, sender: str, contract: str, function: str, args: tuple, events: list,
        value: int = 0, status: str = "ok", error: str | None = None) -> dict:
    record = {"t": t, "kind": "evm_tx", "status": status, "block": 1 + t // ctx.block_time_s, "from": sender,
              "to": contract, "fn": function, "args": args, "value": value, "events": events}
    if error is not None:
        record["error"] = error
    return record


def _scales(ctx, t, scale, usdt, supply, rate):
    return [["YieldScalesPool", "ScalesBalanceUpdated", (USDT_SCALE, scale, ctx.genesis + t)],
            ["YieldScalesPool", "YieldCalculated", (usdt, supply, rate)]]


def _op(ctx, t, op, row, **extra):
    return {"t": t, "kind": "oracle_op", "op": op, "user": ctx.users[row["user"]], "delta": row["delta"],
            "confirmed": row["confirmed"], "recorded": row["recorded"], **extra}


def _render_rec(ctx, t, row):
    return [row["record"]]


def _render_sync(ctx, t, row):
    """A sync that minted or burned (and maybe charged a fee): the tx, then the oracle's op record."""
    user = ctx.users[row["user"]]
    delta, fee, new = row["delta"], row["fee"], row["confirmed"]
    events = [["RBTCSynth", "Transfer", (ZERO, user, delta) if delta > 0 else (user, ZERO, -delta)]]
    if fee > 0:
        events.append(["FeeVault", "Spent", (user, fee, ctx.contracts["OracleAggregator"])])
    block = 1 + t // ctx.block_time_s
    events.append(["OracleAggregator", "Synced", (user, new, delta, fee, block & 0xFFFFFFFF, ctx.genesis + t)])
    return [_tx(ctx, t, ctx.committee, "OracleAggregator", "sync", (user, new, b""), events),
            _op(ctx, t, "sync", row, fee=fee, delay_s=row["delay_s"])]


def _render_emergency(ctx, t, row):
    user = ctx.users[row["user"]]
    burned = row["burned"]
    events = []
    if burned:
        events.append(["RBTCSynth", "Transfer", (user, ZERO, burned)])
    block = 1 + t // ctx.block_time_s
    events += [["OracleAggregator", "EmergencyBurn", (user, burned, EMERGENCY_REASON)],
               ["OracleAggregator", "Synced", (user, 0, -burned, 0, block & 0xFFFFFFFF, ctx.genesis + t)]]
    return [_tx(ctx, t, ctx.committee, "OracleAggregator", "sync", (user, row["confirmed"], b""), events),
            _op(ctx, t, "emergency_burn", row, fee=0, burned=row["recorded"])]


def _render_deferred(ctx, t, row):
    return [_op(ctx, t, "deferred", row)]


def _render_needs_topup(ctx, t, row):
    return [_op(ctx, t, "needs_topup", row, fee=row["fee"])]


def _render_pool_update(ctx, t, row):
    user = ctx.users[row["user"]]
    events = _scales(ctx, t, row["scale"], row["usdt"], row["supply"], row["rate"])
    events.append(["YieldScalesPool", "ContributionUpdated", (user, row["old"], row["new"])])
    return [_tx(ctx, t, ctx.committee, "YieldScalesPool", "updateRBTCContribution", (user, row["new"]), events)]


def _render_pool_join(ctx, t, row):
    user = ctx.users[row["user"]]
    events = _scales(ctx, t, row["scale"], row["usdt"], row["supply"], row["rate"])
    events.append(["YieldScalesPool", "ParticipantJoined", (user, 0, row["new"])])
    return [_tx(ctx, t, ctx.committee, "YieldScalesPool", "joinAsBitcoinHolder", (user,), events)]


def _render_btc_tx(ctx, t, row):
    record = {"t": t, "kind": "btc_tx", "tx_kind": row["tx_kind"], "txid": f"{row['txid']:064x}",
              "user": ctx.users[row["user"]], "address": ctx.addresses[row["address"]], "amount": row["amount"]}
    if row.get("burst"):
        record["burst"] = True
    return [record]


def _render_claim(ctx, t, row):
    user = ctx.users[row["user"]]
    events = _scales(ctx, t, row["scale"], row["usdt"], row["supply"], row["rate"])
    events.append(["YieldScalesPool", "YieldClaimed", (user, row["paid"])])
    return [_tx(ctx, t, user, "YieldScalesPool", "claimYield", (), events)]


#: Reference records one typed row stands for (a sync is its transaction and the oracle's op), so that
#: ``count`` counts what the reference engine counts.
ROWS_ARE_RECORDS = {"sync": 2, "emergency": 2}

RENDER: dict[str, Callable] = {
    "rec": _render_rec,
    "sync": _render_sync,
    "emergency": _render_emergency,
    "deferred": _render_deferred,
    "needs_topup": _render_needs_topup,
    "pool_update": _render_pool_update,
    "pool_join": _render_pool_join,
    "btc_tx": _render_btc_tx,
    "claim": _render_claim,
}

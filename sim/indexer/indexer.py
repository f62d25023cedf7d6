"""The indexer: event-log records in, the tables of :mod:`sim.indexer.schema` out.

It reads a run's ``events.jsonl`` (:func:`index_run`) or follows a live :class:`~sim.eventlog.EventLog`
(:class:`LiveIndexer`), in ``seq`` order, and keeps what the records say in the database.

**Deterministic.** Every value written comes from the records (no wall clock, no random ids); every
primary key is the record ``seq``, a transaction hash and log index, or a natural key. The same
log gives the same table contents, whatever the batch size or how often indexing was interrupted.

**Idempotent and resumable.** The last committed record's ``seq`` (and the SHA-256 of its line) is
kept in ``indexer_meta`` and written in the same transaction as that batch's rows. A record at or
below it is skipped, so indexing the same log twice changes nothing; killed midway, the database
holds exactly the batches that committed, and the next run resumes after the last of them. State
that spans records (balances, vault totals, open disputes…) lives in the tables themselves and is
loaded back when an :class:`Indexer` opens the database; rows are written as absolute values
(upserts), never as increments. A database indexed from one run refuses another run's log.

**Batched.** Rows are collected in memory and written every ``batch_size`` records with one
executemany per table, so a 10,000-user week (~250,000 records) indexes in seconds.

If a commit fails the :class:`Indexer` is left unusable (its memory is ahead of the database):
open a new one, which resumes from what was committed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from sim.eventlog import EventLog, canonical
from sim.indexer import schema as s
from sim.indexer.db import insert_ignore, make_engine, sqlite_url, upsert
from sim.protocol.evm_backend import GENESIS_TIMESTAMP

ZERO_ADDRESS = "0x" + "00" * 20
DEFAULT_BATCH = 10_000

#: Functions whose first argument is the user a transaction is about (the rest: its sender).
_USER_ARG_FUNCTIONS = {
    "sync", "depositETH", "registerAndPrepay", "executeEmergencyBurn", "resetEmergencyBurnStatus",
    "joinAsBitcoinHolder", "joinAsTrader", "updateRBTCContribution", "emergencyBurn", "resolveDispute",
}
_SENDER_FUNCTIONS = {"withdrawUnused", "claimYield", "disputeBalance"}
#: Transaction type of a reverted call, by function.
_CALL_TYPES = {
    "sync": "sync", "depositETH": "deposit", "registerAndPrepay": "deposit", "withdrawUnused": "withdraw",
    "executeEmergencyBurn": "emergency_burn", "resetEmergencyBurnStatus": "emergency_reset",
    "publishRoot": "publish_reserves",
}
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


class IndexerError(RuntimeError):
    """The log cannot be indexed into this database (another run's log, a gap, a broken indexer)."""


def snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower()


def _sha(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


#: Bech32 human-readable part -> network (sim.bitcoin.address.NETWORKS inverted).
_HRP_NETWORK = {"bc": "mainnet", "tb": "testnet", "bcrt": "regtest"}


def _address_kind(address: str) -> tuple[str, str]:
    """(p2wpkh | p2tr | unknown, network | unknown) of a bound Bitcoin address.

    The committee validated the address (checksum, network, program length) before binding it, so
    reading the witness version character after the separator is enough here: ``q`` is version 0
    (P2WPKH, the only v0 kind the protocol binds), ``p`` version 1 (P2TR).
    """
    text = address.lower()
    hrp, sep, data = text.rpartition("1")
    if not sep or not data:
        return "unknown", "unknown"
    kind = {"q": "p2wpkh", "p": "p2tr"}.get(data[0], "unknown")
    return kind, _HRP_NETWORK.get(hrp, "unknown")


def _new_totals() -> dict:
    return {
        "rbtc_supply_sats": 0, "total_last_sats": 0, "oracle_confirmed_sats": 0,
        "vault_total_wei": 0, "deposits_total_wei": 0, "fees_total_wei": 0, "withdrawals_total_wei": 0,
        "syncs": 0, "emergency_burns": 0, "emergency_burned_sats": 0, "needs_topup_events": 0,
        "reverted_txs": 0, "evm_txs": 0, "emergency_flagged_users": 0, "emergency_burned_users": 0,
        "disputes_by_status": {"filed": 0, "validated": 0, "accepted": 0, "rejected": 0},
    }


def _new_chain() -> dict:
    return {"btc_height": None, "btc_tip": None, "btc_tip_at": None, "btc_reorgs": 0, "last_reorg": None,
            "evm_block": None, "evm_block_at": None, "oracle_tip": None}


def _new_yield() -> dict:
    return {"current_rate_bps": 0, "usdt_scale": 100, "rbtc_scale": 0, "total_virtual_usdt": 0,
            "total_rbtc_supply": 0, "scales_updated_at": None, "total_yield_claimed": 0,
            "participants": 0, "bitcoin_holders": 0, "traders": 0,
            "parameters": dict(s.DEFAULT_YIELD_PARAMETERS)}


def checkpoint_tier(joined_at: int, at: int, parameters: dict) -> int:
    """The tier the pool's ``_checkpoint`` sets at block time ``at`` (0 bronze, 1 silver, 2 gold)."""
    age = at - joined_at
    return 2 if age >= parameters["gold_after_s"] else (1 if age >= parameters["silver_after_s"] else 0)


class Indexer:
    """Applies records to a database; see the module docstring. Not thread-safe: one writer."""

    def __init__(self, db_url: str, *, batch_size: int = DEFAULT_BATCH):
        self.db_url = db_url
        self.engine = make_engine(db_url)
        self.batch_size = max(1, int(batch_size))
        s.create_schema(self.engine)
        self.broken = False
        #: Called after each commit with the last committed seq (tests inject failures here).
        self.after_commit: list[Callable[[int], None]] = []
        self._load()

    # ------------------------------------------------------------------ state

    def _load(self) -> None:
        with self.engine.connect() as conn:
            meta = {row.key: json.loads(row.value) for row in conn.execute(select(s.indexer_meta))}
            version = meta.get("schema_version")
            if version is not None and version != s.SCHEMA_VERSION:
                raise IndexerError(f"{self.db_url} holds schema version {version}; this indexer writes "
                                   f"version {s.SCHEMA_VERSION}: drop the database and rebuild it from the log")

            def rows(table, key):
                return {r[key]: dict(r) for r in conn.execute(select(table)).mappings()}

            self.users = rows(s.users, "eth_address")
            self.addresses = rows(s.bitcoin_addresses, "bitcoin_address")
            self.participants = rows(s.yield_scales_participants, "user_address")
            self.disputes = rows(s.balance_disputes, "dispute_id")
            self.por = rows(s.proof_of_reserves, "round")
            self.contracts = rows(s.system_contracts, "name")
            self.open_windows: dict[str, dict] = {
                r["user_address"]: dict(r) for r in conn.execute(
                    select(s.incidents).where(s.incidents.c.kind == "backing_window", s.incidents.c.ended_at.is_(None))
                    .order_by(s.incidents.c.seq)).mappings()}
            last = conn.execute(select(s.system_timeline).order_by(s.system_timeline.c.seq.desc()).limit(1)) \
                .mappings().first()
            self.last_sample: dict | None = dict(last) if last is not None else None
            self.last_burn: dict[str, dict] = {}
            for r in conn.execute(select(s.emergency_burns).order_by(s.emergency_burns.c.seq)).mappings():
                self.last_burn[r["user_address"]] = dict(r)
        self.addresses_by_user: dict[str, list[str]] = {}
        self.address_by_checksum: dict[str, str] = {}
        for row in sorted(self.addresses.values(), key=lambda r: r["bind_seq"]):
            self.addresses_by_user.setdefault(row["eth_address"], []).append(row["bitcoin_address"])
            self.address_by_checksum[row["checksum"]] = row["bitcoin_address"]
        self.last_seq: int = meta.get("last_seq", -1)
        self.last_record_sha: str | None = meta.get("last_record_sha256")
        self.run: dict = meta.get("run", {})
        self.latest_at: int | None = meta.get("latest_at")
        self.totals: dict = {**_new_totals(), **meta.get("totals", {})}
        self.chain: dict = {**_new_chain(), **meta.get("chain", {})}
        self.yield_state: dict = {**_new_yield(), **meta.get("yield", {})}
        self.reserves: dict | None = meta.get("reserves")
        self.world_end: dict | None = meta.get("world_end")
        self.source: str | None = meta.get("source")
        self._reset_pending()

    def _reset_pending(self) -> None:
        self.pending = 0
        self._last_line: bytes | None = None
        self._rows: dict[str, list[dict]] = {
            "transactions": [], "balance_history": [], "balance_snapshots": [], "oracle_operations_log": [],
            "yield_operations_log": [], "invariant_violations": [], "system_timeline": [],
        }
        self._dirty: dict[str, set] = {
            "users": set(), "bitcoin_addresses": set(), "yield_scales_participants": set(),
            "balance_disputes": set(), "proof_of_reserves": set(), "system_contracts": set(),
            "emergency_burns": set(),
        }
        self._burn_rows: dict[tuple, dict] = {}
        self._incident_rows: dict[int, dict] = {}
        self._batch_first: int | None = None
        self._batch_counts: dict[str, int] = {}

    def _meta_rows(self) -> list[dict]:
        values = {
            "schema_version": s.SCHEMA_VERSION,
            "last_seq": self.last_seq,
            "last_record_sha256": self.last_record_sha,
            "run": self.run,
            "latest_at": self.latest_at,
            "totals": self.totals,
            "chain": self.chain,
            "yield": self.yield_state,
            "reserves": self.reserves,
            "world_end": self.world_end,
            "source": self.source,
        }
        return [{"key": k, "value": json.dumps(v, sort_keys=True, separators=(",", ":"))} for k, v in values.items()]

    # ------------------------------------------------------------------ commits

    def commit(self) -> None:
        """Write the pending rows and the new last ``seq`` in one transaction."""
        if self.broken:
            raise IndexerError("this indexer failed to commit earlier; open a new one to resume")
        if self.pending == 0:
            return
        if self._last_line is not None:
            self.last_record_sha = _sha(self._last_line)
        tables = {
            "users": (s.users, self.users),
            "bitcoin_addresses": (s.bitcoin_addresses, self.addresses),
            "yield_scales_participants": (s.yield_scales_participants, self.participants),
            "balance_disputes": (s.balance_disputes, self.disputes),
            "proof_of_reserves": (s.proof_of_reserves, self.por),
            "system_contracts": (s.system_contracts, self.contracts),
            "emergency_burns": (s.emergency_burns, self._burn_rows),
        }
        try:
            with self.engine.begin() as conn:
                for name, rows in self._rows.items():
                    insert_ignore(conn, s.metadata.tables[name], rows)
                for name, (table, store) in tables.items():
                    keys = sorted(self._dirty[name], key=repr)
                    upsert(conn, table, [store[k] for k in keys])
                upsert(conn, s.incidents, [self._incident_rows[k] for k in sorted(self._incident_rows)])
                insert_ignore(conn, s.index_batches, [self._batch_row()])
                upsert(conn, s.indexer_meta, self._meta_rows())
        except BaseException:
            self.broken = True
            raise
        self._reset_pending()
        for hook in self.after_commit:
            hook(self.last_seq)

    def _batch_row(self) -> dict:
        return {"last_seq": self.last_seq, "first_seq": self._batch_first, "latest_at": self.latest_at,
                "btc_height": self.chain["btc_height"], "evm_block": self.chain["evm_block"],
                "counts": json.dumps(self._batch_counts, sort_keys=True, separators=(",", ":"))}

    def close(self) -> None:
        if not self.broken:
            self.commit()
        self.engine.dispose()

    # ------------------------------------------------------------------ records

    def process(self, record: dict, line: bytes) -> bool:
        """Apply one record (``line`` is its canonical JSON); False if it was already indexed."""
        if self.broken:
            raise IndexerError("this indexer failed to commit earlier; open a new one to resume")
        seq = record["seq"]
        if seq <= self.last_seq:
            return False
        if seq != self.last_seq + 1:
            raise IndexerError(f"record seq {seq} does not follow the last indexed seq {self.last_seq}: "
                               "the log has a gap or belongs to another run")
        if seq == 0:
            self.run = {"run_id": _sha(line), "kind": record["kind"]}
        kind = record["kind"]
        if self._batch_first is None:
            self._batch_first = seq
        counts = self._batch_counts
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "oracle_op":
            key = "oracle_op:" + record["op"]
            counts[key] = counts.get(key, 0) + 1
        handler = self._HANDLERS.get(kind)
        if handler is not None:
            try:
                handler(self, record)
            except BaseException:
                # The record may be half applied in memory: nothing of this batch may be committed.
                self.broken = True
                raise
        self.last_seq = seq
        self.latest_at = GENESIS_TIMESTAMP + record["t"]
        self._last_line = line
        self.pending += 1
        return True

    def check_same_run(self, first_line: bytes | None) -> None:
        """Refuse a log whose first record differs from the one this database was indexed from."""
        run_id = self.run.get("run_id")
        if run_id is not None and first_line is not None and _sha(first_line) != run_id:
            raise IndexerError(f"{self.db_url} was indexed from another run (its first record differs); "
                               "drop it or index this log into another database")

    def check_resume_point(self, line: bytes) -> None:
        if self.last_record_sha is not None and _sha(line) != self.last_record_sha:
            raise IndexerError(f"record {self.last_seq} of this log differs from the one {self.db_url} "
                               "committed last: the log was changed or belongs to another run")

    # ------------------------------------------------------------------ helpers

    def _user(self, address: str, seq: int, at: int) -> dict:
        row = self.users.get(address)
        if row is None:
            row = {
                "eth_address": address, "first_seen_seq": seq, "registered_at": None, "registration_method": None,
                "btc_address_count": 0, "rbtc_balance_sats": 0, "last_sats": 0, "btc_confirmed_sats": None,
                "btc_confirmed_at": None, "last_sync_at": None, "last_sync_block": None, "last_sync_tx": None,
                "sync_count": 0, "vault_balance_wei": 0, "total_deposited_wei": 0, "total_fees_wei": 0,
                "total_withdrawn_wei": 0, "emergency_burned": False, "emergency_burn_count": 0,
                "needs_topup": False, "updated_at": at, "updated_seq": seq,
            }
            self.users[address] = row
        row["updated_at"] = at
        row["updated_seq"] = seq
        self._dirty["users"].add(address)
        return row

    def _single_btc_address(self, user: str | None) -> str | None:
        bound = self.addresses_by_user.get(user) if user else None
        return bound[0] if bound and len(bound) == 1 else None

    def _participant(self, user: str, seq: int, at: int) -> dict:
        row = self.participants.get(user)
        if row is None:
            row = {"user_address": user, "participant_type": "bitcoin_holder", "joined_at": at,
                   "rbtc_contributed_sats": 0, "virtual_usdt": 0, "yield_claimed": 0, "claims": 0,
                   "last_activity_at": at, "disputed": False, "active": True, "loyalty_tier": 0,
                   "tier_checkpoint_at": at, "updated_seq": seq}
            self.participants[user] = row
        row["last_activity_at"] = at
        row["updated_seq"] = seq
        self._dirty["yield_scales_participants"].add(user)
        return row

    def _dispute(self, record: dict, at: int) -> dict:
        key = str(record["dispute_id"])
        row = self.disputes.get(key)
        if row is None:
            row = {"dispute_id": key, "user_address": record["user"], "status": None, "reported_sats": None,
                   "recorded_sats": None, "confirmed_sats": None, "outcome": None, "onchain": None, "filed_at": None,
                   "filed_seq": record["seq"], "validated_at": None, "resolved_at": None, "resolved_in_s": None}
            self.disputes[key] = row
            self._user(record["user"], record["seq"], at)
        self._dirty["balance_disputes"].add(key)
        return row

    def _por(self, round_: int, seq: int) -> dict:
        row = self.por.get(round_)
        if row is None:
            row = {"round": round_, "root": None, "btc_height": None, "total_sats": None, "leaves": None,
                   "published_at": None, "tx_hash": None, "block_number": None, "seq": seq,
                   "rbtc_supply_sats": self.totals["rbtc_supply_sats"], "source": "record"}
            self.por[round_] = row
        self._dirty["proof_of_reserves"].add(round_)
        return row

    def _tx_row(self, base: dict, log_index: int, user: str | None, tx_type: str, **values: Any) -> None:
        row = {**base, "log_index": log_index, "user_address": user, "tx_type": tx_type, "amount": None,
               "unit": None, "delta_sats": None, "fee_wei": None, "bitcoin_address": None, "status": "confirmed",
               "is_emergency_burn": False, "error": None}
        row.update(values)
        self._rows["transactions"].append(row)

    # ------------------------------------------------------------------ record kinds

    def _world_start(self, r: dict) -> None:
        at = GENESIS_TIMESTAMP + r["t"]
        for name, address in sorted((r.get("contracts") or {}).items()):
            self.contracts[name] = {"name": name, "address": address.lower(), "deployed_at": at, "seq": r["seq"]}
            self._dirty["system_contracts"].add(name)
        self.run.update({"seed": r.get("seed"), "users": r.get("users"), "duration_s": r.get("duration_s"),
                         "genesis_timestamp": GENESIS_TIMESTAMP})
        if r.get("yield_parameters"):  # the deployment configured the pool before the first record
            self.yield_state["parameters"] = dict(zip(s.YIELD_PARAMETER_NAMES, r["yield_parameters"]))
            self.run["yield_parameters"] = self.yield_state["parameters"]

    def _world_end(self, r: dict) -> None:
        self.world_end = {"at": GENESIS_TIMESTAMP + r["t"], "seq": r["seq"], "total_supply": r.get("total_supply"),
                          "btc_height": r.get("btc_height"), "users": r.get("users")}
        self._sample(r)

    def _bind(self, r: dict) -> None:
        seq, at = r["seq"], GENESIS_TIMESTAMP + r["t"]
        user = self._user(r["user"], seq, at)
        if user["registered_at"] is None:
            user["registered_at"] = at
            user["registration_method"] = r.get("method")
        address = r["btc_address"]
        if address in self.addresses:  # the registry refuses a second binding; keep the first
            return
        kind, network = _address_kind(address)
        self.addresses[address] = {
            "bitcoin_address": address, "eth_address": r["user"], "address_type": kind, "network": network,
            "verification_method": r.get("method") or 0, "checksum": r.get("checksum") or "",
            "prepay_wei": r.get("prepay_wei") or 0, "bound_at": at, "bind_seq": seq, "btc_tx_count": 0,
            "received_sats": 0, "sent_sats": 0, "last_btc_tx_at": None,
        }
        self._dirty["bitcoin_addresses"].add(address)
        self.addresses_by_user.setdefault(r["user"], []).append(address)
        if r.get("checksum"):
            self.address_by_checksum[r["checksum"]] = address
        user["btc_address_count"] = len(self.addresses_by_user[r["user"]])

    def _btc_tx(self, r: dict) -> None:
        row = self.addresses.get(r.get("address"))
        if row is None:
            return
        row["btc_tx_count"] += 1
        if r.get("tx_kind") == "deposit":
            row["received_sats"] += r.get("amount") or 0
        elif r.get("tx_kind") == "spend":
            row["sent_sats"] += r.get("amount") or 0
        row["last_btc_tx_at"] = GENESIS_TIMESTAMP + r["t"]
        self._dirty["bitcoin_addresses"].add(row["bitcoin_address"])

    def _btc_block(self, r: dict) -> None:
        self.chain.update(btc_height=r["height"], btc_tip=r.get("hash"), btc_tip_at=GENESIS_TIMESTAMP + r["t"])

    def _btc_reorg(self, r: dict) -> None:
        at = GENESIS_TIMESTAMP + r["t"]
        self._incident(r["seq"], "reorg", at, at, details={
            "depth": r.get("depth"), "fork_height": r.get("fork_height"),
            "double_spent": len(r.get("double_spent") or ()), "dropped": len(r.get("dropped") or ()),
            "affected": r.get("affected")})
        self.chain["btc_reorgs"] += 1
        self.chain["last_reorg"] = {"seq": r["seq"], "at": GENESIS_TIMESTAMP + r["t"], "depth": r.get("depth"),
                                    "fork_height": r.get("fork_height"), "new_tip": r.get("new_tip")}
        if r.get("new_tip"):
            self.chain["btc_tip"] = r["new_tip"]

    def _reserves(self, r: dict) -> None:
        """A chain-side reserves observation (``reserves`` records; see the API's proof-of-reserves)."""
        self.reserves = {"seq": r["seq"], "at": GENESIS_TIMESTAMP + r["t"], "height": r.get("height"),
                         "min_conf": r.get("min_conf"), "confirmed_sats": r.get("confirmed_sats"),
                         "addresses": r.get("addresses")}
        self._sample(r)

    def _sample(self, r: dict) -> None:
        """A row of ``system_timeline`` with the figures as they stand after record ``r``."""
        totals, y = self.totals, self.yield_state
        by_status = totals["disputes_by_status"]
        row = {
            "seq": r["seq"], "timestamp": GENESIS_TIMESTAMP + r["t"], "btc_height": self.chain["btc_height"],
            "rbtc_supply_sats": totals["rbtc_supply_sats"],
            "reserves_sats": self.reserves.get("confirmed_sats") if self.reserves else None,
            "vault_total_wei": totals["vault_total_wei"], "fees_total_wei": totals["fees_total_wei"],
            "emergency_burns": totals["emergency_burns"], "emergency_burned_sats": totals["emergency_burned_sats"],
            "disputes_open": by_status.get("filed", 0) + by_status.get("validated", 0),
            "disputes_accepted": by_status.get("accepted", 0), "disputes_rejected": by_status.get("rejected", 0),
            "yield_rate_bps": y["current_rate_bps"], "pool_participants": y["participants"],
        }
        self._rows["system_timeline"].append(row)
        self.last_sample = row

    def _incident(self, seq: int, kind: str, started_at: int, ended_at: int | None, *, user: str | None = None,
                  cause: str | None = None, details: dict | None = None) -> dict:
        row = {"seq": seq, "kind": kind, "started_at": started_at, "ended_at": ended_at, "user_address": user,
               "cause": cause, "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":"))}
        self._incident_rows[seq] = row
        return row

    def _fee_drought(self, r: dict) -> None:
        self._incident(r["seq"], "fee_drought", GENESIS_TIMESTAMP + r["t"], GENESIS_TIMESTAMP + r["until"]
                       if r.get("until") is not None else None)

    def _window_open(self, r: dict) -> None:
        row = self._incident(r["seq"], "backing_window", GENESIS_TIMESTAMP + r["t"], None, user=r["user"],
                             cause=r.get("cause"), details={"excess": r.get("excess"), "rbtc": r.get("rbtc"),
                                                            "confirmed": r.get("confirmed")})
        self.open_windows[r["user"]] = row

    def _window_close(self, r: dict) -> None:
        row = self.open_windows.pop(r["user"], None)
        if row is None:  # opened before the first record this database saw: nothing to close
            return
        details = json.loads(row["details"])
        details.update(duration_s=r.get("duration_s"), max_excess=r.get("max_excess"))
        row.update(ended_at=GENESIS_TIMESTAMP + r["t"], details=json.dumps(details, sort_keys=True,
                                                                           separators=(",", ":")))
        self._incident_rows[row["seq"]] = row

    def _invariant_violation(self, r: dict) -> None:
        self._rows["invariant_violations"].append({
            "seq": r["seq"], "timestamp": GENESIS_TIMESTAMP + r["t"], "invariant": str(r.get("invariant", "?")),
            "step": r.get("step") if isinstance(r.get("step"), int) else None, "actor": str(r.get("actor", "")),
            "values_json": json.dumps(r.get("values") or {}, sort_keys=True, separators=(",", ":"), default=str),
            "message": str(r.get("message", "")),
        })

    def _oracle_op(self, r: dict) -> None:
        seq, at = r["seq"], GENESIS_TIMESTAMP + r["t"]
        op, address = r["op"], r.get("user")
        self._rows["oracle_operations_log"].append({
            "seq": seq, "timestamp": at, "op": op, "user_address": address, "delta_sats": r.get("delta"),
            "confirmed_sats": r.get("confirmed"), "recorded_sats": r.get("recorded"), "fee_wei": r.get("fee"),
            "delay_s": r.get("delay_s"), "burned_sats": r.get("burned"), "error": r.get("error"), "reason": None,
            "details": None,
        })
        if address is None:
            return
        user = self._user(address, seq, at)
        confirmed = r.get("confirmed")
        if confirmed is not None:
            self.totals["oracle_confirmed_sats"] += confirmed - (user["btc_confirmed_sats"] or 0)
            user["btc_confirmed_sats"] = confirmed
            user["btc_confirmed_at"] = at
            self._rows["balance_snapshots"].append({
                "seq": seq, "user_address": address, "timestamp": at, "op": op, "btc_confirmed_sats": confirmed,
                "last_sats": user["last_sats"], "rbtc_balance_sats": user["rbtc_balance_sats"],
                "vault_balance_wei": user["vault_balance_wei"],
                "backed": user["rbtc_balance_sats"] <= confirmed,
            })
        if op == "needs_topup":
            user["needs_topup"] = True
        elif op == "emergency_burn":
            burn = self.last_burn.get(address)
            if burn is not None and burn["btc_confirmed_sats"] is None:
                burn["btc_confirmed_sats"] = confirmed
                self._mark_burn(burn)

    def _oracle_round(self, r: dict) -> None:
        details = {k: v for k, v in r.items() if k not in ("seq", "t", "kind", "reason")}
        self._rows["oracle_operations_log"].append({
            "seq": r["seq"], "timestamp": GENESIS_TIMESTAMP + r["t"], "op": "round", "user_address": None,
            "delta_sats": None, "confirmed_sats": None, "recorded_sats": None, "fee_wei": None, "delay_s": None,
            "burned_sats": None, "error": None, "reason": r.get("reason"),
            "details": json.dumps(details, sort_keys=True, separators=(",", ":")),
        })
        if r.get("tip") is not None:
            self.chain["oracle_tip"] = r["tip"]
        last = self.last_sample
        if last is None or last["rbtc_supply_sats"] != self.totals["rbtc_supply_sats"] \
                or last["emergency_burns"] != self.totals["emergency_burns"]:
            self._sample(r)

    def _oracle_outage(self, r: dict) -> None:
        at = GENESIS_TIMESTAMP + r["t"]
        self._incident(r["seq"], "oracle_outage", at, GENESIS_TIMESTAMP + r["until"] if r.get("until") is not None
                       else None)
        self._rows["oracle_operations_log"].append({
            "seq": r["seq"], "timestamp": GENESIS_TIMESTAMP + r["t"], "op": "outage", "user_address": None,
            "delta_sats": None, "confirmed_sats": None, "recorded_sats": None, "fee_wei": None, "delay_s": None,
            "burned_sats": None, "error": None, "reason": None,
            "details": json.dumps({"until": r.get("until")}, separators=(",", ":")),
        })

    def _dispute_status(self, row: dict, status: str | None) -> None:
        """Move a dispute to ``status``, keeping the per-status counts (a new row's status is None)."""
        counts = self.totals["disputes_by_status"]
        old = row["status"]
        if old is not None:
            counts[old] -= 1
        row["status"] = status
        counts[status] = counts.get(status, 0) + 1

    def _dispute_filed(self, r: dict) -> None:
        at = GENESIS_TIMESTAMP + r["t"]
        row = self._dispute(r, at)
        self._dispute_status(row, "filed")
        row.update(reported_sats=r.get("reported"), recorded_sats=r.get("recorded"), filed_at=at,
                   onchain=r.get("onchain"))

    def _dispute_validated(self, r: dict) -> None:
        at = GENESIS_TIMESTAMP + r["t"]
        row = self._dispute(r, at)
        row.update(confirmed_sats=r.get("confirmed"), validated_at=at)
        if row["status"] in (None, "filed"):
            self._dispute_status(row, "validated")

    def _dispute_resolved(self, r: dict) -> None:
        at = GENESIS_TIMESTAMP + r["t"]
        row = self._dispute(r, at)
        outcome = r.get("outcome")
        self._dispute_status(row, outcome)
        row.update(outcome=outcome, resolved_at=at, resolved_in_s=r.get("resolved_in_s"))

    def _por_published(self, r: dict) -> None:
        # A snapshot the deployment could not publish (no ProofOfReserves contract) has no round: it is
        # keyed by its record's seq, negated, so it can never collide with an on-chain round.
        round_ = r.get("round")
        row = self._por(int(round_) if round_ is not None else -r["seq"], r["seq"])
        row.update(root=r.get("root"), btc_height=r.get("height"), total_sats=r.get("total_sats"),
                   leaves=r.get("leaves"))
        if row["published_at"] is None:
            row["published_at"] = r.get("timestamp") or GENESIS_TIMESTAMP + r["t"]
        row["source"] = "both" if row["tx_hash"] is not None else "record"

    # ------------------------------------------------------------------ transactions and events

    def _mark_burn(self, burn: dict) -> None:
        key = (burn["tx_hash"], burn["log_index"])
        self._burn_rows[key] = burn
        self._dirty["emergency_burns"].add(key)

    def _evm_tx(self, r: dict) -> None:
        seq, at, fn = r["seq"], GENESIS_TIMESTAMP + r["t"], r["fn"]
        self.totals["evm_txs"] += 1
        self.chain["evm_block"] = r["block"]
        self.chain["evm_block_at"] = at
        base = {"tx_hash": r["hash"], "seq": seq, "block_number": r["block"], "tx_index": r["index"],
                "timestamp": at, "contract": r["to"], "function": fn}
        args = r.get("args") or []
        if fn in _USER_ARG_FUNCTIONS and args and isinstance(args[0], str):
            subject = args[0]
        elif fn in _SENDER_FUNCTIONS:
            subject = r.get("from")
        else:
            subject = None
        if r.get("status") != "ok":
            self.totals["reverted_txs"] += 1
            if subject is not None:
                self._user(subject, seq, at)
            value = r.get("value") or 0
            self._tx_row(base, -1, subject, _CALL_TYPES.get(fn, snake(fn)), status="reverted", error=r.get("error"),
                         amount=value or None, unit="wei" if value else None)
            return
        events = r.get("events") or []
        synced = next((e[2] for e in events if e[0] == "OracleAggregator" and e[1] == "Synced"), None)
        emergency = any(e[0] == "OracleAggregator" and e[1] == "EmergencyBurn" for e in events)
        ctx = (base, r, synced, emergency, seq, at)
        for log_index, (contract, name, event_args) in enumerate(events):
            handler = self._EVENTS.get((contract, name))
            if handler is not None:
                handler(self, ctx, log_index, event_args)
            elif contract == "YieldScalesPool":
                self._pool_event(ctx, log_index, name, event_args)
        if fn == "resetEmergencyBurnStatus" and subject is not None:
            user = self._user(subject, seq, at)
            if user["emergency_burned"]:
                self.totals["emergency_flagged_users"] -= 1
            user["emergency_burned"] = False
            burn = self.last_burn.get(subject)
            if burn is not None and burn["reset_at"] is None:
                burn["reset_at"] = at
                burn["reset_tx"] = r["hash"]
                self._mark_burn(burn)
            self._tx_row(base, -1, subject, "emergency_reset")

    def _ev_transfer(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        sender, receiver, amount = args[0], args[1], args[2]
        if sender == ZERO_ADDRESS:
            subject, tx_type, signed = receiver, "mint", amount
            self.totals["rbtc_supply_sats"] += amount
            self._user(receiver, seq, at)["rbtc_balance_sats"] += amount
        elif receiver == ZERO_ADDRESS:
            subject, tx_type, signed = sender, ("emergency_burn" if emergency else "burn"), -amount
            self.totals["rbtc_supply_sats"] -= amount
            self._user(sender, seq, at)["rbtc_balance_sats"] -= amount
        else:  # rBTC-SYNTH is soulbound; recorded should a foreign build ever move it
            subject, tx_type, signed = sender, "transfer", -amount
            self._user(sender, seq, at)["rbtc_balance_sats"] -= amount
            self._user(receiver, seq, at)["rbtc_balance_sats"] += amount
        delta, fee = signed, None
        if synced is not None and synced[0] == subject:
            delta, fee = synced[2], synced[3]
        self._tx_row(base, log_index, subject, tx_type, amount=amount, unit="sats", delta_sats=delta, fee_wei=fee,
                     bitcoin_address=self._single_btc_address(subject), is_emergency_burn=tx_type == "emergency_burn")

    def _ev_synced(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        address, new_balance, delta, fee, height, timestamp = args[:6]
        user = self._user(address, seq, at)
        old = user["last_sats"]
        self.totals["total_last_sats"] += new_balance - old
        self.totals["syncs"] += 1
        user.update(last_sats=new_balance, last_sync_at=timestamp, last_sync_block=height, last_sync_tx=r["hash"])
        user["sync_count"] += 1
        if not emergency:
            user["needs_topup"] = False
        self._rows["balance_history"].append({
            "tx_hash": r["hash"], "log_index": log_index, "seq": seq, "user_address": address,
            "block_number": r["block"], "timestamp": timestamp, "old_balance_sats": old,
            "new_balance_sats": new_balance, "delta_sats": delta, "fee_wei": fee,
            "reason": "emergency_burn" if emergency else "sync",
        })

    def _ev_needs_topup(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        user = self._user(args[0], seq, at)
        user["needs_topup"] = True
        self.totals["needs_topup_events"] += 1
        call = r.get("args") or []
        delta = call[1] - user["last_sats"] if r["fn"] == "sync" and len(call) > 1 else None
        self._tx_row(base, log_index, args[0], "needs_topup", delta_sats=delta,
                     bitcoin_address=self._single_btc_address(args[0]))

    def _ev_emergency_burn(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        address, burned, reason = args[0], args[1], args[2]
        user = self._user(address, seq, at)
        if not user["emergency_burned"]:
            self.totals["emergency_flagged_users"] += 1
        if user["emergency_burn_count"] == 0:
            self.totals["emergency_burned_users"] += 1
        user["emergency_burned"] = True
        user["emergency_burn_count"] += 1
        self.totals["emergency_burns"] += 1
        self.totals["emergency_burned_sats"] += burned
        burn = {"tx_hash": r["hash"], "log_index": log_index, "seq": seq, "user_address": address,
                "burned_sats": burned, "reason": reason, "block_number": r["block"], "timestamp": at,
                "trigger": r["fn"], "btc_confirmed_sats": None, "reset_at": None, "reset_tx": None}
        self.last_burn[address] = burn
        self._mark_burn(burn)

    def _ev_spent(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        address, amount = args[0], args[1]
        user = self._user(address, seq, at)
        user["vault_balance_wei"] -= amount
        user["total_fees_wei"] += amount
        self.totals["vault_total_wei"] -= amount
        self.totals["fees_total_wei"] += amount
        delta = synced[2] if synced is not None and synced[0] == address else None
        self._tx_row(base, log_index, address, "fee", amount=amount, unit="wei", fee_wei=amount, delta_sats=delta)

    def _ev_deposited(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        address, amount = args[0], args[1]
        user = self._user(address, seq, at)
        user["vault_balance_wei"] += amount
        user["total_deposited_wei"] += amount
        self.totals["vault_total_wei"] += amount
        self.totals["deposits_total_wei"] += amount
        btc = None
        call = r.get("args") or []
        if r["fn"] == "registerAndPrepay" and len(call) > 2:
            btc = self.address_by_checksum.get(call[2])
        self._tx_row(base, log_index, address, "deposit", amount=amount, unit="wei", bitcoin_address=btc)

    def _ev_withdrawn(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        address, amount = args[0], args[1]
        user = self._user(address, seq, at)
        user["vault_balance_wei"] -= amount
        user["total_withdrawn_wei"] += amount
        self.totals["vault_total_wei"] -= amount
        self.totals["withdrawals_total_wei"] += amount
        self._tx_row(base, log_index, address, "withdraw", amount=amount, unit="wei")

    def _ev_reserves_published(self, ctx, log_index: int, args: list) -> None:
        base, r, synced, emergency, seq, at = ctx
        round_, root, height, total, timestamp = args[:5]
        row = self._por(int(round_), seq)
        row.update(root=root, btc_height=height, total_sats=total, published_at=timestamp, tx_hash=r["hash"],
                   block_number=r["block"], rbtc_supply_sats=self.totals["rbtc_supply_sats"])
        row["source"] = "both" if row["leaves"] is not None else "event"

    def _pool_event(self, ctx, log_index: int, name: str, args: list) -> None:
        """YieldScalesPool: every event goes to yield_operations_log; participant events update the
        participant's row, the rate events the pool state."""
        base, r, synced, emergency, seq, at = ctx
        subject = args[0] if args and isinstance(args[0], str) and args[0].startswith("0x") else None
        amount = None
        y = self.yield_state
        if name == "ParticipantJoined":
            existing = self.participants.get(subject)
            fresh = existing is None or not existing["active"]
            p = self._participant(subject, seq, at)
            amount = args[2]
            if args[1] == 1 and not fresh:  # a trader adding to its position: a checkpoint
                p["virtual_usdt"] += amount
                self._checkpoint(p, at)
            elif args[1] == 1:
                p.update(participant_type="trader", joined_at=at, virtual_usdt=amount, rbtc_contributed_sats=0,
                         loyalty_tier=0, tier_checkpoint_at=at)
            else:
                p.update(participant_type="bitcoin_holder", joined_at=at, rbtc_contributed_sats=amount,
                         virtual_usdt=0, loyalty_tier=0, tier_checkpoint_at=at)
            if fresh:
                y["participants"] += 1
                y["traders" if args[1] == 1 else "bitcoin_holders"] += 1
            p["active"] = True
        elif name == "ParticipantLeft":
            p = self._participant(subject, seq, at)
            if p["active"]:
                y["participants"] -= 1
                y["traders" if p["participant_type"] == "trader" else "bitcoin_holders"] -= 1
            p["active"] = False
            amount = args[2] if len(args) > 2 else None
        elif name == "ContributionUpdated":
            p = self._participant(subject, seq, at)
            self._checkpoint(p, at)
            p["rbtc_contributed_sats"] = args[2]
            amount = args[2]
        elif name == "EmergencyBurnTriggered":
            p = self._participant(subject, seq, at)
            self._checkpoint(p, at)
            if p["participant_type"] == "bitcoin_holder":
                p["rbtc_contributed_sats"] = 0
            amount = args[1]
        elif name == "YieldClaimed":
            p = self._participant(subject, seq, at)
            self._checkpoint(p, at)
            p["yield_claimed"] += args[1]
            p["claims"] += 1
            y["total_yield_claimed"] += args[1]
            amount = args[1]
        elif name == "BalanceDisputed":
            self._participant(subject, seq, at)["disputed"] = True
            amount = args[1]
        elif name == "DisputeResolved":
            self._participant(subject, seq, at)["disputed"] = False
        elif name == "YieldCalculated":
            y.update(total_virtual_usdt=args[0], total_rbtc_supply=args[1], current_rate_bps=args[2])
        elif name == "ScalesBalanceUpdated":
            y.update(usdt_scale=args[0], rbtc_scale=args[1], scales_updated_at=args[2])
        elif name == "YieldParametersSet":
            keys = ("base_rate", "max_rate", "silver_after_s", "gold_after_s", "bronze_multiplier",
                    "silver_multiplier", "gold_multiplier")
            y["parameters"] = dict(zip(keys, args))
        if subject is not None:
            self._user(subject, seq, at)
        self._rows["yield_operations_log"].append({
            "tx_hash": r["hash"], "log_index": log_index, "seq": seq, "block_number": r["block"], "timestamp": at,
            "op": snake(name), "user_address": subject, "amount": amount,
            "args": json.dumps(args, separators=(",", ":")),
        })

    def _checkpoint(self, participant: dict, at: int) -> None:
        """The pool re-evaluated the participant's tier in this transaction (``_checkpoint``)."""
        participant["loyalty_tier"] = checkpoint_tier(participant["joined_at"], at, self.yield_state["parameters"])
        participant["tier_checkpoint_at"] = at

    _EVENTS: dict = {
        ("RBTCSynth", "Transfer"): _ev_transfer,
        ("OracleAggregator", "Synced"): _ev_synced,
        ("OracleAggregator", "NeedsTopUp"): _ev_needs_topup,
        ("OracleAggregator", "EmergencyBurn"): _ev_emergency_burn,
        ("FeeVault", "Spent"): _ev_spent,
        ("FeeVault", "Deposited"): _ev_deposited,
        ("FeeVault", "Withdrawn"): _ev_withdrawn,
        ("ProofOfReserves", "ReservesPublished"): _ev_reserves_published,
    }

    _HANDLERS: dict = {
        "world_start": _world_start,
        "world_end": _world_end,
        "bind": _bind,
        "btc_tx": _btc_tx,
        "btc_block": _btc_block,
        "btc_reorg": _btc_reorg,
        "reserves": _reserves,
        "evm_tx": _evm_tx,
        "oracle_op": _oracle_op,
        "oracle_round": _oracle_round,
        "oracle_outage": _oracle_outage,
        "dispute_filed": _dispute_filed,
        "dispute_validated": _dispute_validated,
        "dispute_resolved": _dispute_resolved,
        "por_published": _por_published,
        "invariant_violation": _invariant_violation,
        "fee_drought": _fee_drought,
        "backing_window_open": _window_open,
        "backing_window_close": _window_close,
    }

    # ------------------------------------------------------------------ sources

    def index_file(self, events_path: Path | str, *, stop_after: int | None = None) -> dict:
        """Index an ``events.jsonl`` from after the last committed record; returns counts.

        ``stop_after`` (tests): return after applying that many new records, without a final commit.
        """
        events_path = Path(events_path)
        self.source = str(events_path)
        indexed = skipped = 0
        incomplete = False
        last_committed = self.last_seq
        with open(events_path, "rb") as handle:
            for number, raw in enumerate(handle):
                if not raw.endswith(b"\n"):
                    incomplete = True  # a line still being written: the next run picks it up
                    break
                line = raw[:-1]
                if number == 0:
                    self.check_same_run(line)
                if number <= last_committed:
                    if number == last_committed:
                        self.check_resume_point(line)
                    skipped += 1
                    continue
                record = json.loads(line)
                if record.get("seq") != number:
                    raise IndexerError(f"{events_path}: line {number + 1} holds seq {record.get('seq')}, "
                                       f"expected {number}")
                self.process(record, line)
                indexed += 1
                if stop_after is not None and indexed >= stop_after:
                    return {"indexed": indexed, "skipped": skipped, "incomplete_tail": False, "stopped": True}
                if self.pending >= self.batch_size:
                    self.commit()
        self.commit()
        return {"indexed": indexed, "skipped": skipped, "incomplete_tail": incomplete, "stopped": False}

    def table_counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in s.PROTOCOL_TABLES}


def resolve_run(source: Path | str, db_url: str | None = None) -> tuple[Path, str]:
    """``(events.jsonl path, database URL)`` for a run folder or an events file; the default database
    is ``index.sqlite`` beside the log."""
    path = Path(source)
    events = path / "events.jsonl" if path.is_dir() else path
    if not events.exists():
        raise FileNotFoundError(f"{events}: no event log there (expected a run folder or an events.jsonl)")
    return events, db_url or sqlite_url(events.parent / "index.sqlite")


def index_run(source: Path | str, db_url: str | None = None, *, batch_size: int = DEFAULT_BATCH,
              stop_after: int | None = None) -> dict:
    """Index a run folder's ``events.jsonl`` (or the file itself) into ``db_url`` (default: the run
    folder's ``index.sqlite``). Resumes after what is already committed; returns statistics."""
    events, url = resolve_run(source, db_url)
    start = time.perf_counter()
    indexer = Indexer(url, batch_size=batch_size)
    resumed_from = indexer.last_seq
    try:
        counts = indexer.index_file(events, stop_after=stop_after)
        tables = indexer.table_counts() if not counts["stopped"] else {}
    finally:
        if stop_after is None:
            indexer.close()
        else:
            indexer.engine.dispose()
    seconds = time.perf_counter() - start
    return {
        "events": str(events), "db_url": url, "resumed_from_seq": resumed_from, "last_seq": indexer.last_seq,
        "records_indexed": counts["indexed"], "records_skipped": counts["skipped"],
        "incomplete_tail": counts["incomplete_tail"], "seconds": round(seconds, 3),
        "records_per_s": round(counts["indexed"] / seconds) if seconds > 0 else None, "tables": tables,
    }


class LiveIndexer:
    """Indexes an :class:`EventLog` as it grows: ``LiveIndexer(url).attach(world.log)``.

    Records are committed every ``batch_size`` records or, when records keep coming, at least every
    ``max_delay_s`` seconds of wall-clock time (so a server reading the database sees recent state);
    :meth:`flush` commits what is pending. Batch boundaries do not change the table contents.
    """

    def __init__(self, db_url: str, *, batch_size: int = 2_000, max_delay_s: float = 1.0):
        self.indexer = Indexer(db_url, batch_size=batch_size)
        self.max_delay_s = max_delay_s
        self._last_commit = time.monotonic()
        self._closed = False
        self.log: EventLog | None = None

    @property
    def db_url(self) -> str:
        return self.indexer.db_url

    def attach(self, log: EventLog, events_path: Path | str | None = None) -> "LiveIndexer":
        """Catch up on the records ``log`` already holds, then follow it.

        A log that keeps no records in memory (``EventLog(path, keep=False)``, as ``rbtc-sim run``
        makes it) is caught up from its file: pass ``events_path``; the log is flushed first.
        """
        ix = self.indexer
        if log.count > 0 and ix.last_seq < log.count - 1:
            if log.keep and len(log.records) == log.count:
                ix.check_same_run(canonical(log.records[0]).encode())
                if ix.last_seq >= 0:
                    ix.check_resume_point(canonical(log.records[ix.last_seq]).encode())
                for record in log.records[ix.last_seq + 1:]:
                    self._on_record(record)
            elif events_path is not None:
                log.flush()
                self._catch_up_from_file(Path(events_path), log.count)
            else:
                raise IndexerError("the log kept no records to catch up on: pass its events_path, or attach the "
                                   "indexer before the first record is appended")
        ix.source = "live"
        log.subscribe(self._on_record)
        self.log = log
        return self

    def _catch_up_from_file(self, path: Path, count: int) -> None:
        ix = self.indexer
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle):
                if number >= count:
                    break
                line = raw.rstrip(b"\n")
                if number == 0:
                    ix.check_same_run(line)
                if number <= ix.last_seq:
                    if number == ix.last_seq:
                        ix.check_resume_point(line)
                    continue
                ix.process(json.loads(line), line)
        if ix.last_seq != count - 1:
            raise IndexerError(f"{path} holds records up to seq {ix.last_seq}, the log {count - 1}: "
                               "is it this log's file?")
        self.flush()

    def _on_record(self, record: dict) -> None:
        if self._closed:
            return
        line = canonical(record)
        ix = self.indexer
        if ix.process(json.loads(line), line.encode()):
            if ix.pending >= ix.batch_size or time.monotonic() - self._last_commit >= self.max_delay_s:
                self.flush()

    def flush(self) -> None:
        if self._closed:
            return
        self.indexer.commit()
        self._last_commit = time.monotonic()

    def close(self) -> None:
        """Commit what is pending and release the database (the log keeps calling a no-op)."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self.indexer.engine.dispose()

    @property
    def last_seq(self) -> int:
        return self.indexer.last_seq

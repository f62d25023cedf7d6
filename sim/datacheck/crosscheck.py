"""Cross-checks after a run: what the database and the API say against the chain's own state.

:func:`crosscheck` reads the database through the API's query functions (:mod:`sim.api.queries`,
the code every endpoint calls), so a clean result means the API serves the chain's state; given an
``api_url`` it also fetches a sample of users over HTTP and requires the same answers. Chain state
comes from the world's protocol port (balances, lastSats, vault balances, emergency flags and
counters, the pool, the published reserves), its Bitcoin chain (confirmed totals) and its registry
(bindings); event counts come from the world's event log.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from sim.api import queries
from sim.eventlog import canonical
from sim.indexer import schema as s
from sim.indexer.db import make_engine

_TX_TYPES_BY_EVENT = {
    ("FeeVault", "Spent"): ("fee",),
    ("FeeVault", "Deposited"): ("deposit",),
    ("FeeVault", "Withdrawn"): ("withdraw",),
    ("OracleAggregator", "NeedsTopUp"): ("needs_topup",),
    ("RBTCSynth", "Transfer"): ("mint", "burn", "emergency_burn", "transfer"),
}


def _hex(value) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else str(value)


def crosscheck(world, db_url: str, *, api_url: str | None = None, api_sample: int = 25,
               events_path: str | Path | None = None) -> list[str]:
    """Problems found (empty: the index and the API agree with the chain). The world must be finished
    (or at least quiet) and its log fully indexed into ``db_url``. Event counts come from the world's
    log, or from ``events_path`` when the log keeps no records in memory."""
    problems: list[str] = []
    port, registry, log = world.port, world.registry, world.log
    records = _records(log, events_path)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            meta = queries.read_meta(conn)
            if meta.get("last_seq", -1) != log.count - 1:
                problems.append(f"index: last indexed seq {meta.get('last_seq')} but the log ends at {log.count - 1}")
            _check_users(conn, port, registry, problems)
            _check_totals(conn, port, registry, problems)
            if records is None:
                problems.append("events: the world's log kept no records and no events_path was given; "
                                "transactions and burns were not compared with the contract events")
            else:
                _check_events(conn, records, problems)
            _check_burns(conn, port, records, problems)
            _check_reserves(conn, world, problems)
            _check_pool(conn, port, problems)
            if api_url is not None:
                _check_http(conn, api_url, registry.users()[:api_sample], problems)
    finally:
        engine.dispose()
    return problems


def _check_users(conn, port, registry, problems: list[str]) -> None:
    users = registry.users()
    for user in users:
        api = queries.balances(conn, user)
        chain = {
            "rbtc_balance": port.rbtc_balance(user),
            "last_sats": port.last_sats(user),
            "vault_balance_wei": str(port.vault_balance(user)),
            "emergency_burned": bool(port.emergency_burned(user)),
            "registered": True,
        }
        for key, expected in chain.items():
            if api[key] != expected:
                problems.append(f"balances {user}: {key} is {api[key]!r} in the API, {expected!r} on chain")
        bound = queries.bitcoin_addresses(conn, user)
        indexed = [(b["address"], b["checksum"]) for b in bound["bitcoin_addresses"]]
        truth = [(b.btc_address, _hex(b.checksum)) for b in registry.bindings(user)]
        if indexed != truth:
            problems.append(f"bitcoin-addresses {user}: API has {indexed}, the registry {truth}")
    registered = conn.execute(select(func.count()).select_from(s.users)
                              .where(s.users.c.registered_at.is_not(None))).scalar_one()
    if registered != len(users):
        problems.append(f"users: {registered} registered in the database, {len(users)} in the registry")


def _check_totals(conn, port, registry, problems: list[str]) -> None:
    por = queries.proof_of_reserves(conn)["totals"]
    supply = port.total_supply()
    if por["rbtc_total_supply_sats"] != supply:
        problems.append(f"proof-of-reserves: rBTC supply {por['rbtc_total_supply_sats']} in the API, "
                        f"totalSupply {supply} on chain")
    recorded = sum(port.last_sats(u) for u in registry.users())
    if por["total_last_sats"] != recorded:
        problems.append(f"proof-of-reserves: total lastSats {por['total_last_sats']} in the API, {recorded} on chain")


def _records(log, events_path):
    """A re-iterable source of the log's records (as JSON, like the file), or None."""
    if log.keep and len(log.records) == log.count:
        return lambda: (json.loads(canonical(r)) for r in log.records)
    if events_path is not None:
        def read():
            with open(events_path, encoding="utf-8") as handle:
                for line in handle:
                    yield json.loads(line)
        return read
    return None


def _log_events(records):
    for record in records():
        if record["kind"] == "evm_tx" and record.get("status") == "ok":
            for contract, name, args in record["events"]:
                yield record, contract, name, args


def _check_events(conn, records, problems: list[str]) -> None:
    expected: Counter = Counter()
    for _, contract, name, _args in _log_events(records):
        kinds = _TX_TYPES_BY_EVENT.get((contract, name))
        if kinds:
            expected[kinds] += 1
    t = s.transactions
    indexed = Counter(dict(conn.execute(select(t.c.tx_type, func.count())
                                        .where(t.c.status == "confirmed", t.c.log_index >= 0)
                                        .group_by(t.c.tx_type)).all()))
    for kinds, count in expected.items():
        got = sum(indexed.get(k, 0) for k in kinds)
        if got != count:
            problems.append(f"transactions: {got} rows of type {'/'.join(kinds)}, {count} such events in the log")


def _check_burns(conn, port, records, problems: list[str]) -> None:
    system = queries.emergency_burns(conn, None, 1, 0)["system"]
    counter = port.call("OracleAggregator", "totalEmergencyBurns")
    if system["total_burns"] != counter:
        problems.append(f"emergency-burns: {system['total_burns']} burns in the API, totalEmergencyBurns {counter}")
    if records is None:
        return
    events = [(args[0], args[1]) for _, contract, name, args in _log_events(records)
              if contract == "OracleAggregator" and name == "EmergencyBurn"]
    e = s.emergency_burns
    rows = [tuple(r) for r in conn.execute(select(e.c.user_address, e.c.burned_sats).order_by(e.c.seq, e.c.log_index))]
    if rows != events:
        problems.append(f"emergency_burns: {len(rows)} rows, {len(events)} EmergencyBurn events, and they differ "
                        f"(first rows {rows[:3]}, first events {events[:3]})")
    if system["total_burned_sats"] != sum(amount for _, amount in events):
        problems.append(f"emergency-burns: {system['total_burned_sats']} sats burned in the API, "
                        f"{sum(a for _, a in events)} in the EmergencyBurn events")
    per_user: Counter = Counter()
    for user, amount in events:
        per_user[user] += amount
    for user, amount in sorted(per_user.items()):
        summary = queries.emergency_burns(conn, user, 100, 0)["user_summary"]
        if summary["total_burned_sats"] != amount:
            problems.append(f"emergency-burns {user}: {summary['total_burned_sats']} sats in the API, "
                            f"{amount} in events")
        if summary["currently_flagged"] != bool(port.emergency_burned(user)):
            problems.append(f"emergency-burns {user}: flagged={summary['currently_flagged']} in the API, "
                            f"emergencyBurnExecuted={port.emergency_burned(user)} on chain")


def _check_reserves(conn, world, problems: list[str]) -> None:
    port, registry, chain = world.port, world.registry, world.chain
    por = queries.proof_of_reserves(conn)
    min_conf = max(1, port.params.min_confirmations)
    addresses = [b.btc_address for b in registry.all_bindings()]
    confirmed = chain.total_confirmed(addresses, min_conf)
    totals = por["totals"]
    if totals["reserves_source"] == "bitcoin_chain" and totals["reserves_btc_height"] == chain.height \
            and totals["btc_reserves_sats"] != confirmed:
        problems.append(f"proof-of-reserves: reserves {totals['btc_reserves_sats']} sats in the API, "
                        f"{confirmed} confirmed at the bound addresses on the Bitcoin chain (height {chain.height})")
    supply = totals["rbtc_total_supply_sats"]
    if totals["backing_ratio"] is not None and supply:
        expected = round(totals["btc_reserves_sats"] / supply, 8)
        if totals["backing_ratio"] != expected:
            problems.append(f"proof-of-reserves: backing ratio {totals['backing_ratio']}, expected {expected}")
    if port.has("ProofOfReserves"):
        rounds = port.call("ProofOfReserves", "rounds")
        if por["proofs_published"] != rounds:
            problems.append(f"proof-of-reserves: {por['proofs_published']} proofs in the API, "
                            f"{rounds} published on chain")
        if rounds and por["latest_proof"] is not None:
            root, height, total, timestamp = port.call("ProofOfReserves", "latest")
            latest = por["latest_proof"]
            got = (latest["merkle_root"], latest["btc_height"], latest["total_sats"], latest["published_timestamp"])
            if got != (_hex(root), height, total, timestamp):
                problems.append(f"proof-of-reserves: latest proof {got} in the API, "
                                f"{(_hex(root), height, total, timestamp)} on chain")
            if height == chain.height and total != confirmed:
                problems.append(f"proof-of-reserves: published total {total} at height {height}, {confirmed} confirmed "
                                "on the Bitcoin chain there")


def _check_pool(conn, port, problems: list[str]) -> None:
    if not port.has("YieldScalesPool"):
        return
    p = s.yield_scales_participants
    rows = conn.execute(select(p)).mappings().all()
    on_chain = port.call("YieldScalesPool", "totalParticipants")
    if len(rows) != on_chain:
        problems.append(f"yield-status: {len(rows)} participants indexed, totalParticipants {on_chain} on chain")
    for row in rows:
        user = row["user_address"]
        participant = port.call("YieldScalesPool", "getParticipant", (user,))
        ptype, usdt, rbtc, _earned, claimed, joined, _last, tier = participant
        expected = ("trader" if ptype == 1 else "bitcoin_holder", usdt, rbtc, claimed, joined, tier)
        got = (row["participant_type"], row["virtual_usdt"], row["rbtc_contributed_sats"], row["yield_claimed"],
               row["joined_at"], row["loyalty_tier"])
        if got != expected:
            problems.append(f"yield-status {user}: (type, usdt, rbtc, claimed, joined, tier) {got} indexed, "
                            f"{expected} on chain")
        api_tier = queries.yield_status(conn, user)["loyalty_tier"]
        if api_tier is None or queries.TIERS.index(api_tier["name"]) != tier:
            problems.append(f"yield-status {user}: the API's tier {api_tier and api_tier['name']}, "
                            f"participants(user).loyaltyTier {tier} on chain")
        disputed = port.call("YieldScalesPool", "isDisputed", (user,))
        if row["disputed"] != bool(disputed):
            problems.append(f"yield-status {user}: disputed={row['disputed']} indexed, isDisputed={disputed} on chain")
    rate = port.call("YieldScalesPool", "calculateYieldRate")
    api_rate = queries.yield_status(conn, None)["pool"]["current_rate_bps"]
    if rows and api_rate != rate:
        problems.append(f"yield-status: rate {api_rate} bps in the API, calculateYieldRate {rate} on chain")


def _check_http(conn, api_url: str, users: list[str], problems: list[str]) -> None:
    for user in users:
        for name, expected in (("balances", queries.balances(conn, user)),
                               ("bitcoin-addresses", queries.bitcoin_addresses(conn, user))):
            url = f"{api_url.rstrip('/')}/api/realtime/{name}?" + urllib.parse.urlencode({"address": user})
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.loads(response.read())
            if not body.get("success") or body.get("data") != expected:
                problems.append(f"HTTP {name} {user}: the server answered {str(body)[:200]}, the database says "
                                f"{str(expected)[:200]}")

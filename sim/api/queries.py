"""What the realtime endpoints answer, as plain functions of a database connection.

The HTTP layer (:mod:`sim.api.app`) validates the request and wraps these results in the
``{success, data, timestamp}`` envelope; the cross-checks (:mod:`sim.datacheck.crosscheck`) call the
same functions, so what they compare with the chain is exactly what the API serves.

Conventions of every answer:

* EVM addresses are lowercase ``0x`` hex; Bitcoin addresses are their canonical bech32 form.
* Sats (BTC and rBTC-SYNTH amounts; 1 token unit = 1 sat) are JSON integers (at most 21e14, exact
  in every JSON reader). Wei amounts (``*_wei``) are decimal strings: they are ``uint256`` and
  pass 2**53, where JavaScript numbers stop being exact. A transaction's ``amount`` is a decimal
  string too, with its ``unit`` (``sats`` or ``wei``) beside it.
* Times are given twice: ``…_time``/``…_at`` as ISO-8601 UTC, and ``…_timestamp`` as unix seconds.
  They are simulated times from the log, so an answer is a function of the database alone.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import Integer, bindparam, desc, func, or_, select, text, true
from sqlalchemy.engine import Connection

from sim.indexer import schema as s

#: sync-status: a registered user is ``active`` when its last sync is at most this many simulated
#: seconds older than the newest indexed record, ``stale`` otherwise. One hour: the committee polls
#: every 300 s and reacts to every Bitcoin block (600 s on average; a gap over an hour happens for
#: about 0.25 % of blocks), so a user whose balance moves is synced well within it.
STALENESS_WINDOW_S = 3_600

TIERS = ("bronze", "silver", "gold")
METHODS = {1: "bip322", 2: "self_send"}


# Statements are built once: SQLAlchemy then reuses their compiled form and cache key, which
# halves the cost of a query (see bench/bench_api.py for what that buys).
_ADDRESS = bindparam("address")
_LIMIT = bindparam("limit", type_=Integer)
_OFFSET = bindparam("offset", type_=Integer)
_t, _b, _e, _d, _p, _por, _u = (s.transactions, s.bitcoin_addresses, s.emergency_burns, s.balance_disputes,
                                 s.yield_scales_participants, s.proof_of_reserves, s.users)
_Q_META_ALL = select(s.indexer_meta.c.key, s.indexer_meta.c.value)
_Q_RUN = select(s.indexer_meta.c.value).where(s.indexer_meta.c.key == "run")
_Q_USER = select(_u).where(_u.c.eth_address == _ADDRESS)
_NEWEST_TX = (desc(_t.c.seq), desc(_t.c.log_index))
_Q_TX_COUNT = select(func.count()).select_from(_t).where(_t.c.user_address == _ADDRESS)
_Q_TX_PAGE = select(_t).where(_t.c.user_address == _ADDRESS).order_by(*_NEWEST_TX).limit(_LIMIT).offset(_OFFSET)
_Q_TX_EMERGENCY = select(_t).where(_t.c.user_address == _ADDRESS,
                                   or_(_t.c.is_emergency_burn == true(), _t.c.tx_type == "emergency_reset")) \
    .order_by(*_NEWEST_TX)
_Q_BTC = select(_b).where(_b.c.eth_address == _ADDRESS).order_by(_b.c.bind_seq)
_NEWEST_BURN = (desc(_e.c.seq), desc(_e.c.log_index))
_Q_BURNS_PAGE = select(_e).order_by(*_NEWEST_BURN).limit(_LIMIT).offset(_OFFSET)
_Q_BURNS_USER = select(_e).where(_e.c.user_address == _ADDRESS).order_by(*_NEWEST_BURN)
_Q_PARTICIPANT = select(_p).where(_p.c.user_address == _ADDRESS)
_NEWEST_DISPUTE = (desc(_d.c.filed_seq), desc(_d.c.dispute_id))
_Q_DISPUTES_PAGE = select(_d).order_by(*_NEWEST_DISPUTE).limit(_LIMIT).offset(_OFFSET)
_Q_DISPUTES_USER = select(_d).where(_d.c.user_address == _ADDRESS).order_by(*_NEWEST_DISPUTE)
_Q_POR_LATEST = select(_por).order_by(desc(_por.c.seq)).limit(1)
_Q_POR_COUNT = select(func.count()).select_from(_por)
_ib = s.index_batches
_Q_LAST_BATCH = select(_ib).order_by(desc(_ib.c.last_seq)).limit(1)
# System-wide totals come from the views PROTOCOL.md lists (schema.VIEWS), never from the indexer's meta.
# (SUMs are cast back to integers: PostgreSQL sums BIGINTs into NUMERIC.)
_Q_USER_TOTALS = text(
    "SELECT COUNT(*) AS users, "
    "CAST(COALESCE(SUM(CASE WHEN registered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS registered, "
    "CAST(COALESCE(SUM(rbtc_balance_sats), 0) AS BIGINT) AS rbtc_supply_sats, "
    "CAST(COALESCE(SUM(last_sats), 0) AS BIGINT) AS total_last_sats, "
    "CAST(COALESCE(SUM(btc_confirmed_sats), 0) AS BIGINT) AS oracle_confirmed_sats, "
    "CAST(COALESCE(SUM(CASE WHEN emergency_burned THEN 1 ELSE 0 END), 0) AS BIGINT) AS flagged, "
    "CAST(COALESCE(SUM(CASE WHEN needs_topup THEN 1 ELSE 0 END), 0) AS BIGINT) AS needs_topup, "
    "CAST(COALESCE(SUM(CASE WHEN in_sync = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS out_of_sync "
    "FROM user_current_state")
_Q_BURN_TOTALS = text(
    "SELECT COUNT(*) AS users_affected, CAST(COALESCE(SUM(burn_count), 0) AS BIGINT) AS total_burns, "
    "CAST(COALESCE(SUM(total_burned_sats), 0) AS BIGINT) AS total_burned_sats FROM emergency_burn_summary")
_Q_FLAGGED = text("SELECT COUNT(*) FROM user_current_state WHERE emergency_burned = :yes").bindparams(yes=True)
_Q_ORACLE_STATS = text("SELECT op, operations, users, net_delta_sats, gross_delta_sats, first_at, last_at, "
                       "avg_delay_s, max_delay_s FROM oracle_operations_stats")
_Q_DISPUTE_COUNTS = select(_d.c.status, func.count()).group_by(_d.c.status)
_tl = s.system_timeline
_Q_RESERVES = select(_tl.c.reserves_sats, _tl.c.btc_height, _tl.c.timestamp) \
    .where(_tl.c.reserves_sats.is_not(None)).order_by(desc(_tl.c.seq)).limit(1)
_y = s.yield_operations_log
_Q_POOL_EVENT = select(_y.c.args, _y.c.timestamp).where(_y.c.op == bindparam("op")).order_by(desc(_y.c.seq)).limit(1)
_Q_POOL_COUNTS = select(_p.c.participant_type, _p.c.loyalty_tier, func.count()).where(_p.c.active == true()) \
    .group_by(_p.c.participant_type, _p.c.loyalty_tier)
_Q_POOL_CLAIMED = select(_p.c.yield_claimed).where(_p.c.claims > 0)


def iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wei(value: int | None) -> str | None:
    return None if value is None else str(value)


def read_meta(conn: Connection) -> dict:
    """The indexer's own bookkeeping (JSON-decoded): the run it indexed, its last record. No answer
    reads its running totals: those come from the views."""
    return {key: json.loads(value) for key, value in conn.execute(_Q_META_ALL)}


#: ``figures(conn, name, compute)``: how an answer gets a system-wide figure (totals over every user,
#: the pool). Without one it is computed; the API passes one that keeps each figure until the indexer
#: commits its next batch, since they depend on nothing else (see sim.api.app.BatchCache).
Figures = Callable[[Connection, str, Callable[[Connection], Any]], Any]


def figure(conn: Connection, figures: Figures | None, name: str, compute: Callable[[Connection], Any]) -> Any:
    return compute(conn) if figures is None else figures(conn, name, compute)


def indexed(conn: Connection) -> dict:
    """Where the index stands: its newest committed batch (``last_seq``, ``latest_at`` and the chain
    heights then), or all None before the first commit."""
    row = conn.execute(_Q_LAST_BATCH).mappings().first()
    if row is None:
        return {"last_seq": None, "latest_at": None, "btc_height": None, "evm_block": None}
    return {"last_seq": row["last_seq"], "latest_at": row["latest_at"], "btc_height": row["btc_height"],
            "evm_block": row["evm_block"]}


def user_totals(conn: Connection) -> dict:
    """Sums over ``user_current_state``: supply, Σ lastSats, the committee's Σ observation, flags."""
    return dict(conn.execute(_Q_USER_TOTALS).mappings().one())


def oracle_stats(conn: Connection) -> dict[str, dict]:
    """``oracle_operations_stats`` by operation (numbers as int, the average delay as float)."""
    def number(value, kind=int):
        return None if value is None else kind(value)

    return {row["op"]: {"operations": number(row["operations"]), "users": number(row["users"]),
                        "net_delta_sats": number(row["net_delta_sats"]),
                        "gross_delta_sats": number(row["gross_delta_sats"]), "first_at": number(row["first_at"]),
                        "last_at": number(row["last_at"]), "avg_delay_s": number(row["avg_delay_s"], float),
                        "max_delay_s": number(row["max_delay_s"])}
            for row in conn.execute(_Q_ORACLE_STATS).mappings()}


def _user(conn: Connection, address: str) -> dict | None:
    row = conn.execute(_Q_USER, {"address": address}).mappings().first()
    return dict(row) if row is not None else None


def _registered(user: dict | None) -> bool:
    return user is not None and user["registered_at"] is not None


_Q_OWNER = select(_b.c.eth_address).where(_b.c.bitcoin_address == _ADDRESS)


def lookup(conn: Connection, query: tuple[str, str]) -> dict:
    """``query`` is ``(kind, address)`` as the API parsed it: an EVM address, or a Bitcoin address
    whose owner is looked up among the bindings."""
    kind, address = query
    if kind == "evm":
        return {"query": address, "kind": kind, "user": address, "registered": _registered(_user(conn, address))}
    owner = conn.execute(_Q_OWNER, {"address": address}).scalar_one_or_none()
    return {"query": address, "kind": kind, "user": owner, "registered": owner is not None}


# ---------------------------------------------------------------------- balances


def balances(conn: Connection, address: str) -> dict:
    user = _user(conn, address)
    if user is None:
        return {"address": address, "registered": False, "symbol": "rBTC-SYNTH", "decimals": 8, "unit": "sats",
                "rbtc_balance": 0, "last_sats": 0, "btc_confirmed_sats": None, "vault_balance_wei": "0",
                "emergency_burned": False, "needs_topup": False, "last_update": None}
    last_update = None
    if user["last_sync_at"] is not None:
        last_update = {"time": iso(user["last_sync_at"]), "timestamp": user["last_sync_at"],
                       "block": user["last_sync_block"], "tx_hash": user["last_sync_tx"]}
    return {
        "address": address,
        "registered": _registered(user),
        "symbol": "rBTC-SYNTH",
        "decimals": 8,
        "unit": "sats",
        "rbtc_balance": user["rbtc_balance_sats"],
        "last_sats": user["last_sats"],
        "btc_confirmed_sats": user["btc_confirmed_sats"],
        "vault_balance_wei": _wei(user["vault_balance_wei"]),
        "emergency_burned": user["emergency_burned"],
        "needs_topup": user["needs_topup"],
        "last_update": last_update,
    }


# ---------------------------------------------------------------------- sync status


def sync_status(conn: Connection, address: str, staleness_window_s: int = STALENESS_WINDOW_S) -> dict:
    user = _user(conn, address)
    latest_at = indexed(conn)["latest_at"]
    base = {"address": address, "staleness_window_s": staleness_window_s, "indexed_until": iso(latest_at)}
    if not _registered(user):
        return {**base, "status": "not_registered", "synced": False, "last_sync_time": None,
                "last_sync_timestamp": None, "last_sync_block": None, "seconds_since_last_sync": None,
                "last_sats": user["last_sats"] if user else 0, "btc_confirmed_sats": None,
                "pending_delta_sats": None, "sync_count": user["sync_count"] if user else 0,
                "needs_topup": bool(user and user["needs_topup"]),
                "emergency_burned": bool(user and user["emergency_burned"])}
    last = user["last_sync_at"]
    age = None if last is None or latest_at is None else latest_at - last
    status = "active" if age is not None and age <= staleness_window_s else "stale"
    confirmed = user["btc_confirmed_sats"]
    synced = (confirmed if confirmed is not None else 0) == user["last_sats"] and not user["needs_topup"]
    return {
        **base,
        "status": status,
        "synced": synced,
        "last_sync_time": iso(last),
        "last_sync_timestamp": last,
        "last_sync_block": user["last_sync_block"],
        "seconds_since_last_sync": age,
        "last_sats": user["last_sats"],
        "btc_confirmed_sats": confirmed,
        "pending_delta_sats": None if confirmed is None else confirmed - user["last_sats"],
        "sync_count": user["sync_count"],
        "needs_topup": user["needs_topup"],
        "emergency_burned": user["emergency_burned"],
    }


# ---------------------------------------------------------------------- transactions


def _tx_item(row) -> dict:
    return {
        "hash": row["tx_hash"],
        "block": row["block_number"],
        "tx_index": row["tx_index"],
        "log_index": row["log_index"],
        "time": iso(row["timestamp"]),
        "timestamp": row["timestamp"],
        "type": row["tx_type"],
        "amount": None if row["amount"] is None else str(row["amount"]),
        "unit": row["unit"],
        "delta": row["delta_sats"],
        "fee_wei": _wei(row["fee_wei"]),
        "bitcoin_address": row["bitcoin_address"],
        "status": row["status"],
        "is_emergency_burn": row["is_emergency_burn"],
        "function": row["function"],
        "error": row["error"],
    }


def transactions(conn: Connection, address: str, limit: int, offset: int) -> dict:
    total = conn.execute(_Q_TX_COUNT, {"address": address}).scalar_one()
    rows = conn.execute(_Q_TX_PAGE, {"address": address, "limit": limit, "offset": offset}).mappings().all() \
        if offset < total else []
    items = [_tx_item(r) for r in rows]
    return {"address": address, "transactions": items,
            "pagination": {"limit": limit, "offset": offset, "returned": len(items), "total": total,
                           "has_more": offset + len(items) < total}}


# ---------------------------------------------------------------------- bitcoin addresses


def bitcoin_addresses(conn: Connection, address: str) -> dict:
    rows = conn.execute(_Q_BTC, {"address": address}).mappings().all()
    items = [{
        "address": r["bitcoin_address"],
        "type": r["address_type"],
        "network": r["network"],
        "verification_method": METHODS.get(r["verification_method"], str(r["verification_method"])),
        "checksum": r["checksum"],
        "bound_at": iso(r["bound_at"]),
        "bound_at_timestamp": r["bound_at"],
        "prepay_wei": _wei(r["prepay_wei"]),
        "btc_tx_count": r["btc_tx_count"],
        "received_sats": r["received_sats"],
        "sent_sats": r["sent_sats"],
    } for r in rows]
    return {"address": address, "registered": bool(items), "count": len(items), "bitcoin_addresses": items}


# ---------------------------------------------------------------------- emergency burns


def burn_item(r) -> dict:
    return {
        "hash": r["tx_hash"],
        "block": r["block_number"],
        "time": iso(r["timestamp"]),
        "timestamp": r["timestamp"],
        "user": r["user_address"],
        "burned_sats": r["burned_sats"],
        "reason": r["reason"],
        "trigger": r["trigger"],
        "btc_confirmed_sats": r["btc_confirmed_sats"],
        "reset": r["reset_at"] is not None,
        "reset_time": iso(r["reset_at"]),
        "reset_tx": r["reset_tx"],
    }


def burn_totals(conn: Connection) -> dict:
    """From ``emergency_burn_summary`` (burns per user) and ``user_current_state`` (who is flagged)."""
    row = conn.execute(_Q_BURN_TOTALS).mappings().one()
    return {"total_burns": row["total_burns"], "total_burned_sats": row["total_burned_sats"],
            "users_affected": row["users_affected"], "users_flagged": conn.execute(_Q_FLAGGED).scalar_one()}


def emergency_burns(conn: Connection, address: str | None, limit: int, offset: int,
                    figures: Figures | None = None) -> dict:
    system = figure(conn, figures, "burn_totals", burn_totals)
    if address is None:
        rows = conn.execute(_Q_BURNS_PAGE, {"limit": limit, "offset": offset}).mappings().all()
        items = [burn_item(r) for r in rows]
        return {"burns": items, "system": system,
                "pagination": {"limit": limit, "offset": offset, "returned": len(items),
                               "total": system["total_burns"],
                               "has_more": offset + len(items) < system["total_burns"]}}
    user = _user(conn, address)
    burn_count = user["emergency_burn_count"] if user else 0
    rows = conn.execute(_Q_BURNS_USER, {"address": address}).mappings().all() if burn_count else []
    burns = [burn_item(r) for r in rows]
    tx_rows = conn.execute(_Q_TX_EMERGENCY, {"address": address}).mappings().all() if burn_count else []
    user_summary = {
        "burn_count": len(burns),
        "total_burned_sats": sum(b["burned_sats"] for b in burns),
        "currently_flagged": bool(user and user["emergency_burned"]),
        "first_burn_time": burns[-1]["time"] if burns else None,
        "last_burn_time": burns[0]["time"] if burns else None,
    }
    return {"address": address, "burns": burns[offset:offset + limit],
            "emergency_transactions": [_tx_item(r) for r in tx_rows],
            "user_summary": user_summary, "system": system,
            "pagination": {"limit": limit, "offset": offset, "returned": len(burns[offset:offset + limit]),
                           "total": len(burns), "has_more": offset + limit < len(burns)}}


# ---------------------------------------------------------------------- yield


def _tier_by_age(age: int, params: dict) -> int:
    return 2 if age >= params["gold_after_s"] else (1 if age >= params["silver_after_s"] else 0)


def _tier(row, now: int | None, params: dict) -> dict:
    """The participant's tier as the pool holds it (checkpointed), and what the next checkpoint would set."""
    index = row["loyalty_tier"]
    multipliers = (params["bronze_multiplier"], params["silver_multiplier"], params["gold_multiplier"])
    age = 0 if now is None else max(0, now - row["joined_at"])
    by_age = _tier_by_age(age, params)
    thresholds = (params["silver_after_s"], params["gold_after_s"], None)
    return {"name": TIERS[index], "multiplier_percent": multipliers[index],
            "checkpointed_at": iso(row["tier_checkpoint_at"]), "checkpointed_timestamp": row["tier_checkpoint_at"],
            "age_s": age, "tier_at_next_checkpoint": TIERS[by_age],
            "next_tier": TIERS[by_age + 1] if by_age < 2 else None,
            "seconds_to_next_tier": None if thresholds[by_age] is None else thresholds[by_age] - age}


def pool_state(conn: Connection) -> dict:
    """The YieldScalesPool from its indexed events and participants: the rate and scales of its newest
    ``YieldCalculated`` / ``ScalesBalanceUpdated``, the parameters of its newest ``YieldParametersSet``
    (else the deployment's, from ``world_start``, else the constructor's), and counts per type and
    checkpointed tier."""
    def newest(op):
        row = conn.execute(_Q_POOL_EVENT, {"op": op}).first()
        return (json.loads(row[0]), row[1]) if row is not None else (None, None)

    calculated, _ = newest("yield_calculated")
    scales, _ = newest("scales_balance_updated")
    parameters, _ = newest("yield_parameters_set")
    if parameters:
        params = dict(zip(s.YIELD_PARAMETER_NAMES, parameters))
    else:  # as deployed: configured before the first record (world_start says so), or the constructor's
        run = conn.execute(_Q_RUN).scalar_one_or_none()
        params = (json.loads(run) if run else {}).get("yield_parameters") or dict(s.DEFAULT_YIELD_PARAMETERS)
    by_type = {"bitcoin_holder": 0, "trader": 0}
    tiers = dict.fromkeys(TIERS, 0)
    for ptype, tier, count in conn.execute(_Q_POOL_COUNTS):
        by_type[ptype] = by_type.get(ptype, 0) + count
        tiers[TIERS[tier]] += count
    claimed = sum(int(v) for v in conn.execute(_Q_POOL_CLAIMED).scalars())
    rate = calculated[2] if calculated else 0
    return {
        "current_rate_bps": rate,
        "current_rate_percent": rate / 100,
        "rbtc_scale": scales[1] if scales else 0,
        "usdt_scale": scales[0] if scales else 100,
        "total_virtual_usdt": str(calculated[0] if calculated else 0),
        "total_rbtc_supply_sats": calculated[1] if calculated else 0,
        "total_yield_claimed": str(claimed),
        "participants": sum(by_type.values()),
        "bitcoin_holders": by_type["bitcoin_holder"],
        "traders": by_type["trader"],
        "tiers": tiers,
        "scales_updated_at": iso(scales[2]) if scales else None,
        "parameters": params,
    }


def yield_status(conn: Connection, address: str | None, figures: Figures | None = None) -> dict:
    latest_at = indexed(conn)["latest_at"]
    pool = figure(conn, figures, "pool_state", pool_state)
    params, rate = pool["parameters"], pool["current_rate_bps"]
    if address is None:
        return {"pool": pool, "indexed_until": iso(latest_at)}
    row = conn.execute(_Q_PARTICIPANT, {"address": address}).mappings().first()
    user = _user(conn, address)
    participant = None
    tier = None
    if row is not None:
        participant = {
            "type": row["participant_type"],
            "active": row["active"],
            "joined_at": iso(row["joined_at"]),
            "joined_at_timestamp": row["joined_at"],
            "rbtc_contributed_sats": row["rbtc_contributed_sats"],
            "virtual_usdt": str(row["virtual_usdt"]),
            "yield_claimed": str(row["yield_claimed"]),
            "claims": row["claims"],
            "last_activity_at": iso(row["last_activity_at"]),
            "disputed": row["disputed"],
        }
        tier = _tier(row, latest_at, params)
    balance = user["rbtc_balance_sats"] if user else 0
    if row is not None and row["active"]:
        eligibility = {"eligible": True, "reason": "already a participant"}
    elif not _registered(user):
        eligibility = {"eligible": False, "reason": "not registered: no Bitcoin address bound"}
    elif user["emergency_burned"]:
        eligibility = {"eligible": False, "reason": "emergency burn in effect: top up the fee vault"}
    elif balance <= 0:
        eligibility = {"eligible": False, "reason": "no rBTC-SYNTH balance to contribute"}
    else:
        eligibility = {"eligible": True, "reason": "holds rBTC-SYNTH: can join as a Bitcoin holder"}
    return {"address": address, "is_participant": row is not None and row["active"], "participant": participant,
            "eligibility": eligibility, "loyalty_tier": tier, "rbtc_balance": balance,
            "current_rate_bps": rate, "pool": pool, "indexed_until": iso(latest_at)}


# ---------------------------------------------------------------------- disputes

OPEN_STATES = ("filed", "validated")


def _dispute_item(r) -> dict:
    return {
        "dispute_id": r["dispute_id"],
        "user": r["user_address"],
        "status": r["status"],
        "active": r["status"] in OPEN_STATES,
        "reported_sats": r["reported_sats"],
        "recorded_sats": r["recorded_sats"],
        "confirmed_sats": r["confirmed_sats"],
        "outcome": r["outcome"],
        "onchain": r["onchain"],
        "filed_at": iso(r["filed_at"]),
        "validated_at": iso(r["validated_at"]),
        "resolved_at": iso(r["resolved_at"]),
        "resolved_in_s": r["resolved_in_s"],
    }


def _dispute_totals(counts: dict[str, int]) -> dict:
    totals = {state: counts.get(state, 0) for state in ("filed", "validated", "accepted", "rejected")}
    totals["total"] = sum(counts.values())
    totals["open"] = totals["filed"] + totals["validated"]
    totals["resolved"] = totals["accepted"] + totals["rejected"]
    return totals


def dispute_totals(conn: Connection) -> dict:
    return _dispute_totals(dict(conn.execute(_Q_DISPUTE_COUNTS).all()))


def disputes(conn: Connection, address: str | None, limit: int, offset: int,
             figures: Figures | None = None) -> dict:
    system = figure(conn, figures, "dispute_totals", dispute_totals)
    if address is None:
        rows = conn.execute(_Q_DISPUTES_PAGE, {"limit": limit, "offset": offset}).mappings().all()
        items = [_dispute_item(r) for r in rows]
        return {"disputes": items, "totals": system, "active_disputes": system["open"],
                "pagination": {"limit": limit, "offset": offset, "returned": len(items), "total": system["total"],
                               "has_more": offset + len(items) < system["total"]}}
    rows = conn.execute(_Q_DISPUTES_USER, {"address": address}).mappings().all()
    items = [_dispute_item(r) for r in rows]
    active = next((i for i in items if i["active"]), None)
    user_totals = _dispute_totals({state: sum(1 for i in items if i["status"] == state)
                                   for state in ("filed", "validated", "accepted", "rejected")})
    page = items[offset:offset + limit]
    return {"address": address, "disputes": page, "has_active_dispute": active is not None,
            "active_dispute": active, "totals": user_totals, "system_totals": system,
            "pagination": {"limit": limit, "offset": offset, "returned": len(page), "total": len(items),
                           "has_more": offset + len(page) < len(items)}}


# ---------------------------------------------------------------------- proof of reserves


def _ratio(reserves: int | None, supply: int | None) -> float | None:
    if reserves is None or not supply:
        return None
    return round(reserves / supply, 8)


_Q_POR_ROUND = select(_por).where(_por.c.round == bindparam("round"))
_Q_POR_ROOT = select(_por).where(_por.c.root == bindparam("root")).order_by(desc(_por.c.seq)).limit(1)


def published_round(conn: Connection, round_: int | None, root: str | None = None) -> dict | None:
    """A published proof-of-reserves round as the index recorded it: the newest (no arguments), an
    on-chain round by number, or a snapshot without a round by its root. None when there is none."""
    if round_ is not None:
        row = conn.execute(_Q_POR_ROUND, {"round": round_}).mappings().first()
    elif root is not None:
        row = conn.execute(_Q_POR_ROOT, {"root": root}).mappings().first()
    else:
        row = conn.execute(_Q_POR_LATEST).mappings().first()
    if row is None:
        return None
    return {"round": row["round"] if row["round"] >= 0 else None, "merkle_root": row["root"],
            "btc_height": row["btc_height"], "total_sats": row["total_sats"], "tx_hash": row["tx_hash"],
            "published_at": iso(row["published_at"])}


def proof_of_reserves(conn: Connection, figures: Figures | None = None) -> dict:
    """Latest published proof and current totals.

    ``btc_reserves_sats`` comes from the Bitcoin chain, never from the oracle's records (PROTOCOL.md):
    the newest ``reserves`` record (the world's chain-side total of confirmed BTC at the bound
    addresses) when the log has them, else the newest published proof's total (Σ confirmed BTC at its
    snapshot height, verifiable against its Merkle root), else none and ``backing_ratio`` is null.
    ``reserves_source`` says which. The committee's own view (Σ of its last observation per user)
    is reported apart, as ``oracle_view``, and is not used for the ratio.
    """
    totals = figure(conn, figures, "user_totals", user_totals)
    where = indexed(conn)
    latest = conn.execute(_Q_POR_LATEST).mappings().first()
    count = conn.execute(_Q_POR_COUNT).scalar_one()
    supply = totals["rbtc_supply_sats"]
    latest_proof = None
    if latest is not None:
        latest_proof = {
            "round": latest["round"] if latest["round"] >= 0 else None,
            "merkle_root": latest["root"],
            "btc_height": latest["btc_height"],
            "total_sats": latest["total_sats"],
            "leaves": latest["leaves"],
            "published_at": iso(latest["published_at"]),
            "published_timestamp": latest["published_at"],
            "tx_hash": latest["tx_hash"],
            "block": latest["block_number"],
            "rbtc_supply_at_publication": latest["rbtc_supply_sats"],
            "backing_ratio_at_publication": _ratio(latest["total_sats"], latest["rbtc_supply_sats"]),
        }
    reserves = conn.execute(_Q_RESERVES).first()
    if reserves is not None:
        source, amount, height, as_of = "bitcoin_chain", reserves[0], reserves[1], reserves[2]
    elif latest_proof is not None and latest_proof["total_sats"] is not None:
        source, amount, height, as_of = "proof_of_reserves", latest_proof["total_sats"], \
            latest_proof["btc_height"], latest_proof["published_timestamp"]
    else:
        source, amount, height, as_of = None, None, None, None
    ratio = _ratio(amount, supply)
    oracle_confirmed = totals["oracle_confirmed_sats"]
    return {
        "latest_proof": latest_proof,
        "proofs_published": count,
        "totals": {
            "rbtc_total_supply_sats": supply,
            "total_last_sats": totals["total_last_sats"],
            "btc_reserves_sats": amount,
            "reserves_source": source,
            "reserves_btc_height": height,
            "reserves_as_of": iso(as_of),
            "backing_ratio": ratio,
            "fully_backed": None if amount is None else amount >= supply,
        },
        "oracle_view": {
            "confirmed_sats": oracle_confirmed,
            "backing_ratio": _ratio(oracle_confirmed, supply),
            "note": "the committee's last observation per user; informative, not a reserve figure",
        },
        "btc_height": where["btc_height"],
        "evm_block": where["evm_block"],
        "indexed_until": iso(where["latest_at"]),
        "last_indexed_seq": where["last_seq"],
    }

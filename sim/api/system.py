"""The system-wide answers behind the dashboard: the system view, the health board, the violations.

Like :mod:`sim.api.queries`, plain functions of a database connection; totals come from the views
(through :mod:`sim.api.queries`), the time series from ``system_timeline``, the marks on its time
axis from ``incidents``. Everything here is a function of the database, so the app caches each
answer per indexed batch (see :class:`sim.api.app.BatchCache`).
"""

from __future__ import annotations

import json

from sqlalchemy import Integer, bindparam, desc, func, select, text
from sqlalchemy.engine import Connection

from sim.api import queries
from sim.api.queries import iso
from sim.indexer import schema as s

#: The system view's series keep at most this many points (the newest point is always kept exactly).
MAX_POINTS = 360
#: Incidents listed one by one; backing windows are merged per cause first.
MAX_INCIDENTS = 300
#: Contracts the protocol cannot work without (ProofOfReserves is optional, PROTOCOL.md).
CORE_CONTRACTS = ("FeePolicy", "RBTCSynth", "FeeVault", "OracleAggregator", "YieldScalesPool")
#: The oracle is "degraded" when its last round is this many simulated seconds older than the newest
#: record (three default poll intervals), or when it has not seen the Bitcoin tip.
ORACLE_LAG_S = 900
#: A dispute open longer than this (simulated seconds) turns its board entry amber (PROTOCOL.md's
#: disputes are resolved within 15 minutes).
DISPUTE_BOUND_S = 900
#: API latency thresholds (ms) for the board: p99 under the first is ok, under the second degraded.
LATENCY_OK_MS, LATENCY_DEGRADED_MS = 50.0, 500.0

_tl, _inc, _iv, _oo, _sc = (s.system_timeline, s.incidents, s.invariant_violations, s.oracle_operations_log,
                            s.system_contracts)
# Plain SQL for the two scans of a whole table (thousands of rows): no per-value type processing;
# the wei columns come back as the decimal text they are stored as.
_Q_TIMELINE = text(f"SELECT {', '.join(c.name for c in _tl.columns)} FROM system_timeline ORDER BY seq")
_Q_INCIDENTS = select(_inc).order_by(_inc.c.started_at, _inc.c.seq)
_Q_LAST_ROUND = select(_oo.c.timestamp, _oo.c.details, _oo.c.reason).where(_oo.c.op == "round") \
    .order_by(desc(_oo.c.seq)).limit(1)
_Q_LAST_OUTAGE = select(_inc.c.started_at, _inc.c.ended_at).where(_inc.c.kind == "oracle_outage") \
    .order_by(desc(_inc.c.ended_at)).limit(1)
_Q_CONTRACTS = select(_sc.c.name, _sc.c.address).order_by(_sc.c.seq, _sc.c.name)
_Q_VIOLATION_COUNT = select(func.count()).select_from(_iv)
_Q_VIOLATIONS = select(_iv).order_by(_iv.c.seq).limit(bindparam("limit", type_=Integer)) \
    .offset(bindparam("offset", type_=Integer))
_Q_OLDEST_OPEN_DISPUTE = select(func.min(s.balance_disputes.c.filed_at)) \
    .where(s.balance_disputes.c.status.in_(queries.OPEN_STATES))
_Q_VAULTS = text("SELECT vault_balance_wei, total_fees_wei FROM users")
_Q_NEWEST_BURNS = select(s.emergency_burns).order_by(desc(s.emergency_burns.c.seq)).limit(5)
_Q_BATCHES_AFTER = select(s.index_batches).where(s.index_batches.c.last_seq > bindparam("after", type_=Integer)) \
    .order_by(s.index_batches.c.last_seq).limit(bindparam("count", type_=Integer))


def _ratio(reserves, supply):
    return None if reserves is None or not supply else round(reserves / supply, 8)


# ---------------------------------------------------------------------- the system view


def current_figures(conn: Connection, figures: queries.Figures | None = None) -> dict:
    """The system's figures now, from the views: what the newest point of every series shows."""
    por = queries.proof_of_reserves(conn, figures)
    totals = por["totals"]
    burns = queries.figure(conn, figures, "burn_totals", queries.burn_totals)
    disputes = queries.figure(conn, figures, "dispute_totals", queries.dispute_totals)
    pool = queries.figure(conn, figures, "pool_state", queries.pool_state)
    vault = fees = 0
    for vault_wei, fees_wei in conn.execute(_Q_VAULTS):
        vault += int(vault_wei)
        fees += int(fees_wei)
    where = queries.indexed(conn)
    return {
        "timestamp": where["latest_at"], "btc_height": where["btc_height"],
        "rbtc_supply_sats": totals["rbtc_total_supply_sats"], "reserves_sats": totals["btc_reserves_sats"],
        "backing_ratio": totals["backing_ratio"], "vault_total_wei": vault, "fees_total_wei": fees,
        "emergency_burns": burns["total_burns"], "emergency_burned_sats": burns["total_burned_sats"],
        "disputes_open": disputes["open"], "disputes_accepted": disputes["accepted"],
        "disputes_rejected": disputes["rejected"], "yield_rate_bps": pool["current_rate_bps"],
        "pool_participants": pool["participants"],
        "_por": por, "_burns": burns, "_disputes": disputes, "_pool": pool,
    }


_SERIES = ("rbtc_supply_sats", "reserves_sats", "vault_total_wei", "fees_total_wei", "emergency_burns",
           "emergency_burned_sats", "disputes_open", "disputes_accepted", "disputes_rejected", "yield_rate_bps",
           "pool_participants")
_WEI = ("vault_total_wei", "fees_total_wei")


def _downsample(rows: list[dict], limit: int) -> list[dict]:
    """At most ``limit`` rows: the last row of each equal time bucket, each with the lowest backing
    ratio seen in its bucket (so a dip between kept points still shows), the newest row always kept."""
    for row in rows:
        row["backing_ratio_min"] = _ratio(row["reserves_sats"], row["rbtc_supply_sats"])
    if len(rows) <= limit:
        return rows
    start, end = rows[0]["timestamp"], rows[-1]["timestamp"]
    width = max(1, (end - start) / limit)
    kept: list[dict] = []
    bucket_low = None
    current = None
    for row in rows:
        bucket = min(limit - 1, int((row["timestamp"] - start) / width))
        low = row["backing_ratio_min"]
        if current is not None and bucket != current:
            kept[-1]["backing_ratio_min"] = bucket_low
            bucket_low = None
        if current is None or bucket != current:
            kept.append(row)
            current = bucket
        else:
            kept[-1] = row
        if low is not None and (bucket_low is None or low < bucket_low):
            bucket_low = low
    kept[-1]["backing_ratio_min"] = bucket_low
    return kept


def _incidents(conn: Connection) -> list[dict]:
    """Reorgs, outages and droughts as they are; backing windows merged per cause into the spans in
    which at least one was open (a chart marks spans, not the hundreds of users inside them)."""
    out, windows = [], {}
    for r in conn.execute(_Q_INCIDENTS).mappings():
        if r["kind"] != "backing_window":
            details = json.loads(r["details"])
            out.append({"kind": r["kind"], "started_at": r["started_at"], "ended_at": r["ended_at"],
                        "cause": None, "users": None, "details": details})
            continue
        spans = windows.setdefault(r["cause"] or "unexplained", [])
        end = r["ended_at"]
        if spans and (spans[-1]["ended_at"] is None or r["started_at"] <= spans[-1]["ended_at"]):
            last = spans[-1]
            last["ended_at"] = None if end is None or last["ended_at"] is None else max(last["ended_at"], end)
            last["users"] += 1
        else:
            spans.append({"kind": "backing_window", "started_at": r["started_at"], "ended_at": end,
                          "cause": r["cause"], "users": 1, "details": {}})
    for spans in windows.values():
        out.extend(spans)
    out.sort(key=lambda i: (i["started_at"], i["kind"]))
    return out[-MAX_INCIDENTS:]


def system_view(conn: Connection, figures: queries.Figures | None = None, points: int = MAX_POINTS) -> dict:
    """Everything the system view draws: the series (column-wise; wei as decimal strings), the marks
    on the time axis, and the panels' figures. The newest point is the current state from the views,
    so a chart's last point equals what the endpoints answer now."""
    now = current_figures(conn, figures)
    rows = [dict(r) for r in conn.execute(_Q_TIMELINE).mappings()]
    for row in rows:
        row["vault_total_wei"], row["fees_total_wei"] = int(row["vault_total_wei"]), int(row["fees_total_wei"])
    if now["timestamp"] is not None:
        point = {k: now[k] for k in ("timestamp", "btc_height", *_SERIES)}
        point["seq"] = None
        if rows and rows[-1]["timestamp"] == point["timestamp"]:
            rows[-1] = point
        else:
            rows.append(point)
    rows = _downsample(rows, max(2, points))
    series = {"t": [r["timestamp"] for r in rows],
              "backing_ratio": [_ratio(r["reserves_sats"], r["rbtc_supply_sats"]) for r in rows],
              "backing_ratio_min": [r["backing_ratio_min"] for r in rows]}
    for key in _SERIES:
        series[key] = [str(r[key]) if key in _WEI else r[key] for r in rows]
    por, burns, disputes, pool = now["_por"], now["_burns"], now["_disputes"], now["_pool"]
    newest = [queries.burn_item(r) for r in conn.execute(_Q_NEWEST_BURNS).mappings()]
    return {
        "indexed_until": iso(now["timestamp"]), "indexed_until_timestamp": now["timestamp"],
        "last_indexed_seq": por["last_indexed_seq"],
        "totals": {**por["totals"], "vault_total_wei": str(now["vault_total_wei"]),
                   "fees_total_wei": str(now["fees_total_wei"])},
        "emergency_burns": {**burns, "newest": newest},
        "disputes": disputes,
        "yield": {k: pool[k] for k in ("current_rate_bps", "current_rate_percent", "participants",
                                       "bitcoin_holders", "traders", "tiers", "total_yield_claimed")},
        "latest_proof": por["latest_proof"],
        "proofs_published": por["proofs_published"],
        "violations": conn.execute(_Q_VIOLATION_COUNT).scalar_one(),
        "series": series,
        "incidents": _incidents(conn),
    }


# ---------------------------------------------------------------------- violations


def violations(conn: Connection, limit: int, offset: int, reproduce: str | None) -> dict:
    """Every invariant violation in the order it happened, each with the command that reproduces the
    run (the run's ``summary.json`` says it; null when the server has only a database)."""
    total = conn.execute(_Q_VIOLATION_COUNT).scalar_one()
    rows = conn.execute(_Q_VIOLATIONS, {"limit": limit, "offset": offset}).mappings().all() if offset < total else []
    items = [{"seq": r["seq"], "invariant": r["invariant"], "step": r["step"], "time": iso(r["timestamp"]),
              "timestamp": r["timestamp"], "actor": r["actor"], "values": json.loads(r["values_json"]),
              "message": r["message"], "reproduce": reproduce} for r in rows]
    return {"violations": items, "reproduce": reproduce,
            "pagination": {"limit": limit, "offset": offset, "returned": len(items), "total": total,
                           "has_more": offset + len(items) < total}}


# ---------------------------------------------------------------------- health


def _worst(statuses) -> str:
    order = ("ok", "degraded", "down")
    return max(statuses, key=order.index, default="ok")


def table_rows(conn: Connection) -> dict[str, int]:
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in s.PROTOCOL_TABLES}


def health(conn: Connection, latency: dict, rows: dict[str, int], figures: queries.Figures | None = None) -> dict:
    """The health board, in the seed document's shape: one entry per component with a ``status``
    (``ok`` | ``degraded`` | ``down``), its figures and a one-line ``detail``. ``latency`` is the
    API's own measurement (p50/p99 ms over its recent requests); ``rows`` the tables' row counts."""
    where = queries.indexed(conn)
    now = where["latest_at"]
    # oracle: offline while an outage is in effect at the newest indexed time; lagging when its last
    # round is old or it has not seen the Bitcoin tip
    stats = queries.figure(conn, figures, "oracle_stats", queries.oracle_stats)  # oracle_operations_stats
    last_round = queries.figure(conn, figures, "last_round", lambda c: c.execute(_Q_LAST_ROUND).first())
    outage = conn.execute(_Q_LAST_OUTAGE).first()
    offline_until = outage[1] if outage is not None and now is not None and outage[0] <= now < (outage[1] or 0) \
        else None
    round_at = stats["round"]["last_at"] if "round" in stats else None
    tip = json.loads(last_round[1]).get("tip") if last_round is not None and last_round[1] else None
    lag_s = None if round_at is None or now is None else now - round_at
    blocks_behind = None if tip is None or where["btc_height"] is None else max(0, where["btc_height"] - tip)
    if offline_until is not None:
        oracle_status = "down"
        detail = f"offline (outage until {iso(offline_until)})"
    elif round_at is None:
        oracle_status, detail = ("degraded", "no round indexed yet")
    elif lag_s > ORACLE_LAG_S or (blocks_behind or 0) > 1:
        oracle_status, detail = "degraded", f"last round {lag_s} s ago, {blocks_behind} blocks behind the tip"
    else:
        oracle_status, detail = "ok", f"online; last round {lag_s} s ago"
    oracle = {"status": oracle_status, "online": offline_until is None and round_at is not None,
              "offline_until": iso(offline_until), "last_round_at": iso(round_at), "last_round_timestamp": round_at,
              "last_round_reason": last_round[2] if last_round is not None else None, "lag_s": lag_s,
              "oracle_tip": tip, "btc_height": where["btc_height"], "blocks_behind": blocks_behind,
              "operations": {op: row["operations"] for op, row in sorted(stats.items())},
              "sync_delay_avg_s": stats["sync"]["avg_delay_s"] if "sync" in stats else None,
              "detail": detail}
    # contracts
    deployed = {name: address for name, address in conn.execute(_Q_CONTRACTS)}
    missing = [name for name in CORE_CONTRACTS if name not in deployed]
    contracts = {"status": "down" if missing else "ok", "deployed": len(deployed), "missing": missing,
                 "addresses": deployed,
                 "detail": f"{len(deployed)} deployed" + (f"; missing {', '.join(missing)}" if missing else "")}
    # database
    total_rows = sum(rows.values())
    database = {"status": "ok" if where["last_seq"] is not None else "degraded", "tables": len(rows),
                "rows": total_rows, "rows_by_table": rows, "last_indexed_seq": where["last_seq"],
                "last_indexed_at": iso(now), "detail": f"{len(rows)} tables, {total_rows:,} rows, last record "
                                                       f"{where['last_seq']}"}
    # emergency burns
    burns = queries.figure(conn, figures, "burn_totals", queries.burn_totals)
    emergency = {"status": "degraded" if burns["users_flagged"] else "ok", **burns,
                 "detail": f"{burns['total_burns']} burns, {burns['users_flagged']} users awaiting a top-up"}
    # API latency (measured by the server itself)
    p99 = latency.get("p99_ms")
    api_status = "ok" if p99 is None or p99 < LATENCY_OK_MS else ("degraded" if p99 < LATENCY_DEGRADED_MS else "down")
    api = {"status": api_status, **latency,
           "detail": "no requests measured yet" if p99 is None else
           f"p50 {latency['p50_ms']:.1f} ms, p99 {p99:.1f} ms over {latency['requests']} requests"}
    # disputes
    totals = queries.figure(conn, figures, "dispute_totals", queries.dispute_totals)
    oldest = conn.execute(_Q_OLDEST_OPEN_DISPUTE).scalar_one_or_none()
    oldest_age = None if oldest is None or now is None else now - oldest
    disputes = {"status": "degraded" if oldest_age is not None and oldest_age > DISPUTE_BOUND_S else "ok",
                "active": totals["open"], "resolved": totals["resolved"], "oldest_open_age_s": oldest_age,
                "detail": f"{totals['open']} active, {totals['resolved']} resolved"}
    # proof of reserves and backing
    por = queries.figure(conn, figures, "proof_of_reserves", lambda c: queries.proof_of_reserves(c, figures))
    ratio = por["totals"]["backing_ratio"]
    latest = por["latest_proof"]
    backing = {"status": "down" if ratio is not None and ratio < 1 else "ok", "backing_ratio": ratio,
               "fully_backed": por["totals"]["fully_backed"],
               "latest_round": latest["round"] if latest else None,
               "latest_root": latest["merkle_root"] if latest else None,
               "detail": ("no reserves figure yet" if ratio is None else f"{ratio * 100:.2f} % backed")
               + (f", round {latest['round']}" if latest and latest["round"] is not None else "")}
    components = {"oracle": oracle, "contracts": contracts, "database": database, "emergency_burns": emergency,
                  "api": api, "disputes": disputes, "proof_of_reserves": backing}
    return {"status": _worst(c["status"] for c in components.values()), "indexed_until": iso(now),
            "last_indexed_seq": where["last_seq"], "components": components}


# ---------------------------------------------------------------------- the stream


def batches_after(conn: Connection, seq: int, limit: int) -> list[dict]:
    """Committed batches whose last record is after ``seq``, oldest first (at most ``limit``)."""
    return [dict(r) for r in conn.execute(_Q_BATCHES_AFTER, {"after": seq, "count": limit}).mappings()]

"""The realtime API: the eight GET endpoints of PROTOCOL.md over the indexer's database.

Why Starlette and not FastAPI: the endpoints are eight GETs with three query parameters between
them, and the contract of their errors is fixed by the protocol (a 400 carrying
``{success: false, error}`` that names the problem), which is not FastAPI's 422 validation shape;
getting it from FastAPI means overriding its validation handler and re-declaring every parameter
as a plain string anyway. Starlette gives the routing and the ASGI plumbing with two small
dependencies (starlette, anyio) and no per-request model validation, which matters for the latency
targets on a two-core machine. The OpenAPI document is generated here from the same endpoint table
that drives validation, so the two cannot drift apart; ``/docs`` renders it as a plain HTML page.

Response envelope: ``{"success": true, "data": {...}, "timestamp": "<ISO-8601 request time>"}``;
errors ``{"success": false, "error": "<what is wrong>", "timestamp": ...}``. Everything but the
timestamp is a function of the database (see :mod:`sim.api.queries` for units and names).

Query parameters:

* ``address``: an EVM address, ``0x`` and 40 hex digits in any case (``0X`` too); answers use it in
  lowercase.
  Missing where required, empty, or malformed: 400 naming the problem.
* ``limit``: an integer >= 1, default 20. Above 100 it is **capped** at 100, not refused (as
  GitHub's ``per_page`` is): a client asking for more gets the most it may have, and the answer's
  ``pagination.limit`` (100) and ``pagination.limit_capped`` (true) say so. Not an integer, or < 1: 400.
* ``offset``: an integer >= 0 (at most 10**9), default 0. Not an integer, or negative: 400.

Queries run inline on the event loop for SQLite (they are index lookups that take well under a
millisecond, less than a hand-off to a worker thread costs) and in Starlette's thread pool for
server databases, where a query waits on the network.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import desc, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response,
                                 StreamingResponse)
from starlette.routing import Route

from sim.api import dashboard, queries, system
from sim.api.metrics import MeasuringMiddleware, RequestStats, prometheus_text
from sim.api.proofs import RunFolderSnapshots, Snapshots
from sim.api.stream import StreamHub, parse_last_event_id
from sim.indexer import schema
from sim.indexer.db import make_engine
from sim.protocol.evm_backend import GENESIS_TIMESTAMP

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_OFFSET = 10**9
API_VERSION = "2.3.0"
STREAM_PATH = "/api/realtime/stream"

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_INTEGER = re.compile(r"-?[0-9]+")


class BadRequest(ValueError):
    """A query parameter is missing or malformed; the message is the API's ``error``."""


def request_time() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


#: Digits beyond which an integer parameter is out of every range (and is not handed to ``int``,
#: which refuses more than 4,300 digits).
_MAX_DIGITS = 18


def _once(params, name: str) -> str | None:
    """The parameter's value; a parameter given more than once is refused (which one would be meant?)."""
    values = params.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"query parameter '{name}' given {len(values)} times; give it once")
    return values[0] if values else None


def _integer(raw: str) -> int | None:
    """The integer ``raw`` spells (any size: huge ones come back as +-10**_MAX_DIGITS), or None."""
    if not _INTEGER.fullmatch(raw):
        return None
    negative = raw.startswith("-")
    digits = raw.lstrip("-").lstrip("0") or "0"
    value = int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS
    return -value if negative else value


def _said(value: int, raw: str) -> str:
    """How an error quotes an integer parameter: the number, or the (shortened) text of a huge one."""
    return str(value) if abs(value) < 10**_MAX_DIGITS else _shown(raw)


def parse_address(params, required: bool) -> str | None:
    value = _once(params, "address")
    if value is None:
        if required:
            raise BadRequest("missing required query parameter 'address' (an EVM address: 0x and 40 hex digits)")
        return None
    if value == "":
        raise BadRequest("empty query parameter 'address': expected an EVM address, 0x and 40 hex digits")
    if not _ADDRESS.fullmatch(value):
        raise BadRequest(f"malformed address {_shown(value)}: expected an EVM address, 0x followed by "
                         "40 hexadecimal digits")
    return "0x" + value[2:].lower()


def parse_paging(params) -> tuple[int, int, bool]:
    """``(limit, offset, capped)``; see the module docstring for the rules."""
    raw = _once(params, "limit")
    if raw is None:
        limit = DEFAULT_LIMIT
    else:
        limit = _integer(raw)
        if limit is None:
            raise BadRequest(f"limit must be an integer between 1 and {MAX_LIMIT}, got {_shown(raw)}")
        if limit < 1:
            raise BadRequest(f"limit must be at least 1, got {_said(limit, raw)}")
    capped = limit > MAX_LIMIT
    limit = min(limit, MAX_LIMIT)
    raw = _once(params, "offset")
    if raw is None:
        offset = 0
    else:
        offset = _integer(raw)
        if offset is None:
            raise BadRequest(f"offset must be a non-negative integer, got {_shown(raw)}")
        if offset < 0:
            raise BadRequest(f"offset must be a non-negative integer, got {_said(offset, raw)}")
        if offset > MAX_OFFSET:
            raise BadRequest(f"offset must be at most {MAX_OFFSET}, got {_said(offset, raw)}")
    return limit, offset, capped


_BECH32 = r"(bc|tb|bcrt)1[02-9ac-hj-np-z]{6,87}|(BC|TB|BCRT)1[02-9AC-HJ-NP-Z]{6,87}"  # one case or the other
_LOOKUP = re.compile(f"0[xX][0-9a-fA-F]{{40}}|{_BECH32}")


def parse_query(params) -> tuple[str, str]:
    """``q`` of ``lookup``: ``("evm", address)`` or ``("bitcoin", bech32 address in lowercase)``."""
    value = _once(params, "q")
    if value is None or value == "":
        raise BadRequest("missing required query parameter 'q' (an EVM address, or a bech32 Bitcoin address)")
    if _ADDRESS.fullmatch(value):
        return "evm", "0x" + value[2:].lower()
    if _LOOKUP.fullmatch(value):
        return "bitcoin", value.lower()
    raise BadRequest(f"{_shown(value)} is neither an EVM address (0x and 40 hex digits) nor a bech32 Bitcoin "
                     "address (bc1…, tb1…, bcrt1…)")


@dataclass(frozen=True)
class Endpoint:
    name: str
    summary: str
    description: str
    address: str | None  # "required" | "optional" | "query" (a required `q`: EVM or Bitcoin address) | None
    paging: bool
    call: Callable[..., dict]
    data_schema: dict
    #: The answer depends on nothing but the database: computed once per indexed batch and shared.
    cached: bool = False
    #: Error statuses beyond 400/503 that the endpoint answers (documented in the OpenAPI document).
    errors: tuple[tuple[int, str], ...] = ()

    @property
    def path(self) -> str:
        return f"/api/realtime/{self.name}"


def _obj(**properties: Any) -> dict:
    return {"type": "object", "properties": properties}


_INT = {"type": "integer"}
_INT_N = {"type": ["integer", "null"]}
_STR = {"type": "string"}
_STR_N = {"type": ["string", "null"]}
_BOOL = {"type": "boolean"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_WEI = {"type": ["string", "null"], "description": "wei, as a decimal string"}
_PAGINATION = _obj(limit=_INT, offset=_INT, returned=_INT, total=_INT, has_more=_BOOL, limit_capped=_BOOL)
_TX = _obj(hash=_STR, block=_INT, tx_index=_INT, log_index=_INT, time=_TIME, timestamp=_INT,
           type={"type": "string", "enum": ["mint", "burn", "emergency_burn", "fee", "deposit", "withdraw",
                                             "needs_topup", "emergency_reset", "transfer", "sync", "publish_reserves"],
                 "description": "reverted calls carry the call's type (or its function name in snake_case)"},
           amount={"type": ["string", "null"], "description": "decimal string, in `unit`"},
           unit={"type": ["string", "null"], "enum": ["sats", "wei", None]}, delta=_INT_N, fee_wei=_WEI,
           bitcoin_address=_STR_N, status={"type": "string", "enum": ["confirmed", "reverted"]},
           is_emergency_burn=_BOOL, function=_STR, error=_STR_N)
_BURN = _obj(hash=_STR, block=_INT, time=_TIME, timestamp=_INT, user=_STR, burned_sats=_INT, reason=_STR,
             trigger=_STR, btc_confirmed_sats=_INT_N, reset=_BOOL, reset_time=_TIME, reset_tx=_STR_N)
_DISPUTE = _obj(dispute_id=_STR, user=_STR, status={"type": "string",
                                                      "enum": ["filed", "validated", "accepted", "rejected"]},
                active=_BOOL, reported_sats=_INT_N, recorded_sats=_INT_N, confirmed_sats=_INT_N, outcome=_STR_N,
                filed_at=_TIME, validated_at=_TIME, resolved_at=_TIME, resolved_in_s=_INT_N)
_DISPUTE_TOTALS = _obj(filed=_INT, validated=_INT, accepted=_INT, rejected=_INT, total=_INT, open=_INT,
                       resolved=_INT)
_BURN_SYSTEM = _obj(total_burns=_INT, total_burned_sats=_INT, users_affected=_INT, users_flagged=_INT)
_POOL = _obj(current_rate_bps=_INT, current_rate_percent={"type": "number"}, rbtc_scale=_INT, usdt_scale=_INT,
             total_virtual_usdt=_STR, total_rbtc_supply_sats=_INT, total_yield_claimed=_STR, participants=_INT,
             bitcoin_holders=_INT, traders=_INT, tiers=_obj(bronze=_INT, silver=_INT, gold=_INT),
             scales_updated_at=_TIME, parameters={"type": "object"})


_HEALTH = {"type": "string", "enum": ["ok", "degraded", "down"]}


def _call_sync_status(conn, address, limit, offset, config):
    return queries.sync_status(conn, address, config["staleness_window_s"])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("balances", "rBTC-SYNTH balance, the oracle's lastSats, last update",
             "The user's rBTC-SYNTH balance (sats; 1 token unit = 1 sat) from the token's Transfer events, "
             "OracleAggregator.lastSats from Synced events, and the last sync. An address never seen "
             "answers zeros with `registered: false`.",
             "required", False, lambda conn, a, limit, offset, config: queries.balances(conn, a),
             _obj(address=_STR, registered=_BOOL, symbol=_STR, decimals=_INT, unit=_STR, rbtc_balance=_INT,
                  last_sats=_INT, btc_confirmed_sats=_INT_N, vault_balance_wei=_WEI, emergency_burned=_BOOL,
                  needs_topup=_BOOL,
                  last_update={"type": ["object", "null"],
                               "properties": {"time": _TIME, "timestamp": _INT, "block": _INT, "tx_hash": _STR}})),
    Endpoint("sync-status", "synced or not, last sync time, active / stale / not_registered",
             "`not_registered`: no Bitcoin address bound. `active`: the last sync (Synced event) is at most "
             f"`staleness_window_s` (default {queries.STALENESS_WINDOW_S} s of simulated time) older than the "
             "newest indexed record; `stale` otherwise (also when never synced). `synced`: lastSats equals the "
             "committee's last observed confirmed balance and no top-up is pending.",
             "required", False, _call_sync_status,
             _obj(address=_STR, status={"type": "string", "enum": ["active", "stale", "not_registered"]},
                  synced=_BOOL, last_sync_time=_TIME, last_sync_timestamp=_INT_N, last_sync_block=_INT_N,
                  seconds_since_last_sync=_INT_N, staleness_window_s=_INT, indexed_until=_TIME, last_sats=_INT,
                  btc_confirmed_sats=_INT_N, pending_delta_sats=_INT_N, sync_count=_INT, needs_topup=_BOOL,
                  emergency_burned=_BOOL)),
    Endpoint("transactions", "the user's protocol transactions, newest first",
             "One entry per contract event about the user (mint, burn, emergency_burn, fee, deposit, withdraw, "
             "needs_topup) plus calls that reverted or emit nothing (emergency_reset). Newest first "
             "(by log position). `limit` defaults to 20 and is capped at 100.",
             "required", True, lambda conn, a, limit, offset, config: queries.transactions(conn, a, limit, offset),
             _obj(address=_STR, transactions={"type": "array", "items": _TX}, pagination=_PAGINATION)),
    Endpoint("bitcoin-addresses", "the Bitcoin addresses bound to the user, with count",
             "Bindings in the order they were made, with address type (p2wpkh / p2tr), network, verification "
             "method (bip322 / self_send), proof-of-reserves checksum and the Bitcoin transactions seen.",
             "required", False, lambda conn, a, limit, offset, config: queries.bitcoin_addresses(conn, a),
             _obj(address=_STR, registered=_BOOL, count=_INT,
                  bitcoin_addresses={"type": "array", "items": _obj(
                      address=_STR, type=_STR, network=_STR, verification_method=_STR, checksum=_STR,
                      bound_at=_TIME, bound_at_timestamp=_INT, prepay_wei=_WEI, btc_tx_count=_INT,
                      received_sats=_INT, sent_sats=_INT)})),
    Endpoint("emergency-burns", "the user's burns, the emergency transactions, system-wide burn total",
             "With `address`: that user's emergency burns (newest first, paged), its emergency transactions, its "
             "summary and the system totals. Without: the newest burns system-wide and the totals.",
             "optional", True,
             lambda conn, a, limit, offset, config: queries.emergency_burns(conn, a, limit, offset, config["figures"]),
             _obj(address=_STR, burns={"type": "array", "items": _BURN},
                  emergency_transactions={"type": "array", "items": _TX},
                  user_summary=_obj(burn_count=_INT, total_burned_sats=_INT, currently_flagged=_BOOL,
                                    first_burn_time=_TIME, last_burn_time=_TIME),
                  system=_BURN_SYSTEM, pagination=_PAGINATION)),
    Endpoint("yield-status", "participant data, eligibility, loyalty tier, current rate",
             "YieldScalesPool state from its events. The loyalty tier is the one the contract holds "
             "(`participants(user).loyaltyTier`), which it re-evaluates only at checkpoints (a claim, a contribution "
             "update, an emergency burn, a trader adding): `tier_at_next_checkpoint` is what the next one would set "
             "at the newest indexed time. Without `address`: the pool only.",
             "optional", False, lambda conn, a, limit, offset, config: queries.yield_status(conn, a, config["figures"]),
             _obj(address=_STR, is_participant=_BOOL, participant={"type": ["object", "null"]},
                  eligibility=_obj(eligible=_BOOL, reason=_STR), loyalty_tier={"type": ["object", "null"]},
                  rbtc_balance=_INT, current_rate_bps=_INT, pool=_POOL, indexed_until=_TIME)),
    Endpoint("disputes", "the user's disputes, whether one is active, totals",
             "Balance disputes (filed -> validated -> accepted | rejected), newest first. With `address`: the "
             "user's disputes, its active one and totals; without: the newest system-wide and the totals.",
             "optional", True,
             lambda conn, a, limit, offset, config: queries.disputes(conn, a, limit, offset, config["figures"]),
             _obj(address=_STR, disputes={"type": "array", "items": _DISPUTE}, has_active_dispute=_BOOL,
                  active_dispute={"type": ["object", "null"]}, totals=_DISPUTE_TOTALS,
                  system_totals=_DISPUTE_TOTALS, active_disputes=_INT, pagination=_PAGINATION)),
    Endpoint("proof-of-reserves", "latest published proof and current totals with the backing ratio",
             "The newest published Merkle root (round, root, Bitcoin height, total) and the current rBTC-SYNTH "
             "supply against the BTC reserves. Reserves come from the Bitcoin chain, never from the oracle's "
             "records: the log's chain-side `reserves` records when present, else the newest published proof's "
             "total; `reserves_source` names which (null when there is neither, and so is the ratio).",
             None, False, lambda conn, a, limit, offset, config: queries.proof_of_reserves(conn, config["figures"]),
             _obj(latest_proof={"type": ["object", "null"], "properties": {
                 "round": _INT_N, "merkle_root": _STR_N, "btc_height": _INT_N, "total_sats": _INT_N,
                 "leaves": _INT_N, "published_at": _TIME, "published_timestamp": _INT_N, "tx_hash": _STR_N,
                 "block": _INT_N, "rbtc_supply_at_publication": _INT_N,
                 "backing_ratio_at_publication": {"type": ["number", "null"]}}},
                  proofs_published=_INT,
                  totals=_obj(rbtc_total_supply_sats=_INT, total_last_sats=_INT, btc_reserves_sats=_INT_N,
                              reserves_source={"type": ["string", "null"],
                                               "enum": ["bitcoin_chain", "proof_of_reserves", None]},
                              reserves_btc_height=_INT_N, reserves_as_of=_TIME,
                              backing_ratio={"type": ["number", "null"]},
                              fully_backed={"type": ["boolean", "null"]}),
                  oracle_view=_obj(confirmed_sats=_INT, backing_ratio={"type": ["number", "null"]}, note=_STR),
                  btc_height=_INT_N, evm_block=_INT_N, indexed_until=_TIME, last_indexed_seq=_INT_N)),
    Endpoint("lookup", "whose is an address: an EVM address, or the user a Bitcoin address is bound to",
             "`q` is an EVM address (answered as it is, `registered` saying whether it bound a Bitcoin address) or "
             "a bech32 Bitcoin address (answered with the EVM address it is bound to, or `user: null`). What the "
             "dashboard's search box calls before it reads the user's endpoints.",
             "query", False, lambda conn, q, limit, offset, config: queries.lookup(conn, q),
             _obj(query=_STR, kind={"type": "string", "enum": ["evm", "bitcoin"]}, user=_STR_N, registered=_BOOL)),
    Endpoint("reserves-proof", "the user's proof-of-reserves leaves with their Merkle proofs, and the published root",
             "The user's leaves in the newest proof-of-reserves snapshot the server holds (the round the index "
             "has published when it has it), each with its fields (PROTOCOL.md's packed layout), `leaf_hash` and "
             "sorted-pair keccak `proof`, in the shape `rbtc-sim proof` prints. `published` is that round as "
             "the index recorded it from the chain's `ReservesPublished` event: verify against "
             "`published.merkle_root`, never the document's own `root`. The leaves come from the world that "
             "built them (a served run folder's `proof_of_reserves.json`, or the running world): a server "
             "given only a database URL answers 404.",
             "required", False, lambda conn, a, limit, offset, config: config["proof"](conn, a),
             _obj(address=_STR, document=_obj(
                 round=_INT_N, root=_STR, height=_INT, total_sats=_INT, timestamp=_INT, user=_STR,
                 leaves={"type": "array", "items": _obj(
                     leaf=_obj(eth=_STR, btc_address=_STR, btc_program=_STR, checksum=_STR, method=_INT,
                               balance_sats=_INT, height=_INT, timestamp=_INT),
                     leaf_hash=_STR, proof={"type": "array", "items": _STR})}),
                  published={"type": ["object", "null"], "properties": {
                      "round": _INT_N, "merkle_root": _STR_N, "btc_height": _INT_N, "total_sats": _INT_N,
                      "tx_hash": _STR_N, "published_at": _TIME}}),
             errors=((404, "no snapshot holds a leaf of this user, or the server has no snapshots"),)),
    Endpoint("system", "the system over time: supply, reserves, backing, fees, burns, disputes, yield",
             "What the dashboard's system view draws. `series` holds the time series column-wise (unix "
             "seconds in `t`; at most 360 points, each the last of its time bucket, with the lowest backing "
             "ratio in the bucket as `backing_ratio_min`; wei as decimal strings); its newest point is the "
             "current state from the views, so it equals what the other endpoints answer. `incidents` are the "
             "marks on the time axis: reorgs, oracle outages, fee droughts, and backing windows merged per "
             "cause. Totals come from the views `user_current_state` and `emergency_burn_summary`.",
             None, False, lambda conn, a, limit, offset, config: system.system_view(conn, config["figures"]),
             _obj(indexed_until=_TIME, indexed_until_timestamp=_INT_N, last_indexed_seq=_INT_N,
                  totals={"type": "object"}, emergency_burns={"type": "object"}, disputes=_DISPUTE_TOTALS,
                  yield_={"type": "object"}, latest_proof={"type": ["object", "null"]}, proofs_published=_INT,
                  violations=_INT,
                  series={"type": "object", "additionalProperties": {"type": "array", "items": {
                      "type": ["integer", "number", "string", "null"]}}},
                  incidents={"type": "array", "items": _obj(
                      kind={"type": "string", "enum": ["reorg", "oracle_outage", "fee_drought", "backing_window"]},
                      started_at=_INT, ended_at=_INT_N, cause=_STR_N, users=_INT_N, details={"type": "object"})}),
             cached=True),
    Endpoint("violations", "every invariant violation, with the command that reproduces the run",
             "Invariant violations in the order they happened (the `invariant_violation` records): the invariant, "
             "the step, the simulated time, the actor, the values that disagree and the message, as in the run's "
             "report. `reproduce` is the command from the run's `summary.json` (null when the server was given "
             "only a database).",
             None, True, lambda conn, a, limit, offset, config: system.violations(conn, limit, offset,
                                                                                  config["reproduce"]()),
             _obj(violations={"type": "array", "items": _obj(
                 seq=_INT, invariant=_STR, step=_INT_N, time=_TIME, timestamp=_INT, actor=_STR,
                 values={"type": "object"}, message=_STR, reproduce=_STR_N)},
                  reproduce=_STR_N, pagination=_PAGINATION)),
    Endpoint("health", "the health board: oracle, contracts, database, burns, API latency, disputes, backing",
             "One entry per component, each with `status` (`ok` | `degraded` | `down`), its figures and a one-line "
             "`detail`; `status` at the top is the worst of them. The oracle is `down` while an outage is in "
             "effect at the newest indexed time and `degraded` when its last round is over 900 simulated seconds "
             "old or behind the Bitcoin tip; backing is `down` below a ratio of 1; the API's latency is its own "
             "measurement over its recent requests (p99 under 50 ms is ok).",
             None, False, lambda conn, a, limit, offset, config: system.health(
                 conn, config["latency"](), config["rows"](conn), config["figures"]),
             _obj(status=_HEALTH, indexed_until=_TIME, last_indexed_seq=_INT_N,
                  components=_obj(**{name: {"type": "object", "required": ["status", "detail"],
                                            "properties": {"status": _HEALTH, "detail": _STR}}
                                     for name in ("oracle", "contracts", "database", "emergency_burns", "api",
                                                  "disputes", "proof_of_reserves")}))),
)


def openapi_document() -> dict:
    """The OpenAPI 3.1 description of the API, built from :data:`ENDPOINTS`."""
    address_param = {
        "name": "address", "in": "query",
        "description": "EVM address: 0x followed by 40 hexadecimal digits, any case",
        "schema": {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{40}$"},
    }
    paging = [
        {"name": "limit", "in": "query", "required": False,
         "description": f"items per page, >= 1; default {DEFAULT_LIMIT}; values above {MAX_LIMIT} are capped at "
                        f"{MAX_LIMIT} (pagination.limit_capped says so)",
         "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "required": False, "description": "items to skip, >= 0; default 0",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
    ]
    def error(description: str) -> dict:
        return {"description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    paths = {}
    schemas = {
        "Error": {"type": "object", "required": ["success", "error", "timestamp"],
                  "properties": {"success": {"const": False}, "error": _STR,
                                 "timestamp": {"type": "string", "format": "date-time"}}},
    }
    for ep in ENDPOINTS:
        params = []
        if ep.address == "query":
            params.append({"name": "q", "in": "query", "required": True,
                           "description": "an EVM address (0x and 40 hex digits) or a bech32 Bitcoin address",
                           "schema": {"type": "string", "pattern": f"^({_LOOKUP.pattern})$"}})
        elif ep.address:
            params.append({**address_param, "required": ep.address == "required"})
        if ep.paging:
            params.extend(paging)
        data_name = "".join(part.capitalize() for part in ep.name.split("-")) + "Data"
        schemas[data_name] = ep.data_schema
        responses = {
            "200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "data", "timestamp"],
                "properties": {"success": {"const": True}, "data": {"$ref": f"#/components/schemas/{data_name}"},
                               "timestamp": {"type": "string", "format": "date-time",
                                             "description": "the request time"}}}}}},
            "503": error("the database is unreachable or has not been indexed yet"),
        }
        if params:
            responses["400"] = error("a missing, repeated or malformed parameter, named in `error`")
        for status, description in ep.errors:
            responses[str(status)] = error(description)
        paths[ep.path] = {"get": {"operationId": ep.name.replace("-", "_"), "summary": ep.summary,
                                  "description": ep.description, "parameters": params, "responses": responses}}
    paths[STREAM_PATH] = {"get": {
        "operationId": "stream", "summary": "Server-Sent Events: one event per batch of records the indexer commits",
        "description": "A `text/event-stream` that stays open. Each committed batch of records is one `batch` event "
                       "whose `id` is the batch's last record `seq` and whose `data` is JSON: `first_seq`, `last_seq`, "
                       "`records`, `indexed_until`, `btc_height`, `evm_block`, `counts` (btc_blocks, reorgs, syncs, "
                       "emergency_burns, needs_topup, disputes_filed, disputes_resolved, por_rounds, violations, "
                       "oracle_outages, oracle_rounds) and `kinds` (records per kind). A new client first gets a "
                       "`ready` event (id: the newest committed record); a client that reconnects with "
                       "`Last-Event-ID: N` first gets every batch after record N it missed (a `reset` event instead "
                       "when over 1,000 were missed), then the live ones. A comment line every 15 s keeps it open.",
        "parameters": [{"name": "Last-Event-ID", "in": "header", "required": False,
                        "description": "resume after this record seq (the id of the last event received)",
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the event stream",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      "503": error("the database is unreachable or has not been indexed yet")}}}
    paths["/metrics"] = {"get": {
        "operationId": "metrics", "summary": "Prometheus metrics",
        "description": "The text exposition format: `rbtc_api_requests_total{endpoint,status}`, "
                       "`rbtc_api_request_duration_seconds` (histogram per endpoint), `rbtc_indexer_last_seq`, "
                       "`rbtc_indexer_records_indexed`, `rbtc_indexer_lag_records` and `rbtc_indexer_lag_seconds` "
                       "(when the server follows a live world), `rbtc_indexer_commit_age_seconds`, "
                       "`rbtc_backing_ratio`, `rbtc_supply_sats`, `rbtc_reserves_sats`, `rbtc_stream_clients`.",
        "parameters": [],
        "responses": {"200": {"description": "the metrics",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "503": error("the database is unreachable")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ReserveBTC realtime API (simulation harness)", "version": API_VERSION,
                 "description": "The eight realtime endpoints of the ReserveBTC off-chain data layer, and what the "
                                "dashboard at `/` reads besides them (a user's reserves proof, the system view, the "
                                "violations, the health board, the event stream, the metrics), served from the "
                                "simulation's indexed event log. Sats are integers, wei decimal strings, times "
                                "ISO-8601 UTC plus unix seconds."},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _docs_page(document: dict) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(document['info']['title'])}"
             "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
             "code{background:#f2f2f2;padding:0 .2em}h2{margin-top:1.5em;font-size:1.1em}</style></head><body>",
             f"<h1>{html.escape(document['info']['title'])}</h1><p>{html.escape(document['info']['description'])}</p>",
             "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. Every answer is "
             "<code>{success, data, timestamp}</code>; errors are <code>{success: false, error, timestamp}</code>."
             "</p>"]
    for path, item in document["paths"].items():
        op = item["get"]
        parts.append(f"<h2><code>GET {html.escape(path)}</code></h2><p><b>{html.escape(op['summary'])}</b>. "
                     f"{html.escape(op['description'])}</p>")
        if op["parameters"]:
            parts.append("<ul>")
            for p in op["parameters"]:
                need = "required" if p.get("required") else "optional"
                parts.append(f"<li><code>{p['name']}</code> ({need}): {html.escape(p['description'])}</li>")
            parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def _error(status: int, message: str, stamp: str | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message, "timestamp": stamp or request_time()}, status_code=status)


def _not_indexed(exc: Exception) -> bool:
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text or "undefinedtable" in text


def _database_error(exc: SQLAlchemyError, stamp: str | None = None) -> JSONResponse:
    if _not_indexed(exc):
        return _error(503, "the database has not been indexed yet (its tables are missing); run the indexer first",
                      stamp)
    return _error(503, f"the database is unavailable ({type(exc).__name__}); try again", stamp)


class NotFound(LookupError):
    """What was asked for does not exist; the message is the API's ``error``."""


_Q_NEWEST_SEQ = select(schema.index_batches.c.last_seq).order_by(desc(schema.index_batches.c.last_seq)).limit(1)


class BatchCache:
    """Answers that depend only on the database, kept until the indexer commits its next batch."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seq: object = object()
        self._values: dict[str, Any] = {}
        self.changed_at: float | None = None  # wall clock (monotonic) when a new batch was first seen

    def newest(self, conn) -> int | None:
        seq = conn.execute(_Q_NEWEST_SEQ).scalar_one_or_none()
        with self._lock:
            if seq != self._seq:
                self._seq, self._values, self.changed_at = seq, {}, time.monotonic()
        return seq

    def get(self, conn, name: str, compute: Callable[[Any], Any]) -> Any:
        seq = self.newest(conn)
        with self._lock:
            if name in self._values:
                return self._values[name]
        value = compute(conn)
        with self._lock:
            if self._seq == seq:
                self._values[name] = value
        return value


class _Reproduce:
    """The run's reproduction command, from its ``summary.json`` (re-read when the file changes)."""

    def __init__(self, run_dir: Path | None):
        self.path = run_dir / "summary.json" if run_dir is not None else None
        self._mtime: float | None = None
        self._value: str | None = None

    def __call__(self) -> str | None:
        if self.path is None:
            return None
        try:
            mtime = self.path.stat().st_mtime
            if mtime != self._mtime:
                summary = json.loads(self.path.read_text(encoding="utf-8"))
                value = summary.get("reproduce") if isinstance(summary, dict) else None
                self._value, self._mtime = value if isinstance(value, str) else None, mtime
        except (OSError, ValueError):
            return self._value
        return self._value


def create_app(db_url: str, *, staleness_window_s: int = queries.STALENESS_WINDOW_S,
               inline_queries: bool | None = None, run_dir: str | Path | None = None,
               snapshots: Snapshots | None = None, log_count: Callable[[], int] | None = None,
               world_clock: Callable[[], int] | None = None, stream_poll_s: float = 0.25) -> Starlette:
    """The ASGI app serving the database at ``db_url`` (any SQLAlchemy URL): the endpoints, the
    dashboard at ``/``, the event stream and the metrics.

    ``run_dir``: the run folder the database belongs to (its ``summary.json`` gives the violations'
    reproduction command, its ``proof_of_reserves.json`` the users' proofs). ``snapshots``: where
    proofs come from instead (a running world's). ``log_count`` / ``world_clock``: the live log's
    record count and the world's simulated second, for the indexer-lag metrics.
    """
    engine = make_engine(db_url)
    inline = engine.dialect.name == "sqlite" if inline_queries is None else inline_queries
    run_path = Path(run_dir) if run_dir is not None else None
    if snapshots is None:
        snapshots = RunFolderSnapshots(run_path) if run_path is not None else Snapshots()
    document = openapi_document()
    docs = _docs_page(document)
    known = {ep.path for ep in ENDPOINTS} | {STREAM_PATH, "/metrics", "/openapi.json", "/docs", "/", "/api/realtime"}
    stats = RequestStats(known | {f"/assets/{name}" for name in dashboard.ASSETS})
    cache = BatchCache()

    def proof(conn, address: str) -> dict:
        if not snapshots.available:
            raise NotFound("this server holds no proof-of-reserves snapshots: it was given a database, not a run "
                           "folder or a running world")
        latest = queries.published_round(conn, None)
        chosen = None
        if latest is not None and latest["round"] is not None:
            chosen = snapshots.document(address, latest["round"])
        if chosen is None:
            chosen = snapshots.document(address)
        if chosen is None:
            raise NotFound("no proof-of-reserves snapshot yet (the first round has not been published)")
        if not chosen["leaves"]:
            raise NotFound(f"no leaf for {address} in the snapshot of round {chosen['round']} "
                           "(no Bitcoin address bound at that time)")
        return {"address": address, "document": chosen,
                "published": queries.published_round(conn, chosen["round"], chosen["root"])}

    config = {"staleness_window_s": staleness_window_s, "reproduce": _Reproduce(run_path), "latency": stats.latency,
              "rows": lambda conn: cache.get(conn, "rows", system.table_rows), "proof": proof,
              "figures": cache.get}

    def answer(ep: Endpoint, address, limit, offset):
        with engine.connect() as conn:
            if ep.cached:
                return cache.get(conn, ep.name, lambda c: ep.call(c, address, limit, offset, config))
            return ep.call(conn, address, limit, offset, config)

    async def in_db(function, *args):
        return function(*args) if inline else await run_in_threadpool(function, *args)

    def make(ep: Endpoint):
        async def endpoint(request: Request) -> JSONResponse:
            stamp = request_time()
            params = request.query_params
            try:
                if ep.address == "query":
                    address = parse_query(params)
                else:
                    address = parse_address(params, ep.address == "required") if ep.address else None
                limit, offset, capped = parse_paging(params) if ep.paging else (None, None, False)
            except BadRequest as exc:
                return _error(400, str(exc), stamp)
            try:
                data = await in_db(answer, ep, address, limit, offset)
            except SQLAlchemyError as exc:
                return _database_error(exc, stamp)
            except NotFound as exc:
                return _error(404, str(exc), stamp)
            if ep.paging:
                data = {**data, "pagination": {**data["pagination"], "limit_capped": capped}}
            return JSONResponse({"success": True, "data": data, "timestamp": stamp})

        endpoint.__name__ = ep.name.replace("-", "_")
        return endpoint

    def read_after(seq: int, limit: int) -> list[dict]:
        with engine.connect() as conn:
            return system.batches_after(conn, seq, limit)

    def newest() -> int | None:
        with engine.connect() as conn:
            return cache.newest(conn)

    async def read_after_async(seq: int, limit: int) -> list[dict]:
        return await in_db(read_after, seq, limit)

    async def newest_async() -> int | None:
        return await in_db(newest)

    hub = StreamHub(read_after_async, newest_async, poll_s=stream_poll_s)

    async def stream(request: Request) -> Response:
        resume = parse_last_event_id(request.headers.get("last-event-id"))
        try:
            queue, first = await hub.subscribe(resume)
        except SQLAlchemyError as exc:
            return _database_error(exc)
        return StreamingResponse(hub.events(queue, first), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def metric_values() -> dict:
        with engine.connect() as conn:
            seq = cache.newest(conn)
            por = queries.figure(conn, cache.get, "proof_of_reserves",
                                 lambda c: queries.proof_of_reserves(c, cache.get))
            where = queries.indexed(conn)
        totals = por["totals"]
        values = {
            "rbtc_indexer_last_seq": ("The newest record the index holds.", seq),
            "rbtc_indexer_records_indexed": ("Records indexed (the newest seq + 1).", None if seq is None else seq + 1),
            "rbtc_indexer_commit_age_seconds": ("Wall-clock seconds since this server saw the last new batch.",
                                                None if cache.changed_at is None
                                                else round(time.monotonic() - cache.changed_at, 3)),
            "rbtc_backing_ratio": ("Confirmed BTC reserves / rBTC-SYNTH supply.", totals["backing_ratio"]),
            "rbtc_supply_sats": ("rBTC-SYNTH total supply.", totals["rbtc_total_supply_sats"]),
            "rbtc_reserves_sats": ("Confirmed BTC at the bound addresses.", totals["btc_reserves_sats"]),
            "rbtc_stream_clients": ("Clients connected to the event stream.", len(hub.clients)),
        }
        if log_count is not None:
            values["rbtc_indexer_lag_records"] = ("Records the live log holds that the index lacks.",
                                                  max(0, log_count() - 1 - (-1 if seq is None else seq)))
        if world_clock is not None and where["latest_at"] is not None:
            values["rbtc_indexer_lag_seconds"] = ("Simulated seconds the index is behind the running world.",
                                                  max(0, GENESIS_TIMESTAMP + world_clock() - where["latest_at"]))
        return values

    async def metrics(request: Request) -> Response:
        try:
            values = await in_db(metric_values)
        except SQLAlchemyError as exc:
            return _database_error(exc)
        return PlainTextResponse(prometheus_text(stats, values), media_type="text/plain; version=0.0.4")

    def page_data() -> tuple[dict, dict, dict]:
        with engine.connect() as conn:
            view = cache.get(conn, "system", lambda c: system.system_view(c, cache.get))
            board = system.health(conn, stats.latency(), cache.get(conn, "rows", system.table_rows), cache.get)
            found = system.violations(conn, MAX_LIMIT, 0, config["reproduce"]())
        return view, board, found

    async def home(request: Request) -> Response:
        try:
            view, board, found = await in_db(page_data)
        except SQLAlchemyError as exc:
            return HTMLResponse(dashboard.unavailable_page(json.loads(_database_error(exc).body)["error"]),
                                status_code=503)
        return HTMLResponse(dashboard.page(view, board, found, proofs=snapshots.available))

    async def asset(request: Request) -> Response:
        found = dashboard.ASSETS.get(request.path_params["name"])
        if found is None:
            return _error(404, f"no such asset: {request.url.path}")
        body, media_type, etag = found
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type=media_type, headers={"ETag": etag, "Cache-Control": "no-cache"})

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def docs_page(request: Request) -> HTMLResponse:
        return HTMLResponse(docs)

    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"success": True, "timestamp": request_time(), "data": {
            "endpoints": [ep.path for ep in ENDPOINTS] + [STREAM_PATH], "openapi": "/openapi.json", "docs": "/docs",
            "dashboard": "/", "metrics": "/metrics"}})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if exc.status_code == 404 and path.endswith("/") and path.rstrip("/") in known:
            # relative: never built from the Host header, and only ever to one of our own paths
            query = request.url.query
            return RedirectResponse(path.rstrip("/") + (f"?{query}" if query else ""), status_code=307)
        message = {404: f"no such endpoint: {path}",
                   405: f"method {request.method} not allowed on {path}; use GET"}.get(
            exc.status_code, str(exc.detail))
        return _error(exc.status_code, message)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    routes = [Route(ep.path, make(ep), methods=["GET"]) for ep in ENDPOINTS]
    routes += [Route(STREAM_PATH, stream, methods=["GET"]), Route("/metrics", metrics, methods=["GET"]),
               Route("/openapi.json", openapi, methods=["GET"]), Route("/docs", docs_page, methods=["GET"]),
               Route("/api/realtime", index, methods=["GET"]), Route("/", home, methods=["GET"]),
               Route("/assets/{name}", asset, methods=["GET"])]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error},
                    middleware=[Middleware(MeasuringMiddleware, stats=stats, streaming={STREAM_PATH})])
    app.router.redirect_slashes = False
    app.state.engine = engine
    app.state.db_url = db_url
    app.state.stats = stats
    app.state.hub = hub
    return app

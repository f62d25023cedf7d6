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
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy.exc import OperationalError, ProgrammingError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from sim.api import queries
from sim.indexer.db import make_engine

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_OFFSET = 10**9
API_VERSION = "2.2.0"

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_INTEGER = re.compile(r"-?[0-9]+")


class BadRequest(ValueError):
    """A query parameter is missing or malformed; the message is the API's ``error``."""


def request_time() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def parse_address(params, required: bool) -> str | None:
    if "address" not in params:
        if required:
            raise BadRequest("missing required query parameter 'address' (an EVM address: 0x and 40 hex digits)")
        return None
    value = params["address"]
    if value == "":
        raise BadRequest("empty query parameter 'address': expected an EVM address, 0x and 40 hex digits")
    if not _ADDRESS.fullmatch(value):
        raise BadRequest(f"malformed address {_shown(value)}: expected an EVM address, 0x followed by "
                         "40 hexadecimal digits")
    return "0x" + value[2:].lower()


def parse_paging(params) -> tuple[int, int, bool]:
    """``(limit, offset, capped)``; see the module docstring for the rules."""
    raw = params.get("limit")
    if raw is None:
        limit = DEFAULT_LIMIT
    else:
        if not _INTEGER.fullmatch(raw):
            raise BadRequest(f"limit must be an integer between 1 and {MAX_LIMIT}, got {_shown(raw)}")
        limit = int(raw)
        if limit < 1:
            raise BadRequest(f"limit must be at least 1, got {limit}")
    capped = limit > MAX_LIMIT
    limit = min(limit, MAX_LIMIT)
    raw = params.get("offset")
    if raw is None:
        offset = 0
    else:
        if not _INTEGER.fullmatch(raw):
            raise BadRequest(f"offset must be a non-negative integer, got {_shown(raw)}")
        offset = int(raw)
        if offset < 0:
            raise BadRequest(f"offset must be a non-negative integer, got {offset}")
        if offset > MAX_OFFSET:
            raise BadRequest(f"offset must be at most {MAX_OFFSET}, got {offset}")
    return limit, offset, capped


@dataclass(frozen=True)
class Endpoint:
    name: str
    summary: str
    description: str
    address: str | None  # "required" | "optional" | None
    paging: bool
    call: Callable[..., dict]
    data_schema: dict

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
             lambda conn, a, limit, offset, config: queries.emergency_burns(conn, a, limit, offset),
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
             "optional", False, lambda conn, a, limit, offset, config: queries.yield_status(conn, a),
             _obj(address=_STR, is_participant=_BOOL, participant={"type": ["object", "null"]},
                  eligibility=_obj(eligible=_BOOL, reason=_STR), loyalty_tier={"type": ["object", "null"]},
                  rbtc_balance=_INT, current_rate_bps=_INT, pool=_POOL, indexed_until=_TIME)),
    Endpoint("disputes", "the user's disputes, whether one is active, totals",
             "Balance disputes (filed -> validated -> accepted | rejected), newest first. With `address`: the "
             "user's disputes, its active one and totals; without: the newest system-wide and the totals.",
             "optional", True, lambda conn, a, limit, offset, config: queries.disputes(conn, a, limit, offset),
             _obj(address=_STR, disputes={"type": "array", "items": _DISPUTE}, has_active_dispute=_BOOL,
                  active_dispute={"type": ["object", "null"]}, totals=_DISPUTE_TOTALS,
                  system_totals=_DISPUTE_TOTALS, active_disputes=_INT, pagination=_PAGINATION)),
    Endpoint("proof-of-reserves", "latest published proof and current totals with the backing ratio",
             "The newest published Merkle root (round, root, Bitcoin height, total) and the current rBTC-SYNTH "
             "supply against the BTC reserves. Reserves come from the Bitcoin chain, never from the oracle's "
             "records: the log's chain-side `reserves` records when present, else the newest published proof's "
             "total; `reserves_source` names which (null when there is neither, and so is the ratio).",
             None, False, lambda conn, a, limit, offset, config: queries.proof_of_reserves(conn),
             _obj(latest_proof={"type": ["object", "null"], "properties": {
                 "round": _INT, "merkle_root": _STR_N, "btc_height": _INT_N, "total_sats": _INT_N,
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
                  btc_height=_INT_N, evm_block=_INT_N, indexed_until=_TIME, last_indexed_seq=_INT)),
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
    paths = {}
    schemas = {
        "Error": {"type": "object", "required": ["success", "error", "timestamp"],
                  "properties": {"success": {"const": False}, "error": _STR,
                                 "timestamp": {"type": "string", "format": "date-time"}}},
    }
    for ep in ENDPOINTS:
        params = []
        if ep.address:
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
            "503": {"description": "the database has not been indexed yet",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        }
        if params:
            responses["400"] = {"description": "a missing or malformed parameter, named in `error`",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        paths[ep.path] = {"get": {"operationId": ep.name.replace("-", "_"), "summary": ep.summary,
                                  "description": ep.description, "parameters": params, "responses": responses}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ReserveBTC realtime API (simulation harness)", "version": API_VERSION,
                 "description": "The eight realtime endpoints of the ReserveBTC off-chain data layer, served from "
                                "the simulation's indexed event log. Sats are integers, wei decimal strings, "
                                "times ISO-8601 UTC plus unix seconds."},
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


def create_app(db_url: str, *, staleness_window_s: int = queries.STALENESS_WINDOW_S,
               inline_queries: bool | None = None) -> Starlette:
    """The ASGI app serving the database at ``db_url`` (any SQLAlchemy URL)."""
    engine = make_engine(db_url)
    inline = engine.dialect.name == "sqlite" if inline_queries is None else inline_queries
    config = {"staleness_window_s": staleness_window_s}
    document = openapi_document()
    docs = _docs_page(document)

    def make(ep: Endpoint):
        def run(address, limit, offset):
            with engine.connect() as conn:
                return ep.call(conn, address, limit, offset, config)

        async def endpoint(request: Request) -> JSONResponse:
            stamp = request_time()
            params = request.query_params
            try:
                address = parse_address(params, ep.address == "required") if ep.address else None
                limit, offset, capped = parse_paging(params) if ep.paging else (None, None, False)
            except BadRequest as exc:
                return _error(400, str(exc), stamp)
            try:
                data = run(address, limit, offset) if inline else await run_in_threadpool(run, address, limit, offset)
            except (OperationalError, ProgrammingError) as exc:
                if _not_indexed(exc):
                    return _error(503, "the database has not been indexed yet (its tables are missing); "
                                       "run the indexer first", stamp)
                raise
            if ep.paging:
                data["pagination"]["limit_capped"] = capped
            return JSONResponse({"success": True, "data": data, "timestamp": stamp})

        endpoint.__name__ = ep.name.replace("-", "_")
        return endpoint

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def docs_page(request: Request) -> HTMLResponse:
        return HTMLResponse(docs)

    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"success": True, "timestamp": request_time(), "data": {
            "endpoints": [ep.path for ep in ENDPOINTS], "openapi": "/openapi.json", "docs": "/docs"}})

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = {404: f"no such endpoint: {request.url.path}",
                   405: f"method {request.method} not allowed on {request.url.path}; use GET"}.get(
            exc.status_code, str(exc.detail))
        return _error(exc.status_code, message)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    routes = [Route(ep.path, make(ep), methods=["GET"]) for ep in ENDPOINTS]
    routes += [Route("/openapi.json", openapi, methods=["GET"]), Route("/docs", docs_page, methods=["GET"]),
               Route("/", index, methods=["GET"])]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.engine = engine
    app.state.db_url = db_url
    return app

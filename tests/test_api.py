"""The realtime API over real HTTP: uvicorn on a loopback port, hit with httpx, for the indexed sample world."""

from __future__ import annotations

import re
import socket
from datetime import datetime

import httpx
import pytest

from sim.api import create_app, prepare_target, start_background
from sim.api.app import MAX_LIMIT
from sim.exits import BadInput
from sim.indexer import LiveIndexer, index_run
from sim.datacheck.crosscheck import crosscheck
from sim.indexer.db import sqlite_url
from sim.datacheck.sample import sample_config, sample_world

ENDPOINTS = ("balances", "sync-status", "transactions", "bitcoin-addresses", "emergency-burns", "yield-status",
             "disputes", "proof-of-reserves")
DASHBOARD_ENDPOINTS = ("lookup", "reserves-proof", "system", "violations", "health", "stream")
ADDRESS_REQUIRED = ("balances", "sync-status", "transactions", "bitcoin-addresses")
NOBODY = "0x" + "12" * 20


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    world = sample_world(run_dir)
    stats = index_run(run_dir)
    server = start_background(stats["db_url"], "127.0.0.1", 0)
    client = httpx.Client(base_url=server.url, timeout=10)
    yield world, server, client, stats["db_url"]
    client.close()
    server.stop()


def _get(client, endpoint, **params):
    response = client.get(f"/api/realtime/{endpoint}", params=params)
    body = response.json()
    assert set(body) >= {"success", "timestamp"}
    datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))  # ISO-8601
    return response.status_code, body


def _ok(client, endpoint, **params):
    status, body = _get(client, endpoint, **params)
    assert status == 200 and body["success"] is True, body
    return body["data"]


def _users(world):
    users = world.registry.users()
    burned = sorted({r["user"] for r in world.log.records if r["kind"] == "oracle_op" and r["op"] == "emergency_burn"})
    disputed = sorted({r["user"] for r in world.log.records if r["kind"] == "dispute_filed"})
    holder = next(u for u in users if u in world.yields.participants)
    return users, burned, disputed, holder


def test_balances(served):
    world, server, client, _ = served
    users, burned, _, _ = _users(world)
    for user in users[:10] + burned[:3]:
        data = _ok(client, "balances", address=user.upper())  # any case accepted, 0X too
        assert data["address"] == user
        assert data["rbtc_balance"] == world.port.rbtc_balance(user)
        assert data["last_sats"] == world.port.last_sats(user)
        assert data["vault_balance_wei"] == str(world.port.vault_balance(user))
        assert data["registered"] is True
    some = next(u for u in users if world.port.last_sats(u) > 0)
    update = _ok(client, "balances", address=some)["last_update"]
    assert set(update) == {"time", "timestamp", "block", "tx_hash"}
    unknown = _ok(client, "balances", address=NOBODY)
    assert (unknown["registered"], unknown["rbtc_balance"], unknown["last_update"]) == (False, 0, None)


def test_sync_status(served):
    world, server, client, _ = served
    users, _, _, _ = _users(world)
    statuses = {_ok(client, "sync-status", address=u)["status"] for u in users}
    assert statuses <= {"active", "stale"} and statuses
    for user in users[:20]:
        data = _ok(client, "sync-status", address=user)
        assert data["staleness_window_s"] == 3_600
        if data["last_sync_timestamp"] is not None:
            assert data["status"] == ("active" if data["seconds_since_last_sync"] <= 3_600 else "stale")
    assert _ok(client, "sync-status", address=NOBODY)["status"] == "not_registered"
    trader = world.yields.traders[0]  # on chain (the pool) but never bound a Bitcoin address
    assert _ok(client, "sync-status", address=trader)["status"] == "not_registered"


def test_transactions_paging_and_order(served):
    world, server, client, _ = served
    users, burned, _, _ = _users(world)
    user = max(users, key=lambda u: _ok(client, "transactions", address=u, limit=1)["pagination"]["total"])
    everything = _ok(client, "transactions", address=user, limit=100)
    total = everything["pagination"]["total"]
    assert total >= 4 and len(everything["transactions"]) == min(total, 100)
    keys = [(t["block"], t["tx_index"], t["log_index"]) for t in everything["transactions"]]
    assert keys == sorted(keys, reverse=True)  # newest first
    first = everything["transactions"][0]
    assert set(first) >= {"hash", "block", "time", "type", "amount", "delta", "fee_wei", "bitcoin_address", "status"}
    page = _ok(client, "transactions", address=user, limit=2, offset=1)
    assert page["transactions"] == everything["transactions"][1:3]
    assert page["pagination"] == {"limit": 2, "offset": 1, "returned": 2, "total": total, "has_more": total > 3,
                                  "limit_capped": False}
    capped = _ok(client, "transactions", address=user, limit=500)
    assert capped["pagination"]["limit"] == MAX_LIMIT and capped["pagination"]["limit_capped"] is True
    beyond = _ok(client, "transactions", address=user, offset=10_000)
    assert beyond["transactions"] == [] and beyond["pagination"]["has_more"] is False
    types = {t["type"] for u in burned for t in _ok(client, "transactions", address=u, limit=100)["transactions"]}
    assert {"emergency_burn", "deposit"} <= types
    mints = [t for u in users[:10] for t in _ok(client, "transactions", address=u, limit=100)["transactions"]
             if t["type"] == "mint"]
    assert mints and all(t["unit"] == "sats" and int(t["amount"]) == t["delta"] > 0 for t in mints)


def test_bitcoin_addresses(served):
    world, server, client, _ = served
    users, _, _, _ = _users(world)
    for user in users[:10]:
        data = _ok(client, "bitcoin-addresses", address=user)
        assert [a["address"] for a in data["bitcoin_addresses"]] == world.registry.addresses_of(user)
        assert data["count"] == len(world.registry.addresses_of(user))
        assert all(a["type"] in ("p2wpkh", "p2tr") and a["network"] == "regtest" for a in data["bitcoin_addresses"])
    assert _ok(client, "bitcoin-addresses", address=NOBODY) == {"address": NOBODY, "registered": False, "count": 0,
                                                                 "bitcoin_addresses": []}


def test_emergency_burns(served):
    world, server, client, _ = served
    _, burned, _, _ = _users(world)
    system = _ok(client, "emergency-burns")
    assert system["system"]["total_burns"] == world.port.call("OracleAggregator", "totalEmergencyBurns") > 0
    assert len(system["burns"]) == min(20, system["system"]["total_burns"])
    for user in burned:
        data = _ok(client, "emergency-burns", address=user)
        assert data["burns"] and all(b["user"] == user for b in data["burns"])
        assert all(t["is_emergency_burn"] or t["type"] == "emergency_reset" for t in data["emergency_transactions"])
        assert data["user_summary"]["currently_flagged"] == world.port.emergency_burned(user)
        assert data["system"] == system["system"]


def test_yield_status(served):
    world, server, client, _ = served
    _, _, _, holder = _users(world)
    pool = _ok(client, "yield-status")["pool"]
    assert pool["current_rate_bps"] == world.port.call("YieldScalesPool", "calculateYieldRate")
    assert pool["participants"] == world.port.call("YieldScalesPool", "totalParticipants")
    data = _ok(client, "yield-status", address=holder)
    assert data["is_participant"] and data["participant"]["type"] == "bitcoin_holder"
    assert data["eligibility"]["eligible"] is True
    # the tier is the contract's checkpointed one, not one recomputed from age (the sample world's
    # tiers come after 12 h and 36 h, so all three occur, and some participants are due a promotion)
    multipliers = {"bronze": 110, "silver": 125, "gold": 150}
    names, due = set(), 0
    for user in sorted(world.yields.participants):
        tier = _ok(client, "yield-status", address=user)["loyalty_tier"]
        on_chain = world.port.call("YieldScalesPool", "getParticipant", (user,))[7]
        assert tier["name"] == ("bronze", "silver", "gold")[on_chain], user
        assert tier["multiplier_percent"] == multipliers[tier["name"]]
        names.add(tier["name"])
        due += tier["tier_at_next_checkpoint"] != tier["name"]
    assert names == {"bronze", "silver", "gold"} and due > 0
    assert sum(pool["tiers"].values()) == pool["participants"]
    nobody = _ok(client, "yield-status", address=NOBODY)
    assert (nobody["is_participant"], nobody["eligibility"]["eligible"]) == (False, False)


def test_disputes(served):
    world, server, client, _ = served
    _, _, disputed, _ = _users(world)
    summary = world.disputes.summary()
    system = _ok(client, "disputes")
    assert system["totals"]["total"] == summary["filed"]
    assert (system["totals"]["accepted"], system["totals"]["rejected"]) == (summary["accepted"], summary["rejected"])
    for user in disputed[:5]:
        data = _ok(client, "disputes", address=user)
        assert data["disputes"] and all(d["user"] == user for d in data["disputes"])
        assert data["has_active_dispute"] == (user in world.disputes.open)


def test_proof_of_reserves(served):
    world, server, client, _ = served
    data = _ok(client, "proof-of-reserves")
    root, height, total, timestamp = world.port.call("ProofOfReserves", "latest")
    latest = data["latest_proof"]
    assert (latest["merkle_root"], latest["btc_height"], latest["total_sats"], latest["published_timestamp"]) \
        == ("0x" + root.hex(), height, total, timestamp)
    assert data["proofs_published"] == world.port.call("ProofOfReserves", "rounds")
    totals = data["totals"]
    assert totals["rbtc_total_supply_sats"] == world.port.total_supply()
    # reserves come from the Bitcoin chain itself (the world's `reserves` records), not the oracle
    reserves = world.chain.total_confirmed(world.registry.watched, world.oracle.min_conf)
    assert totals["reserves_source"] == "bitcoin_chain" and totals["btc_reserves_sats"] == reserves
    assert totals["backing_ratio"] == round(reserves / world.port.total_supply(), 8)


@pytest.mark.parametrize("endpoint", ADDRESS_REQUIRED)
def test_missing_or_malformed_address_is_a_400(served, endpoint):
    _, _, client, _ = served
    for params, words in (({}, "missing"), ({"address": ""}, "empty"), ({"address": "0x12"}, "malformed"),
                          ({"address": "0x" + "g" * 40}, "malformed"), ({"address": "12" * 21}, "malformed"),
                          ({"address": "0x" + "ab" * 20 + "00"}, "malformed")):
        status, body = _get(client, endpoint, **params)
        assert status == 400 and body["success"] is False, body
        assert words in body["error"] and "address" in body["error"]


@pytest.mark.parametrize("endpoint", ("emergency-burns", "yield-status", "disputes"))
def test_optional_address_must_still_be_well_formed(served, endpoint):
    _, _, client, _ = served
    status, body = _get(client, endpoint, address="nope")
    assert status == 400 and "malformed address 'nope'" in body["error"]


@pytest.mark.parametrize("endpoint", ("transactions", "emergency-burns", "disputes"))
def test_bad_paging_is_a_400(served, endpoint):
    world, _, client, _ = served
    user = world.registry.users()[0]
    for params, message in (({"offset": "-1"}, "offset must be a non-negative integer, got -1"),
                            ({"offset": "1.5"}, "offset must be a non-negative integer, got '1.5'"),
                            ({"limit": "-3"}, "limit must be at least 1, got -3"),
                            ({"limit": "0"}, "limit must be at least 1, got 0"),
                            ({"limit": "ten"}, "limit must be an integer"),
                            ({"offset": str(10**12)}, "offset must be at most")):
        status, body = _get(client, endpoint, address=user, **params)
        assert status == 400 and message in body["error"], body


def test_answers_are_deterministic_apart_from_the_timestamp(served):
    world, _, client, _ = served
    user = world.registry.users()[3]
    for endpoint in ENDPOINTS:
        params = {} if endpoint == "proof-of-reserves" else {"address": user}
        first, second = client.get(f"/api/realtime/{endpoint}", params=params).json(), \
            client.get(f"/api/realtime/{endpoint}", params=params).json()
        first.pop("timestamp"), second.pop("timestamp")
        assert first == second


def test_openapi_docs_and_unknown_paths(served):
    _, _, client, _ = served
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {f"/api/realtime/{e}" for e in ENDPOINTS + DASHBOARD_ENDPOINTS} | {"/metrics"}
    params = {p["name"]: p for p in document["paths"]["/api/realtime/transactions"]["get"]["parameters"]}
    assert params["address"]["required"] is True and params["limit"]["schema"]["minimum"] == 1
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/realtime/proof-of-reserves" in docs.text
    missing = client.get("/api/realtime/nothing")
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert client.post("/api/realtime/balances").status_code == 405


def test_crosscheck_through_http(served):
    world, server, _, db_url = served
    assert crosscheck(world, db_url, api_url=server.url) == []


def test_an_unindexed_database_answers_503(tmp_path):
    with start_background(sqlite_url(tmp_path / "empty.sqlite")) as server:
        response = httpx.get(f"{server.url}/api/realtime/balances", params={"address": NOBODY})
    assert response.status_code == 503 and "not been indexed" in response.json()["error"]


def test_prepare_target_indexes_a_run_folder(tmp_path):
    sample_world(tmp_path, days=0.5)
    url = prepare_target(tmp_path)
    assert url == sqlite_url(tmp_path / "index.sqlite") and (tmp_path / "index.sqlite").exists()
    assert prepare_target("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(BadInput, match="no such file or folder"):
        prepare_target(tmp_path / "nope")
    assert create_app(url).state.db_url == url


def test_serving_while_a_world_runs_and_indexes_live(tmp_path):
    """What ``rbtc-sim run --serve`` does: a live indexer commits batches, the server reads them."""
    from sim.world import World

    url = sqlite_url(tmp_path / "index.sqlite")
    world = World(sample_config())
    live = LiveIndexer(url, batch_size=200).attach(world.log)
    seen = []
    with start_background(url) as server:
        for until in (20_000, 60_000, 120_000):
            world.run(until=until)
            live.flush()
            data = httpx.get(f"{server.url}/api/realtime/proof-of-reserves").json()["data"]
            seen.append(data["last_indexed_seq"])
            assert data["totals"]["rbtc_total_supply_sats"] == world.port.total_supply()
        world.run()
        world.finish()
        live.close()
        assert crosscheck(world, url, api_url=server.url) == []
    assert seen == sorted(seen) and seen[0] < seen[-1]


def test_serve_world_follows_a_log_that_keeps_no_records(tmp_path):
    """``serve_world`` as ``rbtc-sim run --serve`` uses it: the run's log keeps nothing in memory and
    already holds ``world_start`` when the server is attached; the live index equals the file's."""
    from sim.api import serve_world
    from sim.eventlog import EventLog
    from sim.indexer.verify import table_digests
    from sim.world import World

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    world = World(sample_config(), log=EventLog(run_dir / "events.jsonl", keep=False))
    handle = serve_world(world, run_dir, port=0)
    try:
        world.run(until=50_000)
        handle.flush()
        data = httpx.get(f"{handle.url}/api/realtime/proof-of-reserves").json()["data"]
        assert data["last_indexed_seq"] == world.log.count - 1
        world.run()
        world.finish()
        world.log.close()
        handle.flush()
        user = world.registry.users()[0]
        balance = httpx.get(f"{handle.url}/api/realtime/balances", params={"address": user}).json()["data"]
        assert balance["rbtc_balance"] == world.port.rbtc_balance(user)
        from sim.datacheck.crosscheck import crosscheck as check
        assert check(world, sqlite_url(run_dir / "index.sqlite"), api_url=handle.url,
                     events_path=run_dir / "events.jsonl") == []
        assert any("kept no records" in p for p in check(world, sqlite_url(run_dir / "index.sqlite")))
    finally:
        handle.stop()
    reference = sqlite_url(tmp_path / "reference.sqlite")
    index_run(run_dir, reference)
    assert table_digests(sqlite_url(run_dir / "index.sqlite")) == table_digests(reference)


def _serve_refusal(capsys, *argv) -> str:
    from sim.cli import main

    status = main(["serve", *argv])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rbtc-sim: error: ") and "Traceback" not in err, err
    return lines[0]


def test_serve_refuses_bad_targets_at_start_up(tmp_path, capsys):
    """``rbtc-sim serve`` checks what it would serve before serving it: exit 2 and one line each."""
    plain = tmp_path / "notes.txt"
    plain.write_text("not a database\n")
    garbage_log = tmp_path / "garbage"
    garbage_log.mkdir()
    (garbage_log / "events.jsonl").write_text("this is not JSON\n")
    empty = tmp_path / "empty.sqlite"
    import sqlite3

    sqlite3.connect(empty).close()
    with socket.socket() as probe:  # a port nothing listens on: the database there is unreachable
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    cases = {
        str(tmp_path / "missing"): "no such file or folder",
        str(plain): "a plain file",
        str(tmp_path): "not a run folder",
        str(garbage_log): "not an event log",
        str(empty): "holds no index",
        "bogus://somewhere/db": "not a database URL",
        f"postgresql://nobody@127.0.0.1:{closed}/nothing": "cannot reach the database",
    }
    for target, words in cases.items():
        assert words in _serve_refusal(capsys, target, "--port", "0")


def test_serve_refuses_bad_hosts_and_ports_at_start_up(served, capsys):
    world, server, client, db_url = served
    target = db_url.removeprefix("sqlite:///")
    assert "out of range" in _serve_refusal(capsys, target, "--port", "70000")
    assert "out of range" in _serve_refusal(capsys, target, "--port", "-1")
    assert "in use" in _serve_refusal(capsys, target, "--host", server.host, "--port", str(server.port))
    assert "cannot listen there" in _serve_refusal(capsys, target, "--host", "8.8.8.8", "--port", "0")
    assert "not an address" in _serve_refusal(capsys, target, "--host", "bad host!", "--port", "0")


def test_serve_rebuilds_an_index_of_another_version(tmp_path):
    """A run folder's index is derived from its log: one written by another schema version is rebuilt."""
    import json as json_module
    import sqlite3

    sample_world(tmp_path, days=0.5)
    index_run(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE indexer_meta SET value = '1' WHERE key = 'schema_version'")
    url = prepare_target(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        version = conn.execute("SELECT value FROM indexer_meta WHERE key = 'schema_version'").fetchone()[0]
    from sim.indexer.schema import SCHEMA_VERSION

    assert json_module.loads(version) == SCHEMA_VERSION and url == sqlite_url(tmp_path / "index.sqlite")


def test_an_unreachable_database_answers_503_not_500(tmp_path):
    """A database that goes away under a running server: every endpoint answers 503, never 500."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with start_background(f"postgresql+psycopg://nobody@127.0.0.1:{closed}/nothing?connect_timeout=2") as server:
        for path in ("/api/realtime/balances?address=" + NOBODY, "/api/realtime/system", "/api/realtime/health",
                     "/metrics", "/api/realtime/stream", "/"):
            response = httpx.get(server.url + path, timeout=10)
            assert response.status_code == 503, (path, response.text[:200])


def test_metrics_in_prometheus_text_format(served):
    _, server, client, _ = served
    client.get("/api/realtime/balances", params={"address": NOBODY})
    client.get("/api/realtime/balances", params={"address": "nope"})
    text = client.get("/metrics").text
    lines = text.splitlines()
    assert any(re.fullmatch(r'rbtc_api_requests_total\{endpoint="/api/realtime/balances",status="400"\} \d+', line)
               for line in lines)
    assert 'rbtc_api_request_duration_seconds_bucket{endpoint="/api/realtime/balances",le="+Inf"}' in text
    por = _ok(client, "proof-of-reserves")
    assert f"rbtc_indexer_last_seq {por['last_indexed_seq']}" in lines
    assert f"rbtc_backing_ratio {por['totals']['backing_ratio']}" in lines
    for line in lines:  # every sample line is `name{labels} value`
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+', line), line


def test_health_and_system_agree_with_the_chain(served):
    world, _, client, _ = served
    health = _ok(client, "health")
    assert set(health["components"]) == {"oracle", "contracts", "database", "emergency_burns", "api", "disputes",
                                         "proof_of_reserves"}
    assert health["components"]["contracts"]["deployed"] == 6 and health["components"]["contracts"]["status"] == "ok"
    assert health["components"]["oracle"]["status"] == "ok"  # the sample world ends well after its outage
    assert health["components"]["emergency_burns"]["users_flagged"] == sum(
        1 for u in world.registry.users() if world.port.emergency_burned(u))
    system = _ok(client, "system")
    assert system["series"]["rbtc_supply_sats"][-1] == world.port.total_supply()
    assert system["totals"]["vault_total_wei"] == str(sum(world.port.vault_balance(u) for u in world.registry.users()
                                                          + list(world.yields.traders)))
    kinds = {i["kind"] for i in system["incidents"]}
    assert {"reorg", "oracle_outage"} <= kinds
    assert system["yield"]["tiers"] == _ok(client, "yield-status")["pool"]["tiers"]
    assert len(system["series"]["t"]) <= 360 and system["series"]["t"] == sorted(system["series"]["t"])


def test_lookup_by_bitcoin_address_and_the_reserves_proof(served):
    world, _, client, _ = served
    user = world.registry.users()[5]
    for query in (world.registry.addresses_of(user)[0], world.registry.addresses_of(user)[0].upper(), user.upper()):
        assert _ok(client, "lookup", q=query)["user"] == user
    status, body = _get(client, "lookup", q="bc1" + "q" * 39)  # well formed, bound to nobody
    assert status == 200 and body["data"]["user"] is None
    status, body = _get(client, "reserves-proof", address=user)
    assert status == 404 and "snapshots" in body["error"]  # this server was given only the database

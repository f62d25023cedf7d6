"""The API fuzzed from its own OpenAPI document (schemathesis), over real HTTP, and hostile requests
written by hand: no 5xx ever, and every answer matches the document — so the document is true by test.

Schemathesis (its generation and checks) reads ``/openapi.json`` from a running server (uvicorn on a loopback port, over the
indexed sample world with its run folder, so every endpoint has data to answer with) and generates
requests for every operation: valid ones (which must be answered 2xx), invalid ones (which must be
refused with a documented 4xx), and checks status codes, content types, headers and response bodies
against the document. The event stream never ends, so it is left to its own tests below.

``make fuzz`` runs it with ``RBTC_FUZZ=1``: many more examples per operation.
"""

from __future__ import annotations

import json
import os
import socket

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from sim.api import start_background
from sim.datacheck.sample import sample_world
from sim.indexer import index_run

EXAMPLES = 600 if os.environ.get("RBTC_FUZZ") else 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("fuzz-run")
    world = sample_world(run_dir)
    (run_dir / "proof_of_reserves.json").write_text(json.dumps(world.reserves.latest.as_json()))
    world.monitor.violate("backing", world.registry.users()[0], "planted so the violations answer has an item",
                          rbtc=2, confirmed_btc=1)
    world.log.close()
    stats = index_run(run_dir)
    handle = start_background(stats["db_url"], port=0, run_dir=run_dir)
    yield handle
    handle.stop()


def _operations(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path != "/api/realtime/stream"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_against_its_own_document(server, mode):
    """For each operation of the document, generated requests of the mode: positive ones must be
    answered as documented (2xx with a body matching the schema), negative ones refused with a
    documented 4xx; nothing may be a 5xx. (schemathesis's own pytest plugin does not run under this
    pytest, so the operations are driven here, one Hypothesis test each.)"""
    operations = _operations(server)
    assert len(operations) == 14  # the eight, lookup, reserves-proof, system, violations, health, /metrics
    document = httpx.get(f"{server.url}/openapi.json").json()
    if mode is GenerationMode.NEGATIVE:  # nothing to get wrong in an operation without parameters
        operations = [op for op in operations if document["paths"][op.path]["get"]["parameters"]]
        assert len(operations) == 10
    cases: list[str] = []
    for op in operations:
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case):
            cases.append(op.path)
            case.call_and_validate(timeout=10)

        try:
            run()
        except Exception as exc:
            raise AssertionError(f"{op.method.upper()} {op.path} ({mode.value}): {exc}") from exc
    print(f"schemathesis, {mode.value}: {len(cases)} generated requests over {len(operations)} operations")
    assert len(set(cases)) == len(operations)  # every operation was exercised


# ---------------------------------------------------------------------- by hand: the classes issue 11 names


ADDRESS = "0x" + "ab" * 20


@pytest.mark.parametrize("query", [
    "limit=" + "9" * 4_301, "limit=-" + "9" * 5_000, "offset=" + "9" * 4_301, "limit=" + "0" * 6_000 + "5",
    "offset=1e3", "limit=%00", "limit=%ff%fe", "limit=%", "limit=%zz", "limit=1&limit=2", "offset=0&offset=0",
    "address=" + ADDRESS + "&address=" + ADDRESS, "address=%C0%AF", "address=" + "0x" + "é" * 40,
    "address=0x" + "ab" * 20 + "%00", "address[]=" + ADDRESS, "limit=١٢", "limit=+5", "limit= 5", "&&&=&",
])
@pytest.mark.parametrize("endpoint", ["transactions", "emergency-burns", "disputes", "violations"])
def test_hostile_query_strings_are_a_400_or_answered(server, endpoint, query):
    params = "" if "address" in query or endpoint == "violations" else f"address={ADDRESS}&"
    response = httpx.get(f"{server.url}/api/realtime/{endpoint}?{params}{query}", timeout=10)
    assert response.status_code in (200, 400), (response.status_code, response.text[:300])
    body = response.json()
    assert body["success"] is (response.status_code == 200)
    if "limit=" + "9" * 4_301 == query:  # a huge limit is capped, like any limit above 100
        assert response.status_code == 200 and body["data"]["pagination"]["limit_capped"] is True


def test_repeated_parameters_are_refused_by_name(server):
    response = httpx.get(f"{server.url}/api/realtime/balances?address={ADDRESS}&address={ADDRESS}")
    assert response.status_code == 400 and "'address' given 2 times" in response.json()["error"]


def test_redirects_are_relative_whatever_the_host_header(server):
    response = httpx.get(f"{server.url}/api/realtime/balances/?address={ADDRESS}",
                         headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == f"/api/realtime/balances?address={ADDRESS}"
    for path in ("//evil.example/", "/nothing/", "/api/realtime/nothing/"):
        answer = httpx.get(f"{server.url}{path}", follow_redirects=False)
        assert answer.status_code == 404 and "location" not in answer.headers


def test_raw_malformed_requests_never_get_a_5xx(server):
    """Bytes no HTTP client library would send: the server answers 4xx or closes, never 5xx."""
    requests = [b"GET /api/realtime/balances?address=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /api/realtime/transactions?address=" + ADDRESS.encode() + b"&limit=" + b"9" * 9_000
                + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /%%%/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /api/realtime/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + b"9" * 5_000 + b"\r\n\r\n",
                b"GET /api/realtime/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: -5\xff\r\n\r\n"]
    for raw in requests:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(raw)
            head = sock.recv(64)
        if head:
            status = int(head.split(b" ")[1])
            assert status < 500, (raw[:80], head)


def test_the_stream_resumes_after_a_last_event_id_and_ignores_garbage(server):
    url = f"{server.url}/api/realtime/stream"
    newest = httpx.get(f"{server.url}/api/realtime/proof-of-reserves").json()["data"]["last_indexed_seq"]
    for header, expected in (({}, "ready"), ({"Last-Event-ID": "garbage"}, "ready"),
                             ({"Last-Event-ID": "9" * 40}, "ready"), ({"Last-Event-ID": "-1"}, "batch"),
                             ({"Last-Event-ID": str(newest)}, "ready")):
        with httpx.stream("GET", url, headers=header, timeout=10) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in response.iter_lines():
                lines.append(line)
                if line == "" and len(lines) > 1:
                    break
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        assert fields["event"] == expected, (header, lines)
        data = json.loads(fields["data"])
        if expected == "batch":  # every batch after -1: the first one starts at record 0
            assert data["first_seq"] == 0 and int(fields["id"]) == data["last_seq"]
        else:
            assert data["last_seq"] == newest == int(fields["id"])

"""The dashboard in a real browser: Debian's chromium driven by Playwright, during a live run.

The world is the sample world (an oracle outage from t = 50,000 s to 53,000 s, a reorg, disputes,
proof-of-reserves rounds every six hours), served the way ``rbtc-sim run --serve`` serves it
(:func:`sim.api.serve_world`: a live indexer and the server in a background thread). The test steps
the world forward between checks, so the page is looked at while the world is still running, and
every check compares the page with the API or the chain. Screenshots are kept in
``reports/browser/`` (git-ignored). Without ``/usr/bin/chromium`` these tests fail: install Debian's
``chromium`` (``.ci/run`` does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sim.datacheck.sample import sample_config
from sim.eventlog import EventLog

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "reports" / "browser"
OUTAGE = (50_000, 53_000)  # sample_config's oracle_outage


def _require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the dashboard's browser tests need Debian's chromium "
                    "(apt-get install chromium; .ci/run installs it)", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


class Live:
    """The sample world being served while it runs, stepped by the tests."""

    def __init__(self, run_dir: Path):
        from sim.api import serve_world
        from sim.world import World

        self.run_dir = run_dir
        self.world = World(sample_config(), log=EventLog(run_dir / "events.jsonl", keep=False))
        # what `rbtc-sim run` writes before the world starts: the command that reproduces the run
        self.reproduce = f"rbtc-sim run {run_dir}/scenario.toml --seed 7 --backend model"
        (run_dir / "summary.json").write_text(json.dumps({"complete": False, "reproduce": self.reproduce}))
        self.handle = serve_world(self.world, run_dir, port=0)
        self.client = httpx.Client(base_url=self.handle.url, timeout=10)

    def advance(self, until: int) -> None:
        self.world.run(until=until)
        self.world.log.flush()
        self.handle.flush()

    def api(self, endpoint: str, **params) -> dict:
        body = self.client.get(f"/api/realtime/{endpoint}", params=params).json()
        assert body["success"], body
        return body["data"]

    def close(self) -> None:
        self.client.close()
        self.handle.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    world = Live(tmp_path_factory.mktemp("live-run"))
    world.advance(20_000)
    yield world
    world.close()


@pytest.fixture(scope="module")
def page(browser, live):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.goto(live.handle.url + "/")
    tab.wait_for_selector("body[data-ready='1']")
    tab.evaluate("window.loadedOnce = true")  # gone if the page ever reloads
    yield tab
    context.close()


def _last(page, chart: str, key: str) -> str:
    return page.get_attribute(f"#{chart} path[data-key='{key}']", "data-last")


def _btc(sats: int) -> str:
    return f"{sats / 1e8:.8f} BTC"


def test_charts_render_and_their_last_points_equal_the_api(page, live):
    por = live.api("proof-of-reserves")["totals"]
    system = live.api("system")
    assert int(page.get_attribute("#chart-backing", "data-points")) > 10
    assert int(page.get_attribute("#chart-backing path[data-key='rbtc_supply_sats']", "data-points")) > 10
    assert int(_last(page, "chart-backing", "rbtc_supply_sats")) == por["rbtc_total_supply_sats"] > 0
    assert int(_last(page, "chart-backing", "reserves_sats")) == por["btc_reserves_sats"]
    assert _last(page, "chart-fees", "vault_total_wei") == system["totals"]["vault_total_wei"]
    assert _last(page, "chart-fees", "fees_total_wei") == system["totals"]["fees_total_wei"]
    assert int(_last(page, "chart-burns", "emergency_burns")) == live.api("emergency-burns")["system"]["total_burns"]
    assert int(_last(page, "chart-yield", "yield_rate_bps")) == live.api("yield-status")["pool"]["current_rate_bps"]
    assert page.inner_text("[data-kpi='supply']") == _btc(live.world.port.total_supply())
    assert page.locator("#chart-backing rect.span[data-kind='reorg']").count() == 0  # the reorg is at 30,000 s
    page.screenshot(path=str(SHOTS / "1-loaded.png"), full_page=True)
    assert page.errors == []


def test_the_page_follows_the_world_without_reloading(page, live):
    before = page.inner_text("#last-seq")
    live.advance(45_000)
    seq = live.api("proof-of-reserves")["last_indexed_seq"]
    assert str(seq) != before
    page.wait_for_function(f"document.getElementById('last-seq').textContent === '{seq}'", timeout=10_000)
    assert page.evaluate("window.loadedOnce") is True  # updated in place, not reloaded
    assert page.locator("#activity li").count() >= 1
    page.wait_for_function(
        "document.querySelector(\"#chart-backing path[data-key='rbtc_supply_sats']\").dataset.last === "
        f"'{live.world.port.total_supply()}'", timeout=10_000)
    assert page.locator("#chart-backing rect.span[data-kind='reorg']").count() >= 1  # the reorg, marked
    page.screenshot(path=str(SHOTS / "2-updated.png"), full_page=True)
    assert page.errors == []


def test_the_health_board_turns_red_during_an_oracle_outage(page, live):
    oracle = page.locator("[data-component='oracle']")
    assert "down" not in (oracle.get_attribute("class") or "")
    live.advance(OUTAGE[0] + 600)
    assert live.api("health")["components"]["oracle"]["status"] == "down"
    page.wait_for_selector("[data-component='oracle'].down", timeout=10_000)
    red = oracle.evaluate("card => getComputedStyle(card).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", red)[:3])
    assert r > 200 and g < 235 and b < 235 and r - g > 20, red  # a red card
    assert page.inner_text("#overall") == "DOWN"
    assert "offline" in oracle.inner_text()
    page.screenshot(path=str(SHOTS / "3-oracle-outage.png"), full_page=True)
    live.advance(OUTAGE[1] + 1_200)  # back online, and a round or two later
    page.wait_for_selector("[data-component='oracle'].ok", timeout=10_000)
    assert page.errors == []


def test_a_user_search_shows_the_right_balance(page, live):
    world = live.world
    user = max(world.registry.users(), key=world.port.rbtc_balance)
    btc_address = world.registry.addresses_of(user)[-1]
    page.fill("#query", btc_address.upper())  # a Bitcoin address, in the other case bech32 allows
    page.click("#search button")
    page.wait_for_function(f"document.getElementById('user-address') && "
                           f"document.getElementById('user-address').textContent === '{user}'", timeout=10_000)
    assert page.inner_text("#user-rbtc") == _btc(world.port.rbtc_balance(user))
    assert page.locator("#user-addresses tbody tr").count() == len(world.registry.addresses_of(user))
    assert page.locator("#user-history tbody tr").count() >= 1
    page.fill("#query", "0xnot-an-address")
    page.click("#search button")
    page.wait_for_function("document.getElementById('search-error').textContent.includes('neither')")
    page.fill("#query", user)
    page.click("#search button")
    page.wait_for_function("document.getElementById('search-error').textContent === ''")
    assert page.errors == []


def test_proof_verification_in_the_page(page, live):
    page.click("#fetch-proof")
    page.wait_for_function("document.getElementById('proof-document').value.length > 0", timeout=10_000)
    document = json.loads(page.input_value("#proof-document"))
    published = live.api("proof-of-reserves")["latest_proof"]
    assert document["round"] == published["round"] and document["leaves"]
    page.click("#verify-proof")
    assert page.inner_text("#proof-verdict").startswith("VALID")
    assert page.locator("#proof-result li").count() == len(document["leaves"])
    page.screenshot(path=str(SHOTS / "4-proof-valid.png"), full_page=True)
    # a leaf claiming one sat more, its leaf_hash recomputed to match: only the walk can catch it
    from contracts_model.proof_of_reserves import leaf_hash

    forged = json.loads(json.dumps(document))
    leaf = forged["leaves"][0]["leaf"]
    leaf["balance_sats"] += 1
    forged["leaves"][0]["leaf_hash"] = "0x" + leaf_hash(
        leaf["eth"], bytes.fromhex(leaf["btc_program"][2:]), bytes.fromhex(leaf["checksum"][2:]), leaf["method"],
        leaf["balance_sats"], leaf["height"], leaf["timestamp"]).hex()
    forged["root"] = "0x" + "00" * 32  # the document's own root is never trusted anyway
    for tampered, reason in ((forged, "not the published root"),
                             (_with_sibling_flipped(document), "not the published root")):
        page.fill("#proof-document", json.dumps(tampered, indent=2))
        page.click("#verify-proof")
        assert page.inner_text("#proof-verdict") == "INVALID"
        assert reason in page.inner_text("#proof-result")
    page.screenshot(path=str(SHOTS / "5-proof-tampered.png"), full_page=True)
    assert page.errors == []


def _with_sibling_flipped(document: dict) -> dict:
    copy = json.loads(json.dumps(document))
    proof = copy["leaves"][0]["proof"]
    proof[0] = proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1")
    return copy


def test_violations_appear_with_their_replay_command(page, live):
    assert page.is_visible("#no-violations")
    world = live.world
    world.monitor.violate("backing", world.registry.users()[0], "planted by the dashboard test",
                          rbtc=5, confirmed_btc=3)
    live.advance(int(world.env.now) + 600)
    page.wait_for_selector("#violations tbody tr", timeout=10_000)
    row = page.inner_text("#violations tbody tr")
    assert "backing" in row and "planted by the dashboard test" in row and live.reproduce in row
    assert page.inner_text("#violation-count") == "1"
    assert not page.is_visible("#no-violations")
    page.screenshot(path=str(SHOTS / "6-violation.png"), full_page=True)
    assert page.errors == []


def test_a_finished_run_served_by_the_command_line(browser, tmp_path):
    """`rbtc-sim run SCENARIO --serve --keep-serving` end to end: the page of the finished run agrees
    with its API, and nothing in it fails."""
    scenario = tmp_path / "outage.toml"
    scenario.write_text('[scenario]\nname = "outage_small"\n\n[world]\nseed = 3\nusers = 25\nduration = "12h"\n'
                        'backend = "model"\n\n[reserves]\ninterval_s = 7200\n\n[[events]]\nkind = "oracle_outage"\n'
                        'at = "2h"\nduration = "1h"\n')
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "sim.cli", "run", str(scenario), "--out", str(tmp_path / "run"),
                                "--serve", "--keep-serving", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / "report.html").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        por = httpx.get(f"{url}/api/realtime/proof-of-reserves").json()["data"]
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        assert por["last_indexed_seq"] == summary["events"] - 1
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        errors = []
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(url + "/")
        tab.wait_for_selector("body[data-ready='1']")
        assert int(_last(tab, "chart-backing", "rbtc_supply_sats")) == por["totals"]["rbtc_total_supply_sats"]
        assert tab.locator("#chart-backing rect.span[data-kind='oracle_outage']").count() == 1
        tab.screenshot(path=str(SHOTS / "7-cli-run.png"), full_page=True)
        context.close()
        assert errors == []
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_keccak_in_javascript_agrees_with_python():
    """The page's keccak-256 and leaf hashing (keccak.js, run by Node) against the Python reference."""
    node = shutil.which("node")
    assert node, "node is needed (the project's toolchain installs it)"
    from eth_utils import keccak

    from contracts_model.proof_of_reserves import leaf_hash

    inputs = ["", "00", "ff" * 135, "01" * 136, "ab" * 137, "5a" * 300, bytes(range(256)).hex()]
    leaf = {"eth": "0x" + "42" * 20, "btc_program": "0x" + "00" * 12 + "11" * 20, "checksum": "0x" + "77" * 32,
            "method": 2, "balance_sats": 2_099_999_997_690_000, "height": 4_294_967_295,
            "timestamp": 9_007_199_254_740_991}  # the largest integer a JSON number keeps exact in JS
    script = ("const k = require(process.argv[1]); const input = JSON.parse(process.argv[2]);"
              "const out = input.hex.map((h) => k.toHex(k.keccak256(k.fromHex(h))));"
              "out.push(k.toHex(k.leafHash(input.leaf))); console.log(JSON.stringify(out));")
    result = subprocess.run([node, "-e", script, str(ROOT / "sim/api/assets/keccak.js"),
                             json.dumps({"hex": inputs, "leaf": leaf})], capture_output=True, text=True, check=True)
    hashes = json.loads(result.stdout)
    assert hashes[:-1] == ["0x" + keccak(bytes.fromhex(h)).hex() for h in inputs]
    expected = leaf_hash(leaf["eth"], bytes.fromhex(leaf["btc_program"][2:]), bytes.fromhex(leaf["checksum"][2:]),
                         leaf["method"], leaf["balance_sats"], leaf["height"], leaf["timestamp"])
    assert hashes[-1] == "0x" + expected.hex()

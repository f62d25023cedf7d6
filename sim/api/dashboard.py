"""The dashboard at ``/``: one server-rendered page, three hand-written scripts and a style sheet.

The page is rendered with the figures it shows (so it reads without JavaScript and its first paint
needs no request of its own) and carries the same answers as JSON for the scripts: ``charts.js``
draws the series as SVG, ``keccak.js`` verifies a user's proof of reserves in the browser, and
``dashboard.js`` keeps everything current from the event stream. The assets ship in the package
(``sim/api/assets``), are served at ``/assets/<name>`` with an ETag, and fetch nothing else: the
page works offline.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent / "assets"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml"}


def _load_assets() -> dict[str, tuple[bytes, str, str]]:
    assets = {}
    for path in sorted(ASSET_DIR.iterdir()):
        if path.suffix in _TYPES:
            body = path.read_bytes()
            assets[path.name] = (body, _TYPES[path.suffix], '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return assets


#: name -> (body, media type, ETag)
ASSETS = _load_assets()

STATUS_LABELS = {"ok": "OK", "degraded": "DEGRADED", "down": "DOWN"}
COMPONENTS = (("oracle", "Oracle"), ("contracts", "Contracts"), ("database", "Database"),
              ("emergency_burns", "Emergency burns"), ("api", "API latency"), ("disputes", "Disputes"),
              ("proof_of_reserves", "PoR backing"))


def _e(value) -> str:
    return html.escape("—" if value is None else str(value))


def _sats(value) -> str:
    return "—" if value is None else f"{value / 1e8:,.8f} BTC"


def _asset(name: str) -> str:
    return f"/assets/{name}?v={ASSETS[name][2].strip(chr(34))[:12]}"


def _board(board: dict) -> str:
    cards = []
    for key, title in COMPONENTS:
        c = board["components"][key]
        cards.append(f'<div class="card health {c["status"]}" data-component="{key}">'
                     f'<div class="card-title">{_e(title)}</div>'
                     f'<div class="status">{STATUS_LABELS[c["status"]]}</div>'
                     f'<div class="detail">{_e(c["detail"])}</div></div>')
    return "".join(cards)


def _kpis(view: dict) -> str:
    t = view["totals"]
    ratio = t["backing_ratio"]
    latest = view["latest_proof"]
    burns, disputes, pool = view["emergency_burns"], view["disputes"], view["yield"]
    items = (
        ("supply", "rBTC-SYNTH supply", _sats(t["rbtc_total_supply_sats"])),
        ("reserves", "Confirmed BTC reserves", _sats(t["btc_reserves_sats"])),
        ("ratio", "Backing ratio", "—" if ratio is None else f"{ratio * 100:.4f} %"),
        ("vault", "Fee vault", f"{int(t['vault_total_wei']) / 1e18:.6f} ETH"),
        ("fees", "Fees collected", f"{int(t['fees_total_wei']) / 1e18:.6f} ETH"),
        ("burns", "Emergency burns", f"{burns['total_burns']:,} ({burns['users_flagged']:,} flagged)"),
        ("disputes", "Disputes", f"{disputes['open']:,} open · {disputes['accepted']:,} accepted · "
                                 f"{disputes['rejected']:,} rejected"),
        ("yield", "Yield rate", f"{pool['current_rate_percent']:.2f} % · {pool['participants']:,} participants"),
        ("tiers", "Tiers (checkpointed)", " · ".join(f"{n} {c:,}" for n, c in pool["tiers"].items())),
        ("por", "Latest proof of reserves", "none yet" if latest is None else
         f"round {latest['round']} · {_sats(latest['total_sats'])} at height {latest['btc_height']}"),
    )
    return "".join(f'<div class="card kpi"><div class="card-title">{_e(label)}</div>'
                   f'<div class="value" data-kpi="{key}">{_e(value)}</div></div>' for key, label, value in items)


def _json_script(element_id: str, data) -> str:
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def page(view: dict, board: dict, violations: dict, *, proofs: bool) -> str:
    """The whole page for the current state (``view``: the ``system`` answer; ``board``: ``health``;
    ``violations``: the first page of ``violations``)."""
    latest = view["last_indexed_seq"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ReserveBTC dashboard (simulation)</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{_asset('dashboard.css')}">
</head><body>
<header>
  <h1>ReserveBTC <span class="sub">realtime dashboard · simulation harness</span></h1>
  <div class="where"><span id="live" class="live" title="event stream">●</span>
    indexed until <b id="indexed-until">{_e(view['indexed_until'])}</b> · record <b id="last-seq">{_e(latest)}</b>
    · <a href="/docs">API</a> · <a href="/metrics">metrics</a></div>
</header>
<main>
<section id="health-section"><h2>System health <span id="overall" class="pill {board['status']}">
{STATUS_LABELS[board['status']]}</span></h2>
<div id="health" class="grid health-grid">{_board(board)}</div></section>

<section id="system-section"><h2>System</h2>
<div id="kpis" class="grid kpi-grid">{_kpis(view)}</div>
<div class="charts">
  <figure><figcaption>rBTC-SYNTH supply vs confirmed reserves (BTC) and backing ratio
    <span class="legend"><i class="sw reorg"></i>reorg <i class="sw oracle_outage"></i>outage
    <i class="sw fee_drought"></i>fee drought <i class="sw backing_window"></i>backing window</span></figcaption>
    <svg id="chart-backing" class="chart" role="img" aria-label="supply, reserves and backing ratio"></svg></figure>
  <figure><figcaption>Fee vault and fees collected (ETH)</figcaption>
    <svg id="chart-fees" class="chart" role="img" aria-label="fee vault and fees"></svg></figure>
  <figure><figcaption>Emergency burns and disputes</figcaption>
    <svg id="chart-burns" class="chart" role="img" aria-label="burns and disputes"></svg></figure>
  <figure><figcaption>Yield rate (%) and pool participants</figcaption>
    <svg id="chart-yield" class="chart" role="img" aria-label="yield rate and participants"></svg></figure>
</div>
<div class="panels">
  <div class="panel"><h3>Newest emergency burns</h3><table id="burns-table"><thead><tr><th>time</th><th>user</th>
    <th>burned</th><th>reset</th></tr></thead><tbody></tbody></table></div>
  <div class="panel"><h3>Recent activity</h3><ol id="activity" class="activity"></ol></div>
</div></section>

<section id="user-section"><h2>User</h2>
<form id="search" class="search" autocomplete="off">
  <input id="query" name="q" placeholder="EVM address (0x…) or Bitcoin address (bc1… / tb1… / bcrt1…)" size="60">
  <button type="submit">Search</button> <span id="search-error" class="error"></span></form>
<div id="user" class="user" hidden>
  <div class="grid kpi-grid" id="user-kpis"></div>
  <div class="panels">
    <div class="panel"><h3>Bound Bitcoin addresses</h3><table id="user-addresses"><thead><tr><th>address</th>
      <th>type</th><th>method</th><th>bound</th><th>received</th></tr></thead><tbody></tbody></table></div>
    <div class="panel"><h3>Yield position</h3><div id="user-yield"></div>
      <h3>Disputes</h3><div id="user-disputes"></div></div>
  </div>
  <div class="panel"><h3>History</h3><table id="user-history"><thead><tr><th>time</th><th>type</th><th>amount</th>
    <th>delta</th><th>fee</th><th>status</th></tr></thead><tbody></tbody></table></div>
  <div class="panel proof"><h3>Proof of reserves</h3>
    <p>Fetch this user's leaves and Merkle proofs, then check them here, in the page (keccak-256 and the
    sorted-pair walk in JavaScript), against the root the index recorded from the chain's
    <code>ReservesPublished</code> event. Edit the document to see a tampered leaf fail.</p>
    <button id="fetch-proof" type="button" {'' if proofs else 'disabled'}>Fetch my proof</button>
    <button id="verify-proof" type="button" disabled>Verify in this page</button>
    <span id="proof-published" class="muted"></span>
    <textarea id="proof-document" rows="10" spellcheck="false"
      placeholder="{'the proof document appears here' if proofs else
                    'this server has no snapshots: serve a run folder to get proofs'}"></textarea>
    <div id="proof-result" class="proof-result"></div>
  </div>
</div></section>

<section id="violations-section"><h2>Invariant violations <span id="violation-count" class="pill
{'down' if view['violations'] else 'ok'}">{view['violations']:,}</span></h2>
<table id="violations"><thead><tr><th>invariant</th><th>step</th><th>time</th><th>actor</th><th>values</th>
<th>message</th><th>reproduce</th></tr></thead><tbody></tbody></table>
<p id="no-violations" class="muted" {'hidden' if view['violations'] else ''}>No invariant violation recorded.</p>
</section>
</main>
{_json_script('initial-system', view)}
{_json_script('initial-health', board)}
{_json_script('initial-violations', violations)}
<script src="{_asset('keccak.js')}"></script>
<script src="{_asset('charts.js')}"></script>
<script src="{_asset('dashboard.js')}"></script>
</body></html>"""


def unavailable_page(detail: str) -> str:
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ReserveBTC dashboard</title><link rel='icon' href='data:,'>"
            f"<link rel='stylesheet' href='{_asset('dashboard.css')}'></head><body><main><h1>ReserveBTC dashboard</h1>"
            f"<p class='error'>The database is not available: {html.escape(detail)}</p></main></body></html>")

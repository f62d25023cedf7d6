/* The dashboard's behaviour: draw what the server rendered, keep it current from the event stream
 * (/api/realtime/stream), search a user, and verify a user's proof of reserves in the page. Only the
 * API this server documents at /openapi.json is used. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const initial = (id) => JSON.parse($(id).textContent);
  const state = {system: initial("initial-system"), health: initial("initial-health"),
                 violations: initial("initial-violations"), user: null, published: null, refreshing: false,
                 pending: false};

  // ------------------------------------------------------------------ formatting
  const btc = (sats) => sats === null || sats === undefined ? "—" : (sats / 1e8).toFixed(8) + " BTC";
  const eth = (wei) => wei === null || wei === undefined ? "—" : (Number(BigInt(wei) / 1000000000n) / 1e9).toFixed(6) + " ETH";
  const pct = (ratio) => ratio === null || ratio === undefined ? "—" : (ratio * 100).toFixed(4) + " %";
  const int = (n) => n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  const short = (a) => a && a.length > 16 ? a.slice(0, 8) + "…" + a.slice(-6) : (a || "—");
  const time = (iso) => iso ? iso.replace("T", " ").replace("Z", "") : "—";

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function codeCell(row, text) {
    const td = document.createElement("td");
    if (text) { const c = document.createElement("code"); c.textContent = text; td.appendChild(c); } else td.textContent = "—";
    row.appendChild(td);
  }

  function fill(tbody, items, render) {
    tbody.textContent = "";
    for (const item of items) { const tr = document.createElement("tr"); render(tr, item); tbody.appendChild(tr); }
  }

  // ------------------------------------------------------------------ the system view
  function renderKpis(view) {
    const t = view.totals, b = view.emergency_burns, d = view.disputes, y = view.yield, p = view.latest_proof;
    const values = {
      supply: btc(t.rbtc_total_supply_sats), reserves: btc(t.btc_reserves_sats), ratio: pct(t.backing_ratio),
      vault: eth(t.vault_total_wei), fees: eth(t.fees_total_wei),
      burns: int(b.total_burns) + " (" + int(b.users_flagged) + " flagged)",
      disputes: int(d.open) + " open · " + int(d.accepted) + " accepted · " + int(d.rejected) + " rejected",
      yield: y.current_rate_percent.toFixed(2) + " % · " + int(y.participants) + " participants",
      tiers: Object.entries(y.tiers).map(([k, v]) => k + " " + int(v)).join(" · "),
      por: p ? "round " + p.round + " · " + btc(p.total_sats) + " at height " + p.btc_height : "none yet"};
    for (const [key, text] of Object.entries(values)) {
      const node = document.querySelector('[data-kpi="' + key + '"]');
      if (node) node.textContent = text;
    }
  }

  function spans(view) {
    return view.incidents.map((i) => ({start: i.started_at, end: i.ended_at, kind: i.kind,
      title: i.kind.replace("_", " ") + (i.cause ? " (" + i.cause + ", " + i.users + " users)" : "") +
             (i.details && i.details.depth ? " depth " + i.details.depth : "")}));
  }

  // The ratio's axis: around 1.0 (the line that matters), up to the 90th percentile (an early world,
  // with little supply, has ratios in the thousands that would flatten everything else).
  function ratioAxis(values) {
    const finite = values.filter((v) => v !== null && isFinite(v)).sort((a, b) => a - b);
    if (finite.length === 0) return [0.95, 1.05];
    const high = finite[Math.floor(0.9 * (finite.length - 1))];
    return [Math.min(0.95, finite[0]), Math.min(5, Math.max(1.05, high * 1.05))];
  }

  function renderCharts(view) {
    const s = view.series, marks = spans(view);
    const sats = (v) => v === null ? null : v / 1e8;
    const weiEth = (v) => v === null ? null : Number(BigInt(v) / 1000000000n) / 1e9;
    RbtcCharts.draw($("chart-backing"), {t: s.t, spans: marks, leftFormat: (v) => v.toFixed(4),
      rightFormat: (v) => v.toFixed(3), rightFixed: ratioAxis(s.backing_ratio_min), rightRule: 1, series: [
        {key: "rbtc_supply_sats", label: "rBTC-SYNTH supply", values: s.rbtc_supply_sats.map(sats),
         raw: s.rbtc_supply_sats, color: "#2563eb"},
        {key: "reserves_sats", label: "confirmed BTC reserves", values: s.reserves_sats.map(sats),
         raw: s.reserves_sats, color: "#16a34a"},
        {key: "backing_ratio_min", label: "backing ratio (lowest in each interval)", values: s.backing_ratio_min,
         color: "#dc2626", axis: "right"}]});
    RbtcCharts.draw($("chart-fees"), {t: s.t, spans: marks, leftFormat: (v) => v.toFixed(4), series: [
      {key: "vault_total_wei", label: "fee vault", values: s.vault_total_wei.map(weiEth), raw: s.vault_total_wei,
       color: "#0891b2"},
      {key: "fees_total_wei", label: "fees collected", values: s.fees_total_wei.map(weiEth), raw: s.fees_total_wei,
       color: "#9333ea"}]});
    RbtcCharts.draw($("chart-burns"), {t: s.t, spans: marks, leftFormat: (v) => v.toFixed(0),
      rightFormat: (v) => v.toFixed(0), series: [
        {key: "emergency_burns", label: "emergency burns", values: s.emergency_burns, color: "#b91c1c"},
        {key: "disputes_accepted", label: "disputes accepted", values: s.disputes_accepted, color: "#15803d"},
        {key: "disputes_rejected", label: "disputes rejected", values: s.disputes_rejected, color: "#a16207"},
        {key: "disputes_open", label: "disputes open", values: s.disputes_open, color: "#7c3aed", axis: "right"}]});
    RbtcCharts.draw($("chart-yield"), {t: s.t, spans: [], leftFormat: (v) => v.toFixed(2),
      rightFormat: (v) => v.toFixed(0), series: [
        {key: "yield_rate_bps", label: "yield rate (%)", values: s.yield_rate_bps.map((v) => v === null ? null : v / 100),
         raw: s.yield_rate_bps, color: "#ca8a04"},
        {key: "pool_participants", label: "participants", values: s.pool_participants, color: "#0f766e",
         axis: "right"}]});
  }

  function renderBurns(view) {
    fill($("burns-table").tBodies[0], view.emergency_burns.newest, (tr, b) => {
      cell(tr, time(b.time)); codeCell(tr, short(b.user)); cell(tr, btc(b.burned_sats), "num");
      cell(tr, b.reset ? "yes" : "no");
    });
  }

  function renderSystem(view) {
    $("indexed-until").textContent = view.indexed_until || "—";
    $("last-seq").textContent = view.last_indexed_seq === null ? "—" : String(view.last_indexed_seq);
    renderKpis(view); renderCharts(view); renderBurns(view);
    const count = $("violation-count");
    count.textContent = int(view.violations);
    count.className = "pill " + (view.violations ? "down" : "ok");
  }

  // ------------------------------------------------------------------ health
  const STATUS = {ok: "OK", degraded: "DEGRADED", down: "DOWN"};
  function renderHealth(board) {
    for (const [key, c] of Object.entries(board.components)) {
      const card = document.querySelector('[data-component="' + key + '"]');
      if (!card) continue;
      card.className = "card health " + c.status;
      card.querySelector(".status").textContent = STATUS[c.status];
      card.querySelector(".detail").textContent = c.detail;
    }
    const overall = $("overall");
    overall.className = "pill " + board.status;
    overall.textContent = STATUS[board.status];
  }

  // ------------------------------------------------------------------ violations
  function renderViolations(found) {
    fill($("violations").tBodies[0], found.violations, (tr, v) => {
      cell(tr, v.invariant); cell(tr, v.step === null ? "—" : int(v.step), "num"); cell(tr, time(v.time));
      codeCell(tr, v.actor);
      cell(tr, Object.entries(v.values).map(([k, x]) => k + " = " + JSON.stringify(x)).join(" · ") || "—");
      cell(tr, v.message); codeCell(tr, v.reproduce);
    });
    $("no-violations").hidden = found.pagination.total > 0;
  }

  // ------------------------------------------------------------------ the API
  async function api(path) {
    const response = await fetch(path, {headers: {Accept: "application/json"}});
    const body = await response.json();
    if (!body.success) { const e = new Error(body.error); e.status = response.status; throw e; }
    return body.data;
  }

  // ------------------------------------------------------------------ live updates
  function activity(event) {
    const c = event.counts, parts = [];
    const add = (n, word) => { if (n) parts.push(n + " " + word); };
    add(c.btc_blocks, "blocks"); add(c.reorgs, "reorgs"); add(c.syncs, "syncs"); add(c.emergency_burns, "burns");
    add(c.disputes_filed, "disputes filed"); add(c.disputes_resolved, "resolved"); add(c.por_rounds, "PoR rounds");
    add(c.violations, "VIOLATIONS"); add(c.oracle_outages, "oracle outages");
    const li = document.createElement("li");
    li.textContent = (event.indexed_until || "").replace("T", " ").replace("Z", "") + " · records " +
      event.first_seq + "–" + event.last_seq + (parts.length ? " · " + parts.join(", ") : "");
    const list = $("activity");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.removeChild(list.lastChild);
  }

  async function refresh() {
    if (state.refreshing) { state.pending = true; return; }
    state.refreshing = true;
    try {
      const [view, board] = await Promise.all([api("/api/realtime/system"), api("/api/realtime/health")]);
      state.system = view; state.health = board;
      renderSystem(view); renderHealth(board);
      if (view.violations !== state.violations.pagination.total) {
        state.violations = await api("/api/realtime/violations?limit=100");
        renderViolations(state.violations);
      }
      if (state.user) await showUser(state.user, false);
    } catch (e) {
      $("live").title = "refresh failed: " + e.message;
    } finally {
      state.refreshing = false;
      if (state.pending) { state.pending = false; setTimeout(refresh, 200); }
    }
  }

  function connect() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/realtime/stream");
    const live = $("live");
    source.addEventListener("open", () => { live.className = "live on"; live.title = "live: following the index"; });
    source.addEventListener("error", () => { live.className = "live"; live.title = "reconnecting…"; });
    source.addEventListener("ready", () => { live.className = "live on"; });
    source.addEventListener("reset", () => refresh());
    source.addEventListener("batch", (message) => {
      const event = JSON.parse(message.data);
      live.className = "live on flash";
      setTimeout(() => { live.className = "live on"; }, 300);
      activity(event);
      refresh();
    });
  }

  // ------------------------------------------------------------------ the user view
  function kpi(parent, title, value, extra) {
    const card = document.createElement("div");
    card.className = "card kpi";
    const t = document.createElement("div"); t.className = "card-title"; t.textContent = title; card.appendChild(t);
    const v = document.createElement("div"); v.className = "value"; v.textContent = value; card.appendChild(v);
    if (extra) card.appendChild(extra);
    parent.appendChild(card);
    return v;
  }

  async function showUser(address, fresh) {
    const q = encodeURIComponent(address);
    const [bal, sync, addrs, txs, yld, disp, burns] = await Promise.all([
      api("/api/realtime/balances?address=" + q), api("/api/realtime/sync-status?address=" + q),
      api("/api/realtime/bitcoin-addresses?address=" + q), api("/api/realtime/transactions?address=" + q + "&limit=50"),
      api("/api/realtime/yield-status?address=" + q), api("/api/realtime/disputes?address=" + q),
      api("/api/realtime/emergency-burns?address=" + q)]);
    state.user = address;
    $("user").hidden = false;
    const kpis = $("user-kpis");
    kpis.textContent = "";
    kpi(kpis, "User", address).id = "user-address";
    const bar = document.createElement("div");
    bar.className = "bar";
    const fillBar = document.createElement("span");
    const confirmed = bal.btc_confirmed_sats || 0;
    fillBar.style.width = (confirmed ? Math.min(100, 100 * bal.rbtc_balance / confirmed) : 0) + "%";
    bar.appendChild(fillBar);
    kpi(kpis, "rBTC-SYNTH balance", btc(bal.rbtc_balance)).id = "user-rbtc";
    kpi(kpis, "Confirmed BTC (oracle's last view)", btc(bal.btc_confirmed_sats), bar).id = "user-btc";
    kpi(kpis, "Sync", sync.status + (sync.synced ? " · in sync" : " · pending " + int(sync.pending_delta_sats) + " sats"));
    kpi(kpis, "Prepaid fees", eth(bal.vault_balance_wei)).id = "user-vault";
    kpi(kpis, "Top-up state", bal.emergency_burned ? "emergency-burned: top up to be minted back"
      : (bal.needs_topup ? "needs a top-up" : "no top-up pending")).id = "user-topup";
    kpi(kpis, "Emergency burns", int(burns.user_summary.burn_count) + " (" + btc(burns.user_summary.total_burned_sats) + ")");
    fill($("user-addresses").tBodies[0], addrs.bitcoin_addresses, (tr, a) => {
      codeCell(tr, a.address); cell(tr, a.type); cell(tr, a.verification_method); cell(tr, time(a.bound_at));
      cell(tr, btc(a.received_sats), "num");
    });
    fill($("user-history").tBodies[0], txs.transactions, (tr, t) => {
      cell(tr, time(t.time)); cell(tr, t.type);
      cell(tr, t.amount === null ? "—" : (t.unit === "wei" ? eth(t.amount) : btc(Number(t.amount))), "num");
      cell(tr, t.delta === null ? "—" : int(t.delta), "num"); cell(tr, t.fee_wei === null ? "—" : eth(t.fee_wei), "num");
      cell(tr, t.status + (t.error ? " (" + t.error + ")" : ""));
    });
    const y = $("user-yield");
    if (yld.participant) {
      const tier = yld.loyalty_tier;
      y.textContent = yld.participant.type.replace("_", " ") + " · contributes " +
        (yld.participant.type === "trader" ? int(yld.participant.virtual_usdt) + " virtual USDT units"
                                           : btc(yld.participant.rbtc_contributed_sats)) +
        " · claimed " + int(yld.participant.yield_claimed) + " · tier " + tier.name + " (×" +
        (tier.multiplier_percent / 100).toFixed(2) + ", checkpointed " + time(tier.checkpointed_at) + ")" +
        (tier.tier_at_next_checkpoint !== tier.name ? " · " + tier.tier_at_next_checkpoint + " at the next checkpoint" : "") +
        " · pool rate " + (yld.current_rate_bps / 100).toFixed(2) + " %";
    } else {
      y.textContent = "not a participant · " + yld.eligibility.reason;
    }
    $("user-disputes").textContent = disp.disputes.length === 0 ? "none" : disp.disputes.map((d) =>
      d.status + " (reported " + int(d.reported_sats) + ", filed " + time(d.filed_at) + ")").join("; ");
    if (fresh) {
      $("proof-document").value = "";
      $("proof-result").textContent = "";
      $("proof-published").textContent = "";
      $("verify-proof").disabled = true;
      state.published = null;
    }
  }

  const EVM = /^0[xX][0-9a-fA-F]{40}$/;
  const BECH32 = /^(bc|tb|bcrt)1[02-9ac-hj-np-z]{6,87}$/;

  async function search(event) {
    event.preventDefault();
    const q = $("query").value.trim();
    $("search-error").textContent = "";
    // the same check the API makes (it would answer 400), made here so a typo costs no request
    if (!EVM.test(q) && !(BECH32.test(q.toLowerCase()) && (q === q.toLowerCase() || q === q.toUpperCase()))) {
      $("search-error").textContent = JSON.stringify(q.slice(0, 80)) + " is neither an EVM address (0x and 40 hex " +
        "digits) nor a bech32 Bitcoin address (bc1…, tb1…, bcrt1…)";
      return;
    }
    try {
      const found = await api("/api/realtime/lookup?q=" + encodeURIComponent(q));
      if (!found.user) { $("search-error").textContent = q + ": not bound to any user"; return; }
      await showUser(found.user, true);
    } catch (e) {
      $("search-error").textContent = e.message;
    }
  }

  // ------------------------------------------------------------------ proof of reserves, in the page
  async function fetchProof() {
    const result = $("proof-result");
    result.textContent = "";
    try {
      const data = await api("/api/realtime/reserves-proof?address=" + encodeURIComponent(state.user));
      state.published = data.published;
      $("proof-document").value = JSON.stringify(data.document, null, 2);
      $("proof-published").textContent = data.published
        ? "published root of round " + data.published.round + ": " + data.published.merkle_root
        : "this round is not in the index yet";
      $("verify-proof").disabled = !data.published;
    } catch (e) {
      result.textContent = e.message;
      result.className = "proof-result invalid";
    }
  }

  function verifyProof() {
    const result = $("proof-result");
    result.textContent = "";
    let doc;
    try { doc = JSON.parse($("proof-document").value); } catch (e) {
      result.innerHTML = ""; const s = document.createElement("span"); s.className = "invalid";
      s.textContent = "INVALID: the document is not JSON (" + e.message + ")"; result.appendChild(s); return;
    }
    const published = state.published;
    const lines = [];
    let valid = false;
    if (!published || doc.round !== published.round) {
      lines.push({valid: false, reason: "the document is for round " + doc.round + ", the published root is of round " +
        (published ? published.round : "—")});
    } else {
      const results = RbtcKeccak.verifyDocument(doc, published.merkle_root);
      valid = results.every((r) => r.valid);
      for (const r of results) lines.push(r);
    }
    const head = document.createElement("div");
    head.id = "proof-verdict";
    head.className = valid ? "valid" : "invalid";
    head.textContent = valid ? "VALID: every leaf is included in the published root" : "INVALID";
    result.appendChild(head);
    const list = document.createElement("ul");
    for (const r of lines) {
      const li = document.createElement("li");
      li.textContent = (r.valid ? "valid" : "invalid") + (r.leafHash ? " · leaf " + r.leafHash : "") + " · " + r.reason;
      list.appendChild(li);
    }
    result.appendChild(list);
  }

  // ------------------------------------------------------------------ start
  renderSystem(state.system);
  renderHealth(state.health);
  renderViolations(state.violations);
  $("search").addEventListener("submit", search);
  $("fetch-proof").addEventListener("click", fetchProof);
  $("verify-proof").addEventListener("click", verifyProof);
  connect();
  document.body.dataset.ready = "1";
})();

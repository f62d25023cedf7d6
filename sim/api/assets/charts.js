/* Small SVG line charts for the dashboard: time on x, one or two y axes, shaded spans for incidents.
 * window.RbtcCharts.draw(svg, spec) where spec = {t: [unix s], series: [{key, label, values, color,
 * axis: "left"|"right", format}], spans: [{start, end, kind, title}], leftFormat, rightFormat,
 * rightFixed: [lo, hi] (optional; values outside are drawn at the edge), rightRule: a value to mark with a
 * dashed line on the right axis (optional)}. Each series' path carries data-key, data-points and data-last (its
 * newest value as given), so a test or a reader can check what is drawn against the API. */
(function (root) {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 220, PAD = {left: 64, right: 58, top: 12, bottom: 26};
  const SPAN_COLORS = {reorg: "#c2410c", oracle_outage: "#b91c1c", fee_drought: "#a16207",
                       backing_window: "#7c3aed"};

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function range(values, fixed) {
    if (fixed) return fixed;
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v === null || v === undefined || !isFinite(v)) continue; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { const pad = Math.abs(lo) * 0.05 || 1; return [lo - pad, hi + pad]; }
    const pad = (hi - lo) * 0.06;
    return [lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
  }

  function timeLabel(t0, t) {
    const s = t - t0;
    if (s >= 2 * 86400) return (s / 86400).toFixed(1) + " d";
    if (s >= 2 * 3600) return (s / 3600).toFixed(1) + " h";
    return Math.round(s / 60) + " min";
  }

  function draw(svg, spec) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("preserveAspectRatio", "none");
    const t = spec.t || [];
    const x0 = PAD.left, x1 = W - PAD.right, y0 = H - PAD.bottom, y1 = PAD.top;
    if (t.length === 0) {
      el("text", {x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty"}, svg).textContent = "no data yet";
      svg.dataset.points = "0";
      return;
    }
    const tMin = t[0], tMax = t[t.length - 1] === t[0] ? t[0] + 1 : t[t.length - 1];
    const sx = (v) => x0 + (x1 - x0) * (v - tMin) / (tMax - tMin);
    const axes = {};
    for (const side of ["left", "right"]) {
      const values = [].concat(...spec.series.filter((s) => (s.axis || "left") === side).map((s) => s.values));
      axes[side] = range(values, side === "right" ? spec.rightFixed : spec.leftFixed);
    }
    const sy = (side, v) => {
      const [lo, hi] = axes[side];
      const clipped = Math.min(hi, Math.max(lo, v));
      return y0 - (y0 - y1) * (clipped - lo) / (hi - lo);
    };
    // incident spans under everything else
    for (const span of spec.spans || []) {
      const a = Math.max(x0, sx(Math.max(span.start, tMin)));
      const b = Math.min(x1, sx(Math.min(span.end === null ? tMax : span.end, tMax)));
      if (b < x0 || a > x1) continue;
      const rect = el("rect", {x: a, y: y1, width: Math.max(1.5, b - a), height: y0 - y1, class: "span",
                               fill: SPAN_COLORS[span.kind] || "#888", "data-kind": span.kind}, svg);
      el("title", {}, rect).textContent = span.title || span.kind;
    }
    // grid and axis labels
    for (let i = 0; i <= 4; i++) {
      const y = y0 - (y0 - y1) * i / 4;
      el("line", {x1: x0, x2: x1, y1: y, y2: y, class: "grid"}, svg);
      for (const side of ["left", "right"]) {
        if (!spec.series.some((s) => (s.axis || "left") === side)) continue;
        const [lo, hi] = axes[side];
        const format = (side === "left" ? spec.leftFormat : spec.rightFormat) || String;
        el("text", {x: side === "left" ? x0 - 6 : x1 + 6, y: y + 4, class: "tick",
                    "text-anchor": side === "left" ? "end" : "start"}, svg).textContent = format(lo + (hi - lo) * i / 4);
      }
    }
    for (let i = 0; i <= 4; i++) {
      const v = tMin + (tMax - tMin) * i / 4;
      el("text", {x: sx(v), y: H - 8, class: "tick", "text-anchor": i === 0 ? "start" : (i === 4 ? "end" : "middle")},
         svg).textContent = timeLabel(tMin, v);
    }
    if (spec.rightRule !== undefined) {
      const y = sy("right", spec.rightRule);
      el("line", {x1: x0, x2: x1, y1: y, y2: y, class: "rule"}, svg);
    }
    // the lines (a step line: a value holds until the next point)
    for (const s of spec.series) {
      const side = s.axis || "left";
      let d = "", last = null, prevY = null, drawn = 0;
      for (let i = 0; i < t.length; i++) {
        const v = s.values[i];
        if (v === null || v === undefined || !isFinite(v)) { prevY = null; continue; }
        const x = sx(t[i]), y = sy(side, v);
        d += prevY === null ? "M" + x.toFixed(1) + "," + y.toFixed(1)
                            : "H" + x.toFixed(1) + "V" + y.toFixed(1);
        prevY = y; last = v; drawn++;
      }
      const path = el("path", {d: d || "M0,0", class: "line", stroke: s.color, fill: "none",
                               "data-key": s.key, "data-points": drawn}, svg);
      path.dataset.last = last === null ? "" : String(s.raw ? s.raw[s.raw.length - 1] : last);
      el("title", {}, path).textContent = s.label;
    }
    svg.dataset.points = String(t.length);
  }

  root.RbtcCharts = {draw};
})(window);

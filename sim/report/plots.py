"""Section 5: the plots. Each function returns a :class:`Figure` block, or an :class:`Absent` line
saying why there is nothing to draw (no disputes, no yield participants, …).

X axes are simulated days (``t / 86400``). Series come from ``metrics.csv`` (sampled levels) and
from the event scan (exact counts binned in time); see :mod:`sim.report.style` for the looks.
"""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.report import fmt
from sim.report.document import Absent, Figure
from sim.report.run import Run
from sim.report.style import (COLORS, Plain, day_axis, log_counts, needs_log, new_figure, note, png_bytes, theme,
                               y_compact, y_plain)

SATS = 10**8
WEI = 10**18
DAY = 86_400


def _end_day(run: Run) -> float:
    return run.plot_end_t / DAY


def _sampling(run: Run) -> str:
    t = [x for x in run.metrics.column("t") if x is not None]
    steps = [b - a for a, b in zip(t, t[1:]) if b > a]
    every = max(set(steps), key=steps.count) if steps else None
    return f"Levels sampled every {fmt.duration(every)} (metrics.csv)" if every else "Levels from metrics.csv"


def _mark_backing_events(run: Run, axes, end_day: float) -> list:
    """Shade backing windows and draw reorg lines on every axes; the legend handles used."""
    ev = run.events
    handles = []
    min_width = end_day / 400
    if ev.window_spans:
        for ax in axes:
            for start, end in ev.window_spans:
                a, b = start / DAY, end / DAY
                if b - a < min_width:
                    a, b = a - min_width / 2, b + min_width / 2
                ax.axvspan(a, b, color=COLORS["window"], alpha=0.35, lw=0, zorder=0)
        handles.append(Patch(color=COLORS["window"], alpha=0.5, label="backing window (rBTC > BTC)"))
    if ev.reorgs.kept:
        for ax in axes:
            for r in ev.reorgs.kept:
                ax.axvline(r["t"] / DAY, color=COLORS["bad"], lw=1.1, ls=(0, (4, 3)), zorder=1)
        handles.append(Line2D([], [], color=COLORS["bad"], lw=1.1, ls=(0, (4, 3)), label="Bitcoin reorg"))
    return handles


def backing(run: Run):
    m = run.metrics
    days_s, supply = m.series("rbtc_supply")
    days_r, reserves = m.series("btc_reserves")
    ev = run.events
    title = "Supply, reserves and backing"
    if not supply and not reserves:
        return Absent(title, "No supply or reserve samples in metrics.csv, so no backing plot.")
    if not any(supply) and not any(reserves) and not ev.reorgs.count and not ev.windows:
        return Absent(title, "No rBTC-SYNTH was minted and no BTC was confirmed at bound addresses; "
                             "no Bitcoin reorgs and no backing windows.")
    end = _end_day(run)
    with theme():
        fig = new_figure(6.6)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        top.plot(days_r, [v / SATS for v in reserves], color=COLORS["btc"], lw=2.4, label="confirmed BTC reserves",
                 drawstyle="steps-post")
        top.plot(days_s, [v / SATS for v in supply], color=COLORS["rbtc"], lw=1.6, label="rBTC-SYNTH supply",
                 drawstyle="steps-post")
        top.set_title("rBTC-SYNTH supply against confirmed BTC reserves")
        y_plain(top, "BTC")
        top.set_ylim(bottom=0)
        days_q, ratio = m.series("backing_ratio")
        days_low, lowest = m.series("backing_ratio_min")
        if ratio:
            bottom.plot(days_q, ratio, color=COLORS["ratio"], lw=1.6, drawstyle="steps-post", label="backing ratio")
            dips = [(d, v) for d, v in zip(days_low, lowest) if v < 1.0]
            if dips:  # dips shorter than a sampling interval, caught by the monitor's every-instant check
                bottom.plot([d for d, _ in dips], [v for _, v in dips], ls="none", marker="v", ms=6,
                            color=COLORS["bad"], label="lowest ratio between samples", zorder=3)
                ratio = ratio + [v for _, v in dips]
            lo, hi = min(min(ratio), 1.0), max(max(ratio), 1.0)
            pad = max((hi - lo) * 0.12, 0.0005)
            bottom.set_ylim(lo - pad, hi + pad)
        else:
            note(bottom, "no backing ratio yet (no rBTC-SYNTH supply)")
        bottom.axhline(1.0, color=COLORS["muted"], lw=0.9, ls=":")
        bottom.set_title("Backing ratio (confirmed BTC ÷ rBTC-SYNTH; below 1 = under-backed)")
        y_plain(bottom, "ratio")
        marks = _mark_backing_events(run, (top, bottom), end)
        fig.legend(handles=top.get_legend_handles_labels()[0] + bottom.get_legend_handles_labels()[0][1:] + marks,
                   loc="outside upper center", ncols=3, frameon=False)
        day_axis(bottom, end)
        fig.align_ylabels()
        png = png_bytes(fig)
    parts = []
    parts.append(fmt.plural(ev.reorgs.count, "reorg") + " marked" if ev.reorgs.count else "no Bitcoin reorgs")
    parts.append(fmt.plural(ev.windows, "backing window") + " shaded" if ev.windows else "no backing windows")
    caption = f"{_sampling(run)}; " + " and ".join(parts) + "."
    if not ev.present:
        caption = f"{_sampling(run)} (no event log: reorgs and windows are not marked)."
    return Figure("backing.png", title, caption, png)


def fees(run: Run):
    m = run.metrics
    days_v, vault = m.series("vault_total_wei")
    days_f, collected = m.series("fees_collected_wei")
    if not vault and not collected:
        return Absent("Fees", "No fee samples in metrics.csv, so no fee plot.")
    if not any(vault) and not any(collected):
        return Absent("Fees", "No fees were prepaid or collected.")
    end = _end_day(run)
    with theme():
        fig = new_figure(5.4)
        top, bottom = fig.subplots(2, 1, sharex=True)
        top.plot(days_v, [v / WEI for v in vault], color=COLORS["vault"], drawstyle="steps-post")
        top.fill_between(days_v, [v / WEI for v in vault], step="post", color=COLORS["vault"], alpha=0.12, lw=0)
        top.set_title("Fee vault: prepaid balance held for all users")
        y_plain(top, "ETH")
        top.set_ylim(bottom=0)
        bottom.plot(days_f, [v / WEI for v in collected], color=COLORS["fees"], drawstyle="steps-post")
        bottom.set_title("Fees collected (cumulative, paid to the fee collector)")
        y_plain(bottom, "ETH")
        bottom.set_ylim(bottom=0)
        day_axis(bottom, end)
        fig.align_ylabels()
        png = png_bytes(fig)
    caption = (f"At the end: {fmt.eth(vault[-1]) if vault else fmt.DASH} prepaid in the vault, "
               f"{fmt.eth(collected[-1]) if collected else fmt.DASH} collected in fees.")
    return Figure("fees.png", "Fees", caption, png)


def emergency(run: Run):
    ev, m = run.events, run.metrics
    days_n, waiting = m.series("needs_topup")
    burns = ev.burn_count.total if ev.present else (m.last("emergency_burns") or 0)
    if not burns and not any(waiting) and not ev.ops["needs_topup"]:
        return Absent("Emergency burns and top-ups", "No emergency burns and no user ever needed a fee top-up.")
    end = _end_day(run)
    with theme():
        fig = new_figure(5.6 if burns else 3.4)
        axes = fig.subplots(2, 1, sharex=True) if burns else [fig.subplots(1, 1)]
        top = axes[0]
        if ev.present:
            xs, ys = ev.burn_count.cumulative(run.end_t)
        else:
            xs, ys = m.series("emergency_burns")
        if burns:
            top.plot(xs, ys, color=COLORS["bad"], label="emergency burns (cumulative)")
        if waiting:
            top.plot(days_n, waiting, color=COLORS["neutral"], drawstyle="steps-post",
                     label="users waiting for a fee top-up (now)")
        top.set_title("Emergency burns and users needing a top-up" if burns else "Users needing a fee top-up")
        y_plain(top, "users", integer=True)
        top.set_ylim(bottom=0)
        top.legend(loc="upper left")
        if burns:
            bottom = axes[1]
            if ev.present:
                xb, yb = ev.burned_sats.cumulative(run.end_t)
                bottom.plot(xb, [v / SATS for v in yb], color=COLORS["btc"])
                bottom.fill_between(xb, [v / SATS for v in yb], color=COLORS["btc"], alpha=0.15, lw=0)
            else:
                note(bottom, "no event log: burned amounts unknown")
            bottom.set_title("rBTC-SYNTH burned by emergency burns (cumulative)")
            y_plain(bottom, "BTC")
            bottom.set_ylim(bottom=0)
        day_axis(axes[-1], end)
        fig.align_ylabels()
        png = png_bytes(fig)
    burned = f" ({fmt.sats(ev.burned_sats.total)} burned)" if burns and ev.present else ""
    caption = f"{fmt.plural(burns, 'emergency burn') if burns else 'No emergency burns'}{burned}"
    if ev.present:
        caption += f"; the oracle marked a user as needing a top-up {fmt.plural(ev.ops['needs_topup'], 'time')}"
    caption += "."
    return Figure("emergency.png", "Emergency burns and top-ups", caption, png)


def _duration_unit(max_s: float) -> tuple[float, str]:
    if max_s >= 3 * 3_600:
        return 3_600.0, "hours"
    if max_s >= 180:
        return 60.0, "minutes"
    return 1.0, "seconds"


def disputes(run: Run):
    ev = run.events
    filed = ev.disputes_filed.total
    if not ev.present:
        return Absent("Disputes", "No event log, so no dispute plot.")
    if not filed and not ev.disputes_resolved:
        return Absent("Disputes", "No disputes were filed.")
    end = _end_day(run)
    with theme():
        fig = new_figure(3.9)
        left, right = fig.subplots(1, 2, width_ratios=[3, 2])
        for series, color, label in ((ev.disputes_filed, COLORS["rbtc"], "filed"),
                                     (ev.disputes_accepted, COLORS["ratio"], "accepted"),
                                     (ev.disputes_rejected, COLORS["bad"], "rejected")):
            xs, ys = series.cumulative(run.end_t)
            left.plot(xs, ys, color=color, label=f"{label} ({series.total:,})")
        left.set_title("Disputes over time (cumulative)")
        y_plain(left, "disputes", integer=True)
        left.set_ylim(bottom=0)
        left.legend(loc="upper left")
        day_axis(left, end, ticks=8)
        values, counts = ev.resolution.items()
        if values:
            unit, name = _duration_unit(max(values))
            lo, hi = min(values) / unit, max(values) / unit
            if lo == hi:  # every dispute took the same time: one bar, centred
                width = max(lo / 10, 1.0)
                right.bar([lo], [sum(counts)], width=width, color=COLORS["rbtc"])
                right.set_xlim(lo - 5 * width, lo + 5 * width)
                note(right, f"all {sum(counts):,} in {fmt.duration(values[0])}")
            else:
                width = (hi - lo) / 20
                edges = [lo + i * width for i in range(21)]
                right.hist([v / unit for v in values], bins=edges, weights=counts, color=COLORS["rbtc"],
                           edgecolor="white", lw=0.6)
            right.set_xlabel(f"time from filing to resolution ({name})")
            right.xaxis.set_major_formatter(Plain())
        else:
            note(right, "no dispute resolved yet")
        right.set_title("Resolution time")
        y_plain(right, "disputes", integer=True)
        png = png_bytes(fig)
    caption = (f"{filed:,} filed, {ev.disputes_accepted.total:,} accepted, {ev.disputes_rejected.total:,} rejected; "
               f"longest resolution {fmt.duration(ev.resolution.max)}.")
    open_now = filed - ev.disputes_resolved
    if open_now > 0:
        caption += f" {fmt.plural(open_now, 'dispute')} still open at the end."
    return Figure("disputes.png", "Disputes", caption, png)


def _accrued(m) -> tuple[list[float], list[int]]:
    """Yield accrued so far: claimed plus owed, where a row has both."""
    pairs = [(t / DAY, c + o) for t, c, o in zip(m.column("t"), m.column("yield_claimed_total"),
                                                  m.column("yield_owed_total"))
             if t is not None and c is not None and o is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def yield_pool(run: Run):
    m = run.metrics
    days_p, participants = m.series("pool_participants")
    days_r, rate = m.series("yield_rate_bps")
    days_o, owed = m.series("yield_owed_total")
    days_c, claimed = m.series("yield_claimed_total")
    tiers = run.summary.get("yield", "tiers", default={})
    tiers = {k: int(v) for k, v in tiers.items() if isinstance(v, int)}
    someone = any(participants) or any(owed) or any(claimed) or sum(tiers.values()) or run.summary.get(
        "yield", "participants", default=0)
    if not someone:
        return Absent("Yield", "No yield participants: the YieldScalesPool was not used in this run.")
    end = _end_day(run)
    with theme():
        fig = new_figure(6.4)
        grid = fig.add_gridspec(2, 2)
        ax_rate = fig.add_subplot(grid[0, 0])
        ax_owed = fig.add_subplot(grid[1, 0], sharex=ax_rate)
        ax_people = fig.add_subplot(grid[0, 1], sharex=ax_rate)
        ax_tiers = fig.add_subplot(grid[1, 1])
        if rate:
            ax_rate.plot(days_r, rate, color=COLORS["ratio"], drawstyle="steps-post")
        else:
            note(ax_rate, "no rate samples")
        ax_rate.set_title("Yield rate")
        y_plain(ax_rate, "bps")
        ax_rate.set_ylim(bottom=0)
        day_axis(ax_rate, end, label=False, ticks=7)
        accrued_days, accrued = _accrued(m)
        if accrued:
            ax_owed.plot(accrued_days, accrued, color=COLORS["rbtc"], label="accrued (claimed + owed)")
        if claimed:
            ax_owed.plot(days_c, claimed, color=COLORS["btc"], label="claimed")
        if owed:
            ax_owed.plot(days_o, owed, color=COLORS["rbtc"], lw=1.1, ls=(0, (4, 2)), alpha=0.8,
                         label="owed, not yet claimed")
        ax_owed.set_title("Accrued vs claimed yield (cumulative)")
        y_compact(ax_owed, "yield units", max([*accrued, *claimed, *owed, 0]))
        ax_owed.set_ylim(bottom=0)
        ax_owed.legend(loc="upper left")
        day_axis(ax_owed, end, ticks=7)
        if participants:
            ax_people.plot(days_p, participants, color=COLORS["fees"], drawstyle="steps-post")
        ax_people.set_title("Pool participants")
        y_plain(ax_people, "participants", integer=True)
        ax_people.set_ylim(bottom=0)
        day_axis(ax_people, end, label=False, ticks=7)
        if tiers:
            names = list(tiers)
            bars = ax_tiers.bar(names, [tiers[n] for n in names], width=0.6,
                                color=[COLORS.get(n, COLORS["neutral"]) for n in names])
            ax_tiers.bar_label(bars, labels=[f"{tiers[n]:,}" for n in names], padding=2, fontsize=9.5)
            ax_tiers.set_title("Participants by loyalty tier (end)")
            y_plain(ax_tiers, "participants", integer=True)
            ax_tiers.margins(y=0.15)
            ax_tiers.grid(axis="x", visible=False)
        else:
            ax_tiers.set_axis_off()
            ax_tiers.text(0.5, 0.5, "no loyalty-tier breakdown recorded", ha="center", va="center",
                          color=COLORS["muted"], transform=ax_tiers.transAxes)
        png = png_bytes(fig)

    def last(series, show):
        return show(series[-1]) if series else fmt.DASH

    caption = (f"At the end: rate {last(rate, fmt.bps)}, {last(participants, fmt.integer)} participants, "
               f"{last(claimed, fmt.integer)} claimed, {last(owed, fmt.integer)} owed and not yet claimed "
               "(yield in base units: rBTC sats for holders, virtual USDT for traders).")
    return Figure("yield.png", "Yield", caption, png)


#: Sync-delay buckets: (lower bound in seconds, label); each runs to the next bound.
DELAY_BUCKETS = (
    (0, "0\ns"), (1, "1–9\ns"), (10, "10–29\ns"), (30, "30–59\ns"), (60, "1–2\nmin"), (120, "2–5\nmin"),
    (300, "5–10\nmin"), (600, "10–30\nmin"), (1_800, "30–60\nmin"), (3_600, "1–2\nh"), (7_200, "2–6\nh"),
    (21_600, "6–12\nh"), (43_200, "12–24\nh"), (86_400, "≥ 1\nday"),
)


def _bucket_position(value: float) -> float:
    """Where a delay falls on the bucket axis: bucket index plus the fraction through it."""
    bounds = [b for b, _ in DELAY_BUCKETS]
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else None
        if high is None or value < high:
            if i == 0:
                return 0.0
            span = (high - low) if high is not None else low
            return i - 0.4 + 0.8 * min(1.0, (value - low) / span)
    return float(len(bounds) - 1)


def sync_delay(run: Run):
    ev = run.events
    dist = ev.sync_delay
    if not ev.present:
        return Absent("Oracle sync delay", "No event log, so no sync-delay distribution.")
    if not dist.n:
        return Absent("Oracle sync delay", "No oracle syncs, so no sync-delay distribution.")
    bounds = [b for b, _ in DELAY_BUCKETS]
    counts = [0] * len(DELAY_BUCKETS)
    for value, count in dist.counts.items():
        index = max(i for i, b in enumerate(bounds) if value >= b)
        counts[index] += count
    last = max(i for i, c in enumerate(counts) if c)
    shown = max(last + 1, 4)
    labels = [label for _, label in DELAY_BUCKETS[:shown]]
    counts = counts[:shown]
    p50, p95, top = dist.percentile(0.5), dist.percentile(0.95), dist.max
    with theme():
        fig = new_figure(4.2)
        ax = fig.subplots(1, 1)
        bars = ax.bar(range(shown), counts, width=0.8, color=COLORS["rbtc"], zorder=2)
        ax.bar_label(bars, labels=[f"{c:,}" if c else "" for c in counts], padding=2, fontsize=9, zorder=3,
                     bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6})
        ax.set_xticks(range(shown), labels)
        ax.grid(axis="x", visible=False)
        if needs_log(counts):
            log_counts(ax, "syncs (log scale)")
            ax.set_ylim(0.7, max(counts) * 4)
        else:
            y_plain(ax, "syncs", integer=True)
            ax.margins(y=0.15)
        marks = [(p50, COLORS["ratio"], "p50"), (p95, COLORS["bad"], "p95")] if p50 != p95 else \
            [(p50, COLORS["bad"], "p50 = p95")]
        for value, color, name in marks:
            ax.axvline(_bucket_position(value), color=color, lw=1.6, ls=(0, (5, 3)), zorder=1,
                       label=f"{name} = {fmt.duration(value)}")
        ax.set_xlabel("delay from the Bitcoin change to the oracle's sync")
        ax.set_title("Oracle sync delay")
        ax.legend(loc="upper right")
        png = png_bytes(fig)
    caption = (f"{dist.n:,} syncs: p50 {fmt.duration(p50)}, p95 {fmt.duration(p95)}, max {fmt.duration(top)}. "
               "A delay of 0 s means the oracle synced in the same instant the balance changed.")
    return Figure("sync_delay.png", "Oracle sync delay", caption, png)


ALL = (backing, fees, emergency, disputes, yield_pool, sync_delay)
#: Every file name a plot can have, so a rebuild removes plots that no longer apply.
NAMES = ("backing.png", "fees.png", "emergency.png", "disputes.png", "yield.png", "sync_delay.png")

"""One streaming pass over ``events.jsonl`` that keeps only what the report needs.

The event log of a 10,000-user week is 100+ MB, so it is never loaded: lines are read one at a
time, and a line is parsed only when it can be one of the kinds the report uses (a cheap byte
search for ``"kind":"<wanted>"`` first; the record's own ``kind`` then decides). Everything kept
is bounded whatever the log's length: counts, fixed-width time bins, value histograms
(:class:`Distribution`, one counter per distinct value) and capped lists of notable records.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from attrs import define, field

from sim.quantiles import nearest_rank

WANTED = (
    "world_start", "world_end", "btc_reorg", "oracle_op", "oracle_outage", "fee_drought",
    "backing_window_open", "backing_window_close", "invariant_violation",
    "dispute_filed", "dispute_validated", "dispute_resolved", "por_published",
)
_WANTED_RE = re.compile(rb'"kind":"(?:' + b"|".join(k.encode() for k in WANTED) + rb')"|"status":"revert"')
#: How many records of one notable kind are kept for the timeline and the plots (all are counted).
KEEP = 1_000


class Binned:
    """Amounts summed into fixed-width bins of simulated time."""

    def __init__(self, width: int):
        self.width = max(1, int(width))
        self.bins: dict[int, int] = {}
        self.total = 0

    def add(self, t: int, amount: int = 1) -> None:
        index = int(t) // self.width
        self.bins[index] = self.bins.get(index, 0) + amount
        self.total += amount

    def cumulative(self, end_t: int) -> tuple[list[float], list[int]]:
        """The running total at every bin end up to ``end_t`` (x in simulated days, from 0)."""
        end_t = int(end_t)
        last = max(end_t // self.width, max(self.bins, default=0))
        end = max(end_t, last * self.width)
        xs, ys, running = [0.0], [0], 0
        for index in range(last + 1):
            running += self.bins.get(index, 0)
            xs.append(min((index + 1) * self.width, end) / 86_400)
            ys.append(running)
        return xs, ys


class Distribution:
    """A multiset of integer values kept as value → count (exact percentiles, bounded memory)."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.n = 0

    def add(self, value) -> None:
        self.counts[value] += 1
        self.n += 1

    def percentile(self, q: float):
        """The value at quantile ``q`` in [0, 1]: ``sorted[round(q * (n - 1))]``, the definition the run's
        summary uses (:mod:`sim.quantiles`). None when empty."""
        return nearest_rank(self.counts, q)

    @property
    def max(self):
        return max(self.counts) if self.counts else None

    def items(self) -> tuple[list, list]:
        """(values, counts) sorted by value."""
        keys = sorted(self.counts)
        return keys, [self.counts[k] for k in keys]


@define
class Notable:
    """Records of one notable kind: the first :data:`KEEP` of them, and how many there were."""

    kept: list[dict] = field(factory=list)
    count: int = 0

    def add(self, record: dict) -> None:
        self.count += 1
        if len(self.kept) < KEEP:
            self.kept.append(record)


class EventScan:
    """What the report reads from the event log; call :meth:`read` once, then use the attributes."""

    def __init__(self, bin_width_s: int, known_violations: set | frozenset = frozenset()):
        width = bin_width_s
        self.bin_width_s = width
        self.known_violations = known_violations
        self.present = False
        self.lines = 0
        self.unreadable = 0
        self.last_t: int | None = None
        self.world_start: dict | None = None
        self.world_end: dict | None = None
        self.ops: Counter = Counter()
        self.sync_delay = Distribution()
        self.burn_count = Binned(width)
        self.burned_sats = Binned(width)
        self.first_burn: dict | None = None
        self.last_burn: dict | None = None
        self.needs_topup = Binned(width)
        self.reorgs = Notable()
        self.outages = Notable()
        self.droughts = Notable()
        # backing windows
        self.window_opens: Counter = Counter()  # by cause
        self.window_closes = 0
        self.open_windows: dict[str, tuple[int, str]] = {}  # user -> (opened at, cause)
        self.longest_window: dict | None = None  # user, cause, start, duration_s, open
        self.max_excess = 0
        self.window_spans: list[list[int]] = []  # union of open windows, merged within one bin
        self._span_start: int | None = None
        # invariant violations
        self.violations = 0  # every invariant_violation record
        self.new_violations = Notable()  # those the summary does not list
        self.violations_by_invariant: Counter = Counter()
        #: (invariant, message) -> {"count", "first"}: every violation counted, the first of each kept
        self.violation_groups: dict[tuple[str, str], dict] = {}
        #: (contract, function, error) -> reverted transactions
        self.reverts: Counter = Counter()
        # disputes
        self.disputes_filed = Binned(width)
        self.disputes_accepted = Binned(width)
        self.disputes_rejected = Binned(width)
        self.disputes_validated = 0
        self.resolution = Distribution()
        # proof of reserves
        self.por_rounds = 0
        self.por_last: dict | None = None

    # ------------------------------------------------------------------ reading

    def read(self, path: Path) -> "EventScan":
        if not path.exists():
            return self
        self.present = True
        last_line = b""
        search = _WANTED_RE.search
        with open(path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                self.lines += 1
                last_line = line
                if search(line) is None:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    self.unreadable += 1
                    continue
                self._take(record)
        if last_line:
            try:
                self.last_t = int(json.loads(last_line)["t"])
            except (ValueError, KeyError, TypeError):
                self.unreadable += 1
        self._finish()
        return self

    def _take(self, r: dict) -> None:
        kind = r.get("kind")
        t = int(r.get("t", 0))
        if kind == "oracle_op":
            op = r.get("op")
            self.ops[op] += 1
            if op == "sync":
                if r.get("delay_s") is not None:
                    self.sync_delay.add(int(r["delay_s"]))
            elif op == "emergency_burn":
                burned = int(r.get("burned") or 0)
                self.burn_count.add(t)
                self.burned_sats.add(t, burned)
                note = {"t": t, "user": r.get("user"), "burned": burned}
                if self.first_burn is None:
                    self.first_burn = note
                self.last_burn = note
            elif op == "needs_topup":
                self.needs_topup.add(t)
        elif kind == "backing_window_open":
            self._window_open(t, r)
        elif kind == "backing_window_close":
            self._window_close(t, r)
        elif kind == "btc_reorg":
            self.reorgs.add({"t": t, "depth": r.get("depth"), "fork_height": r.get("fork_height"),
                             "double_spent": len(r.get("double_spent") or ()), "dropped": len(r.get("dropped") or ()),
                             "affected": r.get("affected")})
        elif kind == "evm_tx":
            if r.get("status") == "revert":
                self.reverts[(str(r.get("to")), str(r.get("fn")), str(r.get("error") or ""))] += 1
        elif kind == "invariant_violation":
            self.violations += 1
            invariant, message = str(r.get("invariant")), str(r.get("message"))
            self.violations_by_invariant[invariant] += 1
            group = self.violation_groups.get((invariant, message))
            if group is None:
                self.violation_groups[(invariant, message)] = {"count": 1, "first": dict(r, t=t)}
            else:
                group["count"] += 1
            key = violation_key(r)
            if key not in self.known_violations:
                self.new_violations.add({k: r.get(k) for k in ("invariant", "step", "actor", "values", "message",
                                                               "reproduce")} | {"t": t})
        elif kind == "dispute_filed":
            self.disputes_filed.add(t)
        elif kind == "dispute_validated":
            self.disputes_validated += 1
        elif kind == "dispute_resolved":
            outcome = r.get("outcome")
            (self.disputes_accepted if outcome == "accepted" else self.disputes_rejected).add(t)
            if r.get("resolved_in_s") is not None:
                self.resolution.add(int(r["resolved_in_s"]))
        elif kind == "oracle_outage":
            self.outages.add({"t": t, "until": r.get("until")})
        elif kind == "fee_drought":
            self.droughts.add({"t": t, "until": r.get("until")})
        elif kind == "por_published":
            self.por_rounds += 1
            self.por_last = {"t": t, "round": r.get("round"), "total_sats": r.get("total_sats"),
                             "height": r.get("height"), "leaves": r.get("leaves")}
        elif kind == "world_start":
            self.world_start = {k: r.get(k) for k in ("seed", "users", "duration_s")}
        elif kind == "world_end":
            self.world_end = {"t": t, "total_supply": r.get("total_supply"), "btc_height": r.get("btc_height")}

    # ------------------------------------------------------------------ backing windows

    def _window_open(self, t: int, r: dict) -> None:
        cause = str(r.get("cause") or "unexplained")
        self.window_opens[cause] += 1
        self.max_excess = max(self.max_excess, int(r.get("excess") or 0))
        if not self.open_windows:
            self._span_start = t
        self.open_windows[str(r.get("user"))] = (t, cause)

    def _window_close(self, t: int, r: dict) -> None:
        self.window_closes += 1
        user = str(r.get("user"))
        opened = self.open_windows.pop(user, None)
        start = opened[0] if opened else t - int(r.get("duration_s") or 0)
        length = int(r["duration_s"]) if r.get("duration_s") is not None else t - start
        self.max_excess = max(self.max_excess, int(r.get("max_excess") or 0))
        self._consider_longest(user, str(r.get("cause") or (opened[1] if opened else "unexplained")), start, length,
                               still_open=False)
        if not self.open_windows and self._span_start is not None:
            self._add_span(self._span_start, t)
            self._span_start = None

    def _consider_longest(self, user: str, cause: str, start: int, length: int, *, still_open: bool) -> None:
        if self.longest_window is None or length > self.longest_window["duration_s"]:
            self.longest_window = {"user": user, "cause": cause, "start": start, "duration_s": length,
                                   "open": still_open}

    def _add_span(self, start: int, end: int) -> None:
        if self.window_spans and start - self.window_spans[-1][1] <= self.bin_width_s:
            self.window_spans[-1][1] = max(self.window_spans[-1][1], end)
        else:
            self.window_spans.append([start, end])

    def _finish(self) -> None:
        end = self.last_t or 0
        for user, (start, cause) in sorted(self.open_windows.items()):
            self._consider_longest(user, cause, start, end - start, still_open=True)
        if self.open_windows and self._span_start is not None:
            self._add_span(self._span_start, end)

    # ------------------------------------------------------------------ derived

    @property
    def windows(self) -> int:
        return sum(self.window_opens.values())

    @property
    def disputes_resolved(self) -> int:
        return self.disputes_accepted.total + self.disputes_rejected.total


def violation_key(v: dict) -> tuple:
    """How a violation in summary.json is matched with its record in the event log."""
    return (str(v.get("invariant")), v.get("step"))

"""What a sweep measures in one finished world, and how runs of one point are summarised across seeds.

Units. The pool is unit-agnostic: a holder's base is its rBTC-SYNTH contribution in sats, a
trader's is virtual USDT with 6 decimals. Yield accrues in the participant's own unit, so holders'
and traders' liabilities cannot be added up: they are reported per kind, holders in sats and traders
in whole USDT. ``liability_ratio`` relates the holders' accrued yield (claimed and unclaimed, in sats)
to the confirmed BTC reserves (sats) at the end of the world; the traders' USDT liability is not in it.

APYs are per participant: exact accrual over the time-weighted base, annualised (the ghost ledger of
:class:`sim.invariants.YieldMonitor`), in percent. Tiers are by time in the pool at the end.

Backing windows and disputes are measured as the run's summary measures them: a window lasts from the
instant a user's rBTC exceeds its confirmed BTC to the instant it no longer does; the dispute backlog
counts disputes filed and not yet resolved.

Users add metrics of their own with :func:`metric` (also ``sim.research.metric``): a function of the
finished world, registered under a name that sweep and search files may then use like a built-in one.
A sweep names the module that registers it (``[sweep] modules``), so every worker process imports it
before its first run.
"""

from __future__ import annotations

import math
import re
from typing import Callable

import attrs
import numpy as np

#: name -> (unit, integer per run?, meaning). The order is the order of the tables' columns.
METRICS: dict[str, tuple[str, bool, str]] = {
    "holder_apy_mean": ("%", False, "holders' APY, mean over holders"),
    "holder_apy_p5": ("%", False, "holders' APY, 5th percentile"),
    "holder_apy_p50": ("%", False, "holders' APY, median"),
    "holder_apy_p95": ("%", False, "holders' APY, 95th percentile"),
    "trader_apy_mean": ("%", False, "traders' APY, mean over traders"),
    "trader_apy_p5": ("%", False, "traders' APY, 5th percentile"),
    "trader_apy_p50": ("%", False, "traders' APY, median"),
    "trader_apy_p95": ("%", False, "traders' APY, 95th percentile"),
    "holder_accrued_sats": ("sats", False, "yield accrued by holders, claimed and unclaimed"),
    "holder_claimed_sats": ("sats", True, "yield claimed by holders"),
    "holder_unclaimed_sats": ("sats", False, "yield accrued by holders and not yet claimed"),
    "trader_accrued_usdt": ("USDT", False, "yield accrued by traders, claimed and unclaimed"),
    "trader_claimed_usdt": ("USDT", False, "yield claimed by traders"),
    "trader_unclaimed_usdt": ("USDT", False, "yield accrued by traders and not yet claimed"),
    "reserves_sats": ("sats", True, "confirmed BTC reserves of the bound addresses at the end"),
    "rbtc_supply_sats": ("sats", True, "rBTC-SYNTH supply at the end"),
    "liability_ratio": ("ratio", False, "holders' accrued yield / confirmed BTC reserves (both sats)"),
    "unclaimed_ratio": ("ratio", False, "holders' unclaimed yield / confirmed BTC reserves (both sats)"),
    "holders": ("count", True, "holders in the pool"),
    "traders": ("count", True, "traders in the pool"),
    "tier_bronze": ("count", True, "participants in the Bronze tier at the end"),
    "tier_silver": ("count", True, "participants in the Silver tier at the end"),
    "tier_gold": ("count", True, "participants in the Gold tier at the end"),
    "claims": ("count", True, "yield claims paid"),
    "rate_bps_mean": ("bps", False, "pool rate, mean over the sampled time series"),
    "rate_bps_final": ("bps", True, "pool rate at the end"),
    "syncs": ("count", True, "oracle syncs"),
    "emergency_burns": ("count", True, "emergency burns"),
    "violations": ("count", True, "invariant violations"),
    "min_backing_ratio": ("ratio", False, "lowest total backing ratio (confirmed BTC / rBTC) at any instant"),
    "backing_windows": ("count", True, "backing windows opened (a user's rBTC above its confirmed BTC), any cause"),
    "max_backing_window_s": ("s", True, "longest backing window (one still open at the end counts to the end)"),
    "max_backing_excess_sats": ("sats", True, "largest excess of a user's rBTC over its confirmed BTC"),
    "disputes_filed": ("count", True, "balance disputes filed"),
    "max_dispute_backlog": ("count", True, "most disputes open at the same time"),
    "max_dispute_resolution_s": ("s", True, "longest time from filing a dispute to its resolution"),
}

USDT_UNIT = 10**6
#: Student t quantiles t(0.975, df) for df = 1..30; beyond, a Cornish-Fisher expansion (error < 1e-6).
_T975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
         2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
         2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)
_Z975 = 1.959963984540054


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (two-sided 95 % intervals)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


def _distribution(prefix: str, apys: np.ndarray) -> dict:
    if apys.size == 0:
        return {f"{prefix}_mean": None, f"{prefix}_p5": None, f"{prefix}_p50": None, f"{prefix}_p95": None}
    p5, p50, p95 = np.percentile(apys, [5, 50, 95]).tolist()
    return {f"{prefix}_mean": float(np.mean(apys)), f"{prefix}_p5": p5, f"{prefix}_p50": p50, f"{prefix}_p95": p95}


def world_metrics(world, extra: tuple[str, ...] = ()) -> dict:
    """Every metric of :data:`METRICS` for a finished :class:`sim.world.World` (invariant checks on), and
    the registered metrics named in ``extra`` (see :func:`metric`)."""
    from sim.protocol.evm_backend import GENESIS_TIMESTAMP

    if world.yield_monitor is None or world.monitor is None:
        raise ValueError("sweep metrics need a world built with check_invariants=True")
    now = GENESIS_TIMESTAMP + int(world.env.now)
    figures = world.yield_monitor.participant_figures(now)
    kinds = np.array([f["kind"] for f in figures], dtype=object)
    accrued = np.array([f["accrued"] for f in figures], dtype=np.float64)
    claimed = np.array([f["claimed"] for f in figures], dtype=np.float64)
    tiers = np.array([f["tier"] for f in figures], dtype=np.int64)
    apy = np.array([np.nan if f["apy"] is None else f["apy"] * 100 for f in figures], dtype=np.float64)
    holder, trader = kinds == "holder", kinds == "trader"
    reserves = int(world.monitor.total_confirmed)
    holder_accrued = float(accrued[holder].sum())
    holder_claimed = int(sum(f["claimed"] for f in figures if f["kind"] == "holder"))
    rates = np.array([row["yield_rate_bps"] for row in world.metrics.rows if row["yield_rate_bps"] is not None],
                     dtype=np.float64)
    out = {}
    out.update(_distribution("holder_apy", apy[holder & ~np.isnan(apy)]))
    out.update(_distribution("trader_apy", apy[trader & ~np.isnan(apy)]))
    out.update({
        "holder_accrued_sats": holder_accrued,
        "holder_claimed_sats": holder_claimed,
        "holder_unclaimed_sats": holder_accrued - holder_claimed,
        "trader_accrued_usdt": float(accrued[trader].sum()) / USDT_UNIT,
        "trader_claimed_usdt": float(claimed[trader].sum()) / USDT_UNIT,
        "trader_unclaimed_usdt": float((accrued[trader] - claimed[trader]).sum()) / USDT_UNIT,
        "reserves_sats": reserves,
        "rbtc_supply_sats": int(world.monitor.total_rbtc),
        "liability_ratio": holder_accrued / reserves if reserves else None,
        "unclaimed_ratio": (holder_accrued - holder_claimed) / reserves if reserves else None,
        "holders": int(holder.sum()),
        "traders": int(trader.sum()),
        "tier_bronze": int((tiers == 0).sum()),
        "tier_silver": int((tiers == 1).sum()),
        "tier_gold": int((tiers == 2).sum()),
        "claims": int(world.yields.claims),
        "rate_bps_mean": float(rates.mean()) if rates.size else None,
        "rate_bps_final": int(world.yield_rate()),
        "syncs": int(world.metrics.ops["sync"]),
        "emergency_burns": int(world.metrics.ops["emergency_burn"]),
        "violations": world.violations.count,
    })
    out.update(_backing(world))
    out.update(_disputes(world))
    assert list(out) == list(METRICS)
    for name in extra:
        out[name] = custom_value(name, world)
    return out


def _backing(world) -> dict:
    monitor = world.monitor
    now = int(world.env.now)
    windows = monitor.windows()
    return {
        "min_backing_ratio": monitor.min_ratio,
        "backing_windows": len(windows),
        "max_backing_window_s": max(((w.end if w.end is not None else now) - w.start for w in windows), default=0),
        "max_backing_excess_sats": max((w.max_excess for w in windows), default=0),
    }


def _disputes(world) -> dict:
    disputes = world.disputes.all
    now = int(world.env.now)
    # Resolutions before filings at the same second: a dispute resolved as another is filed does not overlap it.
    changes = sorted([(d.filed_at, 1) for d in disputes] + [(d.resolved_at, -1) for d in disputes
                                                            if d.resolved_at is not None])
    backlog = peak = 0
    for _, change in changes:
        backlog += change
        peak = max(peak, backlog)
    return {
        "disputes_filed": len(disputes),
        "max_dispute_backlog": peak,
        "max_dispute_resolution_s": max(((d.resolved_at if d.resolved_at is not None else now) - d.filed_at
                                         for d in disputes), default=0),
    }


def aggregate(values) -> dict:
    """Mean, sample standard deviation and a 95 % Student-t confidence interval of one metric over seeds.

    Missing values (a metric that does not apply in a run, e.g. trader APY without traders) are left
    out; ``n`` says how many runs count. With one run the spread is unknown (NaN).
    """
    data = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                    dtype=np.float64)
    n = int(data.size)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "ci95_low": math.nan, "ci95_high": math.nan, "n": 0}
    mean = float(data.mean())
    if n == 1:
        return {"mean": mean, "std": math.nan, "ci95_low": math.nan, "ci95_high": math.nan, "n": 1}
    std = float(data.std(ddof=1))
    half = t975(n - 1) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half, "n": n}


# ---------------------------------------------------------------------------------------- user metrics


@attrs.frozen
class Metric:
    """A registered metric: ``function(world)`` returns a number, or None where it does not apply."""

    name: str
    unit: str
    integer: bool
    description: str
    function: Callable = attrs.field(eq=False)
    module: str = ""


#: Metrics registered with :func:`metric`, by name.
REGISTRY: dict[str, Metric] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def metric(name: str | None = None, *, unit: str = "", integer: bool = False, description: str = ""):
    """Register ``function(world) -> number | None`` as a metric sweeps and searches can tabulate, rank
    by and constrain::

        from sim.research import metric

        @metric(unit="count", integer=True, description="users waiting for a top-up at the end")
        def waiting_for_topup(world):
            return len(world.oracle.needs_topup)

    The name defaults to the function's. ``world`` is the finished :class:`sim.world.World` (invariant
    monitors on): ``world.monitor``, ``world.metrics.rows`` (the metrics.csv rows), ``world.disputes``,
    ``world.oracle``, ``world.port`` … Registering a name again replaces it (a module reloaded in a
    notebook); a built-in name cannot be taken.
    """

    def register(function: Callable) -> Callable:
        chosen = name or function.__name__
        if not _NAME.match(chosen):
            raise ValueError(f"metric name {chosen!r}: expected lower-case letters, digits and '_'")
        if chosen in METRICS:
            raise ValueError(f"metric name {chosen!r} is a built-in metric")
        REGISTRY[chosen] = Metric(chosen, unit or "value", bool(integer), description or chosen, function,
                                  getattr(function, "__module__", "") or "")
        return function

    return register


def known() -> list[str]:
    """Every metric name a sweep or search may use: the built-ins, then the registered ones."""
    return [*METRICS, *(n for n in REGISTRY if n not in METRICS)]


def info(name: str) -> tuple[str, bool, str]:
    """(unit, integer per run?, meaning) of a built-in or registered metric."""
    if name in METRICS:
        return METRICS[name]
    entry = REGISTRY[name]
    return entry.unit, entry.integer, entry.description


def custom_value(name: str, world):
    """A registered metric's value for ``world``, checked to be a number (or None)."""
    entry = REGISTRY.get(name)
    if entry is None:
        raise LookupError(f"metric {name!r} is not registered in this worker (is its module listed in "
                          "[sweep] modules?)")
    value = entry.function(world)
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) else value
    raise TypeError(f"metric {name!r} returned {value!r}; expected a number or None")

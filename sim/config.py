"""What a world is made of: small frozen value types, one per concern, with their defaults.

A scenario file (``scenarios/*.toml``, see :mod:`sim.scenario`) is parsed into a :class:`WorldConfig`;
tests build one directly. Every field has a documented unit; every default is the realistic one.

Every class checks its own values (attrs validators from :mod:`contracts_model.validation`, with the
caps below), and :class:`WorldConfig` checks the whole (events inside the world, its estimated size),
so a world built in Python is held to exactly the rules of a scenario file. A refused value raises
:class:`~contracts_model.validation.InvalidValue` naming the field.
"""

from __future__ import annotations

from types import SimpleNamespace

import attrs
from attrs import field, frozen

from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from contracts_model.validation import (
    MAX_SATS,
    Described,
    InvalidValue,
    boolean,
    int_pair,
    integer,
    number,
    number_pair,
    one_of,
    share,
    text,
    uint256,
)
from contracts_model.validation import bound as _bound
from sim.bitcoin.address import NETWORKS as _PREFIXES

DAY = 86_400
HOUR = 3_600
#: Where the contracts run: the Python models, the compiled contracts on py-evm or on revm, or the
#: models and one EVM compared in lockstep.
BACKENDS = ("model", "evm", "revm", "lockstep", "lockstep-revm")
#: The EVM engine each backend runs bytecode on (None: none, the models only).
ENGINE_OF = {"model": None, "evm": "pyevm", "revm": "revm", "lockstep": "pyevm", "lockstep-revm": "revm"}
#: Which world engine runs a scenario: per-event objects (any backend) or batched arrays (sim/fast,
#: the models' semantics). Not to be confused with the EVM engine of a backend (ENGINE_OF).
ENGINES = ("reference", "fast")
#: What a run writes: every record to events.jsonl, or only the summary, metrics and report.
LOGS = ("full", "summary")
#: Bitcoin networks (address prefixes): mainnet (bc), testnet (tb), regtest (bcrt).
NETWORKS = tuple(_PREFIXES)

# ---------------------------------------------------------------------------------------- caps
# What a world may ask for. Every cap is far beyond the built-in scenarios and keeps a run finite and
# its arithmetic within the contracts' types; README "Scenarios" lists them.

#: Users in one world (100 x load_10k).
MAX_USERS = 1_000_000
#: Any duration, interval or point in time: ten years of simulated time.
MAX_DURATION_S = 3_650 * DAY
#: Any per-user daily rate (receive_per_day, claim_per_day, ...).
MAX_RATE_PER_DAY = 1_000.0
#: Bitcoin addresses a user binds when it registers.
MAX_ADDRESSES_PER_USER = 100
#: Virtual USDT (6 decimals) a partner reports for one trader: 10**18 USDT.
MAX_USDT = 10**24
#: Percentages in basis points (the fee's percentage leg, the pool's rates): at most 100 %.
MAX_BPS = 10_000
#: Loyalty multipliers in percent: at most 100x.
MAX_MULTIPLIER = 10_000
#: Blocks in one block (max_block_txs), reorg depths, on-chain proof checks per round.
MAX_BLOCK_TXS = 10**9
MAX_REORG_DEPTH = 10**6
MAX_ONCHAIN_CHECKS = 1_000
#: Seeds are 64-bit.
MAX_SEED = 2**64 - 1
#: The field an over-large world is reported under (see :mod:`sim.estimate`).
ESTIMATED_EVENTS = "estimated_events"

seconds = integer(0, MAX_DURATION_S, "a whole number of seconds")
positive_seconds = integer(1, MAX_DURATION_S, "a whole number of seconds")
rate = number(0, MAX_RATE_PER_DAY, "a rate per user per day")
sats = integer(0, MAX_SATS, "sats")
sats_range = int_pair(1, MAX_SATS, "sats")


def _optional(check):
    def optional(instance, attribute, value):
        if value is not None:
            check(instance, attribute, value)

    return optional


@frozen
class BitcoinConfig:
    """The simulated Bitcoin network."""

    network: str = field(default="regtest", validator=one_of(NETWORKS))  # address prefixes
    mean_block_interval_s: int = field(default=600, validator=positive_seconds)  # exponential gaps of this mean
    max_block_txs: int | None = field(default=None, validator=_optional(integer(1, MAX_BLOCK_TXS)))
    # None: a block confirms the whole mempool


@frozen
class OracleConfig:
    """The committee's oracle service."""

    poll_interval_s: int = field(default=300, validator=positive_seconds)
    # rate limit: one sync per user per EVM block unless |delta| >= this
    delta_threshold_sats: int = field(default=1_000, validator=sats)
    reaction_delay_s: int = field(default=0, validator=seconds)  # from a new Bitcoin block to the oracle acting
    # share of users the committee registers with registerAndPrepay
    register_with_prepay_share: float = field(default=0.5, validator=share)
    # skip increases the user cannot pay for; false: send them and let the contract refuse
    precheck_fees: bool = field(default=True, validator=boolean)


@frozen
class AgentConfig:
    """How simulated users behave. Rates are per user per day; amounts are ranges drawn uniformly."""

    addresses_per_user: tuple[int, int] = field(default=(1, 2), validator=int_pair(1, MAX_ADDRESSES_PER_USER,
                                                                                   "address counts"))
    taproot_share: float = field(default=0.3, validator=share)  # share of addresses that are P2TR (the rest P2WPKH)
    onboarding_window_s: int = field(default=6 * HOUR, validator=seconds)  # users register at uniform times in it
    initial_btc_sats: tuple[int, int] = field(default=(100_000, 50_000_000), validator=sats_range)
    receive_per_day: float = field(default=0.6, validator=rate)
    receive_sats: tuple[int, int] = field(default=(10_000, 5_000_000), validator=sats_range)
    spend_per_day: float = field(default=0.4, validator=rate)
    # of the address's spendable balance
    spend_fraction: tuple[float, float] = field(default=(0.05, 0.6), validator=number_pair(0, 1, "shares"))
    prepay_wei: tuple[int, int] = field(default=(10**15, 10**16), validator=int_pair(0, 2**256 - 1, "wei"))
    topup_share: float = field(default=0.9, validator=share)  # users who top up when their prepaid balance runs low
    topup_below_wei: int = field(default=10**14, validator=uint256("wei"))
    # taking back unused prepaid fees (then topping up again if a top-upper)
    withdraw_per_day: float = field(default=0.01, validator=rate)
    bind_extra_address_per_day: float = field(default=0.02, validator=rate)


@frozen
class YieldConfig:
    """The YieldScales flow around the pool (the pool's own parameters are protocol parameters)."""

    # the oracle joins a holder when it first holds rBTC, updates it on every sync
    join_holders: bool = field(default=True, validator=boolean)
    traders: int = field(default=0, validator=integer(0, MAX_USERS))  # trader accounts a DeFi partner joins
    trader_usdt: tuple[int, int] = field(default=(1_000 * 10**6, 50_000 * 10**6),  # virtual USDT, 6 decimals
                                         validator=int_pair(0, MAX_USDT, "virtual USDT units"))
    trader_add_per_day: float = field(default=0.02, validator=rate)  # a trader's partner reporting more USDT
    claim_per_day: float = field(default=0.05, validator=rate)  # each participant claims its yield at this rate


@frozen
class DisputeConfig:
    """Balance disputes and how the committee handles them."""

    frivolous_per_day: float = field(default=0.0, validator=rate)  # per user: a dispute claiming a wrong balance
    # per user: a dispute whenever the user sees rBTC != its BTC
    discrepancy_per_day: float = field(default=0.0, validator=rate)
    validation_delay_s: int = field(default=60, validator=seconds)  # the committee's check against Bitcoin
    resolution_bound_s: int = field(default=900, validator=seconds)  # every dispute resolved within this of filing


@frozen
class ReservesConfig:
    """Proof of reserves: Merkle snapshots of every binding's confirmed BTC, published on chain."""

    interval_s: int = field(default=86_400, validator=seconds)  # 0 turns publishing off
    # leaves per round whose proof is also verified by the contract
    onchain_checks: int = field(default=5, validator=integer(0, MAX_ONCHAIN_CHECKS))


#: Each scheduled event kind's parameters: name -> (type, required, check). A file spells
#: ``duration_s`` as ``duration``.
EVENT_PARAMS: dict[str, dict[str, tuple[type, bool, object]]] = {
    "reorg": {"depth": (int, True, integer(1, MAX_REORG_DEPTH, "a number of blocks")),
              "double_spend": (float, False, share), "drop": (float, False, share)},
    "fee_drought": {"duration_s": (int, True, seconds)},
    "deposit_burst": {"users": (float, False, share), "sats": (tuple, False, sats_range)},
    "oracle_outage": {"duration_s": (int, True, seconds)},
    "dispute_wave": {"users": (float, False, share), "truthful": (float, False, share)},
}
#: A reorg's default shares when the event does not set them (see World.apply).
REORG_DEFAULTS = {"double_spend": 1.0, "drop": 0.0}


def _event_params(instance, attribute, params):
    spec = EVENT_PARAMS.get(instance.kind) if isinstance(instance.kind, str) else None
    if spec is None:
        return  # the kind's own check reports it
    if not isinstance(params, dict):
        raise InvalidValue("params", params, "a table of the event's keys")
    for key in sorted(set(params) - set(spec), key=str):
        raise InvalidValue(str(key), params[key], f"no such key for a {instance.kind} (known keys: {', '.join(spec)})")
    for key, (_, required, check) in spec.items():
        if key not in params:
            if required:
                raise InvalidValue(key, None, f"a value: a {instance.kind} needs {key!r}")
            continue
        check(instance, SimpleNamespace(name=key), params[key])
    if instance.kind == "reorg":
        double_spend, drop = (params.get(k, REORG_DEFAULTS[k]) for k in ("double_spend", "drop"))
        if double_spend + drop > 1:
            raise InvalidValue("drop", drop, f"double_spend + drop <= 1 (double_spend is {double_spend:g}; "
                                             "it defaults to 1)")


@frozen
class AdversaryConfig:
    """Calls that must fail: transfers of the soulbound token and restricted calls by strangers."""

    probes_per_day: float = field(default=0.0, validator=rate)  # per user; 0 turns the probes off


@frozen
class ScheduledEvent:
    """Something the scenario makes happen at a given time.

    kinds and their ``params`` (:data:`EVENT_PARAMS`):

    * ``reorg``: ``depth`` (blocks replaced), optional ``double_spend`` (share of deposits in the
      replaced blocks that are double-spent, default 1), ``drop`` (share dropped back to the mempool,
      default 0); the two add up to at most 1;
    * ``fee_drought``: ``duration_s``; users stop topping up their prepaid fees for that long;
    * ``deposit_burst``: ``users`` (share of users), ``sats`` (range) — a wave of incoming BTC;
    * ``oracle_outage``: ``duration_s``; the committee does nothing for that long;
    * ``dispute_wave``: ``users`` (share), ``truthful`` (share of disputes that are right).
    """

    kind: str = field(validator=one_of(tuple(EVENT_PARAMS)))
    at_s: int = field(validator=seconds)
    params: dict = field(factory=dict, validator=_event_params)


def _schedule(instance, attribute, schedule):
    if not isinstance(schedule, tuple) or not all(isinstance(e, ScheduledEvent) for e in schedule):
        raise InvalidValue("schedule", schedule, "a tuple of ScheduledEvent")


#: The simulation's caps on protocol parameters (on chain each is a uint256): percentages stay within
#: 100 %, multipliers within 100x, loyalty thresholds within the longest world, so fees and yield stay
#: meaningful and their arithmetic far from overflowing.
PROTOCOL_CAPS = {"pct_bps": (MAX_BPS, "basis points")}
YIELD_CAPS = {"base_rate": (MAX_BPS, "basis points"), "max_rate": (MAX_BPS, "basis points"),
              "silver_after": (MAX_DURATION_S, "seconds"), "gold_after": (MAX_DURATION_S, "seconds"),
              "bronze_multiplier": (MAX_MULTIPLIER, "percent"), "silver_multiplier": (MAX_MULTIPLIER, "percent"),
              "gold_multiplier": (MAX_MULTIPLIER, "percent")}


def _capped(caps: dict, name: str, value: int, field: str) -> None:
    cap, unit = caps[name]
    if value > cap:
        raise InvalidValue(field, value, f"at most {_bound(cap)} {unit}")


#: The caps a world holds the fields of these classes to (see ``_protocol`` below).
_CAPS = {ProtocolParams: PROTOCOL_CAPS, YieldParams: YIELD_CAPS}


def check_field(cls, name: str, value) -> None:
    """One field of config class ``cls`` on its own: its validator and the simulation's cap, none of the
    checks across fields (sweeps check every value they vary with this before building any point)."""
    validator = attrs.fields_dict(cls)[name].validator
    if validator is not None:
        validator(None, SimpleNamespace(name=name), value)
    if name in _CAPS.get(cls, {}):
        _capped(_CAPS[cls], name, value, name)


def _protocol(instance, attribute, params):
    """The protocol parameters a world runs: uint256 on chain (ProtocolParams checks that) and within
    :data:`PROTOCOL_CAPS` and :data:`YIELD_CAPS`."""
    if not isinstance(params, ProtocolParams):
        raise InvalidValue("params", params, "ProtocolParams")
    for name in PROTOCOL_CAPS:
        _capped(PROTOCOL_CAPS, name, getattr(params, name), f"params.{name}")
    if params.yield_params is not None:
        for name in YIELD_CAPS:
            _capped(YIELD_CAPS, name, getattr(params.yield_params, name), f"params.yield_params.{name}")


@frozen
class WorldConfig:
    """One world: its size and length, the protocol it runs, how its users behave, what happens when.

    Every field checks itself (the caps above), and the whole is checked together: every scheduled
    event falls inside the world. An :class:`~contracts_model.validation.InvalidValue` names the
    field (a dotted path such as ``params.pct_bps`` or ``schedule[1].drop`` for nested values).
    """

    seed: int = field(default=1, validator=integer(0, MAX_SEED))
    users: int = field(default=100, validator=integer(1, MAX_USERS))
    duration_s: int = field(default=7 * DAY, validator=positive_seconds)
    backend: str = field(default="model", validator=one_of(BACKENDS))  # one of BACKENDS
    # reference | fast (sim/fast: batched, the models' semantics; see FAST_ENGINE_REFUSES)
    engine: str = field(default="reference", validator=one_of(ENGINES))
    log: str = field(default="full", validator=one_of(LOGS))  # full | summary (no events.jsonl)
    params: ProtocolParams = field(default=PRESETS["testnet"], validator=_protocol)
    preset: str | None = field(default="testnet", validator=_optional(one_of(tuple(PRESETS))))
    # compiled artifacts to load instead of the project's own (EVM backends)
    contracts_dir: str | None = field(default=None, validator=_optional(text(4_096)))
    # who holds each role (TOML or a Foundry broadcast); default: our wiring
    deployment_file: str | None = field(default=None, validator=_optional(text(4_096)))
    # declared differences of a foreign build that lockstep waives
    deviations_file: str | None = field(default=None, validator=_optional(text(4_096)))
    evm_block_time_s: int = field(default=1, validator=positive_seconds)
    bitcoin: BitcoinConfig = field(default=BitcoinConfig(), validator=lambda i, a, v: _typed(a, v, BitcoinConfig))
    oracle: OracleConfig = field(default=OracleConfig(), validator=lambda i, a, v: _typed(a, v, OracleConfig))
    agents: AgentConfig = field(default=AgentConfig(), validator=lambda i, a, v: _typed(a, v, AgentConfig))
    yields: YieldConfig = field(default=YieldConfig(), validator=lambda i, a, v: _typed(a, v, YieldConfig))
    disputes: DisputeConfig = field(default=DisputeConfig(), validator=lambda i, a, v: _typed(a, v, DisputeConfig))
    reserves: ReservesConfig = field(default=ReservesConfig(), validator=lambda i, a, v: _typed(a, v, ReservesConfig))
    adversary: AdversaryConfig = field(default=AdversaryConfig(),
                                       validator=lambda i, a, v: _typed(a, v, AdversaryConfig))
    schedule: tuple[ScheduledEvent, ...] = field(default=(), validator=_schedule)
    #: Check the backing invariant at the end of every simulated instant (always on in tests).
    check_invariants: bool = field(default=True, validator=boolean)

    def __attrs_post_init__(self):
        from sim.estimate import MAX_EVENTS, estimate

        for i, event in enumerate(self.schedule):
            if event.at_s >= self.duration_s:
                raise InvalidValue(f"schedule[{i}].at_s", event.at_s,
                                   f"a time before the end of the world ({self.duration_s:,} s)")
        if self.engine == "fast":
            _fast_engine_can_run(self)
        guess = estimate(self)
        if guess.records > MAX_EVENTS:
            raise InvalidValue(ESTIMATED_EVENTS, Described(guess.describe()),
                               f"a run of at most {MAX_EVENTS:,} estimated events (fewer users, a shorter "
                               "duration or lower rates)")


#: What the fast engine (sim/fast) does not model, as (field, is it asked for, what to use instead). It
#: runs the models' semantics on the project's own wiring and never sends the adversary's probes; a
#: world that asks for any of these is refused rather than run without it.
FAST_ENGINE_REFUSES = (
    ("backend", lambda c: c.backend != "model",
     '"model" with engine = "fast" (the fast engine runs the models\' semantics itself; '
     'other backends need engine = "reference")'),
    ("deployment_file", lambda c: c.deployment_file is not None,
     'no deployment file with engine = "fast" (it runs the project\'s own wiring; use engine = "reference")'),
    ("deviations_file", lambda c: c.deviations_file is not None,
     'no deviations file with engine = "fast" (it runs the project\'s own wiring; use engine = "reference")'),
    ("adversary.probes_per_day", lambda c: c.adversary.probes_per_day > 0,
     '0 with engine = "fast" (the fast engine sends no probes; use engine = "reference")'),
)


def _fast_engine_can_run(config: WorldConfig) -> None:
    for name, asked, expected in FAST_ENGINE_REFUSES:
        if asked(config):
            value = config
            for part in name.split("."):
                value = getattr(value, part)
            raise InvalidValue(name, value, expected)


def _typed(attribute, value, cls) -> None:
    if not isinstance(value, cls):
        raise InvalidValue(attribute.name, value, cls.__name__)

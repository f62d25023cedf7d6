"""What a world is made of: small frozen value types, one per concern, with their defaults.

A scenario file (``scenarios/*.toml``, see :mod:`sim.scenario`) is parsed into a :class:`WorldConfig`;
tests build one directly. Every field has a documented unit; every default is the realistic one.
"""

from __future__ import annotations

from attrs import field, frozen

from contracts_model.params import PRESETS, ProtocolParams

DAY = 86_400
HOUR = 3_600
#: Where the contracts run: the Python models, the compiled contracts on py-evm, or both compared.
BACKENDS = ("model", "evm", "lockstep")


@frozen
class BitcoinConfig:
    """The simulated Bitcoin network."""

    network: str = "regtest"  # address prefixes: mainnet (bc), testnet (tb), regtest (bcrt)
    mean_block_interval_s: int = 600  # blocks arrive with exponential gaps of this mean
    max_block_txs: int | None = None  # None: a block confirms the whole mempool


@frozen
class OracleConfig:
    """The committee's oracle service."""

    poll_interval_s: int = 300
    delta_threshold_sats: int = 1_000  # rate limit: one sync per user per EVM block unless |delta| >= this
    reaction_delay_s: int = 0  # time from a new Bitcoin block to the oracle acting on it
    register_with_prepay_share: float = 0.5  # share of users the committee registers with registerAndPrepay
    precheck_fees: bool = True  # skip increases the user cannot pay for; false: send them and let the contract refuse


@frozen
class AgentConfig:
    """How simulated users behave. Rates are per user per day; amounts are ranges drawn uniformly."""

    addresses_per_user: tuple[int, int] = (1, 2)
    taproot_share: float = 0.3  # share of addresses that are P2TR (the rest P2WPKH)
    onboarding_window_s: int = 6 * HOUR  # users register at uniform times in [0, window)
    initial_btc_sats: tuple[int, int] = (100_000, 50_000_000)
    receive_per_day: float = 0.6
    receive_sats: tuple[int, int] = (10_000, 5_000_000)
    spend_per_day: float = 0.4
    spend_fraction: tuple[float, float] = (0.05, 0.6)  # of the address's spendable balance
    prepay_wei: tuple[int, int] = (10**15, 10**16)
    topup_share: float = 0.9  # users who top up when their prepaid balance runs low; the rest let it run dry
    topup_below_wei: int = 10**14
    withdraw_per_day: float = 0.01  # taking back unused prepaid fees (then topping up again if a top-upper)
    bind_extra_address_per_day: float = 0.02


@frozen
class YieldConfig:
    """The YieldScales flow around the pool (the pool's own parameters are protocol parameters)."""

    join_holders: bool = True  # the oracle joins a holder when it first holds rBTC, updates it on every sync
    traders: int = 0  # trader accounts a DeFi partner joins with virtual USDT
    trader_usdt: tuple[int, int] = (1_000 * 10**6, 50_000 * 10**6)  # virtual USDT, 6 decimals
    trader_add_per_day: float = 0.02  # a trader's partner reporting more USDT
    claim_per_day: float = 0.05  # each participant claims its yield at this rate


@frozen
class DisputeConfig:
    """Balance disputes and how the committee handles them."""

    frivolous_per_day: float = 0.0  # per user: a dispute claiming a wrong balance
    discrepancy_per_day: float = 0.0  # per user: a dispute whenever the user sees rBTC != its BTC
    validation_delay_s: int = 60  # the committee takes this long to check a claim against Bitcoin
    resolution_bound_s: int = 900  # every dispute must be resolved within this long after filing


@frozen
class ReservesConfig:
    """Proof of reserves: Merkle snapshots of every binding's confirmed BTC, published on chain."""

    interval_s: int = 86_400  # 0 turns publishing off
    onchain_checks: int = 5  # leaves per round whose proof is also verified by the contract


@frozen
class AdversaryConfig:
    """Calls that must fail: transfers of the soulbound token and restricted calls by strangers."""

    probes_per_day: float = 0.0  # per user; 0 turns the probes off


@frozen
class ScheduledEvent:
    """Something the scenario makes happen at a given time.

    kinds and their ``params``:

    * ``reorg``: ``depth`` (blocks replaced), optional ``double_spend`` (share of deposits in the
      replaced blocks that are double-spent), ``drop`` (share dropped back to the mempool);
    * ``fee_drought``: ``duration_s``; users stop topping up their prepaid fees for that long;
    * ``deposit_burst``: ``users`` (share of users), ``sats`` (range) — a wave of incoming BTC;
    * ``oracle_outage``: ``duration_s``; the committee does nothing for that long;
    * ``dispute_wave``: ``users`` (share), ``truthful`` (share of disputes that are right).
    """

    kind: str
    at_s: int
    params: dict = field(factory=dict)


@frozen
class WorldConfig:
    """One world: its size and length, the protocol it runs, how its users behave, what happens when."""

    seed: int = 1
    users: int = 100
    duration_s: int = 7 * DAY
    backend: str = "model"  # model | evm | lockstep
    params: ProtocolParams = PRESETS["testnet"]
    preset: str | None = "testnet"
    contracts_dir: str | None = None  # compiled artifacts to load instead of the project's own (evm, lockstep)
    deployment_file: str | None = None  # who holds each role (TOML or a Foundry broadcast); default: our wiring
    deviations_file: str | None = None  # declared differences of a foreign build that lockstep waives
    evm_block_time_s: int = 1
    bitcoin: BitcoinConfig = BitcoinConfig()
    oracle: OracleConfig = OracleConfig()
    agents: AgentConfig = AgentConfig()
    yields: YieldConfig = YieldConfig()
    disputes: DisputeConfig = DisputeConfig()
    reserves: ReservesConfig = ReservesConfig()
    adversary: AdversaryConfig = AdversaryConfig()
    schedule: tuple[ScheduledEvent, ...] = ()
    #: Check the backing invariant at the end of every simulated instant (always on in tests).
    check_invariants: bool = True

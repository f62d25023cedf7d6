"""Tests of contracts_model, the Python reference models of the ReserveBTC contracts.

Every expected value here is worked out from the Solidity sources by hand (or by an independent
reference in the test), never read back from the model. Every revert is checked to leave the whole
system exactly as it was (`assert_reverts`), and every emitted event is checked against the compiled
ABI (`checked`).
"""

from __future__ import annotations

import json
from pathlib import Path

import eth_abi
import pytest
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contracts_model
from contracts_model import (
    DEPLOYMENT_ORDER,
    ERRORS,
    PRESETS,
    ZERO_ADDRESS,
    ArgumentError,
    BareRevert,
    ContractRevert,
    Event,
    InsufficientFunds,
    ModelSystem,
    Panic,
    ProtocolParams,
    RevertString,
    YieldParams,
    create_address,
    revert_class,
)
from contracts_model.abi import normalize_value
from contracts_model.errors import (
    SELECTORS,
    AlreadyParticipant,
    BalanceOutOfRange,
    DisputeAlreadyFiled,
    FeeCapExceeded,
    FeeTransferFailed,
    InsufficientBalance,
    InvalidAmount,
    InvalidParticipant,
    NoDispute,
    NoPublication,
    NotOracle,
    NothingToClaim,
    NotParticipant,
    PoolActive,
    Restricted,
    Soulbound,
    ZeroAddress,
    ZeroValue,
    from_revert_data,
)
from contracts_model.proof_of_reserves import MerkleTree, hash_pair, leaf_hash, process_proof

ARTIFACTS = Path(contracts_model.__file__).parent / "artifacts"
ABI = {name: json.loads((ARTIFACTS / f"{name}.json").read_text())["abi"] for name in DEPLOYMENT_ORDER}
EVENT_TYPES = {
    (contract, item["name"]): tuple(i["type"] for i in item["inputs"])
    for contract, abi in ABI.items()
    for item in abi
    if item["type"] == "event"
}

DEPLOYER = "0x" + "d0" * 20
COMMITTEE = "0x" + "c0" * 20
COLLECTOR = "0x" + "fe" * 20
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
CAROL = "0x" + "ca" * 20
T0 = 1_700_000_000
DAY = 86_400
YEAR = 31_536_000
ACCRUAL_DIVISOR = 10_000 * YEAR * 100
GWEI = 10**9
ETHER = 10**18
PANIC_OVERFLOW = 0x11


# ----------------------------------------------------------------------------- helpers


def make(preset="testnet", collector=COLLECTOR) -> ModelSystem:
    params = PRESETS[preset] if isinstance(preset, str) else preset
    system = ModelSystem(params, DEPLOYER, COMMITTEE, collector, genesis_timestamp=T0)
    for account in (COMMITTEE, ALICE, BOB, CAROL):
        system.fund(account, 1_000 * ETHER)
    return system


def checked(events: list[Event]) -> list[Event]:
    """Each event exists in the emitting contract's ABI and its args are canonical values of the ABI types."""
    for event in events:
        types = EVENT_TYPES[(event.contract, event.name)]
        assert len(event.args) == len(types), event
        for abi_type, value in zip(types, event.args):
            canonical = normalize_value(abi_type, value)
            assert canonical == value and type(canonical) is type(value), (event, abi_type)
    return events


def tx(system, sender, contract, function, args=(), value=0):
    result, events = system.transact(sender, contract, function, args, value)
    return result, checked(events)


def sync(system, user, balance):
    return tx(system, COMMITTEE, "OracleAggregator", "sync", (user, balance, b""))[1]


def prepay(system, user, wei):
    return tx(system, COMMITTEE, "OracleAggregator", "registerAndPrepay", (user, 1, bytes(32)), wei)[1]


def full_state(system):
    """Everything the system holds: block context, every ETH balance, every contract's storage."""
    snap = system.snapshot()
    return (snap.number, snap.timestamp, snap.balances, snap.states)


def assert_reverts(system, error, sender, contract, function, args=(), value=0):
    """The call raises `error` (an exception instance compared by name and args) and changes nothing."""
    before = full_state(system)
    with pytest.raises(ContractRevert) as caught:
        system.transact(sender, contract, function, args, value)
    assert caught.value == error, f"expected {error!r}, got {caught.value!r}"
    assert type(caught.value) is type(error)
    assert full_state(system) == before
    return caught.value


def view(system, contract, function, *args):
    return system.call(contract, function, args)


def at(system, timestamp, number=None):
    system.set_block(system.block_number + 1 if number is None else number, timestamp)


def fee_reference(delta, pct_bps, fixed_wei, wei_per_sat):
    return (delta * wei_per_sat * pct_bps // 10_000 if delta > 0 else 0) + fixed_wei


def synced(user, new, delta, fee, number, timestamp):
    return Event("OracleAggregator", "Synced", (user, new, delta, fee, number, timestamp))


# ----------------------------------------------------------------------------- ABI and structure


def _abi_type(item):
    if item["type"] == "tuple":
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")"
    return item["type"]


@pytest.mark.parametrize("name", DEPLOYMENT_ORDER)
def test_every_abi_function_exists_on_the_model_with_the_same_signature(name):
    cls = type(make().contracts[name])
    functions = {item["name"]: item for item in ABI[name] if item["type"] == "function"}
    for function, item in functions.items():
        assert callable(getattr(cls, function, None)), f"{name}.{function} is missing"
        inputs, mutability = cls.FUNCTIONS[function]
        assert inputs == tuple(_abi_type(i) for i in item["inputs"]), function
        assert mutability == item["stateMutability"], function
    for special in ("receive", "fallback"):
        if any(item["type"] == special for item in ABI[name]):
            assert cls.FUNCTIONS[special] == ((), "payable")
    constructor = next(item for item in ABI[name] if item["type"] == "constructor")
    assert cls.CONSTRUCTOR == (tuple(i["type"] for i in constructor["inputs"]), constructor["stateMutability"])


@pytest.mark.parametrize("name", DEPLOYMENT_ORDER)
def test_the_model_has_no_public_function_outside_the_abi(name):
    cls = type(make().contracts[name])
    abi_names = {item.get("name", item["type"]) for item in ABI[name]
                 if item["type"] in ("function", "receive", "fallback")}
    public = {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}
    assert public == abi_names
    assert set(cls.FUNCTIONS) == abi_names


def test_every_abi_error_has_one_exception_class_with_its_selector():
    for abi in ABI.values():
        for item in abi:
            if item["type"] == "error":
                cls = ERRORS[item["name"]]
                assert cls is revert_class(item["name"]) and cls.__name__ == item["name"]
                assert issubclass(cls, ContractRevert) and item["inputs"] == []
                assert SELECTORS[keccak(f"{item['name']}()".encode())[:4]] is cls
    assert ERRORS["Restricted"] is contracts_model.errors.Restricted  # shared by three contracts
    assert revert_class("") is BareRevert and revert_class("Error") is RevertString and revert_class("Panic") is Panic


def test_raw_revert_data_decodes_to_the_model_exceptions():
    assert from_revert_data(keccak(b"Soulbound()")[:4]) == Soulbound()
    assert from_revert_data(b"") == BareRevert()
    error_string = keccak(b"Error(string)")[:4] + eth_abi.encode(["string"], ["DIRECT_ETH_REJECTED"])
    assert from_revert_data(error_string) == RevertString("DIRECT_ETH_REJECTED")
    panic = keccak(b"Panic(uint256)")[:4] + eth_abi.encode(["uint256"], [0x11])
    assert from_revert_data(panic) == Panic(0x11)
    assert Panic(0x11) != Panic(0x12) and Restricted() != NotOracle()


def test_view_return_values_have_the_shapes_web3_decodes():
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 50_000)
    tx(system, COMMITTEE, "YieldScalesPool", "joinAsBitcoinHolder", (ALICE,))
    tx(system, COMMITTEE, "ProofOfReserves", "publishRoot", (b"\x01" * 32, 840_000, 50_000))
    samples = {"address": ALICE, "uint256": 0, "uint8": 1, "uint32": 1, "uint64": 1, "int64": 5,
               "bytes32": b"\x02" * 32, "bytes32[]": (b"\x03" * 32,), "bool": True}
    for name, abi in ABI.items():
        for item in abi:
            if item["type"] != "function" or item["stateMutability"] not in ("view", "pure"):
                continue
            args = tuple(samples[i["type"]] for i in item["inputs"])
            try:
                value = system.call(name, item["name"], args)
            except Soulbound:
                continue
            types = [_abi_type(o) for o in item["outputs"]]
            values = (value,) if len(types) == 1 else value
            assert isinstance(values, tuple) and len(values) == len(types), (name, item["name"], value)
            decoded = eth_abi.decode(types, eth_abi.encode(types, values))
            assert len(decoded) == len(values)


def test_create_address_matches_known_vectors():
    deployer = "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0"
    assert create_address(deployer, 0) == "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
    assert create_address(deployer, 1) == "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8"
    # eth-tester's first account (private key 1), as py-evm deploys from it
    first_account = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    assert create_address(first_account, 0) == "0xf2e246bb76df876cef8b38ae84130f4f55de395b"


def test_deployment_order_addresses_and_wiring():
    system = make()
    addresses = system.addresses
    assert list(addresses) == list(DEPLOYMENT_ORDER)
    assert [addresses[n] for n in DEPLOYMENT_ORDER] == [create_address(DEPLOYER, i) for i in range(6)]
    aggregator = addresses["OracleAggregator"]
    assert view(system, "RBTCSynth", "oracle") == aggregator
    assert view(system, "FeeVault", "oracle") == aggregator
    assert view(system, "FeeVault", "feeCollector") == COLLECTOR
    assert view(system, "OracleAggregator", "synth") == addresses["RBTCSynth"]
    assert view(system, "OracleAggregator", "feeVault") == addresses["FeeVault"]
    assert view(system, "OracleAggregator", "feePolicy") == addresses["FeePolicy"]
    assert view(system, "OracleAggregator", "committee") == COMMITTEE
    assert view(system, "OracleAggregator", "minConfirmations") == 1
    assert view(system, "OracleAggregator", "maxFeePerSyncWei") == 10**16
    assert view(system, "YieldScalesPool", "rbtcSynth") == addresses["RBTCSynth"]
    assert view(system, "YieldScalesPool", "feeVault") == addresses["FeeVault"]
    assert view(system, "YieldScalesPool", "oracle") == COMMITTEE
    assert view(system, "ProofOfReserves", "committee") == COMMITTEE
    assert view(system, "RBTCSynth", "name") == "Reserve BTC Synth"
    assert view(system, "RBTCSynth", "symbol") == "rBTC-SYNTH"
    assert view(system, "RBTCSynth", "decimals") == 8
    assert view(system, "FeePolicy", "pctBps") == 10 and view(system, "FeePolicy", "weiPerSat") == GWEI
    assert view(system, "YieldScalesPool", "scalesBalance") == (100, 0, T0)
    assert view(system, "YieldScalesPool", "yieldMetrics") == (500, 0, 0, 1)
    assert view(system, "YieldScalesPool", "yieldParameters") == (500, 2000, 180 * DAY, 365 * DAY, 110, 125, 150)
    assert view(system, "YieldScalesPool", "indexUpdatedAt") == T0
    assert system.deployment_events == []
    # checksummed and lowercase addresses name the same contract and account
    assert system.call(addresses["RBTCSynth"].upper().replace("0X", "0x"), "decimals") == 8


def test_custom_yield_parameters_are_configured_by_the_committee_at_deployment():
    custom = YieldParams(base_rate=800, max_rate=1500, silver_after=10, gold_after=20,
                         bronze_multiplier=100, silver_multiplier=200, gold_multiplier=300)
    params = ProtocolParams(10, 0, GWEI, 1, 10**16, custom)
    system = ModelSystem(params, DEPLOYER, COMMITTEE, COLLECTOR, T0)
    assert view(system, "YieldScalesPool", "yieldParameters") == (800, 1500, 10, 20, 100, 200, 300)
    assert view(system, "YieldScalesPool", "yieldMetrics") == (800, 0, 0, 1)
    assert [e.name for e in checked(system.deployment_events)] == [
        "ScalesBalanceUpdated", "YieldCalculated", "YieldParametersSet"]
    defaults = ModelSystem(ProtocolParams(10, 0, GWEI, 1, 10**16, YieldParams()), DEPLOYER, COMMITTEE, COLLECTOR, T0)
    assert defaults.deployment_events == []
    with pytest.raises(ValueError):
        YieldParams(silver_after=2, gold_after=1)
    with pytest.raises(ValueError):
        ProtocolParams(-1, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="pct_bps: expected a whole number"):
        ProtocolParams(True, 0, 0, 0, 0)


# ----------------------------------------------------------------------------- FeePolicy


@given(
    delta=st.integers(-(2**63), 2**63 - 1),
    pct=st.integers(0, 10_000),
    fixed=st.integers(0, 10**18),
    per_sat=st.integers(0, 10**12),
)
@settings(max_examples=150, deadline=None)
def test_quote_fees_is_the_floor_of_the_percentage_leg_plus_the_fixed_leg(delta, pct, fixed, per_sat):
    system = ModelSystem(ProtocolParams(pct, fixed, per_sat, 1, 0), DEPLOYER, COMMITTEE, COLLECTOR, T0)
    assert view(system, "FeePolicy", "quoteFees", ALICE, delta) == fee_reference(delta, pct, fixed, per_sat)


def test_quote_fees_pinned_cases():
    system = make("fixed_fee")  # 10 bps, 1e12 fixed, 1 gwei per sat
    assert view(system, "FeePolicy", "quoteFees", ALICE, 100_000) == 100_000 * GWEI * 10 // 10_000 + 10**12
    assert view(system, "FeePolicy", "quoteFees", ALICE, -100_000) == 10**12  # no percentage on a decrease
    assert view(system, "FeePolicy", "quoteFees", ALICE, 0) == 10**12
    floor = ModelSystem(ProtocolParams(10, 0, 1, 1, 0), DEPLOYER, COMMITTEE, COLLECTOR, T0)
    assert view(floor, "FeePolicy", "quoteFees", ALICE, 999) == 0  # 9990 / 10000 floors to 0
    assert view(floor, "FeePolicy", "quoteFees", ALICE, 1_000) == 1


def test_quote_fees_checks_each_product_for_overflow():
    # delta * weiPerSat overflows before the multiplication by pctBps = 0: Solidity panics anyway.
    system = ModelSystem(ProtocolParams(0, 0, 2**255, 1, 2**256 - 1), DEPLOYER, COMMITTEE, COLLECTOR, T0)
    with pytest.raises(Panic) as caught:
        view(system, "FeePolicy", "quoteFees", ALICE, 2)
    assert caught.value.code == PANIC_OVERFLOW
    assert view(system, "FeePolicy", "quoteFees", ALICE, 1) == 0
    fixed = ModelSystem(ProtocolParams(10_000, 2**256 - 1, 1, 1, 2**256 - 1), DEPLOYER, COMMITTEE, COLLECTOR, T0)
    assert view(fixed, "FeePolicy", "quoteFees", ALICE, -5) == 2**256 - 1
    with pytest.raises(Panic):
        view(fixed, "FeePolicy", "quoteFees", ALICE, 1)  # feeWei += fixedWei overflows
    # through sync, the panic reverts the whole transaction
    fixed.fund(COMMITTEE, ETHER)
    assert_reverts(fixed, Panic(PANIC_OVERFLOW), COMMITTEE, "OracleAggregator", "sync", (ALICE, 1, b""))


# ----------------------------------------------------------------------------- sync


def test_sync_up_mints_and_pays_the_quoted_fee_to_the_collector():
    system = make()
    prepay(system, ALICE, ETHER)
    at(system, T0 + 12, number=7)
    aggregator, vault = system.addresses["OracleAggregator"], system.addresses["FeeVault"]
    fee = 100_000 * GWEI * 10 // 10_000
    events = sync(system, ALICE, 100_000)
    assert events == [
        Event("RBTCSynth", "Transfer", (ZERO_ADDRESS, ALICE, 100_000)),
        Event("FeeVault", "Spent", (ALICE, fee, aggregator)),
        synced(ALICE, 100_000, 100_000, fee, 7, T0 + 12),
    ]
    assert view(system, "OracleAggregator", "lastSats", ALICE) == 100_000
    assert view(system, "RBTCSynth", "balanceOf", ALICE) == 100_000
    assert view(system, "RBTCSynth", "totalSupply") == 100_000
    assert view(system, "FeeVault", "balanceOf", ALICE) == ETHER - fee
    assert system.eth_balance(COLLECTOR) == fee
    assert system.eth_balance(vault) == ETHER - fee


def test_sync_down_burns_and_never_pays_the_percentage_leg():
    system = make()  # fixedWei = 0: a decrease costs nothing and spendFrom is skipped
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 100_000)
    collected = system.eth_balance(COLLECTOR)
    assert sync(system, ALICE, 60_000) == [
        Event("RBTCSynth", "Transfer", (ALICE, ZERO_ADDRESS, 40_000)),
        synced(ALICE, 60_000, -40_000, 0, 1, T0),
    ]
    assert system.eth_balance(COLLECTOR) == collected
    assert view(system, "RBTCSynth", "totalSupply") == 60_000

    fixed = make("fixed_fee")
    prepay(fixed, ALICE, ETHER)
    sync(fixed, ALICE, 100_000)
    collected = fixed.eth_balance(COLLECTOR)
    assert [e.name for e in sync(fixed, ALICE, 60_000)] == ["Transfer", "Spent", "Synced"]
    assert fixed.eth_balance(COLLECTOR) - collected == 10**12  # the fixed leg only


def test_sync_to_zero_and_zero_delta():
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 5)
    assert sync(system, ALICE, 0) == [
        Event("RBTCSynth", "Transfer", (ALICE, ZERO_ADDRESS, 5)),
        synced(ALICE, 0, -5, 0, 1, T0),
    ]
    assert view(system, "RBTCSynth", "balanceOf", ALICE) == 0
    before = full_state(system)
    assert sync(system, ALICE, 0) == []  # delta 0: nothing at all
    assert sync(system, BOB, 0) == []
    assert full_state(system) == before


def test_sync_argument_checks_and_fee_cap():
    system = make()  # cap 1e16 wei = the fee for 1e10 sats
    prepay(system, ALICE, ETHER)
    assert_reverts(system, ZeroAddress(), COMMITTEE, "OracleAggregator", "sync", (ZERO_ADDRESS, 1, b""))
    assert_reverts(system, BalanceOutOfRange(), COMMITTEE, "OracleAggregator", "sync", (ALICE, 2**63, b""))
    assert_reverts(system, FeeCapExceeded(), COMMITTEE, "OracleAggregator", "sync", (ALICE, 10**10 + 1, b""))
    events = sync(system, ALICE, 10**10)  # fee == cap is allowed
    assert events[1] == Event("FeeVault", "Spent", (ALICE, 10**16, system.addresses["OracleAggregator"]))
    with pytest.raises(ArgumentError):
        system.transact(COMMITTEE, "OracleAggregator", "sync", (ALICE, 2**64, b""))  # not a uint64
    with pytest.raises(ArgumentError):
        system.transact(COMMITTEE, "OracleAggregator", "sync", (ALICE, -1, b""))
    with pytest.raises(ArgumentError):
        system.transact(COMMITTEE, "OracleAggregator", "sync", (ALICE, 1))
    with pytest.raises(ArgumentError):
        system.transact(COMMITTEE, "OracleAggregator", "sync", ("0x1234", 1, b""))
    with pytest.raises(ArgumentError):
        system.transact(COMMITTEE, "OracleAggregator", "syncc", (ALICE, 1, b""))


def test_needs_top_up_emits_and_changes_nothing():
    system = make()
    before = full_state(system)
    assert sync(system, ALICE, 100_000) == [Event("OracleAggregator", "NeedsTopUp", (ALICE,))]
    assert full_state(system) == before
    prepay(system, ALICE, 10**11 - 1)  # one wei short of the 1e11 fee for 100,000 sats
    before = full_state(system)
    assert sync(system, ALICE, 100_000) == [Event("OracleAggregator", "NeedsTopUp", (ALICE,))]
    assert full_state(system) == before


def test_emergency_burn_when_a_decrease_cannot_be_paid():
    system = make("fixed_fee")  # every sync costs at least 1e12 wei
    fee_up = 100_000 * GWEI * 10 // 10_000 + 10**12
    prepay(system, ALICE, fee_up + 10**12 - 1)  # pays the increase, then 1 wei short of a decrease
    sync(system, ALICE, 100_000)
    vault_before, collected = view(system, "FeeVault", "balanceOf", ALICE), system.eth_balance(COLLECTOR)
    at(system, T0 + 600, number=9)
    events = sync(system, ALICE, 70_000)
    assert events == [
        Event("RBTCSynth", "Transfer", (ALICE, ZERO_ADDRESS, 100_000)),  # the whole balance, not the delta
        Event("OracleAggregator", "EmergencyBurn", (ALICE, 100_000, "Insufficient fees")),
        synced(ALICE, 0, -100_000, 0, 9, T0 + 600),
    ]
    assert view(system, "OracleAggregator", "lastSats", ALICE) == 0
    assert view(system, "RBTCSynth", "balanceOf", ALICE) == 0
    assert view(system, "OracleAggregator", "emergencyBurnExecuted", ALICE) is True
    assert view(system, "OracleAggregator", "totalEmergencyBurns") == 1
    assert view(system, "FeeVault", "balanceOf", ALICE) == vault_before  # no fee charged
    assert system.eth_balance(COLLECTOR) == collected


def test_manual_emergency_burn_and_reset():
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 42)
    assert tx(system, COMMITTEE, "OracleAggregator", "executeEmergencyBurn", (ALICE,))[1] == [
        Event("RBTCSynth", "Transfer", (ALICE, ZERO_ADDRESS, 42)),
        Event("OracleAggregator", "EmergencyBurn", (ALICE, 42, "Insufficient fees")),
        synced(ALICE, 0, -42, 0, 1, T0),
    ]
    assert view(system, "OracleAggregator", "totalEmergencyBurns") == 1
    before = full_state(system)
    assert tx(system, COMMITTEE, "OracleAggregator", "executeEmergencyBurn", (ALICE,))[1] == []  # nothing recorded
    assert full_state(system) == before
    assert tx(system, COMMITTEE, "OracleAggregator", "resetEmergencyBurnStatus", (ALICE,))[1] == []
    assert view(system, "OracleAggregator", "emergencyBurnExecuted", ALICE) is False
    assert view(system, "OracleAggregator", "totalEmergencyBurns") == 1  # the counter only grows
    sync(system, ALICE, 10)  # the user syncs normally again
    assert view(system, "RBTCSynth", "balanceOf", ALICE) == 10


@given(
    ops=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["sync", "sync", "deposit", "withdraw"]),
                  st.integers(0, 3 * 10**8)),
        max_size=30,
    ),
    preset=st.sampled_from(["testnet", "fixed_fee"]),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sync_sequences_follow_the_rules_and_keep_the_books(ops, preset):
    params = PRESETS[preset]
    system = make(preset)
    users = (ALICE, BOB, CAROL)
    last = dict.fromkeys(users, 0)
    prepaid = dict.fromkeys(users, 0)
    deposited = spent = withdrawn = 0
    vault = system.addresses["FeeVault"]
    for index, op, amount in ops:
        user = users[index]
        if op == "deposit":
            wei = amount * 10**4 + 1
            tx(system, user, "FeeVault", "depositETH", (user,), wei)
            prepaid[user] += wei
            deposited += wei
        elif op == "withdraw":
            if prepaid[user] == 0:
                assert_reverts(system, InsufficientBalance(), user, "FeeVault", "withdrawUnused")
            else:
                tx(system, user, "FeeVault", "withdrawUnused")
                withdrawn += prepaid[user]
                prepaid[user] = 0
        else:
            delta = amount - last[user]
            fee = fee_reference(delta, params.pct_bps, params.fixed_wei, params.wei_per_sat)
            events = sync(system, user, amount)
            names = [e.name for e in events]
            if delta == 0:
                assert events == []
            elif prepaid[user] < fee and delta > 0:
                assert names == ["NeedsTopUp"]
            elif prepaid[user] < fee:
                assert names == ["Transfer", "EmergencyBurn", "Synced"]
                assert events[0].args == (user, ZERO_ADDRESS, last[user])
                last[user] = 0
            else:
                assert names == (["Transfer", "Spent", "Synced"] if fee else ["Transfer", "Synced"])
                assert events[-1].args[1:4] == (amount, delta, fee)
                prepaid[user] -= fee
                spent += fee
                last[user] = amount
        for u in users:
            assert view(system, "OracleAggregator", "lastSats", u) == last[u]
            assert view(system, "RBTCSynth", "balanceOf", u) == last[u]
            assert view(system, "FeeVault", "balanceOf", u) == prepaid[u]
        assert view(system, "RBTCSynth", "totalSupply") == sum(last.values())
        assert system.eth_balance(vault) == sum(prepaid.values())
        assert system.eth_balance(COLLECTOR) == spent
        assert deposited == sum(prepaid.values()) + spent + withdrawn


# ----------------------------------------------------------------------------- access control


RESTRICTED_CALLS = [
    # (contract, function, args, value, outsider, expected error)
    ("RBTCSynth", "oracleMint", (ALICE, 1), 0, COMMITTEE, Restricted()),
    ("RBTCSynth", "oracleBurn", (ALICE, 0), 0, COMMITTEE, Restricted()),  # the caller check comes first
    ("FeeVault", "spendFrom", (ALICE, 1), 0, COMMITTEE, NotOracle()),
    ("OracleAggregator", "sync", (ALICE, 1, b""), 0, ALICE, Restricted()),
    ("OracleAggregator", "sync", (ZERO_ADDRESS, 2**63, b""), 0, ALICE, Restricted()),
    ("OracleAggregator", "executeEmergencyBurn", (ALICE,), 0, ALICE, Restricted()),
    ("OracleAggregator", "resetEmergencyBurnStatus", (ALICE,), 0, ALICE, Restricted()),
    ("OracleAggregator", "registerAndPrepay", (ALICE, 1, bytes(32)), ETHER, ALICE, Restricted()),
    ("YieldScalesPool", "configureYield", YieldParams().as_args(), 0, ALICE, NotOracle()),
    ("YieldScalesPool", "joinAsBitcoinHolder", (ALICE,), 0, ALICE, NotOracle()),
    ("YieldScalesPool", "joinAsTrader", (ALICE, 1), 0, ALICE, NotOracle()),
    ("YieldScalesPool", "updateRBTCContribution", (BOB, 1), 0, ALICE, NotOracle()),  # before onlyParticipant
    ("YieldScalesPool", "emergencyBurn", (BOB, 1), 0, ALICE, NotOracle()),
    ("YieldScalesPool", "resolveDispute", (BOB, True), 0, ALICE, NotOracle()),
    ("ProofOfReserves", "publishRoot", (bytes(32), 1, 1), 0, ALICE, Restricted()),
    ("YieldScalesPool", "claimYield", (), 0, ALICE, NotParticipant()),
    ("YieldScalesPool", "disputeBalance", (1, 2), 0, ALICE, NotParticipant()),
    ("YieldScalesPool", "updateRBTCContribution", (BOB, 1), 0, COMMITTEE, NotParticipant()),
    ("YieldScalesPool", "emergencyBurn", (BOB, 1), 0, COMMITTEE, NotParticipant()),
]


@pytest.mark.parametrize("contract, function, args, value, outsider, error", RESTRICTED_CALLS)
def test_restricted_functions_reject_everyone_else(contract, function, args, value, outsider, error):
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 1_000)
    assert_reverts(system, error, outsider, contract, function, args, value)


def test_the_synth_and_vault_accept_only_the_aggregator_contract():
    system = make()
    aggregator = system.addresses["OracleAggregator"]
    # Only the aggregator contract (never an account) is the synth's and vault's oracle; the model
    # lets a test pose as it to show that the check is on the address.
    _, events = tx(system, aggregator, "RBTCSynth", "oracleMint", (ALICE, 3))
    assert events == [Event("RBTCSynth", "Transfer", (ZERO_ADDRESS, ALICE, 3))]
    assert_reverts(system, contracts_model.errors.BurnExceeds(), aggregator, "RBTCSynth", "oracleBurn", (ALICE, 4))
    assert tx(system, aggregator, "RBTCSynth", "oracleMint", (ALICE, 0))[1] == []
    assert_reverts(system, ZeroValue(), aggregator, "FeeVault", "spendFrom", (ALICE, 0))
    assert_reverts(system, InsufficientBalance(), aggregator, "FeeVault", "spendFrom", (ALICE, 1))


# ----------------------------------------------------------------------------- soulbound token


def test_rbtc_synth_is_soulbound():
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 1_000)
    assert_reverts(system, Soulbound(), ALICE, "RBTCSynth", "transfer", (BOB, 1))
    assert_reverts(system, Soulbound(), ALICE, "RBTCSynth", "transferFrom", (ALICE, BOB, 1))
    assert_reverts(system, Soulbound(), ALICE, "RBTCSynth", "approve", (BOB, 1))
    assert view(system, "RBTCSynth", "allowance", ALICE, BOB) == 0
    with pytest.raises(Soulbound):
        view(system, "RBTCSynth", "transfer", BOB, 0)
    # value sent to a non-payable function fails solc's callvalue check before the body runs
    assert_reverts(system, BareRevert(), ALICE, "RBTCSynth", "transfer", (BOB, 1), 1)


# ----------------------------------------------------------------------------- vault


def test_vault_deposit_and_withdraw_move_eth():
    system = make()
    vault = system.addresses["FeeVault"]
    _, events = tx(system, BOB, "FeeVault", "depositETH", (ALICE,), 5 * GWEI)  # anyone prepays for a user
    assert events == [Event("FeeVault", "Deposited", (ALICE, 5 * GWEI))]
    assert system.eth_balance(BOB) == 1_000 * ETHER - 5 * GWEI
    assert system.eth_balance(vault) == 5 * GWEI
    assert view(system, "FeeVault", "balanceOf", ALICE) == 5 * GWEI
    _, events = tx(system, ALICE, "FeeVault", "withdrawUnused")
    assert events == [Event("FeeVault", "Withdrawn", (ALICE, 5 * GWEI))]
    assert system.eth_balance(ALICE) == 1_000 * ETHER + 5 * GWEI
    assert system.eth_balance(vault) == 0
    assert_reverts(system, InsufficientBalance(), ALICE, "FeeVault", "withdrawUnused")


def test_vault_rejections():
    system = make()
    vault = system.addresses["FeeVault"]
    assert_reverts(system, ZeroAddress(), BOB, "FeeVault", "depositETH", (ZERO_ADDRESS,), GWEI)
    assert_reverts(system, ZeroValue(), BOB, "FeeVault", "depositETH", (ALICE,), 0)
    tx(system, BOB, "FeeVault", "depositETH", (ALICE,), GWEI)
    assert_reverts(system, BareRevert(), ALICE, "FeeVault", "withdrawUnused", (), 1)
    assert_reverts(system, RevertString("DIRECT_ETH_REJECTED"), BOB, "FeeVault", "receive", (), GWEI)
    assert_reverts(system, RevertString("DIRECT_CALL_REJECTED"), BOB, "FeeVault", "fallback", (), 0)
    before = full_state(system)
    with pytest.raises(RevertString, match="DIRECT_ETH_REJECTED"):
        system.send_eth(BOB, vault, GWEI)
    with pytest.raises(BareRevert):
        system.send_eth(BOB, system.addresses["OracleAggregator"], GWEI)  # no receive, no fallback
    with pytest.raises(InsufficientFunds):
        system.transact(CAROL, "FeeVault", "depositETH", (ALICE,), 1_001 * ETHER)
    with pytest.raises(InsufficientFunds):
        system.send_eth(CAROL, BOB, 1_001 * ETHER)
    assert full_state(system) == before
    assert system.send_eth(BOB, CAROL, 7) == (None, [])
    assert system.eth_balance(CAROL) == 1_000 * ETHER + 7


def test_register_and_prepay_forwards_the_value_into_the_vault():
    system = make()
    _, events = tx(system, COMMITTEE, "OracleAggregator", "registerAndPrepay", (ALICE, 2, b"\x07" * 32), 3 * GWEI)
    assert events == [Event("FeeVault", "Deposited", (ALICE, 3 * GWEI))]
    assert system.eth_balance(system.addresses["OracleAggregator"]) == 0
    assert system.eth_balance(system.addresses["FeeVault"]) == 3 * GWEI
    assert system.eth_balance(COMMITTEE) == 1_000 * ETHER - 3 * GWEI
    assert_reverts(system, ZeroValue(), COMMITTEE, "OracleAggregator", "registerAndPrepay", (ALICE, 2, bytes(32)))


# ----------------------------------------------------------------------------- atomicity


def test_a_revert_after_mint_and_fee_undoes_everything():
    # The collector is the aggregator contract, which has no receive(): the fee transfer fails at the
    # very end of sync, after lastSats, the mint and the vault balance were written.
    system = make(collector=create_address(DEPLOYER, 3))
    prepay(system, ALICE, ETHER)
    vault = system.addresses["FeeVault"]
    assert_reverts(system, FeeTransferFailed(), COMMITTEE, "OracleAggregator", "sync", (ALICE, 100_000, b""))
    assert view(system, "OracleAggregator", "lastSats", ALICE) == 0
    assert view(system, "RBTCSynth", "totalSupply") == 0
    assert view(system, "FeeVault", "balanceOf", ALICE) == ETHER
    assert system.eth_balance(vault) == ETHER
    # the system keeps working after the revert
    assert tx(system, BOB, "FeeVault", "depositETH", (ALICE,), 1)[1] == [Event("FeeVault", "Deposited", (ALICE, 1))]


def test_reverts_after_index_accrual_and_value_transfer_undo_them():
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 10**8)
    tx(system, COMMITTEE, "YieldScalesPool", "joinAsBitcoinHolder", (ALICE,))
    at(system, T0 + 30 * DAY)
    # joinAsTrader brings the index up to date, then finds Alice is a holder
    assert_reverts(system, InvalidParticipant(), COMMITTEE, "YieldScalesPool", "joinAsTrader", (ALICE, 5))
    assert view(system, "YieldScalesPool", "indexUpdatedAt") == T0
    assert view(system, "YieldScalesPool", "yieldIndex") == 0
    # the value reached the aggregator before ZeroAddress: it goes back to the committee
    assert_reverts(system, ZeroAddress(), COMMITTEE, "OracleAggregator", "registerAndPrepay",
                   (ZERO_ADDRESS, 1, bytes(32)), GWEI)
    # configureYield accrues the index and stores the parameters before _rate overflows
    fresh = make()
    prepay(fresh, ALICE, ETHER)
    sync(fresh, ALICE, 1)  # a non-zero supply, so the rBTC scale is 100 and the rate product overflows
    assert_reverts(fresh, Panic(PANIC_OVERFLOW), COMMITTEE, "YieldScalesPool", "configureYield",
                   (2**255, 1, 0, 0, 1, 1, 1))


def test_call_runs_without_keeping_effects():
    system = make()
    prepay(system, ALICE, ETHER)
    before = full_state(system)
    assert system.call("OracleAggregator", "sync", (ALICE, 10, b""), sender=COMMITTEE) is None
    assert system.call("ProofOfReserves", "publishRoot", (bytes(32), 1, 1), sender=COMMITTEE) == 0
    assert full_state(system) == before
    with pytest.raises(Restricted):
        system.call("OracleAggregator", "sync", (ALICE, 10, b""))
    assert full_state(system) == before


def test_snapshot_and_revert_restore_everything():
    system = make()
    prepay(system, ALICE, ETHER)
    sync(system, ALICE, 10**6)
    tx(system, COMMITTEE, "YieldScalesPool", "joinAsBitcoinHolder", (ALICE,))
    token = system.snapshot()
    saved = full_state(system)
    at(system, T0 + 40 * DAY)
    sync(system, ALICE, 3 * 10**6)
    tx(system, COMMITTEE, "YieldScalesPool", "updateRBTCContribution", (ALICE, 3 * 10**6))
    tx(system, ALICE, "YieldScalesPool", "claimYield")
    tx(system, COMMITTEE, "ProofOfReserves", "publishRoot", (b"\x09" * 32, 5, 6))
    system.fund(BOB, 5)
    assert full_state(system) != saved
    system.revert(token)
    assert full_state(system) == saved
    sync(system, ALICE, 7)  # the restored objects are live and journaled
    system.revert(token)  # a token can be used again
    assert full_state(system) == saved
    with pytest.raises(ValueError):
        make().revert(token)


def test_genesis_funding_and_set_eth_balance():
    system = ModelSystem(PRESETS["testnet"], DEPLOYER, COMMITTEE, COLLECTOR, T0, operator_funding_wei=7 * ETHER)
    assert system.eth_balance(DEPLOYER) == system.eth_balance(COMMITTEE) == 7 * ETHER
    assert system.eth_balance(ALICE) == 0
    system.set_eth_balance(ALICE, 3)
    system.set_eth_balance(ALICE.upper().replace("0X", "0x"), 5)  # any letter case names the same account
    assert system.eth_balance(ALICE) == 5
    with pytest.raises(ArgumentError):
        system.set_eth_balance(ALICE, -1)
    same = ModelSystem(PRESETS["testnet"], COMMITTEE, COMMITTEE, COLLECTOR, T0, operator_funding_wei=1)
    assert same.eth_balance(COMMITTEE) == 1  # one account is funded once


def test_block_context_never_goes_back():
    system = make()
    system.set_block(5, T0 + 10)
    system.set_block(5, T0 + 10)  # several transactions in one block
    with pytest.raises(ValueError):
        system.set_block(4, T0 + 20)
    with pytest.raises(ValueError):
        system.set_block(6, T0 + 9)
    # uint32(block.number) truncates in Synced
    system.set_block(2**32 + 3, T0 + 10)
    prepay(system, ALICE, ETHER)
    assert sync(system, ALICE, 1)[-1].args[4:] == (3, T0 + 10)


# ----------------------------------------------------------------------------- yield pool


def join_holder(system, user, sats):
    prepay(system, user, ETHER)
    sync(system, user, sats)
    return tx(system, COMMITTEE, "YieldScalesPool", "joinAsBitcoinHolder", (user,))[1]


def test_join_and_rate_formula_with_peak_supply():
    system = make()
    events = join_holder(system, ALICE, 1_000)
    assert events == [
        Event("YieldScalesPool", "ScalesBalanceUpdated", (100, 100, T0)),
        Event("YieldScalesPool", "YieldCalculated", (0, 1_000, 500)),  # 500 * 100 * 100 / 10000
        Event("YieldScalesPool", "ParticipantJoined", (ALICE, 0, 1_000)),
    ]
    assert view(system, "YieldScalesPool", "participants", ALICE) == (0, 0, 1_000, 0, 0, T0, T0, 0)
    assert view(system, "YieldScalesPool", "getParticipant", ALICE) == (0, 0, 1_000, 0, 0, T0, T0, 0)
    assert view(system, "YieldScalesPool", "totalParticipants") == 1
    sync(system, ALICE, 333)  # supply 333 of a 1000 peak: scale 33 once the pool is touched
    assert view(system, "YieldScalesPool", "calculateYieldRate") == 500
    tx(system, COMMITTEE, "YieldScalesPool", "updateRBTCContribution", (ALICE, 333))
    assert view(system, "YieldScalesPool", "getScaleBalance") == (100, 33, T0)
    assert view(system, "YieldScalesPool", "calculateYieldRate") == 500 * 33 * 100 // 10_000 == 165
    assert view(system, "YieldScalesPool", "yieldMetrics") == (500, 165, 0, 1_000)
    assert view(system, "YieldScalesPool", "getSystemStats") == (1, 0, 165, 0, 100, 33)
    assert_reverts(system, AlreadyParticipant(), COMMITTEE, "YieldScalesPool", "joinAsBitcoinHolder", (ALICE,))
    assert_reverts(system, InsufficientBalance(), COMMITTEE, "YieldScalesPool", "joinAsBitcoinHolder", (BOB,))


def test_rate_is_capped_at_max_rate():
    params = ProtocolParams(10, 0, GWEI, 1, 10**16, YieldParams(base_rate=5_000, max_rate=2_000))
    system = ModelSystem(params, DEPLOYER, COMMITTEE, COLLECTOR, T0)
    system.fund(COMMITTEE, 10 * ETHER)
    join_holder(system, ALICE, 10)
    assert view(system, "YieldScalesPool", "calculateYieldRate") == 2_000  # 5000 * 100 * 100 / 1e4 = 5000


def test_configure_yield_only_before_the_first_participant():
    system = make()
    assert_reverts(system, InvalidAmount(), COMMITTEE, "YieldScalesPool", "configureYield", (1, 1, 2, 1, 1, 1, 1))
    tx(system, COMMITTEE, "YieldScalesPool", "configureYield", (600, 900, 1, 2, 3, 4, 5))
    assert view(system, "YieldScalesPool", "yieldParameters") == (600, 900, 1, 2, 3, 4, 5)
    assert view(system, "YieldScalesPool", "calculateYieldRate") == 0  # no supply yet: scale 0
    prepay(system, BOB, ETHER)
    sync(system, BOB, 10)
    tx(system, COMMITTEE, "YieldScalesPool", "configureYield", (700, 900, 1, 2, 3, 4, 5))
    assert view(system, "YieldScalesPool", "yieldMetrics") == (700, 700, 0, 10)  # supply 10 is the peak
    at(system, T0 + 1_000)
    tx(system, COMMITTEE, "YieldScalesPool", "configureYield", (600, 900, 1, 2, 3, 4, 5))
    # the index keeps the 1,000 s at 700 bps before the new parameters take over
    assert view(system, "YieldScalesPool", "yieldIndex") == 700 * 1_000
    assert view(system, "YieldScalesPool", "indexUpdatedAt") == T0 + 1_000
    assert view(system, "YieldScalesPool", "calculateYieldRate") == 600
    join_holder(system, ALICE, 10)
    assert_reverts(system, PoolActive(), COMMITTEE, "YieldScalesPool", "configureYield", (1, 1, 1, 1, 1, 1, 1))


def test_loyalty_tiers_change_at_180_and_365_days_at_checkpoints():
    system = make(ProtocolParams(0, 0, GWEI, 1, 0))  # free syncs, so a large balance needs no prepay
    sats = 10**12

    def accrued(seconds, multiplier):
        return sats * (500 * seconds) * multiplier // ACCRUAL_DIVISOR

    def claim_at(timestamp):
        at(system, timestamp)
        return tx(system, ALICE, "YieldScalesPool", "claimYield")[1][-1].args[1]

    def tier():
        return view(system, "YieldScalesPool", "participants", ALICE)[7]

    join_holder(system, ALICE, sats)
    # the tier found at the previous checkpoint applies to the whole period since then
    assert claim_at(T0 + 180 * DAY - 1) == accrued(180 * DAY - 1, 110)
    assert tier() == 0
    assert claim_at(T0 + 180 * DAY) == accrued(1, 110)
    assert tier() == 1
    assert claim_at(T0 + 365 * DAY - 1) == accrued(185 * DAY - 1, 125)
    assert tier() == 1
    assert claim_at(T0 + 365 * DAY) == accrued(1, 125)
    assert tier() == 2
    assert claim_at(T0 + 400 * DAY) == accrued(35 * DAY, 150)


def test_no_accrual_is_lost_when_a_holders_contribution_changes():
    system = make()
    join_holder(system, ALICE, 10**8)  # 1 BTC at T0, rate 500 bps
    at(system, T0 + 100 * DAY)
    sync(system, ALICE, 2 * 10**8)
    tx(system, COMMITTEE, "YieldScalesPool", "updateRBTCContribution", (ALICE, 2 * 10**8))
    at(system, T0 + 200 * DAY)
    # By hand: 100 days of 1e8 sats at 500 bps, bronze (110 %), then 100 days of 2e8 sats:
    #   1e8 * (500 * 8,640,000) * 110 // 31,536,000,000,000 = 1,506,849
    #   2e8 * (500 * 8,640,000) * 110 // 31,536,000,000,000 = 3,013,698
    expected = 1_506_849 + 3_013_698
    naive = 3_013_698  # "reset the clock on every update" would keep only the second period
    assert view(system, "YieldScalesPool", "calculateYieldOwed", ALICE) == expected
    _, events = tx(system, ALICE, "YieldScalesPool", "claimYield")
    assert events[-1] == Event("YieldScalesPool", "YieldClaimed", (ALICE, expected)) and expected != naive
    assert view(system, "YieldScalesPool", "calculateYieldOwed", ALICE) == 0
    assert view(system, "YieldScalesPool", "yieldMetrics")[2] == expected
    assert_reverts(system, NothingToClaim(), ALICE, "YieldScalesPool", "claimYield")


def test_a_rate_change_applies_from_the_moment_the_pool_sees_it():
    system = make()
    prepay(system, BOB, ETHER)
    sync(system, BOB, 10**8)
    join_holder(system, ALICE, 10**8)  # supply = peak = 2e8: rate 500
    at(system, T0 + 10 * DAY)
    sync(system, BOB, 0)  # supply halves, but the pool has not been touched yet
    at(system, T0 + 20 * DAY)
    tx(system, COMMITTEE, "YieldScalesPool", "updateRBTCContribution", (ALICE, 10**8))  # rate -> 250
    assert view(system, "YieldScalesPool", "calculateYieldRate") == 250
    at(system, T0 + 30 * DAY)
    # 20 days at 500 (checkpointed), then 10 days at 250; never 250 retroactively (226,027 for 30 days)
    expected = 10**8 * 500 * (20 * DAY) * 110 // ACCRUAL_DIVISOR + 10**8 * 250 * (10 * DAY) * 110 // ACCRUAL_DIVISOR
    assert expected == 301_369 + 75_342
    assert tx(system, ALICE, "YieldScalesPool", "claimYield")[1][-1].args == (ALICE, expected)
    assert view(system, "YieldScalesPool", "yieldIndex") == 500 * 20 * DAY + 250 * 10 * DAY


@given(gaps=st.lists(st.integers(0, 120 * DAY), min_size=1, max_size=12), sats=st.integers(1, 10**10))
@settings(max_examples=60, deadline=None)
def test_claims_equal_accrual_to_the_unit(gaps, sats):
    system = make()
    join_holder(system, ALICE, sats)
    rate = 500  # one holder at peak supply
    now = last_checkpoint = T0
    tier = 0
    total = 0
    for gap in gaps:
        now += gap
        at(system, now)
        owed = sats * (rate * (now - last_checkpoint)) * (110, 125, 150)[tier] // ACCRUAL_DIVISOR
        assert view(system, "YieldScalesPool", "calculateYieldOwed", ALICE) == owed
        if owed == 0:
            assert_reverts(system, NothingToClaim(), ALICE, "YieldScalesPool", "claimYield")
            continue
        assert tx(system, ALICE, "YieldScalesPool", "claimYield")[1][-1].args == (ALICE, owed)
        total += owed
        last_checkpoint = now
        age = now - T0
        tier = 2 if age >= 365 * DAY else (1 if age >= 180 * DAY else 0)
        assert view(system, "YieldScalesPool", "participants", ALICE)[3:5] == (total, total)
    assert view(system, "YieldScalesPool", "yieldMetrics")[2] == total


def test_traders_disputes_and_pool_emergency_burn():
    system = make()
    join_holder(system, ALICE, 10**8)
    _, events = tx(system, COMMITTEE, "YieldScalesPool", "joinAsTrader", (BOB, 1_000))
    assert events[-1] == Event("YieldScalesPool", "ParticipantJoined", (BOB, 1, 1_000))
    assert_reverts(system, InvalidAmount(), COMMITTEE, "YieldScalesPool", "joinAsTrader", (BOB, 0))
    assert_reverts(system, InvalidParticipant(), COMMITTEE, "YieldScalesPool", "updateRBTCContribution", (BOB, 1))
    at(system, T0 + 10 * DAY)
    tx(system, COMMITTEE, "YieldScalesPool", "joinAsTrader", (BOB, 500))  # a top-up checkpoints first
    bob = view(system, "YieldScalesPool", "participants", BOB)
    assert bob == (1, 1_500, 0, 1_000 * 500 * (10 * DAY) * 110 // ACCRUAL_DIVISOR, 0, T0, T0 + 10 * DAY, 0)
    assert view(system, "YieldScalesPool", "totalVirtualUSDT") == 1_500
    assert view(system, "YieldScalesPool", "totalParticipants") == 2

    assert_reverts(system, NoDispute(), COMMITTEE, "YieldScalesPool", "resolveDispute", (ALICE, True))
    assert tx(system, ALICE, "YieldScalesPool", "disputeBalance", (7, 8))[1] == [
        Event("YieldScalesPool", "BalanceDisputed", (ALICE, 7, 8))]
    assert view(system, "YieldScalesPool", "isDisputed", ALICE) is True
    assert_reverts(system, DisputeAlreadyFiled(), ALICE, "YieldScalesPool", "disputeBalance", (7, 8))
    assert tx(system, COMMITTEE, "YieldScalesPool", "resolveDispute", (ALICE, False))[1] == [
        Event("YieldScalesPool", "DisputeResolved", (ALICE, False))]
    assert view(system, "YieldScalesPool", "disputedBalances", ALICE) is False

    _, events = tx(system, COMMITTEE, "YieldScalesPool", "emergencyBurn", (ALICE, 10**8))
    assert events[-1] == Event("YieldScalesPool", "EmergencyBurnTriggered", (ALICE, 10**8, "Insufficient fees"))
    alice = view(system, "YieldScalesPool", "participants", ALICE)
    assert alice[2] == 0 and alice[3] == 10**8 * 500 * (10 * DAY) * 110 // ACCRUAL_DIVISOR
    tx(system, COMMITTEE, "YieldScalesPool", "emergencyBurn", (BOB, 1))  # a trader keeps its USDT
    assert view(system, "YieldScalesPool", "participants", BOB)[1] == 1_500


# ----------------------------------------------------------------------------- proof of reserves


def test_publish_rounds_latest_and_verification():
    system = make()
    assert_reverts(system, NoPublication(), ALICE, "ProofOfReserves", "latest")
    leaves = [keccak(bytes([i])) for i in range(5)]
    tree = MerkleTree(leaves)
    at(system, T0 + 77, number=3)
    round_, events = tx(system, COMMITTEE, "ProofOfReserves", "publishRoot", (tree.root, 840_000, 12_345))
    assert round_ == 0
    assert events == [Event("ProofOfReserves", "ReservesPublished", (0, tree.root, 840_000, 12_345, T0 + 77))]
    assert tx(system, COMMITTEE, "ProofOfReserves", "publishRoot", (b"\x05" * 32, 840_001, 1))[0] == 1
    assert view(system, "ProofOfReserves", "rounds") == 2
    assert view(system, "ProofOfReserves", "publication", 0) == (tree.root, 840_000, 12_345, T0 + 77)
    assert view(system, "ProofOfReserves", "latest") == (b"\x05" * 32, 840_001, 1, T0 + 77)
    with pytest.raises(NoPublication):
        view(system, "ProofOfReserves", "publication", 2)
    proof = tuple(tree.proof(3))
    assert view(system, "ProofOfReserves", "verifyInRound", 0, leaves[3], proof) is True
    assert view(system, "ProofOfReserves", "verifyInRound", 1, leaves[3], proof) is False
    assert view(system, "ProofOfReserves", "verify", tree.root, leaves[3], proof) is True
    assert view(system, "ProofOfReserves", "processProof", leaves[3], proof) == tree.root
    with pytest.raises(NoPublication):
        view(system, "ProofOfReserves", "verifyInRound", 2, leaves[3], proof)


def test_leaf_hash_packs_the_snapshot_leaf():
    eth, program, checksum = "0x" + "11" * 20, bytes(12) + b"\x22" * 20, b"\x33" * 32
    packed = (bytes.fromhex("11" * 20) + program + checksum + bytes([1]) + (123_456_789).to_bytes(8, "big")
              + (840_000).to_bytes(4, "big") + (1_700_000_000).to_bytes(8, "big"))
    assert len(packed) == 20 + 32 + 32 + 1 + 8 + 4 + 8
    digest = leaf_hash(eth, program, checksum, 1, 123_456_789, 840_000, 1_700_000_000)
    assert digest == keccak(packed)
    # the same values through the compiled ProofOfReserves.leafHash on py-evm
    assert digest.hex() == "f3306cb69bfef7b491424c5f6a2e74c7535f0d57637e389069eea1482a356e9e"
    top = leaf_hash("0x" + "ab" * 20, b"\x44" * 32, b"\x55" * 32, 2, 2**64 - 1, 2**32 - 1, 2**64 - 1)
    assert top.hex() == "0e26f09683dd530bba48a9aad9a3bc8a3540730405bee9686e349453bd7b3355"
    system = make()
    assert view(system, "ProofOfReserves", "leafHash", eth, program, checksum, 1, 123_456_789, 840_000,
                1_700_000_000) == digest
    with pytest.raises(ValueError):
        leaf_hash(eth, program, checksum, 256, 0, 0, 0)  # method is a uint8
    with pytest.raises(ValueError):
        leaf_hash(eth, program[1:], checksum, 1, 0, 0, 0)  # the program must be 32 bytes


@pytest.mark.parametrize("n", range(1, 34))
@pytest.mark.parametrize("sort_leaves", [True, False])
def test_merkle_proofs_verify_for_every_leaf_and_fail_when_tampered(n, sort_leaves):
    leaves = [keccak(n.to_bytes(2, "big") + i.to_bytes(2, "big")) for i in range(n)]
    tree = MerkleTree(leaves, sort_leaves=sort_leaves)
    depth = (n - 1).bit_length()  # ceil(log2 n)
    for i, leaf in enumerate(leaves):
        proof = tree.proof(i)
        assert process_proof(leaf, proof) == tree.root
        assert depth - 1 <= len(proof) <= depth
        tampered = bytes([leaf[0] ^ 1]) + leaf[1:]
        assert process_proof(tampered, proof) != tree.root
        if proof:
            bad = list(proof)
            bad[-1] = bytes([bad[-1][0] ^ 1]) + bad[-1][1:]
            assert process_proof(leaf, bad) != tree.root
    if n == 1:
        assert tree.root == leaves[0] and tree.proof(0) == []
    if n == 2:
        assert tree.root == hash_pair(leaves[0], leaves[1]) == hash_pair(leaves[1], leaves[0])


def test_merkle_roots_equal_openzeppelin_merkle_tree():
    # Roots of @openzeppelin/merkle-tree 1.0.8 SimpleMerkleTree.of(leaves[, {sortLeaves: false}]) for
    # leaves keccak256(bytes30(0) ++ uint8(n) ++ uint8(i)), i < n.
    def leaves(n):
        return [keccak(bytes(30) + bytes([n, i])) for i in range(n)]

    assert MerkleTree(leaves(3)).root.hex() == "0ff3c04bbe7e5d2cc33bd6c48652bbd91d9e778459f7b5bcd946099f82a8aada"
    assert MerkleTree(leaves(5)).root.hex() == "b84ab7e9245e82f0dee8d9465c9bce910fba8b75c46aae7c47c06c2d8f0c83b7"
    assert MerkleTree(leaves(7)).root.hex() == "26cb392b3d2583131c7b100510440c611a95ae0ad5a47a2198e7364958353b88"
    assert MerkleTree(leaves(33)).root.hex() == "41c5b88de935fdcbb095b3fa8ba5f117da6b593510c192054168a00e9cc73bae"
    with pytest.raises(ValueError):
        MerkleTree([])

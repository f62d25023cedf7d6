"""The observable state both backends expose, and lockstep catching a planted difference."""

from __future__ import annotations

import pytest

from contracts_model import errors
from contracts_model.errors import Panic
from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from sim.protocol.lockstep import LockstepBackend, LockstepDivergence
from sim.protocol.model_backend import ModelBackend
from sim.protocol.observe import differences, observe

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
ETHER = 10**18


def test_observation_keys_and_values():
    backend = ModelBackend(PRESETS["testnet"])
    committee = backend.accounts.committee
    backend.deposit(committee, ALICE, ETHER)
    backend.sync(ALICE, 500)
    backend.pool("joinAsBitcoinHolder", ALICE)
    state = observe(backend, [BOB, ALICE, ALICE])
    assert list(state["users"]) == [ALICE, BOB]
    alice, bob = state["users"][ALICE], state["users"][BOB]
    assert alice["rbtc"] == alice["lastSats"] == 500
    assert alice["participant"][2] == 500
    assert alice["yieldOwed"] == 0
    assert bob["yieldOwed"] is None
    g = state["globals"]
    assert g["RBTCSynth.totalSupply"] == 500
    assert "ProofOfReserves.latest" not in g
    assert g["eth.FeeVault"] == alice["vault"] == ETHER - backend.quote_fee(ALICE, 500)
    assert g["eth.feeCollector"] == backend.quote_fee(ALICE, 500)


def test_a_view_that_reverts_is_observed_as_its_revert():
    params = ProtocolParams(10, 0, 10**9, 1, 10**16, YieldParams(bronze_multiplier=2**200))
    backend = ModelBackend(params)
    backend.deposit(backend.accounts.committee, ALICE, ETHER)
    backend.sync(ALICE, 10**8)
    backend.pool("joinAsBitcoinHolder", ALICE)
    backend.set_block(10, backend.block[1] + 10**7)  # 1e8 * (500 * 1e7) * 2**200 overflows uint256
    assert observe(backend, [ALICE])["users"][ALICE]["yieldOwed"] == Panic(0x11)


def test_differences_lists_every_disagreeing_path():
    left = {"globals": {"a": 1, "b": 2}, "users": {ALICE: {"rbtc": 5}}}
    right = {"globals": {"a": 1, "b": 3}, "users": {ALICE: {"rbtc": 6}, BOB: {"rbtc": 0}}}
    assert differences(left, right) == [
        ("globals.b", 2, 3),
        (f"users.{ALICE}.rbtc", 5, 6),
        (f"users.{BOB}", "<absent>", {"rbtc": 0}),
    ]


def test_lockstep_reports_a_planted_rule_change_with_step_and_both_values(testnet_lockstep, monkeypatch):
    """Plant a bug in the model: the percentage fee charged on burns too. Lockstep must stop at the burn."""
    chain = testnet_lockstep
    committee = chain.accounts.committee
    chain.deposit(committee, ALICE, ETHER)
    chain.sync(ALICE, 200_000)  # step 2: an increase, charged the same by both
    model_policy = chain.left.system.contracts["FeePolicy"]
    original = type(model_policy).quoteFees

    def charges_burns_too(self, msg, user, delta):
        return original(self, msg, user, abs(delta))

    monkeypatch.setattr(type(model_policy), "quoteFees", charges_burns_too)
    with pytest.raises(LockstepDivergence) as caught:
        chain.sync(ALICE, 50_000)  # step 3: a burn; the planted rule charges 150,000 sats' worth
    divergence = caught.value
    assert divergence.step == 3
    assert "OracleAggregator.sync" in divergence.action
    wrong_fee = 150_000 * 10**9 * 10 // 10_000
    paths = {path: (model, evm) for path, model, evm in divergence.diffs}
    # the model emits a Spent event the EVM does not; the Synced event's fee differs
    assert any(model != evm for model, evm in paths.values())
    rendered = str(divergence)
    assert "step 3" in rendered and str(wrong_fee) in rendered


def test_lockstep_compares_reverts_too(testnet_lockstep, monkeypatch):
    """Plant a model bug that reverts where the contract does not (minting refused)."""
    chain = testnet_lockstep
    chain.deposit(chain.accounts.committee, ALICE, ETHER)
    synth_model = chain.left.system.contracts["RBTCSynth"]

    def refuses(self, msg, user, amount):
        raise errors.BurnExceeds()

    monkeypatch.setattr(type(synth_model), "oracleMint", refuses)
    with pytest.raises(LockstepDivergence) as caught:
        chain.sync(ALICE, 1_000)
    (path, model, evm), = caught.value.diffs
    assert path == "outcome" and model == "revert BurnExceeds()"
    assert [e.name for e in evm.events] == ["Transfer", "Spent", "Synced"]


def test_lockstep_full_state_check_catches_state_only_differences(testnet_lockstep):
    chain = testnet_lockstep
    chain.deposit(chain.accounts.committee, ALICE, ETHER)
    chain.left.set_eth_balance(BOB, 7)  # behind lockstep's back: only the model changes
    chain.track(BOB)
    with pytest.raises(LockstepDivergence) as caught:
        chain.check_state()
    assert (f"users.{BOB}.eth", 7, 0) in caught.value.diffs


def test_lockstep_requires_same_deployment():
    model = ModelBackend(PRESETS["testnet"])
    other = ModelBackend(PRESETS["testnet"], accounts=type(model.accounts)(deployer=BOB))
    with pytest.raises(ValueError, match="different addresses"):
        LockstepBackend(model, other)


def test_reverts_surface_as_named_exceptions_on_both_backends(testnet_lockstep):
    chain = testnet_lockstep
    with pytest.raises(errors.Soulbound):
        chain.transact(ALICE, "RBTCSynth", "approve", (BOB, 1))
    with pytest.raises(errors.Restricted):
        chain.transact(ALICE, "OracleAggregator", "sync", (ALICE, 1, b""))
    with pytest.raises(errors.RevertString) as caught:
        chain.transact(ALICE, "FeeVault", "fallback", ())
    assert caught.value.message == "DIRECT_CALL_REJECTED"

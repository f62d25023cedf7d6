"""The observable state both backends expose, and lockstep catching a planted difference."""

from __future__ import annotations

import pytest

from contracts_model import errors
from contracts_model.errors import Panic
from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from contracts_model.events import Event
from sim.protocol.deviations import DeviationError, load_deviations
from sim.protocol.lockstep import LockstepBackend, LockstepDivergence
from sim.protocol.model_backend import ModelBackend
from sim.protocol.observe import differences, observe
from sim.protocol.port import Receipt

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


# ---------------------------------------------------------------------------------------- foreign builds


class HeightZero(ModelBackend):
    """A stand-in for a foreign build that emits Synced.height = 0 (as the deployed aggregator does)."""

    name = "foreign"

    def transact(self, sender, contract, function, args=(), value=0):
        receipt = super().transact(sender, contract, function, args, value)
        events = tuple(Event(e.contract, e.name, e.args[:4] + (0,) + e.args[5:]) if e.name == "Synced" else e
                       for e in receipt.events)
        return Receipt(receipt.result, events)


def _deviations(tmp_path, text):
    path = tmp_path / "deviations.toml"
    path.write_text(text)
    return load_deviations(path)


def test_a_declared_deviation_is_waived_and_counted(tmp_path):
    waivers = _deviations(tmp_path, '[[deviation]]\nevent = "OracleAggregator.Synced"\nfield = "height"\n'
                                    'expect = 0\nreason = "the deployed contract emits 0"\n')
    chain = LockstepBackend(ModelBackend(PRESETS["testnet"]), HeightZero(PRESETS["testnet"]), deviations=waivers)
    chain.deposit(chain.accounts.committee, ALICE, ETHER)
    chain.sync(ALICE, 1_000)
    chain.sync(ALICE, 400)
    assert waivers.report() == [{"waiver": "event OracleAggregator.Synced.height: always 0",
                                 "reason": "the deployed contract emits 0", "applied": 2}]
    undeclared = LockstepBackend(ModelBackend(PRESETS["testnet"]), HeightZero(PRESETS["testnet"]))
    undeclared.deposit(undeclared.accounts.committee, ALICE, ETHER)
    with pytest.raises(LockstepDivergence, match=r"events\[2\]"):
        undeclared.sync(ALICE, 1_000)


@pytest.mark.parametrize(("text", "message"), [
    ('[[deviation]]\nevent = "OracleAggregator.Synced"\nfield = "hieght"\n', "'hieght' is not an argument"),
    ('[[deviation]]\nevent = "Oracle.Synced"\nfield = 4\n', "unknown contract 'Oracle'"),
    ('[[deviation]]\nevent = "OracleAggregator.Synced"\n', "needs a 'field'"),
    ('[[deviation]]\nview = "YieldScalesPool.yieldMetrics"\nevent = "OracleAggregator.Synced"\n', "exactly one"),
    ('[[deviation]]\nevent = "OracleAggregator.Synced"\nfield = 4\nexpect = "whatever"\n', "expect"),
    ("[deviation]\n", r"must be \[\[deviation\]\] tables"),
])
def test_a_bad_deviations_file_is_one_line(tmp_path, text, message):
    with pytest.raises(DeviationError, match=message) as caught:
        _deviations(tmp_path, text)
    assert "\n" not in str(caught.value)


def test_recording_mode_keeps_the_divergence_and_goes_on_with_the_build(tmp_path):
    seen = []
    chain = LockstepBackend(ModelBackend(PRESETS["testnet"]), HeightZero(PRESETS["testnet"]),
                            on_divergence="record", listener=seen.append)
    chain.deposit(chain.accounts.committee, ALICE, ETHER)
    receipt = chain.sync(ALICE, 1_000)  # diverges: recorded, not raised
    assert [e.args[4] for e in receipt.events if e.name == "Synced"] == [0]  # the build's receipt
    assert len(seen) == 1 and seen[0].step == 2 and not chain.comparing
    chain.sync(ALICE, 2_000)  # no longer compared: one divergence, not a flood
    assert chain.rbtc_balance(ALICE) == 2_000 and len(chain.divergences) == 1
    rebuilt = LockstepDivergence(*LockstepDivergence(seen[0]).args)  # what SimPy does with a failed process
    assert rebuilt.step == 2 and "events[2]" in str(rebuilt)


def test_a_build_without_the_optional_contract_is_compared_on_what_both_have():
    class NoReserves(ModelBackend):
        name = "foreign"

        def __init__(self, params):
            super().__init__(params)
            del self.addresses["ProofOfReserves"]

        def has_function(self, contract, function):
            return contract in self.addresses and function != "yieldIndex"  # lacks an extra view too

    chain = LockstepBackend(ModelBackend(PRESETS["testnet"]), NoReserves(PRESETS["testnet"]))
    assert "ProofOfReserves" not in chain.addresses and not chain.has("ProofOfReserves")
    chain.deposit(chain.accounts.committee, ALICE, ETHER)
    chain.sync(ALICE, 5_000)
    chain.track(ALICE)
    chain.check_state()  # neither the missing contract nor the missing view is a difference

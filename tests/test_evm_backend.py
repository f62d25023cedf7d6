"""The EVM backend: deployment, calls, reverts, snapshots, the block clock and the web3 view."""

from __future__ import annotations

import attrs
import pytest
from eth_abi import encode
from eth_utils import keccak

from contracts_model import errors
from contracts_model.params import PRESETS, YieldParams
from sim.evm.codec import ContractCodec, decode_revert
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.model_backend import ModelBackend

ALICE = "0x" + "a1" * 20
ETHER = 10**18


@pytest.fixture(scope="module")
def evm():
    return EvmBackend(PRESETS["fixed_fee"])


@pytest.fixture
def fresh(evm):
    token = evm.snapshot()
    yield evm
    evm.revert(token)


def test_deploys_where_the_model_does(evm):
    assert evm.addresses == ModelBackend(PRESETS["fixed_fee"]).addresses
    assert evm.call("OracleAggregator", "committee") == evm.accounts.committee
    assert evm.call("RBTCSynth", "oracle") == evm.addresses["OracleAggregator"]
    assert evm.call("YieldScalesPool", "oracle") == evm.accounts.committee
    assert evm.call("RBTCSynth", "symbol") == "rBTC-SYNTH"
    assert evm.call("RBTCSynth", "decimals") == 8


def test_calls_return_decoded_values_and_events(fresh):
    fresh.set_block(7, fresh.block[1] + 60)
    receipt = fresh.deposit(fresh.accounts.committee, ALICE, ETHER)
    assert [(e.contract, e.name, e.args) for e in receipt.events] == [("FeeVault", "Deposited", (ALICE, ETHER))]
    receipt = fresh.sync(ALICE, 1_000)
    synced = receipt.events[-1]
    fee = 1_000 * 10**9 * 10 // 10_000 + 10**12
    assert synced.args == (ALICE, 1_000, 1_000, fee, 7, fresh.block[1])
    assert fresh.call("YieldScalesPool", "getParticipant", (ALICE,)) == (0, 0, 0, 0, 0, 0, 0, 0)


def test_snapshot_and_revert_restore_state_and_clock(fresh):
    before = (fresh.block, fresh.total_supply(), fresh.eth_balance(fresh.accounts.fee_collector))
    token = fresh.snapshot()
    fresh.deposit(fresh.accounts.committee, ALICE, ETHER)
    fresh.set_block(100, fresh.block[1] + 3600)
    fresh.sync(ALICE, 5_000)
    assert fresh.total_supply() == 5_000
    fresh.revert(token)
    assert (fresh.block, fresh.total_supply(), fresh.eth_balance(fresh.accounts.fee_collector)) == before
    assert fresh.vault_balance(ALICE) == 0
    fresh.deposit(fresh.accounts.committee, ALICE, ETHER)  # still usable after a revert
    fresh.revert(token)  # and the token can be used again
    assert fresh.vault_balance(ALICE) == 0


def test_the_block_clock_never_goes_back(fresh):
    number, timestamp = fresh.block
    with pytest.raises(ValueError):
        fresh.set_block(number - 1, timestamp)
    with pytest.raises(ValueError):
        fresh.set_block(number, timestamp - 1)


def test_value_beyond_the_senders_balance(fresh):
    fresh.set_eth_balance(ALICE, 5)
    with pytest.raises(errors.InsufficientFunds):
        fresh.deposit(ALICE, ALICE, 6)
    assert fresh.vault_balance(ALICE) == 0


def test_value_to_a_non_payable_function_is_a_bare_revert(fresh):
    fresh.set_eth_balance(ALICE, ETHER)
    with pytest.raises(errors.BareRevert):
        fresh.transact(ALICE, "FeeVault", "withdrawUnused", value=1)
    with pytest.raises(errors.RevertString, match="DIRECT_ETH_REJECTED"):
        fresh.transact(ALICE, "FeeVault", "receive", value=1)


def test_arguments_are_checked_before_anything_runs(fresh):
    with pytest.raises(errors.ArgumentError, match="out of range for uint64"):
        fresh.sync(ALICE, 2**64)
    with pytest.raises(errors.ArgumentError, match="address"):
        fresh.sync("0xABC", 1)
    with pytest.raises(errors.ArgumentError, match="no function"):
        fresh.transact(ALICE, "RBTCSynth", "mint", (ALICE, 1))


def test_web3_view_sees_the_simulated_state(fresh):
    fresh.deposit(fresh.accounts.committee, ALICE, ETHER)
    fresh.sync(ALICE, 77_000)
    w3 = fresh.web3()
    synth = w3.eth.contract(address=w3.to_checksum_address(fresh.addresses["RBTCSynth"]),
                            abi=list(fresh.artifacts["RBTCSynth"].abi))
    assert synth.functions.balanceOf(w3.to_checksum_address(ALICE)).call() == 77_000
    assert w3.eth.get_balance(w3.to_checksum_address(fresh.addresses["FeeVault"])) == fresh.vault_balance(ALICE)
    fresh.sync(ALICE, 80_000)  # the simulation goes on after the view
    assert fresh.web3() is w3
    assert synth.functions.totalSupply().call() == 80_000


def test_custom_yield_parameters_are_deployed():
    params = attrs.evolve(PRESETS["testnet"], yield_params=YieldParams(base_rate=900, max_rate=1500))
    evm = EvmBackend(params)
    assert evm.call("YieldScalesPool", "yieldParameters")[:2] == (900, 1500)


def test_reverts_of_errors_only_a_foreign_build_declares():
    abi = ({"type": "error", "name": "Unheard", "inputs": [{"name": "code", "type": "uint256"}]},)
    codec = ContractCodec("Foreign", abi)
    data = keccak(text="Unheard(uint256)")[:4] + encode(["uint256"], [7])
    revert = decode_revert(data, codec.errors)
    assert type(revert).__name__ == "Unheard" and revert.error_args == (7,)
    assert isinstance(revert, errors.ContractRevert)
    panic = decode_revert(keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11]), {})
    assert panic == errors.Panic(0x11)
    assert decode_revert(b"", {}) == errors.BareRevert()


def test_contracts_are_callable_like_python_objects(fresh):
    synth, vault = fresh.contract("RBTCSynth"), fresh.contract("FeeVault")
    receipt = vault.depositETH(ALICE, sender=fresh.accounts.committee, value=ETHER)
    assert receipt.events[0].name == "Deposited"
    assert vault.balanceOf(ALICE) == ETHER
    assert synth.symbol() == "rBTC-SYNTH"
    with pytest.raises(errors.Soulbound):
        synth.transfer(ALICE, 1, sender=ALICE)
    with pytest.raises(KeyError, match="no contract 'Nope'"):
        fresh.contract("Nope")

"""The revm backend against the py-evm one: same chain, same receipts, same errors, same snapshots."""

from __future__ import annotations

import pytest

from contracts_model import errors
from contracts_model.params import PRESETS
from sim.evm.engine import CHAIN_ID, EvmEngine
from sim.evm.revm_engine import RevmEngine
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend

ALICE, BOB = "0x" + "a1" * 20, "0x" + "b0" * 20
ETHER = 10**18


@pytest.fixture(scope="module")
def pair():
    """py-evm and revm backends of the fixed_fee preset, compared in lockstep after every action."""
    return LockstepBackend(EvmBackend(PRESETS["fixed_fee"]), EvmBackend(PRESETS["fixed_fee"], engine="revm"))


@pytest.fixture
def both(pair):
    token = pair.snapshot()
    yield pair
    pair.revert(token)


def test_names_and_addresses(pair):
    assert (pair.left.name, pair.right.name) == ("evm", "revm")
    assert pair.right.addresses == ModelBackend(PRESETS["fixed_fee"]).addresses


def test_the_same_receipts_events_and_errors(both):
    """Each action runs on both engines; lockstep fails on the first differing result, event or error."""
    committee = both.accounts.committee
    both.set_eth_balance(ALICE, ETHER)
    both.set_block(5, both.block[1] + 30)
    assert both.deposit(committee, ALICE, ETHER // 10).events[0].name == "Deposited"
    synced = both.sync(ALICE, 250_000).events[-1]
    assert synced.name == "Synced" and synced.args[4:] == both.block  # block.number and block.timestamp
    both.set_block(9, both.block[1] + 60)
    both.sync(ALICE, 100_000)
    both.pool("joinAsBitcoinHolder", ALICE)
    with pytest.raises(errors.Soulbound):  # a custom error, by name, on both
        both.transact(ALICE, "RBTCSynth", "transfer", (BOB, 1))
    with pytest.raises(errors.RevertString, match="DIRECT_ETH_REJECTED"):  # receive()
        both.transact(ALICE, "FeeVault", "receive", value=1)
    with pytest.raises(errors.BareRevert):  # value to a non-payable function
        both.transact(ALICE, "FeeVault", "withdrawUnused", value=1)
    with pytest.raises(errors.InsufficientFunds):
        both.deposit(BOB, BOB, 1)
    with pytest.raises(errors.ArgumentError):
        both.sync(ALICE, -1)
    left_in_vault = both.vault_balance(ALICE)
    both.withdraw_unused(ALICE)
    both.check_state()
    assert both.eth_balance(ALICE) == ETHER + left_in_vault  # the committee prepaid for her


def test_snapshots_restore_state_balances_and_clock_and_can_be_reused(both):
    revm = both.right
    before = (revm.block, revm.total_supply(), revm.eth_balance(ALICE), revm.eth_balance(BOB))
    revm.set_eth_balance(BOB, 7)  # an account that exists before the snapshot
    revm.set_eth_balance(BOB, 0)
    token = revm.snapshot()
    revm.set_eth_balance(ALICE, 5 * ETHER)  # one that does not
    revm.set_eth_balance(BOB, 3)
    revm.deposit(ALICE, ALICE, ETHER)
    revm.set_block(100, revm.block[1] + 3_600)
    revm.sync(ALICE, 5_000)
    inner = revm.snapshot()
    revm.sync(ALICE, 9_000)
    revm.revert(inner)
    assert revm.total_supply() == 5_000
    revm.revert(token)
    assert (revm.block, revm.total_supply(), revm.eth_balance(ALICE), revm.eth_balance(BOB)) == before
    assert revm.vault_balance(ALICE) == 0
    revm.set_eth_balance(ALICE, ETHER)
    revm.deposit(ALICE, ALICE, ETHER)
    revm.revert(token)  # the same token again
    assert revm.vault_balance(ALICE) == 0 and revm.eth_balance(ALICE) == before[2]
    with pytest.raises(ValueError, match="snapshot is gone"):
        revm.revert(inner)  # discarded by the revert to the earlier token
    with pytest.raises(ValueError, match="has code"):
        revm.set_eth_balance(revm.addresses["FeeVault"], 1)


def _context_probe() -> bytes:
    """Init code of a contract whose every call returns chainid, number, timestamp, basefee, gasprice,
    coinbase, gaslimit, prevrandao, blobbasefee, one 32-byte word each."""
    opcodes = (0x46, 0x43, 0x42, 0x48, 0x3A, 0x41, 0x45, 0x44, 0x4A)
    runtime = b"".join(bytes((op, 0x61)) + (32 * i).to_bytes(2, "big") + b"\x52" for i, op in enumerate(opcodes))
    runtime += b"\x61" + (32 * len(opcodes)).to_bytes(2, "big") + bytes((0x60, 0x00, 0xF3))
    init = bytes((0x60, len(runtime), 0x60, 12, 0x60, 0x00, 0x39, 0x60, len(runtime), 0x60, 0x00, 0xF3))
    assert len(init) == 12
    return init + runtime


def test_both_engines_show_contracts_the_same_chain():
    """Chain id, block, base fee 0, gas price 0, coinbase, gas limit, prevrandao, blob base fee."""
    seen = []
    for engine in (EvmEngine(1_758_412_800), RevmEngine(1_758_412_800)):
        deployer = engine.address("0x" + "de" * 20)
        created = engine.deploy(deployer, _context_probe()).created
        engine.set_block(42, 1_758_412_900)
        result = engine.execute(deployer, engine.address("0x" + created.hex()), b"", static=True)
        assert result.success
        seen.append([int.from_bytes(result.output[i:i + 32], "big") for i in range(0, len(result.output), 32)])
    assert seen[0] == seen[1]
    assert seen[0][:5] == [CHAIN_ID, 42, 1_758_412_900, 0, 0]


def test_revm_leaves_eth_to_value_alone():
    """No gas is charged to anyone: a sender's ETH moves only by the value it sends."""
    revm = EvmBackend(PRESETS["testnet"], engine="revm")
    committee = revm.accounts.committee
    before = revm.eth_balance(committee)
    revm.deposit(committee, ALICE, 10**16)
    revm.sync(ALICE, 50_000)
    assert revm.eth_balance(committee) == before - 10**16
    assert revm.eth_balance(revm.addresses["FeeVault"]) + revm.eth_balance(revm.accounts.fee_collector) == 10**16


def test_pyrevm_carries_warm_state_between_calls_which_is_why_revm_reports_no_gas():
    """pyrevm keeps one open journal: a call's first storage read is cold (its gas then equals
    py-evm's transaction gas), and the same read in a later call is warm, 2,000 gas cheaper. If a
    pyrevm upgrade closes each call's journal, the second assertion fails: then revm can report gas."""
    revm, pyevm = EvmBackend(PRESETS["testnet"], engine="revm"), EvmBackend(PRESETS["testnet"])
    synth = revm.codecs["RBTCSynth"].function("balanceOf")
    data = synth.encode((ALICE,))
    gas = []
    for _ in range(2):
        revm.engine.execute(revm.accounts.committee, revm.addresses["RBTCSynth"], data)
        gas.append(revm.engine.evm.result.gas_used)
    reference = pyevm.engine.execute(pyevm.engine.address(pyevm.accounts.committee),
                                     pyevm.engine.address(pyevm.addresses["RBTCSynth"]), data).gas
    assert gas[0] == reference
    assert gas[0] - gas[1] == 2_000
    assert revm.deposit(revm.accounts.committee, ALICE, 1).gas is None

"""Gas per function: metered as transactions by py-evm, collected beside the event log, reported."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from contracts_model.params import PRESETS
from sim.config import HOUR, WorldConfig
from sim.protocol.evm_backend import GENESIS_TIMESTAMP, EvmBackend
from sim.protocol.gas import GasTable
from sim.quantiles import nearest_rank as percentile
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend
from sim.world import World

ALICE = "0x" + "a1" * 20


def test_py_evm_gas_is_the_receipt_gas_of_a_real_signed_transaction():
    """The same deposits and syncs as signed eth-tester transactions (the naive baseline): every
    receipt's gasUsed equals the gas the py-evm engine reports for the bare message."""
    from bench.naive_web3 import NaiveWeb3System

    naive = NaiveWeb3System(PRESETS["testnet"], GENESIS_TIMESTAMP)
    evm = EvmBackend(PRESETS["testnet"])
    # eth-tester funds its accounts at genesis; the fee collector must exist here too, or the
    # first fee sent to it pays for creating an account (25,000) on one side only.
    evm.set_eth_balance(evm.accounts.fee_collector, naive.w3.eth.get_balance(
        naive.w3.to_checksum_address(evm.accounts.fee_collector)))
    users = ["0x" + (0x1000 + i).to_bytes(20, "big").hex() for i in range(3)]

    def last_receipt_gas() -> int:  # eth-tester mines every transaction into its own block
        (tx,) = naive.w3.eth.get_block("latest")["transactions"]
        return naive.w3.eth.get_transaction_receipt(tx).gasUsed

    ours, theirs = [], []
    for user in users:
        naive.deposit(user, 10**17)
        theirs.append(last_receipt_gas())
        ours.append(evm.deposit(evm.accounts.committee, user, 10**17).gas)
    for balance in (150_000, 260_000, 90_000, 0):  # mint, mint more, burn, burn all (refunds)
        for user in users:
            naive.sync(user, balance)
            theirs.append(last_receipt_gas())
            ours.append(evm.sync(user, balance).gas)
    assert None not in theirs
    assert ours == theirs
    assert min(ours) > 21_000


def test_lockstep_receipts_carry_the_evm_side_gas():
    model_only = ModelBackend(PRESETS["testnet"])
    assert model_only.deposit(model_only.accounts.committee, ALICE, 10**16).gas is None
    both = LockstepBackend(ModelBackend(PRESETS["testnet"]), EvmBackend(PRESETS["testnet"]))
    receipt = both.deposit(both.accounts.committee, ALICE, 10**16)
    assert receipt.gas > 21_000
    assert receipt == model_only.deposit(model_only.accounts.committee, ALICE, 10**16)  # gas is not compared


def test_the_table_counts_measures_and_keeps_reverts_apart():
    table = GasTable()
    assert table.summary() is None
    for gas in (100, 100, 300, 200, 1_000):
        table.record("C", "f", gas)
    table.reverted("C", "f")
    table.reverted("C", "g")
    (f, g) = table.summary()["functions"]
    assert f == {"contract": "C", "function": "f", "count": 5, "min": 100, "mean": 340, "p50": 200, "p95": 1_000,
                 "max": 1_000, "reverted": 1}
    assert (g["count"], g["reverted"], g["mean"]) == (0, 1, None)
    assert percentile(Counter({5: 1}), 0.95) == 5
    assert [percentile(Counter(range(1, 101)), q) for q in (0.5, 0.95)] == [51, 95]


@pytest.mark.parametrize("backend", ["evm", "lockstep", "model", "revm"])
def test_a_world_reports_gas_per_function_of_its_transactions(backend, tmp_path):
    from sim.report import build_report
    from sim.run import execute
    from sim.scenario import Scenario

    config = WorldConfig(seed=3, users=6, duration_s=6 * HOUR, backend=backend)
    summary, run_dir = execute(Scenario("gas", "", "", config), tmp_path)
    section = (run_dir / "report.md").read_text().split("## Gas per function")[1].split("\n## ")[0]
    if backend in ("model", "revm"):
        assert summary["gas"] is None
        assert "No gas figures for this run" in section
        return
    records = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    sent = Counter((r["to"], r["fn"]) for r in records if r["kind"] == "evm_tx" and r["status"] == "ok")
    rows = {(row["contract"], row["function"]): row for row in summary["gas"]["functions"]}
    assert {key: row["count"] for key, row in rows.items() if row["count"]} == dict(sent)
    sync = rows[("OracleAggregator", "sync")]
    assert 21_000 < sync["min"] <= sync["p50"] <= sync["p95"] <= sync["max"]
    assert f"| OracleAggregator | sync | {sync['count']:,} | {sync['min']:,} |" in section
    assert "21,000 intrinsic" in section
    assert "gas" in json.loads((run_dir / "summary.json").read_text())
    build_report(run_dir)  # the HTML renders the table too
    assert "Gas per function" in (run_dir / "report.html").read_text()

"""The property suites (:mod:`sim.testing`) on the project's own build, at the CI budget.

The CI budget is 3 suites x 100 examples x up to 50 steps on revm (15,000 steps, about 30 s); before
revm and the third suite it was 2 x 25 x 30 on py-evm (1,500 steps in about the same time).

Every suite (testnet, fixed fee, yield parameters where the cap bites) drives the compiled contracts
on the EVM with the reference models beside them and checks PROTOCOL.md's invariants after every
step. The run must hold everywhere and reach every path the suites are built to reach; and a defect
planted in a compiled build must be found, named by its invariant, shrunk, saved and replayed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sim.cli import main
from sim.testing import REQUIRED_PATHS, SUITES, Build, machine_for, machines, replay_counterexample, run_machine
from sim.testing.counterexample import load, pytest_file
from tests.conftest import FUZZ_FACTOR, examples

ROOT = Path(__file__).resolve().parents[1]
#: `make fuzz` explores a new seed each time (RBTC_SEED pins one); CI always the same.
SEED = int(os.environ.get("RBTC_SEED", "0")) or (int.from_bytes(os.urandom(4), "big") if FUZZ_FACTOR > 1 else 20_261)


def test_the_suites_hold_on_the_project_build_and_reach_every_required_path():
    suites, skipped = machines(Build(evm="revm"))  # the fast path; revm is cross-checked against py-evm
    assert skipped == {}
    reached: Counter = Counter()
    for name, machine in suites.items():
        counterexample = run_machine(machine, examples=examples(100), steps=50, seed_value=SEED, name=name)
        assert counterexample is None, f"seed {SEED}\n" + counterexample.render()
        reached.update(machine.paths)
    missing = [path for path in REQUIRED_PATHS if not reached[path]]
    assert missing == [], f"paths never reached at the CI budget (seed {SEED}): {missing}"


def test_a_planted_defect_is_found_named_shrunk_saved_and_replayed(overwriting_vault, tmp_path):
    mutant = Build.at(overwriting_vault, evm="revm")
    machine = machine_for(mutant, SUITES["fixed_fee"], name="Mutant")
    counterexample = run_machine(machine, examples=50, steps=30, seed_value=1, name="fixed_fee")
    assert counterexample is not None and counterexample.invariant == "fees"
    assert len(counterexample.steps) <= 4  # shrunk: set-up, and a deposit (with whatever it needs)
    text = counterexample.render()
    assert "FeeVault.depositETH" in text and "FAILS [fees]" in text
    saved = counterexample.save(tmp_path / "counterexamples" / "fixed_fee-fees.json")
    data = load(saved)
    assert data["failure"]["invariant"] == "fees" and data["steps"][0]["rule"] == "fund_accounts"
    # it replays to the same failure on the mutant, and holds on the project's build
    assert replay_counterexample(data)["invariant"] == "fees"
    assert replay_counterexample(data, Build()) is None
    # and through the command line: exit 1 while it still fails, 0 once the build is right
    assert main(["check", str(overwriting_vault), "--replay", str(saved)]) == 1
    assert main(["check", str(ROOT / "contracts_model" / "artifacts"), "--replay", str(saved)]) == 0
    # the stand-alone pytest file fails on the mutant and passes on the project's build
    test_file = tmp_path / "test_counterexample.py"
    test_file.write_text(pytest_file(data, saved))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]
    env = {k: v for k, v in os.environ.items() if k != "RBTC_CONTRACTS"}
    assert subprocess.run(command, cwd=tmp_path, env=env, capture_output=True).returncode == 1
    fixed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                           env=dict(env, RBTC_CONTRACTS=str(ROOT / "contracts_model" / "artifacts")))
    assert fixed.returncode == 0, fixed.stdout[-2000:]


def test_a_counterexample_file_that_is_not_one_is_bad_input(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"format": "something else"}))
    assert main(["check", str(ROOT / "contracts_model" / "artifacts"), "--replay", str(bad)]) == 2
    assert "not a counterexample file" in capsys.readouterr().err


def test_the_pytest_plugin_runs_the_suites_and_a_users_property_against_a_build(overwriting_vault, tmp_path):
    """`pytest --rbtc-contracts DIR` in someone else's project: our suites and their own property."""
    (tmp_path / "test_mine.py").write_text('''
from hypothesis import assume, given, settings
from sim.testing import balances, users

@settings(max_examples=10, deadline=None)
@given(user=users, balance=balances)
def test_syncing_the_same_balance_twice_changes_nothing(rbtc_new_chain, user, balance):
    chain = rbtc_new_chain()
    assume(balance < 2**63 and chain.quote_fee(user, balance) <= chain.params.max_fee_per_sync_wei)
    chain.deposit(chain.accounts.committee, user, 10**17)
    chain.deposit(chain.accounts.committee, user, 10**17)  # the lockstep models see a vault that overwrites
    chain.sync(user, balance)
    assert chain.sync(user, balance).events == ()
''')
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"]
    own = subprocess.run(base, cwd=tmp_path, capture_output=True, text=True)
    assert own.returncode == 0 and "1 passed" in own.stdout, own.stdout[-2000:]
    broken = subprocess.run(base + ["--rbtc-contracts", str(overwriting_vault), "--rbtc-budget", "quick"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert broken.returncode == 1
    summary = broken.stdout.splitlines()[-1]
    assert "4 failed" in summary, broken.stdout[-3000:]  # the user's property and the three suites
    assert "test_syncing_the_same_balance_twice_changes_nothing" in broken.stdout
    assert "TestRbtcFixedFeeMachine" in broken.stdout and "[fees]" in broken.stdout

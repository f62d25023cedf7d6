"""`rbtc-sim check`: a verdict per invariant for any build, its reports, and its bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import attrs
import pytest

from contracts_model.deployment import Deployment
from sim.check import run_check
from sim.check.report import write
from sim.cli import main
from sim.testing import BUDGETS, Build

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "contracts_model" / "artifacts"
SMALL = attrs.evolve(BUDGETS["quick"], examples=20, steps=30, world_users=30)


def foundry_out(folder: Path, leave_out: tuple[str, ...] = ()) -> Path:
    """The project's build laid out as `forge build` writes out/, without some contracts."""
    out = folder / "out"
    for artifact in sorted(OWN.glob("*.json")):
        name = artifact.stem
        if name in leave_out:
            continue
        ours = json.loads(artifact.read_text())
        (out / f"{name}.sol").mkdir(parents=True)
        (out / f"{name}.sol" / f"{name}.json").write_text(json.dumps({
            "abi": ours["abi"], "bytecode": {"object": ours["bytecode"], "linkReferences": {}},
            "deployedBytecode": {"object": ours["deployedBytecode"]}, "methodIdentifiers": {}}))
    return out


def test_a_foundry_build_without_the_optional_contract_passes_clean_in_lockstep(tmp_path):
    out = foundry_out(tmp_path, leave_out=("ProofOfReserves",))
    result = run_check(Build.at(out, evm="revm"), SMALL, out=tmp_path / "check", worlds=("baseline", "fee_drought"))
    assert result.verdict == "pass", result.failures()
    assert [w["lockstep_divergences"] for w in result.worlds] == [0, 0]
    verdicts = result.invariants()
    assert verdicts["reserves"]["status"] == "not exercised"  # nothing is published without the contract
    assert all(v["status"] in ("held", "not exercised") for v in verdicts.values())
    assert not any(c["check"].startswith("ProofOfReserves") for c in result.deployment)
    md, html = write(result)
    text = md.read_text()
    assert "PASS" in text and "## Protocol paths" in text and "| reserves | not exercised |" in text


def test_a_defect_fails_the_check_with_its_invariant_and_a_replayable_counterexample(overwriting_vault, tmp_path, capsys):
    out = tmp_path / "check"
    status = main(["check", str(overwriting_vault), "--budget", "quick", "--fail-fast", "--out", str(out)])
    assert status == 1
    printed = capsys.readouterr().out
    assert printed.startswith("FAIL: fees")
    report = json.loads((out / "check.json").read_text())
    assert report["verdict"] == "fail" and report["complete"] is True
    assert report["invariants"]["fees"]["status"] == "violated"
    failure = report["failures"][0]
    assert failure["invariant"] == "fees" and failure["replay"].startswith(f"rbtc-sim check {overwriting_vault}")
    saved = Path(failure["counterexample"])
    assert saved.is_file() and (saved.parent / f"test_{saved.stem.split('-')[0]}_fees.py").is_file()
    assert main(["check", str(overwriting_vault), "--replay", str(saved)]) == 1
    md = (out / "check.md").read_text()
    assert "Minimal counterexample" in md and "FeeVault.depositETH" in md and "FAILS [fees]" in md
    assert (out / "check.html").read_text().count("<section") >= 5


def test_a_deployment_whose_pool_oracle_never_calls_the_pool_breaks_wiring(tmp_path):
    wiring = tmp_path / "deployment.toml"
    wiring.write_text('[roles]\npool_oracle = "OracleAggregator"\n')
    build = Build.at(OWN, deployment=Deployment.of(pool_oracle="OracleAggregator"), evm="revm")
    result = run_check(build, attrs.evolve(SMALL, examples=5), out=tmp_path / "check", deployment_file=str(wiring),
                       worlds=("baseline",), fail_fast=False)
    verdicts = result.invariants()
    assert verdicts["wiring"]["status"] == "violated"
    assert any("pool_oracle" in f["message"] for f in result.failures() if f["invariant"] == "wiring")


@pytest.mark.parametrize(("args", "needle"), [
    (["/no/such/build"], "artifact directory does not exist"),
    ([str(OWN), "--deployment", "/no/such.toml"], "no such deployment file"),
    ([str(OWN), "--deviations", "/no/such.toml"], "no such deviations file"),
    ([str(OWN), "--seed", "-1"], "--seed -1"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, capsys):
    assert main(["check", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_a_build_missing_a_required_contract_is_bad_input(tmp_path, capsys):
    out = foundry_out(tmp_path, leave_out=("YieldScalesPool",))
    assert main(["check", str(out)]) == 2
    assert "no artifact for contract YieldScalesPool" in capsys.readouterr().err
    shutil.rmtree(out)

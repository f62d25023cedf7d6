"""Compiled artifacts: they match their sources, other layouts load, bad ones fail with one clear message."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts_model.params import PRESETS
from contracts_model.protocol import COMPILER
from sim.protocol.artifacts import (
    DEFAULT_ARTIFACT_DIR,
    PROTOCOL_CONTRACTS,
    ArtifactError,
    load_artifacts,
    source_digest,
)
from sim.protocol.evm_backend import EvmBackend

ROOT = Path(__file__).resolve().parents[1]
ALL = PROTOCOL_CONTRACTS + ("ProofOfReserves",)


def test_committed_artifacts_record_the_current_sources():
    for name in ALL:
        artifact = json.loads((DEFAULT_ARTIFACT_DIR / f"{name}.json").read_text())
        assert artifact["sourceHash"] == source_digest(name), f"{name}.json is stale: run `make contracts`"
        assert artifact["compiler"]["version"].startswith("0.8.28+"), artifact["compiler"]
        assert artifact["compiler"]["settings"] == COMPILER["settings"]


def test_a_fresh_build_with_the_pinned_compiler_is_byte_identical():
    solc = ROOT / "node_modules" / "solc" / "package.json"
    assert solc.exists(), "the pinned solc is missing: `make test` installs it with npm ci"
    assert json.loads(solc.read_text())["version"] == "0.8.28"
    done = subprocess.run(["node", "tools/compile.js", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_source_digest_covers_its_contract_and_its_imports_only(tmp_path):
    copy = tmp_path / "solidity"
    shutil.copytree(DEFAULT_ARTIFACT_DIR.parent / "solidity", copy)
    before = {name: source_digest(name, copy) for name in ALL}
    target = copy / "FeePolicy.sol"
    target.write_text(target.read_text().replace("10_000", "10_001"))
    after = {name: source_digest(name, copy) for name in ALL}
    assert [name for name in ALL if after[name] != before[name]] == ["FeePolicy"]
    shared = copy / "Interfaces.sol"  # imported by every contract but ProofOfReserves
    shared.write_text(shared.read_text() + "\n// touched\n")
    touched = {name for name in ALL if source_digest(name, copy) != after[name]}
    assert touched == set(ALL) - {"ProofOfReserves"}


def test_compiling_one_contract_rewrites_only_its_artifact(tmp_path):
    out = tmp_path / "artifacts"
    shutil.copytree(DEFAULT_ARTIFACT_DIR, out)
    src = tmp_path / "solidity"
    shutil.copytree(DEFAULT_ARTIFACT_DIR.parent / "solidity", src)
    target = src / "FeePolicy.sol"
    target.write_text(target.read_text().replace("10_000", "1_000"))
    done = subprocess.run(["node", "tools/compile.js", "--src", str(src), "--out", str(out), "--changed"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "(FeePolicy)" in done.stdout
    changed = [name for name in ALL
               if (out / f"{name}.json").read_bytes() != (DEFAULT_ARTIFACT_DIR / f"{name}.json").read_bytes()]
    assert changed == ["FeePolicy"]
    assert json.loads((out / "FeePolicy.json").read_text())["sourceHash"] == source_digest("FeePolicy", src)


def _foundry_out(tmp_path: Path) -> Path:
    """Re-shape our artifacts the way `forge build` lays out out/."""
    out = tmp_path / "out"
    for name in ALL:
        ours = json.loads((DEFAULT_ARTIFACT_DIR / f"{name}.json").read_text())
        folder = out / f"{name}.sol"
        folder.mkdir(parents=True)
        foundry = {
            "abi": ours["abi"],
            "bytecode": {"object": ours["bytecode"], "linkReferences": {}},
            "deployedBytecode": {"object": ours["deployedBytecode"]},
        }
        (folder / f"{name}.json").write_text(json.dumps(foundry))
    return out


@pytest.mark.parametrize("engine", ["pyevm", "revm"])
def test_foundry_out_layout_loads_and_deploys_identically(tmp_path, engine):
    out = _foundry_out(tmp_path)
    loaded = load_artifacts(out)
    assert sorted(loaded) == sorted(ALL)
    foreign = EvmBackend(PRESETS["testnet"], artifacts_dir=out, engine=engine)
    ours = EvmBackend(PRESETS["testnet"])
    assert foreign.addresses == ours.addresses
    user = "0x" + "42" * 20
    foreign.deposit(foreign.accounts.committee, user, 10**16)
    foreign.sync(user, 12_345)
    assert foreign.rbtc_balance(user) == 12_345


@pytest.mark.parametrize("engine", ["pyevm", "revm"])
def test_a_build_without_the_optional_proof_of_reserves_still_runs(tmp_path, engine):
    out = _foundry_out(tmp_path)
    shutil.rmtree(out / "ProofOfReserves.sol")
    backend = EvmBackend(PRESETS["testnet"], artifacts_dir=out, engine=engine)
    assert not backend.has("ProofOfReserves")
    assert backend.has_function("OracleAggregator", "sync")


def test_missing_directory(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifacts(tmp_path / "nowhere")


def test_a_file_instead_of_a_directory(tmp_path):
    file = tmp_path / "artifacts.json"
    file.write_text("{}")
    with pytest.raises(ArtifactError, match="not a directory"):
        load_artifacts(file)


def test_an_artifact_missing_a_contract_names_it(tmp_path):
    out = _foundry_out(tmp_path)
    shutil.rmtree(out / "FeeVault.sol")
    with pytest.raises(ArtifactError) as caught:
        load_artifacts(out)
    message = str(caught.value)
    assert "FeeVault" in message and str(out) in message
    assert "\n" not in message


def test_malformed_json_names_the_file(tmp_path):
    out = _foundry_out(tmp_path)
    broken = out / "RBTCSynth.sol" / "RBTCSynth.json"
    broken.write_text('{"abi": [')
    with pytest.raises(ArtifactError, match=r"RBTCSynth\.json: not JSON"):
        load_artifacts(out)


def test_an_abi_lacking_a_required_function_names_file_and_function(tmp_path):
    out = _foundry_out(tmp_path)
    path = out / "OracleAggregator.sol" / "OracleAggregator.json"
    data = json.loads(path.read_text())
    data["abi"] = [e for e in data["abi"] if e.get("name") != "executeEmergencyBurn"]
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError) as caught:
        load_artifacts(out)
    assert str(path) in str(caught.value)
    assert "executeEmergencyBurn(address)" in str(caught.value)


def test_an_abi_lacking_an_event_is_refused(tmp_path):
    out = _foundry_out(tmp_path)
    path = out / "OracleAggregator.sol" / "OracleAggregator.json"
    data = json.loads(path.read_text())
    data["abi"] = [e for e in data["abi"] if e.get("name") != "EmergencyBurn"]
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"event EmergencyBurn\(address,uint256,string\)"):
        load_artifacts(out)


def test_interface_only_artifact_is_refused(tmp_path):
    out = _foundry_out(tmp_path)
    path = out / "FeePolicy.sol" / "FeePolicy.json"
    data = json.loads(path.read_text())
    data["bytecode"] = {"object": "0x"}
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="empty bytecode for FeePolicy"):
        load_artifacts(out)


def test_custom_yield_parameters_need_configure_yield(tmp_path):
    import attrs

    from contracts_model.params import YieldParams

    out = _foundry_out(tmp_path)
    path = out / "YieldScalesPool.sol" / "YieldScalesPool.json"
    data = json.loads(path.read_text())
    data["abi"] = [e for e in data["abi"] if e.get("name") != "configureYield"]
    path.write_text(json.dumps(data))
    params = attrs.evolve(PRESETS["testnet"], yield_params=YieldParams(base_rate=900))
    with pytest.raises(ArtifactError, match="configureYield"):
        EvmBackend(params, artifacts_dir=out)


def test_an_absurdly_nested_artifact_is_refused_not_a_crash(tmp_path):
    """Found by hand: 100,000 nested arrays overflowed the C stack (a segfault) under py-evm's raised
    recursion limit; artifacts now go through the one bounded reader, with an AST-sized depth."""
    import eth  # noqa: F401  (py-evm raises the interpreter's recursion limit, as in a real run)

    out = _foundry_out(tmp_path)
    (out / "RBTCSynth.sol" / "RBTCSynth.json").write_text("[" * 100_000)
    with pytest.raises(ArtifactError, match=r"RBTCSynth\.json: nested more than 512 levels deep"):
        load_artifacts(out)

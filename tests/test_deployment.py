"""Deployment as data: who holds each role, from the defaults, a TOML file or a Foundry broadcast;
and one argument normalizer for every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts_model import errors
from contracts_model.deployment import Deployment, DeploymentError, contract_addresses
from contracts_model.params import PRESETS
from contracts_model.protocol import DEPLOYMENT_ORDER, ROLE_CONTRACT, ROLES
from sim.protocol.deployment import Accounts, load_deployment
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend
from sim.protocol.port import RoleNotHeld

BROADCAST = Path(__file__).with_name("data") / "broadcast" / "Deploy.s.sol" / "31337" / "run-latest.json"
USER = "0x" + "42" * 20


def test_every_role_belongs_to_a_constructor_and_the_default_is_the_projects_wiring():
    assert set(ROLE_CONTRACT) == set(ROLES)
    default = Deployment()
    assert default.holder("pool_oracle") == "committee" and default.holder("vault_spender") == "OracleAggregator"
    backend = ModelBackend(PRESETS["testnet"])
    a = backend.accounts
    assert backend.call("YieldScalesPool", "oracle") == a.committee
    assert backend.call("FeeVault", "oracle") == backend.addresses["OracleAggregator"]
    assert backend.call("FeeVault", "feeCollector") == a.fee_collector
    assert backend.call("OracleAggregator", "committee") == a.committee


def test_a_rewired_deployment_is_deployed_as_declared_on_every_backend():
    wiring = Deployment.of(pool_oracle="OracleAggregator", reserves_publisher="deployer")
    assert wiring.changes() == {"pool_oracle": "OracleAggregator", "reserves_publisher": "deployer"}
    lockstep = LockstepBackend(ModelBackend(PRESETS["testnet"], deployment=wiring),
                               EvmBackend(PRESETS["testnet"], deployment=wiring))
    assert lockstep.call("YieldScalesPool", "oracle") == lockstep.addresses["OracleAggregator"]
    assert lockstep.call("ProofOfReserves", "committee") == lockstep.accounts.deployer
    with pytest.raises(RoleNotHeld, match="pool_oracle is held by the contract OracleAggregator"):
        lockstep.pool("joinAsBitcoinHolder", USER)
    # the committee that syncs can no longer join anyone to the pool
    with pytest.raises(errors.NotOracle):
        lockstep.transact(lockstep.accounts.committee, "YieldScalesPool", "joinAsBitcoinHolder", (USER,))
    lockstep.check_state()


def test_a_literal_address_can_hold_a_role_and_the_harness_acts_from_it():
    outsider = "0x" + "0a" * 20
    backend = EvmBackend(PRESETS["testnet"], deployment=Deployment.of(committee=outsider.upper().replace("0X", "0x")))
    assert backend.actor("committee") == outsider
    backend.set_eth_balance(outsider, 10**18)
    backend.transact(outsider, "FeeVault", "depositETH", (USER,), value=10**16)
    backend.sync(USER, 5_000)  # sent from the outsider, who is the aggregator's committee here
    assert backend.rbtc_balance(USER) == 5_000
    with pytest.raises(errors.Restricted):
        backend.transact(backend.accounts.committee, "OracleAggregator", "sync", (USER, 1, b""))


@pytest.mark.parametrize(("roles", "message"), [
    ({"pool_orakel": "committee"}, "unknown role 'pool_orakel'"),
    ({"pool_oracle": "FeeCollector"}, "'FeeCollector' is neither an account"),
    ({"pool_oracle": 5}, "expected an account name, a contract name or an address"),
])
def test_bad_roles_are_one_line_errors(roles, message):
    with pytest.raises(DeploymentError, match=message) as caught:
        Deployment.of(**roles)
    assert "\n" not in str(caught.value)


def test_a_toml_deployment_file(tmp_path):
    path = tmp_path / "deployment.toml"
    path.write_text('[roles]\npool_oracle = "OracleAggregator"\nfee_collector = "0x' + "ab" * 20 + '"\n')
    loaded = load_deployment(path)
    assert loaded.deployment.changes() == {"pool_oracle": "OracleAggregator", "fee_collector": "0x" + "ab" * 20}
    path.write_text("[roles]\npool_oracle = \"nobody\"\n")
    with pytest.raises(DeploymentError, match=r"deployment.toml: \[roles\] role pool_oracle: 'nobody'"):
        load_deployment(path)
    path.write_text("[wiring]\n")
    with pytest.raises(DeploymentError, match=r"unknown table \[wiring\]"):
        load_deployment(path)
    path.write_bytes(b"\xff\xfe[\x00r\x00")
    with pytest.raises(DeploymentError, match="UTF-16 text; expected TOML in UTF-8"):
        load_deployment(path)


def test_a_foundry_broadcast_names_the_roles_and_the_deployed_parameters():
    loaded = load_deployment(BROADCAST)
    # The broadcast deploys the pool with the OracleAggregator as its oracle, as the deployed system does.
    assert loaded.deployment.changes() == {"pool_oracle": "OracleAggregator"}
    assert loaded.deployment.holder("committee") == "committee"
    assert loaded.deployment.holder("fee_collector") == "fee_collector"
    assert loaded.params == {"pct_bps": 10, "fixed_wei": 0, "wei_per_sat": 10**9, "min_confirmations": 6,
                             "max_fee_per_sync_wei": 10**16}


def test_a_broadcast_missing_a_protocol_contract_is_refused(tmp_path):
    path = tmp_path / "run-latest.json"
    path.write_text(BROADCAST.read_text().replace('"contractName": "YieldScalesPool"', '"contractName": "Other"'))
    with pytest.raises(DeploymentError, match="creates no YieldScalesPool"):
        load_deployment(path)
    path.write_text('{"transactions": 5}')
    with pytest.raises(DeploymentError, match="not a Foundry broadcast"):
        load_deployment(path)


def test_planned_addresses_follow_the_declaration_order():
    planned = contract_addresses(Accounts().deployer)
    assert list(planned) == list(DEPLOYMENT_ORDER)
    assert ModelBackend(PRESETS["testnet"]).addresses == planned


@pytest.mark.parametrize("args", [
    (USER.upper().replace("0X", "0x"), 5, b""),  # an upper-case address: accepted by both, normalized alike
    ("0x1234", 5, b""),
    (USER, -1, b""),
    (USER, 2**64, b""),
    (USER, True, b""),
    (USER, 5, "not bytes"),
    (USER, 5),
    (b"\x42" * 20, 7, b""),  # raw address bytes
])
def test_model_and_evm_normalize_arguments_identically(args):
    """One normalizer for every backend: an input-format difference never looks like a divergence."""
    outcomes = []
    for backend in (ModelBackend(PRESETS["testnet"]), EvmBackend(PRESETS["testnet"])):
        backend.deposit(backend.accounts.committee, USER, 10**16)
        try:
            receipt = backend.transact(backend.accounts.committee, "OracleAggregator", "sync", args)
            outcomes.append(("ok", receipt.events))
        except errors.ArgumentError as exc:
            outcomes.append(("ArgumentError", str(exc)))
    assert outcomes[0] == outcomes[1]

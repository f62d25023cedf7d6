"""The naive baseline: web3.py contract objects over eth-tester, one signed ``transact`` per call.

This is how one would first drive the contracts from Python; ``make bench`` measures the EVM
backend against it in the same process.
"""

from __future__ import annotations

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from sim.protocol.artifacts import load_artifacts
from contracts_model.deployment import deployment_plan
from sim.protocol.deployment import Accounts


class NaiveWeb3System:
    """The protocol deployed and driven through web3 contract objects, transaction by transaction."""

    def __init__(self, params, genesis_timestamp: int):
        backend = PyEVMBackend(genesis_parameters=PyEVMBackend.generate_genesis_params({"timestamp": genesis_timestamp}))
        self.w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
        self.accounts = Accounts()
        artifacts = load_artifacts()
        self.contracts = {}
        deployer = Web3.to_checksum_address(self.accounts.deployer)
        for step in deployment_plan(params, self.accounts.as_dict()):
            art = artifacts[step.contract]
            factory = self.w3.eth.contract(abi=list(art.abi), bytecode=art.bytecode)
            args = [Web3.to_checksum_address(a) if isinstance(a, str) else a for a in step.args]
            receipt = self.w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": deployer}))
            self.contracts[step.contract] = self.w3.eth.contract(address=receipt.contractAddress, abi=list(art.abi))
        self.committee = Web3.to_checksum_address(self.accounts.committee)

    def deposit(self, user: str, wei: int) -> None:
        vault = self.contracts["FeeVault"]
        vault.functions.depositETH(Web3.to_checksum_address(user)).transact({"from": self.committee, "value": wei})

    def sync(self, user: str, new_balance: int) -> bytes:
        """One committee sync, one ``transact``; returns the transaction hash."""
        oracle = self.contracts["OracleAggregator"]
        return oracle.functions.sync(Web3.to_checksum_address(user), new_balance, b"").transact({"from": self.committee})

"""The EVM backends: the compiled contracts executing on py-evm (``evm``) or on revm (``revm``).

One class for both: the engine (:mod:`sim.evm.engine` or :mod:`sim.evm.revm_engine`) executes
messages; everything above it — the deployment plan, ABI encoding, argument checks, revert
decoding, event decoding — is shared, so the two give the same addresses, receipts, events and
errors. py-evm is the default and the reference; revm is the fast path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_abi import encode

from contracts_model.events import Event
from contracts_model.params import ProtocolParams
from sim.evm.codec import ContractCodec, decode_revert
from sim.evm.engine import EvmEngine, Execution
from sim.protocol.artifacts import ArtifactError, load_artifacts
from contracts_model.deployment import Deployment, deployment_plan, yield_configuration
from sim.protocol.deployment import OPERATOR_FUNDING_WEI, Accounts
from sim.protocol.port import Backend, Receipt

#: 2025-09-21T00:00:00Z, the seed document's date; every world starts its clocks here unless told otherwise.
GENESIS_TIMESTAMP = 1_758_412_800


#: Calls that reach a contract's receive() or fallback(): empty calldata, and calldata matching no function.
_SPECIAL_ENTRIES = {"receive": b"", "fallback": b"\xde\xad\xbe\xef"}

#: Engine name -> backend name (on the command line and in reports).
ENGINES = {"pyevm": "evm", "revm": "revm"}


class EvmError(RuntimeError):
    """The EVM failed for a reason other than a revert (out of gas, invalid opcode…)."""


def _make_engine(engine: str, genesis_timestamp: int, genesis_block: int):
    if engine == "pyevm":
        return EvmEngine(genesis_timestamp, genesis_block)
    if engine == "revm":
        from sim.evm.revm_engine import RevmEngine  # raises RevmUnavailable (exit 2) without the wheel

        return RevmEngine(genesis_timestamp, genesis_block)
    raise ValueError(f"unknown EVM engine {engine!r}; expected one of {', '.join(ENGINES)}")


class EvmBackend(Backend):
    """The protocol deployed from compiled artifacts onto an in-memory EVM (py-evm by default, or revm)."""

    name = "evm"

    def __init__(
        self,
        params: ProtocolParams,
        *,
        engine: str = "pyevm",
        accounts: Accounts | None = None,
        deployment: Deployment = Deployment(),
        artifacts_dir: Path | str | None = None,
        genesis_timestamp: int = GENESIS_TIMESTAMP,
        genesis_block: int = 1,
    ):
        self.engine = _make_engine(engine, genesis_timestamp, genesis_block)
        self.name = ENGINES[engine]
        self.params = params
        self.accounts = accounts or Accounts()
        self.deployment = deployment
        self.artifacts = load_artifacts(artifacts_dir)
        self.codecs = {name: ContractCodec(name, art.abi) for name, art in self.artifacts.items()}
        self._errors: dict[bytes, tuple[str, tuple[str, ...]]] = {}
        for codec in self.codecs.values():
            self._errors.update(codec.errors)
        self._address = self.engine.address  # hex -> the engine's own form of an address
        for address in (self.accounts.deployer, self.accounts.committee, self.accounts.fee_collector):
            self.engine.set_balance(self._address(address), 0)
        for address in (self.accounts.deployer, self.accounts.committee):
            self.engine.set_balance(self._address(address), OPERATOR_FUNDING_WEI)
        self.addresses: dict[str, str] = {}
        self._targets: dict[str, Any] = {}  # contract name -> its address in the engine's form
        self._codec_at: dict[str, ContractCodec] = {}  # lowercase hex address -> codec, for logs
        self._null_sender = self._address("0x" + "00" * 20)
        self._deploy()

    # ------------------------------------------------------------------ deployment

    def _deploy(self) -> None:
        deployer = self._address(self.accounts.deployer)
        for step in deployment_plan(self.params, self.accounts.as_dict(), self.deployment):
            artifact = self.artifacts.get(step.contract)
            if artifact is None:  # an optional contract this build does not have
                continue
            constructor = next((e for e in artifact.abi if e.get("type") == "constructor"), {"inputs": []})
            types = tuple(p["type"] for p in constructor["inputs"])
            if len(types) != len(step.args):
                raise ArtifactError(
                    f"{artifact.path}: constructor of {step.contract} takes {len(types)} arguments "
                    f"({', '.join(types) or 'none'}), the protocol passes {len(step.args)}"
                )
            result = self.engine.deploy(deployer, artifact.bytecode + encode(types, step.args))
            if not result.success:
                raise ArtifactError(f"{artifact.path}: deploying {step.contract} failed: {self._failure(result)!r}")
            created = "0x" + result.created.hex()
            if created != step.address:
                raise RuntimeError(f"{step.contract} deployed at {created}, planned {step.address}")
            self.addresses[step.contract] = created
            self._targets[step.contract] = self._address(created)
            self._codec_at[created] = self.codecs[step.contract]
        configuration = yield_configuration(self.params)
        if configuration is not None:
            if "configureYield" not in self.codecs["YieldScalesPool"].functions:
                raise ArtifactError(
                    f"{self.artifacts['YieldScalesPool'].path}: custom yield parameters need "
                    "configureYield(uint256,uint256,uint256,uint256,uint256,uint256,uint256), which this ABI lacks"
                )
            self.transact(self.actor("pool_oracle"), "YieldScalesPool", "configureYield", configuration)

    # ------------------------------------------------------------------ the port

    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0) -> Receipt:
        codec = self.codecs[contract]
        if function in _SPECIAL_ENTRIES and function not in codec.functions:
            fn, data = None, _SPECIAL_ENTRIES[function]
        else:
            fn = codec.function(function)
            data = fn.encode(fn.check_args(args))
        result = self.engine.execute(self._address(sender), self._targets[contract], data, value)
        if not result.success:
            raise self._failure(result)
        output = fn.decode_output(result.output) if fn is not None else None
        return Receipt(output, self._decode_logs(result.logs), result.gas)

    def call(self, contract: str, function: str, args: tuple = ()) -> Any:
        fn = self.codecs[contract].function(function)
        result = self.engine.execute(self._null_sender, self._targets[contract], fn.encode(fn.check_args(args)), 0,
                                     static=True)
        if not result.success:
            raise self._failure(result)
        return fn.decode_output(result.output)

    def set_block(self, number: int, timestamp: int) -> None:
        self.engine.set_block(number, timestamp)

    @property
    def block(self) -> tuple[int, int]:
        return self.engine.block_number, self.engine.timestamp

    def eth_balance(self, address: str) -> int:
        return self.engine.balance(self._address(address))

    def set_eth_balance(self, address: str, wei: int) -> None:
        self.engine.set_balance(self._address(address), wei)

    def snapshot(self) -> Any:
        return self.engine.snapshot()

    def revert(self, token: Any) -> None:
        self.engine.revert(token)

    def has_function(self, contract: str, function: str) -> bool:
        return contract in self.addresses and function in self.codecs[contract].functions

    # ------------------------------------------------------------------ extras

    def web3(self):
        """A web3.py ``Web3`` showing this chain's current state (see :meth:`EvmEngine.web3`); py-evm only."""
        if not isinstance(self.engine, EvmEngine):
            raise NotImplementedError("the web3 view needs the py-evm engine (EvmBackend(params, engine='pyevm'))")
        return self.engine.web3()

    def _failure(self, result: Execution) -> Exception:
        if result.halt is None:
            return decode_revert(result.output, self._errors)
        return EvmError(f"EVM error: {result.halt}")

    def _decode_logs(self, logs: tuple) -> tuple[Event, ...]:
        events = []
        for address, topics, data in logs:
            codec = self._codec_at.get(address)
            spec = codec.events.get(topics[0]) if codec and topics else None
            if spec is None:
                events.append(Event(address, "UnknownLog", (tuple(int.from_bytes(t, "big") for t in topics), data)))
            else:
                events.append(spec.decode(topics, data))
        return tuple(events)

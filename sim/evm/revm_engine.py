"""revm, the Rust EVM (through the pinned ``pyrevm`` package), behind :class:`EvmEngine`'s interface.

Same chain as the py-evm engine: chain id, hard fork (Cancun), block number and timestamp as the
simulation sets them, base fee 0, gas price 0 and no gas charged to anybody, so ETH moves only by
``value``. Calls are pyrevm message calls; their changes stay unless they fail (a view runs static).

Three things pyrevm 0.3.7 does differently, and how this engine evens them out:

* **One open journal.** pyrevm never closes a transaction: every change since the EVM was made sits
  in one journal, which a snapshot marks and a revert unwinds. So accounts and storage slots that
  any earlier call touched stay *warm*, and storage refunds compare against the value a slot had
  when it was first read. Its ``gas_used`` is therefore not a transaction's gas (the py-evm engine's
  is), and this engine reports none (``Execution.gas is None``). The journal also grows with every
  call (a few KB per protocol transaction), which is the memory a long revm run costs.
* **Snapshots are single-use marks in a stack.** :meth:`snapshot` hands out tokens that, like the
  py-evm engine's, can be reverted to more than once; reverting to an earlier token unwinds and
  forgets the tokens taken after it (reverting to one of those raises ``ValueError``).
* **Balances set directly are not journalled.** :meth:`set_balance` moves the difference from or to
  a faucet account as a value transfer, which the journal records, so a revert undoes it.

If the wheel cannot be loaded on a machine, :func:`require_revm` raises :class:`RevmUnavailable`
(bad input, exit status 2) with one line saying so; nothing else in the harness imports pyrevm.
"""

from __future__ import annotations

from contracts_model import errors
from sim.evm.engine import CHAIN_ID, GAS_PER_CALL, HARDFORK, BlockClock, Execution
from sim.exits import BadInput

try:  # the only import of pyrevm in the project
    import pyrevm
except ImportError as exc:  # includes a wheel whose shared library fails to load
    pyrevm = None
    _IMPORT_ERROR: str = f"{type(exc).__name__}: {exc}"
else:
    _IMPORT_ERROR = ""

#: Sends and receives the differences :meth:`RevmEngine.set_balance` makes (an address nobody else uses).
FAUCET = "0x" + "fa0ce7" * 6 + "fa0c"
_FAUCET_WEI = 2**255
_REVERT_OUTPUT = "output: 0x"


class RevmUnavailable(BadInput):
    """The revm backend was asked for, but the pyrevm wheel cannot be loaded here."""


def revm_available() -> bool:
    return pyrevm is not None


def require_revm() -> None:
    """Raise :class:`RevmUnavailable` (one line, exit status 2) unless pyrevm can be used."""
    if pyrevm is None:
        raise RevmUnavailable(
            f"the revm backend needs the pyrevm package, which cannot be loaded on this machine ({_IMPORT_ERROR}); "
            "run `make setup` to install it, or use --backend evm (py-evm) instead"
        )


class _Snapshot:
    """A token of :meth:`RevmEngine.snapshot`: pyrevm's journal mark and the block context."""

    __slots__ = ("checkpoint", "block_number", "timestamp")

    def __init__(self, checkpoint, block_number: int, timestamp: int):
        self.checkpoint, self.block_number, self.timestamp = checkpoint, block_number, timestamp


class RevmEngine(BlockClock):
    """One revm state and the current block context (the interface of :class:`sim.evm.engine.EvmEngine`)."""

    def __init__(self, genesis_timestamp: int, genesis_block: int = 1):
        require_revm()
        self.block_number = genesis_block
        self.timestamp = genesis_timestamp
        self.evm = pyrevm.EVM(
            env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=CHAIN_ID)),
            gas_limit=GAS_PER_CALL,
            spec_id=HARDFORK.upper(),
        )
        self._set_context()
        self.evm.set_balance(FAUCET, _FAUCET_WEI)
        self._snapshots: list[_Snapshot] = []

    # ------------------------------------------------------------------ block context

    def _set_context(self) -> None:
        # pyrevm itself sets the base fee to 0 and block.gaslimit to the EVM's gas limit.
        self.evm.set_block_env(pyrevm.BlockEnv(number=self.block_number, timestamp=self.timestamp, basefee=0,
                                               coinbase="0x" + "00" * 20, prevrandao=bytes(32), excess_blob_gas=0))

    # ------------------------------------------------------------------ execution

    @staticmethod
    def address(hex_address: str) -> str:
        """An address in the form :meth:`execute` takes (pyrevm: the hex string itself)."""
        return hex_address

    def execute(self, sender: str, to: str, data: bytes, value: int = 0, *, static: bool = False) -> Execution:
        """Apply one call from ``sender`` to ``to``; keep its changes unless it fails or ``static``.

        Raises :class:`contracts_model.errors.InsufficientFunds` when the sender cannot pay ``value``.
        """
        evm = self.evm
        try:
            output = evm.message_call(sender, to, data, value, None, None, static)
        except RuntimeError as exc:
            return _failure(str(exc))
        finally:
            evm.reset_transient_storage()
        if static:
            return Execution(True, output, ())
        logs = tuple((log.address.lower(), *log.data) for log in evm.result.logs)
        return Execution(True, output, logs)

    def deploy(self, sender: str, init_code: bytes, value: int = 0) -> Execution:
        """Run contract creation code from ``sender``; the new address is ``Execution.created``."""
        try:
            created = self.evm.deploy(sender, init_code, value, GAS_PER_CALL)
        except RuntimeError as exc:
            return _failure(str(exc))
        logs = tuple((log.address.lower(), *log.data) for log in self.evm.result.logs)
        return Execution(True, b"", logs, created=bytes.fromhex(created[2:]))

    # ------------------------------------------------------------------ accounts

    def balance(self, address: str) -> int:
        return self.evm.get_balance(address)

    def set_balance(self, address: str, wei: int) -> None:
        """Give ``address`` (an account without code) exactly ``wei``, as a journalled transfer."""
        if wei < 0:
            raise ValueError(f"a balance cannot be negative: {wei}")
        if self.evm.get_code(address):
            raise ValueError(f"{address} has code; the revm engine sets balances of plain accounts only")
        difference = wei - self.evm.get_balance(address)
        if difference > 0:
            self.evm.message_call(FAUCET, address, b"", difference)
        elif difference < 0:
            self.evm.message_call(address, FAUCET, b"", -difference)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> _Snapshot:
        """A token that :meth:`revert` restores, block context included; usable more than once."""
        token = _Snapshot(self.evm.snapshot(), self.block_number, self.timestamp)
        self._snapshots.append(token)
        return token

    def revert(self, token: _Snapshot) -> None:
        """Return to ``token``'s state and block context; the tokens taken after it are discarded."""
        stack = self._snapshots
        if not any(s is token for s in stack):
            raise ValueError("this snapshot is gone: a revert to an earlier snapshot discarded it")
        while stack[-1] is not token:  # unwind the marks taken after it, innermost first
            self.evm.revert(stack.pop().checkpoint)
        self.evm.revert(token.checkpoint)
        token.checkpoint = self.evm.snapshot()  # pyrevm's marks are single-use: set a new one here
        self.block_number, self.timestamp = token.block_number, token.timestamp
        self._set_context()


def _failure(message: str) -> Execution:
    """The Execution a pyrevm error message stands for (pyrevm reports failures only as text)."""
    if message.startswith("Revert {"):
        start = message.find(_REVERT_OUTPUT)
        output = bytes.fromhex(message[start + len(_REVERT_OUTPUT):message.rindex("}")].strip()) if start >= 0 else b""
        return Execution(False, output, ())
    if "LackOfFund" in message:
        raise errors.InsufficientFunds(message)
    return Execution(False, b"", (), halt=message)

"""Reverts as Python exceptions, named exactly like the Solidity errors.

A contract call that reverts raises a `ContractRevert`. What the EVM would put in the revert data is
what the exception carries:

- a custom error `error Foo()` raises the class `Foo` (`error_name == "Foo"`, `error_args == ()`);
  errors with the same name in different contracts share one selector, so they are one class here;
- `require(cond, "msg")` / `revert("msg")` raises `RevertString("msg")` (ABI name `Error(string)`);
- a failed checked-arithmetic operation raises `Panic(code)` (ABI name `Panic(uint256)`);
- a revert without data (solc's callvalue check, a call to an account without code) raises
  `BareRevert()` (`error_name == ""`).

Two exceptions that are not reverts: `InsufficientFunds` (the sender cannot pay the value of a
transaction, so there is no transaction at all) and `ArgumentError` (a call that cannot be
ABI-encoded: unknown function, wrong number or type of arguments).
"""

from __future__ import annotations

from eth_utils import function_signature_to_4byte_selector

PANIC_ASSERT = 0x01
PANIC_ARITHMETIC = 0x11
PANIC_DIVISION_BY_ZERO = 0x12
PANIC_ARRAY_INDEX = 0x32


class ContractRevert(Exception):
    """A reverted contract call. `error_name` is the ABI error name, `error_args` its arguments."""

    error_name: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "error_name" not in cls.__dict__:
            cls.error_name = cls.__name__  # a custom error's ABI name is its class name

    def __init__(self, *error_args):
        super().__init__(*error_args)
        self.error_args = error_args

    def __eq__(self, other):
        if not isinstance(other, ContractRevert):
            return NotImplemented
        return self.error_name == other.error_name and self.error_args == other.error_args

    def __hash__(self):
        return hash((self.error_name, self.error_args))

    def __repr__(self):
        args = ", ".join(repr(a) for a in self.error_args)
        return f"{type(self).__name__}({args})"

    def __str__(self):
        return repr(self)


class RevertString(ContractRevert):
    """`require(cond, "message")` or `revert("message")`: ABI error `Error(string)`."""

    error_name = "Error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Panic(ContractRevert):
    """A Solidity panic, ABI error `Panic(uint256)`: 0x11 over/underflow, 0x12 division by zero, ..."""

    error_name = "Panic"

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class BareRevert(ContractRevert):
    """A revert without any revert data."""

    error_name = ""

    def __init__(self):
        super().__init__()


class InsufficientFunds(Exception):
    """The sender's ETH balance cannot cover the value of the transaction: the EVM rejects it unmined."""


class ArgumentError(ValueError):
    """The call cannot be ABI-encoded: unknown contract or function, wrong arity, out-of-range value."""


# One class per custom error of the Solidity sources (all take no arguments).


class Restricted(ContractRevert):
    """Caller is not the contract's privileged account (oracle contract / committee)."""


class Soulbound(ContractRevert):
    """rBTC-SYNTH never moves between holders."""


class BurnExceeds(ContractRevert):
    """Burning more than the holder's balance."""


class FeeCapExceeded(ContractRevert):
    """The quoted fee is above maxFeePerSyncWei."""


class ZeroAddress(ContractRevert):
    """A required address is the zero address."""


class ZeroValue(ContractRevert):
    """A required amount or msg.value is zero."""


class BalanceOutOfRange(ContractRevert):
    """newBalanceSats does not fit in int64."""


class NotOracle(ContractRevert):
    """Caller is not the vault's / pool's oracle."""


class InsufficientBalance(ContractRevert):
    """Vault balance below the amount, or a holder without rBTC joining the pool."""


class FeeTransferFailed(ContractRevert):
    """The fee collector refused the ETH."""


class WithdrawTransferFailed(ContractRevert):
    """The withdrawer refused the ETH."""


class InvalidParticipant(ContractRevert):
    """Operation does not fit the participant's type."""


class AlreadyParticipant(ContractRevert):
    """A Bitcoin holder joins twice."""


class NotParticipant(ContractRevert):
    """The address has not joined the pool."""


class InvalidAmount(ContractRevert):
    """Zero virtual USDT, or silverAfter > goldAfter."""


class DisputeAlreadyFiled(ContractRevert):
    """The participant already has an open dispute."""


class NothingToClaim(ContractRevert):
    """No unclaimed yield."""


class NoDispute(ContractRevert):
    """Resolving a dispute that was not filed."""


class PoolActive(ContractRevert):
    """configureYield after the first participant joined."""


class NoPublication(ContractRevert):
    """No proof-of-reserves publication for that round."""


CUSTOM_ERRORS: tuple[type[ContractRevert], ...] = (
    Restricted, Soulbound, BurnExceeds, FeeCapExceeded, ZeroAddress, ZeroValue, BalanceOutOfRange,
    NotOracle, InsufficientBalance, FeeTransferFailed, WithdrawTransferFailed, InvalidParticipant,
    AlreadyParticipant, NotParticipant, InvalidAmount, DisputeAlreadyFiled, NothingToClaim, NoDispute,
    PoolActive, NoPublication,
)

# ABI error name -> class: every custom error, plus Solidity's built-in Error(string) and Panic(uint256).
ERRORS: dict[str, type[ContractRevert]] = {cls.error_name: cls for cls in CUSTOM_ERRORS}
ERRORS["Error"] = RevertString
ERRORS["Panic"] = Panic

# 4-byte selector -> class, for turning raw revert data into the same exception.
SELECTORS: dict[bytes, type[ContractRevert]] = {
    function_signature_to_4byte_selector(f"{cls.error_name}()"): cls for cls in CUSTOM_ERRORS
}
SELECTORS[function_signature_to_4byte_selector("Error(string)")] = RevertString
SELECTORS[function_signature_to_4byte_selector("Panic(uint256)")] = Panic


def revert_class(name: str) -> type[ContractRevert]:
    """The exception class for an ABI error name ("Restricted", "Error", "Panic", "" for no data)."""
    if name == "":
        return BareRevert
    try:
        return ERRORS[name]
    except KeyError:
        raise KeyError(f"no Solidity error named {name!r} in the ReserveBTC contracts") from None


def from_revert_data(data: bytes) -> ContractRevert:
    """The exception the model raises for the given raw revert data of the compiled contracts."""
    data = bytes(data)
    if not data:
        return BareRevert()
    cls = SELECTORS.get(data[:4])
    if cls is RevertString:
        # abi.encode(string): offset word, length word, then the bytes.
        length = int.from_bytes(data[36:68], "big")
        return RevertString(data[68 : 68 + length].decode("utf-8"))
    if cls is Panic:
        return Panic(int.from_bytes(data[4:36], "big"))
    if cls is not None and len(data) == 4:
        return cls()
    unknown = ContractRevert(data)
    unknown.error_name = "0x" + data[:4].hex()
    return unknown

"""The ABI values the models accept and produce.

A model call takes the Python values web3 would ABI-encode and returns what web3 would decode, in one
canonical form: address -> lowercase "0x" hex str, uintN/intN -> int (range-checked), bool -> bool,
bytes32 -> bytes of length 32, bytes -> bytes, string -> str, T[] -> tuple. A value that web3 could not
encode raises `ArgumentError` before anything runs, as the EVM backend would fail before sending.
"""

from __future__ import annotations

from collections.abc import Callable

from contracts_model.accounts import to_address
from contracts_model.errors import ArgumentError

_ADDRESS_CACHE: dict[str, str] = {}
_ADDRESS_CACHE_LIMIT = 1 << 17


def canonical_address(value) -> str:
    """`to_address`, memoized for the strings seen before (the hot path sees the same few thousand)."""
    try:
        return _ADDRESS_CACHE[value]
    except (KeyError, TypeError):
        canonical = to_address(value)
        if isinstance(value, str):
            if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_LIMIT:
                _ADDRESS_CACHE.clear()
            _ADDRESS_CACHE[value] = canonical
        return canonical


def _integer(abi_type: str) -> Callable:
    if abi_type.startswith("uint"):
        bits = int(abi_type[4:] or 256)
        low, high = 0, 2**bits - 1
    else:
        bits = int(abi_type[3:] or 256)
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value):
        if value.__class__ is int and low <= value <= high:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentError(f"{abi_type} needs an int, got {type(value).__name__}: {value!r}")
        if not low <= value <= high:
            raise ArgumentError(f"{value} is out of range for {abi_type}")
        return int(value)

    return check


def _bool(value):
    if value is True or value is False:
        return value
    raise ArgumentError(f"bool needs True or False, got {value!r}")


def _bytes(value):
    if value.__class__ is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ArgumentError(f"bytes needs a bytes value, got {type(value).__name__}: {value!r}")


def _bytes32(value):
    if value.__class__ is bytes and len(value) == 32:
        return value
    value = _bytes(value)
    if len(value) != 32:
        raise ArgumentError(f"bytes32 needs exactly 32 bytes, got {len(value)}: 0x{value.hex()}")
    return value


def _string(value):
    if isinstance(value, str):
        return str(value)
    raise ArgumentError(f"string needs a str, got {type(value).__name__}: {value!r}")


def _array_of(element: Callable, abi_type: str) -> Callable:
    def check(value):
        if not isinstance(value, (list, tuple)):
            raise ArgumentError(f"{abi_type} needs a list or tuple, got {type(value).__name__}")
        return tuple(element(item) for item in value)

    return check


def checker(abi_type: str) -> Callable:
    """The function that validates a value for `abi_type` and returns its canonical form."""
    if abi_type.endswith("[]"):
        return _array_of(checker(abi_type[:-2]), abi_type)
    if abi_type == "address":
        return canonical_address
    if abi_type == "bool":
        return _bool
    if abi_type == "bytes":
        return _bytes
    if abi_type == "bytes32":
        return _bytes32
    if abi_type == "string":
        return _string
    if abi_type.startswith(("uint", "int")):
        return _integer(abi_type)
    raise ValueError(f"ABI type {abi_type} is not used by the ReserveBTC contracts")


def normalize_value(abi_type: str, value):
    """`value` in the canonical form for `abi_type` (raises ArgumentError if it does not fit)."""
    return checker(abi_type)(value)


def args_checker(name: str, types: tuple[str, ...]) -> Callable[[tuple], tuple]:
    """The function that checks a call's argument tuple against the input types of `name`."""
    checks = tuple(checker(t) for t in types)
    arity = len(checks)

    def wrong_arity(args):
        raise ArgumentError(f"{name} takes {arity} argument(s) {types}, got {len(args)}: {args!r}")

    if arity == 0:

        def check(args):
            if len(args) != 0:
                wrong_arity(args)
            return ()

    elif arity == 1:
        (c0,) = checks

        def check(args):
            if len(args) != 1:
                wrong_arity(args)
            return (c0(args[0]),)

    elif arity == 2:
        c0, c1 = checks

        def check(args):
            if len(args) != 2:
                wrong_arity(args)
            return (c0(args[0]), c1(args[1]))

    elif arity == 3:
        c0, c1, c2 = checks

        def check(args):
            if len(args) != 3:
                wrong_arity(args)
            return (c0(args[0]), c1(args[1]), c2(args[2]))

    else:

        def check(args):
            if len(args) != arity:
                wrong_arity(args)
            return tuple(c(a) for c, a in zip(checks, args))

    return check

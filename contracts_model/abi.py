"""The ABI values every backend accepts and produces: the one argument normalizer of the harness.

A call takes the Python values web3 would ABI-encode and returns what web3 would decode, in one
canonical form: address -> lowercase "0x" hex str (any letter case, or 20 raw bytes, accepted),
uintN/intN -> int (range-checked), bool -> bool, bytesN -> bytes of length N, bytes -> bytes,
string -> str, T[] and T[k] -> tuple, (T1,T2,…) -> tuple. A value that cannot be encoded raises
`ArgumentError` before anything runs. The models check their arguments with it, and so does the EVM
backends' encoder (`sim.evm.codec`), so an input-format difference can never look like a protocol
divergence between them.
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


def _bytes_n(size: int) -> Callable:
    def check(value):
        if value.__class__ is bytes and len(value) == size:
            return value
        value = _bytes(value)
        if len(value) != size:
            raise ArgumentError(f"bytes{size} needs exactly {size} bytes, got {len(value)}: 0x{value.hex()}")
        return value

    return check


_bytes32 = _bytes_n(32)


def _string(value):
    if isinstance(value, str):
        return str(value)
    raise ArgumentError(f"string needs a str, got {type(value).__name__}: {value!r}")


def _array_of(element: Callable, abi_type: str, size: int | None = None) -> Callable:
    def check(value):
        if not isinstance(value, (list, tuple)):
            raise ArgumentError(f"{abi_type} needs a list or tuple, got {type(value).__name__}")
        if size is not None and len(value) != size:
            raise ArgumentError(f"{abi_type} needs exactly {size} items, got {len(value)}")
        return tuple(element(item) for item in value)

    return check


def _tuple_of(elements: tuple[Callable, ...], abi_type: str) -> Callable:
    def check(value):
        if not isinstance(value, (list, tuple)) or len(value) != len(elements):
            raise ArgumentError(f"{abi_type} needs a tuple of {len(elements)} values, got {value!r}")
        return tuple(element(item) for element, item in zip(elements, value))

    return check


def split_tuple(abi_type: str) -> list[str]:
    """``(a,(b,c),d)`` -> ``['a', '(b,c)', 'd']``."""
    parts, depth, current = [], 0, ""
    for ch in abi_type[1:-1]:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        parts.append(current)
    return parts


def _integer_type(abi_type: str) -> bool:
    prefix = "uint" if abi_type.startswith("uint") else "int" if abi_type.startswith("int") else None
    if prefix is None:
        return False
    bits = abi_type[len(prefix):]
    return bits == "" or (bits.isdigit() and 8 <= int(bits) <= 256 and int(bits) % 8 == 0)


def checker(abi_type: str) -> Callable:
    """The function that validates a value for `abi_type` and returns its canonical form."""
    if abi_type.endswith("]"):
        inner, size = abi_type[: abi_type.rindex("[")], abi_type[abi_type.rindex("[") + 1 : -1]
        if size and not size.isdigit():
            raise ArgumentError(f"unsupported ABI type {abi_type}")
        return _array_of(checker(inner), abi_type, int(size) if size else None)
    if abi_type.startswith("("):
        return _tuple_of(tuple(checker(part) for part in split_tuple(abi_type)), abi_type)
    if abi_type == "address":
        return canonical_address
    if abi_type == "bool":
        return _bool
    if abi_type == "bytes":
        return _bytes
    if abi_type == "string":
        return _string
    if abi_type.startswith("bytes") and abi_type[5:].isdigit() and 1 <= int(abi_type[5:]) <= 32:
        return _bytes32 if abi_type == "bytes32" else _bytes_n(int(abi_type[5:]))
    if _integer_type(abi_type):
        return _integer(abi_type)
    raise ArgumentError(f"unsupported ABI type {abi_type}")


def normalize_value(abi_type: str, value):
    """`value` in the canonical form for `abi_type` (raises ArgumentError if it does not fit)."""
    return checker(abi_type)(value)


def args_checker(name: str, types: tuple[str, ...], names: tuple[str, ...] = ()) -> Callable[[tuple], tuple]:
    """The function that checks a call's argument tuple against the input types of `name` and returns
    it in canonical form; an error names the argument (by its ABI name, if `names` gives them)."""
    checks = tuple(checker(t) for t in types)
    arity = len(checks)
    labels = tuple(names) if len(names) == arity else ("",) * arity

    def fail(args, exc: ArgumentError):
        if len(args) != arity:
            raise ArgumentError(f"{name} takes {arity} argument(s) {types}, got {len(args)}: {args!r}") from None
        for i, (check_one, value) in enumerate(zip(checks, args)):
            try:
                check_one(value)
            except ArgumentError as found:
                label = f"{labels[i]} " if labels[i] else ""
                raise ArgumentError(f"{name}: argument {i} {label}({types[i]}): {found}") from None
        raise exc

    if arity == 1:
        (c0,) = checks

        def checked(args):
            return (c0(args[0]),)
    elif arity == 2:
        c0, c1 = checks

        def checked(args):
            return (c0(args[0]), c1(args[1]))
    elif arity == 3:
        c0, c1, c2 = checks

        def checked(args):
            return (c0(args[0]), c1(args[1]), c2(args[2]))
    else:

        def checked(args):
            return tuple(c(a) for c, a in zip(checks, args))

    def check(args):
        try:
            if len(args) != arity:
                raise ArgumentError("arity")
            return checked(args)
        except ArgumentError as exc:
            fail(args, exc)
        except TypeError as exc:  # args is not a sequence
            raise ArgumentError(f"{name} needs a tuple of arguments, got {args!r}") from exc

    return check

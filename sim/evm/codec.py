"""ABI encoding and decoding for one contract, built once from its ABI so calls do no reflection.

Values cross this boundary in the harness's canonical Python form, the same the models use:
addresses are lowercase ``0x`` hex strings, integers are ``int``, ``bytesN``/``bytes`` are ``bytes``,
structs and multiple outputs are tuples. Reverts are turned into the exception classes of
:mod:`contracts_model.errors`, named after the Solidity errors.

The hot path (every call's arguments, result and events) skips eth-abi for what the protocol uses:
one-word types (``uintN``, ``intN``, ``address``, ``bool``, ``bytesN``) and ``bytes``/``string``
arguments are encoded and decoded directly, word by word; anything else (arrays, tuples) and any
value the direct decoder finds non-canonical goes through eth-abi, which decides as before.
"""

from __future__ import annotations

import re
from typing import Callable

from attrs import frozen
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from contracts_model import errors
from contracts_model.abi import args_checker, split_tuple
from contracts_model.events import Event

_ERROR_STRING = keccak(b"Error(string)")[:4]
_PANIC = keccak(b"Panic(uint256)")[:4]
_INT_TYPE = re.compile(r"^(u?)int(\d*)$")
_BYTES_N = re.compile(r"^bytes(\d+)$")


#: A call argument that does not fit its ABI type; raised before anything executes.
InvalidArgument = errors.ArgumentError
_FOREIGN_ERRORS: dict[str, type[errors.ContractRevert]] = {}


def _error_class(name: str) -> type[errors.ContractRevert]:
    """The class for a Solidity error name; errors only a foreign build declares get a class made on first use."""
    try:
        return errors.revert_class(name)
    except KeyError:
        if name not in _FOREIGN_ERRORS:
            _FOREIGN_ERRORS[name] = type(name, (errors.ContractRevert,), {"error_name": name})
        return _FOREIGN_ERRORS[name]


def canonical_type(param: dict) -> str:
    """The ABI type string with tuples spelled out, e.g. ``(uint8,uint256)[]``."""
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param.get("components", ()))
        return f"({inner}){kind[len('tuple'):]}"
    return kind


def _normalize(value, kind: str):
    """Turn an eth-abi decoded value into the canonical form (see module docstring)."""
    if kind == "address":
        return value.lower()
    if kind.endswith("]"):
        inner = kind[: kind.rindex("[")]
        return tuple(_normalize(v, inner) for v in value)
    if kind.startswith("("):
        return tuple(_normalize(v, t) for v, t in zip(value, split_tuple(kind), strict=True))
    return value


# ---------------------------------------------------------------------------------------- one-word types

_ZERO12 = bytes(12)
_TRUE_WORD = (1).to_bytes(32, "big")
_FALSE_WORD = bytes(32)


def _word_encoder(kind: str):
    """``value -> 32 bytes`` for a one-word ABI type (values already checked), or None."""
    match = _INT_TYPE.match(kind)
    if match:
        if match.group(1):
            return lambda v: v.to_bytes(32, "big")
        return lambda v: v.to_bytes(32, "big", signed=True)
    if kind == "address":
        return lambda v: _ZERO12 + bytes.fromhex(v[2:])
    if kind == "bool":
        return lambda v: _TRUE_WORD if v else _FALSE_WORD
    if _BYTES_N.match(kind):
        return lambda v: v.ljust(32, b"\0")
    return None


def _word_decoder(kind: str):
    """``32 bytes -> canonical value`` for a one-word ABI type, raising ValueError on a
    non-canonical word (so that eth-abi, which the caller falls back to, gives its own verdict); or None."""
    match = _INT_TYPE.match(kind)
    if match:
        bits = int(match.group(2) or 256)
        if match.group(1):
            limit = 1 << bits

            def uint(word):
                value = int.from_bytes(word, "big")
                if value >= limit:
                    raise ValueError(kind)
                return value
            return uint
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

        def sint(word):
            value = int.from_bytes(word, "big", signed=True)
            if not low <= value <= high:
                raise ValueError(kind)
            return value
        return sint
    if kind == "address":
        def address(word):
            if word[:12] != _ZERO12:
                raise ValueError(kind)
            return "0x" + word[12:].hex()
        return address
    if kind == "bool":
        def boolean(word):
            if word == _TRUE_WORD:
                return True
            if word == _FALSE_WORD:
                return False
            raise ValueError(kind)
        return boolean
    match = _BYTES_N.match(kind)
    if match:
        size = int(match.group(1))

        def fixed_bytes(word):
            if any(word[size:]):
                raise ValueError(kind)
            return word[:size]
        return fixed_bytes
    return None


def _encoders(types: tuple[str, ...]):
    """Per type: a one-word encoder, or ``"dynamic"`` for bytes/string; None if any type needs eth-abi."""
    found = []
    for kind in types:
        if kind in ("bytes", "string"):
            found.append("dynamic")
            continue
        encoder = _word_encoder(kind)
        if encoder is None:
            return None
        found.append(encoder)
    return tuple(found)


def _decoders(types: tuple[str, ...]):
    """Per type a one-word decoder, or None if any type needs eth-abi."""
    found = tuple(_word_decoder(kind) for kind in types)
    return None if any(d is None for d in found) else found


def _encode_direct(encoders: tuple, args: tuple) -> bytes:
    """The ABI encoding of ``args`` (one-word values and bytes/strings) without eth-abi."""
    head, tail = [], []
    offset = 32 * len(encoders)
    for encoder, value in zip(encoders, args):
        if encoder == "dynamic":
            data = value.encode() if isinstance(value, str) else value
            head.append(offset.to_bytes(32, "big"))
            padded = data + bytes(-len(data) % 32)
            tail.append(len(data).to_bytes(32, "big"))
            tail.append(padded)
            offset += 32 + len(padded)
        else:
            head.append(encoder(value))
    return b"".join(head + tail)


def _decode_words(decoders: tuple, data: bytes) -> list:
    """One-word values from consecutive words of ``data`` (ValueError if short or non-canonical)."""
    if len(data) < 32 * len(decoders):
        raise ValueError("short data")
    return [decoder(data[32 * i:32 * i + 32]) for i, decoder in enumerate(decoders)]


@frozen
class FunctionAbi:
    """One function of a contract's ABI, pre-digested for encoding calls and decoding results."""

    contract: str
    name: str
    signature: str
    selector: bytes
    inputs: tuple[str, ...]
    input_names: tuple[str, ...]
    outputs: tuple[str, ...]
    payable: bool
    readonly: bool
    #: The shared argument normalizer (contracts_model.abi): canonical arguments or ArgumentError.
    check_args: Callable[[tuple], tuple]
    encoders: tuple | None = None  # see _encoders
    decoders: tuple | None = None  # of the outputs, see _decoders

    def encode(self, args: tuple) -> bytes:
        if not self.inputs:
            return self.selector
        if self.encoders is not None:
            return self.selector + _encode_direct(self.encoders, args)
        return self.selector + abi_encode(self.inputs, args)

    def decode_output(self, data: bytes):
        if not self.outputs:
            return None
        if self.decoders is not None:
            try:
                values = _decode_words(self.decoders, data)
                return values[0] if len(values) == 1 else tuple(values)
            except ValueError:
                pass  # eth-abi decides (and raises) as it always has
        values = abi_decode(self.outputs, data)
        if len(self.outputs) == 1:
            return _normalize(values[0], self.outputs[0])
        return tuple(_normalize(v, t) for v, t in zip(values, self.outputs))


@frozen
class EventAbi:
    contract: str
    name: str
    topic0: bytes
    indexed: tuple[tuple[int, str], ...]  # (position, type)
    plain: tuple[tuple[int, str], ...]
    arity: int
    topic_decoders: tuple | None = None  # of the indexed parameters, see _decoders
    data_decoders: tuple | None = None  # of the others

    def decode(self, topics: tuple, data: bytes) -> Event:
        if self.topic_decoders is not None and self.data_decoders is not None and len(topics) == len(self.indexed) + 1:
            try:
                return self._decode_direct(topics, data)
            except ValueError:
                pass  # eth-abi decides, as below
        args: list = [None] * self.arity
        for (position, kind), topic in zip(self.indexed, topics[1:]):
            raw = topic if isinstance(topic, bytes) else topic.to_bytes(32, "big")
            args[position] = _normalize(abi_decode((kind,), raw)[0], kind) if _is_static(kind) else raw
        if self.plain:
            values = abi_decode(tuple(k for _, k in self.plain), data)
            for (position, kind), value in zip(self.plain, values):
                args[position] = _normalize(value, kind)
        return Event(self.contract, self.name, tuple(args))

    def _decode_direct(self, topics, data: bytes) -> Event:
        args: list = [None] * self.arity
        for (position, _), decoder, topic in zip(self.indexed, self.topic_decoders, topics[1:]):
            args[position] = decoder(topic)
        for (position, _), value in zip(self.plain, _decode_words(self.data_decoders, data)):
            args[position] = value
        return Event(self.contract, self.name, tuple(args))


def _args_checker(name: str, inputs: tuple[str, ...]) -> Callable[[tuple], tuple]:
    """The shared normalizer for a function (the models use the same, so messages are the same on every
    backend); one whose ABI types it cannot handle fails when called, not when a foreign build's
    artifact is loaded."""
    try:
        return args_checker(name, inputs)
    except InvalidArgument as exc:
        message = f"{name}: {exc}"

        def unsupported(args):
            raise InvalidArgument(message)

        return unsupported


def _is_static(kind: str) -> bool:
    return not (kind in ("bytes", "string") or kind.endswith("[]") or kind.startswith("("))


class ContractCodec:
    """Every function, event and error of one contract's ABI, looked up by name, selector or topic."""

    def __init__(self, name: str, abi: tuple):
        self.name = name
        self.functions: dict[str, FunctionAbi] = {}
        self.events: dict[bytes, EventAbi] = {}
        self.errors: dict[bytes, tuple[str, tuple[str, ...]]] = {}
        self.payable_fallback = False
        for entry in abi:
            kind = entry.get("type")
            if kind == "function":
                fn = self._function(entry)
                # Overloads are reachable by full signature; the bare name picks the first one.
                self.functions.setdefault(fn.name, fn)
                self.functions[fn.signature] = fn
            elif kind == "event" and not entry.get("anonymous"):
                ev = self._event(entry)
                self.events[ev.topic0] = ev
            elif kind == "error":
                types = tuple(canonical_type(p) for p in entry.get("inputs", ()))
                signature = f"{entry['name']}({','.join(types)})"
                self.errors[keccak(text=signature)[:4]] = (entry["name"], types)

    def _function(self, entry: dict) -> FunctionAbi:
        inputs = tuple(canonical_type(p) for p in entry.get("inputs", ()))
        signature = f"{entry['name']}({','.join(inputs)})"
        mutability = entry.get("stateMutability", "nonpayable")
        return FunctionAbi(
            contract=self.name,
            name=entry["name"],
            signature=signature,
            selector=keccak(text=signature)[:4],
            inputs=inputs,
            input_names=tuple(p.get("name", "") for p in entry.get("inputs", ())),
            outputs=tuple(canonical_type(p) for p in entry.get("outputs", ())),
            payable=mutability == "payable",
            readonly=mutability in ("view", "pure"),
            check_args=_args_checker(f"{self.name}.{entry['name']}", inputs),
            encoders=_encoders(inputs),
            decoders=_decoders(tuple(canonical_type(p) for p in entry.get("outputs", ()))),
        )

    def _event(self, entry: dict) -> EventAbi:
        params = entry.get("inputs", ())
        types = [canonical_type(p) for p in params]
        signature = f"{entry['name']}({','.join(types)})"
        return EventAbi(
            contract=self.name,
            name=entry["name"],
            topic0=keccak(text=signature),
            indexed=tuple((i, t) for i, (p, t) in enumerate(zip(params, types)) if p.get("indexed")),
            plain=tuple((i, t) for i, (p, t) in enumerate(zip(params, types)) if not p.get("indexed")),
            arity=len(params),
            topic_decoders=_decoders(tuple(t for p, t in zip(params, types) if p.get("indexed"))),
            data_decoders=_decoders(tuple(t for p, t in zip(params, types) if not p.get("indexed"))),
        )

    def function(self, name: str) -> FunctionAbi:
        try:
            return self.functions[name]
        except KeyError:
            raise InvalidArgument(f"{self.name} has no function {name!r}") from None


def decode_revert(data: bytes, known_errors: dict[bytes, tuple[str, tuple[str, ...]]]) -> errors.ContractRevert:
    """The exception a revert with ``data`` stands for, named after its Solidity error."""
    selector = data[:4]
    if not data:
        return errors.BareRevert()
    if selector == _ERROR_STRING:
        (message,) = abi_decode(("string",), data[4:])
        return errors.RevertString(message)
    if selector == _PANIC:
        (code,) = abi_decode(("uint256",), data[4:])
        return errors.Panic(code)
    if selector in known_errors:
        name, types = known_errors[selector]
        args = tuple(_normalize(v, t) for v, t in zip(abi_decode(types, data[4:]), types)) if types else ()
        return _error_class(name)(*args)
    return errors.from_revert_data(data)

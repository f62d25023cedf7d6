"""ABI encoding and decoding for one contract, built once from its ABI so calls do no reflection.

Values cross this boundary in the harness's canonical Python form, the same the models use:
addresses are lowercase ``0x`` hex strings, integers are ``int``, ``bytesN``/``bytes`` are ``bytes``,
structs and multiple outputs are tuples. Reverts are turned into the exception classes of
:mod:`contracts_model.errors`, named after the Solidity errors.
"""

from __future__ import annotations

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

    def encode(self, args: tuple) -> bytes:
        return self.selector + abi_encode(self.inputs, args) if self.inputs else self.selector

    def decode_output(self, data: bytes):
        if not self.outputs:
            return None
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

    def decode(self, topics: tuple, data: bytes) -> Event:
        args: list = [None] * self.arity
        for (position, kind), topic in zip(self.indexed, topics[1:]):
            raw = topic if isinstance(topic, bytes) else topic.to_bytes(32, "big")
            args[position] = _normalize(abi_decode((kind,), raw)[0], kind) if _is_static(kind) else raw
        if self.plain:
            values = abi_decode(tuple(k for _, k in self.plain), data)
            for (position, kind), value in zip(self.plain, values):
                args[position] = _normalize(value, kind)
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

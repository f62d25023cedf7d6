"""The direct ABI paths of sim.evm.codec give exactly what eth-abi gives, and defer to it otherwise."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.evm.codec import ContractCodec
from tests.conftest import examples

TYPES = ("uint64", "int64", "address", "bool", "bytes32", "bytes", "uint256", "int8", "string", "bytes4")
VALUES = {
    "uint64": st.integers(0, 2**64 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "address": st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    "bool": st.booleans(),
    "bytes32": st.binary(min_size=32, max_size=32),
    "bytes": st.binary(max_size=80),
    "uint256": st.integers(0, 2**256 - 1),
    "int8": st.integers(-128, 127),
    "string": st.text(max_size=40),
    "bytes4": st.binary(min_size=4, max_size=4),
}
STATIC = tuple(t for t in TYPES if t not in ("bytes", "string"))
ABI = (
    {"type": "function", "name": "f", "stateMutability": "nonpayable",
     "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(TYPES)],
     "outputs": [{"name": "", "type": t} for t in STATIC]},
    {"type": "event", "name": "E", "anonymous": False,
     "inputs": [{"name": "x", "type": "address", "indexed": True}, {"name": "y", "type": "int64", "indexed": False},
                {"name": "z", "type": "uint256", "indexed": True}, {"name": "w", "type": "bool", "indexed": False}]},
)
CODEC = ContractCodec("C", ABI)
FN = CODEC.functions["f"]
EVENT = next(iter(CODEC.events.values()))


def _normal(value):
    return value.lower() if isinstance(value, str) and value.startswith("0x") else value


@settings(max_examples=examples(200), deadline=None)
@given(st.tuples(*(VALUES[t] for t in TYPES)))
def test_calls_and_results_match_eth_abi(args):
    assert FN.encoders is not None and FN.decoders is not None  # the direct path is the one under test
    FN.check_args(args)
    assert FN.encode(args) == FN.selector + abi_encode(TYPES, args)
    static = tuple(a for a, t in zip(args, TYPES) if t in STATIC)
    data = abi_encode(STATIC, static)
    assert FN.decode_output(data) == tuple(_normal(v) for v in abi_decode(STATIC, data)) == static


@settings(max_examples=examples(100), deadline=None)
@given(VALUES["address"], VALUES["int64"], VALUES["uint256"], VALUES["bool"])
def test_events_match_eth_abi(x, y, z, w):
    topics = [EVENT.topic0, abi_encode(("address",), (x,)), abi_encode(("uint256",), (z,))]
    data = abi_encode(("int64", "bool"), (y, w))
    assert EVENT.decode(topics, data).args == (x, y, z, w)


def test_non_canonical_words_get_eth_abi_s_verdict():
    dirty_address = b"\x01" + bytes(11) + b"\x22" * 20  # upper bytes of an address must be zero
    data = abi_encode(STATIC, (1, -1, "0x" + "22" * 20, True, bytes(32), 2, -3, b"abcd"))
    with pytest.raises(Exception) as direct:
        FN.decode_output(data[:64] + dirty_address + data[96:])
    with pytest.raises(Exception) as reference:
        abi_decode(STATIC, data[:64] + dirty_address + data[96:])
    assert type(direct.value) is type(reference.value)
    with pytest.raises(Exception):
        FN.decode_output(data[:100])  # short data: eth-abi's error, not a wrong value

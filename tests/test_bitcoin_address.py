"""Segwit address encoding and validation against BIP-173 and BIP-350.

The vectors below are typed in from the test-vector sections of BIP-173 and BIP-350.
"""

from __future__ import annotations

import bech32m
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.bitcoin import address as addr
from sim.bitcoin.address import (
    BtcAddress,
    Encoding,
    InvalidAddress,
    bech32_decode,
    bech32_encode,
    decode,
    decode_segwit,
    encode_p2tr,
    encode_p2wpkh,
    encode_segwit,
    is_valid,
    por_program,
    random_address,
    validate,
)

# ---------------------------------------------------------------------------------------------
# BIP-173: generic bech32 strings
# ---------------------------------------------------------------------------------------------

BIP173_VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

# (string, expected code, the BIP's stated reason)
BIP173_INVALID_BECH32 = [
    ("\x20" + "1nwldj5", "character", "HRP character out of range"),
    ("\x7f" + "1axkwrx", "character", "HRP character out of range"),
    ("\x80" + "1eym55h", "character", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "length",
        "overall max length exceeded",
    ),
    ("pzry9x0s0muk", "separator", "No separator character"),
    ("1pzry9x0s0muk", "empty-hrp", "Empty HRP"),
    ("x1b4n0q5v", "character", "Invalid data character"),
    ("li1dgmt3", "too-short", "Too short checksum"),
    ("de1lg7wt" + "\xff", "character", "Invalid character in checksum"),
    ("A1G7SGD8", "checksum", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty-hrp", "empty HRP"),
    ("1qzzfhee", "empty-hrp", "empty HRP"),
]

# ---------------------------------------------------------------------------------------------
# BIP-350: generic bech32m strings
# ---------------------------------------------------------------------------------------------

BIP350_VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

BIP350_INVALID_BECH32M = [
    ("\x20" + "1xj0phk", "character", "HRP character out of range"),
    ("\x7f" + "1g6xzxy", "character", "HRP character out of range"),
    ("\x80" + "1vctc34", "character", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "length",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "separator", "No separator character"),
    ("1qyrz8wqd2c9m", "empty-hrp", "Empty HRP"),
    ("y1b0jsk6g", "character", "Invalid data character"),
    ("lt1igcx5c0", "character", "Invalid data character"),
    ("in1muywd", "too-short", "Too short checksum"),
    ("mm1crxm3i", "character", "Invalid character in checksum"),
    ("au1s5cgom", "character", "Invalid character in checksum"),
    ("M1VUXWEZ", "checksum", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty-hrp", "empty HRP"),
    ("1p2gdwpf", "empty-hrp", "empty HRP"),
]

# ---------------------------------------------------------------------------------------------
# Segwit addresses: (address, scriptPubKey hex). BIP-173's v0 vectors stay valid under BIP-350;
# its v1+ vectors (bech32) were replaced by BIP-350's (bech32m) and are now invalid.
# ---------------------------------------------------------------------------------------------

BIP173_VALID_SEGWIT_V0 = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
]

BIP173_SEGWIT_V1PLUS_NOW_INVALID = [
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
    "BC1SW50QA3JX3S",
    "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
]

BIP350_VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]

# (address, expected code from decode_segwit with the hrp it is meant for, the BIP's reason)
BIP173_INVALID_SEGWIT = [
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "wrong-network", "Invalid human-readable part"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum", "Invalid checksum"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "witness-version", "Invalid witness version"),
    ("bc1rw5uspcuh", "program-length", "Invalid program length"),
    (
        "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
        "program-length",
        "Invalid program length",
    ),
    (
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
        "program-length",
        "Invalid program length for witness version 0 (per BIP141)",
    ),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",
        "mixed-case",
        "Mixed case",
    ),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "padding", "zero padding of more than 4 bits"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
        "padding",
        "Non-zero padding in 8-to-5 conversion",
    ),
    ("bc1gmk9yu", "empty-data", "Empty data section"),
]

BIP350_INVALID_SEGWIT = [
    (
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
        "wrong-network",
        "Invalid human-readable part",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "variant",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "variant",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "variant",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
        "variant",
        "Invalid checksum (Bech32m instead of Bech32)",
    ),
    (
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "variant",
        "Invalid checksum (Bech32m instead of Bech32)",
    ),
    (
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "character",
        "Invalid character in checksum",
    ),
    (
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "witness-version",
        "Invalid witness version",
    ),
    ("bc1pw5dgrnzv", "program-length", "Invalid program length (1 byte)"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "program-length",
        "Invalid program length (41 bytes)",
    ),
    (
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
        "program-length",
        "Invalid program length for witness version 0 (per BIP141)",
    ),
    (
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
        "mixed-case",
        "Mixed case",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "padding",
        "zero padding of more than 4 bits",
    ),
    (
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "padding",
        "Non-zero padding in 8-to-5 conversion",
    ),
    ("bc1gmk9yu", "empty-data", "Empty data section"),
]


def _intended_hrp(address: str) -> str:
    """The network prefix an invalid-vector address is meant for: ``bc`` or ``tb``."""
    return "tb" if address.lower().startswith("t") else "bc"


# ---------------------------------------------------------------------------------------------
# Generic strings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", BIP173_VALID_BECH32)
def test_bip173_valid_bech32(text: str) -> None:
    decoded = bech32_decode(text)
    assert decoded.encoding is Encoding.BECH32
    assert decoded.hrp == text[: text.lower().rfind("1")].lower()
    assert bech32_encode(decoded.hrp, decoded.data, Encoding.BECH32) == text.lower()


@pytest.mark.parametrize("text", BIP350_VALID_BECH32M)
def test_bip350_valid_bech32m(text: str) -> None:
    decoded = bech32_decode(text)
    assert decoded.encoding is Encoding.BECH32M
    assert bech32_encode(decoded.hrp, decoded.data, Encoding.BECH32M) == text.lower()


@pytest.mark.parametrize(("text", "code", "bip_reason"), BIP173_INVALID_BECH32 + BIP350_INVALID_BECH32M)
def test_bip_invalid_strings(text: str, code: str, bip_reason: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        bech32_decode(text)
    assert info.value.code == code, (bip_reason, str(info.value))
    assert repr(text) in str(info.value)


def test_no_string_is_both_bech32_and_bech32m() -> None:
    """BIP-350: each valid bech32 vector fails as bech32m and vice versa."""
    for text in BIP173_VALID_BECH32:
        assert bech32_decode(text).encoding is not Encoding.BECH32M
    for text in BIP350_VALID_BECH32M:
        assert bech32_decode(text).encoding is not Encoding.BECH32


# ---------------------------------------------------------------------------------------------
# Segwit addresses
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "script_hex"), BIP173_VALID_SEGWIT_V0 + BIP350_VALID_SEGWIT)
def test_bip_valid_segwit_addresses(address: str, script_hex: str) -> None:
    hrp = _intended_hrp(address)
    decoded = decode_segwit(address, hrp)
    assert decoded.script_pubkey.hex() == script_hex
    assert decoded.address == address.lower()
    # Round trip through the encoder gives the canonical (lower-case) form.
    assert encode_segwit(hrp, decoded.witness_version, decoded.program) == address.lower()
    # Cross-check with the library's own segwit decoder.
    ref = bech32m.decode(hrp, address)
    assert (ref.witver, bytes(ref.witprog)) == (decoded.witness_version, decoded.program)


@pytest.mark.parametrize("address", BIP173_SEGWIT_V1PLUS_NOW_INVALID)
def test_bip173_v1plus_bech32_addresses_are_invalid_after_bip350(address: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        decode_segwit(address, "bc")
    assert info.value.code == "variant"
    assert "bech32m" in info.value.reason


@pytest.mark.parametrize(("address", "code", "bip_reason"), BIP173_INVALID_SEGWIT + BIP350_INVALID_SEGWIT)
def test_bip_invalid_segwit_addresses(address: str, code: str, bip_reason: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        decode_segwit(address, _intended_hrp(address))
    assert info.value.code == code, (bip_reason, str(info.value))
    # The protocol-level decoder rejects them too, whatever the network.
    with pytest.raises(InvalidAddress):
        decode(address)
    assert not is_valid(address)


# ---------------------------------------------------------------------------------------------
# Protocol-level decode: P2WPKH and P2TR only
# ---------------------------------------------------------------------------------------------


def test_protocol_kinds_among_the_bip_vectors() -> None:
    p2wpkh = decode("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")
    assert p2wpkh == BtcAddress(
        address="bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        network="mainnet",
        kind="p2wpkh",
        witness_version=0,
        program=bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"),
    )
    p2tr = decode("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c")
    assert (p2tr.network, p2tr.kind, p2tr.witness_version) == ("testnet", "p2tr", 1)
    assert p2tr.program.hex() == "000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"
    assert p2tr.script_pubkey.hex() == "5120" + p2tr.program.hex()


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "P2WSH"),
        ("BC1SW50QGDZ25J", "witness version 16"),
        ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "witness version 2"),
        (
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            "40-byte program",
        ),
    ],
)
def test_valid_segwit_but_unsupported_kinds(address: str, fragment: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        validate(address)
    assert info.value.code == "unsupported"
    assert fragment in str(info.value)
    assert address in str(info.value)


def test_regtest_prefix() -> None:
    program = bytes(range(20))
    address = encode_p2wpkh(program, "regtest")
    assert address.startswith("bcrt1q")
    decoded = decode(address, "regtest")
    assert (decoded.network, decoded.kind, decoded.program) == ("regtest", "p2wpkh", program)
    tr = encode_p2tr(bytes(range(32)), "regtest")
    assert tr.startswith("bcrt1p") and decode(tr).kind == "p2tr"


@pytest.mark.parametrize(
    ("address", "network", "code", "fragment"),
    [
        # Mismatched network.
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "testnet", "wrong-network", "mainnet"),
        # Unknown prefix, even with a valid checksum.
        ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", None, "unknown-hrp", "'tc'"),
        # One character changed: bad checksum.
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", None, "checksum", "checksum"),
        # A 'b' in the data part.
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3tb", None, "character", "'b'"),
        ("bc1qw508d6qejxtdg4y5r3zarVary0c5xw7kv8f3t4", None, "mixed-case", "case"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 ", None, "character", "U+0020"),
        ("", None, "separator", "separator"),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", None, "variant", "bech32m"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", None, "variant", "bech32 checksum"),
        ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", None, "program-length", "16 bytes"),
    ],
)
def test_invalid_address_messages_name_address_and_reason(
    address: str, network: str | None, code: str, fragment: str
) -> None:
    with pytest.raises(InvalidAddress) as info:
        decode(address, network)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.code == code
    assert error.address == address
    assert repr(address) in str(error)
    assert fragment in str(error)


def test_non_string_is_invalid_address() -> None:
    with pytest.raises(InvalidAddress) as info:
        decode(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")  # type: ignore[arg-type]
    assert info.value.code == "type"


def test_encoders_reject_bad_arguments() -> None:
    with pytest.raises(ValueError):
        encode_p2wpkh(bytes(19))
    with pytest.raises(ValueError):
        encode_p2tr(bytes(20))
    with pytest.raises(ValueError):
        encode_p2wpkh(bytes(20), "signet")
    with pytest.raises(ValueError):
        encode_segwit("bc", 17, bytes(20))
    with pytest.raises(ValueError):
        encode_segwit("bc", 0, bytes(25))


# ---------------------------------------------------------------------------------------------
# Proof-of-reserves program
# ---------------------------------------------------------------------------------------------


def test_por_program() -> None:
    p2wpkh = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert por_program(p2wpkh) == bytes(12) + bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    p2tr = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    expected = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert por_program(p2tr) == expected
    assert por_program(decode(p2tr)) == expected
    with pytest.raises(InvalidAddress):
        por_program("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")


# ---------------------------------------------------------------------------------------------
# Round trips and agreement with the library's decoder (Hypothesis)
# ---------------------------------------------------------------------------------------------

networks = st.sampled_from(sorted(addr.NETWORKS))


@given(program=st.binary(min_size=20, max_size=20), network=networks, upper=st.booleans())
def test_p2wpkh_round_trip(program: bytes, network: str, upper: bool) -> None:
    address = encode_p2wpkh(program, network)
    assert address.startswith(addr.NETWORKS[network] + "1q")
    decoded = decode(address.upper() if upper else address, network)
    assert (decoded.address, decoded.kind, decoded.program) == (address, "p2wpkh", program)
    assert len(decoded.por_program) == 32 and decoded.por_program.endswith(program)


@given(program=st.binary(min_size=32, max_size=32), network=networks)
def test_p2tr_round_trip(program: bytes, network: str) -> None:
    address = encode_p2tr(program, network)
    assert address.startswith(addr.NETWORKS[network] + "1p")
    decoded = decode(address)
    assert (decoded.network, decoded.kind, decoded.witness_version) == (network, "p2tr", 1)
    assert decoded.por_program == program


@given(
    version=st.integers(0, 16),
    program=st.binary(min_size=2, max_size=40),
    hrp=st.sampled_from(["bc", "tb", "bcrt"]),
)
def test_segwit_round_trip_any_version(version: int, program: bytes, hrp: str) -> None:
    if version == 0 and len(program) not in (20, 32):
        with pytest.raises(ValueError):
            encode_segwit(hrp, version, program)
        return
    address = encode_segwit(hrp, version, program)
    decoded = decode_segwit(address, hrp)
    assert (decoded.witness_version, decoded.program) == (version, program)
    assert bech32m.encode(hrp, version, program) == address


@settings(max_examples=300)
@given(
    program=st.binary(min_size=32, max_size=32),
    kind=st.sampled_from(["p2wpkh", "p2tr"]),
    edits=st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l1bio")),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_addresses_agree_with_reference_decoder(
    program: bytes, kind: str, edits: list[tuple[int, str]]
) -> None:
    """Substituted characters: our verdict equals the reference segwit decoder's, and every
    rejection is an InvalidAddress naming the address."""
    good = encode_p2wpkh(program[:20]) if kind == "p2wpkh" else encode_p2tr(program)
    chars = list(good)
    for position, char in edits:
        chars[position % len(chars)] = char
    mutated = "".join(chars)
    try:
        ref = bech32m.decode("bc", mutated)
        ref_ok = True
    except (bech32m.DecodeError, ValueError):
        ref_ok = False
    try:
        ours = decode_segwit(mutated, "bc")
    except InvalidAddress as error:
        assert repr(mutated) in str(error)
        assert not ref_ok, str(error)
    else:
        assert ref_ok
        assert (ours.witness_version, ours.program) == (ref.witver, bytes(ref.witprog))


# ---------------------------------------------------------------------------------------------
# Deterministic generator
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr"])
@pytest.mark.parametrize("network", ["mainnet", "testnet", "regtest"])
def test_random_address_is_valid_and_deterministic(kind: str, network: str) -> None:
    first = [random_address(np.random.default_rng(7), kind, network) for _ in range(2)]
    assert first[0] == first[1]
    rng = np.random.default_rng(7)
    many = [random_address(rng, kind, network) for _ in range(50)]
    assert len(set(many)) == 50
    for address in many:
        decoded = decode(address, network)
        assert decoded.kind == kind
    with pytest.raises(ValueError):
        random_address(rng, "p2sh", network)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["p2wpkh", "p2tr"]), network=st.sampled_from(["mainnet", "testnet", "regtest"]),
       seed=st.binary(min_size=32, max_size=32))
def test_the_table_driven_encoders_write_what_the_reference_code_writes(kind, network, seed) -> None:
    """encode_p2wpkh / encode_p2tr compute the checksum themselves (a table per 5-bit group); the BIP
    reference code (encode_segwit, through the bech32m package) must write the same string."""
    version, length = addr.KINDS[kind]
    program = seed[:length]
    hrp = {"mainnet": "bc", "testnet": "tb", "regtest": "bcrt"}[network]
    fast = addr.encode_p2wpkh(program, network) if kind == "p2wpkh" else addr.encode_p2tr(program, network)
    assert fast == addr.encode_segwit(hrp, version, program)
    assert addr.decode(fast, network).program == program

"""Bitcoin native segwit addresses: P2WPKH (bech32) and P2TR (bech32m).

Encoding and validation follow BIP-173 (bech32, witness version 0) and BIP-350 (bech32m,
witness versions 1 to 16). The checksum arithmetic and the 8-bit/5-bit regrouping come from the
``bech32m`` package (a packaging of the BIP reference code; :func:`encode_p2wpkh` and
:func:`encode_p2tr`, which a simulated world calls for every address it creates, compute the same
checksum with a table and are tested against it); this module adds the rules around
them and, above all, says *why* an address is rejected: every failure raises one exception type,
:class:`InvalidAddress`, whose message names the address and the reason, and whose ``code`` is a
short machine-readable tag for tests and logs.

Three levels are offered:

* :func:`bech32_decode` / :func:`bech32_encode` — the generic bech32/bech32m string format
  (any human-readable part), as in the BIPs' first group of test vectors;
* :func:`decode_segwit` / :func:`encode_segwit` — any native segwit address (versions 0–16,
  programs of 2–40 bytes), as in the BIPs' second group of test vectors;
* :func:`decode` / :func:`validate` / :func:`encode_p2wpkh` / :func:`encode_p2tr` — what the
  ReserveBTC protocol accepts: P2WPKH (v0, 20 bytes) and P2TR (v1, 32 bytes) on mainnet
  (``bc``), testnet (``tb``) or regtest (``bcrt``). Other valid segwit kinds (P2WSH, future
  versions) are rejected with the code ``"unsupported"``.

Decoded addresses are normalised to lower case (BIP-173 allows all-upper-case input).
"""

from __future__ import annotations

import enum
import functools
import operator
from typing import Final

import numpy as np
from attrs import define, field
from bech32m import codecs as _ref

__all__ = [
    "NETWORKS",
    "HRP_TO_NETWORK",
    "KINDS",
    "MAX_LENGTH",
    "Encoding",
    "InvalidAddress",
    "Bech32String",
    "SegwitAddress",
    "BtcAddress",
    "bech32_decode",
    "bech32_encode",
    "decode_segwit",
    "encode_segwit",
    "encode_p2wpkh",
    "encode_p2tr",
    "decode",
    "validate",
    "is_valid",
    "por_program",
    "random_address",
]

#: Network name -> human-readable part.
NETWORKS: Final[dict[str, str]] = {"mainnet": "bc", "testnet": "tb", "regtest": "bcrt"}
#: Human-readable part -> network name.
HRP_TO_NETWORK: Final[dict[str, str]] = {hrp: net for net, hrp in NETWORKS.items()}
#: Address kinds the protocol accepts -> (witness version, program length).
KINDS: Final[dict[str, tuple[int, int]]] = {"p2wpkh": (0, 20), "p2tr": (1, 32)}
#: Longest valid bech32 string (BIP-173).
MAX_LENGTH: Final = 90

_CHARSET: Final[str] = _ref.CHARSET
_CHECKSUM_LENGTH: Final = 6


class Encoding(enum.Enum):
    """The two checksum variants: bech32 (BIP-173) and bech32m (BIP-350)."""

    BECH32 = "bech32"
    BECH32M = "bech32m"


_TO_REF = {Encoding.BECH32: _ref.Encoding.BECH32, Encoding.BECH32M: _ref.Encoding.BECH32M}
_FROM_REF = {ref: ours for ours, ref in _TO_REF.items()}


class InvalidAddress(ValueError):
    """An address (or bech32 string) that is not valid, with the reason.

    Attributes:
        address: the offending input, exactly as given.
        code: a short tag for the kind of failure, one of ``type``, ``character``,
            ``mixed-case``, ``length``, ``separator``, ``empty-hrp``, ``too-short``,
            ``checksum``, ``unknown-hrp``, ``wrong-network``, ``empty-data``,
            ``witness-version``, ``padding``, ``program-length``, ``variant``, ``unsupported``.
        reason: a sentence a person can act on.
    """

    def __init__(self, address: object, code: str, reason: str) -> None:
        self.address = address
        self.code = code
        self.reason = reason
        super().__init__(f"invalid Bitcoin address {address!r}: {reason}")


def _fail(address: object, code: str, reason: str) -> InvalidAddress:
    return InvalidAddress(address, code, reason)


# --------------------------------------------------------------------------------------------
# Generic bech32 / bech32m strings
# --------------------------------------------------------------------------------------------


@define(frozen=True)
class Bech32String:
    """A decoded bech32 or bech32m string: its human-readable part, the 5-bit data values
    (checksum removed) and the checksum variant it verified under."""

    hrp: str
    data: tuple[int, ...]
    encoding: Encoding


def _parse(text: object) -> tuple[str, str, bytes]:
    """Structural checks of a bech32 string (everything but the checksum).

    Returns ``(lowercased string, hrp, 5-bit values of the data part including the checksum)``.
    """
    if not isinstance(text, str):
        raise _fail(text, "type", f"expected a string, got {type(text).__name__}")
    for pos, ch in enumerate(text):
        if not 33 <= ord(ch) <= 126:
            raise _fail(
                text,
                "character",
                f"character U+{ord(ch):04X} at position {pos} is outside printable US-ASCII",
            )
    if text.lower() != text and text.upper() != text:
        raise _fail(text, "mixed-case", "mixes upper and lower case (use one case throughout)")
    if len(text) > MAX_LENGTH:
        raise _fail(text, "length", f"is {len(text)} characters long, at most {MAX_LENGTH} allowed")
    lowered = text.lower()
    sep = lowered.rfind("1")
    if sep < 0:
        raise _fail(text, "separator", "has no '1' separator between prefix and data")
    if sep == 0:
        raise _fail(text, "empty-hrp", "has an empty human-readable part (prefix) before '1'")
    hrp, data_part = lowered[:sep], lowered[sep + 1 :]
    if len(data_part) < _CHECKSUM_LENGTH:
        raise _fail(
            text,
            "too-short",
            f"data part after the separator has {len(data_part)} characters, "
            f"at least {_CHECKSUM_LENGTH} (the checksum) are needed",
        )
    for offset, ch in enumerate(data_part):
        if ch not in _CHARSET:
            where = "checksum" if offset >= len(data_part) - _CHECKSUM_LENGTH else "data"
            raise _fail(
                text,
                "character",
                f"invalid {where} character {ch!r} at position {sep + 1 + offset} "
                f"(bech32 excludes '1', 'b', 'i' and 'o')",
            )
    return lowered, hrp, bytes(_CHARSET.index(ch) for ch in data_part)


def _verify_checksum(text: str, hrp: str, values: bytes) -> Encoding:
    try:
        return _FROM_REF[_ref.bech32_verify_checksum(hrp, values)]
    except _ref.DecodeError:
        raise _fail(
            text, "checksum", "bad checksum (neither a valid bech32 nor a valid bech32m checksum)"
        ) from None


def bech32_decode(text: str) -> Bech32String:
    """Decode a generic bech32/bech32m string (BIP-173 §Bech32, BIP-350 §Bech32m).

    Raises:
        InvalidAddress: with the reason the string is not valid bech32 nor bech32m.
    """
    lowered, hrp, values = _parse(text)
    encoding = _verify_checksum(text, hrp, values)
    return Bech32String(hrp=hrp, data=tuple(values[:-_CHECKSUM_LENGTH]), encoding=encoding)


def bech32_encode(hrp: str, data: bytes | tuple[int, ...] | list[int], encoding: Encoding) -> str:
    """Encode 5-bit ``data`` values under ``hrp`` with the given checksum variant.

    ``hrp`` must be 1–83 printable US-ASCII characters; it is lowercased. Raises ``ValueError``
    for an unusable hrp, a value outside 0..31 or a result longer than 90 characters.
    """
    if not hrp or any(not 33 <= ord(ch) <= 126 for ch in hrp):
        raise ValueError(f"human-readable part {hrp!r} must be 1+ printable US-ASCII characters")
    values = bytes(data)  # rejects values outside 0..255
    if any(v > 31 for v in values):
        raise ValueError("bech32 data values must be 5-bit (0..31)")
    result = _ref.bech32_encode(hrp.lower(), values, _TO_REF[encoding])
    if len(result) > MAX_LENGTH:
        raise ValueError(f"encoded string would be {len(result)} characters, over {MAX_LENGTH}")
    return result


# --------------------------------------------------------------------------------------------
# Segwit addresses (any witness version)
# --------------------------------------------------------------------------------------------


@define(frozen=True)
class SegwitAddress:
    """A valid native segwit address of any witness version (BIP-173/BIP-350 rules)."""

    address: str
    hrp: str
    witness_version: int
    program: bytes
    encoding: Encoding

    @property
    def script_pubkey(self) -> bytes:
        """The output script: ``OP_n <program>`` (``OP_0`` is 0x00, ``OP_1..OP_16`` 0x51..0x60)."""
        return _script_pubkey(self.witness_version, self.program)


def _script_pubkey(version: int, program: bytes) -> bytes:
    opcode = 0 if version == 0 else 0x50 + version
    return bytes([opcode, len(program)]) + program


def _segwit_fields(text: str, values: bytes, encoding: Encoding) -> tuple[int, bytes]:
    """Apply the segwit rules to an already checksum-verified string."""
    data = values[:-_CHECKSUM_LENGTH]
    if not data:
        raise _fail(text, "empty-data", "has an empty data part (no witness version)")
    version = data[0]
    if version > 16:
        raise _fail(text, "witness-version", f"witness version {version} is above 16")
    groups = data[1:]
    pad_bits = len(groups) * 5 % 8
    if pad_bits > 4:
        raise _fail(
            text,
            "padding",
            f"program ends with {pad_bits} padding bits, at most 4 are allowed",
        )
    try:
        program = bytes(_ref.convertbits(groups, 5, 8, False))
    except _ref.DecodeError:
        raise _fail(text, "padding", "program padding bits are not all zero") from None
    if not 2 <= len(program) <= 40:
        raise _fail(
            text,
            "program-length",
            f"witness program is {len(program)} bytes, must be 2 to 40 bytes",
        )
    if version == 0 and len(program) not in (20, 32):
        raise _fail(
            text,
            "program-length",
            f"witness version 0 program is {len(program)} bytes, must be 20 or 32 (BIP-141)",
        )
    expected = Encoding.BECH32 if version == 0 else Encoding.BECH32M
    if encoding is not expected:
        raise _fail(
            text,
            "variant",
            f"witness version {version} must use a {expected.value} checksum, "
            f"but this address has a {encoding.value} checksum",
        )
    return version, program


def decode_segwit(text: str, hrp: str | None = None) -> SegwitAddress:
    """Decode any native segwit address (witness versions 0–16).

    If ``hrp`` is given the address's human-readable part must equal it. Raises
    :class:`InvalidAddress` naming the reason.
    """
    lowered, got_hrp, values = _parse(text)
    if hrp is not None and got_hrp != hrp.lower():
        raise _fail(
            text, "wrong-network", f"human-readable part is {got_hrp!r}, expected {hrp.lower()!r}"
        )
    encoding = _verify_checksum(text, got_hrp, values)
    version, program = _segwit_fields(text, values, encoding)
    return SegwitAddress(
        address=lowered, hrp=got_hrp, witness_version=version, program=program, encoding=encoding
    )


def encode_segwit(hrp: str, witness_version: int, program: bytes) -> str:
    """Encode a native segwit address: bech32 for version 0, bech32m for versions 1–16.

    Raises ``ValueError`` for a version outside 0..16 or a program length the BIPs forbid.
    """
    if not 0 <= witness_version <= 16:
        raise ValueError(f"witness version {witness_version} is outside 0..16")
    program = bytes(program)
    if not 2 <= len(program) <= 40:
        raise ValueError(f"witness program is {len(program)} bytes, must be 2 to 40")
    if witness_version == 0 and len(program) not in (20, 32):
        raise ValueError(f"witness v0 program is {len(program)} bytes, must be 20 or 32")
    encoding = Encoding.BECH32 if witness_version == 0 else Encoding.BECH32M
    data = bytes([witness_version]) + bytes(_ref.convertbits(program, 8, 5, True))
    return bech32_encode(hrp, data, encoding)


# --------------------------------------------------------------------------------------------
# Protocol-level addresses: P2WPKH and P2TR on bc / tb / bcrt
# --------------------------------------------------------------------------------------------


def _check_network(network: str) -> str:
    try:
        return NETWORKS[network]
    except KeyError:
        raise ValueError(
            f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}"
        ) from None


def _check_kind(kind: str) -> tuple[int, int]:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown address kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def _bytes_converter(value: bytes | bytearray | memoryview) -> bytes:
    return bytes(value)


@define(frozen=True)
class BtcAddress:
    """A validated P2WPKH or P2TR address.

    ``address`` is the canonical lower-case form; ``program`` is the witness program (20 bytes for
    P2WPKH, 32 for P2TR).
    """

    address: str
    network: str
    kind: str
    witness_version: int
    program: bytes = field(converter=_bytes_converter)

    @property
    def hrp(self) -> str:
        return NETWORKS[self.network]

    @property
    def script_pubkey(self) -> bytes:
        """The output script this address pays to."""
        return _script_pubkey(self.witness_version, self.program)

    @property
    def por_program(self) -> bytes:
        """The 32-byte ``btcProgram`` of the proof-of-reserves leaf (see :func:`por_program`)."""
        return self.program.rjust(32, b"\x00")

    def __str__(self) -> str:
        return self.address


# encode_p2wpkh and encode_p2tr run once for every address a simulated world creates (880,000 in the
# 100,000-holder year), so they compute the BIP-173/350 checksum themselves, three times faster than
# the reference code: one table lookup per 5-bit group instead of five conditional XORs, and the
# human-readable part's share of the checksum computed once per network. tests/test_bitcoin_address.py
# holds them to encode_segwit (the reference code) on random programs of every network.
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_STEP: Final = tuple(functools.reduce(operator.xor, (g for i, g in enumerate(_GENERATOR) if top >> i & 1), 0)
                     for top in range(32))  # what the five generator terms add for each top 5 bits
_CONSTANT: Final = {0: 1, 1: 0x2BC830A3}  # bech32 for witness version 0, bech32m for version 1


@functools.cache
def _hrp_checksum_state(hrp: str) -> int:
    state = 1
    for value in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]:
        state = ((state & 0x1FFFFFF) << 5) ^ value ^ _STEP[state >> 25]
    return state


def _encode_kind(kind: str, program: bytes, network: str) -> str:
    version, length = _check_kind(kind)
    hrp = _check_network(network)
    program = bytes(program)
    if len(program) != length:
        raise ValueError(f"a {kind} program is {length} bytes, got {len(program)}")
    bits = 8 * length
    pad = -bits % 5  # the last group is padded with zero bits (convertbits with pad=True)
    joined, groups = int.from_bytes(program, "big") << pad, (bits + pad) // 5
    data = [version] + [joined >> 5 * (groups - 1 - i) & 31 for i in range(groups)]
    state = _hrp_checksum_state(hrp)
    for value in data + [0] * _CHECKSUM_LENGTH:
        state = ((state & 0x1FFFFFF) << 5) ^ value ^ _STEP[state >> 25]
    state ^= _CONSTANT[version]
    checksum = [state >> 5 * (_CHECKSUM_LENGTH - 1 - i) & 31 for i in range(_CHECKSUM_LENGTH)]
    return hrp + "1" + "".join(_CHARSET[value] for value in data + checksum)


def encode_p2wpkh(program20: bytes, network: str = "mainnet") -> str:
    """The P2WPKH address (witness v0, bech32) of a 20-byte key hash on ``network``."""
    return _encode_kind("p2wpkh", program20, network)


def encode_p2tr(program32: bytes, network: str = "mainnet") -> str:
    """The P2TR address (witness v1, bech32m) of a 32-byte x-only output key on ``network``.

    Any 32 bytes are accepted: whether they are a valid curve point is not an address-format
    question.
    """
    return _encode_kind("p2tr", program32, network)


def decode(address: str, network: str | None = None) -> BtcAddress:
    """Decode and fully validate a P2WPKH or P2TR address.

    If ``network`` is given (``mainnet``/``testnet``/``regtest``) the address must belong to it.
    The prefix is checked before the checksum so that a wrong or mistyped prefix is reported as
    such. Raises :class:`InvalidAddress` (a ``ValueError``) naming the address and the reason.
    """
    if network is not None:
        _check_network(network)
    lowered, hrp, values = _parse(address)
    if hrp not in HRP_TO_NETWORK:
        known = ", ".join(f"{h} ({n})" for h, n in HRP_TO_NETWORK.items())
        raise _fail(address, "unknown-hrp", f"unknown prefix (hrp) {hrp!r}; expected one of {known}")
    got_network = HRP_TO_NETWORK[hrp]
    if network is not None and got_network != network:
        raise _fail(
            address,
            "wrong-network",
            f"prefix {hrp!r} is {got_network}, but a {network} address "
            f"(prefix {NETWORKS[network]!r}) was expected",
        )
    encoding = _verify_checksum(address, hrp, values)
    version, program = _segwit_fields(address, values, encoding)
    for kind, (kind_version, kind_length) in KINDS.items():
        if version == kind_version and len(program) == kind_length:
            return BtcAddress(
                address=lowered,
                network=got_network,
                kind=kind,
                witness_version=version,
                program=program,
            )
    if version == 0:
        what = "a P2WSH address (witness v0, 32-byte program)"
    elif version == 1:
        what = f"a witness v1 address with a {len(program)}-byte program (P2TR needs 32)"
    else:
        what = f"a witness version {version} address"
    raise _fail(
        address,
        "unsupported",
        f"valid segwit, but {what} is not supported; only P2WPKH (v0, 20 bytes) "
        f"and P2TR (v1, 32 bytes) are",
    )


def validate(address: str, network: str | None = None) -> BtcAddress:
    """Same as :func:`decode`: return the decoded address or raise :class:`InvalidAddress`."""
    return decode(address, network)


def is_valid(address: str, network: str | None = None) -> bool:
    """True when :func:`decode` accepts the address."""
    try:
        decode(address, network)
    except InvalidAddress:
        return False
    return True


def por_program(address: str | BtcAddress) -> bytes:
    """The 32-byte ``btcProgram`` of PROTOCOL.md's proof-of-reserves leaf.

    A P2WPKH program (20 bytes) is left-padded with zero bytes to 32; a P2TR program is used as
    is. Raises :class:`InvalidAddress` for an address :func:`decode` rejects.
    """
    decoded = address if isinstance(address, BtcAddress) else decode(address)
    return decoded.por_program


def random_address(
    rng: np.random.Generator, kind: str = "p2wpkh", network: str = "regtest"
) -> str:
    """A valid address of ``kind`` on ``network`` whose program is drawn from ``rng``.

    Deterministic: the same generator state gives the same address (one ``rng.bytes`` call of
    20 or 32 bytes).
    """
    _, length = _check_kind(kind)
    _check_network(network)
    program = rng.bytes(length)
    return encode_p2wpkh(program, network) if kind == "p2wpkh" else encode_p2tr(program, network)

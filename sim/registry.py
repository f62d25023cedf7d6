"""Who owns which Bitcoin address: the committee's register of bindings (EVM user <-> BTC addresses).

A binding is made once, when a user proves control of an address (BIP-322 signature, method 1, or a
self-send, method 2). The committee draws a 32-byte ``vrf_salt`` per binding and derives the
proof-of-reserves checksum ``keccak256(eth ‖ btcProgram ‖ vrf_salt ‖ "reservebtc:v1")``.
"""

from __future__ import annotations

from attrs import frozen
from contracts_model.keccak import keccak256 as keccak

from sim.bitcoin.address import validate

METHOD_BIP322 = 1
METHOD_SELF_SEND = 2
CHECKSUM_DOMAIN = b"reservebtc:v1"


def binding_checksum(eth: str, btc_program: bytes, vrf_salt: bytes) -> bytes:
    """``keccak256(eth ‖ btcProgram ‖ vrf_salt ‖ "reservebtc:v1")`` (PROTOCOL.md, proof of reserves)."""
    return keccak(bytes.fromhex(eth[2:]) + btc_program + vrf_salt + CHECKSUM_DOMAIN)


@frozen
class Binding:
    user: str  # EVM address, lowercase hex
    btc_address: str
    btc_program: bytes  # 32 bytes, as in the proof-of-reserves leaf
    method: int
    vrf_salt: bytes
    checksum: bytes
    bound_at: int  # simulated seconds


class Registry:
    """All bindings, in the order they were made; lookups both ways."""

    def __init__(self, network: str):
        self.network = network
        self._by_user: dict[str, list[Binding]] = {}
        self._by_address: dict[str, Binding] = {}
        #: Every bound address (the oracle's watch list), kept as a set for change queries.
        self.watched: set[str] = set()

    def bind(self, user: str, btc_address: str, method: int, vrf_salt: bytes, now: int) -> Binding:
        """Record a binding; raises ``InvalidAddress`` for a malformed or wrong-network address and
        ``ValueError`` if the address is already bound."""
        decoded = validate(btc_address, self.network)
        if decoded.address in self._by_address:
            raise ValueError(f"{decoded.address} is already bound to {self._by_address[decoded.address].user}")
        program = decoded.por_program
        binding = Binding(user, decoded.address, program, method, vrf_salt,
                          binding_checksum(user, program, vrf_salt), now)
        self._by_user.setdefault(user, []).append(binding)
        self._by_address[decoded.address] = binding
        self.watched.add(decoded.address)
        return binding

    def users(self) -> list[str]:
        """Users in registration order."""
        return list(self._by_user)

    def bindings(self, user: str) -> list[Binding]:
        return self._by_user.get(user, [])

    def addresses_of(self, user: str) -> list[str]:
        return [b.btc_address for b in self._by_user.get(user, ())]

    def owner_of(self, btc_address: str) -> str | None:
        binding = self._by_address.get(btc_address)
        return binding.user if binding else None

    def all_bindings(self) -> list[Binding]:
        return [b for bindings in self._by_user.values() for b in bindings]

    def __contains__(self, user: str) -> bool:
        return user in self._by_user

    def __len__(self) -> int:
        return len(self._by_user)

"""Solidity 0.8 integer semantics: checked uint256 arithmetic and the explicit casts the contracts use.

Checked operations raise `Panic(0x11)` on over/underflow and `Panic(0x12)` on division by zero,
exactly where the compiled code does. Python ints are unbounded, so every other operation in the models
is exact as long as its operands are in range.
"""

from __future__ import annotations

from contracts_model.errors import PANIC_ARITHMETIC, PANIC_DIVISION_BY_ZERO, Panic

UINT8_MAX = 2**8 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def add(a: int, b: int) -> int:
    """uint256 a + b, checked."""
    c = a + b
    if c > UINT256_MAX:
        raise Panic(PANIC_ARITHMETIC)
    return c


def sub(a: int, b: int) -> int:
    """uint256 a - b, checked."""
    if b > a:
        raise Panic(PANIC_ARITHMETIC)
    return a - b


def mul(a: int, b: int) -> int:
    """uint256 a * b, checked."""
    c = a * b
    if c > UINT256_MAX:
        raise Panic(PANIC_ARITHMETIC)
    return c


def div(a: int, b: int) -> int:
    """uint256 a / b (floor), checked for a zero divisor."""
    if b == 0:
        raise Panic(PANIC_DIVISION_BY_ZERO)
    return a // b


def uint32(x: int) -> int:
    """Explicit narrowing cast `uint32(x)`: keeps the low 32 bits."""
    return x & UINT32_MAX


def uint64(x: int) -> int:
    """Explicit narrowing cast `uint64(x)`: keeps the low 64 bits."""
    return x & UINT64_MAX

"""attrs validators for configuration values, and the one error they raise.

Every configuration class (:mod:`contracts_model.params`, :mod:`sim.config`) checks its own fields
with these, so a value built in Python is checked exactly like one read from a scenario file. A
failed check raises :class:`InvalidValue`, which carries the field's name, the value and what was
expected, so that the scenario layer can say it in the file's terms (file, table, key).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from contracts_model.evm_math import UINT256_MAX

#: 21 million BTC in sats: no amount of BTC anywhere can exceed it.
MAX_SATS = 21_000_000 * 100_000_000


class InvalidValue(ValueError):
    """A configuration value outside what its field accepts."""

    def __init__(self, field: str, value, expected: str):
        self.field, self.value, self.expected = field, value, expected
        super().__init__(f"{field}: expected {expected}, got {show(value)}")


class Described(str):
    """A value given as its description: shown as is, without quotes."""

    def __repr__(self) -> str:
        return str(self)


def show(value) -> str:
    """``repr(value)`` fit for a one-line message: huge integers are abbreviated, long texts cut."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {math.floor(value.bit_length() * math.log10(2)) + 1} digits"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(show(v) for v in value[:8]) + (", ..." if len(value) > 8 else "")
        text = f"[{inner}]"
    else:
        try:
            text = repr(value)
        except ValueError:  # holds an integer too long to print
            text = f"a {type(value).__name__} too large to show"
    return text if len(text) <= 120 else text[:117] + "..."


def bound(value: int) -> str:
    """A bound for a message: ``2**256 - 1`` and ``21,000,000 BTC`` read better than their digits."""
    if value == UINT256_MAX:
        return "2**256 - 1"
    if value == MAX_SATS:
        return "2,100,000,000,000,000 (21 M BTC)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(low: int, high: int, what: str = "a whole number") -> Callable:
    """An int (never a bool) in ``[low, high]``."""
    expected = f"{what} in [{bound(low)}, {bound(high)}]"

    def check(instance, attribute, value):
        if not _is_int(value) or not low <= value <= high:
            raise InvalidValue(attribute.name, value, expected)

    return check


def number(low: float, high: float, what: str = "a finite number") -> Callable:
    """A finite int or float in ``[low, high]`` (NaN and infinities are refused)."""
    expected = f"{what} in [{bound(low)}, {bound(high)}]"

    def check(instance, attribute, value):
        if not _is_number(value) or not math.isfinite(value) or not low <= value <= high:
            raise InvalidValue(attribute.name, value, expected)

    return check


#: A share (probability) in [0, 1].
share = number(0, 1, "a share")


def one_of(choices: Sequence[str]) -> Callable:
    expected = f"one of {', '.join(choices)}"

    def check(instance, attribute, value):
        if value not in choices:
            raise InvalidValue(attribute.name, value, expected)

    return check


def boolean(instance, attribute, value):
    """Exactly True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise InvalidValue(attribute.name, value, "true or false")


def text(max_chars: int) -> Callable:
    """A string of at most ``max_chars`` characters that UTF-8 can encode (no lone surrogates)."""
    expected = f"a text of at most {max_chars:,} characters"

    def check(instance, attribute, value):
        if not isinstance(value, str) or len(value) > max_chars:
            raise InvalidValue(attribute.name, value, expected)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue(attribute.name, value, expected + " (valid Unicode)") from None

    return check


def pair(item: Callable, low, high, what: str) -> Callable:
    """A ``(low, high)`` pair: both items pass ``item``'s check and ``low <= high``."""
    expected = f"[low, high] of {what} in [{bound(low)}, {bound(high)}] with low <= high"

    def check(instance, attribute, value):
        if not isinstance(value, tuple) or len(value) != 2:
            raise InvalidValue(attribute.name, value, expected)
        try:
            for v in value:
                item(instance, attribute, v)
        except InvalidValue:
            raise InvalidValue(attribute.name, value, expected) from None
        if value[0] > value[1]:
            raise InvalidValue(attribute.name, value, expected)

    return check


def int_pair(low: int, high: int, what: str = "whole numbers") -> Callable:
    return pair(integer(low, high), low, high, what)


def number_pair(low: float, high: float, what: str = "finite numbers") -> Callable:
    return pair(number(low, high), low, high, what)


def uint256(what: str = "a whole number") -> Callable:
    return integer(0, UINT256_MAX, what)

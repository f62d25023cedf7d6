"""How the report writes numbers, amounts, times and durations (plain text, no markup).

Simulated time ``t`` is seconds since genesis; it is shown as ``day D HH:MM`` with day 0 the day
of genesis, the same origin as the plots' x axes (``t / 86400``).
"""

from __future__ import annotations

from decimal import Decimal

DAY = 86_400
WEI_PER_ETH = 10**18
SATS_PER_BTC = 10**8
DASH = "—"


def integer(value) -> str:
    """``12,345``; a missing value is a dash."""
    if value is None:
        return DASH
    return f"{int(value):,}"


def sim_time(t, *, seconds: bool = False) -> str:
    """``day 2 14:05`` (or ``day 2 14:05:09``) for seconds since genesis."""
    if t is None:
        return DASH
    day, rest = divmod(int(t), DAY)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    text = f"day {day} {hours:02d}:{minutes:02d}"
    return f"{text}:{secs:02d}" if seconds else text


def duration(seconds) -> str:
    """A duration as a person says it: ``45 s``, ``4 min 10 s``, ``2 h 23 min``, ``3 days 4 h``."""
    if seconds is None:
        return DASH
    s = int(round(float(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3_600:
        minutes, s = divmod(s, 60)
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    if s < DAY:
        hours, rest = divmod(s, 3_600)
        minutes = rest // 60
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, rest = divmod(s, DAY)
    hours = rest // 3_600
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def eth(wei) -> str:
    """Wei as ETH with up to 6 decimals: ``1.604818 ETH``."""
    if wei is None:
        return DASH
    value = Decimal(int(wei)) / WEI_PER_ETH
    text = _trim(f"{value:,.6f}")
    if text in ("0", "-0") and int(wei) != 0:
        return f"{int(wei):,} wei"
    return f"{text} ETH"


def gwei(wei) -> str:
    """Wei as gwei, exact: ``1 gwei``, ``0.5 gwei``."""
    if wei is None:
        return DASH
    return f"{_trim(f'{Decimal(int(wei)) / 10**9:,.9f}')} gwei"


def btc(sats) -> str:
    """Sats as BTC, exact: ``66.20944843 BTC``."""
    if sats is None:
        return DASH
    value = Decimal(int(sats)) / SATS_PER_BTC
    return f"{_trim(f'{value:,.8f}')} BTC"


def sats(amount) -> str:
    """``1,234,567 sats``."""
    if amount is None:
        return DASH
    return f"{int(amount):,} sats"


def ratio(value) -> str:
    """A backing ratio: ``0.998054 (99.81 %)``."""
    if value is None:
        return DASH
    return f"{float(value):.6f} ({float(value) * 100:.2f} %)"


def bps(value) -> str:
    """Basis points with the percentage: ``500 bps (5.00 %)``."""
    if value is None:
        return DASH
    return f"{int(value):,} bps ({int(value) / 100:.2f} %)"


def short_hex(text: str, keep: int = 12) -> str:
    """The first ``keep`` characters of a hash or digest (after a ``0x`` prefix if any)."""
    if not text:
        return DASH
    prefix = "0x" if text.startswith("0x") else ""
    body = text[len(prefix):]
    return prefix + body[:keep] if len(body) > keep else text


def short_address(address: str) -> str:
    """``0x7947…8b95`` for a 42-character EVM address; anything else unchanged."""
    if isinstance(address, str) and address.startswith("0x") and len(address) == 42:
        return f"{address[:6]}…{address[-4:]}"
    return str(address)


def value(v) -> str:
    """A scalar from a record (violation values, parameters): ints with separators, the rest as is."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {value(x)}" for k, x in v.items()) + "}"
    return str(v)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 reorg``, ``3 reorgs``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"

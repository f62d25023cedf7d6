"""The deployment parameters of a ReserveBTC system, as small validated values."""

from __future__ import annotations

import attrs

from contracts_model.validation import InvalidValue, uint256

DAY = 86_400
#: Every parameter is a uint256 constructor or configureYield argument.
_uint256 = uint256()


@attrs.frozen
class YieldParams:
    """YieldScalesPool.configureYield arguments; the defaults are the pool constructor's values."""

    base_rate: int = attrs.field(default=500, validator=_uint256)  # bps at full scale
    max_rate: int = attrs.field(default=2000, validator=_uint256)  # bps
    silver_after: int = attrs.field(default=180 * DAY, validator=_uint256)  # seconds since joining
    gold_after: int = attrs.field(default=365 * DAY, validator=_uint256)
    bronze_multiplier: int = attrs.field(default=110, validator=_uint256)  # percent
    silver_multiplier: int = attrs.field(default=125, validator=_uint256)
    gold_multiplier: int = attrs.field(default=150, validator=_uint256)

    def __attrs_post_init__(self):
        if self.silver_after > self.gold_after:
            # configureYield would revert InvalidAmount(); say so before deploying anything.
            raise InvalidValue("gold_after", self.gold_after,
                               f"at least silver_after ({self.silver_after:,}): Gold comes after Silver")

    def as_args(self) -> tuple[int, ...]:
        """The configureYield argument tuple, in ABI order."""
        return (
            self.base_rate, self.max_rate, self.silver_after, self.gold_after,
            self.bronze_multiplier, self.silver_multiplier, self.gold_multiplier,
        )


def _optional_yield_params(instance, attribute, value):
    if value is not None and not isinstance(value, YieldParams):
        raise InvalidValue(attribute.name, value, "YieldParams or None")


@attrs.frozen
class ProtocolParams:
    """Constructor arguments of FeePolicy and OracleAggregator, plus optional yield parameters."""

    pct_bps: int = attrs.field(validator=_uint256)
    fixed_wei: int = attrs.field(validator=_uint256)
    wei_per_sat: int = attrs.field(validator=_uint256)
    min_confirmations: int = attrs.field(validator=_uint256)
    max_fee_per_sync_wei: int = attrs.field(validator=_uint256)
    yield_params: YieldParams | None = attrs.field(default=None, validator=_optional_yield_params)


PRESETS: dict[str, ProtocolParams] = {
    # The public testnet deployment (PROTOCOL.md).
    "testnet": ProtocolParams(
        pct_bps=10, fixed_wei=0, wei_per_sat=10**9, min_confirmations=1, max_fee_per_sync_wei=10**16
    ),
    # The same with a fixed leg, so that a decrease costs a fee and the emergency burn can happen.
    "fixed_fee": ProtocolParams(
        pct_bps=10, fixed_wei=10**12, wei_per_sat=10**9, min_confirmations=1, max_fee_per_sync_wei=10**16
    ),
}

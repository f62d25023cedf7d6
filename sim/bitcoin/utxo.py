"""The UTXO set with a per-address index for fast confirmed-balance queries.

Besides the coins themselves the set keeps, for every address, the total value of its unspent
coins and the same total broken down by the height of the block that created each coin. A coin
created at height ``h`` has ``tip - h + 1`` confirmations, so the balance counting only coins with
at least ``c`` confirmations is the address's total minus what it received in the last ``c - 1``
blocks. That takes ``O(min(c, k))`` dictionary look-ups, ``k`` being the number of distinct
heights at which the address holds unspent coins — constant for a fixed ``min_conf``, and never a
scan of the UTXO set.
"""

from __future__ import annotations

from collections.abc import Iterable

from .transactions import Coin, OutPoint

__all__ = ["UtxoSet"]


class UtxoSet:
    """Unspent coins, indexed by outpoint and by address.

    Iteration orders never depend on hashing: per-address coins are returned sorted.
    """

    def __init__(self) -> None:
        self._coins: dict[OutPoint, Coin] = {}
        self._by_address: dict[str, dict[OutPoint, Coin]] = {}
        self._total: dict[str, int] = {}
        self._by_height: dict[str, dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self._coins)

    def __contains__(self, outpoint: object) -> bool:
        return outpoint in self._coins

    def get(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at ``outpoint``, or ``None``."""
        return self._coins.get(outpoint)

    def add(self, coin: Coin) -> None:
        """Add an unspent coin; its outpoint must not be in the set yet."""
        if coin.outpoint in self._coins:
            raise KeyError(f"coin {coin.outpoint} is already unspent")
        self._coins[coin.outpoint] = coin
        self._by_address.setdefault(coin.address, {})[coin.outpoint] = coin
        self._total[coin.address] = self._total.get(coin.address, 0) + coin.value
        heights = self._by_height.setdefault(coin.address, {})
        heights[coin.height] = heights.get(coin.height, 0) + coin.value

    def remove(self, outpoint: OutPoint) -> Coin:
        """Remove (spend) the coin at ``outpoint`` and return it; ``KeyError`` if absent."""
        coin = self._coins.pop(outpoint)
        address = coin.address
        coins = self._by_address[address]
        del coins[outpoint]
        self._total[address] -= coin.value
        heights = self._by_height[address]
        left = heights[coin.height] - coin.value
        if left:
            heights[coin.height] = left
        else:
            del heights[coin.height]
        if not coins:
            del self._by_address[address]
            del self._total[address]
            del self._by_height[address]
        return coin

    def coins(self, address: str) -> list[Coin]:
        """The address's unspent coins, oldest first (by height, then outpoint)."""
        return sorted(self._by_address.get(address, {}).values(), key=lambda c: c.sort_key)

    def total(self, address: str) -> int:
        """Sum of the address's unspent coins, whatever their confirmations."""
        return self._total.get(address, 0)

    def balance(self, address: str, min_conf: int, tip_height: int) -> int:
        """Sum of the address's unspent coins with at least ``min_conf`` (>= 1) confirmations
        when the tip is at ``tip_height``. ``O(min(min_conf, k))``; see the module docstring."""
        total = self._total.get(address, 0)
        if min_conf <= 1 or not total:
            return total
        heights = self._by_height[address]
        cutoff = tip_height - min_conf + 1  # coins created above this height are too young
        if len(heights) < min_conf - 1:
            young = sum(value for height, value in heights.items() if height > cutoff)
        else:
            young = 0
            for height in range(cutoff + 1, tip_height + 1):
                young += heights.get(height, 0)
        return total - young

    def addresses(self) -> list[str]:
        """Every address holding at least one unspent coin, sorted."""
        return sorted(self._by_address)

    def all_coins(self) -> Iterable[Coin]:
        """Every unspent coin, sorted by outpoint (for checks and reports, not the hot path)."""
        return (self._coins[op] for op in sorted(self._coins))

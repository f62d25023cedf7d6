"""Hypothesis strategies for the protocol's values, and the accounts the property suite plays with."""

from __future__ import annotations

from hypothesis import strategies as st

#: Three users and a stranger (who holds no role), as lowercase addresses.
USERS = tuple("0x" + (0xA11CE0 + i).to_bytes(20, "big").hex() for i in range(3))
STRANGER = "0x" + (0xBAD).to_bytes(20, "big").hex()

users = st.sampled_from(USERS)
#: Bitcoin balances in sats: edge values (0, 1, the rate-limit threshold, 21 M BTC, one past int64) and
#: ordinary ones.
BALANCES = (0, 1, 999, 1_000, 50_000, 100_000_000, 2_100_000_000_000_000, 2**63)
balances = st.one_of(st.sampled_from(BALANCES), st.integers(min_value=0, max_value=5 * 10**8))
#: Wei amounts: zero, dust, typical prepayments and large ones.
WEI = (0, 1, 10**12, 10**15, 10**17)
wei = st.one_of(st.sampled_from(WEI), st.integers(min_value=0, max_value=10**18))

"""Events as plain values: which contract emitted what, with which arguments.

`Event(contract, name, args)`: `contract` is the emitting contract's name ("OracleAggregator"),
`args` the event's parameters in ABI order (indexed or not), normalized exactly as
`contracts_model.abi.normalize_value` does: address -> lowercase "0x" + 40 hex chars, uintN/intN -> int,
bool -> bool, bytes32 -> bytes, string -> str. The EVM backend decodes logs into the same values, so
two event lists compare with `==`.
"""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class Event:
    contract: str
    name: str
    args: tuple

    def __repr__(self):
        args = ", ".join(repr(a) for a in self.args)
        return f"{self.contract}.{self.name}({args})"

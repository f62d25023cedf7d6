"""Pure-Python reference models of the ReserveBTC contracts in contracts_model/solidity/.

The Solidity sources are the specification; each model mirrors one contract function by function,
with Solidity 0.8 integer semantics, the same reverts (as exceptions named like the errors), the same
events in the same order and the same ETH movements. `ModelSystem` deploys and drives all of them.
"""

from contracts_model import keccak  # noqa: F401  (first: selects the fast keccak backend)
from contracts_model.accounts import ZERO_ADDRESS, create_address, to_address
from contracts_model.chain import Msg
from contracts_model.errors import (
    ERRORS,
    ArgumentError,
    BareRevert,
    ContractRevert,
    InsufficientFunds,
    Panic,
    RevertString,
    revert_class,
)
from contracts_model.events import Event
from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from contracts_model.protocol import DEPLOYMENT_ORDER
from contracts_model.system import ModelSystem

__all__ = [
    "DEPLOYMENT_ORDER",
    "ERRORS",
    "PRESETS",
    "ZERO_ADDRESS",
    "ArgumentError",
    "BareRevert",
    "ContractRevert",
    "Event",
    "InsufficientFunds",
    "ModelSystem",
    "Msg",
    "Panic",
    "ProtocolParams",
    "RevertString",
    "YieldParams",
    "create_address",
    "revert_class",
    "to_address",
]

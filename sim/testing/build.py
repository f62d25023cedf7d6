"""A build under test, and the lockstep backend that checks it against the reference models.

A :class:`Build` names compiled artifacts (``None``: the project's own), who holds each role, the
differences its authors declared, and the EVM it runs on (``pyevm``, the reference, or ``revm``, the
fast path; :func:`fastest_evm` picks revm when its wheel loads here). :func:`deployed` deploys it next to the models once per
(build, parameters) and hands out the same deployment rewound to its starting state, so a property
test pays for deployment once, not once per example.
"""

from __future__ import annotations

from pathlib import Path

from attrs import frozen

from contracts_model.deployment import Deployment
from contracts_model.params import ProtocolParams
from sim.protocol.deviations import Deviations, load_deviations
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend


@frozen
class Build:
    """Compiled contracts to check, and how they are deployed."""

    artifacts: str | None = None  # a directory of artifacts (own layout, Foundry out/, Hardhat); None: ours
    deployment: Deployment = Deployment()
    deviations_file: str | None = None
    evm: str = "pyevm"  # pyevm | revm

    @classmethod
    def at(cls, artifacts: str | Path | None = None, *, deployment: Deployment | None = None,
           deviations_file: str | Path | None = None, evm: str | None = None) -> "Build":
        return cls(str(Path(artifacts).resolve()) if artifacts else None, deployment or Deployment(),
                   str(Path(deviations_file).resolve()) if deviations_file else None, evm or fastest_evm())

    @property
    def label(self) -> str:
        return self.artifacts or "the project's own build"

    def deviations(self) -> Deviations:
        return load_deviations(self.deviations_file)

    def lockstep(self, params: ProtocolParams, *, on_divergence: str = "raise", observe_every: int = 1) -> LockstepBackend:
        """The reference models (left) and this build on the EVM (right), deployed alike; outcomes and
        events are compared on every action, the whole observable state every ``observe_every``."""
        return LockstepBackend(ModelBackend(params, deployment=self.deployment),
                               EvmBackend(params, engine=self.evm, deployment=self.deployment,
                                          artifacts_dir=self.artifacts),
                               deviations=self.deviations(), on_divergence=on_divergence, observe_every=observe_every)

    def evm_backend(self, params: ProtocolParams) -> EvmBackend:
        """The build alone on its EVM."""
        return EvmBackend(params, engine=self.evm, deployment=self.deployment, artifacts_dir=self.artifacts)


def fastest_evm() -> str:
    """``revm`` where its wheel loads, else ``pyevm``."""
    from sim.evm.revm_engine import revm_available

    return "revm" if revm_available() else "pyevm"


_DEPLOYED: dict[tuple, tuple[LockstepBackend, object]] = {}


def deployed(build: Build, params: ProtocolParams, *, on_divergence: str = "raise",
             observe_every: int = 1) -> LockstepBackend:
    """``build.lockstep(params)``, deployed once per process and rewound to just after deployment."""
    key = (build, params, on_divergence, observe_every)
    if key not in _DEPLOYED:
        backend = build.lockstep(params, on_divergence=on_divergence, observe_every=observe_every)
        _DEPLOYED[key] = (backend, backend.snapshot())
    backend, token = _DEPLOYED[key]
    backend.revert(token)
    backend.deviations.applied.clear()
    backend.journal = None
    return backend

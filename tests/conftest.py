"""Shared fixtures: deployed backends are expensive to build, so tests share one per preset and rewind it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from contracts_model.params import PRESETS
from sim.protocol.lockstep import LockstepBackend
from sim.testing import Build, deployed

# `make fuzz` sets RBTC_FUZZ=1 for long runs; CI uses the default profile.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fuzz", deadline=None, max_examples=2_000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("fuzz" if os.environ.get("RBTC_FUZZ") else "ci")

#: How many times more examples `make fuzz` runs than CI, for tests that set their own example counts.
FUZZ_FACTOR = 40 if os.environ.get("RBTC_FUZZ") else 1


def examples(n: int) -> int:
    """``n`` Hypothesis examples in CI, ``FUZZ_FACTOR`` times more under ``make fuzz``."""
    return n * FUZZ_FACTOR


@pytest.fixture(scope="session")
def builtin_run(tmp_path_factory):
    """``builtin_run(name) -> (summary, run_dir)``: each built-in scenario runs at most once per session."""
    from sim.run import execute
    from sim.scenario import load

    done: dict[str, tuple] = {}

    def run(name: str) -> tuple[dict, object]:
        if name not in done:
            done[name] = execute(load(name), tmp_path_factory.mktemp(name), report=False)
        return done[name]

    return run


@pytest.fixture
def testnet_lockstep() -> LockstepBackend:
    """The models (left) and the project's build on py-evm (right) with the testnet preset, rewound."""
    return deployed(Build(), PRESETS["testnet"])



def mutant_build(folder: Path, mutant_id: str) -> Path:
    """The catalogue's mutant ``mutant_id`` (tools/mutants.toml), compiled with the pinned solc; its build folder."""
    from tools.mutants import load_catalogue, prepare

    mutant = next(m for m in load_catalogue() if m.id == mutant_id)
    prepared = prepare(mutant, folder / mutant_id)
    assert prepared["status"] is None, prepared
    return folder / mutant_id / "build"


@pytest.fixture(scope="session")
def overwriting_vault(tmp_path_factory) -> Path:
    """A build whose FeeVault overwrites a user's prepaid balance on deposit (a fee-conservation defect)."""
    return mutant_build(tmp_path_factory.mktemp("mutants"), "vault-deposit-overwrites")

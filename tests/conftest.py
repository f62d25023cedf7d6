"""Shared fixtures: deployed backends are expensive to build, so tests share one per preset and rewind it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from contracts_model.params import PRESETS
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend

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


_DEPLOYED: dict[tuple[str, str], tuple] = {}


def deployed_lockstep(preset: str, evm: str = "pyevm") -> LockstepBackend:
    """A lockstep backend (the models vs the EVM engine ``evm``: ``pyevm`` or ``revm``) for ``preset``,
    rewound to just after deployment."""
    if (preset, evm) not in _DEPLOYED:
        backend = LockstepBackend(ModelBackend(PRESETS[preset]), EvmBackend(PRESETS[preset], engine=evm))
        _DEPLOYED[preset, evm] = (backend, backend.snapshot())
    backend, token = _DEPLOYED[preset, evm]
    backend.revert(token)
    return backend


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
    return deployed_lockstep("testnet")


@pytest.fixture
def fixed_fee_lockstep() -> LockstepBackend:
    return deployed_lockstep("fixed_fee")


def compiled_variant(folder: Path, source: str, find: str, replace: str) -> Path:
    """The project's build with one edit to one source, compiled with the pinned solc (only the
    contracts that file feeds are recompiled). Returns the artifact folder."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1]
    src, out = folder / "src", folder / "build"
    shutil.copytree(root / "contracts_model" / "solidity", src)
    shutil.copytree(root / "contracts_model" / "artifacts", out)
    target = src / source
    text = target.read_text()
    assert text.count(find) == 1, f"{find!r} is not in {source} exactly once"
    target.write_text(text.replace(find, replace))
    done = subprocess.run(["node", "tools/compile.js", "--src", str(src), "--out", str(out), "--changed"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out

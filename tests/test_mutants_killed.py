"""The CI subset of the mutant catalogue (``ci = true`` in tools/mutants.toml) against ``rbtc-sim check``.

Each CI mutant is compiled with the pinned solc (or deployed with its swapped role) and must be killed
by the very invariant the catalogue names for it; the unmodified build must pass, with each of those
invariants exercised and held. The checker evaluates every invariant (no ``--fail-fast``), so a mutant
is not credited to whichever invariant happened to fire first. ``$RBTC_MUTANT_BUDGET`` sets the budget
(default ``smoke``, a few seconds per build, so the subset fits in CI).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from sim.protocol.artifacts import DEFAULT_ARTIFACT_DIR
from tools.mutants import KILLED, Settings, default_checker, load_catalogue, run


BUDGET = os.environ.get("RBTC_MUTANT_BUDGET", "smoke")
CI_MUTANTS = [m for m in load_catalogue() if m.ci]


def test_the_unmodified_build_passes_with_every_named_invariant_exercised(tmp_path):
    out = tmp_path / "check"
    done = subprocess.run([*default_checker(), str(DEFAULT_ARTIFACT_DIR), "--budget", BUDGET, "--seed", "1",
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((out / "check.json").read_text())
    assert report["verdict"] == "pass"
    assert [name for name, entry in report["invariants"].items() if entry["status"] == "violated"] == []
    for mutant in CI_MUTANTS:
        assert report["invariants"][mutant.expect]["status"] == "held", (mutant.expect, report["invariants"])


@pytest.fixture(scope="module")
def ci_results(tmp_path_factory):
    """The CI subset checked two at a time (one per core); each mutant's result is in its folder."""
    out = tmp_path_factory.mktemp("mutants")
    settings = Settings(checker=default_checker(), budget=BUDGET, seed=1, fail_fast=False, out=out)
    run(load_catalogue(), tuple(CI_MUTANTS), settings, workers=2, force=True, report=lambda line: None)
    return out


@pytest.mark.parametrize("mutant", CI_MUTANTS, ids=lambda m: m.id)
def test_check_kills_the_ci_mutant_by_the_invariant_it_names(mutant, ci_results):
    result = json.loads((ci_results / mutant.id / "result.json").read_text())
    log = (ci_results / mutant.id / "check.log").read_text()[-3000:] if result["status"] != KILLED else ""
    assert result["status"] == KILLED, (result, log)
    assert mutant.expect in result["violated"], result

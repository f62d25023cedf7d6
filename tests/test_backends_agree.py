"""Model, py-evm and revm write the same event log: every built-in scenario, shortened to CI size.

Each built-in keeps its seed, protocol and scheduled events; only the number of users and the
duration shrink (the duration still covers every scheduled event). The three digests must be equal
and equal to the pin in tests/digests_ci.json (the full-size built-ins stay pinned in
tests/digests.json). After an intended change of behaviour, refresh these pins with
`RBTC_UPDATE_DIGESTS=1 .venv/bin/python -m pytest tests/test_backends_agree.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

from sim.config import DAY, HOUR
from sim.run import execute
from sim.scenario import load

PINS = Path(__file__).with_name("digests_ci.json")

#: Built-in -> (users, duration in seconds) at CI size.
SHORT = {
    "baseline": (30, DAY),
    "deep_reorg": (40, 50 * HOUR),       # reorgs at 24h10m and 48h05m
    "dispute_storm": (40, 27 * HOUR),    # outage at 24h00m50s for 40 min, dispute wave at 24h42m
    "fee_drought": (30, 4 * DAY + 12 * HOUR),  # top-ups stop from day 1 to day 4
    "load_10k": (100, DAY),
    "oracle_outage": (40, 40 * HOUR),    # outage at 36h for an hour
    # a year of polls costs every backend alike; tier changes are exercised on revm by the lockstep
    # state machines (tests/test_lockstep_properties.py), and at full size by tests/test_scenarios.py
    "yield_season": (12, 40 * DAY),
}
BACKENDS = ("model", "revm", "evm")


def test_every_built_in_has_a_ci_size():
    from sim.scenario import builtins

    # built-ins on the fast engine run the models only; tests/test_fast_engine.py compares them with the
    # reference engine on shared traces
    assert sorted(SHORT) == sorted(s.name for s in builtins() if s.config.engine == "reference")


@pytest.mark.parametrize("name", sorted(SHORT))
def test_model_py_evm_and_revm_write_the_same_event_log(name, tmp_path):
    users, duration = SHORT[name]
    scenario = load(name)
    assert all(event.at_s < duration for event in scenario.config.schedule), "the CI size cuts off an event"
    summaries = {}
    for backend in BACKENDS:
        config = attrs.evolve(scenario.config, users=users, duration_s=duration, backend=backend)
        summaries[backend], _ = execute(attrs.evolve(scenario, config=config), tmp_path / backend, report=False)
    digests = {backend: s["digest"] for backend, s in summaries.items()}
    pinned = json.loads(PINS.read_text()) if PINS.exists() else {}
    if os.environ.get("RBTC_UPDATE_DIGESTS"):
        pinned[name] = digests["model"]
        PINS.write_text(json.dumps(dict(sorted(pinned.items())), indent=2) + "\n")
    assert len(set(digests.values())) == 1, digests
    assert digests["model"] == pinned.get(name), f"{name}: digest changed (or not pinned yet)"
    summary = summaries["revm"]
    assert summary["complete"] and summary["invariant_violations"] == []
    # the shortened runs still show what each scenario is about
    if name == "fee_drought":
        assert summary["emergency_burns"] > 0
    if name == "deep_reorg":
        assert summary["backing"]["windows_by_cause"]["reorg"] > 0
    if name == "oracle_outage":
        assert summary["backing"]["windows_by_cause"]["outage"] > 0
    if name == "dispute_storm":
        assert summary["disputes"]["accepted"] > 0 and summary["disputes"]["rejected"] > 0
    if name == "yield_season":
        assert summary["yield"]["participants"] > 0 and summary["yield"]["claims"] > 0
    assert summaries["evm"]["gas"]["functions"] and summary["gas"] is None

"""Running the property suite on a build, and the counterexamples it leaves: saved, rendered, replayed.

:func:`run_machine` runs one machine class with Hypothesis (seeded, no example database, so the run
is a function of the build, the budget and the seed) and returns ``None`` or the
:class:`Counterexample` Hypothesis shrank to: the steps (rule and arguments), the contract calls each
made with their outcomes, and the failure (the invariant, the message, the values that disagree, the
first differing values between the build and the models). A counterexample is JSON
(:meth:`Counterexample.save`); :func:`replay` runs its steps again on any build, without Hypothesis,
and returns the failure it still produces, or ``None``; :func:`pytest_file` writes it as a stand-alone
test module a developer can drop into their own suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from attrs import frozen
from hypothesis import HealthCheck, Verbosity, seed, settings
from hypothesis.stateful import get_state_machine_test

from contracts_model.deployment import Deployment
from contracts_model.params import ProtocolParams, YieldParams
from sim.protocol.lockstep import LockstepDivergence
from sim.testing.build import Build
from sim.testing.machine import InvariantFailure, ProtocolMachine, machine_for

FORMAT = "rbtc-sim counterexample 1"


def _encode(value):
    if isinstance(value, bytes):
        return {"hex": "0x" + value.hex()}
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"][2:])
    return value


def describe_failure(exc: BaseException) -> dict:
    """The failure as data: invariant, message, values, and the first differing values (lockstep)."""
    if isinstance(exc, LockstepDivergence):
        d = exc.divergence
        return {"invariant": "lockstep", "message": f"the build differs from the reference models at {d.action}",
                "values": {}, "diffs": d.as_dict()["diffs"][:40]}
    if isinstance(exc, InvariantFailure):
        return {"invariant": exc.invariant, "message": exc.message,
                "values": {k: repr(v) for k, v in exc.values.items()}, "diffs": []}
    return {"invariant": "harness", "message": f"{type(exc).__name__}: {exc}", "values": {}, "diffs": []}


@frozen
class Counterexample:
    machine: str
    params: ProtocolParams
    build: Build
    seed: int
    steps: tuple  # ((rule, {arg: value}), ...)
    calls: tuple  # ((step index, action, outcome), ...)
    failure: dict

    @property
    def invariant(self) -> str:
        return self.failure["invariant"]

    def as_json(self) -> dict:
        return {
            "format": FORMAT,
            "machine": self.machine,
            "params": attrs.asdict(self.params),
            "build": {"artifacts": self.build.artifacts, "deployment": dict(self.build.deployment.holders),
                      "deviations_file": self.build.deviations_file},
            "seed": self.seed,
            "steps": [{"rule": rule, "args": {k: _encode(v) for k, v in args.items()},
                       "calls": [{"call": action, "outcome": outcome} for i, action, outcome in self.calls if i == n]}
                      for n, (rule, args) in enumerate(self.steps)],
            "failure": self.failure,
            "readable": self.render().splitlines(),
        }

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        return path

    def render(self) -> str:
        """The minimal failing run as numbered steps with their contract calls, then the failure."""
        lines = []
        for n, (rule, args) in enumerate(self.steps):
            shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
            lines.append(f"{n + 1}. {rule}({shown})")
            lines += [f"     {action}  ->  {outcome}" for i, action, outcome in self.calls if i == n]
        f = self.failure
        values = ", ".join(f"{k}={v}" for k, v in f.get("values", {}).items())
        lines.append(f"FAILS [{f['invariant']}] {f['message']}" + (f" ({values})" if values else ""))
        for diff in f.get("diffs", [])[:10]:
            lines.append("     " + ", ".join(f"{k}={v}" for k, v in diff.items()))
        return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value[:6] + "…" + value[-4:]
    if isinstance(value, bytes):
        return "0x" + value.hex()[:8] + ("…" if len(value) > 4 else "")
    return repr(value)


def run_machine(machine: type[ProtocolMachine], *, examples: int, steps: int, seed_value: int,
                name: str) -> Counterexample | None:
    """Run ``machine`` for ``examples`` × ``steps``; the shrunk counterexample if an invariant broke."""
    chosen = settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False, verbosity=Verbosity.quiet,
                      print_blob=False)
    test = seed(seed_value)(get_state_machine_test(machine, settings=chosen))
    try:
        test()
    except (InvariantFailure, LockstepDivergence, AssertionError) as exc:
        trace = list(machine.last_trace)
        return Counterexample(name, machine.params, machine.build, seed_value, tuple(trace),
                              tuple(getattr(machine, "last_calls", ())), describe_failure(exc))
    return None


def load(path: str | Path) -> dict:
    """Read a counterexample file (a ValueError with one line if it is not one)."""
    from sim.input_files import MAX_PROOF_BYTES, read_json

    path = Path(path)
    data = read_json(path, "counterexample", MAX_PROOF_BYTES, ValueError)
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("steps"), list):
        raise ValueError(f"{path}: not a counterexample file (expected format {FORMAT!r})")
    return data


def params_of(data: dict) -> ProtocolParams:
    raw = dict(data["params"])
    yields = raw.pop("yield_params", None)
    return ProtocolParams(**raw, yield_params=YieldParams(**yields) if yields else None)


def replay(data: dict, build: Build | None = None) -> dict | None:
    """Run a counterexample's steps on ``build`` (default: the one it was found on); the failure it
    produces (as :func:`describe_failure` gives it), or None when every step and invariant holds."""
    if build is None:
        recorded = data["build"]
        build = Build(recorded.get("artifacts"), Deployment(tuple(sorted(recorded["deployment"].items()))),
                      recorded.get("deviations_file"))
    machine = machine_for(build, params_of(data), name="Replay")(under_hypothesis=False)
    n = -1
    try:
        for n, entry in enumerate(data["steps"]):
            getattr(machine, entry["rule"])(**{k: _decode(v) for k, v in entry["args"].items()})
            for check in machine.INVARIANT_CHECKS:
                getattr(machine, check)()
        machine.teardown()
    except (InvariantFailure, LockstepDivergence, AssertionError) as exc:
        return dict(describe_failure(exc), step=n + 1)
    return None


def pytest_file(data: dict, counterexample_path: Path) -> str:
    """A stand-alone pytest module: it fails while the build still breaks the invariant."""
    return f'''"""Counterexample from `rbtc-sim check`: [{data["failure"]["invariant"]}] {data["failure"]["message"]}

Replays the minimal failing run Hypothesis found on the build; it fails while the build still breaks
the invariant and passes once it is fixed. Point it at another build with RBTC_CONTRACTS=DIR.
"""

import json
import os
from pathlib import Path

from sim.testing import Build, replay_counterexample

COUNTEREXAMPLE = json.loads({json.dumps(json.dumps(data))})
COUNTEREXAMPLE_FILE = {str(counterexample_path.resolve())!r}


def test_{data["machine"]}_{data["failure"]["invariant"]}_holds():
    chosen = os.environ.get("RBTC_CONTRACTS")
    build = Build.at(chosen) if chosen else None
    failure = replay_counterexample(COUNTEREXAMPLE, build)
    assert failure is None, "\\n".join(COUNTEREXAMPLE["readable"][:-1] + [f"FAILS [{{failure['invariant']}}] "
                                                                        f"{{failure['message']}}"])
'''

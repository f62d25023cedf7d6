"""Checking a build: the property suites, the scenario worlds and the deployment, into one verdict.

:func:`run_check` runs, against a :class:`~sim.testing.Build`:

1. the stateful property suites (:mod:`sim.testing.suites`) with the build on the EVM and the reference
   models beside it; a failure is shrunk by Hypothesis and saved as a counterexample (JSON and a
   stand-alone pytest file) under ``<out>/counterexamples/``;
2. the check worlds (:mod:`sim.check.worlds`), each a full run folder with its report under
   ``<out>/worlds/<name>/``, every invariant monitored;
3. the deployment: each role's holder as the deployed contracts report it, against the deployment.

It returns a :class:`CheckResult`: a verdict per invariant (violated, with counts and where; held;
and the paths that would exercise it but were never reached), the protocol paths reached, the waived
deviations, and timings. ``check.json`` is rewritten after every phase, marked incomplete until the
end, so an interrupted check leaves a readable partial result.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from attrs import define, field

from contracts_model.params import PRESETS
from sim.check.worlds import WORLDS, world_scenario
from sim.exits import BadInput
from sim.invariants.sink import INVARIANTS
from sim.run import execute
from sim.testing.build import Build
from sim.testing.counterexample import pytest_file, run_machine
from sim.testing.machine import REQUIRED_PATHS
from sim.testing.suites import Budget, machines, yield_not_configurable

#: The paths whose being reached shows an invariant was exercised ("world": any world ran).
EXERCISED_BY: dict[str, tuple[str, ...]] = {
    "backing": ("world",),
    "mirroring": ("world",),
    "consistency": ("increase",),
    "lockstep": (),
    "burns": ("decrease", "emergency_burn"),
    "fees": ("deposit", "withdraw", "fee_cap"),
    "access": ("revert:Restricted", "revert:Soulbound", "revert:NotOracle"),
    "disputes": ("dispute_filed", "dispute_resolved"),
    "yield": ("join_holder", "join_trader", "claim", "tier:holder:silver", "tier:holder:gold", "tier:trader:silver",
              "tier:trader:gold"),
    "reserves": ("publish_reserves",),
    "observability": ("needs_topup",),
    "wiring": ("world",),
}

#: role -> (contract, getter) that reports its holder on chain.
ROLE_GETTERS = {
    "committee": ("OracleAggregator", "committee"),
    "synth_minter": ("RBTCSynth", "oracle"),
    "vault_spender": ("FeeVault", "oracle"),
    "fee_collector": ("FeeVault", "feeCollector"),
    "pool_oracle": ("YieldScalesPool", "oracle"),
    "reserves_publisher": ("ProofOfReserves", "committee"),
}
#: (contract, getter, linked contract): the links between the contracts.
LINK_GETTERS = (
    ("OracleAggregator", "synth", "RBTCSynth"), ("OracleAggregator", "feeVault", "FeeVault"),
    ("OracleAggregator", "feePolicy", "FeePolicy"), ("YieldScalesPool", "rbtcSynth", "RBTCSynth"),
    ("YieldScalesPool", "feeVault", "FeeVault"),
)


@define
class CheckResult:
    build: Build
    budget: Budget
    seed: int
    out: Path
    deployment_file: str | None = None
    suites: list = field(factory=list)
    worlds: list = field(factory=list)
    deployment: list = field(factory=list)
    waived: dict = field(factory=dict)  # waiver -> {"reason", "applied"}
    interrupted: str | None = "running"
    seconds: float = 0.0

    # ------------------------------------------------------------------ derived

    def paths(self) -> Counter:
        found = Counter()
        for suite in self.suites:
            found.update(suite.get("paths", {}))
        for world in self.worlds:
            for name, count in world.get("paths", {}).items():
                found[name] += count
                if name.startswith("revert:") and name.count(":") == 2:  # revert:Contract.fn:Error
                    found["revert:" + name.rsplit(":", 1)[1]] += count
            found["world"] += 1
        return found

    def invariants(self) -> dict[str, dict]:
        """Per invariant: ``violated`` (count, and where) or ``held``, and the exercising paths never reached."""
        paths = self.paths()
        verdicts = {name: {"status": "held", "count": 0, "where": [], "not_exercised": []} for name in INVARIANTS}
        for suite in self.suites:
            failure = suite.get("failure")
            if failure and failure.get("invariant") in verdicts:
                entry = verdicts[failure["invariant"]]
                entry["count"] += 1
                entry["where"].append(f"property suite {suite['name']}: {failure['message']}")
        for world in self.worlds:
            for name, count in world.get("violations_by_invariant", {}).items():
                if name in verdicts:
                    verdicts[name]["count"] += count
                    verdicts[name]["where"].append(f"world {world['name']}: {count:,}")
        for item in self.deployment:
            if not item["ok"]:
                verdicts["wiring"]["count"] += 1
                verdicts["wiring"]["where"].append(f"deployment: {item['check']}")
        for name, entry in verdicts.items():
            if entry["count"]:
                entry["status"] = "violated"
            entry["not_exercised"] = [p for p in EXERCISED_BY[name] if not paths.get(p)]
            if entry["status"] == "held" and EXERCISED_BY[name] and len(entry["not_exercised"]) == len(
                    EXERCISED_BY[name]):
                entry["status"] = "not exercised"
        return verdicts

    @property
    def complete(self) -> bool:
        return self.interrupted is None

    @property
    def verdict(self) -> str:
        return "fail" if any(v["status"] == "violated" for v in self.invariants().values()) else "pass"

    def as_json(self) -> dict:
        paths = self.paths()
        return {
            "format": "rbtc-sim check 1",
            "build": self.build.label,
            "deployment": dict(self.build.deployment.holders),
            "deployment_file": self.deployment_file,
            "deviations_file": self.build.deviations_file,
            "evm": self.build.evm,
            "budget": {"name": self.budget.name, "examples": self.budget.examples, "steps": self.budget.steps,
                       "world_users": self.budget.world_users, "world_days": self.budget.world_days},
            "seed": self.seed,
            "verdict": self.verdict,
            "complete": self.complete,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 1),
            "invariants": self.invariants(),
            "failures": self.failures(),
            "suites": self.suites,
            "worlds": self.worlds,
            "deployment_checks": self.deployment,
            "waived": [{"waiver": k, **v} for k, v in sorted(self.waived.items())],
            "paths": dict(sorted(paths.items())),
            "not_exercised": [p for p in REQUIRED_PATHS if not paths.get(p)],
        }

    def failures(self) -> list[dict]:
        found = []
        for suite in self.suites:
            if suite.get("failure"):
                found.append({"invariant": suite["failure"]["invariant"], "source": f"properties:{suite['name']}",
                              "message": suite["failure"]["message"], "counterexample": suite.get("counterexample"),
                              "replay": suite.get("replay")})
        for world in self.worlds:
            for group in world.get("groups", []):
                found.append({"invariant": group["invariant"], "source": f"world:{world['name']}",
                              "message": group["message"], "count": group["count"],
                              "replay": group.get("reproduce") or world.get("reproduce")})
        for item in self.deployment:
            if not item["ok"]:
                found.append({"invariant": "wiring", "source": "deployment", "message": item["check"]})
        return found

    def write_json(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "check.json"
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.as_json(), indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return path


def _replay_command(result: CheckResult, path: Path) -> str:
    target = result.build.artifacts or "contracts_model/artifacts"
    extra = f" --deployment {result.deployment_file}" if result.deployment_file else ""
    extra += f" --deviations {result.build.deviations_file}" if result.build.deviations_file else ""
    return f"rbtc-sim check {target} --replay {path}{extra}"


def deployment_checks(build: Build) -> list[dict]:
    """Each role's holder and each link between the contracts, as the deployed build reports them."""
    backend = build.evm_backend(PRESETS["testnet"])
    checks = []
    for role, (contract, getter) in ROLE_GETTERS.items():
        if not backend.has_function(contract, getter):
            continue
        expected, actual = backend.role_address(role), backend.call(contract, getter)
        checks.append({"check": f"{contract}.{getter}() holds role {role}", "expected": expected, "actual": actual,
                       "ok": expected == actual})
    for contract, getter, linked in LINK_GETTERS:
        if backend.has_function(contract, getter) and linked in backend.addresses:
            expected, actual = backend.addresses[linked], backend.call(contract, getter)
            checks.append({"check": f"{contract}.{getter}() is the deployed {linked}", "expected": expected,
                           "actual": actual, "ok": expected == actual})
    return checks


#: What a check writes in its folder (``overwrite`` removes exactly these).
CHECK_FILES = ("check.json", "check.md", "check.html")
CHECK_FOLDERS = ("worlds", "counterexamples")


def prepare_check_dir(out: Path, *, overwrite: bool = False) -> None:
    """A folder holding an earlier check is refused unless ``overwrite``, which removes that check's files."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: exists and is not a folder")
    if not (out / "check.json").exists():
        return
    if not overwrite:
        raise BadInput(f"{out}: holds a check already; pass --overwrite to replace it, or --out to choose another")
    for name in CHECK_FILES:
        (out / name).unlink(missing_ok=True)
    for name in CHECK_FOLDERS:
        shutil.rmtree(out / name, ignore_errors=True)


def run_check(build: Build, budget: Budget, *, seed: int = 1, out: Path, deployment_file: str | None = None,
              fail_fast: bool = False, worlds: tuple[str, ...] | None = None, overwrite: bool = False,
              progress: Callable[[str], None] = lambda line: None) -> CheckResult:
    """Run the whole check (module docstring); on Ctrl-C the partial result is written and re-raised."""
    started = time.perf_counter()
    out = Path(out)
    prepare_check_dir(out, overwrite=overwrite)
    result = CheckResult(build, budget, seed, out, deployment_file)
    result.write_json()
    try:
        _run(result, fail_fast, worlds, progress)
        result.interrupted = None
    except KeyboardInterrupt:
        result.interrupted = "interrupted (Ctrl-C)"
        raise
    except BaseException as exc:
        result.interrupted = f"crashed: {type(exc).__name__}: {exc}"
        raise
    finally:
        result.seconds = time.perf_counter() - started
        result.write_json()
    return result


def _stop(result: CheckResult, fail_fast: bool) -> bool:
    return fail_fast and result.verdict == "fail"


def _run(result: CheckResult, fail_fast: bool, world_names, progress) -> None:
    build, budget = result.build, result.budget
    checks = deployment_checks(build)
    result.deployment = checks
    bad = [c for c in checks if not c["ok"]]
    progress(f"deployment: {len(checks) - len(bad)}/{len(checks)} role and link checks hold")
    result.write_json()
    if _stop(result, fail_fast):
        return
    configurable = yield_not_configurable(build) is None
    suites, skipped = machines(build)
    for name, reason in skipped.items():
        result.suites.append({"name": name, "status": "skipped", "reason": reason})
    for name, machine in suites.items():
        began = time.perf_counter()
        counterexample = run_machine(machine, examples=budget.examples, steps=budget.steps, seed_value=result.seed,
                                     name=name)
        entry = {"name": name, "status": "held", "examples": budget.examples, "steps": budget.steps,
                 "seconds": round(time.perf_counter() - began, 1), "paths": dict(machine.paths)}
        if counterexample is not None:
            folder = result.out / "counterexamples"
            path = counterexample.save(folder / f"{name}-{counterexample.invariant}.json")
            test = folder / f"test_{name}_{counterexample.invariant}.py"
            test.write_text(pytest_file(counterexample.as_json(), path), encoding="utf-8")
            entry.update(status="violated", failure=counterexample.failure, counterexample=str(path),
                         pytest_file=str(test), replay=_replay_command(result, path),
                         readable=counterexample.render().splitlines())
        result.suites.append(entry)
        progress(f"properties {name}: {entry['status']} ({budget.examples} examples x {budget.steps} steps, "
                 f"{entry['seconds']} s)" + (f": [{counterexample.invariant}] {counterexample.failure['message']}"
                                              if counterexample else ""))
        result.write_json()
        if _stop(result, fail_fast):
            return
    for name, why in WORLDS:
        if world_names is not None and name not in world_names:
            continue
        scenario = world_scenario(name, budget, seed=result.seed, contracts_dir=build.artifacts,
                                  deployment_file=result.deployment_file, deviations_file=build.deviations_file,
                                  configurable_yield=configurable, evm=build.evm)
        began = time.perf_counter()
        summary, run_dir = execute(scenario, result.out / "worlds" / name)
        lockstep = (summary.get("lockstep") or {})
        for waiver in lockstep.get("waived") or []:
            entry = result.waived.setdefault(waiver["waiver"], {"reason": waiver["reason"], "applied": 0})
            entry["applied"] += waiver["applied"]
        result.worlds.append({
            "name": name, "why": why, "run_dir": str(run_dir), "report": str(run_dir / "report.html"),
            "seconds": round(time.perf_counter() - began, 1), "users": scenario.config.users,
            "days": round(scenario.config.duration_s / 86_400, 2), "digest": summary["digest"],
            "violation_count": summary.get("violation_count", 0),
            "violations_by_invariant": summary.get("violations_by_invariant", {}),
            "groups": [{"invariant": g["invariant"], "message": g["message"], "count": g["count"],
                        "reproduce": g["first"].get("reproduce"), "function": g["first"].get("function"),
                        "causes": g["first"].get("causes", [])} for g in summary.get("violation_groups", [])],
            "paths": summary.get("paths", {}), "reverts": summary.get("reverts", []),
            "lockstep_divergences": lockstep.get("divergences", 0), "reproduce": summary.get("reproduce"),
        })
        world = result.worlds[-1]
        progress(f"world {name}: {world['violation_count']:,} violations ({world['users']} users, {world['days']} d, "
                 f"{world['seconds']} s)")
        result.write_json()
        if _stop(result, fail_fast):
            return

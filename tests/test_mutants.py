"""The mutant catalogue (tools/mutants.toml) and the tool that runs it (tools/mutants.py).

The catalogue must stay applicable to the current Solidity (every ``find`` exactly once), varied (every
operator, a CI subset spanning them) and honest (expectations are invariants the check reports). The
tool's bookkeeping (outcomes, resume, scoring, reports) is tested with a fake checker; one mutant is
compiled for real with the pinned solc and deployed, to show the planted defect is in the bytecode.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from contracts_model.deployment import Deployment
from contracts_model.params import PRESETS
from sim.exits import BAD_INPUT, HARNESS_FAILURE, OK, VIOLATION
from sim.protocol.artifacts import DEFAULT_ARTIFACT_DIR, SOURCE_DIR, load_artifacts
from sim.protocol.deployment import load_deployment
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.model_backend import ModelBackend
from tools import mutants
from tools.mutants import EQUIVALENT, INVARIANTS, OPERATORS, CatalogueError, Mutant, Settings

FAKE_CHECKER = Path(__file__).parent / "data" / "fake_checker.py"
CATALOGUE = mutants.load_catalogue()
BY_ID = {m.id: m for m in CATALOGUE}


# ------------------------------------------------------------------------------ the catalogue


def test_the_catalogue_is_large_varied_and_names_real_invariants():
    assert len(CATALOGUE) >= 45
    assert len(BY_ID) == len(CATALOGUE), "mutant ids must be unique"
    for operator in OPERATORS:
        assert sum(m.operator == operator for m in CATALOGUE) >= 4, operator
    assert {m.expect for m in CATALOGUE} <= set(INVARIANTS) | {EQUIVALENT}
    # Mostly real defects: a few argued-equivalent mutants, each saying why.
    argued = [m for m in CATALOGUE if m.expect == EQUIVALENT]
    assert 0 < len(argued) <= 3
    assert all("equivalent" in m.why.lower() for m in argued)
    # The check is exercised on specific protocol properties, not only on "differs from the model".
    assert sum(m.expect == "lockstep" for m in CATALOGUE) <= 2
    assert len({m.expect for m in CATALOGUE} - {EQUIVALENT}) == len(INVARIANTS)


@pytest.mark.parametrize("mutant", [m for m in CATALOGUE if not m.is_role], ids=lambda m: m.id)
def test_every_solidity_mutant_applies_once_and_changes_its_file(mutant):
    original = (SOURCE_DIR / mutant.file).read_text(encoding="utf-8")
    assert original.count(mutant.find) == 1
    mutated = mutant.apply()
    assert mutated != original
    assert mutated.count(mutant.replace) >= 1
    assert len(mutated) - len(original) == len(mutant.replace) - len(mutant.find)


@pytest.mark.parametrize("mutant", [m for m in CATALOGUE if m.is_role], ids=lambda m: m.id)
def test_every_role_mutant_is_a_deployment_file_that_swaps_a_role(mutant, tmp_path):
    path = tmp_path / "deployment.toml"
    path.write_text(mutant.deployment_toml())
    loaded = load_deployment(path).deployment
    assert loaded == Deployment.of(**dict(mutant.roles))
    assert set(loaded.changes()) == {role for role, _ in mutant.roles}


def test_the_ci_subset_spans_every_operator_with_specific_invariants():
    subset = [m for m in CATALOGUE if m.ci]
    assert len(subset) >= 8
    assert {m.operator for m in subset} == set(OPERATORS)
    expected = [m.expect for m in subset]
    assert EQUIVALENT not in expected and "lockstep" not in expected
    assert len(set(expected)) == len(expected), "each CI mutant names a different invariant"


def _entry(ident: str, find: str = "10_000", replace: str = "1_000", expect: str = "fees",
           file: str = "FeePolicy.sol") -> str:
    return (f'[[mutant]]\nid = "{ident}"\noperator = "arithmetic"\nfile = "{file}"\nfind = "{find}"\n'
            f'replace = "{replace}"\nexpect = "{expect}"\nwhy = "a test entry"\n')


def _role_entry(roles: str, extra: str = "") -> str:
    return f'[[mutant]]\nid = "r"\noperator = "role"\nroles = {{ {roles} }}\n{extra}expect = "wiring"\nwhy = "w"\n'


@pytest.mark.parametrize("entry, message", [
    (_entry("twice", find="nonReentrant", replace="", file="FeeVault.sol"), "occurs 4 times in FeeVault.sol"),
    (_entry("absent", find="/ 7_777"), "occurs 0 times"),
    (_entry("nofile", file="Nope.sol"), "no Solidity file 'Nope.sol'"),
    (_entry("escape", file="../protocol.json"), "no Solidity file"),
    (_entry("vague", expect="safety"), "expect 'safety' is not an invariant"),
    (_entry("Bad_Id"), "id must be lowercase"),
    (_entry("same", replace="10_000"), "changes nothing"),
    (_entry("dup") * 2, "'dup' is used twice"),
    (_entry("typo").replace("why =", "whyy ="), "unknown key 'whyy'"),
    (_role_entry('pool_orcle = "committee"'), "unknown role 'pool_orcle'"),
    (_role_entry('pool_oracle = "committee"'), "swaps nothing"),
    (_role_entry('pool_oracle = "FeeVault"', extra='file = "FeePolicy.sol"\n'), "unknown key 'file'"),
    (_role_entry('pool_oracle = "FeeVault"').replace('"role"', '"swap"'), "operator 'swap' is not one of"),
    ("[mutants]\n", "unknown top-level key 'mutants'"),
    ("[[mutant]\n", "not valid TOML"),
])
def test_a_bad_catalogue_fails_loudly_naming_the_mutant(tmp_path, entry, message):
    path = tmp_path / "catalogue.toml"
    path.write_text(entry)
    with pytest.raises(CatalogueError, match=re.escape(message)):
        mutants.load_catalogue(path)


# ------------------------------------------------------------------------------ the tool, with a fake checker


def _role(ident: str, expect: str = "wiring", **roles) -> Mutant:
    return Mutant(id=ident, operator="role", expect=expect, why=f"why {ident}",
                  roles=tuple(sorted((roles or {"pool_oracle": "OracleAggregator"}).items())))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake checker driven by a plan: ``fake(plan) -> Settings``; ``fake.calls()`` lists its invocations."""
    calls = tmp_path / "calls.jsonl"
    calls.touch()
    plan_file = tmp_path / "plan.json"
    monkeypatch.setenv("FAKE_CHECK_CALLS", str(calls))
    monkeypatch.setenv("FAKE_CHECK_PLAN", str(plan_file))

    class Fake:
        def __call__(self, plan: dict, **settings) -> Settings:
            plan_file.write_text(json.dumps(plan))
            return Settings(checker=(sys.executable, str(FAKE_CHECKER)), out=tmp_path / "out", **settings)

        def calls(self) -> list[list[str]]:
            return [json.loads(line) for line in calls.read_text().splitlines()]

    return Fake()


def _run(catalogue, settings, **kwargs) -> dict:
    return mutants.run(catalogue, catalogue, settings, report=lambda line: None, **kwargs)


def test_outcomes_come_from_the_exit_status_and_the_invariants_from_check_json(fake):
    catalogue = (_role("caught"), _role("elsewhere", "fees", fee_collector="committee"),
                 _role("missed", reserves_publisher="OracleAggregator"), _role("crashed", synth_minter="committee"),
                 _role("argued", EQUIVALENT, vault_spender="committee"), _role("contradicts"),
                 _role("silent", synth_minter="FeeVault"))
    settings = fake({
        "caught": {"violated": ["wiring", "lockstep"]},
        "elsewhere": {"violated": ["lockstep"]},
        "missed": {"not_exercised": ["reserves"]},
        "crashed": {"exit": 3, "write": False},
        "contradicts": {"exit": 0, "verdict": "fail", "violated": ["wiring"]},
        "silent": {"exit": 1, "write": False},
    })
    summary = _run(catalogue, settings, workers=2)
    status = {r["id"]: r["status"] for r in summary["mutants"]}
    assert status == {"caught": "killed", "elsewhere": "killed", "missed": "survived", "crashed": "error",
                      "argued": "survived", "contradicts": "error", "silent": "error"}
    rows = {r["id"]: r for r in summary["mutants"]}
    assert rows["caught"]["violated"] == ["lockstep", "wiring"] and rows["caught"]["as_expected"]
    assert rows["crashed"]["message"] == "checker exit 3: fake checker: harness failure; crash report: /nowhere"
    assert "disagrees with check.json" in rows["contradicts"]["message"]
    assert "check.json: unreadable" in rows["silent"]["message"]
    total = summary["total"]
    assert (total["killed"], total["survived"], total["error"], total["scored"]) == (2, 2, 3, 4)
    assert total["score"] == 0.5 and total["survived_equivalent"] == 1
    assert total["score_without_equivalent"] == pytest.approx(2 / 3)
    assert [r["id"] for r in summary["survivors"]] == ["missed", "argued"]
    assert summary["survivors"][0]["not_exercised"] == ["reserves"]
    assert [r["id"] for r in summary["unexpected"]] == ["elsewhere"]
    # The reports on disk say the same.
    on_disk = json.loads((settings.out / "results.json").read_text())
    assert on_disk["total"] == total
    report = (settings.out / "README.md").read_text()
    assert "**Mutation score: 2 of 4 mutants killed (50.0 %)**; 66.7 % without the 1 surviving" in report
    assert "| **all** | 7 | 2 | 2 | 3 | 50.0 % |" in report
    assert "| `missed` | role | wiring | reserves | why missed |" in report
    assert "| `elsewhere` | fees | lockstep |" in report


def test_the_checker_gets_the_build_the_budget_the_seed_and_the_deployment(fake):
    settings = fake({}, budget="quick", seed=7)
    _run((_role("wired"),), settings)
    [call] = fake.calls()
    build = settings.out / "wired" / "build"
    assert call == [str(build), "--budget", "quick", "--seed", "7", "--out", str(settings.out / "wired" / "check"),
                    "--fail-fast", "--deployment", str(settings.out / "wired" / "deployment.toml")]
    assert sorted(p.name for p in build.iterdir()) == sorted(p.name for p in DEFAULT_ARTIFACT_DIR.iterdir())


def test_finished_results_are_reused_errors_retried_and_force_or_new_settings_rerun(fake):
    catalogue = (_role("killed"), _role("survivor", reserves_publisher="OracleAggregator"),
                 _role("flaky", synth_minter="committee"))
    plan = {"killed": {"violated": ["wiring"]}, "flaky": {"exit": 3}}
    _run(catalogue, fake(plan))
    assert len(fake.calls()) == 3
    summary = _run(catalogue, fake(plan))
    assert [Path(c[0]).parent.name for c in fake.calls()[3:]] == ["flaky"]  # only the error is retried
    assert summary["total"]["killed"] == 1 and summary["total"]["survived"] == 1
    _run(catalogue, fake(plan), force=True)
    assert len(fake.calls()) == 3 + 1 + 3
    _run(catalogue, fake(plan, seed=2))  # another seed is another experiment
    assert len(fake.calls()) == 3 + 1 + 3 + 3
    # Editing a mutant invalidates its result, and only its.
    edited = (catalogue[0], _role("survivor", reserves_publisher="FeeVault"), catalogue[2])
    _run(edited, fake(plan, seed=2))
    assert sorted(Path(c[0]).parent.name for c in fake.calls()[10:]) == ["flaky", "survivor"]


def test_a_partial_run_summarises_the_whole_catalogue(fake):
    catalogue = (_role("first"), _role("second", synth_minter="committee"))
    settings = fake({"first": {"violated": ["wiring"]}})
    summary = mutants.run(catalogue, catalogue[:1], settings, report=lambda line: None)
    assert [r["status"] for r in summary["mutants"]] == ["killed", "not run"]
    assert summary["total"]["score"] == 1.0 and summary["total"]["not run"] == 1
    assert "(not scored: 1 not run)" in (settings.out / "README.md").read_text()


def test_a_mutant_that_does_not_compile_is_stillborn_and_not_scored(fake):
    broken = Mutant(id="broken", operator="arithmetic", file="FeePolicy.sol", find="/ 10_000;", replace="/ ;",
                    expect="fees", why="does not parse")
    summary = _run((broken,), fake({}))
    [row] = summary["mutants"]
    assert row["status"] == "stillborn" and "ParserError" in row["message"]
    assert summary["total"]["scored"] == 0 and fake.calls() == []


def test_the_readme_block_is_replaced_and_nothing_else(fake, tmp_path):
    summary = _run((_role("caught"),), fake({"caught": {"violated": ["wiring"]}}))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{mutants.README_BEGIN}\nold score\n{mutants.README_END}\nafter\n")
    mutants.update_readme(summary, readme)
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n<!-- mutants:begin -->\n**Mutation score: 1 of 1 mutants killed")
    assert text.endswith("<!-- mutants:end -->\nafter\n") and "old score" not in text
    readme.write_text("no block\n")
    with pytest.raises(mutants.BadInput, match="no <!-- mutants:begin -->"):
        mutants.update_readme(summary, readme)


def test_the_command_line_exit_statuses(fake, tmp_path, capsys):
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text('[[mutant]]\nid = "r"\noperator = "role"\nroles = { pool_oracle = "OracleAggregator" }\n'
                         'expect = "wiring"\nwhy = "the aggregator never calls the pool"\n')
    settings = fake({})  # the fake passes every build: r survives
    common = ["--catalogue", str(catalogue), "--out", str(settings.out), "--checker",
              f"{sys.executable} {FAKE_CHECKER}"]
    assert mutants.main(common) == OK
    assert mutants.main(common + ["--min-score", "95"]) == VIOLATION
    assert mutants.main(common + ["--only", "nope"]) == BAD_INPUT
    assert "no mutant 'nope' in the catalogue" in capsys.readouterr().err
    catalogue.write_text(catalogue.read_text().replace('"wiring"', '"everything"'))
    assert mutants.main(common) == BAD_INPUT
    assert "expect 'everything' is not an invariant" in capsys.readouterr().err
    catalogue.write_text(catalogue.read_text().replace('"everything"', '"wiring"'))
    fake({"r": {"exit": 3}})
    assert mutants.main(common + ["--force"]) == HARNESS_FAILURE
    assert "1 mutants could not be checked, e.g. r: checker exit 3" in capsys.readouterr().err
    before = mutants.README.read_text()
    assert mutants.main(common + ["--update-readme"]) == BAD_INPUT  # no partial score in the README
    assert "the README carries only a whole catalogue's score" in capsys.readouterr().err
    assert mutants.README.read_text() == before


def test_the_checker_defaults_to_rbtc_sim_check_and_can_be_overridden(monkeypatch):
    monkeypatch.delenv(mutants.CHECKER_ENV, raising=False)
    assert mutants.default_checker() == (str(Path(sys.executable).parent / "rbtc-sim"), "check")
    monkeypatch.setenv(mutants.CHECKER_ENV, "python 'my checker.py' --flag")
    assert mutants.default_checker() == ("python", "my checker.py", "--flag")


# ------------------------------------------------------------------------------ one real mutant


def test_a_compiled_mutant_differs_where_planted_loads_and_misbehaves_on_the_evm(tmp_path):
    """fee-pct-divisor-1000 through the pinned solc: only FeePolicy changes, the build loads and deploys,
    and its quote is ten times the reference model's."""
    work = tmp_path / "fee-pct-divisor-1000"
    built = mutants.prepare(BY_ID["fee-pct-divisor-1000"], work)
    assert built == {"status": None, "message": "", "changed": ["FeePolicy"]}
    build = work / "build"
    differing = [p.stem for p in sorted(build.glob("*.json"))
                 if p.read_bytes() != (DEFAULT_ARTIFACT_DIR / p.name).read_bytes()]
    assert differing == ["FeePolicy"]
    loaded = load_artifacts(build)
    assert loaded["FeePolicy"].abi == load_artifacts()["FeePolicy"].abi
    assert loaded["FeePolicy"].bytecode != load_artifacts()["FeePolicy"].bytecode
    user = "0x" + "42" * 20
    mutant, model = EvmBackend(PRESETS["testnet"], artifacts_dir=build), ModelBackend(PRESETS["testnet"])
    assert mutant.quote_fee(user, 150_000) == 10 * model.quote_fee(user, 150_000) > 0


def test_metadata_alone_does_not_count_as_a_change():
    ours = json.loads((DEFAULT_ARTIFACT_DIR / "FeePolicy.json").read_text())["deployedBytecode"]
    code = bytes.fromhex(ours[2:])
    length = int.from_bytes(code[-2:], "big")
    other_metadata = code[: -(length + 2)] + bytes(length) + code[-2:]
    assert mutants.code_without_metadata("0x" + other_metadata.hex()) == mutants.code_without_metadata(ours)
    assert mutants.code_without_metadata(ours) == code[: -(length + 2)] and len(code) - len(
        mutants.code_without_metadata(ours)) == length + 2

"""Fuzzing the command line with generated scenario files: every input gets 0, 1 or 2, never a traceback.

Hypothesis writes scenario documents — valid ones, and valid ones mutated at one key with a hostile
value (wrong types, huge integers, inf/nan, negatives, unicode, nesting, dates) or damaged as a file
(binary bytes, UTF-16, truncation, deep nesting, oversize) — and runs ``rbtc-sim validate`` on each
and a tiny ``rbtc-sim run`` on those that validate (without its report), in process through
:func:`sim.cli.main`:

* ``validate`` exits 0 or 2; ``run`` of a scenario that validated exits 0 or 1 (so validation
  rejects everything a run would fail on: a status 3 is a crash report, and a test failure);
* status 2 prints exactly one line on stderr, and nothing ever prints a traceback;
* nothing outlives a time limit, and a run's size stays within its estimate (:mod:`sim.estimate`).

A few hostile files from the bug reports also go through the installed ``rbtc-sim`` in a subprocess,
to prove no traceback reaches a real stderr. ``make fuzz`` runs 40x the examples.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.config import MAX_SATS
from sim.estimate import estimate
from sim.scenario import NAME, ScenarioError, dump, load, parse
from tests.conftest import examples

RBTC_SIM = str(Path(sys.executable).parent / "rbtc-sim")
#: The longest any one in-process command may take (a tiny run takes well under a second).
TIME_LIMIT_S = 60
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.large_base_example])


class TimeLimitExceeded(BaseException):
    """Raised in the command by SIGALRM: a BaseException, so no handler of the harness swallows it."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def expire(signum, frame):
        raise TimeLimitExceeded(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def command(argv: list[str]) -> tuple[int, str, str]:
    """``rbtc-sim ARGV`` in process: (status, stdout, stderr), under the time limit."""
    out, err = io.StringIO(), io.StringIO()
    with time_limit(TIME_LIMIT_S), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def assert_well_behaved(status: int, out: str, err: str, allowed: set[int]) -> None:
    assert status in allowed, f"exit {status}; stderr: {err}"
    assert "Traceback" not in out + err
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rbtc-sim: error: "), err


# ---------------------------------------------------------------------------------------- documents


def _pair(low: int, high: int):
    return st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: list(sorted(p)))


def _rate(high: float = 8.0):
    return st.floats(0, high, allow_nan=False)


share = st.floats(0, 1, allow_nan=False)
texts = st.text(max_size=40)


@st.composite
def tiny_documents(draw) -> dict:
    """A valid scenario document for a world small enough to run in a fraction of a second."""
    duration = draw(st.one_of(st.integers(1_800, 8 * 3_600), st.integers(1, 8).map(lambda h: h * 3_600)))
    doc = {
        "scenario": {"name": draw(st.from_regex(NAME, fullmatch=True).filter(lambda n: len(n) <= 30)),
                     "description": draw(texts), "expected": draw(texts)},
        "world": {"seed": draw(st.integers(0, 2**64 - 1)), "users": draw(st.integers(1, 6)),
                  "duration": draw(st.sampled_from([duration, f"{duration}s"] + [f"{duration // 3_600}h"] * (
                      duration % 3_600 == 0))),
                  "backend": "model"},
    }
    optional = {
        "protocol": st.fixed_dictionaries({}, optional={
            "preset": st.sampled_from(["testnet", "fixed_fee"]), "pct_bps": st.integers(0, 10_000),
            "fixed_wei": st.one_of(st.integers(0, 10**16), st.just(2**256 - 1)),
            "wei_per_sat": st.integers(0, 10**12), "min_confirmations": st.integers(0, 6),
            "max_fee_per_sync_wei": st.integers(0, 2**256 - 1),
            "yield": st.fixed_dictionaries({}, optional={"base_rate": st.integers(0, 10_000),
                                                         "max_rate": st.integers(0, 10_000),
                                                         "gold_multiplier": st.integers(0, 10_000)})}),
        "bitcoin": st.fixed_dictionaries({}, optional={
            "network": st.sampled_from(["mainnet", "testnet", "regtest"]),
            "mean_block_interval_s": st.integers(30, 3_600), "max_block_txs": st.integers(1, 50)}),
        "oracle": st.fixed_dictionaries({}, optional={
            "poll_interval_s": st.integers(10, 3_600), "delta_threshold_sats": st.integers(0, MAX_SATS),
            "reaction_delay_s": st.integers(0, 600), "register_with_prepay_share": share}),
        "agents": st.fixed_dictionaries({}, optional={
            "addresses_per_user": _pair(1, 4), "taproot_share": share, "onboarding_window_s": st.integers(0, 7_200),
            "initial_btc_sats": _pair(1, MAX_SATS), "receive_per_day": _rate(), "receive_sats": _pair(1, MAX_SATS),
            "spend_per_day": _rate(), "prepay_wei": _pair(0, 2**256 - 1), "topup_share": share,
            "topup_below_wei": st.integers(0, 2**256 - 1), "withdraw_per_day": _rate(),
            "bind_extra_address_per_day": _rate(2.0)}),
        "yield": st.fixed_dictionaries({}, optional={
            "join_holders": st.booleans(), "traders": st.integers(0, 3), "trader_usdt": _pair(0, 10**24),
            "trader_add_per_day": _rate(), "claim_per_day": _rate()}),
        "disputes": st.fixed_dictionaries({}, optional={
            "frivolous_per_day": _rate(4.0), "discrepancy_per_day": _rate(4.0),
            "validation_delay_s": st.integers(0, 3_600), "resolution_bound_s": st.integers(0, 7_200)}),
        "reserves": st.fixed_dictionaries({}, optional={
            "interval_s": st.sampled_from([0, 600, 3_600]), "onchain_checks": st.integers(0, 5)}),
    }
    for table, strategy in optional.items():
        if draw(st.booleans()):
            doc[table] = draw(strategy)
    at = st.integers(0, duration - 1)
    events = st.one_of(
        st.fixed_dictionaries({"kind": st.just("reorg"), "at": at, "depth": st.integers(1, 4)},
                              optional={"double_spend": st.floats(0, 0.5), "drop": st.floats(0, 0.5)}),
        st.fixed_dictionaries({"kind": st.sampled_from(["fee_drought", "oracle_outage"]), "at": at,
                               "duration": st.integers(0, 7_200)}),
        st.fixed_dictionaries({"kind": st.just("deposit_burst"), "at": at},
                              optional={"users": share, "sats": _pair(1, MAX_SATS)}),
        st.fixed_dictionaries({"kind": st.just("dispute_wave"), "at": at},
                              optional={"users": share, "truthful": share}),
    )
    reorg_default = [e for e in draw(st.lists(events, max_size=3))
                     if not (e["kind"] == "reorg" and "drop" in e and "double_spend" not in e)]  # default 1 + drop
    if reorg_default:
        doc["events"] = reorg_default
    return doc


KEYS = {  # every key a document may hold, by table (a mutation may also add one that was absent)
    "scenario": ("name", "description", "expected"),
    "world": ("seed", "users", "duration", "duration_s", "backend", "evm_block_time_s", "contracts_dir"),
    "protocol": ("preset", "pct_bps", "fixed_wei", "wei_per_sat", "min_confirmations", "max_fee_per_sync_wei",
                 "yield"),
    "bitcoin": ("network", "mean_block_interval_s", "max_block_txs"),
    "oracle": ("poll_interval_s", "delta_threshold_sats", "reaction_delay_s", "register_with_prepay_share"),
    "agents": ("addresses_per_user", "taproot_share", "onboarding_window_s", "initial_btc_sats", "receive_per_day",
               "receive_sats", "spend_per_day", "spend_fraction", "prepay_wei", "topup_share", "topup_below_wei",
               "withdraw_per_day", "bind_extra_address_per_day"),
    "yield": ("join_holders", "traders", "trader_usdt", "trader_add_per_day", "claim_per_day"),
    "disputes": ("frivolous_per_day", "discrepancy_per_day", "validation_delay_s", "resolution_bound_s"),
    "reserves": ("interval_s", "onchain_checks"),
    "events": ("kind", "at", "depth", "double_spend", "drop", "duration", "users", "sats", "truthful"),
}

_numbers = st.one_of(
    st.integers(-(2**70), 2**300),
    st.sampled_from([-1, 0, 1, 2**63 - 1, 2**63, 2**64, 2**256 - 1, 2**256, 10**18, 10**19, 9 * 10**18, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, 5e-324, -0.0, 1.5]),
)
hostile_values = st.one_of(
    _numbers,
    st.text(max_size=30),
    st.sampled_from(["5200000w", "inf", "nan", "1e400s", "-5d", "9" * 400 + "s", "../../etc", "a\nb", "\x00",
                     "ünïcødé", "9e18", ""]),
    st.booleans(),
    st.lists(_numbers, max_size=4),
    st.recursive(st.integers(0, 3), lambda inner: st.lists(inner, max_size=2), max_leaves=6),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
    st.datetimes(),
)


def _mutate_key(doc: dict, data) -> dict:
    table = data.draw(st.sampled_from(sorted(KEYS)), label="table")
    key = data.draw(st.sampled_from(KEYS[table]), label="key")
    value = data.draw(hostile_values, label="value")
    doc = _copy(doc)
    if table == "events":
        events = doc.setdefault("events", [{"kind": "reorg", "at": 0, "depth": 1}])
        events[data.draw(st.integers(0, len(events) - 1), label="event")][key] = value
    else:
        doc.setdefault(table, {})[key] = value
    return doc


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _damage_file(text: str, data) -> bytes:
    kind = data.draw(st.sampled_from(["binary", "utf16", "truncate", "nest", "huge", "nul", "not a table",
                                      "bom", "huge int"]), label="damage")
    raw = text.encode()
    if kind == "binary":
        return data.draw(st.binary(min_size=1, max_size=200), label="bytes")
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "truncate":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="cut")]
    if kind == "nest":
        depth = data.draw(st.sampled_from([33, 1_000, 200_000]), label="depth")
        return raw + b"\n[extra]\nx = " + b"[" * depth + b"]" * depth + b"\n"
    if kind == "huge":
        return raw + b"\n# " + b"x" * (1024 * 1024) + b"\n"
    if kind == "nul":
        at = data.draw(st.integers(0, len(raw)), label="at")
        return raw[:at] + b"\x00" + raw[at:]
    if kind == "not a table":
        return f"{data.draw(st.sampled_from(sorted(KEYS)), label='table')} = 5\n".encode() + raw
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw  # accepted: a UTF-8 byte-order mark is ignored
    return raw.replace(b"[world]", b"[world]\nseed = " + b"9" * 5_000, 1)


def _validate_then_run(content: bytes) -> str:
    """Validate ``content`` as a scenario file, and run it if it validates; returns what happened
    (also as a Hypothesis event: ``pytest --hypothesis-show-statistics`` shows how many of each)."""
    outcome = _outcome(content)
    event(outcome)
    return outcome


def _outcome(content: bytes) -> str:
    with tempfile.TemporaryDirectory(prefix="rbtc-fuzz-") as tmp:
        path = Path(tmp) / "fuzzed.toml"
        path.write_bytes(content)
        status, out, err = command(["validate", str(path)])
        assert_well_behaved(status, out, err, {0, 2})
        if status == 2:
            return "refused"
        scenario = load(str(path))
        guess = estimate(scenario.config)
        if guess.records > 20_000:  # valid, but not tiny: its estimate was printed, that is all we check
            assert "estimate: ~" in out
            return "too big to run here"
        run_dir = Path(tmp) / "run"
        status, out, err = command(["run", str(path), "--out", str(run_dir)])
        assert_well_behaved(status, out, err, {0, 1})
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["complete"] is True
        assert summary["events"] <= 3 * guess.records + 300, (summary["events"], guess.records)
        return f"ran, exit {status}"


# ---------------------------------------------------------------------------------------- properties


@given(doc=tiny_documents())
@settings(max_examples=examples(30), **SETTINGS)
# Found by this test: a prepayment above the user's wallet crashed the run (InsufficientFunds) ...
@example(doc={"world": {"seed": 0, "users": 6, "duration": 2596, "backend": "model"},
              "agents": {"prepay_wei": [0, 102644707301226777208]}})
# ... and a fixed fee leg of 2**256 - 1 made quoteFees overflow (Panic) inside the oracle's round.
@example(doc={"world": {"seed": 603724, "users": 1, "duration": 2638, "backend": "model"},
              "protocol": {"preset": "testnet", "max_fee_per_sync_wei": 0, "fixed_wei": 2**256 - 1}})
def test_valid_documents_validate_and_run_clean(doc, monkeypatch_crash_dir):
    content = tomli_w.dumps(doc).encode()
    assert _validate_then_run(content) in ("ran, exit 0", "ran, exit 1", "too big to run here")


@given(doc=tiny_documents(), data=st.data())
@settings(max_examples=examples(300), **SETTINGS)
def test_documents_mutated_at_one_key_validate_or_get_one_line(doc, data, monkeypatch_crash_dir):
    mutated = _mutate_key(doc, data)
    _check_document(mutated)


@pytest.mark.parametrize("doc", [
    # Found by `make fuzz`: an event kind that is a list (unhashable) was looked up in a dict (TypeError).
    {"world": {"users": 1, "duration": 1800}, "events": [{"kind": [], "at": 0, "depth": 1}]},
    {"world": {"users": 1, "duration": 1800}, "events": [{"kind": {"a": 1}, "at": 0}]},
])
def test_mutations_found_by_the_long_fuzzer(doc, monkeypatch_crash_dir):
    assert _outcome(tomli_w.dumps(doc).encode()) == "refused"


def _check_document(mutated: dict) -> None:
    try:
        content = tomli_w.dumps(mutated).encode()
    except (TypeError, ValueError):  # not writable as TOML; nothing to test
        assume(False)
    _validate_then_run(content)


@given(doc=tiny_documents(), data=st.data())
@settings(max_examples=examples(100), **SETTINGS)
def test_damaged_files_get_one_line_and_exit_2(doc, data, monkeypatch_crash_dir):
    content = _damage_file(tomli_w.dumps(doc), data)
    _validate_then_run(content)


@pytest.fixture(scope="module")
def monkeypatch_crash_dir(tmp_path_factory):
    """Crash reports (a test failure here) go to a temporary folder, not reports/crashes; runs skip
    their report (plots take most of a tiny run's time and have their own tests, tests/test_report.py)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RBTC_CRASH_DIR", str(tmp_path_factory.mktemp("crashes")))
    mp.setattr("sim.run._report", lambda run_dir, summary: None)
    yield
    mp.undo()


# ---------------------------------------------------------------------------------------- round trip


@st.composite
def scenarios(draw):
    """Valid scenarios over wide ranges (any size within the caps), with any text in their header."""
    doc = draw(tiny_documents())
    doc["scenario"] = {"name": draw(st.from_regex(NAME, fullmatch=True)),
                       "description": draw(st.text(max_size=200)), "expected": draw(st.text(max_size=200))}
    doc["world"]["users"] = draw(st.integers(1, 10_000))
    doc["world"]["duration"] = draw(st.integers(3_600, 200 * 86_400))
    doc.pop("events", None)
    try:
        return parse(doc, "generated")
    except ScenarioError:
        assume(False)


@given(scenario=scenarios())
@settings(max_examples=examples(200), **SETTINGS)
def test_every_valid_scenario_survives_dump_and_parse_unchanged(scenario):
    import tomllib

    again = parse(tomllib.loads(dump(scenario)), "dumped")
    assert again.config == scenario.config
    assert (again.name, again.description, again.expected) == (scenario.name, scenario.description,
                                                                scenario.expected)


@pytest.mark.parametrize("text", [
    'line one\nline two "quoted" \\ back\\slash',
    "tab\there, NUL \x00, bell \x07, DEL \x7f",
    "ünïcødé ✓ 𝄞 — «»",
    "'''\"\"\"",
])
def test_a_description_with_newlines_and_quotes_replays(tmp_path, text):
    """Regression: a newline in the description wrote a scenario.toml that replay could not parse."""
    scenario = parse({"scenario": {"name": "x", "description": text, "expected": text},
                      "world": {"users": 2, "duration": "1h"}}, "t")
    path = tmp_path / "scenario.toml"
    path.write_text(dump(scenario), encoding="utf-8")
    again = load(str(path))
    assert (again.description, again.expected, again.config) == (text, text, scenario.config)


# ---------------------------------------------------------------------------------------- subprocess


SMALL = '[world]\nusers = 2\nduration = "2h"\n'


def _subprocess_cases(tmp: Path) -> list[tuple[list[str], str]]:
    """(arguments, what the one line must mention): the reported examples, through a real process."""
    def file(name: str, content: bytes) -> str:
        path = tmp / name
        path.write_bytes(content)
        return str(path)

    small = file("small.toml", SMALL.encode())
    run_dir = tmp / "a-file-not-a-folder"
    run_dir.write_text("")
    garbage_run = tmp / "garbage-run"
    garbage_run.mkdir()
    (garbage_run / "scenario.toml").write_text(SMALL)
    (garbage_run / "summary.json").write_text("[1, 2, 3]")
    return [
        (["validate", file("binary.toml", bytes(range(256)))], "not UTF-8"),
        (["validate", file("utf16.toml", SMALL.encode("utf-16"))], "UTF-16"),
        (["validate", file("world5.toml", b"world = 5\n")], "[world]: expected a table"),
        (["validate", file("inf.toml", b"[world]\nduration = inf\n")], "duration"),
        (["validate", file("nested.toml", b"x = " + b"[" * 100_000 + b"]" * 100_000)], "nested more than"),
        (["validate", file("poll0.toml", SMALL.encode() + b"[oracle]\npoll_interval_s = 0\n")], "poll_interval_s"),
        (["run", small, "--seed", "-1", "--out", str(tmp / "never")], "--seed -1"),
        (["run", small, "--out", str(run_dir)], "is not a folder"),
        (["replay", str(garbage_run)], "expected a JSON object"),
        (["sweep", "yield_example", "--workers", "0", "--out", str(tmp / "sweep")], "--workers 0"),
    ]


def test_reported_inputs_get_one_line_and_exit_2_from_the_installed_command(tmp_path):
    for arguments, needle in _subprocess_cases(tmp_path):
        done = subprocess.run([RBTC_SIM, *arguments], capture_output=True, text=True, timeout=TIME_LIMIT_S,
                              env={**os.environ, "RBTC_CRASH_DIR": str(tmp_path / "crashes")})
        err = done.stderr.strip()
        assert done.returncode == 2, (arguments, done.returncode, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err + done.stdout, (arguments, err)
        assert needle in err, (arguments, err)


def test_a_preset_customised_into_another_presets_values_round_trips():
    """Found by the round-trip property: fixed_fee with fixed_wei = 0 is the testnet preset's values;
    it was recorded as "no preset" and read back as "testnet"."""
    import tomllib

    scenario = parse({"protocol": {"preset": "fixed_fee", "fixed_wei": 0}, "world": {"users": 1, "duration": "1h"}}, "t")
    assert scenario.config.preset == "testnet"
    again = parse(tomllib.loads(dump(scenario)), "dumped")
    assert again.config == scenario.config

"""The rbtc-sim command: exit codes, one-line errors, run folders, replay, interruption."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.progress import ProgressBar
from sim.run import execute
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[1]

SMALL = """
[scenario]
name = "small"
description = "a small world"
expected = "all invariants hold"

[world]
seed = 3
users = 20
duration = "12h"
backend = "model"
"""


def small(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL + extra)
    return path


def test_run_writes_a_complete_run_folder_and_exits_0(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small(tmp_path)), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "seed", "backend", "digest", "complete", "users", "btc_blocks", "syncs",
                "emergency_burns", "needs_topup", "reorgs", "disputes", "backing", "invariant_violations"):
        assert key in summary, key
    assert summary["complete"] is True and summary["scenario"] == "small" and summary["seed"] == 3
    assert set(summary["disputes"]) >= {"filed", "accepted", "rejected"}
    assert set(summary["backing"]) >= {"min_ratio", "violations", "max_violation_window_s"}
    lines = (out / "events.jsonl").read_text().splitlines()
    assert len(lines) == summary["events"] and all(json.loads(line)["seq"] == i for i, line in enumerate(lines))
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("t,rbtc_supply,btc_reserves,backing_ratio")
    assert "report" in capsys.readouterr().out


def test_seed_and_backend_overrides_and_replay(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small(tmp_path)), "--seed", "9", "--backend", "evm", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["seed"], summary["backend"]) == (9, "evm")
    assert main(["replay", str(out)]) == 0
    assert "MATCH" in capsys.readouterr().out


def test_replay_notices_a_tampered_digest(tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", str(small(tmp_path)), "--out", str(out)])
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["digest"] = "0" * 64
    summary_path.write_text(json.dumps(summary))
    assert main(["replay", str(out)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("[oracle]\npoll_intervall_s = 30\n", "unknown key 'poll_intervall_s'"),
        ("[protocol]\npreset = \"devnet\"\n", "unknown preset 'devnet'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, needle):
    assert main(["run", str(small(tmp_path, extra)), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "never").exists()  # nothing half-written for input that was refused


def test_negative_duration_exits_2(tmp_path, capsys):
    path = tmp_path / "neg.toml"
    path.write_text("[world]\nduration = -60\n")
    assert main(["validate", str(path)]) == 2
    assert "duration" in capsys.readouterr().err


def test_unknown_contract_artifacts_exit_2(tmp_path, capsys):
    empty = tmp_path / "out"
    empty.mkdir()
    assert main(["run", str(small(tmp_path)), "--backend", "evm", "--contracts", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no artifact for contract FeePolicy" in err


def test_list_names_every_built_in(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("baseline", "fee_drought", "deep_reorg", "oracle_outage", "load_10k"):
        assert name in out


def test_an_interrupted_run_is_marked_incomplete_and_keeps_what_it_wrote(tmp_path):
    scenario = load(str(small(tmp_path)))
    out = tmp_path / "run"

    def interrupt(simulated_s, duration_s, events):
        if simulated_s >= 4 * 3600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(scenario, out, on_progress=interrupt)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and "Ctrl-C" in summary["interrupted"]
    lines = (out / "events.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # whole lines only
    assert len(lines) == summary["events"]
    assert 4 * 3600 <= summary["simulated_s"] < 12 * 3600
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) > 2


def test_the_command_is_installed_and_exits_2_on_bad_input(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[world]\nusers = -1\n")
    done = subprocess.run([str(Path(sys.executable).parent / "rbtc-sim"), "validate", str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("rbtc-sim: error: ") and "users" in done.stderr


def test_progress_bar_is_quiet_off_a_tty_and_draws_on_one():
    quiet = io.StringIO()
    bar = ProgressBar("x", stream=quiet, delay_s=0)
    bar(3600, 7200, 1000)
    bar.close()
    assert quiet.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self):
            return True

    loud = Tty()
    bar = ProgressBar("x", stream=loud, delay_s=0)
    bar(3600, 7200, 1000)
    bar.close()
    text = loud.getvalue()
    assert "50.0%" in text and "events/s" in text and "ETA" in text


def test_run_with_serve_answers_over_http_while_the_world_runs(tmp_path):
    """`run --serve`: the API answers during the run, from a live index of the world."""
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "served.toml"
    path.write_text(SMALL.replace('duration = "12h"', 'duration = "4d"').replace("users = 20", "users = 300"))
    out = tmp_path / "run"
    command = [str(Path(sys.executable).parent / "rbtc-sim"), "run", str(path), "--out", str(out), "--serve",
               "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answered_during_run = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/realtime/proof-of-reserves", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code == 200 and response.json()["data"]["totals"]["rbtc_total_supply_sats"]:
                answered_during_run = response.json()
                break
            time.sleep(0.1)
        assert process.wait(timeout=120) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert answered_during_run is not None and answered_during_run["success"] is True
    assert (out / "index.sqlite").exists()


def test_a_harness_failure_exits_3_with_one_line_naming_a_crash_report(tmp_path, capsys, monkeypatch):
    """Status 3 is the harness's own failure, never 1 (which means an invariant was violated)."""
    import sim.run

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the harness")

    monkeypatch.setenv("RBTC_CRASH_DIR", str(tmp_path / "crashes"))
    monkeypatch.setattr(sim.run, "execute", broken)
    assert main(["run", str(small(tmp_path)), "--out", str(tmp_path / "run")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("rbtc-sim: internal error (ZeroDivisionError); crash report: ")
    report = Path(err.rsplit(": ", 1)[1])
    assert report.parent == tmp_path / "crashes"
    text = report.read_text()
    assert "Traceback" in text and "a bug in the harness" in text and "rbtc-sim" in text


# ---------------------------------------------------------------------------------------- replay


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A finished run folder; tests copy it before breaking it."""
    out = tmp_path_factory.mktemp("recorded") / "run"
    path = out.parent / "small.toml"
    path.write_text(SMALL)
    assert main(["run", str(path), "--out", str(out)]) == 0
    return out


def broken_copy(recorded: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(recorded, copy)
    return copy


def test_replay_confirms_an_untouched_run(recorded, capsys):
    assert main(["replay", str(recorded)]) == 0
    out = capsys.readouterr().out
    assert out.count("MATCH") == 2 and "MISMATCH" not in out


@pytest.mark.parametrize("damage", ["edit a line", "truncate", "delete", "append"])
def test_replay_reports_a_damaged_event_log_and_its_first_differing_line(recorded, tmp_path, capsys, damage):
    run = broken_copy(recorded, tmp_path)
    events = run / "events.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    if damage == "edit a line":
        lines[41] = lines[41].replace('"t":', '"t":1', 1)
        events.write_text("".join(lines))
    elif damage == "truncate":
        events.write_text("".join(lines[:100]) + lines[100][:10])
    elif damage == "delete":
        events.unlink()
    else:
        events.write_text("".join(lines) + '{"seq":99999}\n')
    assert main(["replay", str(run)]) == 1
    out = capsys.readouterr().out
    assert "replayed digest" in out and out.splitlines()[2].endswith("MATCH")  # the re-run still agrees
    if damage == "delete":
        assert "events.jsonl     MISSING" in out
        return
    assert "events.jsonl" in out and "MISMATCH" in out
    expected_line = {"edit a line": 42, "truncate": 101, "append": len(lines) + 1}[damage]
    assert f"first difference: events.jsonl line {expected_line:,}" in out
    if damage == "append":
        assert "replayed: (end of log)" in out


def test_replay_of_an_edited_scenario_names_the_first_line_that_changed(recorded, tmp_path, capsys):
    run = broken_copy(recorded, tmp_path)
    scenario = run / "scenario.toml"
    scenario.write_text(scenario.read_text().replace("seed = 3", "seed = 4"))
    assert main(["replay", str(run)]) == 1
    out = capsys.readouterr().out
    assert "replayed digest" in out and "MISMATCH" in out and "first difference: events.jsonl line 1" in out


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "not JSON"),
    (b"[1, 2, 3]", "expected a JSON object"),
    (b"\x00\xff garbage", "not UTF-8"),
    (b'{"digest": 5, "complete": true}', "digest: expected the event log's SHA-256"),
    (b"[" * 50_000 + b"]" * 50_000, "nested more than"),
])
def test_replay_refuses_an_unreadable_summary_with_exit_2(recorded, tmp_path, capsys, content, needle):
    run = broken_copy(recorded, tmp_path)
    (run / "summary.json").write_bytes(content)
    assert main(["replay", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_replay_refuses_what_is_not_a_run_folder(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["replay", str(tmp_path)]) == 2
    assert "missing summary.json" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- run folders


def test_a_second_run_into_a_folder_is_refused_unless_overwrite(recorded, tmp_path, capsys):
    run = broken_copy(recorded, tmp_path)
    before = (run / "summary.json").read_text()
    assert main(["run", str(small(tmp_path)), "--seed", "5", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "holds a run already" in err and "--overwrite" in err
    assert (run / "summary.json").read_text() == before  # nothing touched
    assert main(["run", str(small(tmp_path)), "--seed", "5", "--out", str(run), "--overwrite"]) == 0
    assert json.loads((run / "summary.json").read_text())["seed"] == 5
    assert main(["replay", str(run)]) == 0  # one run, not two mixed


def test_run_refuses_a_folder_of_other_files_and_a_file(tmp_path, capsys):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    for overwrite in ([], ["--overwrite"]):
        assert main(["run", str(small(tmp_path)), "--out", str(foreign), *overwrite]) == 2
        assert "not a run's (thesis.tex)" in capsys.readouterr().err
    assert (foreign / "thesis.tex").read_text() == "precious" and len(list(foreign.iterdir())) == 1
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["run", str(small(tmp_path)), "--out", str(a_file)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_a_scenario_name_cannot_leave_the_reports_folder(tmp_path, capsys):
    path = tmp_path / "escape.toml"
    path.write_text('[scenario]\nname = "../../escape"\n[world]\nusers = 2\nduration = "1h"\n')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "[scenario] name: expected a name of letters" in err and "'../../escape'" in err
    # a file name that is not a valid name becomes one
    odd = tmp_path / "my story (v2).toml"
    odd.write_text('[world]\nusers = 2\nduration = "1h"\n')
    from sim.run import REPORTS_DIR, default_out_dir

    scenario = load(str(odd))
    assert scenario.name == "my_story__v2_" and default_out_dir(scenario).parent == REPORTS_DIR


@pytest.mark.parametrize(("argv", "needle"), [
    (["run", "baseline", "--seed", "-1"], "--seed -1: expected a whole number in [0,"),
    (["run", "baseline", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["run", "baseline", "--backend", "geth"], "argument --backend: invalid choice"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["verify-proof", "-", "--root", "0x00", "--run", "x"], "not allowed with argument"),
])
def test_bad_command_lines_get_one_line_and_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_a_sigterm_stops_a_run_like_ctrl_c(tmp_path):
    import signal
    import time

    path = tmp_path / "long.toml"
    path.write_text(SMALL.replace('duration = "12h"', 'duration = "60d"').replace("users = 20", "users = 200"))
    out = tmp_path / "run"
    process = subprocess.Popen([str(Path(sys.executable).parent / "rbtc-sim"), "run", str(path), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out / "metrics.csv").exists():
            time.sleep(0.05)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and "interrupted" in summary["interrupted"]
    lines = (out / "events.jsonl").read_text().splitlines()
    assert len(lines) == summary["events"] and all(json.loads(line) for line in lines)
    assert "Traceback" not in process.stderr.read()


def test_validate_prints_the_estimate_and_run_prints_it_before_a_large_run(tmp_path, capsys, monkeypatch):
    import sim.estimate

    assert main(["validate", str(small(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "estimate: ~" in out and "events" in out and "on the model backend" in out
    assert main(["run", str(small(tmp_path)), "--out", str(tmp_path / "quiet")]) == 0
    assert "estimate" not in capsys.readouterr().err  # a small run is not announced
    monkeypatch.setattr(sim.estimate, "LARGE_WALL_S", 0.0)  # every run is "large" now
    assert main(["run", str(small(tmp_path)), "--out", str(tmp_path / "loud")]) == 0
    assert capsys.readouterr().err.startswith("estimate: ~")

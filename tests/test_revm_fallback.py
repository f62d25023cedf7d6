"""Without a loadable pyrevm wheel, revm backends stop with one line and exit status 2; the rest works.

The failure is simulated the way it happens: a ``pyrevm`` package that raises ImportError on import
(as a wheel whose shared library cannot be loaded does), first on the path of a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_sweep import TINY

TINY_SCENARIO = """
[world]
seed = 2
users = 3
duration = "2h"
"""


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """(run(args) -> CompletedProcess in an environment where pyrevm cannot be imported, a scratch folder)."""
    tmp = tmp_path_factory.mktemp("no-revm")
    shim = tmp / "shim" / "pyrevm"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        'raise ImportError("libpyrevm.so: cannot open shared object file (simulated)")\n')
    (tmp / "tiny.toml").write_text(TINY_SCENARIO)
    (tmp / "sweep.toml").write_text(TINY)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp / "shim"), os.environ.get("PYTHONPATH", "")]))
    root = Path(__file__).resolve().parents[1]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sim.cli", *args], env=env, cwd=root,
                              capture_output=True, text=True, timeout=300)

    return run, tmp


@pytest.mark.parametrize("backend", ["revm", "lockstep-revm"])
def test_a_revm_run_stops_with_one_line_and_status_2(broken, backend):
    run, tmp = broken
    out = tmp / f"run-{backend}"
    done = run("run", str(tmp / "tiny.toml"), "--backend", backend, "--out", str(out))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rbtc-sim: error: the revm backend needs the pyrevm package")
    assert "simulated" in lines[0] and "--backend evm" in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists()  # stopped before anything was written


def test_a_revm_sweep_stops_the_same_way(broken):
    run, tmp = broken
    done = run("sweep", str(tmp / "sweep.toml"), "--backend", "revm", "--out", str(tmp / "sweep-out"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "pyrevm" in done.stderr
    assert not (tmp / "sweep-out" / "runs").exists()


def test_everything_else_still_works(broken):
    run, tmp = broken
    for backend in ("model", "evm"):
        done = run("run", str(tmp / "tiny.toml"), "--backend", backend, "--out", str(tmp / f"ok-{backend}"))
        assert done.returncode == 0, done.stderr
        assert (tmp / f"ok-{backend}" / "report.html").exists()
    assert run("validate", str(tmp / "tiny.toml")).returncode == 0

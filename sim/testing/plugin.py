"""The pytest plugin (registered by the package's ``pytest11`` entry point).

``pytest --rbtc-contracts DIR`` runs the property suites (:mod:`sim.testing.suite`) against the
build in ``DIR`` (our layout, Foundry ``out/`` or Hardhat ``artifacts/``), with
``--rbtc-deployment FILE`` (a TOML ``[roles]`` file or a Foundry broadcast), ``--rbtc-deviations
FILE`` and ``--rbtc-budget quick|ci|deep``. Without ``--rbtc-contracts`` nothing is added to the
collection, and the fixtures check the project's own build:

* ``rbtc_build``: the :class:`~sim.testing.Build` under test;
* ``rbtc_chain``: the reference models and the build in lockstep, deployed with the testnet preset
  and rewound for each test (any difference between them raises at once);
* ``rbtc_new_chain``: a function giving that chain afresh (``rbtc_new_chain(params=None)``), for
  Hypothesis tests, which must start every example from the same state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts_model.deployment import Deployment
from contracts_model.params import PRESETS

SUITE_MODULE = Path(__file__).with_name("suite.py")
#: What the command line chose (read by :mod:`sim.testing.suite` when it is collected).
CHOSEN: dict = {"build": None, "budget": "quick"}


def pytest_addoption(parser):
    group = parser.getgroup("rbtc", "ReserveBTC: check a build of the contracts")
    group.addoption("--rbtc-contracts", metavar="DIR", help="run the protocol's property suites against this build")
    group.addoption("--rbtc-deployment", metavar="FILE",
                    help="who holds each role: a TOML [roles] file or a Foundry broadcast run-latest.json")
    group.addoption("--rbtc-deviations", metavar="FILE", help="declared differences the lockstep comparison waives")
    group.addoption("--rbtc-budget", choices=("smoke", "quick", "ci", "deep"), default="quick",
                    help="examples x steps of the property suites (default quick)")
    group.addoption("--rbtc-evm", choices=("pyevm", "revm"),
                    help="the EVM the build runs on (default: revm where it loads, else pyevm)")


def _build(config):
    from sim.protocol.artifacts import ArtifactError, load_artifacts
    from sim.protocol.deployment import load_deployment
    from sim.protocol.deviations import load_deviations
    from sim.testing.build import Build

    contracts = config.getoption("rbtc_contracts")
    deployment_file = config.getoption("rbtc_deployment")
    deviations_file = config.getoption("rbtc_deviations")
    try:
        if contracts:
            load_artifacts(contracts)
        deployment = load_deployment(deployment_file).deployment if deployment_file else Deployment()
        if deviations_file:
            load_deviations(deviations_file)
    except (ArtifactError, ValueError) as exc:
        raise pytest.UsageError(f"--rbtc: {exc}") from None
    return Build.at(contracts, deployment=deployment, deviations_file=deviations_file,
                    evm=config.getoption("rbtc_evm"))


def pytest_configure(config):
    CHOSEN["budget"] = config.getoption("rbtc_budget")
    if config.getoption("rbtc_contracts"):
        CHOSEN["build"] = _build(config)
        config.args.append(str(SUITE_MODULE))


@pytest.fixture(scope="session")
def rbtc_build(request):
    """The build under test (``--rbtc-contracts``; the project's own build without it)."""
    return CHOSEN["build"] or _build(request.config)


@pytest.fixture(scope="session")
def rbtc_new_chain(rbtc_build):
    """``rbtc_new_chain(params=None)``: models and build in lockstep (testnet preset unless ``params``),
    rewound to just after deployment; call it at the start of each Hypothesis example."""
    from sim.testing.build import deployed

    return lambda params=None: deployed(rbtc_build, params or PRESETS["testnet"])


@pytest.fixture
def rbtc_chain(rbtc_new_chain):
    """Models and build in lockstep with the testnet preset, rewound to just after deployment."""
    return rbtc_new_chain()

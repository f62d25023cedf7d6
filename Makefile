# Every target sets up what it needs on first use: a virtual environment with the pinned Python
# dependencies (requirements.lock) and, for the Solidity compiler, the pinned npm packages.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

SCENARIO ?= baseline
SEED ?=
RUN_ARGS ?=

.PHONY: run test bench fuzz mutants contracts setup node lock clean

# Replaces the previous run of the same scenario and seed (rbtc-sim run alone refuses a folder holding a run).
run: $(STAMP)
	$(BIN)/rbtc-sim run $(SCENARIO) $(if $(SEED),--seed $(SEED)) --overwrite $(RUN_ARGS)

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

# The property tests with 40x the examples (lockstep state machines, random worlds, chain model, the
# generated scenario files of tests/test_fuzz_inputs.py), and the API fuzzed from its OpenAPI document
# with 15x the requests.
fuzz: $(STAMP) $(NODE_STAMP)
	RBTC_FUZZ=1 $(BIN)/python -m pytest -q tests/test_lockstep_properties.py tests/test_world.py tests/test_bitcoin_chain.py \
		tests/test_fuzz_inputs.py tests/test_api_fuzz.py

# Mutation testing of `rbtc-sim check`: every mutant of tools/mutants.toml compiled and checked (long; resumable).
# MUTANT_ARGS passes options, e.g. MUTANT_ARGS="--only ID,ID", "--ci", "--force", "--update-readme".
MUTANT_WORKERS ?= 2
MUTANT_ARGS ?=
mutants: $(STAMP) $(NODE_STAMP)
	$(BIN)/python tools/mutants.py --workers $(MUTANT_WORKERS) $(MUTANT_ARGS)

contracts: $(NODE_STAMP)
	node tools/compile.js

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# Re-pin the whole dependency set after changing pyproject.toml (run on purpose, never implicitly).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q -e . setuptools==80.9.0 wheel==0.45.1
	.lock-venv/bin/pip freeze --all --exclude-editable --exclude rbtc-sim --exclude pip | sort > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis

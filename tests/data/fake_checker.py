"""A stand-in for ``rbtc-sim check`` in tests of tools/mutants.py: it answers from a plan, not from the build.

    fake_checker.py BUILD_DIR --budget B --seed N --out DIR [--fail-fast] [--deployment FILE]

``$FAKE_CHECK_PLAN`` is a JSON file ``{mutant id: {"exit": n, "violated": [...], "not_exercised": [...],
"verdict": "pass"|"fail", "write": true}}`` (the mutant id is the name of BUILD_DIR's parent; a missing id
passes clean). Every call is appended to ``$FAKE_CHECK_CALLS`` as one JSON line of its arguments.
"""

import json
import os
import sys
from pathlib import Path

args = sys.argv[1:]
build = Path(args[0])
out = Path(args[args.index("--out") + 1])
with open(os.environ["FAKE_CHECK_CALLS"], "a", encoding="utf-8") as calls:
    calls.write(json.dumps(args) + "\n")
plan = json.loads(Path(os.environ["FAKE_CHECK_PLAN"]).read_text()).get(build.parent.name, {})
violated = plan.get("violated", [])
invariants = {name: {"status": "held", "count": 3} for name in ("backing", "fees")}
invariants.update({name: {"status": "violated", "count": 1} for name in violated})
invariants.update({name: {"status": "not exercised", "count": 0} for name in plan.get("not_exercised", [])})
if plan.get("write", True):
    out.mkdir(parents=True, exist_ok=True)
    report = {"verdict": plan.get("verdict", "fail" if violated else "pass"), "invariants": invariants,
              "failures": [{"invariant": name, "source": "fake", "message": f"{name} broke"} for name in violated]}
    (out / "check.json").write_text(json.dumps(report))
if plan.get("exit", 1 if violated else 0) > 1:
    print("fake checker: harness failure; crash report: /nowhere", file=sys.stderr)
sys.exit(plan.get("exit", 1 if violated else 0))

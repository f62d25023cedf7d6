"""The run report (sim.report): built from run folders written here in the documented formats
(docs/run-folder.md), checked for what a reader relies on — the verdict, the reproduction commands,
the key figures, self-contained HTML, valid and byte-stable plots — and for bounded memory on a big log.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import struct
import zlib
import shutil
import time
import tracemalloc
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim.eventlog import canonical
from sim.metrics import COLUMNS
from sim.report import build_report, timeline
from sim.report import html as report_html
from sim.report.run import load_run

DAY = 86_400
REPRODUCE = "rbtc-sim run scenarios/unit.toml --seed 7 --backend model"
OWN_REPRODUCE = "rbtc-sim replay reports/unit-7 --until-step 9"
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
CAROL = "0x" + "c3" * 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------- run folders


class Log:
    """Records in the event-log format: seq 0, 1, 2, … in order; t non-decreasing."""

    def __init__(self):
        self.records: list[dict] = []

    def add(self, t: int, kind: str, **fields) -> dict:
        record = {"seq": len(self.records), "t": t, "kind": kind, **fields}
        self.records.append(record)
        return record

    def write(self, path: Path) -> str:
        """Write in time order (stable), renumbering seq; a violation's step is its record's seq."""
        self.records.sort(key=lambda r: r["t"])
        for seq, record in enumerate(self.records):
            record["seq"] = seq
            if record["kind"] == "invariant_violation":
                record["step"] = seq
        text = "".join(canonical(r) + "\n" for r in self.records)
        path.write_text(text, encoding="utf-8")
        return hashlib.sha256(text.encode()).hexdigest()


def sync(log: Log, t: int, user: str, delta: int, delay: int) -> None:
    log.add(t, "oracle_op", op="sync", user=user, delta=delta, confirmed=100_000 + delta, recorded=100_000,
            fee=10**12, delay_s=delay)


def write_metrics(path: Path, end_t: int, *, step: int = 600, supply: int = 150_000_000, yield_on: bool = True,
                  ratio_dip_at: int | None = None) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for t in range(0, end_t + 1, step):
            f = t / max(end_t, 1)
            reserves = supply if ratio_dip_at is None or abs(t - ratio_dip_at) > step else supply * 987654 // 1000000
            writer.writerow({
                "t": t, "rbtc_supply": supply if t else 0, "btc_reserves": reserves if t else 0,
                "backing_ratio": round(reserves / supply, 6) if t else "", "users": 3, "syncs": int(5 * f),
                "emergency_burns": int(2 * f), "needs_topup": 1 if f > 0.5 else 0, "open_windows": 0,
                "vault_total_wei": 3 * 10**16 - int(10**15 * f), "fees_collected_wei": int(10**15 * f),
                "btc_height": int(12 * f), "reorgs": 1 if f > 0.4 else 0, "disputes_filed": int(2 * f),
                "disputes_resolved": int(2 * f),
                "yield_rate_bps": 450 if yield_on else "", "yield_owed_total": int(2_000 * f) if yield_on else "",
                "yield_claimed_total": int(1_234 * f) if yield_on else "",
                "pool_participants": 2 if yield_on else "",
            })


def full_run(run_dir: Path, *, complete: bool = True, violations: bool = True, disputes: bool = True) -> dict:
    """A two-day run with everything in it: syncs, burns, a reorg window, an outage, disputes, violations."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = Log()
    log.add(0, "world_start", seed=7, users=3, duration_s=2 * DAY, contracts={"RBTCSynth": "0x" + "11" * 20})
    for height in range(1, 7):
        log.add(height * 100, "btc_block", height=height, hash=f"{height:064x}", txs=2)
    sync(log, 700, ALICE, 50_000_000, 12)
    sync(log, 800, BOB, 100_000_000, 0)
    log.add(900, "evm_tx", block=900, index=0, hash="0x" + "ab" * 32, **{"from": CAROL}, to="FeeVault",
            fn="depositETH", args=[CAROL], value=10**16, status="ok", error=None, events=[])
    log.add(38_880, "btc_reorg", depth=2, fork_height=4, old_tip="0" * 64, new_tip="1" * 64,
            double_spent=["0x" + "dd" * 32], dropped=[], affected=1)
    log.add(38_900, "backing_window_open", user=ALICE, cause="reorg", excess=2_500, rbtc=50_000_000,
            confirmed=49_997_500)
    violation_a = None
    if violations:
        violation_a = log.add(39_000, "invariant_violation", invariant="backing", step=None, actor=ALICE,
                              values={"rbtc": 50_000_000, "confirmed_btc": 49_997_500},
                              message="rBTC exceeds confirmed BTC <script>alert(1)</script> with no cause")
    log.add(44_300, "backing_window_close", user=ALICE, cause="reorg", duration_s=5_400, max_excess=2_500)
    log.add(50_000, "oracle_outage", until=57_200)
    log.add(51_000, "backing_window_open", user=BOB, cause="outage", excess=1_000, rbtc=100_000_000,
            confirmed=99_999_000)
    log.add(52_000, "backing_window_close", user=BOB, cause="outage", duration_s=1_000, max_excess=1_000)
    log.add(60_000, "backing_window_open", user=CAROL, cause="unexplained", excess=10, rbtc=10, confirmed=0)
    log.add(60_060, "backing_window_close", user=CAROL, cause="unexplained", duration_s=60, max_excess=10)
    sync(log, 61_000, CAROL, 10, 300)
    log.add(70_000, "fee_drought", until=80_000)
    log.add(72_000, "oracle_op", op="needs_topup", user=CAROL, delta=5_000, confirmed=5_010, recorded=10,
            fee=10**13)
    log.add(90_000, "oracle_op", op="emergency_burn", user=BOB, delta=-10, confirmed=99_999_990,
            recorded=100_000_000, fee=0, burned=100_000_000)
    if disputes:
        log.add(95_000, "dispute_filed", dispute_id=1, user=ALICE, reported=50_000_000, recorded=49_000_000)
        log.add(95_300, "dispute_validated", dispute_id=1, user=ALICE, confirmed=50_000_000)
        log.add(96_800, "dispute_resolved", dispute_id=1, user=ALICE, outcome="accepted", resolved_in_s=1_800)
        log.add(100_000, "dispute_filed", dispute_id=2, user=BOB, reported=5, recorded=0)
        log.add(100_300, "dispute_validated", dispute_id=2, user=BOB, confirmed=0)
        log.add(100_900, "dispute_resolved", dispute_id=2, user=BOB, outcome="rejected", resolved_in_s=900)
    sync(log, 110_000, ALICE, -1_000, 4_000)
    for r in range(1, 4):
        log.add(r * 40_000 + 5, "por_published", round=r, root="0x" + "ef" * 32, height=r * 3,
                total_sats=150_000_000, leaves=3, timestamp=1_758_412_800 + r * 40_000)
    sync(log, 120_000, BOB, 99_999_990, 60)
    log.add(150_000, "oracle_op", op="emergency_burn", user=CAROL, delta=-10, confirmed=0, recorded=10, fee=0,
            burned=10)
    violation_b = None
    if violations:
        violation_b = log.add(160_000, "invariant_violation", invariant="consistency", step=None,
                              actor="system", values={"total_supply": 5, "sum_last_sats": 6},
                              message="totalSupply differs from the sum of lastSats")
    end_t = 2 * DAY if complete else 100_000
    if complete:
        log.add(end_t, "world_end", total_supply=150_000_000, btc_height=12, users=3)
    else:
        log.records = [r for r in log.records if r["t"] <= end_t]
    digest = log.write(run_dir / "events.jsonl")
    write_metrics(run_dir / "metrics.csv", end_t, ratio_dip_at=39_000)
    listed = []
    if violations:
        listed.append({**{k: violation_a[k] for k in ("invariant", "step", "t", "actor", "values", "message")},
                       "reproduce": OWN_REPRODUCE})
        if complete:
            listed.append({k: violation_b[k] for k in ("invariant", "step", "t", "actor", "values", "message")})
    summary = {  # the keys of docs/run-folder.md, with the extra ones sim/run.py writes
        "scenario": "unit", "seed": 7, "backend": "model", "digest": digest,
        "complete": complete, "interrupted": None if complete else "interrupted (Ctrl-C)",
        "users": 3, "duration_s": 2 * DAY, "simulated_s": end_t, "events": len(log.records),
        "preset": "fixed_fee", "reproduce": REPRODUCE,
        "btc_blocks": 12, "reorgs": 1, "syncs": 5, "emergency_burns": 2, "needs_topup": 1, "oracle_rounds": 40,
        "disputes": ({"filed": 2, "accepted": 1, "rejected": 1, "open": 0, "onchain": 2, "max_resolution_s": 1_800}
                     if disputes else {"filed": 0, "accepted": 0, "rejected": 0, "max_resolution_s": None}),
        "backing": {"min_ratio": 0.987654, "violations": 3, "max_violation_window_s": 5_400,
                    "max_excess_sats": 2_500, "open_windows": 0,
                    "windows_by_cause": {"reorg": 1, "outage": 1, "latency": 0, "unexplained": 1}},
        "invariant_violations": listed,
        "params": {"pct_bps": 10, "fixed_wei": 10**12, "wei_per_sat": 10**9, "min_confirmations": 1,
                   "max_fee_per_sync_wei": 10**16, "yield_params": None},
        "yield": {"participants": 2, "traders": 1, "claims": 4, "claimed": 1_234, "rate_bps": 450,
                  "tiers": {"bronze": 2, "silver": 0, "gold": 0}},
        "proof_of_reserves": {"rounds": 3, "last_root": "0x" + "ef" * 32, "last_height": 9,
                              "last_total_sats": 150_000_000, "onchain_verified_proofs": 9},
        "sync_delay_s": {"p50": 60, "p95": 4_000, "max": 4_000},
        "fees_collected_wei": 10**15,
        "wall_clock_s": 3.2,
    }
    if not complete:  # as written at the start of the run, before anything was counted
        summary.update(events=0, btc_blocks=0, reorgs=0, syncs=0, emergency_burns=0, needs_topup=0,
                       wall_clock_s=None)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def empty_run(run_dir: Path) -> None:
    """A run in which almost nothing happened: no users, no syncs, no reorgs, no disputes, no yield."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = Log()
    log.add(0, "world_start", seed=1, users=0, duration_s=3_600, contracts={})
    log.add(3_600, "world_end", total_supply=0, btc_height=5, users=0)
    digest = log.write(run_dir / "events.jsonl")
    with open(run_dir / "metrics.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for t in (0, 1_800, 3_600):
            writer.writerow({c: "" for c in COLUMNS} | {"t": t, "rbtc_supply": 0, "btc_reserves": 0, "users": 0,
                                                        "syncs": 0, "emergency_burns": 0, "needs_topup": 0,
                                                        "vault_total_wei": 0, "fees_collected_wei": 0,
                                                        "btc_height": t // 720, "reorgs": 0})
    (run_dir / "summary.json").write_text(json.dumps({
        "scenario": "empty", "seed": 1, "backend": "model", "digest": digest, "complete": True,
        "interrupted": None, "users": 0, "duration_s": 3_600, "events": 2, "btc_blocks": 5, "reorgs": 0,
        "syncs": 0, "emergency_burns": 0, "needs_topup": 0,
        "disputes": {"filed": 0, "accepted": 0, "rejected": 0, "max_resolution_s": None},
        "backing": {"min_ratio": None, "violations": 0, "max_violation_window_s": 0, "max_excess_sats": 0,
                    "windows_by_cause": {"reorg": 0, "outage": 0, "latency": 0, "unexplained": 0}},
        "invariant_violations": [], "params": {"pct_bps": 10},
        "yield": {"participants": 0, "claimed": 0, "rate_bps": 0, "tiers": {"bronze": 0, "silver": 0, "gold": 0}},
        "proof_of_reserves": {"rounds": 0, "last_total_sats": None, "verified_proofs": 0},
        "sync_delay_s": {"p50": 0, "p95": 0, "max": 0}, "wall_clock_s": 0.1,
    }), encoding="utf-8")


# ---------------------------------------------------------------------------------------------- reading HTML


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parses the report: checks tags nest properly and collects images, tables and text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[dict] = []
        self.links = 0
        self.scripts = 0
        self.text: list[str] = []
        self.cells: list[list[str]] = []  # text of each <tr>'s cells
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag == "link":
            self.links += 1
        if tag == "script":
            self.scripts += 1
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.cells.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html_text: str) -> Page:
    page = Page()
    page.feed(html_text)
    page.close()
    return page


def key_figures(page: Page) -> dict[str, str]:
    """Label → value of the key figures (two-cell rows: figure, value)."""
    return {row[0]: row[1] for row in page.cells if len(row) == 2}


def png_image(data: bytes) -> tuple[int, int, list[str], bytes]:
    """Check a PNG chunk by chunk (signature, CRCs, IHDR first, IEND last, image data that inflates to
    exactly height rows of filtered pixels); return (width, height, chunk types, raw pixel rows)."""
    assert data[:8] == PNG_SIGNATURE
    offset, chunks, idat = 8, [], b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append(kind.decode("ascii"))
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    assert chunks[0] == "IHDR" and chunks[-1] == "IEND" and "IDAT" in chunks
    channels = {2: 3, 6: 4}[color]
    assert depth == 8
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + width * channels)
    return width, height, chunks, raw


def read(run_dir: Path) -> tuple[str, str, Page]:
    html_text = (run_dir / "report.html").read_text(encoding="utf-8")
    return html_text, (run_dir / "report.md").read_text(encoding="utf-8"), parse(html_text)


# ---------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The full run, built once (plots are the slow part)."""
    run_dir = tmp_path_factory.mktemp("full") / "unit-7"
    summary = full_run(run_dir)
    paths = build_report(run_dir, reproduce=REPRODUCE)
    return run_dir, summary, paths


def test_writes_the_report_files_and_returns_their_paths(built):
    run_dir, _, paths = built
    assert run_dir / "report.md" in paths and run_dir / "report.html" in paths
    plots = sorted(p.name for p in paths if p.suffix == ".png")
    assert plots == sorted(["backing.png", "fees.png", "emergency.png", "disputes.png", "yield.png",
                            "sync_delay.png"])
    for path in paths:
        assert path.is_file() and path.stat().st_size > 0
        assert path.parent in (run_dir, run_dir / "plots")
    assert not list(run_dir.rglob("*.partial"))


def test_html_is_self_contained_and_well_formed(built):
    run_dir, _, paths = built
    html_text, _, page = read(run_dir)
    assert page.errors == [] and page.stack == []
    assert 'src="http' not in html_text and "src='http" not in html_text
    assert "<link" not in html_text and page.links == 0
    assert page.scripts == 0 and "<script>alert" not in html_text  # text from the run is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "url(" not in html_text and "@import" not in html_text
    assert len(page.images) == sum(1 for p in paths if p.suffix == ".png")
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(image["src"].split(",", 1)[1], validate=True)
        assert png.startswith(PNG_SIGNATURE)
        assert png in {p.read_bytes() for p in paths if p.suffix == ".png"}  # the same plots as the files


def test_sections_come_in_the_documented_order(built):
    run_dir, _, _ = built
    html_text, md, _ = read(run_dir)
    titles = ("The run", "Verdict", "Key figures", "Plots", "What happened")
    for text, heading in ((html_text, "<h2>{}</h2>"), (md, "\n## {}\n")):
        positions = [text.index(heading.format(title)) for title in titles]
        assert positions == sorted(positions)
        assert text.index(REPRODUCE) < positions[0]  # the reproduce command is at the top


def test_verdict_counts_the_violations_and_gives_each_its_reproduce_command(built):
    run_dir, summary, _ = built
    html_text, md, page = read(run_dir)
    assert len(summary["invariant_violations"]) == 2
    for text in (html_text, md):
        assert "2 INVARIANT VIOLATIONS" in text
        assert "ALL INVARIANTS HELD" not in text
    # first one row per (invariant, message) with its full count and first occurrence, then one row per
    # violation; each row is followed by a row holding its reproduce command
    rows = page.cells
    found = [r for r in rows if r and r[0] in ("backing", "consistency") and len(r) == 6]
    assert len(found) == 4
    assert sorted((r[0], r[1]) for r in found[:2]) == [("backing", "1"), ("consistency", "1")]  # the groups
    backing = max(i for i, r in enumerate(rows) if r and r[0] == "backing")
    consistency = max(i for i, r in enumerate(rows) if r and r[0] == "consistency")
    assert OWN_REPRODUCE in rows[backing + 1][0]
    assert REPRODUCE in rows[consistency + 1][0]
    assert "day 0 10:50" in rows[backing][2] and ALICE in rows[backing][3]
    assert "rbtc = 50,000,000" in rows[backing][4] and "confirmed_btc = 49,997,500" in rows[backing][4]
    md_rows = [line for line in md.splitlines() if line.startswith("| backing |") or line.startswith("| consistency |")]
    assert len(md_rows) == 4  # two groups, then two violations
    assert OWN_REPRODUCE in md_rows[2] and REPRODUCE in md_rows[3]


def test_key_figures_match_the_summary(built):
    run_dir, s, _ = built
    _, md, page = read(run_dir)
    figures = key_figures(page)
    expected = {
        "Syncs": f"{s['syncs']:,}", "Emergency burns": f"{s['emergency_burns']:,}", "Needs top-up": "1",
        "Blocks": "12", "Filed": "2", "Accepted": "1", "Rejected": "1", "Open at the end": "0",
        "Filed on chain": "2", "Longest resolution": "30 min (1,800 s)", "Oracle rounds": "40",
        "Fees collected": "0.001 ETH", "Windows (all causes)": "3", "Reorg windows": "1", "Outage windows": "1",
        "Latency windows": "0",
        "Unexplained windows": "1", "Largest excess (rBTC over BTC)": "2,500 sats",
        "p50": "1 min (60 s)", "p95": "1 h 6 min (4,000 s)", "max": "1 h 6 min (4,000 s)",
        "Participants": "2", "Traders among them": "1", "Rate": "450 bps (4.50 %)", "Claims": "4",
        "Claimed": "1,234", "Tiers": "bronze 2 · silver 0 · gold 0",
        "Rounds": "3", "Last published total": "1.5 BTC", "Last snapshot height": "9", "Verified proofs": "9",
    }
    for label, value in expected.items():
        assert figures[label] == value, label
    assert figures["Reorgs"].startswith("1 ")  # "1 (deepest 2 blocks)"
    assert figures["Minimum backing ratio"].startswith("0.987654")
    assert figures["Longest window"] == "1 h 30 min (5,400 s)"
    assert figures["Longest window opened"] == "day 0 10:48 (reorg)"  # found in the event log
    assert "| Oracle | Syncs | 5 |" in md and "| Backing | Minimum backing ratio | 0.987654 (98.77 %) |" in md
    assert "|  | Windows (all causes) | 3 |" in md  # grouped: the area is shown once


def test_header_shows_the_run_and_its_parameters(built):
    run_dir, s, _ = built
    html_text, md, page = read(run_dir)
    for text in (html_text, md):
        assert s["digest"] in text and s["digest"][:12] in text
        assert "2 days" in text and "wall_clock_s" not in text
        assert "max_fee_per_sync_wei" in text and "0.01 ETH" in text
        assert "yield_params" in text and "not set: the defaults apply" in text
        assert "fixed_fee" in text  # the preset
    assert "3.2 s" in html_text and "complete" in html_text


def test_plots_are_valid_pngs_1000_px_wide(built):
    _, _, paths = built
    for path in (p for p in paths if p.suffix == ".png"):
        width, height, chunks, raw = png_image(path.read_bytes())
        assert width == 1000 and 250 < height < 900
        assert len(set(raw)) > 50  # drawn on, not a blank canvas
        assert not {"tEXt", "iTXt", "zTXt", "tIME"} & set(chunks)  # no software name, no date


def test_building_twice_gives_identical_bytes_wherever_the_folder_is(tmp_path, built):
    run_dir, _, first = built
    copy = tmp_path / "elsewhere" / run_dir.name
    copy.mkdir(parents=True)
    for name in ("summary.json", "metrics.csv", "events.jsonl"):
        shutil.copy(run_dir / name, copy / name)
    again = build_report(copy, reproduce=REPRODUCE)
    assert [p.relative_to(copy) for p in again] == [p.relative_to(run_dir) for p in first]
    for path in first:
        relative = path.relative_to(run_dir)
        assert path.read_bytes() == (copy / relative).read_bytes(), relative


def test_incomplete_run_has_a_banner_and_counts_what_the_log_holds(tmp_path):
    run_dir = tmp_path / "cut"
    summary = full_run(run_dir, complete=False)
    build_report(run_dir, reproduce=REPRODUCE)
    html_text, md, page = read(run_dir)
    for text in (html_text, md):
        assert "INCOMPLETE RUN" in text and "interrupted (Ctrl-C)" in text
        assert "1 INVARIANT VIOLATION" in text and OWN_REPRODUCE in text
    assert html_text.index("INCOMPLETE RUN") < html_text.index("The run</h2>")  # at the top, not buried
    figures = key_figures(page)
    assert summary["syncs"] == 0
    assert figures["Syncs"] == "3"  # counted from the event log, not the summary written at the start
    assert figures["Emergency burns"] == "1" and figures["Reorgs"].startswith("1 ")
    assert figures["p50"] == "12 s" and figures["p95"] == "5 min (300 s)"  # delays 0, 12, 300 so far
    assert "did not finish" in html_text
    assert "stopped at day 1 03:46" in html_text  # the last record: t = 100,000


def test_absent_things_are_said_in_one_line_instead_of_plotted(tmp_path):
    run_dir = tmp_path / "empty"
    empty_run(run_dir)
    paths = build_report(run_dir)
    html_text, md, page = read(run_dir)
    names = {p.name for p in paths}
    assert {"disputes.png", "yield.png", "sync_delay.png", "emergency.png"}.isdisjoint(names)
    for text in (html_text, md):
        assert "ALL INVARIANTS HELD" in text
        assert "No disputes were filed." in text
        assert "No yield participants" in text
        assert "No oracle syncs" in text
        assert "No emergency burns and no user ever needed a fee top-up." in text
        assert "Reproduce this run" not in text  # no command was given
    assert page.errors == [] and page.images == []  # nothing but flat zero lines to draw
    assert "no Bitcoin reorgs and no backing windows" in html_text
    assert "No fees were prepaid or collected." in html_text


def test_rebuilding_a_clean_run_without_disputes(tmp_path, built):
    """The verdict of a run without violations; a plot that no longer applies is removed on rebuild."""
    run_dir = tmp_path / "run"
    shutil.copytree(built[0], run_dir)  # with the reports of the full run in it
    assert (run_dir / "plots" / "disputes.png").exists()
    full_run(run_dir, violations=False, disputes=False)
    paths = build_report(run_dir)  # no command given: the summary's own "reproduce" is shown
    html_text, md, _ = read(run_dir)
    for text in (html_text, md):
        assert "ALL INVARIANTS HELD" in text and "INVARIANT VIOLATION" not in text
        assert "No disputes were filed." in text
        assert "Reproduce this run" in text and REPRODUCE in text
    assert (run_dir / "plots" / "disputes.png") not in paths
    assert not (run_dir / "plots" / "disputes.png").exists()


def test_missing_files_are_reported_not_fatal(tmp_path):
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps({"scenario": "bare", "complete": False}), encoding="utf-8")
    build_report(run_dir)
    html_text, _, page = read(run_dir)
    assert "MISSING INPUT" in html_text and "metrics.csv is missing" in html_text
    assert "events.jsonl is missing" in html_text and "INCOMPLETE RUN" in html_text
    assert "VERDICT UNKNOWN" in html_text and "ALL INVARIANTS HELD" not in html_text
    assert page.errors == [] and page.images == []
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path / "nowhere")


def test_timeline_stays_short(tmp_path):
    run_dir = tmp_path / "busy"
    full_run(run_dir)
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    end = json.loads(lines[-1])
    extra = [canonical({"seq": len(lines) - 1 + i, "t": 165_000 + i, "kind": "btc_reorg", "depth": 1,
                        "fork_height": 10, "old_tip": "0" * 64, "new_tip": "1" * 64, "double_spent": [],
                        "dropped": [], "affected": 0}) for i in range(60)]
    end["seq"] = len(lines) - 1 + len(extra)
    (run_dir / "events.jsonl").write_text("\n".join(lines[:-1] + extra + [canonical(end)]) + "\n")
    html_text = report_html.block(timeline.section(load_run(run_dir)).blocks[-1])
    entries = html_text.count("<li>")
    assert entries == timeline.LINES == 30
    # always shown: start, first and last burn, longest window, end; then the earliest 25 of
    # 61 reorgs, 1 outage, 1 drought and 2 violations: 40 of the late reorgs are left out
    assert "Not shown: 40 × reorg (see events.jsonl)." in html_text
    assert "First emergency burn" in html_text and "Last of 2 emergency burns" in html_text
    assert "Run ends" in html_text


def test_a_200k_line_log_is_read_in_bounded_memory(tmp_path):
    run_dir = tmp_path / "big"
    run_dir.mkdir()
    users = [f"0x{i:040x}" for i in range(2_000)]
    n = 200_000
    with open(run_dir / "events.jsonl", "w", encoding="utf-8") as handle:
        handle.write(canonical({"seq": 0, "t": 0, "kind": "world_start", "seed": 1, "users": 2_000,
                                "duration_s": 7 * DAY, "contracts": {}}) + "\n")
        for seq in range(1, n):
            t = seq * 3
            user = users[seq % len(users)]
            if seq % 3 == 0:
                record = {"seq": seq, "t": t, "kind": "oracle_op", "op": "sync", "user": user, "delta": seq,
                          "confirmed": seq * 10, "recorded": seq * 9, "fee": 10**12, "delay_s": (seq * 7919) % 3_000}
            elif seq % 997 == 0:
                record = {"seq": seq, "t": t, "kind": "backing_window_open", "user": user, "cause": "latency",
                          "excess": seq, "rbtc": seq, "confirmed": 0}
            elif seq % 997 == 1:
                record = {"seq": seq, "t": t, "kind": "backing_window_close", "user": users[(seq - 1) % len(users)],
                          "cause": "latency", "duration_s": 3, "max_excess": seq}
            else:
                record = {"seq": seq, "t": t, "kind": "evm_tx", "block": t, "index": 0, "hash": "0x" + "ab" * 32,
                          "from": user, "to": "OracleAggregator", "fn": "sync", "args": [user, seq, "0x"],
                          "value": 0, "status": "ok", "error": None,
                          "events": [["OracleAggregator", "Synced", [user, seq, 1, 10**12, seq, t]]]}
            handle.write(canonical(record) + "\n")
    size = (run_dir / "events.jsonl").stat().st_size
    assert size > 40_000_000
    write_metrics(run_dir / "metrics.csv", n * 3, step=1_200)
    (run_dir / "summary.json").write_text(json.dumps({"scenario": "big", "complete": False}), encoding="utf-8")

    tracemalloc.start()
    started = time.perf_counter()
    try:
        run = load_run(run_dir)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert peak < 8_000_000, f"peak {peak:,} bytes for a {size:,}-byte log"
    assert elapsed < 30, f"{elapsed:.1f} s"
    syncs = (n - 1) // 3
    assert run.events.lines == n and run.events.ops["sync"] == syncs and run.events.sync_delay.n == syncs
    assert run.events.windows == run.events.window_closes > 100

    started = time.perf_counter()
    build_report(run_dir)
    assert time.perf_counter() - started < 60
    figures = key_figures(read(run_dir)[2])
    assert figures["Syncs"] == f"{syncs:,}"
    assert figures["Latency windows"] == f"{run.events.windows:,}"

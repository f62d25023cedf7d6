"""``make bench`` section ``api``: realtime API latency over a 10,000-user week, 50 concurrent clients.

    python bench/bench.py --only api              # the section on its own
    python bench/bench.py --only api --api-fresh  # re-simulate and re-index instead of reusing

1. Build (or reuse) a 10,000-user, 7-day model-backend run in ``reports/bench-api-10k-seed1/``
   (``events.jsonl``; ~20 s to simulate) and index it into its ``index.sqlite`` (timed).
2. Serve it with uvicorn in a separate process on a free loopback port (a process of its own, so
   the load generator does not share the server's interpreter lock).
3. For each endpoint, 50 concurrent clients on keep-alive connections issue a realistic mix of
   requests over many users: addresses drawn uniformly from all 10,000 users plus 5 % never seen,
   varied ``limit``/``offset`` where the endpoint pages, the address-less form where it has one.
   Each client is a dashboard that waits a think time (exponential, mean ``--api-think-ms``,
   default 50 ms) between its requests; latency is measured from writing the request to having
   read the whole response. A final phase mixes all endpoints, and a saturation phase (no think
   time) reports the throughput ceiling for information.
4. Print p50 and p99 per endpoint against the targets p50 < 10 ms and p99 < 50 ms.
5. The dashboard's first load from that database: the server's first render of ``/`` (its cache
   cold), then fresh browser loads (Debian's chromium through Playwright, when installed) timed from
   navigation to the page's scripts having drawn everything, against the target < 300 ms.
6. Realtime push: a second server over a database an indexer process is filling with the same log
   (a commit every 2,000 records), 50 clients connected to ``/api/realtime/stream`` and 50 clients
   requesting the mixed load meanwhile; p99 of those requests against 50 ms, and how many events each
   stream client received and how far apart in time the 50 copies of an event arrived.

Every loop is bounded in requests and in time, and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENDPOINTS = ("balances", "sync-status", "transactions", "bitcoin-addresses", "emergency-burns", "yield-status",
             "disputes", "proof-of-reserves")
TARGET_P50_MS, TARGET_P99_MS = 10.0, 50.0
#: Share of requests per endpoint in the mixed phase: a dashboard reads balances and status most.
MIX = {"balances": 25, "sync-status": 20, "transactions": 20, "bitcoin-addresses": 10, "emergency-burns": 5,
       "yield-status": 10, "disputes": 5, "proof-of-reserves": 5}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-users", type=int, default=10_000)
    parser.add_argument("--api-days", type=int, default=7)
    parser.add_argument("--api-clients", type=int, default=50)
    parser.add_argument("--api-requests", type=int, default=3_000, help="requests per endpoint phase")
    parser.add_argument("--api-think-ms", type=float, default=50.0, help="mean think time between a client's requests")
    parser.add_argument("--api-run-dir", default=None, help="run folder to build or reuse")
    parser.add_argument("--api-fresh", action="store_true", help="simulate and index again even if a run exists")
    parser.add_argument("--api-stream-clients", type=int, default=50)


def _arg(args, name: str, default):
    return getattr(args, name, default) if args is not None else default


# ---------------------------------------------------------------------- the run


def _build_run(run_dir: Path, users: int, days: int, fresh: bool) -> tuple[str, float | None, float | None, int]:
    """(database URL, seconds to simulate or None if reused, seconds to index or None, records)."""
    from sim.indexer import IndexerError, index_run

    marker = run_dir / "bench-run.json"
    wanted = {"users": users, "days": days, "seed": 1, "backend": "model"}
    reuse = not fresh and marker.exists() and json.loads(marker.read_text()).get("config") == wanted
    simulate_s = None
    if not reuse:
        from sim.config import DAY, WorldConfig
        from sim.eventlog import EventLog
        from sim.world import World

        run_dir.mkdir(parents=True, exist_ok=True)
        for name in ("events.jsonl", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "bench-run.json"):
            (run_dir / name).unlink(missing_ok=True)
        start = time.perf_counter()
        world = World(WorldConfig(seed=1, users=users, duration_s=days * DAY, backend="model"),
                      log=EventLog(run_dir / "events.jsonl"))
        world.run()
        world.finish()
        world.log.close()
        simulate_s = time.perf_counter() - start
        marker.write_text(json.dumps({"config": wanted, "records": world.log.count, "digest": world.log.digest}))
        print(f"  simulated {world.log.count:,} records in {simulate_s:.1f} s")
    else:
        print(f"  reusing the run ({json.loads(marker.read_text())['records']:,} records)")
    try:
        stats = index_run(run_dir)
    except IndexerError as exc:  # an index written by another version of the indexer: rebuild it
        print(f"  rebuilding the index: {exc}")
        for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
            (run_dir / name).unlink(missing_ok=True)
        stats = index_run(run_dir)
    info = json.loads(marker.read_text())
    index_s = stats["seconds"] if stats["records_indexed"] else None
    if index_s is not None:
        print(f"  indexed {stats['records_indexed']:,} records in {index_s:.1f} s "
              f"({stats['records_per_s']:,} records/s) into {stats['db_url']}")
        if stats["resumed_from_seq"] == -1:
            info["index_s"] = index_s
            marker.write_text(json.dumps(info))
    elif info.get("index_s") is not None:
        print(f"  reusing its index (built in {info['index_s']:.1f} s when it was made)")
    return stats["db_url"], simulate_s, index_s, info["records"]


def _addresses(db_url: str) -> list[str]:
    from sqlalchemy import select

    from sim.indexer import schema as s
    from sim.indexer.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        users = list(conn.execute(select(s.users.c.eth_address).where(s.users.c.registered_at.is_not(None))
                                  .order_by(s.users.c.eth_address)).scalars())
    engine.dispose()
    return users


# ---------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(db_url: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    code = ("import sys; from sim.api import serve; "
            "serve(sys.argv[1], '127.0.0.1', int(sys.argv[2]), log_level='warning', announce=False)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, db_url, str(port)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited with {proc.returncode} before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the API server did not start within 30 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---------------------------------------------------------------------- the load


def _request_paths(endpoint: str, users: list[str], rng: random.Random, count: int) -> list[str]:
    paths = []
    for _ in range(count):
        if rng.random() < 0.05:
            address = "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))  # never seen
        else:
            address = rng.choice(users)
        if rng.random() < 0.2:
            address = address.upper().replace("0X", "0x")
        query = f"address={address}"
        if endpoint == "proof-of-reserves":
            query = ""
        elif endpoint in ("emergency-burns", "yield-status", "disputes") and rng.random() < 0.2:
            query = ""  # the system-wide form
        if endpoint in ("transactions", "emergency-burns", "disputes"):
            limit = rng.choice((10, 20, 20, 50, 100))
            offset = rng.choice((0, 0, 0, 0, 10, 20))
            query = "&".join(filter(None, (query, f"limit={limit}", f"offset={offset}" if offset else "")))
        paths.append(f"/api/realtime/{endpoint}" + (f"?{query}" if query else ""))
    return paths


async def _client(port: int, paths: list[str], latencies: list[float], errors: list[str], think_s: float,
                  rng: random.Random, deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for path in paths:
            if time.monotonic() > deadline:
                break
            if think_s > 0:
                await asyncio.sleep(rng.expovariate(1.0 / think_s))
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(f"{path}: {head.split(b' ', 2)[1].decode()} {body[:120].decode(errors='replace')}")
    finally:
        writer.close()


async def _phase(port: int, paths: list[str], clients: int, think_s: float, seed: int,
                 max_seconds: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    shares = [paths[i::clients] for i in range(clients)]
    deadline = time.monotonic() + max_seconds
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, share, latencies, errors, think_s, random.Random(seed + i), deadline)
                           for i, share in enumerate(shares)))
    return latencies, errors, time.perf_counter() - start


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def _report(label: str, latencies: list[float], seconds: float, errors: list[str], check: bool) -> bool:
    p50, p99 = _percentile(latencies, 0.50) * 1000, _percentile(latencies, 0.99) * 1000
    ok = p50 < TARGET_P50_MS and p99 < TARGET_P99_MS and not errors
    verdict = ("ok" if ok else "MISSED") if check else "(info)"
    print(f"  {label:<20} {len(latencies):>6} req {len(latencies) / seconds:>7,.0f} req/s   p50 {p50:>6.2f} ms"
          f"   p99 {p99:>6.2f} ms   max {max(latencies, default=0) * 1000:>7.2f} ms   {verdict}")
    for error in errors[:3]:
        print(f"    error: {error}")
    return ok or not check


# ---------------------------------------------------------------------- the dashboard

TARGET_FIRST_LOAD_MS = 300.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _http_get(port: int, path: str) -> tuple[int, bytes, float]:
    import http.client

    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body, time.perf_counter() - start


def _dashboard_first_load(port: int) -> bool:
    """The server's first render of / (cold), warm renders with their assets, then browser loads."""
    import re

    status, body, cold = _http_get(port, "/")
    assets = re.findall(rb'(?:src|href)="(/assets/[^"]+)"', body)
    warm = []
    for _ in range(20):
        start = time.perf_counter()
        for path in [b"/"] + assets:
            _http_get(port, path.decode())
        warm.append(time.perf_counter() - start)
    print(f"  dashboard /: first render (cache cold) {cold * 1000:.1f} ms, {len(body) / 1024:.0f} KiB; "
          f"page + {len(assets)} assets warm p50 {_percentile(warm, 0.5) * 1000:.1f} ms, "
          f"max {max(warm) * 1000:.1f} ms")
    ok = status == 200 and cold * 1000 < TARGET_FIRST_LOAD_MS
    if not os.access(CHROMIUM, os.X_OK):
        print(f"  dashboard in a browser: skipped ({CHROMIUM} is not installed: apt-get install chromium)")
        return ok
    from playwright.sync_api import sync_playwright

    loads = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for _ in range(6):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})  # empty cache each time
                page = context.new_page()
                errors = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("body[data-ready='1']")
                # from the start of navigation to the scripts having drawn every chart and panel
                ready = page.evaluate("performance.now()")
                loads.append(ready / 1000)
                ok &= not errors and int(page.get_attribute("#chart-backing", "data-points") or 0) > 1
                context.close()
        finally:
            browser.close()
    loads = loads[1:]  # the first includes the browser's own warm-up
    p50, worst = _percentile(loads, 0.5) * 1000, max(loads) * 1000
    ok &= worst < TARGET_FIRST_LOAD_MS
    print(f"  dashboard in chromium (fresh context, navigation to drawn): p50 {p50:.0f} ms, max {worst:.0f} ms "
          f"over {len(loads)} loads   target < {TARGET_FIRST_LOAD_MS:.0f} ms   {'ok' if ok else 'MISSED'}")
    return ok


# ---------------------------------------------------------------------- realtime push


async def _stream_client(port: int, arrivals: dict, deadline: float, ready: asyncio.Event, counter: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/realtime/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    try:
        await reader.readuntil(b"\r\n\r\n")
        counter[0] += 1
        if counter[0] >= counter[1]:
            ready.set()
        while time.monotonic() < deadline:
            try:
                line = await asyncio.wait_for(reader.readline(), max(0.05, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if not line:
                break
            if line.startswith(b"id: "):
                arrivals.setdefault(int(line[4:]), []).append(time.perf_counter())
    finally:
        writer.close()


def _push_phase(db_url_source: Path, users: list[str], stream_clients: int, clients: int, think_s: float,
                requests: int) -> bool:
    """A server over a database an indexer process is filling; stream clients and request clients."""
    import tempfile

    from sim.indexer.db import sqlite_url

    work = Path(tempfile.mkdtemp(prefix="rbtc-push-"))
    url = sqlite_url(work / "index.sqlite")
    writer_code = ("import sys, time; from sim.indexer import Indexer; ix = Indexer(sys.argv[1], batch_size=2000); "
                   "ix.after_commit.append(lambda seq: time.sleep(0.25)); ix.index_file(sys.argv[2]); ix.close()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    indexer = subprocess.Popen([sys.executable, "-c", writer_code, url, str(db_url_source)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (work / "index.sqlite").exists() or _batches(url) == 0:
            if indexer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the indexer process did not commit its first batch")
            time.sleep(0.1)
        proc, port = _start_server(url)
        try:
            rng = random.Random(4242)
            mixed = [p for endpoint, weight in MIX.items()
                     for p in _request_paths(endpoint, users, rng, requests * weight // 100)]
            rng.shuffle(mixed)

            async def run():
                arrivals: dict[int, list[float]] = {}
                ready = asyncio.Event()
                counter = [0, stream_clients]
                end = time.monotonic() + 75
                streams = [asyncio.create_task(_stream_client(port, arrivals, end, ready, counter))
                           for _ in range(stream_clients)]
                await asyncio.wait_for(ready.wait(), 30)
                latencies, errors, seconds = await _phase(port, mixed, clients, think_s, 500, 60)
                for task in streams:
                    task.cancel()
                await asyncio.gather(*streams, return_exceptions=True)
                return latencies, errors, seconds, arrivals

            latencies, errors, seconds, arrivals = asyncio.run(run())
        finally:
            _stop(proc)
    finally:
        _stop(indexer)
    complete = [times for times in arrivals.values() if len(times) == stream_clients]
    spread = [max(times) - min(times) for times in complete]
    ok = _report(f"mixed, {stream_clients} streams", latencies, seconds, errors, True)
    print(f"    pushed {len(arrivals)} batch events while it ran; {len(complete)} reached all {stream_clients} "
          f"stream clients; fan-out spread p50 {_percentile(spread, 0.5) * 1000:.1f} ms, "
          f"max {max(spread, default=0) * 1000:.1f} ms")
    return ok and len(complete) > 0


def _batches(url: str) -> int:
    from sqlalchemy import func, inspect, select

    from sim.indexer import schema as s
    from sim.indexer.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(s.index_batches.name):
                return 0
            return conn.execute(select(func.count()).select_from(s.index_batches)).scalar_one()
    finally:
        engine.dispose()


def bench_api(args=None) -> bool:
    """The section: see the module docstring. True when every endpoint met both targets."""
    users_n = _arg(args, "api_users", 10_000)
    days = _arg(args, "api_days", 7)
    clients = _arg(args, "api_clients", 50)
    requests = _arg(args, "api_requests", 3_000)
    think_s = _arg(args, "api_think_ms", 50.0) / 1000
    run_dir = Path(_arg(args, "api_run_dir", None) or ROOT / "reports" / f"bench-api-{users_n // 1000}k-seed1")
    print(f"api: realtime endpoints over a {users_n:,}-user, {days}-day model run ({run_dir})")
    db_url, _simulate_s, _index_s, _records = _build_run(run_dir, users_n, days, _arg(args, "api_fresh", False))
    users = _addresses(db_url)
    print(f"  load average before the load phases: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(figures are wall-clock: other work on the machine inflates them)")
    proc, port = _start_server(db_url)
    print(f"  {clients} concurrent clients per endpoint, think time exp(mean {think_s * 1000:.0f} ms), "
          f"{requests:,} requests per phase; targets p50 < {TARGET_P50_MS:.0f} ms, p99 < {TARGET_P99_MS:.0f} ms")
    rng = random.Random(20250921)
    all_ok = True
    try:
        warm = _request_paths("balances", users, rng, 500)
        asyncio.run(_phase(port, warm, 10, 0.0, 1, 20))
        for endpoint in ENDPOINTS:
            paths = _request_paths(endpoint, users, rng, requests)
            latencies, errors, seconds = asyncio.run(_phase(port, paths, clients, think_s, 100, 60))
            all_ok &= _report(endpoint, latencies, seconds, errors, True)
        mixed = [p for endpoint, weight in MIX.items()
                 for p in _request_paths(endpoint, users, rng, requests * weight // 100)]
        rng.shuffle(mixed)
        latencies, errors, seconds = asyncio.run(_phase(port, mixed, clients, think_s, 200, 60))
        all_ok &= _report("mixed", latencies, seconds, errors, True)
        latencies, errors, seconds = asyncio.run(_phase(port, mixed[: requests], clients, 0.0, 300, 60))
        _report("saturation (mixed)", latencies, seconds, errors, False)
        all_ok &= _dashboard_first_load(port)
    finally:
        _stop(proc)
    print(f"  realtime push: an indexer process re-indexes the log into a fresh database (a commit every 2,000 "
          f"records, 0.25 s apart) while it is served")
    all_ok &= _push_phase(run_dir / "events.jsonl", users, _arg(args, "api_stream_clients", 50), clients, think_s,
                          requests)
    print(f"  api targets: {'ok' if all_ok else 'MISSED'}")
    return all_ok

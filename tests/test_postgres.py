"""The indexer and the API on a real PostgreSQL server (a throwaway cluster, see tests/pg.py).

When no server can be started (binaries missing, no driver), every test here is SKIPPED with the
reason spelled out; they never pass without having run against PostgreSQL.
"""

from __future__ import annotations

import httpx
import pytest

from sim.api import start_background
from sim.indexer import index_run
from sim.datacheck.crosscheck import crosscheck
from sim.datacheck.sample import sample_world
from sim.indexer.verify import compare_contents, rebuild_check, table_contents, table_digests
from tests.pg import start_or_reason


@pytest.fixture(scope="module")
def pg():
    cluster, reason = start_or_reason()
    if cluster is None:
        pytest.skip(f"PostgreSQL tests NOT RUN: no PostgreSQL server could be started here: {reason}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    world = sample_world(run_dir)
    stats = index_run(run_dir)  # the SQLite reference, in the run folder
    return world, run_dir, stats["db_url"]


def test_postgres_index_equals_sqlite_and_the_chain(pg, run):
    world, run_dir, sqlite = run
    url = pg.create_database("rbtc_index")
    stats = index_run(run_dir, url)
    assert stats["last_seq"] == world.log.count - 1
    assert table_digests(url) == table_digests(sqlite)
    assert crosscheck(world, url) == []
    again = index_run(run_dir, url)
    assert again["records_indexed"] == 0
    assert table_digests(url) == table_digests(sqlite)


def test_postgres_resume_and_rebuild(pg, run):
    world, run_dir, sqlite = run
    url = pg.create_database("rbtc_resume")
    index_run(run_dir, url, batch_size=250, stop_after=1_100)  # dies after 4 commits, 100 records in memory
    resumed = index_run(run_dir, url, batch_size=250)
    assert resumed["resumed_from_seq"] == 999
    assert compare_contents(table_contents(url), table_contents(sqlite)) == []
    result = rebuild_check(run_dir, url)
    assert result["identical"], result["differences"]


def test_postgres_api_over_http(pg, run):
    world, run_dir, sqlite = run
    url = pg.create_database("rbtc_api")
    index_run(run_dir, url)
    users = world.registry.users()[:8]
    with start_background(url) as on_pg, start_background(sqlite) as on_sqlite:
        for endpoint in ("balances", "sync-status", "transactions", "bitcoin-addresses", "emergency-burns",
                         "yield-status", "disputes", "proof-of-reserves"):
            for user in users[:3]:
                params = {} if endpoint == "proof-of-reserves" else {"address": user}
                a = httpx.get(f"{on_pg.url}/api/realtime/{endpoint}", params=params).json()
                b = httpx.get(f"{on_sqlite.url}/api/realtime/{endpoint}", params=params).json()
                assert a["success"] and a["data"] == b["data"], endpoint
        bad = httpx.get(f"{on_pg.url}/api/realtime/transactions", params={"address": users[0], "offset": -1})
        assert bad.status_code == 400
        assert crosscheck(world, url, api_url=on_pg.url) == []

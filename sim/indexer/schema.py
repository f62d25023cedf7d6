"""The indexer's database: the tables and views PROTOCOL.md lists, as SQLAlchemy Core metadata.

The schema is portable: it uses only types every SQLAlchemy dialect has (BigInteger, Integer,
String, Text, Boolean) plus :class:`BigNumber`, an exact integer of any size stored as a decimal
string. Wei amounts are ``uint256`` and the system-wide sums of them pass 2**63 in a large world,
so they cannot live in a 64-bit ``INTEGER`` column; sats (at most 21e14) always fit in a BigInteger.
Views are plain SQL that SQLite and PostgreSQL both accept.

Every row has a deterministic primary key, taken from the event log: the record ``seq`` for rows
made from one record (oracle operations, balance snapshots), the ``evm_tx`` record's ``seq`` and the
event's log index for rows made from a contract event (log index ``-1`` for a row about the
transaction itself: a revert, or a call that emits nothing) — one-to-one with (transaction hash,
log index), which the rows also carry, but increasing, so inserts append to the key's B-tree
instead of landing at random pages — and the natural key otherwise (an address, a dispute id, a
round). Re-indexing therefore never duplicates a row.

Times are unix seconds (``*_at`` and ``timestamp`` columns); a record's simulated time ``t`` is
``timestamp - GENESIS_TIMESTAMP``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator

#: Bumped whenever a table or view changes shape; a database of another version must be rebuilt.
SCHEMA_VERSION = 2  # 2: invariant_violations, incidents, system_timeline, index_batches, checkpointed tiers


class BigNumber(TypeDecorator):
    """An exact non-negative or negative integer of any size (wei, uint256), stored as decimal text.

    Python ``int`` in, Python ``int`` out. Not for ordering or SQL arithmetic: the indexer keeps
    the sums it needs itself.
    """

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(int(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return int(value)


#: The YieldScalesPool's parameters before any ``YieldParametersSet`` event (its constructor's).
DEFAULT_YIELD_PARAMETERS = {"base_rate": 500, "max_rate": 2000, "silver_after_s": 180 * 86_400,
                            "gold_after_s": 365 * 86_400, "bronze_multiplier": 110, "silver_multiplier": 125,
                            "gold_multiplier": 150}
YIELD_PARAMETER_NAMES = tuple(DEFAULT_YIELD_PARAMETERS)

ADDRESS = String(42)  # 0x + 40 lowercase hex
HASH = String(66)  # 0x + 64 hex

metadata = MetaData()

#: Key/value state of the indexer itself (JSON values): the last committed record, the run it came
#: from, running totals. Written in the same transaction as the rows of each batch.
indexer_meta = Table(
    "indexer_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

system_contracts = Table(
    "system_contracts",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("deployed_at", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("eth_address", ADDRESS, primary_key=True),
    Column("first_seen_seq", BigInteger, nullable=False),
    Column("registered_at", BigInteger),  # first binding; NULL: seen on chain but never bound
    Column("registration_method", Integer),  # 1 BIP-322, 2 self-send (first binding)
    Column("btc_address_count", Integer, nullable=False),
    Column("rbtc_balance_sats", BigInteger, nullable=False),  # from RBTCSynth Transfer events
    Column("last_sats", BigInteger, nullable=False),  # OracleAggregator.lastSats, from Synced events
    Column("btc_confirmed_sats", BigInteger),  # the committee's last observation (oracle_op.confirmed)
    Column("btc_confirmed_at", BigInteger),
    Column("last_sync_at", BigInteger),  # block timestamp of the last Synced event
    Column("last_sync_block", BigInteger),
    Column("last_sync_tx", HASH),
    Column("sync_count", Integer, nullable=False),
    Column("vault_balance_wei", BigNumber, nullable=False),
    Column("total_deposited_wei", BigNumber, nullable=False),
    Column("total_fees_wei", BigNumber, nullable=False),
    Column("total_withdrawn_wei", BigNumber, nullable=False),
    Column("emergency_burned", Boolean, nullable=False),  # OracleAggregator.emergencyBurnExecuted
    Column("emergency_burn_count", Integer, nullable=False),
    Column("needs_topup", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)

bitcoin_addresses = Table(
    "bitcoin_addresses",
    metadata,
    Column("bitcoin_address", String(100), primary_key=True),
    Column("eth_address", ADDRESS, nullable=False),
    Column("address_type", String(8), nullable=False),  # p2wpkh | p2tr
    Column("network", String(8), nullable=False),  # mainnet | testnet | regtest
    Column("verification_method", Integer, nullable=False),  # 1 BIP-322, 2 self-send
    Column("checksum", HASH, nullable=False),
    Column("prepay_wei", BigNumber, nullable=False),
    Column("bound_at", BigInteger, nullable=False),
    Column("bind_seq", BigInteger, nullable=False),
    # Bitcoin transactions seen for the address (broadcast; not confirmation- or reorg-aware).
    Column("btc_tx_count", Integer, nullable=False),
    Column("received_sats", BigInteger, nullable=False),
    Column("sent_sats", BigInteger, nullable=False),
    Column("last_btc_tx_at", BigInteger),
    Index("ix_bitcoin_addresses_user", "eth_address", "bind_seq"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the evm_tx record
    Column("log_index", Integer, primary_key=True),  # -1: the transaction itself (revert, or no event)
    Column("tx_hash", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_index", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("user_address", ADDRESS),
    # mint | burn | emergency_burn | fee | deposit | withdraw | needs_topup | emergency_reset | sync …
    Column("tx_type", String(24), nullable=False),
    Column("amount", BigNumber),
    Column("unit", String(8)),  # sats | wei
    Column("delta_sats", BigInteger),
    Column("fee_wei", BigNumber),
    Column("bitcoin_address", String(100)),
    Column("status", String(12), nullable=False),  # confirmed | reverted
    Column("is_emergency_burn", Boolean, nullable=False),
    Column("contract", String(32), nullable=False),
    Column("function", String(48), nullable=False),
    Column("error", String(200)),
    Index("ix_transactions_user_seq", "user_address", "seq", "log_index"),
    Index("ix_transactions_type", "tx_type", "seq"),
)

balance_history = Table(
    "balance_history",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the evm_tx record
    Column("log_index", Integer, primary_key=True),
    Column("tx_hash", HASH, nullable=False),
    Column("user_address", ADDRESS, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("old_balance_sats", BigInteger, nullable=False),
    Column("new_balance_sats", BigInteger, nullable=False),
    Column("delta_sats", BigInteger, nullable=False),
    Column("fee_wei", BigNumber, nullable=False),
    Column("reason", String(16), nullable=False),  # sync | emergency_burn
    Index("ix_balance_history_user_seq", "user_address", "seq"),
)

balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the oracle_op record
    Column("user_address", ADDRESS, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("op", String(24), nullable=False),
    Column("btc_confirmed_sats", BigInteger, nullable=False),  # the committee's observation
    Column("last_sats", BigInteger, nullable=False),
    Column("rbtc_balance_sats", BigInteger, nullable=False),
    Column("vault_balance_wei", BigNumber, nullable=False),
    Column("backed", Boolean, nullable=False),  # rbtc_balance_sats <= btc_confirmed_sats
    Index("ix_balance_snapshots_user_seq", "user_address", "seq"),
)

emergency_burns = Table(
    "emergency_burns",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the evm_tx record
    Column("log_index", Integer, primary_key=True),
    Column("tx_hash", HASH, nullable=False),
    Column("user_address", ADDRESS, nullable=False),
    Column("burned_sats", BigInteger, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("trigger", String(32), nullable=False),  # sync | executeEmergencyBurn
    Column("btc_confirmed_sats", BigInteger),  # what the committee saw when it burned
    Column("reset_at", BigInteger),  # resetEmergencyBurnStatus after this burn
    Column("reset_tx", HASH),
    Index("ix_emergency_burns_user_seq", "user_address", "seq"),
)

balance_disputes = Table(
    "balance_disputes",
    metadata,
    Column("dispute_id", String(80), primary_key=True),
    Column("user_address", ADDRESS, nullable=False),
    Column("status", String(12), nullable=False),  # filed | validated | accepted | rejected
    Column("reported_sats", BigInteger),
    Column("recorded_sats", BigInteger),
    Column("confirmed_sats", BigInteger),  # the truth at minConfirmations, once validated
    Column("outcome", String(12)),
    Column("onchain", Boolean),  # also filed with the YieldScales pool (participants)
    Column("filed_at", BigInteger),
    Column("filed_seq", BigInteger, nullable=False),
    Column("validated_at", BigInteger),
    Column("resolved_at", BigInteger),
    Column("resolved_in_s", BigInteger),
    Index("ix_balance_disputes_user_seq", "user_address", "filed_seq"),
    Index("ix_balance_disputes_status", "status"),
)

oracle_operations_log = Table(
    "oracle_operations_log",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    # sync | needs_topup | emergency_burn | emergency_reset | deferred | error | round | outage
    Column("op", String(24), nullable=False),
    Column("user_address", ADDRESS),
    Column("delta_sats", BigInteger),
    Column("confirmed_sats", BigInteger),
    Column("recorded_sats", BigInteger),
    Column("fee_wei", BigNumber),
    Column("delay_s", BigInteger),
    Column("burned_sats", BigInteger),
    Column("error", String(200)),
    Column("reason", String(32)),  # rounds: poll | block | rate limit | back online
    Column("details", Text),  # rounds and outages: the record's other fields as JSON
    Index("ix_oracle_operations_user_seq", "user_address", "seq"),
    Index("ix_oracle_operations_op", "op"),
)

yield_scales_participants = Table(
    "yield_scales_participants",
    metadata,
    Column("user_address", ADDRESS, primary_key=True),
    Column("participant_type", String(16), nullable=False),  # bitcoin_holder | trader
    Column("joined_at", BigInteger, nullable=False),
    Column("rbtc_contributed_sats", BigInteger, nullable=False),
    Column("virtual_usdt", BigNumber, nullable=False),
    Column("yield_claimed", BigNumber, nullable=False),
    Column("claims", Integer, nullable=False),
    Column("last_activity_at", BigInteger, nullable=False),
    Column("disputed", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),  # False after ParticipantLeft
    # The pool's participants(user).loyaltyTier (0 bronze, 1 silver, 2 gold) as the contract holds it:
    # 0 on joining, re-evaluated only at checkpoints (a trader adding, a contribution update, an
    # emergency burn, a claim), at that transaction's block time.
    Column("loyalty_tier", Integer, nullable=False),
    Column("tier_checkpoint_at", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)

yield_operations_log = Table(
    "yield_operations_log",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the evm_tx record
    Column("log_index", Integer, primary_key=True),
    Column("tx_hash", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("op", String(40), nullable=False),  # the event name in snake_case
    Column("user_address", ADDRESS),
    Column("amount", BigNumber),
    Column("args", Text, nullable=False),  # the event's arguments as JSON
    Index("ix_yield_operations_user_seq", "user_address", "seq"),
    Index("ix_yield_operations_op_seq", "op", "seq"),
)

proof_of_reserves = Table(
    "proof_of_reserves",
    metadata,
    # The on-chain round; a snapshot published off-chain only (no ProofOfReserves contract) has its
    # por_published record's seq, negated. Newest first is by seq.
    Column("round", BigInteger, primary_key=True),
    Column("root", HASH),
    Column("btc_height", BigInteger),
    Column("total_sats", BigInteger),
    Column("leaves", Integer),  # from the por_published record
    Column("published_at", BigInteger),
    Column("tx_hash", HASH),  # from the ReservesPublished event
    Column("block_number", BigInteger),
    Column("seq", BigInteger, nullable=False),  # first record that mentioned the round
    Column("rbtc_supply_sats", BigInteger),  # rBTC-SYNTH total supply when it was published
    Column("source", String(8), nullable=False),  # event | record | both
)

invariant_violations = Table(
    "invariant_violations",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the invariant_violation record
    Column("timestamp", BigInteger, nullable=False),
    Column("invariant", String(32), nullable=False),
    Column("step", BigInteger),
    Column("actor", String(100), nullable=False),
    Column("values_json", Text, nullable=False),  # the values that disagree, as JSON
    Column("message", Text, nullable=False),
)

#: What the system view marks on its time axis: Bitcoin reorgs, oracle outages, fee droughts and
#: backing windows (a user holding more rBTC than confirmed BTC, opened and closed by the backing
#: monitor). A reorg is an instant (``ended_at == started_at``); an open window has no ``ended_at``.
incidents = Table(
    "incidents",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the record that opened it
    Column("kind", String(16), nullable=False),  # reorg | oracle_outage | fee_drought | backing_window
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
    Column("user_address", ADDRESS),  # backing windows
    Column("cause", String(16)),  # backing windows: reorg | outage | latency | unexplained
    Column("details", Text, nullable=False),  # JSON: reorg depth and counts, a window's excess
    Index("ix_incidents_kind_started", "kind", "started_at"),
)

#: The system over time, for charts: one row after every change of the Bitcoin tip (each ``reserves``
#: record, which carries the chain-side reserves), after every oracle round that changed the supply,
#: and at the world's end. The values are the indexer's exact running figures at that record.
system_timeline = Table(
    "system_timeline",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("btc_height", BigInteger),
    Column("rbtc_supply_sats", BigInteger, nullable=False),
    Column("reserves_sats", BigInteger),  # chain-side confirmed BTC at the bound addresses (last seen)
    Column("vault_total_wei", BigNumber, nullable=False),
    Column("fees_total_wei", BigNumber, nullable=False),
    Column("emergency_burns", Integer, nullable=False),
    Column("emergency_burned_sats", BigInteger, nullable=False),
    Column("disputes_open", Integer, nullable=False),
    Column("disputes_accepted", Integer, nullable=False),
    Column("disputes_rejected", Integer, nullable=False),
    Column("yield_rate_bps", Integer, nullable=False),
    Column("pool_participants", Integer, nullable=False),
)

#: The protocol tables, in dependency order (for rebuilds and comparisons); the meta table excluded.
PROTOCOL_TABLES = (
    system_contracts,
    users,
    bitcoin_addresses,
    transactions,
    balance_history,
    balance_snapshots,
    emergency_burns,
    balance_disputes,
    oracle_operations_log,
    yield_scales_participants,
    yield_operations_log,
    proof_of_reserves,
    invariant_violations,
    incidents,
    system_timeline,
)

#: One row per committed batch of records (the indexer's own log, like ``indexer_meta`` not a
#: protocol table: batch boundaries depend on when commits happen, so it is not part of the
#: table digests). What the realtime stream sends, one event per row; ``counts`` is JSON: records
#: per kind and per oracle operation in the batch.
index_batches = Table(
    "index_batches",
    metadata,
    Column("last_seq", BigInteger, primary_key=True),
    Column("first_seq", BigInteger, nullable=False),
    Column("latest_at", BigInteger, nullable=False),
    Column("btc_height", BigInteger),
    Column("evm_block", BigInteger),
    Column("counts", Text, nullable=False),
)

VIEWS: dict[str, str] = {
    "emergency_burn_summary": """
        SELECT user_address,
               COUNT(*) AS burn_count,
               SUM(burned_sats) AS total_burned_sats,
               MIN(timestamp) AS first_burn_at,
               MAX(timestamp) AS last_burn_at,
               SUM(CASE WHEN reset_at IS NULL THEN 0 ELSE 1 END) AS resets
        FROM emergency_burns
        GROUP BY user_address
    """,
    "oracle_operations_stats": """
        SELECT op,
               COUNT(*) AS operations,
               COUNT(DISTINCT user_address) AS users,
               SUM(delta_sats) AS net_delta_sats,
               SUM(ABS(delta_sats)) AS gross_delta_sats,
               MIN(timestamp) AS first_at,
               MAX(timestamp) AS last_at,
               AVG(delay_s) AS avg_delay_s,
               MAX(delay_s) AS max_delay_s
        FROM oracle_operations_log
        GROUP BY op
    """,
    "user_current_state": """
        SELECT u.eth_address,
               u.registered_at,
               u.btc_address_count,
               u.rbtc_balance_sats,
               u.last_sats,
               u.btc_confirmed_sats,
               u.last_sync_at,
               u.vault_balance_wei,
               u.emergency_burned,
               u.needs_topup,
               CASE WHEN u.btc_confirmed_sats IS NULL THEN NULL
                    WHEN u.last_sats = u.btc_confirmed_sats THEN 1 ELSE 0 END AS in_sync,
               CASE WHEN y.user_address IS NULL THEN 0 ELSE 1 END AS is_yield_participant,
               (SELECT COUNT(*) FROM balance_disputes d
                 WHERE d.user_address = u.eth_address AND d.status IN ('filed', 'validated')) AS open_disputes
        FROM users u
        LEFT JOIN yield_scales_participants y ON y.user_address = u.eth_address
    """,
}


def _create_views(conn: Connection) -> None:
    dialect = conn.dialect.name
    for name, body in VIEWS.items():
        if dialect == "postgresql":
            conn.execute(text(f"CREATE OR REPLACE VIEW {name} AS {body}"))
        elif dialect == "sqlite":
            conn.execute(text(f"CREATE VIEW IF NOT EXISTS {name} AS {body}"))
        else:
            from sqlalchemy import inspect

            if name not in inspect(conn).get_view_names():
                conn.execute(text(f"CREATE VIEW {name} AS {body}"))


def create_schema(engine: Engine) -> None:
    """Create every table, index and view that does not exist yet (safe to call again)."""
    with engine.begin() as conn:
        metadata.create_all(conn, checkfirst=True)
        _create_views(conn)


def drop_schema(engine: Engine) -> None:
    """Drop the views, the tables and the indexer's meta table: what a rebuild starts from."""
    with engine.begin() as conn:
        for name in VIEWS:
            conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
        metadata.drop_all(conn, checkfirst=True)

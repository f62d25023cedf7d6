"""The event indexer: the run's event log into the database tables of PROTOCOL.md.

* :func:`index_run` — index a run folder's ``events.jsonl`` (resumable, idempotent);
* :class:`LiveIndexer` — follow a running world's :class:`~sim.eventlog.EventLog`;
* :mod:`sim.indexer.verify` — table digests, comparisons, rebuild-and-compare;
* :mod:`sim.indexer.crosscheck` — the database and API against the chain after a run.
"""

from sim.indexer.indexer import DEFAULT_BATCH, Indexer, IndexerError, LiveIndexer, index_run, resolve_run

__all__ = ["DEFAULT_BATCH", "Indexer", "IndexerError", "LiveIndexer", "index_run", "resolve_run"]

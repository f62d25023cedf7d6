"""The event indexer: the run's event log into the database tables of PROTOCOL.md.

* :func:`index_run` — index a run folder's ``events.jsonl`` (resumable, idempotent);
* :class:`LiveIndexer` — follow a running world's :class:`~sim.eventlog.EventLog`;
* :mod:`sim.indexer.verify` — table digests, comparisons, rebuild-and-compare.

The cross-checks against a world and the sample world are in :mod:`sim.datacheck` (above this
package and :mod:`sim.api`).
"""

from sim.indexer.indexer import DEFAULT_BATCH, Indexer, IndexerError, LiveIndexer, index_run, resolve_run

__all__ = ["DEFAULT_BATCH", "Indexer", "IndexerError", "LiveIndexer", "index_run", "resolve_run"]

"""Checks of the data layer from above it: the index and the API against a finished world.

* :mod:`sim.datacheck.crosscheck` — what the database and the API say against the chain's own state;
* :mod:`sim.datacheck.sample` — a small world that produces every kind of record the indexer reads.

They sit above both :mod:`sim.indexer` and :mod:`sim.api` (which only imports the indexer), so the
data layer's packages import each other in one direction only.
"""

"""The realtime API over the indexer's database (PROTOCOL.md, "The off-chain data layer"), and the
dashboard at ``/`` that reads it (live, over Server-Sent Events).

* :func:`create_app` — the ASGI app for a database URL (endpoints, dashboard, stream, metrics);
* :func:`serve` — serve a run folder or database URL in the foreground (``rbtc-sim serve``);
* :func:`start_background` — serve a database from a background thread;
* :func:`serve_world` — index a running world live and serve it (``rbtc-sim run --serve``).
"""

from sim.api.app import create_app, openapi_document
from sim.api.server import BackgroundServer, LiveServer, prepare_target, serve, serve_world, start_background

__all__ = ["BackgroundServer", "LiveServer", "create_app", "openapi_document", "prepare_target", "serve",
           "serve_world", "start_background"]

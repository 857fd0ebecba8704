"""The temporary Prefect API's own process: seed a new database, then serve Prefect's app.

``python -m pricecast.flows.api_process HOST PORT`` is what ``flows/temporary_api.py``
starts. It is Prefect's ephemeral server (``uvicorn`` on the app factory, as
``python -m uvicorn --factory prefect.server.api.server:create_app`` runs it), preceded by
the copy of the packaged migrated database when the home has none yet. The database is
found by this process's own Prefect settings, so the command that starts it need not
import Prefect first. uvicorn exits with code 3 when the app's start-up fails.
"""

from __future__ import annotations

import sys


def serve(host: str, port: int) -> None:
    """Seed the configured SQLite database if it does not exist, then serve until stopped."""
    import uvicorn

    from pricecast.stores import prefect_db

    prefect_db.seed(prefect_db.configured_path())  # a new home migrates nothing
    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))

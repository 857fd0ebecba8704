"""A migrated, empty Prefect database that a new Prefect home starts from.

Prefect creates its SQLite database by running every Alembic migration in turn (114 of
them in Prefect 3.8), which takes about 7 s on this machine: most of a fresh home's
start. The package ships the result (``templates/prefect.db.gz``, 17 KB) and a temporary
or ``forecast server`` API whose SQLite file does not exist yet starts from a copy
(``stores/db_template.py``). The server then finds its database at the newest revision
and migrates nothing.

The template is used only when it was made by the migrations the installed Prefect
ships (their file names are its fingerprint); otherwise Prefect migrates as it always
does. ``python -m pricecast.stores.prefect_db`` remakes it after a Prefect upgrade.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pricecast.stores import db_template

TEMPLATE = db_template.Template(Path(__file__).parent / "templates" / "prefect.db.gz")


def migrations_fingerprint() -> str:
    """A hash of the installed Prefect's SQLite migration file names (one listing, no import)."""
    import prefect  # the package only: its server modules take seconds to import

    return db_template.fingerprint(
        Path(prefect.__file__).parent / "server/database/_migrations/versions/sqlite"
    )


def configured_path(prefect_home: Path | None = None) -> Path | None:
    """The SQLite file Prefect's server would open, by the current settings.

    With ``prefect_home``, for a server whose ``PREFECT_HOME`` is that folder (as
    ``forecast server`` starts one) unless a connection URL is set.
    """
    url = os.environ.get("PREFECT_SERVER_DATABASE_CONNECTION_URL") or os.environ.get(
        "PREFECT_API_DATABASE_CONNECTION_URL"
    )
    if url is None and prefect_home is not None:
        return prefect_home / "prefect.db"
    if url is None:
        from prefect.settings import get_current_settings

        setting = get_current_settings().server.database.connection_url
        url = setting.get_secret_value() if setting is not None else ""
    return db_template.sqlite_file(url)


def seed(path: Path | None) -> bool:
    """Start Prefect's SQLite database at ``path`` from the template, if it has none yet.

    Returns:
        True if ``path`` now holds a copy of the template.
    """
    return db_template.seed(TEMPLATE, path, migrations_fingerprint)


def build() -> Path:
    """Migrate an empty database with the installed Prefect and store it as the template."""
    import prefect

    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if "DATABASE" not in k}
        env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false")
        subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
            env=env,
            check=True,
            capture_output=True,
        )
        manifest = {"prefect": prefect.__version__, "migrations": migrations_fingerprint()}
        return db_template.save(Path(home) / "prefect.db", TEMPLATE, manifest)


if __name__ == "__main__":
    print(build())

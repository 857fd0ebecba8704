"""The packaged Prefect database: what Prefect's own migrations make, used only when current."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pricecast.stores import prefect_db


def test_manifest_matches_the_installed_prefects_migrations():
    made = json.loads(prefect_db.TEMPLATE.manifest.read_text())["migrations"]
    assert made == prefect_db.migrations_fingerprint(), (
        "Prefect's migrations changed: remake the template with "
        "`python -m pricecast.stores.prefect_db`"
    )


def test_seeded_database_is_what_prefects_migrations_make(tmp_path, sqlite_schema):
    seeded = tmp_path / "seeded" / "prefect.db"
    assert prefect_db.seed(seeded)
    home = tmp_path / "migrated"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    objects, revision = sqlite_schema(seeded)
    assert len(objects) > 100 and len(revision) == 1
    assert (objects, revision) == sqlite_schema(home / "prefect.db")


def test_seed_needs_a_sqlite_file():
    assert not prefect_db.seed(None)


def test_configured_path_follows_prefect_home_or_the_connection_url(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    assert prefect_db.configured_path(tmp_path) == tmp_path / "prefect.db"
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://u@h/db")
    assert prefect_db.configured_path(tmp_path) is None

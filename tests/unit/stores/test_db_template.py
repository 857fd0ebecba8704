"""Seeding from a packaged database, as both stores use it: never replacing, only when current."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pricecast.stores import db_template, prefect_db
from pricecast.stores.tracking import template as mlflow_template

# (module holding TEMPLATE, database file name, seed a file of that name)
STORES = {
    "prefect": (prefect_db, "prefect.db", prefect_db.seed),
    "mlflow": (
        mlflow_template,
        "mlflow.db",
        lambda path: mlflow_template.seed(f"sqlite:///{path}"),
    ),
}


@pytest.mark.parametrize("store", STORES)
def test_seed_never_replaces_a_database(store, tmp_path):
    _, name, seed = STORES[store]
    path = tmp_path / name
    path.write_bytes(b"a server's data")
    assert not seed(path)
    assert path.read_bytes() == b"a server's data"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


@pytest.mark.parametrize("store", STORES)
def test_seed_skips_a_template_made_by_other_migrations(store, tmp_path, monkeypatch):
    module, name, seed = STORES[store]
    older = db_template.Template(tmp_path / "t" / f"{name}.gz")
    older.archive.parent.mkdir()
    older.archive.write_bytes(gzip.compress(b"older schema"))
    older.manifest.write_text(json.dumps({"migrations": "older"}))
    monkeypatch.setattr(module, "TEMPLATE", older)
    target = tmp_path / "home" / name
    assert not seed(target)
    assert not target.exists()  # the library migrates it as usual


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite+aiosqlite:////srv/prefect/prefect.db", Path("/srv/prefect/prefect.db")),
        ("sqlite+aiosqlite:///rel/prefect.db?timeout=5", Path("rel/prefect.db")),
        ("sqlite+aiosqlite:///:memory:", None),
        ("postgresql+asyncpg://prefect@127.0.0.1:5432/prefect", None),
    ],
)
def test_sqlite_file(url, path):
    assert db_template.sqlite_file(url) == path


def test_an_existing_database_costs_no_fingerprint(tmp_path):
    path = tmp_path / "x.db"
    path.write_bytes(b"data")

    def fingerprint() -> str:
        raise AssertionError("asked for the installed migrations although nothing is copied")

    assert not db_template.seed(prefect_db.TEMPLATE, path, fingerprint)

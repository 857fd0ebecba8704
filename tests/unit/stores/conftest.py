"""Fixtures of the store tests: comparing two SQLite databases' schemas."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest


def _schema(path: Path) -> tuple[list[tuple], list[tuple]]:
    """Every table, index and trigger, each statement's lines sorted, and the revision.

    Alembic's batch migrations recreate SQLite tables with their constraints in set
    order, so two migrations of an empty database list them differently.
    """
    with sqlite3.connect(path) as db:
        objects = db.execute(
            "select type, name, tbl_name, sql from sqlite_master "
            "where name not like 'sqlite_%' order by type, name"
        ).fetchall()
        revision = db.execute("select version_num from alembic_version").fetchall()
    lines = [
        (kind, name, table, sorted(ln.strip().rstrip(",") for ln in (sql or "").splitlines()))
        for kind, name, table, sql in objects
    ]
    return lines, revision


@pytest.fixture
def sqlite_schema() -> Callable[[Path], tuple[list[tuple], list[tuple]]]:
    """Return ``f(path)``: a database's objects (statement lines sorted) and Alembic revision."""
    return _schema

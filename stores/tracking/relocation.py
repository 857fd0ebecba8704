"""Follow a moved ``FORECAST_HOME``: rewrite its local MLflow store's artifact locations.

MLflow's sqlite store records absolute ``file://`` paths. This module is the one place
that edits that database directly (with :mod:`sqlite3`, before MLflow opens it), so that a
home can be moved or copied as a folder.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def _text_columns(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(table, column)`` of every text column of an sqlite database."""
    out = []
    tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    for (table,) in tables:
        for col in db.execute(f'PRAGMA table_info("{table}")').fetchall():
            kind = str(col[2]).upper()
            if "CHAR" in kind or "TEXT" in kind or "CLOB" in kind:
                out.append((table, col[1]))
    return out


def relocate(home: Path) -> str | None:
    """Point a moved home's local store at the home's own ``mlartifacts`` folder.

    MLflow records absolute ``file://`` artifact locations (experiments, runs, logged
    models, model versions). After ``FORECAST_HOME`` is moved or copied, they still name
    the old folder: models cannot be loaded and new artifacts would be written there.
    Every location under the old home's ``mlartifacts`` is rewritten to the same path
    under this home, in one transaction, before MLflow opens the store.

    Returns:
        The old home's ``mlartifacts`` URI when locations were rewritten, else ``None``.
    """
    db_path = home / "mlflow.db"
    if not db_path.is_file():
        return None
    new = (home / "mlartifacts").resolve().as_uri() + "/"
    with closing(sqlite3.connect(db_path, timeout=60)) as db:
        try:
            rows = db.execute("SELECT artifact_location FROM experiments").fetchall()
        except sqlite3.DatabaseError:
            return None  # not an MLflow store (yet): MLflow reports it
        olds = {
            loc[: loc.index("/mlartifacts/") + len("/mlartifacts/")]
            for (loc,) in rows
            if isinstance(loc, str) and loc.startswith("file:") and "/mlartifacts/" in loc
        } - {new}
        if not olds:
            return None
        with db:
            for table, column in _text_columns(db):
                for old in olds:
                    db.execute(
                        f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                        f'WHERE substr("{column}", 1, ?) = ?',
                        (new, len(old) + 1, len(old), old),
                    )
    return ", ".join(sorted(olds))

"""Packaged empty databases that a new home starts from instead of running migrations.

Prefect and MLflow both make a new SQLite database by running every Alembic migration
in turn: about 7 s for Prefect's 114 and 1.5–4 s for MLflow's, most of a fresh home's
start on this machine. The result on an empty database is always the same file, so the
package ships it gzipped, with a manifest naming the migrations that made it. A new
database starts as a copy only when the installed library ships those same migrations;
otherwise the library migrates it as it always does. ``stores/prefect_db.py`` and
``stores/tracking/template.py`` hold what differs: where each library keeps its
migrations and how an empty database is made.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pricecast.stores.atomic import temp_file


@dataclass(frozen=True)
class Template:
    """A gzipped database file and the manifest beside it."""

    archive: Path

    @property
    def manifest(self) -> Path:
        """``<name>.json`` beside the archive: the library version and migrations hash."""
        return self.archive.with_name(self.archive.name.removesuffix(".db.gz") + ".json")


def fingerprint(folder: Path) -> str:
    """A hash of the migration file names in ``folder`` (one listing, no import)."""
    names = sorted(p.name for p in folder.glob("*.py"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///…``, ``sqlite+aiosqlite:///…``), else ``None``.

    ``None`` also for an in-memory database; a query string is not part of the path.
    """
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def seed(template: Template, path: Path | None, migrations: Callable[[], str]) -> bool:
    """Start the database at ``path`` from ``template``, if there is none yet.

    Never replaces a file (a server may have it open): the copy is linked into place,
    which fails harmlessly when another process got there first.

    Args:
        template: The packaged database.
        path: The database file to create (``None``: not a SQLite file, nothing to do).
        migrations: The installed library's :func:`fingerprint`, asked only when a copy
            would be made (an existing database costs one ``stat``).

    Returns:
        True if ``path`` now holds a copy of the template.
    """
    if path is None or path.exists() or not template.archive.is_file():
        return False
    try:
        if json.loads(template.manifest.read_text())["migrations"] != migrations():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent, path.name)
        try:
            with os.fdopen(fd, "wb") as out, gzip.open(template.archive, "rb") as src:
                shutil.copyfileobj(src, out)
            os.link(tmp, path)
        finally:
            os.unlink(tmp)
    except (OSError, ValueError, KeyError):
        return False  # the library migrates a new database itself, as without a template
    return True


def save(database: Path, template: Template, manifest: dict[str, str]) -> Path:
    """Store ``database`` gzipped, without a timestamp, as ``template`` beside its manifest."""
    out = template.archive
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(out.parent, out.name)
    with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
        with open(database, "rb") as src:
            shutil.copyfileobj(src, dst)
    os.replace(tmp, out)
    fd, tmp = temp_file(out.parent, template.manifest.name)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, template.manifest)
    return out

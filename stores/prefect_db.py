"""A migrated, empty Prefect database that a new Prefect home starts from.

Prefect creates its SQLite database by running every Alembic migration in turn (114 of
them in Prefect 3.8), which takes about 7 s on this machine: most of a fresh home's
start. The migrations' result on an empty database is always the same file, so the
package ships it (``prefect_template/prefect.db.gz``, 17 KB) and a temporary or
``forecast server`` API whose SQLite file does not exist yet starts from a copy. The
server then finds its database at the newest revision and migrates nothing.

The template is used only when it was made by the migrations the installed Prefect
ships (their file names are its fingerprint); otherwise Prefect migrates as it always
does. ``python -m pricecast.stores.prefect_db`` remakes it after a Prefect upgrade.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pricecast.stores.atomic import temp_file

TEMPLATE = Path(__file__).parent / "prefect_template" / "prefect.db.gz"
MANIFEST = TEMPLATE.with_name("manifest.json")


def migrations_fingerprint() -> str:
    """A hash of the installed Prefect's SQLite migration file names (one listing, no import)."""
    import prefect  # the package only: its server modules take seconds to import

    folder = Path(prefect.__file__).parent / "server/database/_migrations/versions/sqlite"
    names = sorted(p.name for p in folder.glob("*.py"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def sqlite_path(connection_url: str) -> Path | None:
    """The file of a ``sqlite`` connection URL, or ``None`` for another database."""
    if not connection_url.startswith("sqlite"):
        return None
    _, _, rest = connection_url.partition(":///")
    path = rest.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


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
    return sqlite_path(url)


def seed(path: Path | None) -> bool:
    """Start Prefect's SQLite database at ``path`` from the template, if it has none yet.

    Never replaces a file (a server may have it open): the copy is linked into place,
    which fails harmlessly when another command got there first.

    Returns:
        True if ``path`` now holds a copy of the template.
    """
    if path is None or path.exists() or not TEMPLATE.is_file():
        return False
    try:
        made = json.loads(MANIFEST.read_text())["migrations"]
        if made != migrations_fingerprint():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent, path.name)
        try:
            with os.fdopen(fd, "wb") as out, gzip.open(TEMPLATE, "rb") as src:
                shutil.copyfileobj(src, out)
            os.link(tmp, path)
        finally:
            os.unlink(tmp)
    except (OSError, ValueError, KeyError):
        return False  # Prefect migrates a new database itself, as without a template
    return True


def build(out: Path = TEMPLATE) -> Path:
    """Migrate an empty database with the installed Prefect and store it as the template."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if "DATABASE" not in k}
        env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false")
        subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
            env=env,
            check=True,
            capture_output=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(out.parent, out.name)
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            with open(Path(home) / "prefect.db", "rb") as src:
                shutil.copyfileobj(src, dst)
        os.replace(tmp, out)
    import prefect

    manifest = {"prefect": prefect.__version__, "migrations": migrations_fingerprint()}
    fd, tmp = temp_file(out.parent, "manifest.json")
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out.with_name("manifest.json"))
    return out


if __name__ == "__main__":
    print(build())

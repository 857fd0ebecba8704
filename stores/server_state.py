"""The state file of the local Prefect server that ``forecast server start`` leaves running.

One small JSON file, ``$FORECAST_HOME/prefect-server/server.json``: the server's process
id, its API URL and its log file. It is written whole (write-then-rename), so a command
reading it while the server starts sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pricecast.stores.atomic import temp_file

STATE_NAME = "server.json"


@dataclass(frozen=True)
class ServerState:
    """A server started in the background.

    Attributes:
        pid: Process id of ``prefect server start`` (the leader of its process group).
        url: Its API URL, ``http://127.0.0.1:PORT/api``.
        log: File receiving the server's output.
        started: When it was started (ISO 8601, UTC).
    """

    pid: int
    url: str
    log: str
    started: str


def read_state(path: Path) -> ServerState | None:
    """The state in ``path``; ``None`` when there is none.

    Raises:
        ValueError: If the file cannot be read as a state (truncated, edited by hand),
            naming the file.
    """
    try:
        data = json.loads(path.read_text())
        return ServerState(
            pid=int(data["pid"]),
            url=str(data["url"]),
            log=str(data["log"]),
            started=data["started"],
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a server state file ({err})") from None


def write_state(path: Path, state: ServerState) -> None:
    """Write ``state`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path.parent, path.name)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(state), fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def clear_state(path: Path) -> None:
    """Remove the state file (gone already is fine)."""
    path.unlink(missing_ok=True)

"""``forecast server``: a local Prefect server kept running between commands.

Without ``PREFECT_API_URL`` every command that runs a flow starts a temporary Prefect
API of its own and stops it on exit: seconds of each command's start-up. ``forecast
server start`` leaves one running instead, on 127.0.0.1, with its own ``PREFECT_HOME``
(``$FORECAST_HOME/prefect-server``: its database, ``server.log`` and the state file
``server.json``); ``run``, ``nightly`` and ``replay`` use it while it answers
``/api/health``. An explicit ``PREFECT_API_URL`` still wins.

Light on purpose: the standard library only (Prefect itself runs in the server's
process), so ``forecast server status`` answers at once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from pricecast.flows.console import CliError
from pricecast.stores import prefect_db
from pricecast.stores.server_state import ServerState, clear_state, read_state, write_state

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
START_TIMEOUT_S = 180.0
"""A fresh home's first start migrates the server's database: tens of seconds when busy."""
STOP_TIMEOUT_S = 30.0


def server_home(home: Path) -> Path:
    """The server's ``PREFECT_HOME``: its database, log and state file."""
    return home / "prefect-server"


def state_file(home: Path) -> Path:
    """Where ``forecast server start`` records the server it started."""
    return server_home(home) / "server.json"


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers ``GET {url}/health``."""
    import urllib.request  # not for ``forecast --help``: it loads http, email and ssl

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:  # noqa: S310
            return resp.status == 200
    except (OSError, ValueError):
        return False


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited one not yet reaped counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def running(home: Path) -> ServerState | None:
    """The server this home started, if it answers; a stale state file is removed.

    Stale: unreadable, its process gone, or no Prefect API at its URL (a wrong port). Each
    is said on stderr in one line, so a command that falls back to a temporary API says
    why.
    """
    path = state_file(home)
    state = _read(path)
    if state is None:
        return None
    if alive(state.pid) and healthy(state.url):
        return state
    why = (
        f"its process {state.pid} is not running"
        if not alive(state.pid)
        else f"no Prefect API answers at {state.url} (process {state.pid} still runs)"
    )
    _forget(path, why)
    return None


def _forget(path: Path, why: str) -> None:
    print(
        f"forecast: ignoring a stale Prefect server state file, {path}: {why}; removed it",
        file=sys.stderr,
    )
    clear_state(path)


def _read(path: Path) -> ServerState | None:
    """The state in ``path``; a garbled file is forgotten (said on stderr), giving ``None``."""
    try:
        return read_state(path)
    except ValueError as err:
        _forget(path, str(err))
        return None


def choose_api(home: Path) -> str:
    """Point this process's Prefect client at an API and say which; before Prefect loads.

    ``PREFECT_API_URL`` when set; else this home's running ``forecast server``; else
    nothing is set and Prefect starts a temporary API for the command.
    """
    if url := os.environ.get("PREFECT_API_URL"):
        return f"{url} (PREFECT_API_URL)"
    if state := running(home):
        os.environ["PREFECT_API_URL"] = state.url
        return f"{state.url} (forecast server)"
    return "a temporary API for this command (`forecast server start` keeps one running)"


def start(home: Path, port: int) -> tuple[ServerState, bool]:
    """Start the server in the background, or find it running; ``(state, was running)``.

    Raises:
        CliError: If the port already serves another API or the server does not start
            (naming the port, the server's last log line and the log file).
    """
    if state := running(home):
        return state, True
    url = f"http://{HOST}:{port}/api"
    if healthy(url):
        raise CliError(
            f"port {port} on {HOST} already serves a Prefect API that this FORECAST_HOME did "
            f"not start: use it with PREFECT_API_URL={url}, or start one with another --port",
            2,
        )
    folder = server_home(home)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create {folder}: {err.strerror or err}") from None
    prefect_db.seed(prefect_db.configured_path(folder))
    log = folder / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(folder), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while not healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_group(proc.pid)
            proc.wait()
            raise CliError(
                f"the Prefect server on port {port} did not start: {last_line(log)} (log: {log})"
            )
        time.sleep(0.2)
    state = ServerState(
        pid=proc.pid, url=url, log=str(log), started=dt.datetime.now(dt.UTC).isoformat()
    )
    write_state(state_file(home), state)
    return state, False


def last_line(log: Path) -> str:
    """The last line of a server's log that says something (not a box-drawing border)."""
    try:
        text = log.read_text(errors="replace")
    except OSError as err:
        return f"no log ({err.strerror or err})"
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not set(line) <= set("─│╭╮╰╯ ")]
    return lines[-1] if lines else "no output"


def _stop_group(pid: int) -> None:
    """SIGTERM the server's process group, SIGKILL it after ``STOP_TIMEOUT_S``."""
    try:
        if os.getpgid(pid) != pid:  # not the leader we started: a recycled pid
            return
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop(home: Path) -> ServerState | None:
    """Stop this home's server and remove its state file; the state it had, if any."""
    path = state_file(home)
    state = _read(path)
    if state is not None:
        if alive(state.pid):
            _stop_group(state.pid)
        clear_state(path)
    return state


app = typer.Typer(
    name="server",
    help="A local Prefect server kept running between commands (run, nightly and replay "
    "use it instead of starting a temporary one).",
    no_args_is_help=True,
)


def _home() -> Path:
    from pricecast.flows.home import forecast_home

    return forecast_home()


@app.command("start")
def start_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = DEFAULT_PORT,
) -> int:
    """Start a Prefect server in the background (nothing to do when one is running)."""
    state, was_running = start(_home(), port)
    print(f"Prefect server {'already running' if was_running else 'started'} at {state.url}")
    print(f"  pid {state.pid}, log {state.log}; UI at {state.url.removesuffix('/api')}")
    print("  forecast run, nightly and replay use it; `forecast server stop` stops it")
    return 0


@app.command("stop")
def stop_command() -> int:
    """Stop the server that ``forecast server start`` started."""
    state = stop(_home())
    print(f"stopped the Prefect server at {state.url}" if state else "no Prefect server running")
    return 0


@app.command("status")
def status_command() -> int:
    """Say whether the server runs and where (exit code 1 when it does not)."""
    state = running(_home())
    if state is None:
        print("no Prefect server running (commands start a temporary one)")
        return 1
    print(f"Prefect server running at {state.url} (pid {state.pid}, since {state.started})")
    print(f"  log {state.log}")
    return 0

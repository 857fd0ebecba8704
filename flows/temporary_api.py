"""The temporary Prefect API of a command run without ``PREFECT_API_URL``.

Prefect's own ephemeral mode starts the same server (``uvicorn`` on Prefect's app
factory, UI off) when the flow's client first needs it, from a class whose module
imports the whole server application into the calling process: 2.6 s of imports that
this process never uses, spent before the server can even begin its own start. Here the
command starts that server itself as early as it can, before the flow's modules and
TensorFlow are imported, so both starts overlap on two cores. The server's process
(``flows/api_process.py``) first seeds a new Prefect home's database from the packaged
template (``stores/prefect_db.py``).

The flow then talks to it as to any API (``PREFECT_API_URL`` for the command, also in
the environment that worker processes inherit), and the server is stopped when the
process exits. Its output goes to ``temporary-api.log`` in the Prefect home.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from pricecast.flows.console import CliError
from pricecast.flows.server import HOST, healthy, last_line

LOG_LIMIT = 1 << 20
"""Bytes of ``temporary-api.log`` past which the next command starts a new one."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class TemporaryApi:
    """One ``uvicorn`` process serving Prefect's API on a free loopback port."""

    def __init__(self, verbose: bool, env: Mapping[str, str], home: Path) -> None:
        """Start the server process now.

        Args:
            verbose: Print the API's address once it answers.
            env: Settings the server takes beyond this process's environment (those a
                caller set in-process, as a test harness does).
            home: The Prefect home, where ``temporary-api.log`` is kept.
        """
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}/api"
        self.env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **env,
        }
        self.log = home / "temporary-api.log"
        self.process = self._spawn()
        self.verbose = verbose
        atexit.register(self.stop)

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "pricecast.flows.api_process", HOST, str(self.port)]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # every command appends: keep the last MiB or two
            if self.log.stat().st_size > LOG_LIMIT:
                os.replace(self.log, self.log.with_suffix(".log.1"))
        with open(self.log, "ab") as out:
            return subprocess.Popen(
                cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    def wait(self, timeout: float) -> None:
        """Return once the API answers its health check.

        Raises:
            CliError: If the server process ended or did not answer within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        retries = 3
        while not healthy(self.url, timeout=1):
            code = self.process.poll()
            if code == 3 and retries:
                # uvicorn's "startup failed", as when two commands' servers set up one new
                # database at once (both register Prefect's block types): start again, as
                # Prefect's own ephemeral server does.
                retries -= 1
                self.port = _free_port()
                self.url = f"http://{HOST}:{self.port}/api"
                self.process = self._spawn()
                continue
            if code is not None:
                raise CliError(
                    f"the temporary Prefect API exited with code {code} while starting: "
                    f"{last_line(self.log)} (log: {self.log})"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise CliError(
                    f"the temporary Prefect API on {self.url} did not answer within {timeout:.0f} s"
                    " (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS sets the limit)"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """End the server process (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """The block's flows use this API.

        It stops when the process exits, after Prefect has sent the run's last logs and
        events (their workers drain at exit, before this handler, registered earlier).
        """
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
            temporary_settings,
        )

        saved = os.environ.get("PREFECT_API_URL")
        try:
            self.wait(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
            if self.verbose:
                print(f"temporary Prefect API at {self.url}", file=sys.stderr)
            os.environ["PREFECT_API_URL"] = self.url  # worker processes inherit it
            with temporary_settings(updates={PREFECT_API_URL: self.url}):
                yield self.url
        finally:
            if saved is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = saved


def start_temporary_api(verbose: bool) -> TemporaryApi | None:
    """Start a temporary API now, unless an API is configured (environment or profile).

    In a command's own process Prefect is not imported yet, and importing its settings
    takes about a second: the server is started first and stopped again if a profile
    names an API after all. A process that has Prefect's settings loaded (a test
    harness sets them in-process) is asked first, and its settings go to the server.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    if "prefect.settings" in sys.modules:
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        if settings.api.url:  # a profile's, or a test harness's
            return None
        passed = settings.to_environment_variables(exclude_unset=True)
        return TemporaryApi(verbose, passed, Path(settings.home))
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    api = TemporaryApi(verbose, {}, home)
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():  # a profile names one
        api.stop()
        return None
    return api


@contextlib.contextmanager
def served(api: TemporaryApi | None) -> Iterator[None]:
    """Run the block on ``api`` when there is one, else on the configured API."""
    if api is None:
        yield
        return
    with api.serving():
        yield

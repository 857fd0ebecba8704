"""Ctrl-C on a running command: stop training, close the runs as KILLED, exit 130.

A terminal's Ctrl-C reaches the whole foreground process group, so the temporary Prefect
server that a command without ``PREFECT_API_URL`` starts dies at once. Left to Python's
default, the ``KeyboardInterrupt`` then meets a flow engine that retries the dead API for
minutes, while training goes on in the task runner's threads (the interpreter joins them
before it exits) and the MLflow runs stay RUNNING.

So the first SIGINT stops training (:data:`REQUESTED`, read by a Keras callback between
batches, which then holds the training thread: see :func:`hold`), marks this process's
MLflow runs KILLED, cancels their flow run where the Prefect API still answers (bounded
by :data:`PREFECT_GRACE_SECONDS`), stops the temporary server and exits with 130
without waiting for the task threads. Output files are written atomically, so none is
left half-written. A second SIGINT exits at once.

The work is done on a watcher thread woken through :func:`signal.set_wakeup_fd`, not in
a Python signal handler: the kernel may deliver the signal to any thread, and a handler
waits until the main thread runs Python code again, which a main thread blocked on a
lock in the flow engine may not do before the flow ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

REQUESTED = threading.Event()
"""Set on the first Ctrl-C; training callbacks stop at the end of their current batch."""

EXIT_CODE = 130
"""128 + SIGINT, what shells report for a command ended by Ctrl-C."""

PREFECT_GRACE_SECONDS = 3.0
"""How long the flow run's cancellation may take before the process exits regardless."""

REASON = "interrupted (Ctrl-C)"

_state: dict[str, Any] = {"uri": None, "wakeup": None}


@contextmanager
def on_ctrl_c(tracking_uri: str) -> Iterator[None]:
    """Handle SIGINT as described in the module doc inside the block (main thread only).

    On leaving, the previous SIGINT handler and wakeup fd are put back (the command may
    run inside another program, e.g. a test) and the watcher thread ends.

    Args:
        tracking_uri: The MLflow store whose runs this process opens.
    """
    _state["uri"] = tracking_uri
    REQUESTED.clear()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    _state["wakeup"] = write_fd
    previous = signal.signal(signal.SIGINT, _in_main_thread)  # replaces KeyboardInterrupt
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_fd,), name="ctrl-c", daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _state["wakeup"] = None
        os.close(write_fd)  # the watcher reads end-of-file and returns


def hold() -> None:
    """Keep the calling training thread here until the process exits.

    A variant whose training was cut short must not go on to log a model and end its
    run FINISHED (over the KILLED mark) in the seconds before the exit.
    """
    threading.Event().wait()


def _in_main_thread(signum: int, frame: Any) -> None:
    """Python-level handler: the watcher acts; this only re-arms the wakeup fd.

    Should other code have replaced the wakeup fd (an asyncio loop's signal handling),
    the watcher missed this signal: it is passed on by hand, and the fd set back.
    """
    ours = _state["wakeup"]
    if ours is not None and signal.set_wakeup_fd(ours, warn_on_full_buffer=False) != ours:
        os.write(ours, bytes([signum]))


def _watch(read_fd: int) -> None:
    seen = 0
    while True:
        data = os.read(read_fd, 64)
        if not data:  # the block ended
            os.close(read_fd)
            return
        seen += data.count(signal.SIGINT)
        if seen >= 2:
            _say("interrupted again; exiting now")
            _exit_now()
        if seen == 1 and not REQUESTED.is_set():
            REQUESTED.set()
            threading.Thread(target=_stop, name="ctrl-c-stop", daemon=True).start()


def _say(text: str) -> None:
    print(f"\nforecast: {text}", file=sys.stderr, flush=True)


def _exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_CODE)  # not sys.exit: it would join the training threads first


def _stop() -> None:
    _say("interrupted; stopping training and closing the runs (Ctrl-C again to exit now)")
    killed: dict[str, dict[str, str]] = {}
    try:
        from pricecast.stores.tracking import store

        if _state["uri"]:
            killed = store.kill_own_runs(_state["uri"], REASON)
        _say(f"marked {len(killed)} MLflow run(s) KILLED")
    except Exception as err:  # noqa: BLE001 - exiting either way; the next start closes them
        _say(f"could not mark the MLflow runs KILLED ({type(err).__name__}: {err})")
    flow_runs = {
        tags["prefect.flow_run_id"]: tags.get("prefect.flow_run_name", "")
        for tags in killed.values()
        if "prefect.flow_run_id" in tags
    }
    if flow_runs:
        _cancel_flow_runs(flow_runs)
    _stop_temporary_server()
    _exit_now()


def _cancel_flow_runs(flow_runs: dict[str, str]) -> None:
    """Mark the flow runs Cancelled, if the Prefect API answers in time."""
    outcome: list[str] = []

    def cancel() -> None:
        from prefect.client.orchestration import get_client
        from prefect.states import Cancelled

        try:
            with get_client(sync_client=True) as client:
                for ident, name in flow_runs.items():
                    client.set_flow_run_state(ident, Cancelled(message=REASON), force=True)
                    outcome.append(f"flow run {name!r} ({ident}) marked Cancelled in Prefect")
        except Exception as err:  # noqa: BLE001 - reported below, exiting either way
            outcome.append(
                f"flow run {', '.join(map(repr, flow_runs.values()))} left as it is: the "
                f"Prefect API did not answer ({type(err).__name__})"
            )

    worker = threading.Thread(target=cancel, name="cancel-flow-run", daemon=True)
    worker.start()
    worker.join(PREFECT_GRACE_SECONDS)
    for line in outcome or ["flow run left as it is: the Prefect API timed out"]:
        _say(line)


def _stop_temporary_server() -> None:
    """Stop the temporary Prefect server this process started, if any (os._exit skips atexit)."""
    server = sys.modules.get("prefect.server.api.server")
    if server is None:  # never imported: no temporary server (and no slow import now)
        return
    try:
        server.SubprocessASGIServer().stop()
    except Exception:  # noqa: BLE001, S110 - exiting either way
        pass

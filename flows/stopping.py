"""Ctrl-C on a running command: stop training, close the runs as KILLED, exit 130.

A terminal's Ctrl-C reaches the whole foreground process group, so the temporary Prefect
server that a command without ``PREFECT_API_URL`` starts dies at once. Left to Python's
default, the ``KeyboardInterrupt`` then meets a flow engine that retries the dead API for
minutes, while training goes on in the task runner's threads (the interpreter joins them
before it exits) and the MLflow runs stay RUNNING.

So the first SIGINT asks training to stop (:data:`REQUESTED`, read by a Keras callback
between batches), marks this process's MLflow runs KILLED, cancels the flow run where
the Prefect API still answers (bounded by :data:`PREFECT_GRACE_SECONDS`), stops the
temporary server and exits with 130 without waiting for the task threads. Output files
are written atomically, so none is left half-written. A second SIGINT exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

REQUESTED = threading.Event()
"""Set on the first Ctrl-C; training callbacks stop at the end of their current batch."""

EXIT_CODE = 130
"""128 + SIGINT, what shells report for a command ended by Ctrl-C."""

PREFECT_GRACE_SECONDS = 3.0
"""How long the flow run's cancellation may take before the process exits regardless."""

REASON = "interrupted (Ctrl-C)"

_tracking_uri: str | None = None


def install(tracking_uri: str) -> None:
    """Handle SIGINT as described in the module doc from now on (main thread only).

    Args:
        tracking_uri: The MLflow store whose runs this process opens.
    """
    global _tracking_uri
    _tracking_uri = tracking_uri
    REQUESTED.clear()
    signal.signal(signal.SIGINT, _on_sigint)


def _say(text: str) -> None:
    print(f"\nforecast: {text}", file=sys.stderr, flush=True)


def _exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_CODE)  # not sys.exit: it would join the training threads first


def _on_sigint(signum: int, frame: Any) -> None:
    if REQUESTED.is_set():
        _say("interrupted again; exiting now")
        _exit_now()
    REQUESTED.set()
    _say("interrupted; stopping training and closing the runs (Ctrl-C again to exit now)")
    try:
        killed = _kill_runs()
        _say(f"marked {len(killed)} MLflow run(s) KILLED")
    except Exception as err:  # noqa: BLE001 - exiting either way; the next start closes them
        _say(f"could not mark the MLflow runs KILLED ({type(err).__name__}: {err})")
    _cancel_flow_run()
    _stop_temporary_server()
    _exit_now()


def _kill_runs() -> list[str]:
    from pricecast.stores.tracking import store

    if _tracking_uri is None:
        return []
    return store.kill_own_runs(_tracking_uri, REASON)


def _cancel_flow_run() -> None:
    """Mark the current flow run Cancelled, if the Prefect API answers in time."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is None:
        return

    outcome: list[str] = []

    def cancel() -> None:
        from prefect.client.orchestration import get_client
        from prefect.states import Cancelled

        try:
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(run.id, Cancelled(message=REASON), force=True)
            outcome.append(f"flow run {run.name} marked Cancelled in Prefect")
        except Exception as err:  # noqa: BLE001 - reported below, exiting either way
            outcome.append(
                f"flow run {run.name} left as it is: the Prefect API did not answer "
                f"({type(err).__name__})"
            )

    worker = threading.Thread(target=cancel, name="cancel-flow-run", daemon=True)
    worker.start()
    worker.join(PREFECT_GRACE_SECONDS)
    _say(outcome[0] if outcome else f"flow run {run.name} left as it is: Prefect API timed out")


def _stop_temporary_server() -> None:
    """Stop the temporary Prefect server this process started, if any (os._exit skips atexit)."""
    from prefect.server.api.server import SubprocessASGIServer

    try:
        SubprocessASGIServer().stop()
    except Exception:  # noqa: BLE001, S110 - exiting either way
        pass

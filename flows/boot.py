"""What a flow process does first: TensorFlow loading beside the first tasks, and run names.

TensorFlow's import (with Keras, about 7 s on two cores) is the largest fixed cost of a
run, and only the steps that train or predict need it. The ``forecast`` flow submits its
first steps (fetching and preparing prices need no TensorFlow), then starts the import on
a background thread (:func:`load_tensorflow`), so that nothing competes with the flow's
own start for the interpreter, and waits for it (:func:`tensorflow_ready`) before it
submits the first step that trains or predicts. The import is quiet: the worker's log
shows the run, not TensorFlow's native INFO preamble (oneDNN, CPU features) that the
``forecast`` command also hides.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from typing import Any

from pricecast.flows.console import import_tensorflow_quietly

_lock = threading.Lock()
_loader: threading.Thread | None = None
_failure: list[BaseException] = []


def _import_tensorflow() -> None:
    try:
        import_tensorflow_quietly()
        import pricecast.models.training  # noqa: F401  (Keras too)
    except BaseException as exc:  # handed to tensorflow_ready's caller
        _failure.append(exc)


def load_tensorflow() -> None:
    """Start importing TensorFlow and Keras on a background thread, once per process.

    Callers import nothing from them until :func:`tensorflow_ready` returns: two threads
    importing one package at once can see it half-initialised.
    """
    global _loader
    with _lock:
        if _loader is None:
            if "keras" in sys.modules:
                _loader = threading.Thread(target=lambda: None)
            else:
                _loader = threading.Thread(
                    target=_import_tensorflow, name="import-tensorflow", daemon=True
                )
            _loader.start()


def tensorflow_ready(seed: int) -> None:
    """Wait for TensorFlow's import, then seed this process (``seed_process``).

    Raises:
        ImportError: If TensorFlow or Keras could not be imported (its cause attached).
    """
    load_tensorflow()
    assert _loader is not None
    _loader.join()
    if _failure:
        raise ImportError(f"TensorFlow could not be imported: {_failure[0]}") from _failure[0]
    from pricecast.models.training import seed_process

    seed_process(seed)


def run_label(tickers: list[str], when: str) -> str:
    """``AAPL, MSFT, KO 2020-12-11``; past three tickers, ``AAPL, MSFT, KO +4 ...``."""
    shown = ", ".join(tickers[:3]) + (f" +{len(tickers) - 3}" if len(tickers) > 3 else "")
    return f"{shown} {when}"


def _tickers(config: Any) -> list[str]:
    """The tickers of a ``config`` parameter: a ``RunConfig``, or its JSON form."""
    data = config.get("data", {}) if isinstance(config, dict) else getattr(config, "data", None)
    tickers = data.get("tickers") if isinstance(data, dict) else getattr(data, "tickers", None)
    return [str(t) for t in tickers] if tickers else ["?"]


def forecast_run_name() -> str:
    """Name of a ``forecast`` flow run: its tickers and the day it runs."""
    from prefect.runtime import flow_run

    return run_label(_tickers(flow_run.parameters.get("config")), f"{dt.date.today()}")


def nightly_run_name() -> str:
    """Name of a ``nightly`` flow run: its tickers and the session(s) it closes."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    as_of, start = params.get("as_of"), params.get("start")
    when = f"{start}..{as_of or 'latest'}" if start else f"as of {as_of or 'latest'}"
    return run_label(_tickers(params.get("config")), when)


def train_run_name() -> str:
    """Name of a ``train`` flow run: its ticker and the day it runs."""
    from prefect.runtime import flow_run

    return run_label([str(flow_run.parameters.get("ticker", "?"))], f"train {dt.date.today()}")

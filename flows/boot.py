"""What a flow process does first: TensorFlow without its start-up noise, and run names.

A worker starts a flow run by importing its module (``pricecast.flows.forecast``,
``.nightly`` or ``.train``); each imports this module before anything that loads
TensorFlow, so the worker's log shows the run, not TensorFlow's native INFO preamble
(oneDNN, CPU features) that the ``forecast`` command already hides.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pricecast.flows.console import import_tensorflow_quietly

import_tensorflow_quietly()


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

"""What a running command shows: progress bars on a terminal, plain log lines elsewhere.

Quiet by default: the engine's bookkeeping ("Finished in state Completed()", "Beginning
flow run"), TensorFlow's retracing warnings, MLflow's table-creation and telemetry lines
and the temporary Prefect server's banner stay off the console. Warnings and errors
always show. ``-v`` leaves every logger as Prefect and the libraries set it up.

The bars follow the flow through its log records (the task-run name, and the
``TICKER/VARIANT epoch n/N`` line each epoch logs), so the flow needs no knowledge of
the terminal and a deployment run logs the same lines to the Prefect UI.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EPOCH = re.compile(r"^(?P<ticker>[^/\s:]+)/(?P<variant>[^\s:]+) epoch (?P<n>\d+)/(?P<of>\d+)\b")
TRAINED = re.compile(r"^(?P<ticker>[^/\s:]+)/(?P<variant>[^\s:]+): \d+ epochs, ")
BOOKKEEPING = re.compile(
    r"^(Finished in state Completed\(\)|Beginning (sub)?flow run |Created (sub)?flow run |"
    r"Executing |Submitting |Running )"
)
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")

QUIET_LEVELS = {
    "tensorflow": logging.ERROR,
    "absl": logging.ERROR,
    "keras": logging.ERROR,
    "mlflow": logging.WARNING,
    "alembic": logging.WARNING,
    "httpx": logging.WARNING,
    "yfinance": logging.CRITICAL,
}
"""Libraries whose INFO lines (and TensorFlow's retracing warnings) are noise in a terminal."""


class PlainFilter(logging.Filter):
    """Lets warnings through, and the INFO lines of flow and task runs that say something.

    Args:
        bars: Progress bars show the run: let no INFO line through.
    """

    def __init__(self, bars: bool = False) -> None:
        super().__init__()
        self.bars = bars

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        if record.levelno >= logging.WARNING:
            return True
        if self.bars:
            return False
        if not record.name.startswith(RUN_LOGGERS):
            return False
        message = record.getMessage()
        return not (BOOKKEEPING.match(message) or EPOCH.match(message))


class ServerBanner(logging.Filter):
    """Leaves out the temporary Prefect API's start and stop lines."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        return not (record.name == "prefect" and "temporary server" in record.getMessage()[:40])


class _Bars(logging.Handler):
    """Drives a rich ``Progress``: one bar over the tickers, one per variant's epochs."""

    def __init__(self, progress: Any, tickers: list[str]) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.tickers = progress.add_task("tickers", total=len(tickers))
        self.done: set[str] = set()
        self.variants: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        try:
            self._show(record)
        except Exception:  # noqa: BLE001 - a display problem never stops the run
            self.handleError(record)

    def _show(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if m := EPOCH.match(message):
            key = f"{m['ticker']}/{m['variant']}"
            n, of = int(m["n"]), int(m["of"])
            if key not in self.variants:
                self.variants[key] = self.progress.add_task(key, total=of)
            self.progress.update(self.variants[key], completed=n, total=of)
        elif (m := TRAINED.match(message)) and f"{m['ticker']}/{m['variant']}" in self.variants:
            task = self.variants[f"{m['ticker']}/{m['variant']}"]
            self.progress.update(task, total=self.progress.tasks[task].completed)
        name = str(getattr(record, "task_run_name", "") or "")
        if name.startswith("report-") and not name.startswith("report-backtest-"):
            ticker = name.removeprefix("report-")
            if ticker not in self.done and message.startswith("Finished in state"):
                self.done.add(ticker)
                self.progress.update(self.tickers, completed=len(self.done))


def hide_server_banner() -> None:
    """Keep the temporary Prefect API's start and stop lines off the console."""
    for handler in _console_handlers():
        if not any(isinstance(f, ServerBanner) for f in handler.filters):
            handler.addFilter(ServerBanner())


def _console_handlers() -> list[logging.Handler]:
    from prefect.logging.handlers import PrefectConsoleHandler

    return [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]


@contextmanager
def live_output(tickers: list[str], verbose: bool = False) -> Iterator[None]:
    """Show the run as described in the module doc while the block runs.

    Args:
        tickers: The run's tickers (the first bar's length).
        verbose: Change nothing: every log line, as configured.
    """
    if verbose:
        yield
        return
    saved = {name: logging.getLogger(name).level for name in QUIET_LEVELS}
    for name, level in QUIET_LEVELS.items():
        logging.getLogger(name).setLevel(level)
    consoles = _console_handlers()
    tty = sys.stdout.isatty()
    plain = PlainFilter(bars=tty)
    for handler in consoles:
        handler.addFilter(plain)
    try:
        if tty:
            with _bars(tickers):
                yield
        else:
            yield
    finally:
        for handler in consoles:
            handler.removeFilter(plain)
        hide_server_banner()  # the temporary API stops when the process exits, after this
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def _bars(tickers: list[str]) -> Iterator[None]:
    """Progress bars on stdout, gone when the block ends (the table follows)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    bars = _Bars(progress, tickers)
    run_loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    for logger in run_loggers:
        logger.addHandler(bars)
    try:
        with progress:
            yield
    finally:
        for logger in run_loggers:
            logger.removeHandler(bars)

"""Quiet by default: which log lines reach the console, and what drives the progress bars."""

from __future__ import annotations

import io
import logging

from rich.console import Console
from rich.progress import Progress

from pricecast.flows.progress import PlainFilter, ServerBanner, _Bars


def _record(message: str, name: str = "prefect.task_runs", level: int = logging.INFO, **extra):
    record = logging.LogRecord(name, level, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_plain_lines_keep_what_the_run_says_and_drop_the_bookkeeping():
    plain = PlainFilter()
    kept = [
        "KO: 1498 rows 2015-01-02..2020-12-11 from source sample",
        "KO/rnn: 3 epochs, 6.9s, 482 samples/s",
        "KO/rnn: backtest of 250 origins in 5.9s",
    ]
    dropped = [
        "Finished in state Completed()",
        "Beginning subflow run 'jasmine-degu' for flow 'train'",
        "KO/rnn epoch 2/3 loss=0.004 val_loss=0.02 (0.55s)",
    ]
    assert all(plain.filter(_record(m)) for m in kept)
    assert not any(plain.filter(_record(m)) for m in dropped)
    # Other loggers' INFO lines (the temporary server, MLflow's table creation) stay out;
    # warnings and errors always show, failed states included.
    assert not plain.filter(_record("Starting temporary server on http://x", name="prefect"))
    assert not plain.filter(_record("Creating initial MLflow database tables", name="mlflow"))
    assert plain.filter(_record("5 out of the last 5 calls", "tensorflow", logging.WARNING))
    assert plain.filter(_record("Finished in state Failed('x')", level=logging.ERROR))
    # Under progress bars no INFO line is printed at all.
    assert not PlainFilter(bars=True).filter(_record(kept[0]))
    assert not ServerBanner().filter(_record("Stopping temporary server on http://x", "prefect"))


def test_bars_follow_epochs_per_variant_and_finished_tickers():
    out = io.StringIO()
    progress = Progress(console=Console(file=out, force_terminal=True, width=100))
    bars = _Bars(progress, ["KO", "MSFT"])
    for n in (1, 2):
        bars.handle(_record(f"KO/rnn epoch {n}/5 loss=0.1 val_loss=0.2 (0.5s)"))
    bars.handle(_record("KO/lstm epoch 1/5 loss=0.1 val_loss=0.2 (0.5s)"))
    tasks = {t.description: t for t in progress.tasks}
    assert (tasks["KO/rnn"].completed, tasks["KO/rnn"].total) == (2, 5)
    assert tasks["KO/lstm"].completed == 1
    # Early stopping ends a variant before its last epoch: its bar is complete.
    bars.handle(_record("KO/rnn: 2 epochs, 1.0s, 500 samples/s"))
    assert tasks["KO/rnn"].finished
    bars.handle(_record("Finished in state Completed()", task_run_name="report-backtest-KO"))
    assert tasks["tickers"].completed == 0
    bars.handle(_record("Finished in state Completed()", task_run_name="report-KO"))
    assert (tasks["tickers"].completed, tasks["tickers"].total) == (1, 2)
    with progress:  # drawn on a terminal: the bars, in colour
        progress.refresh()
    assert "KO/rnn" in out.getvalue() and "tickers" in out.getvalue()
    assert "━" in out.getvalue() and "\x1b[" in out.getvalue()

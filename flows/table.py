"""The comparison table: one DataFrame from the run summary, for the terminal and Prefect.

The ``forecast run`` table and the flow run's Prefect table artifact
(:func:`publish_artifacts`) are both built from :func:`comparison_frame`, so they cannot
disagree.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from pricecast.flows.summary import BacktestFailure, BacktestSummary, RunSummary

if TYPE_CHECKING:
    from rich.console import Console

    from pricecast.stores.tracking.store import Tracker

HEADERS = {
    "ticker": "ticker",
    "model": "model",
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE %",
    "mase": "MASE",
    "directional_accuracy": "directional accuracy",
    "backtest_mase_h1": "backtest MASE h=1",
    "best": "best",
    "champion": "champion",
}
"""Frame columns and the full headers the terminal prints."""

NUMBERS = ("rmse", "mae", "mape", "mase", "directional_accuracy", "backtest_mase_h1")

_INTERVALS = ("backtest_coverage_", "backtest_width_", "backtest_interval_score")


def header(column: str) -> str:
    """The full header of a frame column (interval columns are named by level and step)."""
    if column in HEADERS:
        return HEADERS[column]
    words = column.removeprefix("backtest_").removesuffix("_h1").split("_")
    if words[0] in ("coverage", "width"):  # coverage_80_h1 -> coverage 80 % h=1
        return f"{words[0]} {words[1]} % h=1"
    return " ".join(words) + " h=1"


def _interval_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith(_INTERVALS)]


def comparison_frame(summary: RunSummary) -> pd.DataFrame:
    """One row per ticker and model (baselines included), test and backtest metrics.

    ``best`` marks each ticker's best model: the backtest's winner when a backtest ran,
    else the lowest test MASE. ``champion`` marks the model the champion alias moved to
    in this run. Metrics a model lacks (a baseline scored only in the backtest, an
    undefined value) are NaN.
    """
    rows = pd.DataFrame(summary.rows())
    bands = _interval_columns(rows)
    frame = rows.reindex(columns=["ticker", "model", *NUMBERS, *bands, "champion"])
    frame["best"] = False
    for ticker, rows in frame.groupby("ticker", sort=False):
        bt = summary.tickers[str(ticker)].backtest
        if isinstance(bt, BacktestSummary):
            frame.loc[rows.index, "best"] = rows["model"] == bt.best_model
        elif rows["mase"].notna().any():
            frame.loc[rows["mase"].astype(float).idxmin(), "best"] = True
    frame["champion"] = frame["champion"].fillna(False).astype(bool)
    if frame["backtest_mase_h1"].isna().all():
        frame = frame.drop(columns="backtest_mase_h1")
    order = [c for c in HEADERS if c in frame.columns and c not in ("best", "champion")]
    return frame[[*order, *bands, "best", "champion"]]


def artifact_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame as the records of a Prefect table artifact (NaN as empty cells)."""
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def notes(summary: RunSummary) -> list[str]:
    """What the table does not say: each ticker's source, spans, backtest and champion."""
    lines = []
    for ticker, info in summary.tickers.items():
        lines.append(f"{ticker}: source: {info.source}; test {' .. '.join(info.test_span)}")
        bt = info.backtest
        if isinstance(bt, BacktestSummary):
            mase = ", ".join(f"{k} {v['mase'][0]:.3f}" for k, v in bt.models.items())
            lines.append(f"{ticker}: backtest {bt.n_origins} origins, MASE h=1: {mase}")
            promoted = "promoted to @champion" if bt.promoted else "not promoted"
            lines.append(f"{ticker}: best: {bt.best_model} — {promoted}: {bt.decision}")
        elif isinstance(bt, BacktestFailure):
            lines.append(f"{ticker}: backtest failed: {bt.error}")
    lines += [f"{ticker}: FAILED: {why}" for ticker, why in summary.failed.items()]
    return lines


def print_comparison(summary: RunSummary, console: Console) -> None:
    """Print the table, each ticker's best model in bold green, then the notes."""
    from rich import box
    from rich.table import Table

    frame = comparison_frame(summary)
    # Not a terminal (a file, a pipe, a CI log): plain ASCII, no line-drawing characters.
    shape = box.SIMPLE_HEAD if console.is_terminal else box.ASCII
    table = Table(box=shape, header_style="bold")
    numbers = [c for c in frame.columns if c in NUMBERS or c in _interval_columns(frame)]
    for column in frame.columns:
        if column not in ("best", "champion"):
            table.add_column(header(column), justify="right" if column in numbers else "left")
    table.add_column("best", justify="left")
    for row in frame.to_dict("records"):
        cells = [
            "" if isinstance(row[c], float) and math.isnan(row[c]) else f"{row[c]:.4f}"
            for c in numbers
        ]
        mark = ("best" if row["best"] else "") + (" @champion" if row["champion"] else "")
        table.add_row(
            row["ticker"],
            row["model"],
            *cells,
            mark.strip(),
            style="bold green" if row["best"] else None,
        )
    # Not a terminal: as wide as the table needs, so no header is wrapped or cut.
    if console.is_terminal:
        console.print(table)
    else:
        from rich.measure import Measurement

        wide = Measurement.get(console, console.options.update_width(10_000), table).maximum
        narrow = console.width
        console.width = max(narrow, wide)
        try:
            console.print(table)
        finally:
            console.width = narrow
    for line in notes(summary):
        console.print(line, markup=False, highlight=False)


def publish_artifacts(summary: RunSummary, tracker: Tracker) -> None:
    """The Prefect table (the CLI's comparison frame) and links to every MLflow run.

    Links are absolute (``MLFLOW_UI_URL``, or the tracking server); a local store has no
    UI running, so the artifact gives the command that starts one and the run ids.
    """
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    links = [f"# Forecast run — MLflow experiment `{tracker.experiment_name}`", ""]
    if tracker.run_url("") is None:
        links.append(
            f"Start the MLflow UI with `{tracker.ui_command()}` (or set `MLFLOW_UI_URL` for "
            f"links), then open experiment {tracker.experiment_id} and these runs:\n"
        )

    def link(label: str, run_id: str) -> str:
        url = tracker.run_url(run_id)
        return f"[{label}]({url})" if url else f"{label} `{run_id}`"

    for ticker, info in summary.tickers.items():
        links.append(f"- **{ticker}** ({link('parent run', info.mlflow.parent_run_id)})")
        for name, run_id in info.mlflow.runs.items():
            links.append(f"  - {link(name, run_id)}")
    for ticker, why in summary.failed.items():
        links.append(f"- **{ticker}** failed: {why}")
    create_table_artifact(
        artifact_rows(comparison_frame(summary)),
        key="forecast-metrics",
        description="Test-span and backtest metrics per ticker and model, baselines included; "
        "best marks each ticker's best model",
    )
    create_markdown_artifact(
        "\n".join(links), key="forecast-mlflow-runs", description="MLflow runs of this flow run"
    )

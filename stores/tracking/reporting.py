"""What a ticker's parent run reports: its files, the comparison table, the backtest.

Every function writes to the run id it is given; nothing here reads a run back.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.entities import Metric

from pricecast.stores.tracking.store import Tracker


def _finite(values: Mapping[str, float]) -> list[Metric]:
    """Metrics at step 0, the undefined ones (NaN, inf) left out."""
    now = int(time.time() * 1000)
    return [Metric(k, float(v), now, 0) for k, v in values.items() if np.isfinite(v)]


BEST_ON_TEST_TAG = "test_best_by_rmse"
"""Parent-run tag: the model (baselines included) with the lowest RMSE on the test span.

It only describes the test span; the model the champion guard weighs is the backtest's
best (``backtest_best_model``, ``runs.note_decision``)."""


def log_ticker_summary(tracker: Tracker, run_id: str, files: list[Path], best: str) -> None:
    """Log the per-ticker comparison files (table, plot, predictions) to the parent run.

    ``best`` is tagged as :data:`BEST_ON_TEST_TAG`.
    """
    client = tracker.client
    for path in files:
        client.log_artifact(run_id, str(path))
    client.set_tag(run_id, BEST_ON_TEST_TAG, best)


COMPARISON_TABLE = "comparison.json"
"""The parent run's table of every model and baseline (``mlflow.log_table``)."""


def log_comparison(
    tracker: Tracker,
    parent_id: str,
    table: pd.DataFrame,
    child_metrics: Mapping[str, Mapping[str, float]],
) -> None:
    """Log the ticker's comparison table to its parent run and the children's skill.

    The table (``tasks.comparison.comparison_table``) is logged once per ticker with
    ``log_table``, which the MLflow UI shows in the run's artifacts and the evaluation
    view; undefined cells are ``null``.

    Args:
        tracker: The open experiment.
        parent_id: The ticker's parent run.
        table: One row per model and baseline.
        child_metrics: Metrics to add to child runs, by run id (e.g.
            ``backtest_skill_vs_persistence``); undefined values are left out.
    """
    client = tracker.client
    client.log_table(run_id=parent_id, data=table, artifact_file=COMPARISON_TABLE)
    for run_id, values in child_metrics.items():
        metrics = _finite(values)
        if metrics:
            client.log_batch(run_id, metrics=metrics)


def log_backtest_summary(
    tracker: Tracker,
    run_id: str,
    frame: pd.DataFrame,
    summary: Mapping[str, Mapping[str, list[float]]],
    plot: Path,
    pooled: Mapping[str, Mapping[str, float]],
) -> None:
    """Log the whole backtest (all models, baselines included) to a ticker's parent run.

    ``plot`` is the backtest figure already written to the output folder: the same file
    is logged, not drawn again.

    ``backtest_<metric>_<model>`` holds the value over all rows (``pooled``) at step 0;
    a metric that ``pooled`` lacks (the interval scores) holds its mean over the steps
    ahead, each step having the same origins.
    Only a horizon of more than one step adds ``backtest_<metric>_by_h_<model>``, whose
    steps are the steps ahead: a real series, charted as a line; a horizon of one would
    give a chart of one dot per metric. Undefined values are left out.
    """
    client = tracker.client
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        frame.to_csv(d / "backtest.csv", index=False, date_format="%Y-%m-%d")
        (d / "backtest_metrics.json").write_text(json.dumps(summary, indent=1))
        for name in ("backtest.csv", "backtest_metrics.json"):
            client.log_artifact(run_id, str(d / name), "backtest")
    client.log_artifact(run_id, str(plot), "backtest")
    now = int(time.time() * 1000)
    overall = {
        model: {m: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan for m, v in by.items()}
        for model, by in summary.items()
    }
    for model, values in pooled.items():
        overall.setdefault(model, {}).update(values)
    metrics = _finite(
        {f"backtest_{metric}_{model}": v for model, m in overall.items() for metric, v in m.items()}
    )
    metrics += [
        Metric(f"backtest_{metric}_by_h_{model}", float(v), now, h)
        for model, by_metric in summary.items()
        for metric, values in by_metric.items()
        if len(values) > 1
        for h, v in enumerate(values, start=1)
        if np.isfinite(v)
    ]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])

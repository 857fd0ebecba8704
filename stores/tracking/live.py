"""MLflow side of the nightly loop: a live run per ticker that charts skill over sessions.

Each ticker has one long-lived run in ``<experiment><suffix>`` (``pricecast-live`` by
default). Every night adds its live scores as metrics whose step is the session index,
so the MLflow UI charts each model's live MASE beside persistence's over trading days,
and replaces the live plot. Production refits get a run of their own there.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric, RunStatus

from pricecast.stores.tracking.store import KIND_TAG, OWNER_TAG, Tracker, owner

LIVE_METRICS = ("rmse", "mae", "mape", "mase", "directional_accuracy", "persistence_mase")


def start_live_run(tracker: Tracker, ticker: str, tags: dict[str, str]) -> str:
    """Create the live run of a ticker; it stays open for the nights to come."""
    run = tracker.client.create_run(
        tracker.experiment_id,
        run_name=f"live-{ticker}",
        tags={"ticker": ticker, KIND_TAG: "live", **tags},
    )
    return run.info.run_id


def log_live_scores(
    tracker: Tracker, run_id: str, scores: pd.DataFrame, step: int, as_of: str
) -> int:
    """Log a night's live scores: ``<model>.h<h>.<window>.<metric>`` at ``step``.

    Returns:
        How many metric values were logged.
    """
    now = int(time.time() * 1000)
    names = [*LIVE_METRICS, *(c for c in scores.columns if c.startswith("coverage_"))]
    names += ["interval_score"] if "interval_score" in scores.columns else []
    metrics = [
        Metric(f"{row['model']}.h{row['h']}.{row['window']}.{name}", float(value), now, step)
        for row in scores.to_dict("records")
        for name in names
        if (value := row[name]) is not None and math.isfinite(float(value))
    ]
    client = tracker.client
    for i in range(0, len(metrics), 900):
        client.log_batch(run_id, metrics=metrics[i : i + 900])
    client.set_tag(run_id, "last_as_of", as_of)
    return len(metrics)


def log_live_plot(tracker: Tracker, run_id: str, png: bytes) -> None:
    """Replace the live run's ``live.png``.

    The plot comes rendered (PNG bytes): the caller draws it once for the output folder
    and MLflow, as drawing is most of a plot's cost.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.png"
        path.write_bytes(png)
        tracker.client.log_artifact(run_id, str(path))


def start_production_run(tracker: Tracker, ticker: str, as_of: str, variant: str) -> str:
    """A run for one production refit (its pyfunc is logged and registered from it)."""
    run = tracker.client.create_run(
        tracker.experiment_id,
        run_name=f"production-{ticker}-{as_of}",
        tags={
            "ticker": ticker,
            "variant": variant,
            "as_of": as_of,
            KIND_TAG: "production",
            OWNER_TAG: owner(),
        },
    )
    return run.info.run_id


def end_run(tracker: Tracker, run_id: str, error: str | None = None) -> None:
    """End a run FINISHED, or FAILED with the reason tagged."""
    if error:
        tracker.client.set_tag(run_id, "error", error[:5000])
    status = RunStatus.FAILED if error else RunStatus.FINISHED
    tracker.client.set_terminated(run_id, RunStatus.to_string(status))

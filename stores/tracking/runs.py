"""MLflow runs and their artifacts: one parent run per ticker, one child run per variant.

Every function takes the run id it writes to; nothing here reads a run back. MLflow's
active run is thread-local, so a variant's child run is opened in the worker thread that
trains it (:func:`variant_run`), where MLflow's Keras callback and ``log_model`` find it.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunStatus
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from pricecast.stores.tracking.store import KIND_TAG, OWNER_TAG, Tracker, owner

if TYPE_CHECKING:
    import keras

TIMING_PREFIX = "time/"
"""Durations and throughput are logged as ``time/<name>``: the MLflow UI groups metrics by
the part before ``/``, so they get a section of their own and leave the accuracy metrics
(``rmse``, ``mase``, ``skill_vs_persistence``) to fill the compare view."""


def run_name(ticker: str, as_of: str, variant: str | None = None) -> str:
    """``AAPL 2020-12-11`` (a ticker's parent run) or ``AAPL lstm 2020-12-11`` (a variant's).

    ``as_of`` is the last date of the data the run used, so repeated runs of a ticker
    are told apart in the runs table, and runs on the same data line up.
    """
    return " ".join(p for p in (ticker, variant, as_of) if p)


def timing(values: Mapping[str, float]) -> dict[str, float]:
    """Metric names for durations and throughput, under :data:`TIMING_PREFIX`."""
    return {f"{TIMING_PREFIX}{k}": v for k, v in values.items()}


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested config data to ``a.b.c`` → string values (MLflow params)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for v in value:
                out.update(flatten(v, f"{name}.{v.get('name', len(out))}."))
        else:
            out[name] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return out


def start_ticker_run(
    tracker: Tracker, ticker: str, config: Mapping[str, Any], tags: Mapping[str, str]
) -> str:
    """Create the parent run of one ticker and log the flattened config.

    The run is named by the ticker alone until its data's last date is known
    (:func:`name_run`).

    Returns:
        The parent run id.
    """
    client = tracker.client
    run = client.create_run(
        tracker.experiment_id,
        run_name=ticker,
        tags={"ticker": ticker, KIND_TAG: "ticker", OWNER_TAG: owner(), **tags},
    )
    params = flatten(config)
    params["ticker"] = ticker
    _log_params(client, run.info.run_id, params)
    return run.info.run_id


def _log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    items = [Param(k, v[:6000]) for k, v in params.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


def log_data_info(
    tracker: Tracker, run_id: str, source: str, first: str, last: str, rows: int, notes: list[str]
) -> None:
    """Record where the prices came from and which span was used."""
    client = tracker.client
    _log_params(
        client,
        run_id,
        {"data.source_used": source, "data.first_date": first, "data.last_date": last},
    )
    client.log_metric(run_id, "data_rows", rows)
    client.set_tag(run_id, "data_source", source)
    if notes:
        client.set_tag(run_id, "data_notes", "\n".join(notes)[:5000])


def name_run(tracker: Tracker, run_id: str, name: str) -> None:
    """Rename a run (see :func:`run_name`)."""
    tracker.client.update_run(run_id, name=name)


def tag_run(tracker: Tracker, run_id: str, tags: Mapping[str, str]) -> None:
    """Set tags on a run."""
    client = tracker.client
    for key, value in tags.items():
        client.set_tag(run_id, key, str(value)[:5000])


def log_metric(tracker: Tracker, run_id: str, key: str, value: float) -> None:
    """Log one metric value on a run."""
    tracker.client.log_metric(run_id, key, float(value))


def finish_run(tracker: Tracker, run_id: str, error: str | None = None) -> None:
    """End a run: FINISHED, or FAILED with the reason as the ``error`` tag."""
    client = tracker.client
    if error:
        client.set_tag(run_id, "error", error[:5000])
    client.set_terminated(
        run_id, RunStatus.to_string(RunStatus.FAILED if error else RunStatus.FINISHED)
    )


@contextmanager
def _active_run(tracker: Tracker, **kwargs: Any) -> Iterator[str]:
    """``mlflow.start_run`` in the tracker's experiment; an exception is tagged ``error``.

    Leaving the ``with`` on an exception ends the run as FAILED; the tag says why.

    Yields:
        The run id.
    """
    with mlflow.start_run(experiment_id=tracker.experiment_id, **kwargs) as run:
        try:
            yield run.info.run_id
        except BaseException as err:
            tracker.client.set_tag(run.info.run_id, "error", f"{type(err).__name__}: {err}"[:5000])
            raise


@contextmanager
def variant_run(
    tracker: Tracker,
    parent_id: str,
    ticker: str,
    name: str,
    tags: Mapping[str, str],
    as_of: str = "",
) -> Iterator[str]:
    """Open a child run for one variant as the current thread's active run.

    It is named ``<ticker> <variant> <as_of>`` (:func:`run_name`), ``as_of`` being the
    last date of the data it trains on.

    The run ends FINISHED, or FAILED (with the error tagged) if the block raises. While
    it is open, MLflow's fluent helpers in this thread (its Keras callback,
    ``log_model``) write to it.

    Yields:
        The child run id.
    """
    with _active_run(
        tracker,
        run_name=run_name(ticker, as_of, name),
        parent_run_id=parent_id,
        nested=True,
        tags={
            "ticker": ticker,
            "variant": name,
            KIND_TAG: "variant",
            OWNER_TAG: owner(),
            **tags,
        },
    ) as run_id:
        yield run_id


@contextmanager
def global_run(
    tracker: Tracker, name: str, tickers: list[str], tags: Mapping[str, str], as_of: str = ""
) -> Iterator[str]:
    """Open the run of a variant's pooled model (``training.scope: global``) as the active run.

    One such run per variant holds the one model every ticker's child run forecasts with
    (their ``global_run_id`` tag points here); it is named ``global <variant> <as_of>``.

    Yields:
        The run id.
    """
    with _active_run(
        tracker,
        run_name=run_name("global", as_of, name),
        tags={
            "variant": name,
            "tickers": ",".join(tickers)[:5000],
            KIND_TAG: "global",
            OWNER_TAG: owner(),
            **tags,
        },
    ) as run_id:
        yield run_id


def log_params(tracker: Tracker, run_id: str, params: Mapping[str, str]) -> None:
    """Log string params on a run (long values cut to MLflow's limit)."""
    _log_params(tracker.client, run_id, params)


def epoch_callback() -> keras.callbacks.Callback:
    """The per-epoch MLflow callback of a variant's training (``callbacks.EpochCallback``)."""
    from pricecast.stores.tracking.callbacks import EpochCallback

    return EpochCallback()


def _finite(values: Mapping[str, float]) -> list[Metric]:
    now = int(time.time() * 1000)
    return [Metric(k, float(v), now, 0) for k, v in values.items() if np.isfinite(v)]


def log_variant(
    tracker: Tracker,
    run_id: str,
    params: Mapping[str, str],
    fit_metrics: Mapping[str, float],
    scaler: Any,
    model: keras.Model,
    example: np.ndarray,
) -> str:
    """Log a trained variant to its child run: params, fit figures, scaler and model.

    ``fit_metrics`` are logged at step 0 under the names given (durations already
    under :data:`TIMING_PREFIX`, see :func:`timing`). The Keras model goes through
    MLflow's keras flavour (with a signature), which links it to the thread's active
    run; ``run_id`` must be that run.

    Returns:
        The logged model's URI (loadable with ``mlflow.pyfunc.load_model``).

    Raises:
        RuntimeError: If ``run_id`` is not the active run of this thread.
    """
    import keras
    from mlflow.keras import log_model as log_keras_model

    active = mlflow.active_run()
    if active is None or active.info.run_id != run_id:
        raise RuntimeError(f"log_variant: run {run_id} is not this thread's active run")
    client = tracker.client
    _log_params(client, run_id, params)
    client.log_batch(run_id, metrics=_finite(fit_metrics))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        # The scaler is stored as data (its statistics), never as a pickle. A pooled
        # model has none of its own: each ticker's scaler goes with the ticker.
        if scaler is not None:
            (d / "scaler.json").write_text(json.dumps(scaler.state(), indent=1))
            client.log_artifact(run_id, str(d / "scaler.json"))
    # The signature needs the output's shape and dtype only: no predict call (and no
    # tf.function tracing) just to learn them.
    output = np.zeros((len(example), int(model.output_shape[-1])), dtype="float32")
    info = log_keras_model(
        model,
        name="model",
        signature=infer_signature(example, output),
        pip_requirements=[f"keras=={keras.__version__}", "tensorflow"],
    )
    client.set_tag(run_id, "model_uri", info.model_uri)
    return info.model_uri


def log_variant_evaluation(
    tracker: Tracker,
    run_id: str,
    metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, Mapping[str, float]],
    predictions: pd.DataFrame,
    png: bytes,
) -> None:
    """Log a variant's test-span scores beside ``<baseline>_<metric>``, its table and plot.

    Undefined values (persistence's directional accuracy) are left out, not logged as 0.
    The plot comes rendered (PNG bytes): it is drawn once, by the caller.
    """
    values = {k: float(v) for k, v in metrics.items()}
    for base, base_metrics in baseline_metrics.items():
        values.update({f"{base}_{k}": float(v) for k, v in base_metrics.items()})
    client = tracker.client
    client.log_batch(run_id, metrics=_finite(values))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        predictions.to_csv(d / "predictions.csv", index=False, date_format="%Y-%m-%d")
        (d / "forecast.png").write_bytes(png)
        for name in ("predictions.csv", "forecast.png"):
            client.log_artifact(run_id, str(d / name))


def log_backtest(
    tracker: Tracker,
    run_id: str,
    frame: pd.DataFrame,
    seconds: float,
    metrics: Mapping[str, list[float]] | None = None,
) -> None:
    """Log a variant's backtest rows (``backtest.csv``) and its duration to its run.

    ``metrics`` (``{metric: [h=1, ...]}``, e.g. its interval scores) are logged as
    ``backtest_<metric>`` at step 0 (the mean over the steps ahead, each step having the
    same origins) and, only when there is more than one step ahead, as the series
    ``backtest_<metric>_by_h`` whose steps are the steps ahead.
    """
    client = tracker.client
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backtest.csv"
        frame.to_csv(path, index=False, date_format="%Y-%m-%d")
        client.log_artifact(run_id, str(path))
    client.log_metric(run_id, f"{TIMING_PREFIX}backtest_seconds", float(seconds))
    now = int(time.time() * 1000)
    batch: list[Metric] = []
    for name, values in (metrics or {}).items():
        finite = [float(v) for v in values if np.isfinite(v)]
        if finite:
            batch.append(Metric(f"backtest_{name}", float(np.mean(finite)), now, 0))
        if len(values) > 1:
            batch += [
                Metric(f"backtest_{name}_by_h", float(v), now, h)
                for h, v in enumerate(values, start=1)
                if np.isfinite(v)
            ]
    if batch:
        client.log_batch(run_id, metrics=batch)


def note_decision(tracker: Tracker, run_id: str, decision: str, best_model: str) -> None:
    """Record the champion guard's decision (and why) and the backtest's best model on a run."""
    client = tracker.client
    client.set_tag(run_id, "champion_decision", decision[:5000])
    client.set_tag(run_id, "backtest_best_model", best_model)

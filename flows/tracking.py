"""MLflow tracking: the only module that talks to MLflow.

One experiment per config; per ticker a parent run, per variant a child run
(``start_run(parent_run_id=..., nested=True)`` — MLflow's active run is thread-local,
so each worker thread opens its own child run by id).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import keras
import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.entities import RunStatus
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - no advisory locks; MLflow's own behaviour
    fcntl = None

KIND_TAG = "pricecast.kind"
OWNER_TAG = "pricecast.owner"
"""``host:pid`` of the process that opened a run (to find runs orphaned by a kill)."""


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking store cannot be reached; the message holds the URI."""


@dataclass(frozen=True)
class Tracker:
    """An open MLflow experiment.

    Attributes:
        uri: Tracking URI.
        experiment_id: Experiment id.
        experiment_name: Experiment name.
        local: Whether the store is a local sqlite file (no UI server).
    """

    uri: str
    experiment_id: str
    experiment_name: str
    local: bool

    @property
    def client(self) -> MlflowClient:
        """A client bound to this tracking URI."""
        return MlflowClient(tracking_uri=self.uri)

    def run_url(self, run_id: str) -> str:
        """Link to a run in the MLflow UI (relative fragment for a local store)."""
        fragment = f"#/experiments/{self.experiment_id}/runs/{run_id}"
        return fragment if self.local else f"{self.uri.rstrip('/')}/{fragment}"

    def ui_command(self) -> str:
        """Command that opens the MLflow UI on this store."""
        if self.local:
            return f"mlflow ui --backend-store-uri {self.uri}"
        return f"open {self.uri}"


def open_store(home: Path, uri: str | None = None) -> Tracker:
    """Connect to the tracking store without choosing an experiment (registry access).

    Raises:
        TrackingUnavailableError: If the store cannot be reached, or a local sqlite store
            does not exist (it is not created: nothing was tracked there yet).
    """
    uri = uri or resolve_uri(home)
    check_reachable(uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise TrackingUnavailableError(
            f"no MLflow store at {uri}: nothing was tracked there yet (run `forecast run` first)"
        )
    mlflow.set_tracking_uri(uri)
    try:
        with _first_use_lock(uri):
            MlflowClient(tracking_uri=uri)  # creates a new store's tables
    except mlflow.exceptions.MlflowException as err:
        raise TrackingUnavailableError(f"MLflow store {uri}: {err.message}") from None
    return Tracker(uri, "", "", uri.startswith(("sqlite:", "file:")))


@contextmanager
def _first_use_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive file lock while a local sqlite store is opened.

    MLflow creates and migrates a new sqlite store's tables without any lock: two
    processes opening a fresh ``mlflow.db`` at once fail ("table ... already exists")
    and can leave it half-migrated for good. Other stores are not locked.
    """
    if not uri.startswith("sqlite:///") or fcntl is None:
        yield
        return
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(f"{db.name}.lock"), "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def default_uri(home: Path) -> str:
    """The default store: a sqlite file in ``FORECAST_HOME``."""
    return f"sqlite:///{home / 'mlflow.db'}"


def resolve_uri(home: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the default sqlite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri(home)


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast when an HTTP tracking server does not answer its health check.

    Raises:
        TrackingUnavailableError: Naming the URI.
    """
    if not uri.startswith(("http://", "https://")):
        return
    url = f"{uri.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - configured URI
            if resp.status != 200:
                raise TrackingUnavailableError(f"MLflow at {uri} answered {resp.status} on /health")
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TrackingUnavailableError(
            f"MLflow tracking server unreachable at {uri}: {reason}"
        ) from None


def open_experiment(name: str, home: Path, uri: str | None = None) -> Tracker:
    """Connect to the tracking store and get or create the experiment.

    With the default local store, artifacts go to ``FORECAST_HOME/mlartifacts``; with a
    server, the server decides (artifact proxy).

    Args:
        name: Experiment name (from the config).
        home: ``FORECAST_HOME``.
        uri: Tracking URI (default: :func:`resolve_uri`).

    Raises:
        TrackingUnavailableError: If the store cannot be reached.
    """
    uri = uri or resolve_uri(home)
    check_reachable(uri)
    local = uri.startswith("sqlite:") or uri.startswith("file:")
    mlflow.set_tracking_uri(uri)
    location = (home / "mlartifacts" / name).resolve().as_uri() if local else None
    try:
        with _first_use_lock(uri):
            client = MlflowClient(tracking_uri=uri)  # creates a new store's tables
            exp = client.get_experiment_by_name(name)
            if exp is None:
                try:
                    exp = client.get_experiment(
                        client.create_experiment(name, artifact_location=location)
                    )
                except mlflow.exceptions.MlflowException:
                    # Created by another process in the meantime (a tracking server).
                    exp = client.get_experiment_by_name(name)
                    if exp is None:
                        raise
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        exp_id = exp.experiment_id
    except mlflow.exceptions.MlflowException as err:
        raise TrackingUnavailableError(f"MLflow store {uri}: {err.message}") from None
    tracker = Tracker(uri, exp_id, name, local)
    mark_stale_runs(tracker)
    return tracker


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def mark_stale_runs(tracker: Tracker) -> list[str]:
    """Mark RUNNING runs whose process on this host is gone as KILLED.

    A run opened by a process that was killed (power loss, OOM, ``kill -9``) would stay
    RUNNING forever; the next start of the flow closes it with an ``error`` tag.

    Returns:
        The ids of the runs marked.
    """
    client = tracker.client
    stale = []
    runs = client.search_runs(
        [tracker.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    for run in runs:
        owner = run.data.tags.get(OWNER_TAG)
        if owner and not _alive(owner):
            client.set_tag(
                run.info.run_id, "error", f"process {owner} ended without closing the run"
            )
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            stale.append(run.info.run_id)
    return stale


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

    Returns:
        The parent run id.
    """
    client = tracker.client
    run = client.create_run(
        tracker.experiment_id,
        run_name=ticker,
        tags={"ticker": ticker, KIND_TAG: "ticker", OWNER_TAG: _owner(), **tags},
    )
    params = flatten(config)
    params["ticker"] = ticker
    _log_params(client, run.info.run_id, params)
    return run.info.run_id


def _log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    from mlflow.entities import Param

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


def tag_run(run_id: str, tracker: Tracker, tags: Mapping[str, str]) -> None:
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


class EpochMetrics(keras.callbacks.Callback):
    """Log ``loss``, ``val_loss`` and ``learning_rate`` to an MLflow run after every epoch.

    Args:
        tracker: The open experiment.
        run_id: The variant's run.
    """

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        super().__init__()
        self.client, self.run_id = tracker.client, run_id

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, epoch)
            for k, v in (logs or {}).items()
            if k in ("loss", "val_loss", "learning_rate") and np.isfinite(v)
        ]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)


@contextmanager
def variant_run(
    tracker: Tracker, parent_id: str, ticker: str, name: str, tags: Mapping[str, str]
) -> Iterator[str]:
    """Open a child run for one variant in the current thread.

    The run ends FINISHED, or FAILED (with the error tagged) if the block raises.

    Yields:
        The child run id.
    """
    mlflow.set_tracking_uri(tracker.uri)
    with mlflow.start_run(
        experiment_id=tracker.experiment_id,
        run_name=f"{ticker}-{name}",
        parent_run_id=parent_id,
        nested=True,
        tags={
            "ticker": ticker,
            "variant": name,
            KIND_TAG: "variant",
            OWNER_TAG: _owner(),
            **tags,
        },
    ) as run:
        try:
            yield run.info.run_id
        except BaseException as err:
            # Leaving the ``with`` on an exception ends the run as FAILED.
            mlflow.set_tag("error", f"{type(err).__name__}: {err}"[:5000])
            raise


def log_variant(
    run_id: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, Mapping[str, float]],
    predictions: pd.DataFrame,
    figure: Figure,
    scaler: Any,
    model: keras.Model,
    example: np.ndarray,
    extra_metrics: Mapping[str, float] | None = None,
) -> str:
    """Log a trained variant to its (active) child run.

    Logs the variant's metrics and ``<baseline>_<metric>`` for comparison, the
    predictions CSV, the forecast plot, the fitted scaler and the Keras model (with a
    signature) through MLflow's keras flavour.

    Returns:
        The logged model's URI (loadable with ``mlflow.pyfunc.load_model``).
    """
    mlflow.log_params({k: v[:6000] for k, v in params.items()})
    values = {k: float(v) for k, v in metrics.items()}
    for base, base_metrics in baseline_metrics.items():
        values.update({f"{base}_{k}": float(v) for k, v in base_metrics.items()})
    values.update({k: float(v) for k, v in (extra_metrics or {}).items()})
    mlflow.log_metrics({k: v for k, v in values.items() if np.isfinite(v)})
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        predictions.to_csv(d / "predictions.csv", index=False, date_format="%Y-%m-%d")
        figure.savefig(d / "forecast.png")
        joblib.dump(scaler, d / "scaler.joblib")
        (d / "scaler.json").write_text(json.dumps(scaler.state(), indent=1))
        for name in ("predictions.csv", "forecast.png", "scaler.joblib", "scaler.json"):
            mlflow.log_artifact(str(d / name))
    output = model.predict(example, verbose=0)
    info = mlflow.keras.log_model(
        model,
        name="model",
        signature=infer_signature(example, output),
        pip_requirements=[f"keras=={keras.__version__}", "tensorflow"],
    )
    mlflow.set_tag("model_uri", info.model_uri)
    return info.model_uri


def log_ticker_summary(tracker: Tracker, run_id: str, files: list[Path], best: str) -> None:
    """Log the per-ticker comparison files (table, plot, predictions) to the parent run."""
    client = tracker.client
    for path in files:
        client.log_artifact(run_id, str(path))
    client.set_tag(run_id, "best_by_rmse", best)


# --------------------------------------------------------------------------- registry


CHAMPION = "champion"


def save_forecaster(forecaster: Any, folder: Path) -> dict[str, str]:
    """Write a :class:`~pricecast.models.forecaster.Forecaster` as pyfunc artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "keras_model": folder / "model.keras",
        "scaler": folder / "scaler.joblib",
        "spec": folder / "spec.json",
    }
    forecaster.model.save(paths["keras_model"])
    joblib.dump(forecaster.scaler, paths["scaler"])
    paths["spec"].write_text(forecaster.spec.to_json())
    return {k: str(v) for k, v in paths.items()}


def load_forecaster(artifacts: Mapping[str, str]) -> Any:
    """Rebuild a Forecaster from the artifacts :func:`save_forecaster` wrote."""
    from pricecast.models.forecaster import Forecaster, ForecastSpec

    model = keras.models.load_model(artifacts["keras_model"], compile=False)
    scaler = joblib.load(artifacts["scaler"])
    spec = ForecastSpec.from_json(Path(artifacts["spec"]).read_text())
    return Forecaster(model, scaler, spec)


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: a frame of recent prices in, the next business days' prices out.

    Input: a DataFrame with a ``date`` column (or a DatetimeIndex) and the price columns
    the model uses (``close``/``adj_close``/…; Yahoo's capitalised names are accepted).
    Params: ``horizon`` (days ahead, up to the model's). Output: ``date``, ``forecast``.
    """

    def load_context(self, context: Any) -> None:  # noqa: D102
        self.forecaster = load_forecaster(context.artifacts)

    def predict(  # noqa: D102
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input.copy()
        frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
        if "date" in frame.columns:
            frame = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("date"))))
        frame = frame.sort_index()
        horizon = (params or {}).get("horizon") or None
        return self.forecaster.forecast(frame, int(horizon) if horizon else None)


def log_forecaster(tracker: Tracker, run_id: str, forecaster: Any, example: pd.DataFrame) -> str:
    """Log a Forecaster as a pyfunc model (``forecaster``) to an existing run.

    Args:
        tracker: The open experiment.
        run_id: The variant's run (reopened for logging).
        forecaster: The Forecaster.
        example: Recent prices (a ``date`` column and price columns) for the signature.

    Returns:
        The logged model's URI.
    """
    mlflow.set_tracking_uri(tracker.uri)
    output = forecaster.forecast(example.set_index("date"))
    signature = infer_signature(example, output, params={"horizon": forecaster.spec.horizon})
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_id=run_id):
        artifacts = save_forecaster(forecaster, Path(tmp))
        info = mlflow.pyfunc.log_model(
            name="forecaster",
            python_model=ForecasterModel(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=[f"keras=={keras.__version__}", "tensorflow", "pricecast"],
        )
    return info.model_uri


def registry_name(ticker: str) -> str:
    """Registered-model name of a ticker's forecaster."""
    return f"price-forecaster-{ticker}"


def champion_version(tracker: Tracker, ticker: str) -> Any | None:
    """The model version holding the ``champion`` alias, or ``None``."""
    try:
        return tracker.client.get_model_version_by_alias(registry_name(ticker), CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None


def load_champion(tracker: Tracker, ticker: str) -> Any | None:
    """Load the champion's Forecaster from the configured store (``None`` if none)."""
    version = champion_version(tracker, ticker)
    if version is None:
        return None
    model = mlflow.pyfunc.load_model(f"models:/{registry_name(ticker)}@{CHAMPION}")
    return model.unwrap_python_model().forecaster


def register(
    tracker: Tracker, ticker: str, model_uri: str, run_id: str, tags: Mapping[str, str]
) -> str:
    """Register a logged forecaster as a new version; returns the version number."""
    client = tracker.client
    name = registry_name(ticker)
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(
            name,
            tags={"ticker": ticker},
            description=f"Forecaster of {ticker}'s next business days (pricecast).",
        )
    version = client.create_model_version(
        name, model_uri, run_id=run_id, tags={k: str(v) for k, v in tags.items()}
    )
    return str(version.version)


def set_champion(tracker: Tracker, ticker: str, version: str) -> None:
    """Point the ``champion`` alias at a version."""
    tracker.client.set_registered_model_alias(registry_name(ticker), CHAMPION, version)


def note_decision(tracker: Tracker, run_id: str, decision: str, champion: str) -> None:
    """Record the champion decision (and why) on a run."""
    client = tracker.client
    client.set_tag(run_id, "champion_decision", decision[:5000])
    client.set_tag(run_id, "backtest_champion", champion)


# --------------------------------------------------------------------------- data by reference


def log_frame(tracker: Tracker, run_id: str, frame: pd.DataFrame, path: str) -> str:
    """Log a frame as a parquet artifact; returns its ``runs:/`` URI (passed to other flows)."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / Path(path).name
        frame.to_parquet(file)
        folder = str(Path(path).parent) if str(Path(path).parent) != "." else None
        tracker.client.log_artifact(run_id, str(file), folder)
    return f"runs:/{run_id}/{path}"


def load_frame(tracker: Tracker, uri: str) -> pd.DataFrame:
    """Read a parquet artifact logged by :func:`log_frame` (from the configured store only)."""
    if not uri.startswith("runs:/"):
        raise ValueError(f"expected a runs:/ URI from this tracking store, got {uri!r}")
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=tmp, tracking_uri=tracker.uri
        )
        return pd.read_parquet(local)


@dataclass(frozen=True)
class VariantOutcome:
    """A variant's child run as read back from MLflow."""

    name: str
    run_id: str
    status: str
    error: str | None
    model_uri: str | None
    metrics: dict[str, float]
    predictions: pd.DataFrame | None


def variant_outcomes(tracker: Tracker, parent_id: str) -> dict[str, VariantOutcome]:
    """Read every variant run under a ticker's parent run (metrics and predictions)."""
    client = tracker.client
    runs = client.search_runs(
        [tracker.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and tags.`{KIND_TAG}` = 'variant'",
        max_results=1000,
    )
    out = {}
    for run in sorted(runs, key=lambda r: r.info.start_time):
        name = run.data.tags["variant"]
        preds = None
        if run.info.status == "FINISHED":
            with tempfile.TemporaryDirectory() as tmp:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"runs:/{run.info.run_id}/predictions.csv",
                    dst_path=tmp,
                    tracking_uri=tracker.uri,
                )
                preds = pd.read_csv(local, parse_dates=["origin", "date"])
        out[name] = VariantOutcome(
            name=name,
            run_id=run.info.run_id,
            status=run.info.status,
            error=run.data.tags.get("error"),
            model_uri=run.data.tags.get("model_uri"),
            metrics=dict(run.data.metrics),
            predictions=preds,
        )
    return out


# --------------------------------------------------------------------------- backtests


def log_backtest(tracker: Tracker, run_id: str, frame: pd.DataFrame, seconds: float) -> None:
    """Log a variant's backtest rows (``backtest.csv``) and its duration to its run."""
    client = tracker.client
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backtest.csv"
        frame.to_csv(path, index=False, date_format="%Y-%m-%d")
        client.log_artifact(run_id, str(path))
    client.log_metric(run_id, "backtest_seconds", float(seconds))


def read_backtest(tracker: Tracker, run_id: str) -> tuple[pd.DataFrame, float]:
    """Read the ``backtest.csv`` a variant's run holds, and how long the backtest took."""
    seconds = tracker.client.get_run(run_id).data.metrics.get("backtest_seconds", float("nan"))
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{run_id}/backtest.csv", dst_path=tmp, tracking_uri=tracker.uri
        )
        return pd.read_csv(local, parse_dates=["cutoff", "date"]), float(seconds)


def load_keras(tracker: Tracker, model_uri: str) -> keras.Model:
    """Load a variant's Keras model from the configured store."""
    mlflow.set_tracking_uri(tracker.uri)
    return mlflow.keras.load_model(model_uri)


def log_backtest_summary(
    tracker: Tracker,
    run_id: str,
    frame: pd.DataFrame,
    summary: Mapping[str, Mapping[str, list[float]]],
    figure: Figure,
) -> None:
    """Log the whole backtest (all models, baselines included) to a ticker's parent run."""
    client = tracker.client
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        frame.to_csv(d / "backtest.csv", index=False, date_format="%Y-%m-%d")
        (d / "backtest_metrics.json").write_text(json.dumps(summary, indent=1))
        figure.savefig(d / "backtest.png")
        for name in ("backtest.csv", "backtest_metrics.json", "backtest.png"):
            client.log_artifact(run_id, str(d / name), "backtest")
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [
        Metric(f"backtest_{metric}_{model}", float(v), now, h)
        for model, by_metric in summary.items()
        for metric, values in by_metric.items()
        for h, v in enumerate(values, start=1)
        if np.isfinite(v)
    ]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])

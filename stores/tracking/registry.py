"""The MLflow Model Registry: a ticker's forecaster as a pyfunc, its versions and its champion.

The registered model ``price-forecaster-<TICKER>`` holds pyfunc versions that carry the
Keras model, the fitted scaler and the window logic; the alias ``champion`` points at the
version the guard promoted. Reading the registry (the current champion, to score it
against a candidate) reads an earlier run's model, never the current run's results.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import keras
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel

from pricecast.stores.tracking.store import Tracker

CHAMPION = "champion"
"""Alias of the version the champion guard promoted (judged on the backtest)."""
PRODUCTION = "production"
"""Alias of the champion's variant refitted on all data up to a night's ``as_of``."""


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


class ForecasterModel(PythonModel):
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


def alias_version(tracker: Tracker, ticker: str, alias: str) -> Any | None:
    """The model version holding ``alias``, or ``None``."""
    try:
        return tracker.client.get_model_version_by_alias(registry_name(ticker), alias)
    except MlflowException:
        return None


def champion_version(tracker: Tracker, ticker: str) -> Any | None:
    """The model version holding the ``champion`` alias, or ``None``."""
    return alias_version(tracker, ticker, CHAMPION)


def load_version(tracker: Tracker, ticker: str, version: str) -> Any:
    """Load a registered version's Forecaster (an earlier run's model, by registry URI)."""
    model = mlflow.pyfunc.load_model(f"models:/{registry_name(ticker)}/{version}")
    return model.unwrap_python_model().forecaster


def load_champion(tracker: Tracker, ticker: str) -> Any | None:
    """Load the champion's Forecaster from the configured store (``None`` if none)."""
    version = champion_version(tracker, ticker)
    if version is None:
        return None
    return load_version(tracker, ticker, str(version.version))


def set_alias(tracker: Tracker, ticker: str, alias: str, version: str) -> None:
    """Point ``alias`` at a version."""
    tracker.client.set_registered_model_alias(registry_name(ticker), alias, version)


def register(
    tracker: Tracker, ticker: str, model_uri: str, run_id: str, tags: Mapping[str, str]
) -> str:
    """Register a logged forecaster as a new version; returns the version number."""
    client = tracker.client
    name = registry_name(ticker)
    try:
        client.get_registered_model(name)
    except MlflowException:
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

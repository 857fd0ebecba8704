"""The MLflow Model Registry: a ticker's forecaster as a pyfunc, its versions and its champion.

The registered model ``price-forecaster-<TICKER>`` holds pyfunc versions that carry the
Keras model, the fitted scaler and the window logic; the alias ``champion`` points at the
version the guard promoted. Reading the registry (the current champion, to score it
against a candidate) reads an earlier run's model, never the current run's results.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel

from pricecast.stores.tracking.store import Tracker
from pricecast.tasks.scaling import SeriesScaler

CHAMPION = "champion"
"""Alias of the version the champion guard promoted (judged on the backtest)."""
PRODUCTION = "production"
"""Alias of the champion's variant refitted on all data up to a night's ``as_of``."""


SCALER_FILE, SPEC_FILE, KERAS_FILE = "scaler.json", "spec.json", "model.keras"
MODEL_CODE = Path(__file__).with_name("forecaster_code.py")
"""The pyfunc's definition, logged as code (MLflow models from code): nothing is pickled."""


class UnloadableModelError(RuntimeError):
    """A registered version's files are missing or are not a forecaster; names the file."""


def save_forecaster(forecaster: Any, folder: Path) -> dict[str, str]:
    """Write a Forecaster as data: Keras weights file, scaler statistics and spec as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "keras_model": folder / KERAS_FILE,
        "scaler": folder / SCALER_FILE,
        "spec": folder / SPEC_FILE,
    }
    forecaster.model.save(paths["keras_model"])
    paths["scaler"].write_text(json.dumps(forecaster.scaler.state(), indent=1))
    paths["spec"].write_text(forecaster.spec.to_json())
    return {k: str(v) for k, v in paths.items()}


def load_forecaster(artifacts: Mapping[str, str]) -> Any:
    """Rebuild a Forecaster from the files :func:`save_forecaster` wrote.

    Only data is read: the ``.keras`` file in Keras' safe mode (no stored code runs),
    the scaler's statistics and the spec from JSON.

    Raises:
        UnloadableModelError: Naming the file that is missing or unreadable.
    """
    from pricecast.models.forecaster import Forecaster, ForecastSpec

    for key in ("keras_model", "scaler", "spec"):
        if not Path(artifacts[key]).is_file():
            raise UnloadableModelError(f"missing file {artifacts[key]}")
    try:
        scaler = SeriesScaler.from_state(json.loads(Path(artifacts["scaler"]).read_text()))
    except (ValueError, TypeError, AttributeError) as err:
        raise UnloadableModelError(f"unreadable scaler {artifacts['scaler']}: {err}") from None
    try:
        spec = ForecastSpec.from_json(Path(artifacts["spec"]).read_text())
    except (ValueError, TypeError) as err:
        raise UnloadableModelError(f"unreadable spec {artifacts['spec']}: {err}") from None
    import keras

    try:
        model = keras.models.load_model(artifacts["keras_model"], compile=False, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - a damaged archive raises anything (zipfile, h5py)
        raise UnloadableModelError(
            f"unreadable Keras model {artifacts['keras_model']}: {err}"
        ) from None
    return Forecaster(model, scaler, spec)


class ForecasterModel(PythonModel):
    """MLflow pyfunc: a frame of recent prices in, the next business days' prices out.

    Input: a DataFrame with a ``date`` column (or a DatetimeIndex) and the price columns
    the model uses (``close``/``adj_close``/…; Yahoo's capitalised names are accepted).
    Params: ``horizon`` (days ahead, up to the model's). Output: ``date``, ``forecast``
    and, for a forecaster with prediction intervals, ``lower_80, upper_80, lower_95,
    upper_95`` (one pair per configured level).
    """

    def load_context(self, context: Any) -> None:  # noqa: D102
        self.forecaster = load_forecaster(context.artifacts)

    def predict(  # noqa: D102
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input.copy()
        frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
        if "date" in frame.columns:
            dates = frame.pop("date")  # integer steps stay integers
            steps = pd.api.types.is_integer_dtype(dates.dtype)
            frame = frame.set_index(
                pd.Index(dates) if steps else pd.DatetimeIndex(pd.to_datetime(dates))
            )
        frame = frame.sort_index()
        horizon = (params or {}).get("horizon")  # 0 is refused, not read as "default"
        return self.forecaster.forecast(frame, None if horizon is None else int(horizon))


def log_forecaster(tracker: Tracker, run_id: str, forecaster: Any, example: pd.DataFrame) -> str:
    """Log a Forecaster as a pyfunc model (``forecaster``) to an existing run.

    The pyfunc is logged from code (:data:`MODEL_CODE`) with its weights, scaler and
    spec as data files, so neither serving it nor this package's own loading
    (:func:`load_version`) unpickles anything from the store.

    Args:
        tracker: The open experiment.
        run_id: The variant's run (reopened for logging).
        forecaster: The Forecaster.
        example: Recent prices (a ``date`` column and price columns) for the signature.

    Returns:
        The logged model's URI.
    """
    import keras

    output = forecaster.forecast(example.set_index("date"))
    signature = infer_signature(example, output, params={"horizon": forecaster.spec.horizon})
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_id=run_id):
        artifacts = save_forecaster(forecaster, Path(tmp))
        info = mlflow.pyfunc.log_model(
            name="forecaster",
            python_model=str(MODEL_CODE),
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


def version_files(tracker: Tracker, ticker: str, version: str) -> str:
    """Where a registered version's files are (its storage location)."""
    return tracker.client.get_model_version_download_uri(registry_name(ticker), version)


def load_version(tracker: Tracker, ticker: str, version: str) -> Any:
    """Load a registered version's Forecaster from its data files (never a pickle).

    A local store's files are read in place; a server's are downloaded first.

    Raises:
        UnloadableModelError: If the version's files are missing or unreadable (the
            message names the file and the version).
    """
    where = version_files(tracker, ticker, version)
    label = f"{registry_name(ticker)} v{version}"
    with tempfile.TemporaryDirectory() as tmp:
        if where.startswith("file:"):
            folder = Path(url2pathname(urlparse(where).path))
        else:
            try:
                folder = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=f"models:/{registry_name(ticker)}/{version}",
                        dst_path=tmp,
                        tracking_uri=tracker.uri,
                    )
                )
            except MlflowException as err:
                if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                raise UnloadableModelError(f"{label}: {where} is missing") from None
        files = {
            "keras_model": str(folder / "artifacts" / KERAS_FILE),
            "scaler": str(folder / "artifacts" / SCALER_FILE),
            "spec": str(folder / "artifacts" / SPEC_FILE),
        }
        try:
            return load_forecaster(files)
        except UnloadableModelError as err:
            raise UnloadableModelError(f"{label}: {err}") from None


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


def find_version(tracker: Tracker, ticker: str, tag: str, value: str) -> Any | None:
    """The newest version of a ticker's model whose ``tag`` equals ``value``, or ``None``."""
    name = registry_name(ticker)
    try:
        versions = tracker.client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    found = [v for v in versions if v.tags.get(tag) == value]
    return max(found, key=lambda v: int(v.version)) if found else None


def tag_version(tracker: Tracker, ticker: str, version: str, key: str, value: str) -> None:
    """Set a tag on a registered version (e.g. why it cannot be loaded)."""
    tracker.client.set_model_version_tag(registry_name(ticker), version, key, value[:5000])


def set_champion(tracker: Tracker, ticker: str, version: str) -> None:
    """Point the ``champion`` alias at a version."""
    tracker.client.set_registered_model_alias(registry_name(ticker), CHAMPION, version)

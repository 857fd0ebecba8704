"""The GPU-dispatch boundary: what crosses processes between the ``forecast`` and ``train`` flows.

When training runs as a deployment on another worker, nothing can be passed in memory:
the validated prices go to the ticker's parent run as a parquet artifact and travel as a
``runs:/`` URI, and the ``train`` flow's result comes back as ``train_result.json`` on the
same run, referring to each variant's model by URI. This module is the only
place a run's own artifacts are read back, and only this path uses it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import mlflow.artifacts
import pandas as pd

from pricecast.stores.tracking.store import Tracker

TRAIN_RESULT = "train/train_result.json"
"""Artifact path of the ``train`` flow's serialised result on the ticker's parent run."""


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


def log_train_result(tracker: Tracker, parent_run_id: str, text: str) -> None:
    """Leave a dispatched ``train`` run's serialised result on the ticker's parent run."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / Path(TRAIN_RESULT).name
        file.write_text(text)
        tracker.client.log_artifact(parent_run_id, str(file), str(Path(TRAIN_RESULT).parent))


def read_train_result(tracker: Tracker, parent_run_id: str) -> str:
    """The serialised result a dispatched ``train`` run left on the parent run."""
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{parent_run_id}/{TRAIN_RESULT}",
            dst_path=tmp,
            tracking_uri=tracker.uri,
        )
        return Path(local).read_text()

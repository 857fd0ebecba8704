"""Test-wide isolation (Prefect, MLflow and FORECAST_HOME never touch the user's folders)
and the fixtures the integration and reliability tests share."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config):  # noqa: ARG001
    # Prefect reads its settings when first imported: point them at a scratch folder first.
    scratch = tempfile.mkdtemp(prefix="pricecast-tests-")
    os.environ["PREFECT_HOME"] = os.path.join(scratch, "prefect")
    os.makedirs(os.environ["PREFECT_HOME"], exist_ok=True)
    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = os.path.join(scratch, "prefect", "storage")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["FORECAST_HOME"] = os.path.join(scratch, "home")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API on a temporary sqlite database for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh FORECAST_HOME with the default (sqlite) MLflow store."""
    path = tmp_path / "home"
    monkeypatch.setenv("FORECAST_HOME", str(path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return path

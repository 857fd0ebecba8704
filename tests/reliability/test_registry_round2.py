"""Trusting the champion and the registry: a moved home, unloadable champions, no pickles.

One flow run crowns a champion in a template home (a price series with a four-day
cycle, which a small RNN forecasts far better than persistence); each test works on a
copy of that home, so every test also starts from a home that was moved.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pricecast.configs.loader import parse_config
from pricecast.flows.cli import main
from pricecast.flows.forecast import forecast
from pricecast.stores.tracking import registry
from pricecast.stores.tracking import store as stores

from .conftest import cli_env, one_line_error, run_cli, tiny_dict, write_yaml

MODEL = registry.registry_name("KO")


def cycle_csv(path: Path) -> Path:
    """A Yahoo-style CSV whose prices repeat a four-session cycle (+2 %, 0, -2 %, 0)."""
    dates = pd.bdate_range("2019-01-01", periods=260)
    price = 100 * np.exp(0.02 * np.sin(np.pi * np.arange(len(dates)) / 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "Date": dates.strftime("%Y-%m-%d"),
            "Open": price,
            "High": price * 1.001,
            "Low": price * 0.999,
            "Close": price,
            "Adj Close": price,
            "Volume": 1_000_000,
        }
    ).to_csv(path, index=False)
    return path


def config_dict(seed: int = 7) -> dict:
    """A tiny config on the cycle CSV, with a 10-origin backtest."""
    data = tiny_dict(epochs=3, source="csv", csv_path="data/{ticker}.csv")
    for key in ("start", "end"):
        data["data"].pop(key)
    data["training"].update(seed=seed, learning_rate=0.05, batch_size=32)
    data["backtest"] = {"n_origins": 10}
    return data


def run_flow(home: Path, out: Path, seed: int = 7) -> dict:
    """Run the forecast flow in-process on ``home``; the KO entry of its summary."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORECAST_HOME", str(home))
        state = forecast(
            config=parse_config(config_dict(seed), "test"),
            output_dir=str(out),
            return_state=True,
        )
    assert state.is_completed(), state.message
    return json.loads((out / "summary.json").read_text())["tickers"]["KO"]


@pytest.fixture(scope="module")
def crowned(prefect_api, tmp_path_factory) -> Path:
    """A home whose KO champion is v1 (the template the tests copy)."""
    home = tmp_path_factory.mktemp("crowned") / "home"
    cycle_csv(home / "data" / "KO.csv")
    bt = run_flow(home, home.parent / "out")["backtest"]
    assert bt["promoted"] and bt["champion_version"] == "1", bt["decision"]
    return home


@pytest.fixture
def copy_of(crowned, tmp_path, monkeypatch):
    """A copy of the crowned home at ``tmp_path/name``, made FORECAST_HOME."""

    def make(name: str = "home") -> Path:
        home = tmp_path / name
        shutil.copytree(crowned, home)
        monkeypatch.setenv("FORECAST_HOME", str(home))
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return home

    return make


def client(home: Path) -> MlflowClient:
    """A client on the home's store, opened as the product opens it (after a move too)."""
    return MlflowClient(stores.open_store(home).uri)


def champion(home: Path):
    return client(home).get_model_version_by_alias(MODEL, "champion")


def model_files(home: Path, version: str) -> Path:
    """The folder of a version's data files (model.keras, scaler.json, spec.json)."""
    location = client(home).get_model_version_download_uri(MODEL, version)
    return Path(location.removeprefix("file://")) / "artifacts"


def store_text(db: Path) -> str:
    """Every text value of the sqlite store, joined (to search for stale paths)."""
    with sqlite3.connect(db) as conn:
        out = []
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                out.extend(v for v in row if isinstance(v, str))
    return "\n".join(out)


def predict_cli(home: Path, tmp_path: Path):
    cfg = write_yaml(tmp_path / "predict.yaml", config_dict())
    return run_cli(
        ["predict", "--ticker", "KO", "--config", str(cfg), "--output", str(tmp_path / "pred")],
        cli_env(home),
        cwd=tmp_path,
    )


# --------------------------------------------------------------------------- item 1


def test_moved_home_keeps_its_champion_and_writes_only_inside(copy_of, tmp_path, monkeypatch):
    old = copy_of("old")
    new = tmp_path / "moved"
    shutil.move(old, new)  # `mv old moved`
    monkeypatch.setenv("FORECAST_HOME", str(new))

    cfg = write_yaml(tmp_path / "c.yaml", config_dict())
    assert main(["predict", "--ticker", "KO", "--config", str(cfg)]) == 0
    assert (new / "predictions" / "KO").is_dir()

    bt = run_flow(new, tmp_path / "out")["backtest"]
    assert bt["champion_version"] == "1"
    assert not old.exists(), "a run after the move wrote to the old home"
    text = store_text(new / "mlflow.db")
    assert old.resolve().as_uri() + "/" not in text
    assert (new / "mlartifacts").resolve().as_uri() in text
    for version in client(new).search_model_versions(f"name = '{MODEL}'"):
        assert (model_files(new, version.version) / "model.keras").is_file()


def test_unloadable_champion_is_named_reported_and_replaced(copy_of, tmp_path):
    home = copy_of()
    missing = model_files(home, "1") / "model.keras"
    missing.unlink()

    proc = predict_cli(home, tmp_path)
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert str(missing) in line and "cannot be loaded" in line and "v1" in line

    bt = run_flow(home, tmp_path / "out", seed=8)["backtest"]
    assert bt["decision"].startswith("champion v1 cannot be loaded")
    assert str(missing) in bt["decision"] and "replaced" in bt["decision"]
    assert bt["promoted"] and bt["champion_version"] == bt["registered_version"] == "2"
    assert str(missing) in client(home).get_model_version(MODEL, "1").tags["unloadable"]
    assert predict_cli(home, tmp_path).returncode == 0


# --------------------------------------------------------------------------- item 2


def test_identical_rerun_adds_no_version_and_keeps_the_alias(copy_of, tmp_path):
    home = copy_of()
    v1 = champion(home)
    tags = v1.tags
    assert tags["procedure"].startswith("refit on all sessions")
    assert tags["scored"].startswith("walk-forward backtest of rnn's configuration (10 origins")
    assert tags["trained_on"] == "2019-01-01..2019-12-30"
    spec = json.loads((model_files(home, "1") / "spec.json").read_text())
    assert spec["trained_until"] == "2019-12-30"  # every row, not the training span

    for run in ("again", "once more"):
        bt = run_flow(home, tmp_path / run)["backtest"]
        assert bt["registered_version"] is None
        assert bt["champion_version"] == "1" and not bt["promoted"]
        assert "identical to v1 (same data, config and seed)" in bt["decision"]
    assert len(client(home).search_model_versions(f"name = '{MODEL}'")) == 1

    other = run_flow(home, tmp_path / "seed 9", seed=9)["backtest"]
    assert other["registered_version"] == "2"
    assert client(home).get_model_version(MODEL, "2").tags["fingerprint"] != tags["fingerprint"]


# --------------------------------------------------------------------------- item 10


class Payload:
    """Unpickling this creates ``marker``: proof that a stored pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_no_pickle_from_the_store_is_ever_executed(copy_of, tmp_path):
    home = copy_of()
    stored = [p for p in home.rglob("*") if p.suffix in (".pkl", ".joblib", ".pickle")]
    assert stored == []
    folder = model_files(home, "1")
    assert json.loads((folder / "scaler.json").read_text())["method"] == "minmax"
    mlmodel = (folder.parent / "MLmodel").read_text()
    assert "model_code_path" in mlmodel and "python_model.pkl" not in mlmodel

    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(Payload(marker))
    for path in (
        folder / "scaler.joblib",
        folder.parent / "python_model.pkl",
        *(run / "artifacts" / "scaler.joblib" for run in (home / "mlartifacts").glob("*/*")),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)

    proc = predict_cli(home, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    forecaster = registry.load_version(stores.open_store(home), "KO", "1")  # champion rescoring
    assert forecaster.spec.variant == "rnn"
    assert not marker.exists()

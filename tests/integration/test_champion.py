"""Backtest inside the flow, the guarded champion alias, and `forecast predict`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.keras import load_model as load_keras_model
from mlflow.tracking import MlflowClient

from pricecast.configs.loader import parse_config
from pricecast.flows.cli import main
from pricecast.flows.forecast import forecast
from pricecast.models.forecaster import Forecaster, ForecastSpec
from pricecast.stores import price_files
from pricecast.stores.tracking import registry
from pricecast.stores.tracking import store as stores
from pricecast.tasks.dataset import build_dataset
from pricecast.tasks.validate import validate_prices

pytestmark = pytest.mark.slow

VARIANTS = [
    {"name": "rnn", "cell": "rnn", "units": 4},
    {"name": "gru", "cell": "gru", "units": 4},
]


def _config(variants=VARIANTS, experiment="it-champion", **training):
    return parse_config(
        {
            "experiment": experiment,
            "data": {
                "tickers": ["KO"],
                "source": "sample",
                "start": "2018-01-01",
                "end": "2020-06-30",
            },
            "features": {"window": 10, "horizon": 3},
            "split": {"test_fraction": 0.05, "val_fraction": 0.1},
            "variants": variants,
            "training": {"epochs": 2, "batch_size": 64, "seed": 3, **training},
            "backtest": {"n_origins": 30, "refit_every": 0},
            "champion": {"metric": "mase", "h": 1},
        },
        "test",
    )


def _crown(store: stores.Tracker, summary: dict, config) -> str:
    """Register the run's rnn as champion, as the flow does when its guard promotes one."""
    ko = summary["tickers"]["KO"]
    frame = validate_prices(price_files.read_sample("KO"), "KO").frame.loc[
        "2018-01-01":"2020-06-30"
    ]
    data = build_dataset(frame, "KO", config.features, config.split, config.data.target)
    spec = ForecastSpec(
        "KO", "adj_close", data.features, 10, 3, data.transform, "rnn", "2020-01-01"
    )
    model = load_keras_model(ko["mlflow"]["model_uris"]["rnn"])
    run_id = ko["mlflow"]["runs"]["rnn"]
    uri = registry.log_forecaster(
        store, run_id, Forecaster(model, data.scaler, spec), frame.tail(20).reset_index()
    )
    version = registry.register(store, "KO", uri, run_id, {"variant": "rnn"})
    registry.set_champion(store, "KO", version)
    return version


def test_backtest_guard_and_predict(prefect_api, home, tmp_path):
    config = _config()
    out = tmp_path / "run1"
    state = forecast(config=config, output_dir=str(out), return_state=True)
    assert state.is_completed(), state.message
    summary = json.loads((out / "summary.json").read_text())
    bt = summary["tickers"]["KO"]["backtest"]
    assert bt["n_origins"] == 30 and bt["horizon"] == 3 and bt["seconds"] > 0
    assert set(bt["models"]) == {"rnn", "gru", "persistence", "drift", "moving_average"}
    for per_h in bt["models"].values():
        assert all(
            len(per_h[m]) == 3 for m in ("rmse", "mae", "mape", "mase", "directional_accuracy")
        )
    assert bt["best_model"] == min(bt["models"], key=lambda m: bt["models"][m]["mase"][0])
    assert bt["decision"]
    assert (out / bt["plot"]).is_file()
    # The test span (5 %, 31 days) starts before the 30 origins: each variant trains apart
    # for the test table, then for the backtest (a warning says so).
    ko = summary["tickers"]["KO"]
    assert ko["timings"]["fits"] == {"rnn": 2.0, "gru": 2.0}
    extra = {bt["refit_variant"]: 1} if bt["registered_version"] else {}
    assert ko["trainings"] == {n: 2 + extra.get(n, 0) for n in ("rnn", "gru")}

    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    parent = client.get_run(summary["tickers"]["KO"]["mlflow"]["parent_run_id"])
    assert parent.data.tags["backtest_best_model"] == bt["best_model"]
    assert parent.data.tags["champion_decision"] == bt["decision"]
    names = {a.path for a in client.list_artifacts(parent.info.run_id, "backtest")}
    assert names == {
        "backtest/backtest.csv",
        "backtest/backtest.png",
        "backtest/backtest_metrics.json",
    }
    table = pd.read_csv(
        client.download_artifacts(parent.info.run_id, "backtest/backtest.csv", str(tmp_path))
    )
    assert list(table.columns) == [
        *["cutoff", "date", "h", "actual", "predicted", "model", "anchor"],
        *["lower_80", "upper_80", "lower_95", "upper_95"],
    ]
    assert (table["lower_95"] <= table["lower_80"]).all()
    assert (table["upper_80"] <= table["upper_95"]).all()
    # Intervals are scored for every model on the same origins, per step ahead.
    for per_h in bt["models"].values():
        assert all(len(per_h[m]) == 3 for m in ("coverage_80", "coverage_95", "interval_score"))
        assert 0.5 <= per_h["coverage_95"][0] <= 1.0
    rnn_run = client.get_run(summary["tickers"]["KO"]["mlflow"]["runs"]["rnn"])
    assert "backtest_coverage_80" in rnn_run.data.metrics
    assert (pd.to_datetime(table["cutoff"]) < pd.to_datetime(table["date"])).all()

    # A champion exists; a deliberately bad model must not take the alias.
    store = stores.open_store(home)
    crowned = _crown(store, summary, config)
    bad = _config(
        [{"name": "bad", "cell": "rnn", "units": 1}],
        learning_rate=1.0,
        epochs=1,
    )
    out2 = tmp_path / "run2"
    state = forecast(config=bad, output_dir=str(out2), return_state=True)
    assert state.is_completed(), state.message
    bt2 = json.loads((out2 / "summary.json").read_text())["tickers"]["KO"]["backtest"]
    assert bt2["promoted"] is False
    assert bt2["champion_version"] == crowned
    assert registry.champion_version(store, "KO").version == int(crowned)

    # Forward forecast with the champion: the next business days after the last price.
    pred_dir = tmp_path / "pred"
    assert main(["predict", "--ticker", "KO", "--source", "sample", "--output", str(pred_dir)]) == 0
    fc = pd.read_csv(pred_dir / "forecast.csv", parse_dates=["date"])
    last = validate_prices(price_files.read_sample("KO"), "KO").frame
    assert list(fc["date"]) == list(
        pd.bdate_range("2020-12-14", periods=3)
    )  # sample ends Fri 12-11
    last_price = float(last["adj_close"].iloc[-1])
    assert np.all(np.abs(fc["forecast"] / last_price - 1) < 0.2)  # prices, not scaled values
    assert (pred_dir / "forecast.png").stat().st_size > 5_000

    assert main(["predict", "--ticker", "KO", "--horizon", "5", "--source", "sample"]) == 1
    assert main(["predict", "--ticker", "MSFT", "--source", "sample"]) == 1

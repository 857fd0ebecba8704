"""The forecast flow against a real Prefect API and real MLflow stores."""

from __future__ import annotations

import datetime as dt
import io
import json
from importlib import resources
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from pricecast.configs.schema import BacktestConfig
from pricecast.flows.forecast import forecast
from pricecast.stores import price_files
from pricecast.tasks.dataset import build_dataset
from pricecast.tasks.features import prices_from_targets
from pricecast.tasks.forecasters import origin_windows
from pricecast.tasks.metrics import METRICS
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.validate import validate_prices

from .conftest import small_config

pytestmark = pytest.mark.slow


def _runs(client: MlflowClient, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=500)
    parents = [r for r in runs if r.data.tags.get("pricecast.kind") == "ticker"]
    children = [r for r in runs if r.data.tags.get("pricecast.kind") == "variant"]
    return parents, children


def _check_child(client: MlflowClient, child, config, tmp: Path) -> None:
    """Metrics, loss history, PNG, CSV and a model that reloads and predicts the same."""
    assert child.info.status == "FINISHED"
    metrics = child.data.metrics
    for m in METRICS:
        assert np.isfinite(metrics[m]), m
    # Persistence calls no direction: its directional accuracy is left out, not 0.
    for m in set(METRICS) - {"directional_accuracy"}:
        assert np.isfinite(metrics[f"persistence_{m}"]), m
    assert "persistence_directional_accuracy" not in metrics
    epochs = int(metrics["epochs_run"])
    assert 1 <= epochs <= config.training.epochs
    loss = client.get_metric_history(child.info.run_id, "loss")
    val_loss = client.get_metric_history(child.info.run_id, "val_loss")
    assert [p.step for p in loss] == list(range(epochs))
    assert len(val_loss) == epochs

    names = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"forecast.png", "predictions.csv", "scaler.json"} <= names
    assert not [n for n in names if n.endswith((".joblib", ".pkl"))]  # data, never pickles
    local = Path(client.download_artifacts(child.info.run_id, "", str(tmp / child.info.run_id)))
    png = (local / "forecast.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.size[0] > 400
    preds = pd.read_csv(local / "predictions.csv", parse_dates=["date"])
    assert list(preds.columns) == ["origin", "date", "h", "actual", "predicted", "persistence"]
    assert len(preds) > 0 and preds["actual"].gt(0).all()

    # The logged model reloads through pyfunc and reproduces the logged predictions.
    ticker = child.data.tags["ticker"]
    frame = validate_prices(price_files.read_sample(ticker), ticker).frame
    frame = frame.loc[str(config.data.start) : str(config.data.end)]
    data = build_dataset(frame, ticker, config.features, config.split, config.data.target)
    x_test, _ = data.part("test")
    model_uri = child.data.tags.get("model_uri") or _model_uri(client, child)
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    scaled = np.asarray(pyfunc.predict(x_test), dtype="float64")
    scaler = SeriesScaler.from_state(json.loads((local / "scaler.json").read_text()))
    prices = prices_from_targets(
        scaler.inverse_targets(scaled), data.anchors("test"), data.transform
    )
    np.testing.assert_allclose(prices.ravel(), preds["predicted"].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(data.actual_prices("test").ravel(), preds["actual"].to_numpy())


def _model_uri(client: MlflowClient, run) -> str:
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    assert len(models) == 1
    return models[0].model_uri


def _run_and_check(config, out: Path, tracking_uri: str, tmp: Path) -> dict:
    state = forecast(config=config, output_dir=str(out), return_state=True)
    assert state.is_completed(), state.message
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["tickers"]) == set(config.data.tickers)
    assert summary["failed"] == {}
    for info in summary["tickers"].values():
        assert set(info["models"]) == {"rnn", "lstm", "gru", "persistence"}
        assert info["source"] == "sample"
        assert (out / info["plot"]).is_file()

    client = MlflowClient(tracking_uri)
    parents, children = _runs(client, config.experiment)
    assert len(parents) == 2
    for parent in parents:
        assert parent.info.status == "FINISHED"
        assert parent.data.params["data.source_used"] == "sample"
        assert parent.data.tags["prefect.flow_run_id"] == summary["flow_run_id"]
        mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert sorted(c.data.tags["variant"] for c in mine) == ["gru", "lstm", "rnn"]
        for child in mine:
            _check_child(client, child, config, tmp)
    return summary


def test_flow_on_sqlite_store(prefect_api, home, tmp_path):
    config = small_config()
    summary = _run_and_check(config, tmp_path / "out", f"sqlite:///{home / 'mlflow.db'}", tmp_path)
    assert summary["tracking_uri"].startswith("sqlite:")

    # Prefect artifacts of the flow run: the comparison table (persistence included) and,
    # with no MLflow UI running for a local store, the command that starts one.
    rows, links, name = _prefect_side(summary["flow_run_id"])
    assert {(r["ticker"], r["model"]) for r in rows} >= {("KO", "persistence"), ("MSFT", "lstm")}
    assert sum(r["best"] for r in rows if r["ticker"] == "KO") == 1
    assert f"mlflow ui --backend-store-uri sqlite:///{home / 'mlflow.db'}" in links
    assert "](#/" not in links and "(None)" not in links
    parent = summary["tickers"]["KO"]["mlflow"]["parent_run_id"]
    assert f"`{parent}`" in links
    assert name == f"KO, MSFT {dt.date.today()}"


def _prefect_side(flow_run_id: str) -> tuple[list[dict], str, str]:
    """The flow run's table artifact rows, its markdown artifact and the run's name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        name = client.read_flow_run(flow_run_id).name
    by_key = {a.key: a for a in arts}
    table = by_key["forecast-metrics"].data
    rows = json.loads(table) if isinstance(table, str) else table
    return rows, by_key["forecast-mlflow-runs"].data, name


def test_flow_against_mlflow_server(prefect_api, home, tmp_path, mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    config = small_config(("KO", "JPM"), epochs=1).model_copy(update={"experiment": "it-server"})
    summary = _run_and_check(config, tmp_path / "out", mlflow_server, tmp_path)
    assert summary["tracking_uri"] == mlflow_server
    # The links open the tracking server's own UI, absolute, one per run.
    _, links, _ = _prefect_side(summary["flow_run_id"])
    parent = summary["tickers"]["KO"]["mlflow"]["parent_run_id"]
    experiment = summary["experiment_id"]
    base = mlflow_server.rstrip("/")
    view = "?workflowType=machine_learning"
    assert f"]({base}/#/experiments/{experiment}/runs/{parent}{view})" in links


def test_bad_ticker_fails_alone(prefect_api, home, tmp_path):
    data_dir = home / "csv"  # config paths must stay inside FORECAST_HOME (or the cwd)
    data_dir.mkdir(parents=True)
    with resources.as_file(resources.files("pricecast.sample") / "KO.csv") as path:
        good = pd.read_csv(path)
    good.to_csv(data_dir / "KO.csv", index=False)
    bad = good.copy()
    bad.loc[bad["Date"] == "2019-03-15", "Close"] = -1.0
    bad.to_csv(data_dir / "BAD.csv", index=False)
    config = small_config(
        ("KO", "BAD"), epochs=1, source="csv", csv_path=str(data_dir / "{ticker}.csv")
    )
    config = config.model_copy(update={"experiment": "it-bad"})
    out = tmp_path / "out"
    state = forecast(config=config, output_dir=str(out), return_state=True)
    assert state.is_failed()
    assert "BAD" in state.message and "price must be positive" in state.message
    assert "2019-03-15" in state.message and "close" in state.message

    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["tickers"]) == ["KO"]
    assert "BAD" in summary["failed"]

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    parents, children = _runs(client, "it-bad")
    status = {p.data.tags["ticker"]: p.info.status for p in parents}
    assert status == {"KO": "FINISHED", "BAD": "FAILED"}
    bad_parent = next(p for p in parents if p.data.tags["ticker"] == "BAD")
    assert "price must be positive" in bad_parent.data.tags["error"]
    assert len([c for c in children if c.data.tags["ticker"] == "KO"]) == 3
    assert not [c for c in children if c.data.tags["ticker"] == "BAD"]


def test_one_training_per_variant_with_a_backtest(
    prefect_api, home, tmp_path, monkeypatch, keras_fits
):
    calls = keras_fits
    base = small_config(("KO",), epochs=1)
    config = base.model_copy(
        update={
            "experiment": "it-onefit",
            "variants": base.variants[:2],
            "backtest": BacktestConfig(n_origins=40),
        }
    )
    out = tmp_path / "out"
    state = forecast(config=config, output_dir=str(out), return_state=True)
    assert state.is_completed(), state.message
    ko = json.loads((out / "summary.json").read_text())["tickers"]["KO"]
    bt = ko["backtest"]
    assert ko["timings"]["fits"] == {"rnn": 1.0, "lstm": 1.0}
    refit = 1 if bt["registered_version"] else 0
    expected = {"rnn": 1, "lstm": 1}
    if refit:
        expected[bt["refit_variant"]] += 1
    assert ko["trainings"] == expected
    assert len(calls) == sum(expected.values())  # Keras' own count: nothing trained twice

    # The test table is the backtest's rows at the test origins, bands included.
    test = pd.read_csv(out / "KO" / "predictions.csv", parse_dates=["origin", "date"])
    rows = pd.read_csv(out / "KO" / "backtest.csv", parse_dates=["cutoff", "date"])
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    frame = validate_prices(price_files.read_sample("KO"), "KO").frame
    frame = frame.loc[str(config.data.start) : str(config.data.end)]
    data = build_dataset(frame, "KO", config.features, config.split, config.data.target)
    origins = data.origins[data.split == "test"]
    for name in ("rnn", "lstm"):
        mine = rows[rows["model"] == name].set_index("cutoff").loc[test["origin"]]
        np.testing.assert_array_equal(test[name].to_numpy(), mine["predicted"].to_numpy())
        run = client.get_run(ko["mlflow"]["runs"][name])
        assert run.data.metrics["fits"] == 1
        # No leak: the one fit ended before the first test target day.
        last_row = run.data.tags["trained_on"].split("..")[1]
        assert pd.Timestamp(last_row) < pd.Timestamp(ko["test_span"][0])
        # The child run's model and scaler are that fit's: they give the test table.
        local = Path(client.download_artifacts(run.info.run_id, "scaler.json", str(tmp_path)))
        scaler = SeriesScaler.from_state(json.loads(local.read_text()))
        model = mlflow.pyfunc.load_model(ko["mlflow"]["model_uris"][name])
        x = origin_windows(data.series, scaler, origins, data.window)
        scaled = np.asarray(model.predict(x), dtype="float64")
        prices = prices_from_targets(
            scaler.inverse_targets(scaled), data.anchors("test"), data.transform
        )
        np.testing.assert_allclose(prices[:, 0], test[name].to_numpy(), rtol=1e-5)

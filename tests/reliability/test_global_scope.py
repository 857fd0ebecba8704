"""``training.scope: global`` through the CLI: one model per variant, trained once, for all."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from .conftest import cli_env, run_cli, tiny_dict, write_yaml


def test_global_run_trains_one_model_per_variant_and_scores_every_ticker(home, tmp_path):
    data = tiny_dict(("KO", "MSFT", "JPM"), variants=("rnn", "gru"), experiment="glob")
    data["training"]["scope"] = "global"
    data["backtest"] = {"n_origins": 25}
    data["champion"] = {"register_winner": False}
    config = write_yaml(tmp_path / "global.yaml", data)
    out = tmp_path / "out"
    proc = run_cli(["run", "--config", str(config), "--output", str(out)], cli_env(home))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["tickers"]) == {"KO", "MSFT", "JPM"} and not summary["failed"]
    uris = {v: set() for v in ("rnn", "gru")}
    for ticker, info in summary["tickers"].items():
        for model in ("rnn", "gru", "persistence"):
            assert np.isfinite(info["models"][model]["mase"]), (ticker, model)
        backtest = info["backtest"]
        assert backtest["n_origins"] == 25
        for model in ("rnn", "gru", "persistence", "drift"):
            assert np.isfinite(backtest["models"][model]["mase"][0]), (ticker, model)
        for v in uris:
            uris[v].add(info["mlflow"]["model_uris"][v])
        # The pooled training is the global run's, not counted again per ticker.
        assert info["timings"]["train"] == {"rnn": 0.0, "gru": 0.0}
        assert info["timings"]["fits"] == {"rnn": 0.0, "gru": 0.0}
        assert info["trainings"] == {"rnn": 0, "gru": 0}
        # The test table is the walk-forward's rows at the test origins.
        test = pd.read_csv(out / ticker / "predictions.csv", parse_dates=["origin"])
        rows = pd.read_csv(out / ticker / "backtest.csv", parse_dates=["cutoff"])
        for v in uris:
            mine = rows[rows["model"] == v].set_index("cutoff").loc[test["origin"]]
            np.testing.assert_array_equal(test[v].to_numpy(), mine["predicted"].to_numpy())
    # One model per variant serves every ticker.
    assert all(len(u) == 1 for u in uris.values())

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("glob")
    runs = client.search_runs([exp.experiment_id], max_results=200)
    pooled = {r.data.tags["variant"]: r for r in runs if r.data.tags["pricecast.kind"] == "global"}
    assert set(pooled) == {"rnn", "gru"}
    for name, run in pooled.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["tickers"] == "KO,MSFT,JPM"
        assert run.data.tags["model_uri"] in uris[name]
        assert run.data.metrics["tickers"] == 3 and run.data.metrics["pooled_samples"] > 300
        assert len(client.get_metric_history(run.info.run_id, "loss")) == 1  # one epoch
        # One pooled training per variant, on rows before every ticker's test span.
        assert run.data.metrics["fits"] == 1
        last_row = pd.Timestamp(run.data.tags["trained_on"].split("..")[1])
        assert all(last_row < pd.Timestamp(i["test_span"][0]) for i in summary["tickers"].values())
    children = [r for r in runs if r.data.tags["pricecast.kind"] == "variant"]
    assert len(children) == 6
    for child in children:
        assert child.data.tags["global_run_id"] == pooled[child.data.tags["variant"]].info.run_id
        assert np.isfinite(child.data.metrics["rmse"])
        first, last = child.data.tags["trained_on"].split("..")
        test_span = summary["tickers"][child.data.tags["ticker"]]["test_span"]
        assert pd.Timestamp(first) <= pd.Timestamp(last) < pd.Timestamp(test_span[0])
        assert "backtest.csv" in {a.path for a in client.list_artifacts(child.info.run_id)}

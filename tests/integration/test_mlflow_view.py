"""What a user sees in MLflow after one small flow run: view, table, steps, names, tags."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prefect.settings import PREFECT_UI_URL, temporary_settings

from pricecast.configs.loader import parse_config
from pricecast.flows.forecast import forecast
from pricecast.stores.tracking import store
from pricecast.tasks.metrics import METRICS

pytestmark = pytest.mark.slow

EXPERIMENT = "it-view"


@pytest.fixture(scope="module")
def flow_run(prefect_api, tmp_path_factory):
    """One ticker, two variants, a horizon of two and a 20-origin backtest, no Prefect UI."""
    root = tmp_path_factory.mktemp("view")
    config = parse_config(
        {
            "experiment": EXPERIMENT,
            "data": {"tickers": ["KO"], "source": "sample", "start": "2018-06-01",
                     "end": "2020-06-30"},
            "features": {"window": 10, "horizon": 2},
            "split": {"test_fraction": 0.05, "val_fraction": 0.1},
            "variants": [{"name": "rnn", "cell": "rnn", "units": 4},
                         {"name": "gru", "cell": "gru", "units": 4}],
            "training": {"epochs": 1, "batch_size": 64, "seed": 3},
            "backtest": {"n_origins": 20, "refit_every": 0},
            "champion": {"metric": "mase", "h": 1, "register_winner": False},
        },
        "test",
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORECAST_HOME", str(root / "home"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        # Prefect without a UI URL, as `forecast run` without a server has.
        with temporary_settings(updates={PREFECT_UI_URL: ""}):
            state = forecast(config=config, output_dir=str(root / "out"), return_state=True)
        assert state.is_completed(), state.message
        uri = f"sqlite:///{root / 'home' / 'mlflow.db'}"
        tracker = store.open_experiment(EXPERIMENT, root / "home", uri)
    client = MlflowClient(uri)
    runs = client.search_runs([tracker.experiment_id], max_results=100)
    parent = next(r for r in runs if r.data.tags["pricecast.kind"] == "ticker")
    children = {
        r.data.tags["variant"]: r for r in runs if r.data.tags["pricecast.kind"] == "variant"
    }
    summary = json.loads((root / "out" / "summary.json").read_text())
    return client, tracker, parent, children, summary, root


def test_runs_open_in_the_classic_view_with_dated_names_and_no_dead_link(flow_run, monkeypatch):
    client, tracker, parent, children, _, _ = flow_run
    exp = client.get_experiment(tracker.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    # A local store has no UI running: no link (the report gives the ``mlflow ui`` command);
    # with a UI address, the link opens the classic view.
    assert tracker.run_url(parent.info.run_id) is None
    monkeypatch.setenv("MLFLOW_UI_URL", "http://127.0.0.1:5000")
    url = tracker.run_url(parent.info.run_id)
    assert url == (
        f"http://127.0.0.1:5000/#/experiments/{tracker.experiment_id}/runs/"
        f"{parent.info.run_id}?workflowType=machine_learning"
    )

    last = parent.data.params["data.last_date"]
    assert parent.info.run_name == f"KO {last}"
    assert {c.info.run_name for c in children.values()} == {f"KO rnn {last}", f"KO gru {last}"}
    for run in (parent, *children.values()):
        assert "prefect.flow_run_url" not in run.data.tags
        assert "prefect.flow_run_id" in run.data.tags
    assert parent.data.tags["test_best_by_rmse"] in {"rnn", "gru", "persistence"}
    assert "best_by_rmse" not in parent.data.tags


def test_metric_steps_timing_prefix_and_undefined_direction(flow_run):
    client, _, parent, children, summary, _ = flow_run
    pid = parent.info.run_id
    for key in parent.data.metrics:  # single values at step 0; per-step series by h
        steps = [m.step for m in client.get_metric_history(pid, key)]
        assert steps == ([1, 2] if "_by_h_" in key else [0]), key
    assert "backtest_mase_by_h_gru" in parent.data.metrics
    assert "backtest_directional_accuracy_persistence" not in parent.data.metrics
    assert "backtest_directional_accuracy_drift" in parent.data.metrics

    for child in children.values():
        metrics = child.data.metrics
        cid = child.info.run_id
        assert {"time/train_seconds", "time/samples_per_second", "time/backtest_seconds"} <= set(
            metrics
        )
        assert not [k for k in metrics if "second" in k and not k.startswith("time/")]
        assert "persistence_directional_accuracy" not in metrics
        assert "persistence_mase" in metrics and "directional_accuracy" in metrics
        for key in ("skill_vs_persistence", "backtest_skill_vs_persistence", "mase"):
            assert [m.step for m in client.get_metric_history(cid, key)] == [0], key
        assert len(client.get_metric_history(cid, "loss")) == 1  # the epochs: a real series

    ko = summary["tickers"]["KO"]
    assert ko["models"]["persistence"]["directional_accuracy"] is None
    assert ko["backtest"]["models"]["persistence"]["directional_accuracy"] == [None, None]


def test_comparison_table_ranks_every_model_with_skill_recomputed(flow_run):
    client, _, parent, children, _, root = flow_run
    pid = parent.info.run_id
    local = Path(client.download_artifacts(pid, "", str(root / "artifacts")))
    raw = json.loads((local / "comparison.json").read_text())
    table = pd.DataFrame(raw["data"], columns=raw["columns"]).set_index("model")
    assert list(table.index) == ["rnn", "gru", "persistence", "drift", "moving_average"]
    names = [*METRICS, "skill_vs_persistence"]
    point = [f"{p}_{m}" for p in ("test", "backtest") for m in names]
    assert list(table.columns[: len(point)]) == point
    # Then the backtest's interval scores, as logged on the parent run for each model.
    bands = list(table.columns[len(point) :])
    assert {"backtest_coverage_80", "backtest_coverage_95", "backtest_interval_score"} <= set(bands)
    logged = parent.data.metrics
    for name in table.index:
        for column in bands:
            value = table.loc[name, column]
            key = f"{column}_{name}"
            assert (math.isnan(value) and key not in logged) or value == pytest.approx(logged[key])

    # Test span: from each child's own metrics; persistence is 0 by definition.
    for name, child in children.items():
        m = child.data.metrics
        skill = 1 - m["mase"] / m["persistence_mase"]
        assert m["skill_vs_persistence"] == pytest.approx(skill)
        assert table.loc[name, "test_skill_vs_persistence"] == pytest.approx(skill)
        assert table.loc[name, "test_rmse"] == pytest.approx(m["rmse"])
    assert table.loc["persistence", "test_skill_vs_persistence"] == 0.0
    assert table.loc["drift"].filter(regex="^test_").isna().all()  # only in the backtest
    assert math.isnan(table.loc["persistence", "test_directional_accuracy"])
    assert math.isnan(table.loc["persistence", "backtest_directional_accuracy"])

    # Backtest: from the logged rows; MASE shares its scale, so its ratio is MAE's.
    rows = pd.read_csv(local / "backtest" / "backtest.csv")
    mae = (rows["actual"] - rows["predicted"]).abs().groupby(rows["model"]).mean()
    for name in table.index:
        skill = 1 - mae[name] / mae["persistence"]
        assert table.loc[name, "backtest_skill_vs_persistence"] == pytest.approx(skill, abs=1e-9)
        if name in children:
            logged = children[name].data.metrics["backtest_skill_vs_persistence"]
            assert logged == pytest.approx(skill, abs=1e-9)
    best = table["backtest_skill_vs_persistence"].idxmax()
    assert table.loc[best, "backtest_mase"] == table["backtest_mase"].min()

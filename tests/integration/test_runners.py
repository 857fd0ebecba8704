"""The flow's task runner is chosen in config: Dask gives the same metrics as threads."""

from __future__ import annotations

import json

import pytest

from pricecast.flows.forecast import with_runner

from .conftest import small_config

pytestmark = pytest.mark.slow


def _metrics(kind: str, tmp_path) -> dict:
    config = small_config(epochs=1).model_copy(update={"experiment": f"it-runner-{kind}"})
    config.runner.kind = kind
    config.runner.max_workers = 2
    out = tmp_path / kind
    state = with_runner(config)(config=config, output_dir=str(out), return_state=True)
    assert state.is_completed(), state.message
    summary = json.loads((out / "summary.json").read_text())
    return {t: info["models"] for t, info in summary["tickers"].items()}


def test_dask_local_cluster_matches_threads(prefect_api, home, tmp_path):
    threads = _metrics("threads", tmp_path)
    dask = _metrics("dask", tmp_path)  # a 2-worker LocalCluster on 127.0.0.1
    assert set(dask) == {"KO", "MSFT"}
    for ticker, models in threads.items():
        assert set(models) == {"rnn", "lstm", "gru", "persistence"}
        for name, metrics in models.items():
            for key, value in metrics.items():
                if value is None:  # undefined (persistence's directional accuracy)
                    assert dask[ticker][name][key] is None, (ticker, name, key)
                    continue
                assert dask[ticker][name][key] == pytest.approx(value, rel=1e-9), (
                    ticker,
                    name,
                    key,
                )


def test_global_scope_on_dask_matches_threads(prefect_api, home, tmp_path):
    def run(kind: str) -> dict:
        config = small_config(epochs=1).model_copy(update={"experiment": f"it-global-{kind}"})
        config.training.scope = "global"
        config.champion.register_winner = False
        config.runner.kind = kind
        config.runner.max_workers = 2
        out = tmp_path / f"global-{kind}"
        state = with_runner(config)(config=config, output_dir=str(out), return_state=True)
        assert state.is_completed(), state.message
        summary = json.loads((out / "summary.json").read_text())
        for info in summary["tickers"].values():
            assert len(set(info["mlflow"]["model_uris"].values())) == 3
        return {t: info["models"] for t, info in summary["tickers"].items()}

    threads, dask = run("threads"), run("dask")
    assert set(dask) == {"KO", "MSFT"}
    for ticker, models in threads.items():
        for name in ("rnn", "lstm", "gru"):
            assert dask[ticker][name]["rmse"] == pytest.approx(models[name]["rmse"], rel=1e-5)

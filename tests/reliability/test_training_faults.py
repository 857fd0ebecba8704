"""Rows 11 and 12: a variant whose training diverges; a run killed in the middle of training."""

from __future__ import annotations

import json
import socket
import time

import keras
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from pricecast.flows.forecast import forecast
from pricecast.models import variant as variant_module
from pricecast.stores import price_files

from .conftest import (
    cli_env,
    kill_group,
    run_cli,
    running_variant,
    start_cli,
    tiny_config,
    tiny_dict,
    write_yaml,
    yahoo_history,
)

# --------------------------------------------------------------------------- row 11


class _PoisonWeights(keras.callbacks.Callback):
    """Turns every weight into NaN before the second batch: the loss becomes NaN."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 1:
            self.model.set_weights([np.full(w.shape, np.nan) for w in self.model.get_weights()])


def test_diverging_variant_fails_alone(prefect_api, home, tmp_path, monkeypatch):
    """No configuration diverges reliably (Adam's steps are bounded even at learning_rate 1.0
    on level targets), so one variant's training is poisoned: the real ``fit`` runs with
    its ``TerminateOnNaN`` and raises ``TrainingDiverged``; everything after is the flow's.
    """
    real = variant_module.train_variant

    def train_variant(data, variant, training, callbacks=(), **kwargs):
        if variant.name == "lstm":
            callbacks = [*callbacks, _PoisonWeights()]
        return real(data, variant, training, callbacks, **kwargs)

    monkeypatch.setattr(variant_module, "train_variant", train_variant)
    config = tiny_config(("KO",), epochs=4, variants=("rnn", "lstm"), experiment="rel-nan")
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"batch_size": 16})}
    )
    out = tmp_path / "out"
    state = forecast(config=config, output_dir=str(out), return_state=True)

    assert state.is_completed(), state.message  # the ticker still has a working variant
    ko = json.loads((out / "summary.json").read_text())["tickers"]["KO"]
    assert ko["failed_variants"] == {"lstm": "TrainingDiverged: loss became nan during training"}
    assert set(ko["models"]) == {"rnn", "persistence"}
    assert list(ko["mlflow"]["runs"]) == ["rnn"]

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("rel-nan")
    runs = client.search_runs([exp.experiment_id], "tags.`pricecast.kind` = 'variant'")
    by_name = {r.data.tags["variant"]: r for r in runs}
    assert by_name["rnn"].info.status == "FINISHED"
    assert by_name["lstm"].info.status == "FAILED"
    assert by_name["lstm"].data.tags["error"] == (
        "TrainingDiverged: loss became nan during training"
    )
    # TerminateOnNaN stopped it in the first epoch: no finite loss was ever logged.
    assert client.get_metric_history(by_name["lstm"].info.run_id, "loss") == []
    assert (out / "KO" / "forecast.png").is_file()


# --------------------------------------------------------------------------- row 12


@pytest.mark.slow
def test_killed_run_is_closed_on_the_next_start(tmp_path):
    home = tmp_path / "home"
    data = tiny_dict(("KO",), epochs=5000, source="auto", experiment="rel-kill")
    data["training"]["patience"] = 5000
    config = write_yaml(tmp_path / "kill.yaml", data)
    env = cli_env(home, yahoo="ok")
    db = home / "mlflow.db"

    proc = start_cli(
        ["run", "--config", str(config), "--output", str(tmp_path / "o1")], env, tmp_path / "1.log"
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            running = running_variant(db)
            if running and running[1] >= 2:  # in the middle of training
                break
            assert proc.poll() is None, (tmp_path / "1.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.5)
    finally:
        kill_group(proc)
    killed_pid = proc.pid

    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("rel-kill")
    before = client.search_runs([exp.experiment_id])
    assert {r.data.tags["pricecast.kind"] for r in before} == {"ticker", "variant"}
    assert all(r.info.status == "RUNNING" for r in before)  # as the kill left them
    assert not (tmp_path / "o1" / "summary.json").exists()
    cache = home / "cache" / "prices"
    frame, *_ = price_files.read_cache(cache, "KO")  # written before training: whole
    assert len(frame) == len(yahoo_history("KO", "2019-06-03", "2020-03-31"))

    proc2 = run_cli(
        ["run", "--config", str(config), "--epochs", "1", "--output", str(tmp_path / "o2")], env
    )
    assert proc2.returncode == 0, proc2.stdout[-2000:] + proc2.stderr[-3000:]

    after = {r.info.run_id: r for r in client.search_runs([exp.experiment_id])}
    owner = f"{socket.gethostname()}:{killed_pid}"
    for run in before:
        old = after[run.info.run_id]
        assert old.info.status == "KILLED"
        assert old.data.tags["error"] == f"process {owner} ended without closing the run"
    new = [r for rid, r in after.items() if rid not in {b.info.run_id for b in before}]
    assert len(new) == 2 and all(r.info.status == "FINISHED" for r in new)
    assert not [r for r in after.values() if r.info.status == "RUNNING"]
    assert json.loads((tmp_path / "o2" / "summary.json").read_text())["failed"] == {}
    frame, *_ = price_files.read_cache(cache, "KO")
    assert len(frame) == len(yahoo_history("KO", "2019-06-03", "2020-03-31"))
    assert sorted(p.name for p in cache.iterdir()) == ["KO.parquet"]

"""Ctrl-C on ``forecast run`` stops it, closes its runs, exits 130.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group: the command and
the temporary Prefect server it started. The tests do the same to a real ``forecast run``
in the middle of a long training, and read the MLflow store afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from pricecast.models.training import StopWhenSet

from .conftest import cli_env, kill_group, running_variant, start_cli, tiny_dict, write_yaml

pytestmark = pytest.mark.slow


def _start_training(tmp_path: Path, experiment: str, **env: str) -> tuple[subprocess.Popen, Path]:
    """Start a run that would train for hours; return once it has logged two epochs."""
    home = tmp_path / "home"
    data = tiny_dict(("KO",), epochs=5000, experiment=experiment)
    data["training"]["patience"] = 5000
    config = write_yaml(tmp_path / "long.yaml", data)
    log = tmp_path / "run.log"
    proc = start_cli(["run", "--config", str(config), "--output", str(tmp_path / "out")],
                     cli_env(home, **env), log)  # fmt: skip
    deadline = time.monotonic() + 240
    while ((running_variant(home / "mlflow.db") or ("", 0))[1]) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_group(proc)
            pytest.fail(f"training never started:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return proc, home


def _exit_within(proc: subprocess.Popen, seconds: float) -> tuple[int, float]:
    """Wait for the command; its exit code and how long it took (SIGKILL past ``seconds``)."""
    t0 = time.monotonic()
    try:
        code = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        pytest.fail(f"still running {seconds:.0f}s after Ctrl-C")
    proc.log.close()  # type: ignore[attr-defined]
    return code, time.monotonic() - t0


def _runs(home: Path, experiment: str) -> list:
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id])


def _group_gone(pgid: int, seconds: float = 10) -> bool:
    """Whether every process of the group (the temporary Prefect server too) has ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_one_ctrl_c_stops_training_marks_runs_killed_and_exits_130(tmp_path):
    proc, home = _start_training(tmp_path, "rel-int")
    os.killpg(proc.pid, signal.SIGINT)
    code, seconds = _exit_within(proc, 20)
    log = (tmp_path / "run.log").read_text()
    assert code == 130, log[-3000:]
    assert seconds < 10, f"took {seconds:.1f}s"
    assert "forecast: interrupted; stopping training and closing the runs" in log
    assert "forecast: marked 2 MLflow run(s) KILLED" in log
    assert "Traceback" not in log
    runs = _runs(home, "rel-int")
    assert {r.data.tags["pricecast.kind"]: r.info.status for r in runs} == {
        "ticker": "KILLED",
        "variant": "KILLED",
    }
    assert all(r.data.tags["error"] == "interrupted (Ctrl-C)" for r in runs)
    assert not (tmp_path / "out" / "summary.json").exists()
    assert _group_gone(proc.pid)


def test_second_ctrl_c_exits_at_once(tmp_path):
    proc, _ = _start_training(tmp_path, "rel-int2")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    code, seconds = _exit_within(proc, 20)
    assert code == 130, (tmp_path / "run.log").read_text()[-3000:]
    assert seconds < 5, f"took {seconds:.1f}s"
    assert _group_gone(proc.pid)


def test_ctrl_c_cancels_the_flow_run_on_a_prefect_server_that_stays_up(prefect_api, tmp_path):
    """With ``PREFECT_API_URL`` set (a server outside the process group), the flow run
    ends Cancelled instead of staying RUNNING."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    proc, home = _start_training(tmp_path, "rel-int3", PREFECT_API_URL=PREFECT_API_URL.value())
    os.killpg(proc.pid, signal.SIGINT)
    code, seconds = _exit_within(proc, 20)
    log = (tmp_path / "run.log").read_text()
    assert code == 130 and seconds < 10, log[-3000:]
    # Runs are named by ticker and date (not unique): the message gives the id too.
    match = re.search(r"forecast: flow run '([^']+)' \((\S+)\) marked Cancelled in Prefect", log)
    assert match, log[-3000:]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(match[2])
    assert run.name == match[1]
    assert run.state.is_cancelled() and run.state.message == "interrupted (Ctrl-C)"
    assert {r.info.status for r in _runs(home, "rel-int3")} == {"KILLED"}


def test_stop_when_set_ends_fit_after_the_current_batch():
    """The building block: training ends at the batch the event is seen, not the epoch."""
    event = threading.Event()
    batches: list[int] = []

    class SetAtThirdBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 2:
                event.set()

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((64, 3), "float32"), np.zeros((64, 1), "float32")
    history = model.fit(
        x, y, batch_size=4, epochs=50, verbose=0, callbacks=[SetAtThirdBatch(), StopWhenSet(event)]
    )
    assert batches == [0, 1, 2]
    assert len(history.history["loss"]) == 1

"""`forecast run` as a user runs it: a fresh process, the embedded Prefect API, sqlite MLflow."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pricecast.tasks.metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _forecast(args: list[str], home: Path, timeout: int = 400) -> subprocess.CompletedProcess:
    exe = shutil.which("forecast", path=str(Path(sys.executable).parent))
    assert exe, "the forecast console command is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env["FORECAST_HOME"] = str(home)
    return subprocess.run(
        [exe, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_seed_fb_case_through_the_cli(tmp_path):
    out = tmp_path / "out"
    proc = _forecast(
        ["run", "--config", "configs/seed_fb.yaml", "--epochs", "2", "--output", str(out)],
        tmp_path / "home",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    fb = summary["tickers"]["FB"]
    assert fb["source"] == "sample"
    assert set(fb["models"]) == {"rnn", "lstm", "gru", "persistence"}
    for metrics in fb["models"].values():
        assert set(metrics) == set(METRICS)
    # The same 21 January-2020 days as the classic case: persistence RMSE 4.248, MAPE 1.388 %.
    assert fb["test_span"] == ["2020-01-02", "2020-01-31"]
    assert abs(fb["models"]["persistence"]["rmse"] - 4.2483) < 1e-3
    assert abs(fb["models"]["persistence"]["mape"] - 1.3877) < 1e-3
    assert (out / "FB" / "forecast.png").stat().st_size > 10_000
    # The table and the places to look are printed.
    assert "persistence" in proc.stdout and "mlflow ui --backend-store-uri sqlite:" in proc.stdout
    assert str(tmp_path / "home" / "mlflow.db") in proc.stdout
    # Not a terminal: plain lines (no colour codes, no bars or box drawing) and none of the
    # engine's bookkeeping or the libraries' start-up lines; the table has full headers.
    printed = proc.stdout + proc.stderr
    assert "\x1b[" not in printed
    assert not set(printed) & set("━┃╇│█")
    for noise in (
        "Finished in state",
        "Beginning flow run",
        "retracing",
        "Creating initial MLflow database",
        "temporary server",
        "oneDNN",
    ):
        assert noise not in printed
    assert "directional accuracy" in proc.stdout and "backtest MASE h=1" in proc.stdout
    assert "FB/rnn: 2 epochs" in proc.stderr  # what each step did, one line each
    assert len(printed.splitlines()) <= 40, printed
    # The temporary API kept the run in this home's Prefect database (started from the
    # packaged one), and the process ended only after the run's last log line reached it.
    with sqlite3.connect(tmp_path / "home" / "prefect" / "prefect.db") as db:
        ((run_id, state),) = db.execute("select id, state_name from flow_run").fetchall()
        last = db.execute(
            "select message from log where flow_run_id = ? order by timestamp desc limit 1",
            (run_id,),
        ).fetchone()
    assert state == "Completed" and summary["flow_run_id"] == run_id
    assert last and "Finished in state Completed" in last[0]
    # The home's new MLflow store (a copy of the packaged one) holds the run's runs, ended.
    ids = summary["tickers"]["FB"]["mlflow"]
    wanted = {ids["parent_run_id"], *ids["runs"].values()}
    with sqlite3.connect(tmp_path / "home" / "mlflow.db") as db:
        status = dict(db.execute("select run_uuid, status from runs").fetchall())
    assert {run: status.get(run) for run in wanted} == dict.fromkeys(wanted, "FINISHED")


def test_bad_config_is_one_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "configs" / "seed_fb.yaml").read_text().replace("window: 40", "window: 0")
    bad.write_text(text)
    proc = _forecast(["run", "--config", str(bad)], tmp_path / "home", timeout=120)
    assert proc.returncode == 2
    assert "features.window" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "mlflow.db").exists()  # rejected before any work


def test_dask_workers_report_to_the_commands_temporary_api(tmp_path):
    """Dask's worker processes find the command's own API through the environment."""
    pytest.importorskip("prefect_dask")
    home = tmp_path / "home"
    proc = _forecast(
        ["run", "--config", "configs/seed_fb.yaml", "--epochs", "1", "--runner", "dask",
         "--workers", "2", "--output", str(tmp_path / "out")],
        home,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        runs = db.execute("select state_name from flow_run").fetchall()
        tasks = db.execute("select name, state_name from task_run").fetchall()
    assert runs == [("Completed",)]
    assert {"fetch-FB", "prepare-FB", "evaluate-FB-gru", "register-FB"} <= {n for n, _ in tasks}
    assert {s for _, s in tasks} == {"Completed"}

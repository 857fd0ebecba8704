"""The compose stack's own commands, natively on 127.0.0.1.

`prefect server start` (sqlite, basic auth), a process worker on pool `cpu` and one on
pool `gpu`, an `mlflow server`, `forecast deploy` (what the compose `deploy` service
runs), then the on-demand deployment triggered through the API: the forecast run must
complete and its training must have run as a separate flow run on the `gpu` pool.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import _free_port

pytestmark = pytest.mark.slow
AUTH = ("admin", "stack-test-secret")
BIN = Path(sys.executable).parent


def _exe(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed next to {sys.executable}"
    return path


def _env(tmp: Path, api: str, mlflow_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(
        {
            "PREFECT_HOME": str(tmp / "prefect-client"),
            "PREFECT_API_URL": api,
            "PREFECT_API_AUTH_STRING": ":".join(AUTH),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "MLFLOW_TRACKING_URI": mlflow_uri,
            "FORECAST_HOME": str(tmp / "home"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    return env


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _config(tmp: Path) -> Path:
    config = {
        "experiment": "it-stack",
        "data": {"tickers": ["KO"], "source": "sample", "start": "2019-01-01", "end": "2020-06-30"},
        "features": {"window": 10, "horizon": 1},
        "split": {"test_fraction": 0.05, "val_fraction": 0.1},
        "variants": [
            {"name": "rnn", "cell": "rnn", "units": 4},
            {"name": "gru", "cell": "gru", "units": 4},
        ],
        "training": {"epochs": 1, "batch_size": 64, "dispatch": "deployment"},
    }
    path = tmp / "stack.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, auth=AUTH, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not healthy after {timeout}s: {log.read_text()[-3000:]}")


def start_server(tmp_path: Path, env: dict[str, str], port: int, **settings: str):
    """``prefect server start`` on 127.0.0.1 (sqlite, basic auth), healthy on return."""
    server_env = {
        **env,
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_SERVER_API_AUTH_STRING": ":".join(AUTH),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        **settings,
    }
    for folder in ("prefect-client", "prefect-server", "home"):
        (tmp_path / folder).mkdir()
    log = tmp_path / "server.log"
    proc = _start(
        [_exe("prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        server_env,
        log,
    )
    _wait_healthy(f"http://127.0.0.1:{port}/api/health", proc, log)
    return proc


def forecast_deploy(config: Path, env: dict[str, str]) -> None:
    """``forecast deploy`` as the compose ``deploy`` service runs it."""
    deploy = subprocess.run(
        [_exe("forecast"), "deploy", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr


def test_stack_runs_on_demand_deployment_with_training_on_gpu_pool(tmp_path, mlflow_server):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _env(tmp_path, api, mlflow_server)
    procs: list[subprocess.Popen] = []
    started = time.perf_counter()
    try:
        procs.append(start_server(tmp_path, env, port))
        server_up = time.perf_counter() - started

        # Basic auth is enforced: no credentials, no API.
        assert httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).status_code == 401

        forecast_deploy(_config(tmp_path), env)
        for pool in ("cpu", "gpu"):
            log = tmp_path / f"worker-{pool}.log"
            procs.append(
                _start(
                    [_exe("prefect"), "worker", "start", "--pool", pool, "--type", "process"],
                    env,
                    log,
                )
            )

        client = httpx.Client(base_url=api, auth=AUTH, timeout=30)
        dep = client.get("/deployments/name/forecast/on-demand").json()
        created = client.post(f"/deployments/{dep['id']}/create_flow_run", json={}).json()
        run_id = created["id"]
        deadline = time.time() + 420
        state = None
        while time.time() < deadline:
            run = client.get(f"/flow_runs/{run_id}").json()
            state = run["state"]["type"]
            if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                break
            time.sleep(2)
        total = time.perf_counter() - started
        logs = "\n".join(
            (tmp_path / f).read_text()[-4000:] for f in ("worker-cpu.log", "worker-gpu.log")
        )
        assert state == "COMPLETED", f"forecast run ended {state}\n{logs}"

        # Training ran as its own flow run, from the train deployment, on the gpu pool.
        train_dep = client.get("/deployments/name/train/train-gpu").json()
        runs = client.post(
            "/flow_runs/filter",
            json={"flow_runs": {"deployment_id": {"any_": [train_dep["id"]]}}},
        ).json()
        assert len(runs) == 1
        assert runs[0]["work_pool_name"] == "gpu"
        assert runs[0]["state"]["type"] == "COMPLETED"
        assert runs[0]["parent_task_run_id"] is not None  # dispatched by the forecast run
        forecast_run = client.get(f"/flow_runs/{run_id}").json()
        assert forecast_run["work_pool_name"] == "cpu"

        # MLflow (the server) has the parent run and one child per variant.
        ml = MlflowClient(mlflow_server)
        exp = ml.get_experiment_by_name("it-stack")
        found = ml.search_runs([exp.experiment_id])
        kinds = sorted(r.data.tags.get("pricecast.kind") for r in found)
        assert kinds == ["ticker", "variant", "variant"]
        assert all(r.info.status == "FINISHED" for r in found)
        device = {r.data.tags.get("device.device") for r in found if r.data.tags.get("variant")}
        assert device == {"CPU"}  # no GPU on this machine: said so in the runs

        figures = {
            "server_start_s": round(server_up, 1),
            "server_start_to_completed_s": round(total, 1),
        }
        print(f"\nstack timings: {json.dumps(figures)}")
        (tmp_path / "timings.json").write_text(json.dumps(figures))
    finally:
        _stop(procs)

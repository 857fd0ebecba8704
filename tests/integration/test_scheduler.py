"""The Prefect server's own scheduler creates the nightly runs, and a worker completes one.

A real ``prefect server start`` on 127.0.0.1 with its scheduler loop shortened to 2 s
(``PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS``). ``forecast deploy`` registers
``nightly/watchlist`` with its weekday cron: the scheduler fills its upcoming runs. A
second deployment of the same flow with a schedule due a few seconds ahead (a night of
the bundled sample, ``as_of`` fixed) is turned into a flow run by the scheduler, not by
any API call of the test, and a process worker runs it to Completed.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from tests.conftest import _free_port

from .test_stack import AUTH, _env, _exe, _start, _stop, forecast_deploy, start_server

pytestmark = pytest.mark.slow


def _night_config(tmp: Path) -> Path:
    config = {
        "experiment": "it-scheduler",
        "data": {"tickers": ["KO"], "source": "sample", "start": "2019-06-03"},
        "features": {"window": 10, "horizon": 2},
        "split": {"test_fraction": 0.05, "val_fraction": 0.1},
        "variants": [{"name": "rnn", "cell": "rnn", "units": 4}],
        "training": {"epochs": 1, "batch_size": 64},
        "backtest": {"n_origins": 10},
    }
    path = tmp / "night.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


DUE_SOON = textwrap.dedent(
    """
    import datetime as dt, sys
    from prefect.schedules import Interval
    from prefect.types.entrypoint import EntrypointType
    from pricecast.configs.loader import load_config
    from pricecast.flows.nightly import nightly

    config = load_config(sys.argv[1])
    first = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=float(sys.argv[2]))
    deployment = nightly.to_deployment(
        name="due-soon",
        schedule=Interval(dt.timedelta(days=1), anchor_date=first),
        parameters={"config": config.model_dump(mode="json"), "as_of": "2020-11-25"},
        work_pool_name="cpu",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    print(deployment.apply(work_pool_name="cpu"))
    """
)


def _runs(client: httpx.Client, deployment: str) -> list[dict]:
    dep = client.get(f"/deployments/name/{deployment}").json()
    return client.post(
        "/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [dep["id"]]}}}
    ).json()


def test_scheduler_creates_the_nightly_runs_and_a_worker_completes_one(tmp_path, mlflow_server):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _env(tmp_path, api, mlflow_server)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            start_server(
                tmp_path,
                env,
                port,
                PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
                PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS="1",
            )
        )
        client = httpx.Client(base_url=api, auth=AUTH, timeout=30)
        config = _night_config(tmp_path)

        # The user's path: `forecast deploy`; the scheduler fills nightly/watchlist's
        # upcoming runs at 22:30 New York time on weekdays.
        forecast_deploy(config, env)
        deadline = time.time() + 60
        upcoming: list[dict] = []
        while time.time() < deadline and len(upcoming) < 3:
            upcoming = _runs(client, "nightly/watchlist")
            time.sleep(1)
        assert len(upcoming) >= 3, (tmp_path / "server.log").read_text()[-3000:]
        for run in upcoming:
            assert run["state"]["type"] == "SCHEDULED" and run["auto_scheduled"]
            when = dt.datetime.fromisoformat(run["expected_start_time"])
            local = when.astimezone(ZoneInfo("America/New_York"))
            assert (local.hour, local.minute) == (22, 30) and local.weekday() < 5

        # A schedule due in a few seconds: the scheduler creates the run, a worker runs it.
        made = subprocess.run(
            [sys.executable, "-c", DUE_SOON, str(config), "8"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        procs.append(
            _start(
                [_exe("prefect"), "worker", "start", "--pool", "cpu", "--type", "process"],
                env,
                tmp_path / "worker.log",
            )
        )
        deadline = time.time() + 420
        state = None
        while time.time() < deadline:
            runs = _runs(client, "nightly/due-soon")
            done = [r for r in runs if r["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED"}]
            if done:
                state = done[0]
                break
            time.sleep(2)
        worker_log = (tmp_path / "worker.log").read_text()[-4000:]
        assert state is not None, f"no scheduled run finished\n{worker_log}"
        assert state["state"]["type"] == "COMPLETED", worker_log
        assert state["auto_scheduled"] is True  # created by the server's scheduler
        assert state["parameters"]["as_of"] == "2020-11-25"
        outputs = list((tmp_path / "home" / "outputs" / "nightly").glob("*/summary.json"))
        assert outputs, "the nightly run wrote no summary"
        summary = yaml.safe_load(outputs[0].read_text())
        assert [n["as_of"] for n in summary["nights"]] == ["2020-11-25"]
    finally:
        _stop(procs)

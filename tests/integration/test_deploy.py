"""Deployments on a real Prefect API: schedule, pools, parameter schema enforcement."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client

from pricecast.configs.loader import load_config
from pricecast.flows.deploy import deploy
from pricecast.flows.forecast import forecast

pytestmark = pytest.mark.slow


@pytest.fixture
def deployed(prefect_api, home):
    nightly = load_config("nightly")
    on_demand = load_config("seed_fb", {"training.dispatch": "deployment"})
    return deploy(nightly, on_demand)


def test_pools_and_deployments_exist(deployed):
    assert set(deployed.deployments) == {
        "nightly/watchlist",
        "forecast/on-demand",
        "train/train-gpu",
    }
    with get_client(sync_client=True) as client:
        pools = {p.name: p.type for p in client.read_work_pools()}
        assert pools["cpu"] == "process" and pools["gpu"] == "process"
        train = client.read_deployment_by_name("train/train-gpu")
        assert train.work_pool_name == "gpu"
        assert train.entrypoint == "pricecast.flows.train.train"
        on_demand = client.read_deployment_by_name("forecast/on-demand")
        assert on_demand.work_pool_name == "cpu"
        assert on_demand.parameters["config"]["data"]["tickers"] == ["FB"]
        assert on_demand.parameters["config"]["training"]["dispatch"] == "deployment"
        # The dashboard form is the config model's schema.
        props = on_demand.parameter_openapi_schema["properties"]
        assert "config" in props and on_demand.enforce_parameter_schema


def test_nightly_schedule_is_weekdays_after_the_us_close(deployed):
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name("nightly/watchlist")
        assert nightly.entrypoint == "pricecast.flows.nightly.nightly"
        assert nightly.parameters["config"]["data"].get("end") is None  # no fixed end date
        assert len(nightly.schedules) == 1
        schedule = nightly.schedules[0].schedule
        assert schedule.cron == "30 22 * * 1-5" and schedule.timezone == "America/New_York"
        start = dt.datetime(2026, 11, 21, 12, tzinfo=ZoneInfo("UTC"))  # a Saturday
        runs = list(_next_times(schedule, start, 5))
    local = [r.astimezone(ZoneInfo("America/New_York")) for r in runs]
    assert [t.weekday() for t in local] == [0, 1, 2, 3, 4]  # Mon..Fri, no weekend
    assert all((t.hour, t.minute) == (22, 30) for t in local)


def _next_times(schedule, start, n):
    """The dates the server's scheduler creates runs for (its own schedule model)."""
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule

    server_side = CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    return asyncio.run(server_side.get_dates(n=n, start=start))


def test_bad_parameter_is_rejected_with_the_field_name(deployed):
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("forecast/on-demand")
        config = dict(dep.parameters["config"])
        config["features"] = {**config["features"], "window": 0}
        with pytest.raises(Exception) as err:
            client.create_flow_run_from_deployment(dep.id, parameters={"config": config})
    assert "window" in str(err.value)


def test_form_schema_on_the_api_titles_every_field_and_refuses_repeated_tickers(deployed):
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("forecast/on-demand")
        schema = dep.parameter_openapi_schema
        models = [schema["definitions"][name] for name in schema["definitions"]]
        props = [p for model in models for p in model.get("properties", {}).values()]
        assert len(props) > 60
        assert all(p.get("title") and p.get("description") for p in props)
        config = dict(dep.parameters["config"])
        config["data"] = {**config["data"], "tickers": ["FB", "KO", "FB"]}
        with pytest.raises(Exception) as err:
            client.create_flow_run_from_deployment(dep.id, parameters={"config": config})
    assert "tickers" in str(err.value) and "non-unique" in str(err.value)
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name("nightly/watchlist")
    assert "cron '30 22 * * 1-5' in America/New_York time" in (nightly.description or "")


def test_dispatch_without_a_gpu_worker_fails_at_once_saying_what_to_start(deployed, tmp_path):
    config = load_config("seed_fb", {"training.dispatch": "deployment", "training.epochs": 1})
    t0 = time.perf_counter()
    state = forecast(config=config, output_dir=str(tmp_path / "out"), return_state=True)
    assert time.perf_counter() - t0 < 60
    assert state.is_failed()
    assert "no worker serves work pool 'gpu' (deployment 'train/train-gpu')" in state.message
    assert "prefect worker start --pool gpu" in state.message
    assert "training.dispatch: inprocess" in state.message
    assert not (tmp_path / "out" / "summary.json").exists()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.name == f"FB {dt.date.today()}"


def test_forecast_deploy_defaults_to_in_process_training(prefect_api, home):
    from pricecast.flows.cli import main

    assert main(["deploy", "--on-demand-config", "seed_fb"]) == 0
    with get_client(sync_client=True) as client:
        on_demand = client.read_deployment_by_name("forecast/on-demand")
    assert on_demand.parameters["config"]["training"]["dispatch"] == "inprocess"

"""Work pools and deployments: ``forecast deploy``.

Creates (or updates) against the Prefect API in ``PREFECT_API_URL``:

- work pools ``cpu`` and ``gpu`` (process type; workers: ``prefect worker start --pool ...``);
- ``nightly/watchlist`` on ``cpu``: the nightly loop (``flows/nightly.py``) on the
  watchlist config, on a cron schedule after the US close (default ``30 22 * * 1-5`` in
  America/New_York); each run closes the session of its scheduled date;
- ``forecast/on-demand`` on ``cpu``: no schedule; its typed ``config`` parameter is the
  form the Prefect dashboard shows, and the API rejects values that break its schema;
- ``train/train-gpu`` on ``gpu``: the training unit the ``forecast`` flow dispatches to
  with ``training.dispatch: deployment``.

Entrypoints are module paths (``pricecast.flows.forecast.forecast``), so a worker needs
only the installed package, not a checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron
from prefect.settings import get_current_settings
from prefect.types.entrypoint import EntrypointType

from pricecast.configs.schema import RunConfig
from pricecast.flows.forecast import forecast
from pricecast.flows.nightly import nightly as nightly_flow
from pricecast.flows.train import train

NIGHTLY_CRON = "30 22 * * 1-5"
NIGHTLY_TIMEZONE = "America/New_York"
POOLS = {"cpu": "process", "gpu": "process"}


@dataclass(frozen=True)
class Deployed:
    """Ids of what ``forecast deploy`` created or updated."""

    pools: list[str]
    deployments: dict[str, UUID]


def missing_api() -> str | None:
    """Why deployments cannot be created here, or ``None`` when a Prefect API is set.

    Without a configured API, Prefect starts a temporary one that stops with the process:
    deployments created there vanish, and no schedule would ever fire.
    """
    if get_current_settings().api.url:
        return None
    return (
        "forecast deploy needs a Prefect server: start one with `forecast server start` "
        "(this FORECAST_HOME's), or `prefect server start` or `docker compose up` and set "
        "PREFECT_API_URL=http://HOST:4200/api"
    )


def ensure_pools(pools: dict[str, str] = POOLS) -> list[str]:
    """Create the work pools that do not exist yet; returns the names of those created."""
    created = []
    with get_client(sync_client=True) as client:
        for name, kind in pools.items():
            try:
                client.read_work_pool(name)
            except ObjectNotFound:
                client.create_work_pool(WorkPoolCreate(name=name, type=kind))
                created.append(name)
    return created


def build_deployments(
    nightly: RunConfig,
    on_demand: RunConfig,
    cron: str = NIGHTLY_CRON,
    timezone: str = NIGHTLY_TIMEZONE,
    train_pool: str = "gpu",
) -> list:
    """The three deployments (not yet registered).

    Args:
        nightly: Config of the scheduled run (the watchlist).
        on_demand: Default parameters shown in the dashboard form.
        cron: Cron expression of the nightly schedule.
        timezone: IANA timezone of the schedule.
        train_pool: Work pool of the ``train`` deployment.
    """
    common = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["pricecast"]}
    return [
        nightly_flow.to_deployment(
            name="watchlist",
            schedule=Cron(cron, timezone=timezone),
            parameters={"config": nightly.model_dump(mode="json")},
            work_pool_name="cpu",
            description=f"Nightly loop on {', '.join(nightly.data.tickers)}: score, retrain on "
            f"cadence or decay, forecast the next sessions. Schedule: cron {cron!r} in "
            f"{timezone} time.",
            **common,
        ),
        forecast.to_deployment(
            name="on-demand",
            parameters={"config": on_demand.model_dump(mode="json")},
            work_pool_name="cpu",
            description="Run the forecast with your own tickers, dates, window, horizon, "
            "variants and epochs. Training runs in this flow run's process unless "
            "training.dispatch is deployment (then a worker must serve the gpu pool).",
            **common,
        ),
        train.to_deployment(
            name="train-gpu",
            work_pool_name=train_pool,
            description="Train one ticker's variants (dispatched by the forecast flow).",
            **common,
        ),
    ]


def deploy(
    nightly: RunConfig,
    on_demand: RunConfig,
    cron: str = NIGHTLY_CRON,
    timezone: str = NIGHTLY_TIMEZONE,
) -> Deployed:
    """Create the work pools and register (or update) the deployments."""
    pools = ensure_pools()
    ids = {}
    for deployment in build_deployments(nightly, on_demand, cron, timezone):
        ids[deployment.full_name] = deployment.apply(work_pool_name=deployment.work_pool_name)
    return Deployed(pools, ids)

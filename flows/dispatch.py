"""Whether a ``training.dispatch: deployment`` run can be served at all.

``run_deployment`` waits for the run it creates; without a worker on the deployment's
work pool nothing ever picks it up, and the flow waits ``dispatch_timeout_seconds`` (six
hours by default) for nothing. The pool's status says whether a worker is polling it
(Prefect marks a pool ``READY`` while at least one worker's heartbeat is recent), so the
``forecast`` flow asks before any work and fails at once, saying what to start.
"""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import WorkPoolStatus
from prefect.exceptions import ObjectNotFound


def why_unserved(deployment: str) -> str | None:
    """Why runs of ``deployment`` would wait forever, or ``None`` when a worker serves it.

    Args:
        deployment: ``flow/deployment`` name (``training.deployment``).
    """
    fix = "or set training.dispatch: inprocess to train in the flow run's own process"
    with get_client(sync_client=True) as client:
        try:
            pool_name = client.read_deployment_by_name(deployment).work_pool_name
        except ObjectNotFound:
            return f"deployment {deployment!r} does not exist (run `forecast deploy`), {fix}"
        if pool_name is None:
            return f"deployment {deployment!r} has no work pool, {fix}"
        pool = client.read_work_pool(pool_name)
    if pool.status == WorkPoolStatus.PAUSED:
        return f"work pool {pool_name!r} of deployment {deployment!r} is paused: resume it, {fix}"
    if pool.status != WorkPoolStatus.READY:
        return (
            f"no worker serves work pool {pool_name!r} (deployment {deployment!r}): start one "
            f"with `prefect worker start --pool {pool_name}`, {fix}"
        )
    return None

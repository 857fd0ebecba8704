"""The MLflow tracking store: where it is, whether it answers, and its housekeeping.

Connecting never sets MLflow's process-wide tracking URI: every call in ``stores.tracking``
goes through a client bound to the :class:`Tracker`'s URI. The entry point (the command,
or a flow run started by a worker) calls :func:`use_store` once, for MLflow's own
fluent-API helpers (the Keras callback, ``log_model``).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pricecast.stores.db_template import sqlite_file
from pricecast.stores.tracking import relocation, template
from pricecast.stores.tracking.uris import (  # the store's checks, importable from here too
    TrackingUnavailableError,
    _no_urls_with_credentials,
    check_reachable,
    default_uri,
    redact,
    resolve_uri,
    ui_base,
)

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - no advisory locks; MLflow's own behaviour
    fcntl = None

KIND_TAG = "pricecast.kind"
OWNER_TAG = "pricecast.owner"
"""``host:pid`` of the process that opened a run (to find runs orphaned by a kill)."""

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
ML_EXPERIMENT_KIND = "custom_model_development"
"""The MLflow UI (3.x) opens an experiment in its GenAI view ("Overview", traces,
evaluations) unless the experiment's ``mlflow.experimentKind`` tag names a machine-learning
kind: its bundled JavaScript (``mlflow/server/js/build/static/js/main.*.js``) maps
``custom_model_development`` (like ``forecasting``, ``regression``, ...) to the workflow
type ``machine_learning``, the classic runs table and charts. The UI's own "Machine
learning" switch sets this same value."""

ML_VIEW_QUERY = "workflowType=machine_learning"
"""Query of every MLflow UI link the project builds: the UI reads ``workflowType`` from
the link before the experiment's tag, so a link opens the classic view even on an
experiment created elsewhere without the tag."""


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tracker:
    """An open MLflow experiment.

    Attributes:
        uri: Tracking URI.
        experiment_id: Experiment id.
        experiment_name: Experiment name.
        local: Whether the store is a local sqlite file (no UI server).
    """

    uri: str
    experiment_id: str
    experiment_name: str
    local: bool

    @property
    def shown_uri(self) -> str:
        """The URI as it may be printed, logged or stored: its password masked."""
        return redact(self.uri)

    @property
    def client(self) -> MlflowClient:
        """A client bound to this tracking URI."""
        return MlflowClient(tracking_uri=self.uri)

    def run_url(self, run_id: str) -> str | None:
        """Absolute link to a run in the MLflow UI; ``None`` when no UI address is known.

        See :func:`~pricecast.stores.tracking.uris.ui_base`: ``MLFLOW_UI_URL``, else the
        tracking server itself.
        """
        base = ui_base(self.uri)
        if base is None:
            return None
        return f"{base}/#/experiments/{self.experiment_id}/runs/{run_id}?{ML_VIEW_QUERY}"

    def ui_command(self) -> str:
        """Command that opens the MLflow UI on this store."""
        if self.local:
            return f"mlflow ui --backend-store-uri {self.shown_uri}"
        return f"open {self.shown_uri}"


def use_store(tracker: Tracker) -> None:
    """Point MLflow's fluent API at this store; called once, by the entry point.

    ``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` into the process
    environment; it is put back as it was, so the variable keeps meaning what the user
    set, and a later run in this process with another ``FORECAST_HOME`` resolves its own
    store (:func:`resolve_uri`).
    """
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracker.uri)
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


def warm_up(uri: str) -> threading.Thread | None:
    """Open a local sqlite store on a background thread while the command starts up.

    A process's first client of a sqlite store builds its engine and checks its schema
    (about a second); MLflow keeps one store per URI, so the flow's clients find it
    ready. MLflow's run-context tags (its git probe, once per process) are resolved on
    the same thread. Nothing is read from the store; an error is left for
    :func:`open_experiment` to report, naming the URI.

    Returns:
        The thread (``None`` for a store that is not a local sqlite file).
    """
    if not uri.startswith("sqlite:///"):
        return None
    # Imported here, on the calling thread: two threads importing SQLAlchemy's ORM at once
    # (this one and the Prefect client's) can meet a partially initialised module.
    import alembic.command  # noqa: F401
    import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import sqlalchemy.orm  # noqa: F401
    from mlflow.tracking.context.registry import resolve_tags

    def work() -> None:
        try:
            with _first_use_lock(uri):
                MlflowClient(tracking_uri=uri)  # creates a new store's tables
            resolve_tags()
        except Exception as err:  # noqa: BLE001 - open_experiment reports it, in one line
            log.debug("warming up %s failed: %s", redact(uri), err)

    thread = threading.Thread(target=work, name="mlflow-warm-up", daemon=True)
    thread.start()
    return thread


def open_store(home: Path, uri: str | None = None) -> Tracker:
    """Connect to the tracking store without choosing an experiment (registry access).

    Raises:
        TrackingUnavailableError: If the store cannot be reached, or a local sqlite store
            does not exist (it is not created: nothing was tracked there yet).
    """
    uri = uri or resolve_uri(home)
    check_reachable(uri)
    _no_urls_with_credentials(uri)
    db = sqlite_file(uri)
    if db is not None and not db.is_file():
        raise TrackingUnavailableError(
            f"no MLflow store at {redact(uri)}: nothing was tracked there yet "
            "(run `forecast run` first)"
        )
    try:
        with _first_use_lock(uri):
            _follow_home(home, uri)
            MlflowClient(tracking_uri=uri)  # creates a new store's tables
    except MlflowException as err:
        raise TrackingUnavailableError(
            f"MLflow store {redact(uri)}: {redact(err.message)}"
        ) from None
    return Tracker(uri, "", "", uri.startswith(("sqlite:", "file:")))


def _follow_home(home: Path, uri: str) -> None:
    """Rewrite a moved home's artifact locations (only the home's own sqlite store)."""
    if uri != default_uri(home):
        return
    old = relocation.relocate(home)
    if old:
        log.warning(
            "FORECAST_HOME moved: artifact locations under %s now point to %s",
            old,
            (home / "mlartifacts").resolve().as_uri(),
        )


@contextmanager
def _first_use_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive file lock while a local sqlite store is opened.

    MLflow creates and migrates a new sqlite store's tables without any lock: two
    processes opening a fresh ``mlflow.db`` at once fail ("table ... already exists")
    and can leave it half-migrated for good. Other stores are not locked. A store whose
    file does not exist yet starts, under the lock, as a copy of the packaged migrated
    one (``stores/tracking/template.py``).
    """
    db = sqlite_file(uri)
    if db is None or fcntl is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(f"{db.name}.lock"), "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            if template.seed(uri):
                log.debug("%s started from the packaged template", redact(uri))
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def artifact_folder(home: Path, name: str) -> Path:
    """``FORECAST_HOME/mlartifacts/<name>``, the local store's artifacts of an experiment.

    Raises:
        ValueError: If ``name`` leads anywhere else (``..``, an absolute path): an
            experiment name must never let a run write outside ``FORECAST_HOME``.
    """
    root = (home / "mlartifacts").resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise ValueError(
            f"experiment name {name!r} leads outside {root} (to {folder}); use a plain name"
        )
    return folder


def open_experiment(name: str, home: Path, uri: str | None = None) -> Tracker:
    """Connect to the tracking store and get or create the experiment.

    With the default local store, artifacts go to ``FORECAST_HOME/mlartifacts``; with a
    server, the server decides (artifact proxy). An experiment without a kind is tagged
    :data:`ML_EXPERIMENT_KIND`, so the MLflow UI opens it in the classic view.

    Args:
        name: Experiment name (from the config).
        home: ``FORECAST_HOME``.
        uri: Tracking URI (default: :func:`resolve_uri`).

    Raises:
        TrackingUnavailableError: If the store cannot be reached.
        ValueError: If the experiment name leads outside ``FORECAST_HOME/mlartifacts``.
    """
    uri = uri or resolve_uri(home)
    check_reachable(uri)
    _no_urls_with_credentials(uri)
    local = uri.startswith("sqlite:") or uri.startswith("file:")
    location = artifact_folder(home, name).as_uri() if local else None
    try:
        with _first_use_lock(uri):
            _follow_home(home, uri)
            client = MlflowClient(tracking_uri=uri)  # creates a new store's tables
            exp = client.get_experiment_by_name(name)
            if exp is None:
                try:
                    exp = client.get_experiment(
                        client.create_experiment(name, artifact_location=location)
                    )
                except MlflowException:
                    # Created by another process in the meantime (a tracking server).
                    exp = client.get_experiment_by_name(name)
                    if exp is None:
                        raise
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        if EXPERIMENT_KIND_TAG not in exp.tags:  # a kind the user chose in the UI stays
            client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, ML_EXPERIMENT_KIND)
        exp_id = exp.experiment_id
    except MlflowException as err:
        raise TrackingUnavailableError(
            f"MLflow store {redact(uri)}: {redact(err.message)}"
        ) from None
    tracker = Tracker(uri, exp_id, name, local)
    mark_stale_runs(tracker)
    return tracker


def owner() -> str:
    """``host:pid`` of this process, tagged on the runs it opens."""
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(owner: str) -> bool:
    """Whether the process named by an :data:`OWNER_TAG` value may still be running."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def mark_stale_runs(tracker: Tracker) -> list[str]:
    """Mark RUNNING runs whose process on this host is gone as KILLED.

    A run opened by a process that was killed (power loss, OOM, ``kill -9``) would stay
    RUNNING forever; the next start of the flow closes it with an ``error`` tag.

    Returns:
        The ids of the runs marked.
    """
    client = tracker.client
    stale = []
    runs = client.search_runs(
        [tracker.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    for run in runs:
        owner = run.data.tags.get(OWNER_TAG)
        if owner and not alive(owner):
            client.set_tag(
                run.info.run_id, "error", f"process {owner} ended without closing the run"
            )
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            stale.append(run.info.run_id)
    return stale


def kill_own_runs(uri: str, reason: str) -> dict[str, dict[str, str]]:
    """Mark the RUNNING runs this process opened as KILLED, with ``reason`` as ``error``.

    Called when the command is interrupted (Ctrl-C): the process is about to exit with
    work in flight, and its runs must not stay RUNNING until the next start notices.
    Only runs tagged with this process's :func:`owner` are touched.

    Args:
        uri: The tracking URI the command used.
        reason: Why the runs ended (e.g. ``interrupted (Ctrl-C)``).

    Returns:
        The tags of each run marked, by run id (the Prefect flow run's id is among them).
    """
    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return {}
    mine = client.search_runs(
        ids,
        filter_string=f"attributes.status = 'RUNNING' and tags.`{OWNER_TAG}` = '{owner()}'",
        max_results=1000,
    )
    for run in mine:
        client.set_tag(run.info.run_id, "error", reason)
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
    return {run.info.run_id: dict(run.data.tags) for run in mine}

"""Where the project keeps its state: one folder, ``FORECAST_HOME``.

Layout (created on first use, never at import)::

    $FORECAST_HOME/            default ./.forecast
      cache/prices/            parquet cache, one file per ticker
      mlflow.db  mlartifacts/  default MLflow store (sqlite) and its artifacts
      prefect/                 PREFECT_HOME of each command's temporary Prefect API:
                               prefect.db, temporary-api.log
      prefect-server/          PREFECT_HOME of ``forecast server``: database, log, server.json
      outputs/<experiment>/<run>/   summary.json, plots, predictions
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

DEFAULT_HOME = ".forecast"


def forecast_home() -> Path:
    """Return the resolved ``FORECAST_HOME`` (default: ``./.forecast``)."""
    return Path(os.environ.get("FORECAST_HOME") or DEFAULT_HOME).expanduser().resolve()


def cache_dir(home: Path) -> Path:
    """Folder of the per-ticker price cache."""
    return home / "cache" / "prices"


def outputs_root(home: Path) -> Path:
    """Parent folder of run outputs."""
    return home / "outputs"


def run_output_dir(home: Path, experiment: str) -> Path:
    """Default output folder of a run: ``outputs/<experiment>/<YYYYmmdd-HHMMSS>``.

    Raises:
        ValueError: If the experiment name would lead outside ``outputs/`` (the schema
            refuses such names; a flow called with an unvalidated config meets this).
    """
    folder = confined(experiment, outputs_root(home))
    if folder == outputs_root(home).resolve():
        raise ValueError(f"experiment name {experiment!r} does not name a folder")
    return folder / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def confined(path: str | Path, *bases: Path) -> Path:
    """Resolve ``path`` (relative to the first base) and refuse paths outside every base.

    Raises:
        ValueError: Naming the path and the allowed folders.
    """
    p = Path(path).expanduser()
    resolved = (p if p.is_absolute() else bases[0] / p).resolve()
    for base in bases:
        root = base.resolve()
        if resolved == root or root in resolved.parents:
            return resolved
    allowed = ", ".join(str(b.resolve()) for b in bases)
    raise ValueError(f"path {path} resolves to {resolved}, outside the allowed folders ({allowed})")


def prepare_environment(home: Path) -> None:
    """Point Prefect's local state into ``home`` unless the user configured it.

    Must run before ``prefect`` is imported (its settings are read at import).
    """
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(home / "prefect" / "storage"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The embedded API migrates its database on first start; on a busy machine, or with
    # two runs starting at once on one FORECAST_HOME, that takes longer than Prefect's 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")


def writable_home() -> Path:
    """``FORECAST_HOME``, proven writable and prepared, before Prefect or MLflow start.

    A read-only home would otherwise surface minutes later as a Prefect start-up timeout
    or an MLflow error that never names the folder.

    Raises:
        OutputError: Naming the home and why it cannot be written.
    """
    from pricecast.stores.outputs import OutputError, check_writable

    home = forecast_home()
    try:
        check_writable(home)
    except OutputError as err:
        raise OutputError(
            f"FORECAST_HOME is not writable: {err} (it holds the MLflow store, the Prefect "
            "state and the price cache; set FORECAST_HOME to a writable folder)"
        ) from None
    prepare_environment(home)
    return home

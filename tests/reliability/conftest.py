"""Reliability fixtures: tiny configs, Yahoo stand-ins, CLI subprocesses.

The Prefect API and ``home`` fixtures come from ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pricecast.configs.loader import parse_config
from pricecast.configs.schema import RunConfig

ROOT = Path(__file__).resolve().parents[2]
STANDIN_PATH = Path(__file__).resolve().parent / "standin"
"""Folder holding a ``yfinance`` stand-in package, put first on PYTHONPATH of subprocesses."""


# --------------------------------------------------------------------------- Prefect & homes


@pytest.fixture
def home(home, tmp_path, monkeypatch) -> Path:
    """The shared fresh FORECAST_HOME, with the working directory moved to tmp_path."""
    monkeypatch.chdir(tmp_path)
    return home


def tiny_data(tickers=("KO",), **data: Any) -> dict[str, Any]:
    """The data section of a tiny config (about 200 business days of sample prices)."""
    return {
        "tickers": list(tickers),
        "source": "sample",
        "start": "2019-06-03",
        "end": "2020-03-31",
        "target": "adj_close",
        "retries": 2,
        "retry_delay_seconds": 0.05,
        "rate_limit_pause_seconds": 0.2,
        **data,
    }


def tiny_dict(
    tickers=("KO",), epochs: int = 1, variants=("rnn",), experiment="rel", **data: Any
) -> dict[str, Any]:
    """A tiny run configuration as plain data (window 5, units 4, one epoch)."""
    return {
        "experiment": experiment,
        "data": tiny_data(tickers, **data),
        "features": {"window": 5, "horizon": 1},
        "split": {"test_fraction": 0.1, "val_fraction": 0.1},
        "variants": [{"name": v, "cell": v, "units": 4} for v in variants],
        "training": {"epochs": epochs, "batch_size": 64, "patience": 2, "seed": 7},
        "runner": {"max_workers": 2},
    }


def tiny_config(*args: Any, **kwargs: Any) -> RunConfig:
    """:func:`tiny_dict` validated into a RunConfig."""
    return parse_config(tiny_dict(*args, **kwargs), "test")


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """Write a config mapping as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- sample prices


def sample_csv_frame(ticker: str) -> pd.DataFrame:
    """A bundled Yahoo export read with plain pandas (``Date`` as a string column)."""
    with resources.as_file(resources.files("pricecast.sample") / f"{ticker}.csv") as path:
        return pd.read_csv(path)


def _load_standin() -> Any:
    """The subprocess stand-in package, loaded under its own name (not as ``yfinance``)."""
    spec = importlib.util.spec_from_file_location(
        "pricecast_yahoo_standin", STANDIN_PATH / "yfinance" / "__init__.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STANDIN = _load_standin()


def yahoo_history(ticker: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Sample rows shaped like yfinance 1.7's ``Ticker.history(auto_adjust=False)``."""
    return STANDIN.history_frame(ticker).loc[start:end]


# --------------------------------------------------------------------------- yfinance stand-in


class YahooStandIn:
    """Replaces ``yfinance.Ticker`` in this process (the flow's tasks run in its threads).

    Every ``Ticker(t).history(**kwargs)`` call is checked against the real
    ``PriceHistory.history`` signature, recorded with its time, and answered by
    ``respond(symbol, kwargs, n)`` (``n``: 1-based call number for that symbol), which
    returns a frame or raises.
    """

    def __init__(self, respond: Callable[[str, dict, int], pd.DataFrame]) -> None:
        from yfinance.scrapers.history import PriceHistory

        self.respond = respond
        self.calls: list[tuple[str, dict, float]] = []
        self._lock = threading.Lock()
        self._signature = inspect.signature(PriceHistory.history)

    def calls_for(self, symbol: str) -> list[float]:
        """Monotonic times of the calls for ``symbol``."""
        return [t for s, _, t in self.calls if s == symbol]

    def ticker_class(self) -> type:
        """A class with yfinance's ``Ticker(symbol).history(...)`` shape."""
        standin = self

        class Ticker:
            def __init__(self, symbol: str, session: Any = None) -> None:
                self.ticker = symbol

            def history(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
                standin._signature.bind(None, *args, **kwargs)  # TypeError on a bad keyword
                with standin._lock:
                    standin.calls.append((self.ticker, kwargs, time.monotonic()))
                    n = len(standin.calls_for(self.ticker))
                return standin.respond(self.ticker, kwargs, n)

        return Ticker


def yahoo_like(symbol: str, kwargs: dict, n: int = 1) -> pd.DataFrame:
    """Answer like Yahoo from the bundled sample (the subprocess stand-in's answer)."""
    return STANDIN.answer(symbol, kwargs.get("period"), kwargs.get("start"), kwargs.get("end"))


@pytest.fixture
def yahoo(monkeypatch) -> Callable[[Callable[[str, dict, int], pd.DataFrame]], YahooStandIn]:
    """Return ``install(respond)``: patch ``yfinance.Ticker`` with a recording stand-in."""
    import yfinance

    def install(respond: Callable[[str, dict, int], pd.DataFrame]) -> YahooStandIn:
        standin = YahooStandIn(respond)
        monkeypatch.setattr(yfinance, "Ticker", standin.ticker_class())
        return standin

    return install


# --------------------------------------------------------------------------- the CLI


def forecast_exe() -> str:
    """The installed ``forecast`` console command."""
    exe = shutil.which("forecast", path=str(Path(sys.executable).parent))
    assert exe, "the forecast console command is not installed"
    return exe


def cli_env(home: Path, yahoo: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of a ``forecast`` subprocess: its own Prefect state, FORECAST_HOME.

    Args:
        home: FORECAST_HOME.
        yahoo: ``ok``/``down``/``ratelimit``: put the yfinance stand-in package first on
            PYTHONPATH, answering that way; ``None``: the real yfinance (no network here).
        extra: More variables.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env["FORECAST_HOME"] = str(home)
    env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    if yahoo:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(STANDIN_PATH), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env["STANDIN_YAHOO"] = yahoo
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 300, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """Run ``forecast ARGS`` to completion."""
    return subprocess.run(
        [forecast_exe(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(args: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT):
    """Start ``forecast ARGS`` in its own process group (output to ``log``)."""
    fh = open(log, "wb")  # noqa: SIM115 - closed by the caller through proc.log
    proc = subprocess.Popen(
        [forecast_exe(), *args],
        cwd=cwd,
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log = fh  # type: ignore[attr-defined]
    return proc


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started by :func:`start_cli` and every process of its group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    proc.log.close()  # type: ignore[attr-defined]


def one_line_error(stderr: str) -> str:
    """The single non-empty line a failed CLI command prints on stderr (asserted)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr[-3000:]}"
    assert "Traceback" not in lines[0]
    return lines[0]


def csv_flow_run(tmp: Path, frames: dict[str, pd.DataFrame], experiment: str, **data: Any):
    """One ``forecast`` flow run over price CSVs under a fresh home (``source: csv``).

    Returns:
        ``(state, summary.json text, ticker parent runs by ticker)``.
    """
    from mlflow.tracking import MlflowClient

    from pricecast.flows.forecast import forecast

    home = tmp / "home"
    folder = home / "prices"
    folder.mkdir(parents=True)
    for ticker, frame in frames.items():
        frame.to_csv(folder / f"{ticker}.csv", index=False)
    config_data = tiny_dict(
        tuple(frames),
        source="csv",
        csv_path="prices/{ticker}.csv",  # relative: resolved inside FORECAST_HOME
        experiment=experiment,
        **data,
    )
    config_data["runner"]["max_workers"] = 4
    config = parse_config(config_data, "test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORECAST_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        state = forecast(config=config, output_dir=str(tmp / "out"), return_state=True)
    text = (tmp / "out" / "summary.json").read_text()
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=500)
    parents = {r.data.tags["ticker"]: r for r in runs if r.data.tags["pricecast.kind"] == "ticker"}
    return state, text, parents


def running_variant(db: Path) -> tuple[str, int] | None:
    """A RUNNING variant run and how many epochs it logged (read-only, plain sqlite)."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            row = con.execute(
                "SELECT r.run_uuid, (SELECT count(*) FROM metrics m "
                "WHERE m.run_uuid = r.run_uuid AND m.key = 'loss') "
                "FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                "WHERE r.status = 'RUNNING' AND t.key = 'pricecast.kind' AND t.value = 'variant'"
            ).fetchone()
    except sqlite3.Error:
        return None  # the store is being created or migrated
    return (row[0], row[1]) if row else None

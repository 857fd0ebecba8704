"""Rows 9, 10, 13, 14 and the CLI's error contract: one readable line, non-zero exit code.

Most cases call ``pricecast.flows.cli.main`` in this process (the flow, when it runs, on
the session's Prefect API); a few run the installed ``forecast`` command to see exactly
what a user sees (no traceback unless ``--debug``).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from pricecast.flows.cli import main
from pricecast.flows.forecast import forecast
from pricecast.stores.tracking.store import open_experiment

from .conftest import cli_env, one_line_error, run_cli, tiny_config, tiny_dict, write_yaml


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


def _nothing_done(home: Path) -> None:
    """No store, cache or outputs: at most the empty Prefect folder the CLI prepares."""
    assert not (home / "mlflow.db").exists()
    left = {p.name for p in home.iterdir()} if home.exists() else set()
    assert left <= {"prefect"}, left
    if "prefect" in left:
        assert not any((home / "prefect").iterdir())


# --------------------------------------------------------------------------- row 9


def _set(data: dict, dotted: str, value) -> dict:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return data


CONFIG_ERRORS = {
    "unknown-key": ("data.tickerz", ["KO"], "data.tickerz: unknown key"),
    "wrong-type": ("features.window", "ten", "features.window: Input should be a valid integer"),
    "window-zero": ("features.window", 0, "features.window: Input should be greater than or"),
    "window-negative": ("features.window", -3, "features.window: Input should be greater than"),
    "empty-tickers": ("data.tickers", [], "data.tickers: List should have at least 1 item"),
    "horizon-past-test-span": (
        "split",
        {"test_start": "2020-03-30", "test_end": "2020-03-31"},
        "features.horizon (5) is longer than the test span 2020-03-30..2020-03-31",
    ),
    "test-before-train": (
        "split",
        {"test_start": "2020-01-02", "train_end": "2020-02-03"},
        "split: Value error, train_end (2020-02-03) must be before test_start (2020-01-02)",
    ),
    "test-before-data": (
        "split",
        {"test_start": "2019-01-02"},
        "split.test_start (2019-01-02) must be after data.start (2019-06-03)",
    ),
    "bad-source": ("data.source", "ftp", "data.source: Input should be 'auto'"),
}


@pytest.mark.parametrize("case", list(CONFIG_ERRORS))
def test_bad_config_is_rejected_before_any_work(home, tmp_path, capsys, case):
    key, value, expected = CONFIG_ERRORS[case]
    data = _set(tiny_dict(), key, value)
    if case == "horizon-past-test-span":
        data["features"]["horizon"] = 5
    path = write_yaml(tmp_path / f"{case}.yaml", data)
    code, out, err = _cli(capsys, "run", "--config", str(path), "--output", str(tmp_path / "o"))
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"forecast: error: {path}: ")
    assert expected in line
    assert out == ""
    _nothing_done(home)
    assert not (tmp_path / "o").exists()


def test_unreadable_config_files_are_one_line(home, tmp_path, capsys):
    code, _, err = _cli(capsys, "run", "--config", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "config file not found: " in one_line_error(err)
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    code, _, err = _cli(capsys, "run", "--config", str(broken))
    assert code == 2
    # The YAML parser's message spans lines; the CLI still says it in one.
    assert f"{broken}: not valid YAML" in err
    _nothing_done(home)


def test_cli_error_has_no_traceback_unless_debug(tmp_path):
    home = tmp_path / "home"
    bad = write_yaml(tmp_path / "bad.yaml", _set(tiny_dict(), "training.epochz", 3))
    proc = run_cli(["run", "--config", str(bad)], cli_env(home), timeout=120)
    assert proc.returncode == 2
    line = one_line_error(proc.stderr)
    assert line == f"forecast: error: {bad}: training.epochz: unknown key"
    _nothing_done(home)

    proc = run_cli(["--debug", "run", "--config", str(bad)], cli_env(home), timeout=120)
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().endswith(f"forecast: error: {bad}: training.epochz: unknown key")


# --------------------------------------------------------------------------- row 10


def test_unreachable_mlflow_fails_fast_naming_the_uri(
    prefect_api, home, tmp_path, capsys, monkeypatch
):
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(epochs=50))

    code, out, err = _cli(capsys, "run", "--config", str(config), "--output", str(tmp_path / "o"))
    assert code == 1
    line = one_line_error(err)
    assert line.startswith(f"forecast: error: MLflow tracking server unreachable at {uri}")
    assert not (tmp_path / "o").exists()
    _nothing_done(home)

    # The flow itself (a deployment run, the Prefect UI) checks too, before any task.
    state = forecast(
        config=tiny_config(epochs=50), output_dir=str(tmp_path / "o2"), return_state=True
    )
    assert state.is_failed()
    assert f"MLflow tracking server unreachable at {uri}" in state.message
    assert not (tmp_path / "o2" / "summary.json").exists()
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    assert tasks == []  # no fetch, no training: it failed at the start


# --------------------------------------------------------------------------- row 13


def _unwritable(tmp_path: Path) -> Path:
    """An output folder that cannot be created, for root too (parent is a file)."""
    if os.geteuid() == 0:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a regular file\n")
        return blocker / "out"
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "out"


def test_unwritable_output_is_one_line_naming_the_path(prefect_api, home, tmp_path, capsys):
    out = _unwritable(tmp_path)
    config = write_yaml(tmp_path / "c.yaml", tiny_dict())
    try:
        code, stdout, err = _cli(capsys, "run", "--config", str(config), "--output", str(out))
        assert code != 0
        line = one_line_error(err)
        assert line.startswith("forecast: error: cannot write to ")
        assert str(out) in line
        _nothing_done(home)  # refused before any work: no store, no runs

        # The flow refuses it too, before opening the tracking store.
        state = forecast(config=tiny_config(), output_dir=str(out), return_state=True)
        assert state.is_failed()
        assert f"cannot write to {out}" in state.message
        assert not (home / "mlflow.db").exists()
    finally:
        out.parent.chmod(0o700)


def test_unwritable_output_through_the_command(tmp_path):
    """In a fresh process too (TensorFlow's start-up lines must not reach stderr)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("nothing can be created below a regular file\n")
    config = write_yaml(tmp_path / "c.yaml", tiny_dict())
    out = blocker / "out"
    proc = run_cli(["run", "--config", str(config), "--output", str(out)], cli_env(tmp_path / "h"))
    assert proc.returncode == 1
    assert one_line_error(proc.stderr) == f"forecast: error: cannot write to {out}: Not a directory"
    assert proc.stdout == ""


# --------------------------------------------------------------------------- row 14


def test_predict_without_store_or_champion_or_with_a_bad_ticker(home, capsys):
    # A fresh FORECAST_HOME: nothing tracked yet, and predict does not create a store.
    code, out, err = _cli(capsys, "predict", "--ticker", "KO", "--source", "sample")
    assert code == 1
    line = one_line_error(err)
    assert line == (
        f"forecast: error: no MLflow store at sqlite:///{home / 'mlflow.db'}: nothing was "
        "tracked there yet (run `forecast run` first)"
    )
    assert out == ""
    assert not (home / "mlflow.db").exists()

    open_experiment("rel-predict", home)  # a store without any registered model
    capsys.readouterr()
    code, out, err = _cli(capsys, "predict", "--ticker", "KO", "--source", "sample")
    assert code == 1
    line = one_line_error(err)
    assert line.startswith(f"forecast: no champion model for KO in sqlite:///{home}")
    assert "run `forecast run` with backtest enabled first" in line
    assert out == ""

    code, _, err = _cli(capsys, "predict", "--ticker", "XYZ")
    assert code == 1
    assert "no champion model for XYZ" in one_line_error(err)

    code, _, err = _cli(capsys, "predict", "--ticker", "not a ticker")
    assert code == 2
    assert "data.tickers: Value error, not a ticker symbol: 'NOT A TICKER'" in one_line_error(err)
    assert not (home / "predictions").exists()


def test_predict_without_champion_through_the_command(tmp_path):
    home = tmp_path / "home"
    proc = run_cli(["predict", "--ticker", "KO"], cli_env(home), timeout=180)
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert line.startswith("forecast: error: no MLflow store at sqlite:///")
    assert proc.stdout == ""
    assert not (home / "mlflow.db").exists()


@pytest.mark.slow
def test_failed_ticker_prints_no_traceback(tmp_path):
    """A run whose only ticker fails: exit 1, the reason last, no traceback from Prefect."""
    home = tmp_path / "home"
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(("XYZ",), source="sample"))
    proc = run_cli(["run", "--config", str(config)], cli_env(home), timeout=300)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("forecast: 1 of 1 ticker(s) failed — XYZ: NoPriceDataError: ")
    assert "no price data for XYZ (source sample" in last
    summary = json.loads(next((home / "outputs" / "rel").glob("*/summary.json")).read_text())
    assert list(summary["failed"]) == ["XYZ"]

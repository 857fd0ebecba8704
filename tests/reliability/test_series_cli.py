"""A generic series through the real CLI: negative values, month ends, seasonal naive, learning.

One ``forecast run`` on a seeded monthly series that crosses zero trains a GRU, backtests
it beside persistence and seasonal naive, registers the champion and draws the plots;
``forecast predict`` then forecasts month ends, and ``log_return`` on the same series is
refused naming the field. A series indexed by integer steps runs the same way and is
forecast at the next steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import cli_env, one_line_error, run_cli, write_yaml

ROWS = 240


def wave_csv(path: Path) -> Path:
    """A seeded monthly series (month ends): yearly and 40-month cycles, noise, any sign."""
    rng = np.random.default_rng(3)
    t = np.arange(ROWS)
    value = (
        8.0 * np.sin(2 * np.pi * t / 12)
        + 3.0 * np.sin(2 * np.pi * t / 40 + 1.0)
        - 1.0
        + rng.normal(0.0, 0.5, ROWS)
    )
    dates = pd.date_range("2000-01-31", periods=ROWS, freq="ME")
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "wave": value.round(4)}).to_csv(
        path, index=False
    )
    return path


def wave_config(**features) -> dict:
    """``kind: series`` from a CSV; the series WAVE reads the column ``wave`` by its name."""
    return {
        "experiment": "wave",
        "data": {
            "kind": "series",
            "tickers": ["WAVE"],
            "source": "csv",
            "csv_path": "wave.csv",
            "series": {"unit": "mm", "season_length": 12},
        },
        "features": {"window": 12, "horizon": 2, **features},
        "split": {"test_fraction": 0.1, "val_fraction": 0.15},
        "variants": [{"name": "gru", "cell": "gru", "units": 16}],
        "training": {"epochs": 40, "batch_size": 16, "learning_rate": 0.005, "patience": 8},
        "runner": {"max_workers": 1},
        "backtest": {"n_origins": 36, "ma_window": 3},
        "champion": {"metric": "mase", "h": 1},
    }


@pytest.mark.slow
def test_a_series_crossing_zero_runs_end_to_end_and_beats_persistence(home, tmp_path):
    home.mkdir(parents=True, exist_ok=True)
    values = pd.read_csv(wave_csv(home / "wave.csv"))["wave"]
    assert (values < 0).mean() > 0.3
    env = cli_env(home)
    config = write_yaml(tmp_path / "wave.yaml", wave_config())
    out = tmp_path / "out"

    proc = run_cli(["run", "--config", str(config), "--output", str(out)], env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    info = summary["tickers"]["WAVE"]
    assert info["test_span"][1] == "2019-12-31"
    assert (out / info["plot"]).stat().st_size > 10_000
    bt = info["backtest"]
    assert (out / bt["plot"]).stat().st_size > 10_000
    mase = {name: m["mase"][0] for name, m in bt["models"].items()}
    assert set(mase) == {"gru", "persistence", "drift", "moving_average", "seasonal_naive"}
    # The recurrent model learns the cycles persistence cannot follow: a wide margin.
    assert mase["gru"] < 0.5 * mase["persistence"], mase
    assert bt["best_model"] == "gru" and bt["promoted"], bt["decision"]
    assert bt["champion_version"] == "1"

    forecast_dir = tmp_path / "predict"
    proc = run_cli(
        ["predict", "--ticker", "WAVE", "--config", str(config), "--output", str(forecast_dir)],
        env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    dates = pd.read_csv(forecast_dir / "forecast.csv")["date"].tolist()
    assert dates == ["2020-01-31", "2020-02-29"]  # month ends after the last row, 2019-12-31


def test_log_return_on_a_series_with_negative_values_is_refused_naming_the_field(home, tmp_path):
    home.mkdir(parents=True, exist_ok=True)
    wave_csv(home / "wave.csv")
    config = write_yaml(tmp_path / "wave.yaml", wave_config(target_transform="log_return"))
    proc = run_cli(["run", "--config", str(config)], cli_env(home), timeout=300)
    assert proc.returncode == 1
    line = one_line_error(proc.stderr.split("\n\n")[-1])
    assert "WAVE: features.target_transform 'log_return' needs positive values" in line
    assert "use target_transform 'level' or 'diff'" in line


def test_the_nightly_loop_refuses_a_series_config_before_any_work(home, tmp_path):
    config = write_yaml(tmp_path / "wave.yaml", wave_config())
    args = ["replay", "--config", str(config), "--start", "2020-01-02", "--end", "2020-01-03"]
    proc = run_cli(args, cli_env(home), timeout=120)
    assert proc.returncode == 2
    line = one_line_error(proc.stderr)
    assert "data.kind: the nightly loop runs on prices only" in line
    assert not (home / "mlflow.db").exists()


def steps_csv(path: Path, rows: int = 160) -> Path:
    """A seeded series indexed by integer steps 100, 105, 110, …: a period-4 cycle, any sign."""
    rng = np.random.default_rng(5)
    t = np.arange(rows)
    value = 6.0 * np.sin(2 * np.pi * t / 4) + 0.02 * t + rng.normal(0.0, 0.2, rows)
    pd.DataFrame({"step": 100 + 5 * t, "level": value.round(4)}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_a_series_of_integer_steps_runs_end_to_end_and_forecasts_the_next_steps(home, tmp_path):
    home.mkdir(parents=True, exist_ok=True)
    steps_csv(home / "steps.csv")
    env = cli_env(home)
    config = write_yaml(
        tmp_path / "steps.yaml",
        {
            **wave_config(),
            "experiment": "steps",
            "data": {
                "kind": "series",
                "tickers": ["LEVEL"],
                "source": "csv",
                "csv_path": "steps.csv",
                "series": {"date_column": "step", "frequency": "steps"},
            },
            "features": {"window": 8, "horizon": 2},
            "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.01},
            "backtest": {"n_origins": 6, "ma_window": 3},
        },
    )
    out = tmp_path / "out"

    proc = run_cli(["run", "--config", str(config), "--output", str(out)], env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((out / "summary.json").read_text())["tickers"]["LEVEL"]
    assert info["test_span"][1] == "895"  # the last step, 100 + 5 * 159
    predictions = pd.read_csv(out / info["predictions"])
    assert predictions["date"].dtype == np.int64
    assert set(np.diff(np.unique(predictions["date"]))) == {5}
    assert (out / info["plot"]).stat().st_size > 10_000
    bt = info["backtest"]
    assert (out / bt["plot"]).stat().st_size > 10_000
    backtest = pd.read_csv(out / "LEVEL" / "backtest.csv")
    assert backtest["cutoff"].max() == 890 and backtest["date"].max() == 895
    assert bt["best_model"] == "gru" and bt["champion_version"] == "1", bt["decision"]

    forecast_dir = tmp_path / "predict"
    proc = run_cli(
        ["predict", "--ticker", "LEVEL", "--config", str(config), "--output", str(forecast_dir)],
        env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert pd.read_csv(forecast_dir / "forecast.csv")["date"].tolist() == [900, 905]
    assert "prices from csv up to 895" in proc.stdout

"""Constant and doubtful prices through the flow (``source: csv``).

One flow run reads one damaged copy of KO per case (ticker = case name). Each case is
either fixed with a note, or rejected with a message naming ticker, date and column,
while the good ticker beside them completes; ``summary.json`` stays strict JSON.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pricecast.configs.loader import parse_config
from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.flows import champion as champion_flow
from pricecast.flows.forecast import forecast
from pricecast.stores import outputs
from pricecast.stores.price_files import read_sample
from pricecast.tasks.backtest import MIN_ORIGINS, MIN_TRAIN_SAMPLES, fit_backtest
from pricecast.tasks.validate import validate_prices

from .conftest import cli_env, csv_flow_run, run_cli, sample_csv_frame, tiny_dict, write_yaml

DAY = "2019-10-15"
BEFORE = "2019-10-14"


def _ko() -> pd.DataFrame:
    raw = sample_csv_frame("KO")
    return raw[(raw["Date"] >= "2019-06-03") & (raw["Date"] <= "2020-03-31")].reset_index(drop=True)


def _at(frame: pd.DataFrame, day: str = DAY) -> int:
    return frame.index[frame["Date"] == day][0]


def _dated(day: str):
    def damage(f: pd.DataFrame) -> pd.DataFrame:
        extra = f.tail(1).copy()
        extra["Date"] = day
        return pd.concat([f, extra], ignore_index=True)

    return damage


def _gap(f: pd.DataFrame) -> pd.DataFrame:
    return f[(f["Date"] < "2019-07-01") | (f["Date"] > "2019-12-31")]


def _jump(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[_at(f), "Close"] = f.loc[_at(f), "Close"] * 1000
    return f


def _high_low(f: pd.DataFrame) -> pd.DataFrame:
    i = _at(f)
    f.loc[i, ["High", "Low"]] = [40.0, 41.0]
    return f


def _inf(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[_at(f), "Open"] = np.inf
    return f


def _no_adj(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(columns="Adj Close")


def _flat(f: pd.DataFrame) -> pd.DataFrame:
    f[["Open", "High", "Low", "Close", "Adj Close"]] = 50.0
    return f


CASES = {
    "GOOD": (lambda f: f, ("ok", None)),
    "FUTURE": (_dated("2030-01-02"), ("error", "FUTURE: row dated 2030-01-02 is after today")),
    "FAR": (_dated("2837-01-04"), ("error", "FAR: row dated 2837-01-04 is after today")),
    "GAP": (
        _gap,
        ("error", "GAP: no rows for 188 days between 2019-06-28 and 2020-01-02 (more than 31)"),
    ),
    "JUMP": (
        _jump,
        (
            "error",
            f"JUMP: column close jumps 1004x from 53.299999 on {BEFORE} to 53509.998 on {DAY}",
        ),
    ),
    "HILO": (_high_low, ("error", f"HILO: column high (40.0) is below column low (41.0) on {DAY}")),
    "INF": (_inf, ("error", f"INF: infinite value on {DAY} column open (inf)")),
    "NOADJ": (
        _no_adj,
        (
            "ok",
            "NOADJ: column adj_close is empty (the source has no Adj Close); using column "
            "close from 2019-06-03 to 2020-03-31 (not adjusted for dividends)",
        ),
    ),
    "FLAT": (
        _flat,
        ("error", "FLAT: column adj_close is constant (50.0 on all 210 rows, 2019-06-03.."),
    ),
}


def _strict_json(text: str):
    def refuse(name: str):
        raise ValueError(f"not strict JSON: bare {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def csv_run(prefect_api, tmp_path_factory):
    """One flow run over every case; returns (state, summary, parents)."""
    frames = {ticker: damage(_ko()) for ticker, (damage, _) in CASES.items()}
    # end=None: rows after the requested span would be clipped, not checked
    state, text, parents = csv_flow_run(
        tmp_path_factory.mktemp("csv2"), frames, "rel-csv2", end=None
    )
    return state, _strict_json(text), parents


@pytest.mark.parametrize("ticker", [t for t in CASES if t != "GOOD"])
def test_doubtful_prices_are_fixed_with_a_note_or_rejected_naming_the_cause(csv_run, ticker):
    state, summary, parents = csv_run
    kind, text = CASES[ticker][1]
    if kind == "ok":
        info = summary["tickers"][ticker]
        assert text in info["notes"], info["notes"]
        assert text in parents[ticker].data.tags["data_notes"]
        assert parents[ticker].info.status == "FINISHED"
    else:
        assert ticker not in summary["tickers"]
        assert text in summary["failed"][ticker], summary["failed"][ticker]
        assert text in state.message
        assert parents[ticker].info.status == "FAILED"
        assert text in parents[ticker].data.tags["error"]


def test_good_ticker_completes_beside_the_doubtful_ones(csv_run):
    state, summary, parents = csv_run
    assert state.is_failed()
    assert sorted(summary["tickers"]) == ["GOOD", "NOADJ"]
    assert parents["GOOD"].info.status == "FINISHED"
    assert summary["tickers"]["GOOD"]["notes"] == []
    # the file without Adj Close is trained on its Close, and says so
    assert summary["tickers"]["NOADJ"]["models"]["persistence"]["rmse"] > 0


def test_summary_json_is_strict_even_with_undefined_metrics(tmp_path):
    data = {"models": {"rnn": {"mase": float("nan"), "rmse": 1.5}}, "inf": [float("inf"), 2.0]}
    path = outputs.write_json(tmp_path / "summary.json", data)
    back = _strict_json(path.read_text())
    assert back == {"models": {"rnn": {"mase": None, "rmse": 1.5}}, "inf": [None, 2.0]}
    assert not any(isinstance(v, float) and math.isnan(v) for v in back["models"]["rnn"].values())


# --------------------------------------------------------------------------- item 3


def test_fit_backtest_cuts_origins_to_the_series_or_refuses():
    """210 rows of KO (209 usable: returns need a previous day), window 5, horizon 1."""
    frame = validate_prices(read_sample("KO"), "KO").frame.loc["2019-06-03":"2020-03-31"]
    assert len(frame) == 210 and MIN_TRAIN_SAMPLES == 50 and MIN_ORIGINS == 20
    features = FeaturesConfig(window=5, horizon=1)
    asked = BacktestConfig(n_origins=5000)
    fitted, note = fit_backtest(frame, "KO", features, asked)
    assert fitted.n_origins == 152 and asked.n_origins == 5000
    assert note == (
        "KO: 209 usable rows hold 152 backtest origins, not the configured 5000 "
        "(after 56 training rows); backtesting on 152"
    )
    as_asked = BacktestConfig(n_origins=152)
    assert fit_backtest(frame, "KO", features, as_asked) == (as_asked, None)
    assert fit_backtest(frame.tail(78), "KO", features, asked)[0].n_origins == 20
    with pytest.raises(ValueError, match=r"^KO: 76 usable rows are too few for a backtest: .*"):
        fit_backtest(frame.tail(77), "KO", features, asked)


@pytest.mark.slow
def test_short_history_backtests_fewer_origins_and_a_too_young_ticker_fails_the_run(tmp_path):
    """``n_origins: 5000`` on ~210 rows: LONG is backtested on what fits (warned), YOUNG
    (60 rows) fails the run with the numbers, exit code 1; LONG's results stand."""
    home = tmp_path / "home"
    folder = home / "prices"
    folder.mkdir(parents=True)
    _ko().to_csv(folder / "LONG.csv", index=False)
    _ko().tail(60).to_csv(folder / "YOUNG.csv", index=False)
    data = tiny_dict(
        ("LONG", "YOUNG"), source="csv", csv_path="prices/{ticker}.csv", experiment="rel-bt"
    )
    data["backtest"] = {"n_origins": 5000}
    config = write_yaml(tmp_path / "bt.yaml", data)
    out = tmp_path / "out"
    proc = run_cli(["run", "--config", str(config), "--output", str(out)], cli_env(home))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    cut = "LONG: 209 usable rows hold 152 backtest origins, not the configured 5000"
    assert cut in output
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("forecast: 1 of 2 ticker(s) failed — YOUNG: ValueError: YOUNG: "), last
    assert "59 usable rows are too few for a backtest" in last
    summary = _strict_json((out / "summary.json").read_text())
    assert list(summary["failed"]) == ["YOUNG"]
    long = summary["tickers"]["LONG"]
    assert long["backtest"]["n_origins"] == 152
    assert any(n.startswith(cut) for n in long["notes"])
    assert "backtest 152 origins" in proc.stdout
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("rel-bt")
    parents = {
        r.data.tags["ticker"]: r.info.status
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags["pricecast.kind"] == "ticker"
    }
    assert parents == {"LONG": "FINISHED", "YOUNG": "FAILED"}


def test_failed_backtest_fails_the_flow_and_the_ticker_run(prefect_api, home, monkeypatch):
    """Any backtest failure (here the baselines' walk-forward raises) fails the flow."""

    def broken(*args, **kwargs):
        raise RuntimeError("walk-forward broke")

    monkeypatch.setattr(champion_flow, "walk_forward", broken)
    data = tiny_dict(("KO",), experiment="rel-btfail")
    data["backtest"] = {"n_origins": 20}
    state = forecast(
        config=parse_config(data, "test"), output_dir=str(home / "o"), return_state=True
    )
    assert state.is_failed()
    why = "backtest failed: RuntimeError: walk-forward broke"
    assert f"1 of 1 ticker(s) failed — KO: {why}" in state.message
    summary = _strict_json((home / "o" / "summary.json").read_text())
    assert summary["failed"] == {"KO": why}
    assert summary["tickers"]["KO"]["backtest"] == {"error": "RuntimeError: walk-forward broke"}
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("rel-btfail")
    (parent,) = [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags["pricecast.kind"] == "ticker"
    ]
    assert parent.info.status == "FAILED" and parent.data.tags["error"] == why

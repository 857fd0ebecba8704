"""Issue 16, items 11 and 12: doubtful prices through the flow (``source: csv``).

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
from pricecast.flows.forecast import forecast
from pricecast.stores import outputs

from .conftest import sample_csv_frame, tiny_dict

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
    """One flow run over every case; returns (state, summary, summary text, parents)."""
    tmp = tmp_path_factory.mktemp("csv2")
    home = tmp / "home"
    folder = home / "prices"
    folder.mkdir(parents=True)
    for ticker, (damage, _) in CASES.items():
        damage(_ko()).to_csv(folder / f"{ticker}.csv", index=False)
    data = tiny_dict(
        tuple(CASES),
        source="csv",
        csv_path="prices/{ticker}.csv",
        end=None,  # rows after the requested span would be clipped, not checked
        experiment="rel-csv2",
    )
    data["runner"]["max_workers"] = 4
    config = parse_config(data, "test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORECAST_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        state = forecast(config=config, output_dir=str(tmp / "out"), return_state=True)
    text = (tmp / "out" / "summary.json").read_text()
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("rel-csv2")
    runs = client.search_runs([exp.experiment_id], max_results=500)
    parents = {r.data.tags["ticker"]: r for r in runs if r.data.tags["pricecast.kind"] == "ticker"}
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

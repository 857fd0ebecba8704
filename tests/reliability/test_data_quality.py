"""Rows 5 and 6: bad price files through the flow (``source: csv`` under FORECAST_HOME).

One flow run reads one CSV per case (ticker = case name); each test checks one case:
fixed and noted, or rejected with ticker, date and column (and the file, for shape errors).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pricecast.flows.forecast import forecast

from .conftest import csv_flow_run, sample_csv_frame, tiny_config

DAY = "2019-10-15"


def _ko():
    raw = sample_csv_frame("KO")
    return raw[(raw["Date"] >= "2019-06-03") & (raw["Date"] <= "2020-03-31")].reset_index(drop=True)


def _at(frame, day=DAY):
    return frame.index[frame["Date"] == day][0]


def _null_row(f):
    f.loc[_at(f), ["Open", "High", "Low", "Close", "Adj Close", "Volume"]] = np.nan
    return f


def _partial_null(f):
    f.loc[_at(f), "Low"] = np.nan
    return f


def _dup_same(f):
    return pd.concat([f, f.loc[[_at(f)]]]).sort_values("Date", kind="stable")


def _dup_diff(f):
    extra = f.loc[[_at(f)]].copy()
    extra["Close"] = extra["Close"] + 1.0
    return pd.concat([f, extra]).sort_values("Date", kind="stable")


def _unsorted(f):
    return f.sample(frac=1.0, random_state=3)


def _zero(f):
    f.loc[_at(f), "Close"] = 0.0
    return f


def _negative(f):
    f.loc[_at(f), "Adj Close"] = -3.5
    return f


def _text(f):
    f["High"] = f["High"].astype(object)
    f.loc[_at(f), "High"] = "12,5x"
    return f


def _no_low(f):
    return f.drop(columns="Low")


def _us_dates(f):
    f["Date"] = f["Date"].str.slice(5, 7) + "/" + f["Date"].str.slice(8) + "/" + f["Date"].str[:4]
    return f


CASES = {
    # ticker: (damage, expected outcome: "ok" + note, or the error text)
    "NULLROW": (_null_row, ("ok", f"NULLROW: dropped 1 empty row(s) ({DAY})")),
    "DUPSAME": (_dup_same, ("ok", "DUPSAME: dropped 1 repeated row(s) with duplicate dates")),
    "UNSORTED": (_unsorted, ("ok", "UNSORTED: dates were not in order; sorted")),
    "PARTNULL": (_partial_null, ("error", f"PARTNULL: missing price on {DAY} column low (nan)")),
    "DUPDIFF": (
        _dup_diff,
        ("error", f"DUPDIFF: duplicate date {DAY} with different values in column(s) close"),
    ),
    "ZERO": (_zero, ("error", f"ZERO: price must be positive, got {DAY} column close (0.0)")),
    "NEG": (
        _negative,
        ("error", f"NEG: price must be positive, got {DAY} column adj_close (-3.5)"),
    ),
    "TEXT": (_text, ("error", f"TEXT: non-numeric value on {DAY} column high ('12,5x')")),
    "NOLOW": (_no_low, ("error", "NOLOW: CSV NOLOW.csv lacks column(s) Low")),
    "USDATE": (
        _us_dates,
        ("error", "USDATE: CSV USDATE.csv column Date: '06/03/2019' on line 2 is not a YYYY-MM-DD"),
    ),
}
ROWS_5 = ["NULLROW", "DUPSAME", "UNSORTED", "PARTNULL", "DUPDIFF", "ZERO", "NEG", "TEXT"]
ROWS_6 = ["NOLOW", "USDATE"]


@pytest.fixture(scope="module")
def csv_run(prefect_api, tmp_path_factory):
    """One flow run over every damaged file; returns (state, summary, parents by ticker)."""
    frames = {ticker: damage(_ko()) for ticker, (damage, _) in CASES.items()}
    state, text, parents = csv_flow_run(tmp_path_factory.mktemp("csv"), frames, "rel-csv")
    return state, json.loads(text), parents


def _check(csv_run, ticker: str) -> None:
    state, summary, parents = csv_run
    kind, text = CASES[ticker][1]
    if kind == "ok":
        info = summary["tickers"][ticker]
        assert text in info["notes"], info["notes"]
        assert parents[ticker].info.status == "FINISHED"
        assert text in parents[ticker].data.tags["data_notes"]
        assert info["test_span"][1] == "2020-03-31"
    else:
        assert ticker not in summary["tickers"]
        assert text in summary["failed"][ticker], summary["failed"][ticker]
        assert text in state.message
        assert parents[ticker].info.status == "FAILED"
        assert text in parents[ticker].data.tags["error"]


@pytest.mark.parametrize("ticker", ROWS_5)
def test_bad_rows_are_fixed_or_rejected_with_ticker_date_column(csv_run, ticker):
    _check(csv_run, ticker)


@pytest.mark.parametrize("ticker", ROWS_6)
def test_malformed_csv_names_the_file_and_column(csv_run, ticker):
    _check(csv_run, ticker)


def test_good_files_complete_beside_the_bad_ones(csv_run):
    state, summary, _ = csv_run
    assert state.is_failed()
    ok = sorted(t for t, (_, (kind, _)) in CASES.items() if kind == "ok")
    assert sorted(summary["tickers"]) == ok
    assert sorted(summary["failed"]) == sorted(set(CASES) - set(ok))
    assert f"{len(CASES) - len(ok)} of {len(CASES)} ticker(s) failed" in state.message


def test_fixed_csv_is_read_again_on_rerun(prefect_api, home, tmp_path):
    folder = home / "prices"
    folder.mkdir(parents=True)
    _zero(_ko()).to_csv(folder / "KO.csv", index=False)
    config = tiny_config(
        ("KO",), source="csv", csv_path="prices/{ticker}.csv", experiment="rel-rerun"
    )
    state = forecast(config=config, output_dir=str(tmp_path / "o1"), return_state=True)
    assert state.is_failed()
    assert f"KO: price must be positive, got {DAY} column close (0.0)" in state.message

    _ko().to_csv(folder / "KO.csv", index=False)  # the user fixes the file and reruns
    state = forecast(config=config, output_dir=str(tmp_path / "o2"), return_state=True)
    assert state.is_completed(), state.message

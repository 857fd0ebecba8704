"""Rows 1–4, 7, 8: unknown tickers, Yahoo down, rate limits, partial downloads, bad caches, races.

Yahoo is never reachable here: ``yfinance.Ticker`` is replaced by a recording stand-in
(the flow's tasks run in threads of this process, so the stand-in is what
``pricecast.tasks.yahoo.download_yahoo`` imports).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from yfinance.exceptions import YFRateLimitError
from yfinance.utils import empty_df

from pricecast.flows.forecast import forecast
from pricecast.stores import price_files, prices

from .conftest import (
    cli_env,
    forecast_exe,
    tiny_config,
    tiny_dict,
    write_yaml,
    yahoo_history,
    yahoo_like,
)


def _run(config, out: Path):
    state = forecast(config=config, output_dir=str(out), return_state=True)
    summary = json.loads((out / "summary.json").read_text())
    return state, summary


def _parents(home: Path, experiment: str) -> dict[str, object]:
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=500)
    return {r.data.tags["ticker"]: r for r in runs if r.data.tags["pricecast.kind"] == "ticker"}


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def _down(symbol, kwargs, n):
    raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")


# --------------------------------------------------------------------------- row 1


def test_unknown_ticker_fails_alone(prefect_api, home, tmp_path, yahoo):
    standin = yahoo(yahoo_like)  # XYZ is not in the sample: YFPricesMissingError
    config = tiny_config(("KO", "XYZ"), source="auto", experiment="rel-unknown")
    state, summary = _run(config, tmp_path / "out")

    assert state.is_failed()
    assert "1 of 2 ticker(s) failed" in state.message
    assert "no price data for XYZ (source yfinance)" in state.message
    assert list(summary["tickers"]) == ["KO"]
    assert summary["tickers"]["KO"]["source"] == "yfinance"
    assert summary["failed"]["XYZ"].startswith("NoPriceDataError: no price data for XYZ (source")
    # "No data" is Yahoo's answer, not an outage: asked once, never retried.
    assert len(standin.calls_for("XYZ")) == 1
    parents = _parents(home, "rel-unknown")
    assert parents["KO"].info.status == "FINISHED"
    assert parents["XYZ"].info.status == "FAILED"
    assert "no price data for XYZ" in parents["XYZ"].data.tags["error"]


def test_a_download_is_asked_for_once_a_day_per_home(
    prefect_api, home, tmp_path, yahoo, monkeypatch
):
    standin = yahoo(yahoo_like)
    config = tiny_config(("KO",), source="auto", experiment="rel-daily")
    state, summary = _run(config, tmp_path / "out1")
    assert state.is_completed(), state.message
    assert summary["tickers"]["KO"]["source"] == "yfinance"
    assert len(standin.calls_for("KO")) == 1

    # The price cache is gone: Prefect's cached download of today refills it, Yahoo is
    # not asked again.
    cache = home / "cache" / "prices"
    price_files.cache_file(cache, "KO").unlink()
    state, summary = _run(config, tmp_path / "out2")
    assert state.is_completed(), state.message
    assert summary["tickers"]["KO"]["source"] == "yfinance"
    assert len(standin.calls_for("KO")) == 1
    assert price_files.read_cache(cache, "KO") is not None

    # Another FORECAST_HOME downloads for itself.
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path / "other"))
    state, _ = _run(config, tmp_path / "out3")
    assert state.is_completed(), state.message
    assert len(standin.calls_for("KO")) == 2


# --------------------------------------------------------------------------- row 2


def test_yahoo_down_retries_then_falls_back_with_one_warning(prefect_api, home, tmp_path, yahoo):
    standin = yahoo(_down)
    # No cache: the bundled sample is served.
    config = tiny_config(("KO",), source="auto", retries=2, retry_delay_seconds=0.1)
    state, summary = _run(config, tmp_path / "out1")
    assert state.is_completed(), state.message
    times = standin.calls_for("KO")
    assert len(times) == 3  # the first try and two retries
    first, second = _gaps(times)
    assert first >= 0.1 and second >= 0.2  # exponential backoff: 0.1 s, then 0.2 s
    ko = summary["tickers"]["KO"]
    assert ko["source"] == "sample"
    fallback = [n for n in ko["notes"] if "Yahoo unreachable" in n]
    assert len(fallback) == 1, ko["notes"]
    assert "falling back" in fallback[0] and "bundled sample" in fallback[0]
    assert len(ko["notes"]) == 1, ko["notes"]  # one warning line, nothing else to say

    # A cache that does not cover the request: Yahoo is tried, then the cache is served.
    price_files.write_cache(
        home / "cache" / "prices",
        "KO",
        price_files.read_sample("KO").loc["2019-06-03":"2020-02-28"],
        dt.date(2019, 6, 3),
        dt.date(2020, 2, 28),
    )
    config = tiny_config(("KO",), source="auto", end="2020-03-06", retry_delay_seconds=0.05)
    state, summary = _run(config, tmp_path / "out2")
    assert state.is_completed(), state.message
    assert len(standin.calls_for("KO")) == 6
    ko = summary["tickers"]["KO"]
    assert ko["source"] == "cache"
    fallback = [n for n in ko["notes"] if "Yahoo unreachable" in n]
    assert len(fallback) == 1 and "using the cache (2019-06-03..2020-02-28)" in fallback[0]
    # ... and the days the cache lacks are named.
    assert any("cache has no rows for 2020-02-29..2020-03-06" in n for n in ko["notes"])


def test_yahoo_down_with_forced_yfinance_is_a_clear_error(prefect_api, home, tmp_path, yahoo):
    def respond(symbol, kwargs, n):
        if symbol == "KO":
            return _down(symbol, kwargs, n)
        return yahoo_like(symbol, kwargs, n)

    standin = yahoo(respond)
    config = tiny_config(("KO", "MSFT"), source="yfinance", experiment="rel-forced")
    state, summary = _run(config, tmp_path / "out")
    assert state.is_failed()
    assert len(standin.calls_for("KO")) == 3
    assert summary["failed"]["KO"] == (
        "SourceUnavailableError: KO: Yahoo unreachable "
        "(ConnectionError: Failed to resolve 'query2.finance.yahoo.com')"
    )
    assert summary["tickers"]["MSFT"]["source"] == "yfinance"
    assert not (home / "cache" / "prices" / "KO.parquet").exists()


def test_yahoo_empty_answer_is_never_served_as_data(prefect_api, home, tmp_path, yahoo):
    # With raise_errors=True, yfinance raises on network errors: an empty frame is Yahoo
    # saying "no rows", treated like an unknown ticker (not retried, not a fallback).
    standin = yahoo(lambda symbol, kwargs, n: empty_df())
    config = tiny_config(("KO",), source="auto")
    state, summary = _run(config, tmp_path / "out")
    assert state.is_failed()
    assert summary["failed"]["KO"] == (
        "NoPriceDataError: no price data for KO (source yfinance): empty response"
    )
    assert len(standin.calls_for("KO")) == 1
    assert not (home / "cache" / "prices" / "KO.parquet").exists()


# --------------------------------------------------------------------------- row 3


def test_rate_limit_pauses_longer_and_is_never_data(prefect_api, home, tmp_path, yahoo):
    pause, delay = 0.4, 0.05

    def respond(symbol, kwargs, n):
        if symbol == "MSFT" or n <= 2:  # KO: limited twice, then served; MSFT: always
            raise YFRateLimitError()
        return yahoo_like(symbol, kwargs, n)

    standin = yahoo(respond)
    config = tiny_config(
        ("KO", "MSFT"),
        source="auto",
        retries=2,
        retry_delay_seconds=delay,
        rate_limit_pause_seconds=pause,
    )
    state, summary = _run(config, tmp_path / "out")
    assert state.is_completed(), state.message

    ko_times = standin.calls_for("KO")
    assert len(ko_times) == 3
    first, second = _gaps(ko_times)
    assert first >= pause + delay and second >= pause + 2 * delay
    ko = summary["tickers"]["KO"]
    assert ko["source"] == "yfinance" and ko["notes"] == []
    cached = price_files.read_cache(home / "cache" / "prices", "KO")
    expected = yahoo_history("KO", "2019-06-03", "2020-03-31")
    assert len(cached[0]) == len(expected) > 150

    # Rate-limited to the end: never an empty frame served as Yahoo data.
    assert len(standin.calls_for("MSFT")) == 3
    msft = summary["tickers"]["MSFT"]
    assert msft["source"] == "sample"
    assert len(msft["notes"]) == 1 and "MSFT: Yahoo rate limit" in msft["notes"][0]
    assert not (home / "cache" / "prices" / "MSFT.parquet").exists()


# --------------------------------------------------------------------------- row 4


def test_partial_download_is_served_with_the_gap_named(prefect_api, home, tmp_path, yahoo):
    def respond(symbol, kwargs, n):
        frame = yahoo_like(symbol, kwargs, n)
        if symbol == "KO":  # Yahoo's history starts later than asked
            return frame.loc["2019-09-03":]
        return frame.iloc[-5:]  # MSFT: five rows, fewer than window 5 + horizon 1 needs

    yahoo(respond)
    config = tiny_config(("KO", "MSFT"), source="auto", experiment="rel-partial")
    state, summary = _run(config, tmp_path / "out")

    ko = summary["tickers"]["KO"]
    assert ko["source"] == "yfinance"
    assert ko["notes"] == ["KO: yfinance has no rows for 2019-06-03..2019-09-02"]
    assert state.is_failed()
    assert summary["failed"]["MSFT"] == (
        "PriceDataError: MSFT: 4 rows are too few for window 5 + horizon 1 "
        "in train, validation and test"
    )
    assert "data_notes" in _parents(home, "rel-partial")["KO"].data.tags


# --------------------------------------------------------------------------- row 7


def _damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_bytes(b"this is not a parquet file\n" * 10)
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def test_corrupt_cache_is_refetched_and_replaced(prefect_api, home, tmp_path, yahoo):
    cache = home / "cache" / "prices"
    cache.mkdir(parents=True)
    (cache / "KO.parquet").write_bytes(b"PAR1 this is not a parquet file")
    price_files.write_cache(
        cache,
        "MSFT",
        price_files.read_sample("MSFT").loc["2019-06-03":"2020-03-31"],
        dt.date(2019, 6, 3),
        dt.date(2020, 3, 31),
    )
    _damage(cache / "MSFT.parquet", "truncated")
    standin = yahoo(yahoo_like)

    config = tiny_config(("KO", "MSFT"), source="auto")
    state, summary = _run(config, tmp_path / "out")
    assert state.is_completed(), state.message
    for ticker in ("KO", "MSFT"):
        info = summary["tickers"][ticker]
        assert info["source"] == "yfinance"
        assert len(standin.calls_for(ticker)) == 1
        (note,) = info["notes"]
        assert f"cache file {cache / (ticker + '.parquet')} is unreadable" in note
        frame, start, end = price_files.read_cache(cache, ticker)
        assert (start, end) == (dt.date(2019, 6, 3), dt.date(2020, 3, 31))
        assert len(frame) == len(yahoo_history(ticker, "2019-06-03", "2020-03-31"))
        pq.read_table(cache / f"{ticker}.parquet")
    assert sorted(p.name for p in cache.iterdir()) == ["KO.parquet", "MSFT.parquet"]


def test_corrupt_cache_without_yahoo_still_completes(prefect_api, home, tmp_path, yahoo):
    cache = home / "cache" / "prices"
    cache.mkdir(parents=True)
    (cache / "KO.parquet").write_bytes(b"")
    yahoo(_down)
    config = tiny_config(("KO",), source="auto", retries=0)
    state, summary = _run(config, tmp_path / "out")
    assert state.is_completed(), state.message
    ko = summary["tickers"]["KO"]
    assert ko["source"] == "sample"
    assert any("is unreadable" in n for n in ko["notes"])
    assert any("falling back" in n and "bundled sample" in n for n in ko["notes"])


# --------------------------------------------------------------------------- row 8


def test_concurrent_loads_never_leave_a_broken_cache(tmp_path):
    """Many threads load, download and rewrite the same ticker's cache while others read it."""
    cache = tmp_path / "cache"
    whole = price_files.read_sample("KO").loc["2015-01-02":"2020-12-11"]
    ends = [dt.date(2020, 1, 31) + dt.timedelta(days=7 * i) for i in range(40)]
    errors: list[BaseException] = []
    downloads = []

    def download(ticker, start, end):
        downloads.append(end)
        time.sleep(0.002)
        return whole.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    def loader(k: int) -> None:
        try:
            for i in range(25):
                end = ends[(k * 7 + i) % len(ends)]
                got = prices.load_prices(
                    "KO", dt.date(2015, 1, 1), end, "auto", cache_dir=cache, download=download
                )
                assert got.frame.index[-1] <= pd.Timestamp(end)
                assert not got.frame.empty
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                got = price_files.read_cache(cache, "KO")  # CorruptCacheError would fail the test
                if got is not None:
                    assert len(got[0]) > 1000
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=loader, args=(k,)) for k in range(6)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors[0]
    assert len(downloads) > 20  # the cache was rewritten many times
    assert sorted(p.name for p in cache.iterdir()) == ["KO.parquet"]  # no temporary files
    frame, start, _ = price_files.read_cache(cache, "KO")
    assert start == dt.date(2015, 1, 1)
    pd.testing.assert_frame_equal(frame, whole.loc[: frame.index[-1]], check_freq=False)


@pytest.mark.slow
def test_two_cli_runs_share_one_home(tmp_path):
    """Two ``forecast run`` processes at once on one FORECAST_HOME: both succeed."""
    home = tmp_path / "home"
    config = write_yaml(tmp_path / "two.yaml", tiny_dict(("KO",), source="auto"))
    env = cli_env(home, yahoo="ok", STANDIN_YAHOO_LOG=str(tmp_path / "calls.log"))
    procs = [
        subprocess.Popen(
            [forecast_exe(), "run", "--config", str(config), "--output", str(tmp_path / f"o{i}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    results = [p.communicate(timeout=400) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, out[-2000:] + err[-4000:]
    for i in (1, 2):
        summary = json.loads((tmp_path / f"o{i}" / "summary.json").read_text())
        assert summary["failed"] == {}
        assert summary["tickers"]["KO"]["source"] in {"yfinance", "cache"}
    frame, *_ = price_files.read_cache(home / "cache" / "prices", "KO")
    assert len(frame) == len(yahoo_history("KO", "2019-06-03", "2020-03-31"))
    assert sorted(p.name for p in (home / "cache" / "prices").iterdir()) == ["KO.parquet"]

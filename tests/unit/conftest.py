"""Shared fixtures of the unit tests: real sample prices and the seed FB case."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from pricecast.configs.loader import load_config
from pricecast.configs.schema import RunConfig
from pricecast.stores.prices import load_prices
from pricecast.tasks.dataset import Dataset, build_dataset
from pricecast.tasks.validate import validate_prices

YAHOO_COLUMNS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def _raw_sample(ticker: str) -> pd.DataFrame:
    """A bundled CSV read with plain pandas (independent of ``tasks.sources``)."""
    with resources.as_file(resources.files("pricecast.sample") / f"{ticker}.csv") as path:
        raw = pd.read_csv(path, na_values=["null"])
    raw["Date"] = pd.to_datetime(raw["Date"], format="%Y-%m-%d")
    return raw.set_index("Date")


@pytest.fixture(scope="session")
def raw_sample():
    """Return ``f(ticker)``: the sample CSV as a ``Date``-indexed frame with Yahoo columns."""
    cache: dict[str, pd.DataFrame] = {}

    def get(ticker: str) -> pd.DataFrame:
        if ticker not in cache:
            cache[ticker] = _raw_sample(ticker)
        return cache[ticker].copy()

    return get


@pytest.fixture(scope="session")
def yahoo_history(raw_sample):
    """Return ``f(ticker, start=None, end=None)``: sample rows shaped like yfinance 1.7.

    ``Ticker(t).history(interval="1d", auto_adjust=False, actions=False)`` returns flat
    columns ``Open, High, Low, Close, Adj Close, Volume`` (``Volume`` int64) and a
    tz-aware index named ``Date`` at 00:00 exchange time (America/New_York).
    """

    def get(ticker: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
        raw = raw_sample(ticker).loc[start:end, YAHOO_COLUMNS]
        frame = raw.astype({"Volume": "int64"})
        frame.index = pd.DatetimeIndex(frame.index).tz_localize("America/New_York")
        frame.index.name = "Date"
        return frame

    return get


@pytest.fixture(scope="session")
def seed_fb_config() -> RunConfig:
    """The bundled seed FB config (FB 2015..2020-01, test = January 2020)."""
    return load_config("seed_fb")


@pytest.fixture(scope="session")
def _fb_seed_frame(seed_fb_config, tmp_path_factory) -> pd.DataFrame:
    cfg = seed_fb_config
    loaded = load_prices(
        "FB",
        cfg.data.start,
        cfg.data.end,
        cfg.data.source,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )
    assert loaded.source == "sample"
    return validate_prices(loaded.frame, "FB", cfg.data.null_rows).frame


@pytest.fixture
def fb_seed_prices(_fb_seed_frame) -> pd.DataFrame:
    """Validated FB prices of the seed config (a fresh copy per test)."""
    return _fb_seed_frame.copy()


@pytest.fixture(scope="session")
def fb_prepared(seed_fb_config, _fb_seed_frame) -> Dataset:
    """The seed FB case prepared as the flow does it (read-only)."""
    cfg = seed_fb_config
    return build_dataset(_fb_seed_frame, "FB", cfg.features, cfg.split, cfg.data.target)

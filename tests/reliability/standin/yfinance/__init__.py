"""A ``yfinance`` stand-in for ``forecast`` subprocesses (Yahoo cannot be reached here).

Put its parent folder first on ``PYTHONPATH``; ``STANDIN_YAHOO`` picks the answer:
``ok`` (the bundled sample, shaped like yfinance 1.7's ``Ticker.history``; unknown
symbols raise ``YFPricesMissingError``), ``down`` (a connection error) or ``ratelimit``
(``YFRateLimitError``). Calls are appended to ``$STANDIN_YAHOO_LOG`` when set.
"""

from __future__ import annotations

import os
import time
from importlib import resources

import pandas as pd

__version__ = "1.7.0-standin"


class YFException(Exception):
    """Base of the stand-in's errors (names match yfinance's)."""


class YFPricesMissingError(YFException):
    def __init__(self, ticker: str, debug_info: str) -> None:
        super().__init__(f"${ticker}: possibly delisted; no price data found {debug_info}")


class YFRateLimitError(YFException):
    def __init__(self) -> None:
        super().__init__("Too Many Requests. Rate limited. Try after a while.")


class DNSError(ConnectionError):
    """What curl_cffi raises when the host cannot be resolved."""


def history_frame(symbol: str) -> pd.DataFrame:
    """A bundled sample shaped like yfinance 1.7's ``Ticker.history(auto_adjust=False)``.

    Flat columns ``Open, High, Low, Close, Adj Close, Volume`` (``Volume`` int64) and a
    tz-aware index named ``Date`` (America/New_York); an unknown symbol raises
    ``YFPricesMissingError``.
    """
    res = resources.files("pricecast.sample") / f"{symbol}.csv"
    if "_" in symbol or not res.is_file():
        raise YFPricesMissingError(symbol, "(1d)")
    with resources.as_file(res) as path:
        raw = pd.read_csv(path).dropna()
    raw["Date"] = pd.to_datetime(raw["Date"], format="%Y-%m-%d")
    cols = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
    frame = raw.set_index("Date")[cols].astype({"Volume": "int64"})
    frame.index = pd.DatetimeIndex(frame.index).tz_localize("America/New_York")
    frame.index.name = "Date"
    return frame


def answer(symbol: str, period: str | None, start: str | None, end: str | None) -> pd.DataFrame:
    """Answer like Yahoo from the bundled sample: ``start`` inclusive, ``end`` exclusive."""
    frame = history_frame(symbol)
    if period == "max":
        return frame
    days = frame.index.tz_localize(None)
    keep = (days >= pd.Timestamp(start)) & (days < pd.Timestamp(end))
    if not keep.any():
        raise YFPricesMissingError(symbol, f"(1d {start} -> {end})")
    return frame[keep]


class Ticker:
    def __init__(self, ticker: str, session: object = None) -> None:
        self.ticker = ticker

    def history(self, period=None, interval="1d", start=None, end=None, **kwargs):
        mode = os.environ.get("STANDIN_YAHOO", "ok")
        log = os.environ.get("STANDIN_YAHOO_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{time.time():.3f} {self.ticker} {mode}\n")
        if mode == "down":
            raise DNSError("Failed to perform, curl: (6) Could not resolve host: query2.finance")
        if mode == "ratelimit":
            raise YFRateLimitError()
        return answer(self.ticker, period, start, end)

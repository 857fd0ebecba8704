"""Yahoo Finance through yfinance: the only module that opens a network connection for prices."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from typing import Any

import pandas as pd

from pricecast.stores.price_format import (
    NoPriceDataError,
    RateLimitedError,
    SourceUnavailableError,
    normalize_yahoo,
)

YAHOO_HOST = "query2.finance.yahoo.com"


def yahoo_reachable(timeout: float = 3.0) -> bool:
    """Whether Yahoo's API host resolves and accepts a TCP connection on port 443."""
    try:
        with socket.create_connection((YAHOO_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def download_yahoo(
    ticker: str,
    start: dt.date | None,
    end: dt.date | None,
    *,
    yf_module: Any = None,
    reachable: Callable[[], bool] = yahoo_reachable,
) -> pd.DataFrame:
    """Download daily prices from Yahoo Finance with yfinance.

    Uses ``Ticker.history(..., raise_errors=True)`` so that network errors, rate limits
    and unknown symbols raise instead of silently giving an empty frame (as
    ``yf.download`` does).

    Args:
        ticker: The symbol.
        start: First date (inclusive) or ``None`` for all history.
        end: Last date (inclusive) or ``None`` for today.
        yf_module: The ``yfinance`` module or a stand-in with the same ``Ticker`` API.
        reachable: Asked when yfinance answers "no timezone found": yfinance gives that
            answer both for an unknown symbol and, after a first network error in the
            process, for every symbol while Yahoo cannot be reached.

    Returns:
        The normalised frame (never empty).

    Raises:
        NoPriceDataError: If Yahoo returns no rows.
        SourceUnavailableError: If Yahoo cannot be reached or rate-limits.
    """
    if yf_module is None:
        import yfinance as yf_module  # noqa: PLC0415 - heavy import, only when downloading
    kwargs: dict[str, object] = {
        "interval": "1d",
        "auto_adjust": False,
        "actions": False,
        "raise_errors": True,
    }
    if start is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = start.isoformat()
        # Yahoo's ``end`` is exclusive.
        kwargs["end"] = ((end or dt.date.today()) + dt.timedelta(days=1)).isoformat()
    try:
        raw = yf_module.Ticker(ticker).history(**kwargs)
    except Exception as err:  # yfinance raises its own YF* errors and requests' errors
        name = type(err).__name__
        text = str(err).strip().splitlines()[0] if str(err).strip() else name
        if "TzMissing" in name and not reachable():
            raise SourceUnavailableError(
                f"{ticker}: Yahoo unreachable ({YAHOO_HOST}:443 does not answer; "
                f"yfinance said: {text})"
            ) from err
        if "PricesMissing" in name or "TzMissing" in name or "TickerMissing" in name:
            raise NoPriceDataError(f"no price data for {ticker} (source yfinance): {text}") from err
        if "RateLimit" in name:
            raise RateLimitedError(f"{ticker}: Yahoo rate limit ({text})") from err
        if name == "ImpersonateError":
            raise SourceUnavailableError(
                f"{ticker}: Yahoo unreachable: curl_cffi cannot impersonate a browser ({text}); "
                "it was loaded after TensorFlow — import pricecast before tensorflow"
            ) from err
        raise SourceUnavailableError(f"{ticker}: Yahoo unreachable ({name}: {text})") from err
    if raw is None or len(raw) == 0:
        raise NoPriceDataError(f"no price data for {ticker} (source yfinance): empty response")
    frame = normalize_yahoo(raw, ticker)
    if end is not None:
        frame = frame.loc[: pd.Timestamp(end)]
    if frame.empty:
        raise NoPriceDataError(f"no price data for {ticker} (source yfinance): empty range")
    return frame

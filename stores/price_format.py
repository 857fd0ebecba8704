"""What every price source returns: the normalised frame, and the errors a source raises.

Yahoo answers, Yahoo "Historical Data" CSV exports and the cache all become one frame: a
tz-naive ``DatetimeIndex`` named ``date`` and the columns ``open, high, low, close,
adj_close, volume`` (floats). The errors name the ticker and the source, so a failed
ticker says why in one line.
"""

from __future__ import annotations

import pandas as pd

from pricecast.configs.schema import PRICE_COLUMNS

_YAHOO_NAMES = {
    "Date": "date",
    "Datetime": "date",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


class PriceSourceError(ValueError):
    """A source could not provide prices; the message names the ticker and the source."""


class NoPriceDataError(PriceSourceError):
    """The source answered but holds no rows for the ticker (unknown, delisted, empty range)."""


class SourceUnavailableError(PriceSourceError):
    """The source could not be reached (network down, rate limit, missing cache)."""


class RateLimitedError(SourceUnavailableError):
    """Yahoo answered "Too Many Requests"; retry after a longer pause."""


class CorruptCacheError(PriceSourceError):
    """A cache file exists but cannot be read (truncated, not parquet, wrong schema)."""


def normalize_yahoo(raw: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """Turn a yfinance / Yahoo-export frame into the normalised price frame.

    Accepts ``yf.download`` output (MultiIndex ``(Price, Ticker)`` columns),
    ``Ticker.history`` output (flat columns, tz-aware index) and CSV exports with a
    ``Date`` column. When ``Adj Close`` is absent (``auto_adjust=True``), the adjusted
    close is the (already adjusted) ``Close``.

    Args:
        raw: The frame as returned by the source.
        ticker: The symbol, to pick it out of MultiIndex columns and for messages.

    Returns:
        The normalised frame (may be empty).

    Raises:
        PriceSourceError: If required columns are missing.
    """
    df = raw.copy()
    if isinstance(df.columns, pd.MultiIndex):
        for level in range(df.columns.nlevels):
            values = df.columns.get_level_values(level)
            if ticker in set(values):
                df = df.xs(ticker, axis=1, level=level)
                break
        else:
            df.columns = df.columns.get_level_values(0)
    df.columns = [str(c) for c in df.columns]
    if "Date" in df.columns or "Datetime" in df.columns:
        df = df.set_index("Date" if "Date" in df.columns else "Datetime")
    df = df.rename(columns=_YAHOO_NAMES)
    if "adj_close" not in df.columns and "close" in df.columns:
        df["adj_close"] = df["close"]
    missing = [c for c in PRICE_COLUMNS if c not in df.columns]
    if missing:
        raise PriceSourceError(f"{ticker}: price data lacks column(s) {', '.join(missing)}")
    index = pd.DatetimeIndex(pd.to_datetime(df.index))
    if index.tz is not None:
        index = index.tz_localize(None)
    df.index = index.normalize()
    df.index.name = "date"
    return df[list(PRICE_COLUMNS)]

"""Daily price sources: Yahoo (yfinance), the local cache, a Yahoo-export CSV, the bundled sample.

This is the only module that calls yfinance or reads price files. Every source returns
the same normalised frame: a tz-naive ``DatetimeIndex`` named ``date`` and the columns
``open, high, low, close, adj_close, volume`` (floats), sorted by date.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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


@dataclass(frozen=True)
class LoadedPrices:
    """Prices of one ticker and where they came from.

    Attributes:
        ticker: The symbol.
        frame: Normalised price frame.
        source: ``yfinance``, ``cache``, ``csv`` or ``sample``.
        notes: Human-readable remarks (fallbacks taken, partial spans).
    """

    ticker: str
    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)


Downloader = Callable[[str, dt.date | None, dt.date | None], pd.DataFrame]


# --------------------------------------------------------------------------- normalising


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


# --------------------------------------------------------------------------- Yahoo


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
    yf_module: object | None = None,
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


# --------------------------------------------------------------------------- CSV & sample


def read_yahoo_csv(path: str | Path, ticker: str) -> pd.DataFrame:
    """Read a Yahoo "Historical Data" CSV export (``Date,Open,...,Adj Close,Volume``).

    ``null`` cells become NaN (validation decides what to do with them).

    Args:
        path: The CSV file (a path or a package resource).
        ticker: The symbol, for messages.

    Raises:
        PriceSourceError: Naming the file and the column when the shape is wrong.
    """
    name = getattr(path, "name", str(path))
    try:
        raw = pd.read_csv(path, na_values=["null", "NaN", ""], keep_default_na=True)
    except FileNotFoundError:
        raise SourceUnavailableError(f"{ticker}: CSV file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PriceSourceError(f"{ticker}: cannot parse CSV {name}: {err}") from None
    missing = [c for c in ("Date", "Open", "High", "Low", "Close", "Volume") if c not in raw]
    if missing:
        raise PriceSourceError(
            f"{ticker}: CSV {name} lacks column(s) {', '.join(missing)} "
            f"(expected Date,Open,High,Low,Close,Adj Close,Volume)"
        )
    dates = pd.to_datetime(raw["Date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise PriceSourceError(
            f"{ticker}: CSV {name} column Date: {raw['Date'].iloc[row]!r} on line {row + 2} "
            f"is not a YYYY-MM-DD date"
        )
    raw["Date"] = dates
    return normalize_yahoo(raw, ticker)


def sample_tickers() -> list[str]:
    """Return the tickers in the bundled offline sample."""
    files = resources.files("pricecast.sample")
    return sorted(
        p.name[:-4] for p in files.iterdir() if p.name.endswith(".csv") and "_" not in p.name
    )


def read_sample(ticker: str) -> pd.DataFrame:
    """Read a ticker from the bundled offline sample (real Yahoo exports, to 2020-12-11).

    Raises:
        NoPriceDataError: If the sample does not hold the ticker.
    """
    res = resources.files("pricecast.sample") / f"{ticker}.csv"
    if not res.is_file():
        raise NoPriceDataError(
            f"no price data for {ticker} (source sample; the sample holds "
            f"{', '.join(sample_tickers())})"
        )
    with resources.as_file(res) as path:
        return read_yahoo_csv(path, ticker)


def csv_path_for(pattern: str, ticker: str, base: Path) -> Path:
    """Resolve ``csv_path`` (a file, or a pattern with ``{ticker}``) against ``base``."""
    path = Path(pattern.replace("{ticker}", ticker)).expanduser()
    return path if path.is_absolute() else (base / path)


# --------------------------------------------------------------------------- cache


def cache_file(cache_dir: Path, ticker: str) -> Path:
    """Return the cache file of a ticker."""
    return cache_dir / f"{ticker}.parquet"


class CorruptCacheError(PriceSourceError):
    """A cache file exists but cannot be read (truncated, not parquet, wrong schema)."""


def read_cache(cache_dir: Path, ticker: str) -> tuple[pd.DataFrame, dt.date, dt.date] | None:
    """Read a ticker's cache file.

    Returns:
        ``(frame, covered_start, covered_end)`` — the span that was requested when it
        was written — or ``None`` when there is no file.

    Raises:
        CorruptCacheError: If the file is truncated or not a cache file; the next
            successful download replaces it.
    """
    path = cache_file(cache_dir, ticker)
    if not path.is_file():
        return None
    try:
        # One read of the whole file: reading by path lets pyarrow open it twice (footer,
        # then pages), and a writer's rename in between would mix two files.
        table = pq.read_table(pa.BufferReader(path.read_bytes()))
        meta = table.schema.metadata or {}
        start = dt.date.fromisoformat(meta[b"pricecast.start"].decode())
        end = dt.date.fromisoformat(meta[b"pricecast.end"].decode())
        frame = table.to_pandas()
    except (OSError, KeyError, ValueError, pa.ArrowException) as err:
        raise CorruptCacheError(f"{ticker}: cache file {path} is unreadable ({err})") from None
    if list(frame.columns) != list(PRICE_COLUMNS) or not isinstance(frame.index, pd.DatetimeIndex):
        raise CorruptCacheError(f"{ticker}: cache file {path} has an unexpected layout")
    return frame, start, end


def write_cache(
    cache_dir: Path, ticker: str, frame: pd.DataFrame, start: dt.date, end: dt.date
) -> Path:
    """Write a ticker's cache file atomically (temporary file in the same folder + rename).

    Concurrent writers never interleave: each writes its own temporary file and the last
    rename wins with a whole file.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=True)
    meta = dict(table.schema.metadata or {})
    meta[b"pricecast.start"] = start.isoformat().encode()
    meta[b"pricecast.end"] = end.isoformat().encode()
    table = table.replace_schema_metadata(meta)
    target = cache_file(cache_dir, ticker)
    fd, tmp = tempfile.mkstemp(prefix=f".{ticker}.", suffix=".tmp", dir=cache_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- loading


def _clip(frame: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    # A mask, not ``.loc[lo:hi]``: label slicing of an unsorted or duplicated index raises
    # or picks rows by position; the order and duplicates are left to validation to report.
    keep = np.ones(len(frame), dtype=bool)
    if start:
        keep &= frame.index >= pd.Timestamp(start)
    if end:
        keep &= frame.index <= pd.Timestamp(end)
    return frame[keep]


def _span_note(
    frame: pd.DataFrame, ticker: str, source: str, start: dt.date | None, end: dt.date | None
) -> list[str]:
    """Warn when the rows served cover less than was asked (by more than a long weekend)."""
    notes = []
    first, last = frame.index.min().date(), frame.index.max().date()
    if start and (first - start).days > 4:
        notes.append(f"{ticker}: {source} has no rows for {start}..{first - dt.timedelta(days=1)}")
    if end and (end - last).days > 4:
        notes.append(f"{ticker}: {source} has no rows for {last + dt.timedelta(days=1)}..{end}")
    return notes


def load_prices(
    ticker: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    source: str = "auto",
    *,
    cache_dir: Path,
    csv_path: Path | None = None,
    download: Downloader | None = None,
    today: dt.date | None = None,
) -> LoadedPrices:
    """Load one ticker's daily prices from the configured source.

    ``auto`` serves a cache file that covers the request, else downloads from Yahoo
    (and caches), else falls back to whatever the cache holds, else to the bundled
    sample. The forced sources (``yfinance``, ``cache``, ``csv``, ``sample``) use one
    source only.

    Args:
        ticker: The symbol.
        start: First date (inclusive) or ``None``.
        end: Last date (inclusive) or ``None`` for today.
        source: ``auto``, ``yfinance``, ``cache``, ``csv`` or ``sample``.
        cache_dir: Folder of the parquet cache.
        csv_path: The CSV file, for ``source="csv"``.
        download: Yahoo downloader (defaults to :func:`download_yahoo`); the flow passes
            one wrapped in retries.
        today: Today's date (for the coverage check of open-ended requests).

    Returns:
        The prices, the source used and notes about fallbacks and partial spans.

    Raises:
        NoPriceDataError: If the source holds no rows for the ticker and span.
        SourceUnavailableError: If a forced source cannot be used.
        PriceSourceError: If a file is malformed.
    """
    download = download or download_yahoo
    want_end = end or (today or dt.date.today())
    notes: list[str] = []

    def served(frame: pd.DataFrame, used: str) -> LoadedPrices:
        frame = _clip(frame, start, end)
        if frame.empty:
            raise NoPriceDataError(
                f"no price data for {ticker} (source {used}) in {start or 'start'}..{want_end}"
            )
        return LoadedPrices(
            ticker, frame, used, notes + _span_note(frame, ticker, used, start, end)
        )

    if source == "sample":
        return served(read_sample(ticker), "sample")
    if source == "csv":
        if csv_path is None:
            raise SourceUnavailableError(f"{ticker}: source csv needs csv_path")
        return served(read_yahoo_csv(csv_path, ticker), "csv")

    try:
        cached = read_cache(cache_dir, ticker)
    except CorruptCacheError as err:
        if source == "cache":
            raise
        cached = None
        notes.append(f"{err}; ignoring it (the next download replaces it)")
    if source == "cache":
        if cached is None:
            raise SourceUnavailableError(f"{ticker}: no cache file in {cache_dir}")
        return served(cached[0], "cache")
    if source == "auto" and cached is not None:
        frame, c_start, c_end = cached
        if (start is None or c_start <= start) and c_end >= want_end:
            return served(frame, "cache")

    if source not in {"auto", "yfinance"}:
        raise SourceUnavailableError(f"{ticker}: unknown source {source!r}")
    try:
        frame = download(ticker, start, end)
    except PriceSourceError as err:
        if source == "yfinance" or isinstance(err, NoPriceDataError):
            raise
        why = str(err)
    else:
        first = start or frame.index.min().date()
        write_cache(cache_dir, ticker, frame, first, want_end)
        return served(frame, "yfinance")

    # One line says why and what is served instead.
    if cached is not None:
        notes.append(f"{why}; falling back — {ticker}: using the cache ({cached[1]}..{cached[2]})")
        return served(cached[0], "cache")
    notes.append(f"{why}; falling back — {ticker}: using the bundled sample")
    return served(read_sample(ticker), "sample")

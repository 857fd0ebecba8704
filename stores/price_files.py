"""Price files on disk: Yahoo-export CSVs, the bundled sample and the per-ticker parquet cache.

Cache files are written atomically (temporary file in the same folder, fsync, rename) and
read in one read, so a reader never sees half of a concurrent write.
"""

from __future__ import annotations

import datetime as dt
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pricecast.configs.schema import PRICE_COLUMNS
from pricecast.stores.atomic import temp_file
from pricecast.stores.price_format import (
    CorruptCacheError,
    NoPriceDataError,
    PriceSourceError,
    SourceUnavailableError,
    normalize_yahoo,
)


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
    if "Adj Close" not in raw:
        # Left empty, not copied from Close here: validation fills it with a note, so a
        # file without adjusted prices is never used as if it had them in silence.
        raw["Adj Close"] = np.nan
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


def cache_file(cache_dir: Path, ticker: str) -> Path:
    """Return the cache file of a ticker."""
    return cache_dir / f"{ticker}.parquet"


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
    fd, tmp = temp_file(cache_dir, target.name)
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

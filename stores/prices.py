"""Where a ticker's prices come from: the source policy over Yahoo, the cache, a CSV and the sample.

``auto`` serves a cache file that covers the request, else downloads from Yahoo (and
caches), else falls back to whatever the cache holds, else to the bundled sample, and
says which in one note. The forced sources use one source only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast.stores.price_files import read_cache, read_sample, read_yahoo_csv, write_cache
from pricecast.stores.price_format import (
    CorruptCacheError,
    NoPriceDataError,
    PriceSourceError,
    SourceUnavailableError,
)
from pricecast.stores.yahoo import download_yahoo


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


def csv_path_for(pattern: str, ticker: str, base: Path) -> Path:
    """Resolve ``csv_path`` (a file, or a pattern with ``{ticker}``) against ``base``."""
    path = Path(pattern.replace("{ticker}", ticker)).expanduser()
    return path if path.is_absolute() else (base / path)


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
    incremental: bool = False,
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
        incremental: With a cache that covers the start but ends too early, download only
            from its last session on and append (see :func:`extend_cache`); the nightly
            loop sets it.

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
        if incremental and cached is not None and (start is None or cached[1] <= start):
            frame, note = extend_cache(ticker, cached, start, want_end, cache_dir, download)
            notes.append(note)
            return served(frame, "yfinance")
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


RESTATED_TOLERANCE = 1e-6
"""Relative change of a cached price above which it counts as restated."""
PRICE_FIELDS = ["adj_close", "close"]
"""Prices compared to detect a restatement."""


def extend_cache(
    ticker: str,
    cached: tuple[pd.DataFrame, dt.date, dt.date],
    start: dt.date | None,
    end: dt.date,
    cache_dir: Path,
    download: Downloader,
) -> tuple[pd.DataFrame, str]:
    """Download only the sessions the cache lacks and append them, atomically.

    The download starts at the cache's last session, so one day overlaps: when a price
    the cache already holds has changed there (an adjusted close restated after a split
    or a dividend), the whole history is downloaded again and replaces the cache.

    Returns:
        The prices now cached and a one-line note of what was done.
    """
    frame, c_start, _ = cached
    last = frame.index.max().date()
    fresh = download(ticker, last, end)
    overlap = frame.index.intersection(fresh.index)
    old = frame.loc[overlap, PRICE_FIELDS].to_numpy(dtype="float64")
    new = fresh.loc[overlap, PRICE_FIELDS].to_numpy(dtype="float64")
    restated = bool(
        len(overlap)
        and not np.allclose(new, old, rtol=RESTATED_TOLERANCE, atol=0.0, equal_nan=True)
    )
    if restated:
        whole = download(ticker, start or c_start, end)
        write_cache(cache_dir, ticker, whole, start or c_start, end)
        return whole, (
            f"{ticker}: Yahoo restated prices the cache held for {overlap[0]:%Y-%m-%d} "
            f"(a split or dividend); reloaded the whole history ({len(whole)} rows)"
        )
    added = fresh.loc[fresh.index > frame.index.max()]
    merged = pd.concat([frame, added]) if len(added) else frame
    write_cache(cache_dir, ticker, merged, c_start, end)
    return merged, f"{ticker}: appended {len(added)} new session(s) to the cache"

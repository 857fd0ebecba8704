"""Fetching prices inside the flow: Prefect retries and caching around the price stores.

The download is the only network call of a run: it is retried with exponential backoff
while Yahoo is unreachable or rate-limiting, and a successful one is cached by Prefect for
the day. Which source serves a ticker is the stores' policy (``stores/prices.py``).
"""

import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from pricecast.configs.schema import DataConfig
from pricecast.flows.home import cache_dir, confined, forecast_home
from pricecast.stores import yahoo
from pricecast.stores.price_format import RateLimitedError, SourceUnavailableError
from pricecast.stores.prices import LoadedPrices, csv_path_for, load_prices
from pricecast.stores.series_files import load_series


def _retry_if_unavailable(task: Any, task_run: Any, state: Any) -> bool:
    """Retry the download only when Yahoo was unreachable or rate-limited."""
    try:
        state.result()
    except SourceUnavailableError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is final
        return False
    return False


def _download_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of a download: FORECAST_HOME, ticker, span and today's date.

    The home is part of it so that each installation (and each test's home) fills its
    own price cache from its own downloads. Hashed: the home is a path, and the key
    names a file in Prefect's result storage.
    """
    parts = (forecast_home(), parameters["ticker"], parameters["start"], parameters["end"])
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f"yahoo-{parameters['ticker']}-{dt.date.today().isoformat()}-{digest}"


@task(
    name="download-yahoo",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=1.0),
    retry_condition_fn=_retry_if_unavailable,
    cache_key_fn=_download_key,
    cache_expiration=dt.timedelta(days=1),
    persist_result=True,
)
def download_yahoo(
    ticker: str, start: dt.date | None, end: dt.date | None, rate_limit_pause: float = 0.0
) -> pd.DataFrame:
    """Download from Yahoo (the only network call; retried with exponential backoff).

    A rate-limit answer waits ``rate_limit_pause`` seconds more before the retry. A
    successful download is cached by Prefect for the day (home, ticker, span); failures
    are not.
    """
    try:
        return yahoo.download_yahoo(ticker, start, end)
    except RateLimitedError as err:
        get_run_logger().warning(f"{err}; pausing {rate_limit_pause:.0f}s before retrying")
        time.sleep(rate_limit_pause)
        raise


@task(name="fetch-prices", task_run_name="fetch-{ticker}", cache_policy=NO_CACHE)
def fetch_prices(
    ticker: str, data: DataConfig, home: str, incremental: bool = False
) -> LoadedPrices:
    """Load one ticker's prices (or a ``kind: series`` CSV column) from the configured source.

    Not cached itself: local files (the parquet cache, a CSV) are read on every run, so
    a file repaired or corrupted since the last run is seen. Only the download is cached.
    """
    logger = get_run_logger()
    base = Path(home)
    downloader = download_yahoo.with_options(
        retries=data.retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=data.retry_delay_seconds)
        if data.retries
        else 0,
    )
    csv = (
        confined(csv_path_for(data.csv_path, ticker, base), base, Path.cwd())
        if data.csv_path
        else None
    )
    if data.kind == "series" and data.series is not None:
        loaded = load_series(ticker, data.series, data.source, csv, data.start, data.end)
        logger.info(f"{ticker}: {len(loaded.frame)} rows from source {loaded.source}")
        return loaded
    loaded = load_prices(
        ticker,
        data.start,
        data.end,
        data.source,
        cache_dir=cache_dir(base),
        csv_path=csv,
        download=lambda t, s, e: downloader(t, s, e, data.rate_limit_pause_seconds),
        incremental=incremental,
    )
    for note in loaded.notes:
        logger.warning(note)
    f = loaded.frame
    logger.info(
        f"{ticker}: {len(f)} rows {f.index[0]:%Y-%m-%d}..{f.index[-1]:%Y-%m-%d} "
        f"from source {loaded.source}"
    )
    return loaded

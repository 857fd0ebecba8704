"""``forecast scores``: the live record, scored from the ledger against the real prices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pricecast.configs.schema import RunConfig
from pricecast.flows.home import cache_dir, confined
from pricecast.stores.ledger import Ledger, resolve_url
from pricecast.stores.prices import csv_path_for, load_prices
from pricecast.tasks.live import score_live
from pricecast.tasks.validate import validate_prices


def live_scores(
    config: RunConfig,
    home: Path,
    ticker: str | None = None,
    last: int = 20,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Scores over the last ``last`` matured forecasts per ticker × model × h.

    Args:
        config: Where prices come from (``data``) and the target column.
        home: ``FORECAST_HOME`` (the default ledger and the price cache).
        ticker: One ticker, or every ticker in the ledger.
        last: Window length N.
        as_of: Score as of this date (default: each ticker's latest price).

    Returns:
        Rows of ``tasks.live.SCORE_COLUMNS`` for the ``last_N`` window.
    """
    ledger = Ledger(resolve_url(home))
    try:
        rows = ledger.forecasts([ticker.upper()] if ticker else None)
    finally:
        ledger.dispose()
    parts = []
    for name, part in rows.groupby("ticker", sort=True):
        data = config.data
        csv = (
            confined(csv_path_for(data.csv_path, str(name), home), home, Path.cwd())
            if data.csv_path
            else None
        )
        loaded = load_prices(
            str(name), data.start, None, data.source, cache_dir=cache_dir(home), csv_path=csv
        )
        prices = validate_prices(
            loaded.frame, str(name), data.null_rows, target=data.target, today=dt.date.today()
        ).frame
        night = pd.Timestamp(as_of) if as_of else prices.index[-1]
        scores = score_live(part, prices[data.target], night, ((f"last_{last}", last),))
        parts.append(scores)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)

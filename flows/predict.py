"""Forward forecast with a ticker's registered champion: ``forecast predict``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pricecast.configs.schema import DataConfig
from pricecast.flows.home import cache_dir, confined, forecast_home
from pricecast.stores import outputs
from pricecast.stores.prices import csv_path_for, load_prices
from pricecast.stores.tracking import registry, store
from pricecast.tasks.plots import outlook_figure
from pricecast.tasks.validate import validate_prices

HISTORY_DAYS = 130
"""Business days of history drawn before the forecast (about six months)."""


class NoChampionError(LookupError):
    """No model holds the ``champion`` alias for the ticker."""


@dataclass(frozen=True)
class Outlook:
    """A forward forecast and where it was written."""

    ticker: str
    forecast: pd.DataFrame
    source: str
    last_date: dt.date
    model_version: str
    variant: str
    csv: Path
    png: Path


def predict_ahead(
    ticker: str,
    horizon: int | None,
    data: DataConfig,
    out_dir: Path | None = None,
    home: Path | None = None,
) -> Outlook:
    """Load ``models:/price-forecaster-<T>@champion`` and forecast the next business days.

    Args:
        ticker: The symbol.
        horizon: Days ahead (default: the champion's horizon).
        data: Where prices come from (source, csv_path, null_rows).
        out_dir: Folder for ``forecast.csv`` and ``forecast.png``.
        home: ``FORECAST_HOME``.

    Raises:
        NoChampionError: If the ticker has no champion yet.
    """
    home = home or forecast_home()
    tracker = store.open_store(home)
    store.use_store(tracker)  # the entry point of `forecast predict`
    version = registry.champion_version(tracker, ticker)
    if version is None:
        raise NoChampionError(
            f"no champion model for {ticker} in {tracker.uri} "
            f"(registered model {registry.registry_name(ticker)!r} has no @champion alias); "
            f"run `forecast run` with backtest enabled first"
        )
    forecaster = registry.load_champion(tracker, ticker)
    if forecaster is None:  # the alias was removed in the meantime
        raise NoChampionError(f"no champion model for {ticker} in {tracker.uri}")
    loaded = load_prices(
        ticker,
        None,
        None,
        data.source,
        cache_dir=cache_dir(home),
        csv_path=(
            confined(csv_path_for(data.csv_path, ticker, home), home, Path.cwd())
            if data.csv_path
            else None
        ),
    )
    prices = validate_prices(
        loaded.frame, ticker, data.null_rows, target=data.target, today=dt.date.today()
    ).frame
    frame = forecaster.forecast(prices, horizon)
    last = prices.index[-1]
    out = out_dir or home / "predictions" / ticker / f"{last:%Y-%m-%d}"
    target = forecaster.spec.target
    history = prices[target].iloc[-HISTORY_DAYS:]
    fig = outlook_figure(
        f"{ticker} {target}: last {len(history)} days and the next {len(frame)} "
        f"(champion v{version.version}, {forecaster.spec.variant})",
        history,
        frame.set_index("date")["forecast"],
    )
    csv = outputs.write_csv(out / "forecast.csv", frame)
    png = outputs.write_png(out / "forecast.png", fig)
    return Outlook(
        ticker,
        frame,
        loaded.source,
        last.date(),
        str(version.version),
        forecaster.spec.variant,
        csv,
        png,
    )

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
from pricecast.tasks.calendar import sessions_behind
from pricecast.tasks.plots import outlook_figure
from pricecast.tasks.validate import validate_prices

HISTORY_DAYS = 130
"""Business days of history drawn before the forecast (about six months)."""

STALE_AFTER_SESSIONS = 3
"""Sessions after which the last price is old enough to be warned about."""


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
    why_source: str
    sessions_behind: int

    @property
    def stale(self) -> bool:
        """Whether the last price is older than :data:`STALE_AFTER_SESSIONS` sessions."""
        return self.sessions_behind > STALE_AFTER_SESSIONS

    def stale_warning(self) -> str:
        """The line that says the forecast targets days already past, and why."""
        first = self.forecast["date"].iloc[0]
        return (
            f"WARNING: {self.ticker}'s last price ({self.last_date}, from {self.source}) is "
            f"{self.sessions_behind} sessions old: this forecast is for {first:%Y-%m-%d} "
            "onwards, not for the coming sessions"
        )


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
        ValueError: If ``horizon`` is below 1 (checked before the store is opened).
    """
    if horizon is not None and horizon < 1:
        raise ValueError(f"horizon must be 1 or more days ahead, got {horizon}")
    home = home or forecast_home()
    tracker = store.open_store(home)
    store.use_store(tracker)  # the entry point of `forecast predict`
    version = registry.champion_version(tracker, ticker)
    if version is None:
        raise NoChampionError(
            f"no champion model for {ticker} in {tracker.shown_uri} "
            f"(registered model {registry.registry_name(ticker)!r} has no @champion alias); "
            f"run `forecast run` with backtest enabled first"
        )
    try:
        forecaster = registry.load_version(tracker, ticker, str(version.version))
    except registry.UnloadableModelError as err:
        raise NoChampionError(
            f"the champion of {ticker} cannot be loaded: {err}; the next `forecast run` "
            f"with backtest enabled replaces it"
        ) from None
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
    why = "; ".join(loaded.notes) or f"data.source is {data.source}"
    if data.source == "auto" and not loaded.notes:
        why = f"data.source is auto and {loaded.source} answered"
    behind = sessions_behind(last, pd.Timestamp.now(tz="UTC"), forecaster.spec.calendar)
    return Outlook(
        ticker,
        frame,
        loaded.source,
        last.date(),
        str(version.version),
        forecaster.spec.variant,
        csv,
        png,
        why,
        behind,
    )

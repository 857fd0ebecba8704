"""Forward forecast with a ticker's registered champion: ``forecast predict``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pricecast.configs.schema import DataConfig, FeaturesConfig
from pricecast.flows.home import cache_dir, confined, forecast_home
from pricecast.stores import outputs
from pricecast.stores.prices import csv_path_for, load_prices
from pricecast.stores.series_files import load_series
from pricecast.stores.tracking import registry, store
from pricecast.tasks.calendar import sessions_behind
from pricecast.tasks.plot_bands import outlook_bands
from pricecast.tasks.plot_layers import ahead, date_span
from pricecast.tasks.plots import outlook_figure
from pricecast.tasks.series import steps_behind, validate_by_kind
from pricecast.tasks.validate import stamp

HISTORY_DAYS = 130
"""Business days of history drawn before the forecast (about six months)."""

STALE_AFTER_SESSIONS = 3
"""Sessions after which the last price is old enough to be warned about."""


class NoChampionError(LookupError):
    """No model holds the ``champion`` alias for the ticker."""


class HorizonError(ValueError):
    """The horizon asked for is longer than the champion was trained to forecast."""


@dataclass(frozen=True)
class Outlook:
    """A forward forecast and where it was written."""

    ticker: str
    forecast: pd.DataFrame
    source: str
    last_date: str
    model_version: str
    variant: str
    csv: Path
    png: Path
    why_source: str
    sessions_behind: int
    age_unit: str = "sessions"

    @property
    def stale(self) -> bool:
        """Whether the last price is older than :data:`STALE_AFTER_SESSIONS` sessions."""
        return self.sessions_behind > STALE_AFTER_SESSIONS

    def stale_warning(self) -> str:
        """The line that says the forecast targets days already past, and why."""
        first = self.forecast["date"].iloc[0]
        return (
            f"WARNING: {self.ticker}'s last price ({self.last_date}, from {self.source}) is "
            f"{self.sessions_behind} {self.age_unit} old: this forecast is for {stamp(first)} "
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
        HorizonError: If ``horizon`` exceeds the champion's (checked before prices load).
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
    spec = forecaster.spec
    if horizon is not None and horizon > spec.horizon:
        raise HorizonError(
            f"{ticker}'s champion (v{version.version}, {spec.variant}) was trained to forecast "
            f"{spec.horizon} step(s) ahead, so --horizon {horizon} is out of its reach: ask "
            f"for at most {spec.horizon}, or train with features.horizon: {horizon} "
            f"(e.g. `forecast run --config <a config with features.horizon: {horizon}>`)"
        )
    csv_file = (
        confined(csv_path_for(data.csv_path, ticker, home), home, Path.cwd())
        if data.csv_path
        else None
    )
    if data.kind == "series" and data.series is not None:
        loaded = load_series(ticker, data.series, data.source, csv_file)
    else:
        loaded = load_prices(
            ticker, None, None, data.source, cache_dir=cache_dir(home), csv_path=csv_file
        )
    model_features = FeaturesConfig.model_validate(
        {"target_transform": spec.transform, "inputs": spec.inputs}
    )
    checked, _, label = validate_by_kind(
        loaded.frame, ticker, data, model_features, today=dt.date.today()
    )
    prices = checked.frame
    frame = forecaster.forecast(prices, horizon)
    last = prices.index[-1]
    out = out_dir or home / "predictions" / ticker / stamp(last)
    target = forecaster.spec.target
    history = prices[target].iloc[-HISTORY_DAYS:]
    unit = "day" if spec.frequency is None else "step"
    fig = outlook_figure(
        f"{ticker}: real {date_span(history.index)}, forecast path "
        f"{ahead(len(frame), unit)} (champion v{version.version}, {forecaster.spec.variant})",
        history,
        frame.set_index("date")["forecast"],
        ylabel=label,
    )
    for axes in fig.axes[:2]:  # the whole outlook and its zoom
        outlook_bands(axes, history, frame)
    csv = outputs.write_csv(out / "forecast.csv", frame)
    png = outputs.write_png(out / "forecast.png", fig)
    why = "; ".join(loaded.notes) or f"data.source is {data.source}"
    if data.source == "auto" and not loaded.notes:
        why = f"data.source is auto and {loaded.source} answered"
    now = pd.Timestamp.now(tz="UTC")
    if spec.frequency:  # a series: steps of its own frequency, not exchange sessions
        behind = steps_behind(last, now, spec.frequency)
    else:
        behind = sessions_behind(last, now, spec.calendar)
    return Outlook(
        ticker,
        frame,
        loaded.source,
        stamp(last),
        str(version.version),
        forecaster.spec.variant,
        csv,
        png,
        why,
        behind,
        f"{spec.frequency} steps" if spec.frequency else "sessions",
    )

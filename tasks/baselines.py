"""Baseline forecasts computed beside every model, on the same origins.

The functions compute the forecasts from prices; the ``*_model`` builders put each one
behind the :class:`~pricecast.tasks.forecasters.ForecastModel` interface that the learned
models use, so evaluation and backtest score both through one code path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pricecast.tasks.forecasters import ForecastModel, Series


def persistence(anchors: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow = today: every step ahead repeats the origin price. Shape ``(n, H)``."""
    a = np.asarray(anchors, dtype="float64")
    return np.repeat(a[:, None], horizon, axis=1)


def drift(prices: np.ndarray, origins: np.ndarray, horizon: int, start: int = 0) -> np.ndarray:
    """Random walk with drift: ``p[t] + h * (p[t] - p[start]) / (t - start)``.

    The slope uses only prices up to the origin (from row ``start``).
    """
    p = np.asarray(prices, dtype="float64")
    o = np.asarray(origins)
    span = np.maximum(o - start, 1)
    slope = (p[o] - p[start]) / span
    return p[o][:, None] + slope[:, None] * np.arange(1, horizon + 1)


def moving_average(
    prices: np.ndarray, origins: np.ndarray, horizon: int, window: int
) -> np.ndarray:
    """Mean of the last ``window`` prices up to each origin, flat over the horizon."""
    p = np.asarray(prices, dtype="float64")
    csum = np.concatenate([[0.0], np.cumsum(p)])
    o = np.asarray(origins)
    lo = np.maximum(o + 1 - window, 0)
    mean = (csum[o + 1] - csum[lo]) / (o + 1 - lo)
    return np.repeat(mean[:, None], horizon, axis=1)


def seasonal_naive(
    prices: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """Same season last time: ``p[t + h - m * ceil(h / m)]`` for season length ``m``.

    Step ``h`` repeats the value one season before its target date, or two seasons
    before when ``h > m``, so every forecast reads only prices up to its origin.

    Raises:
        ValueError: If an origin has less than one season of history before it.
    """
    p = np.asarray(prices, dtype="float64")
    o = np.asarray(origins)
    if len(o) and o.min() < season - 1:
        raise ValueError(
            f"seasonal naive needs a whole season ({season} rows) up to each origin; "
            f"origin row {int(o.min())} has {int(o.min()) + 1}"
        )
    h = np.arange(1, horizon + 1)
    back = season * ((h - 1) // season + 1)
    return p[o[:, None] + h - back]


def _no_fit(series: Series, cutoff: int, previous: Any) -> None:
    """Baselines learn nothing: every forecast reads only the prices up to its origin."""
    return None


def persistence_model(horizon: int) -> ForecastModel:
    """Persistence (tomorrow = today) as a :class:`ForecastModel`."""

    def predict(state: None, series: Series, origins: np.ndarray) -> np.ndarray:
        return persistence(series.full_prices[origins + series.offset], horizon)

    return ForecastModel("persistence", _no_fit, predict, baseline=True)


def drift_model(horizon: int) -> ForecastModel:
    """Random walk with drift from the first price of the series, as a ForecastModel."""

    def predict(state: None, series: Series, origins: np.ndarray) -> np.ndarray:
        return drift(series.full_prices, origins + series.offset, horizon)

    return ForecastModel("drift", _no_fit, predict, baseline=True)


def moving_average_model(horizon: int, window: int) -> ForecastModel:
    """Mean of the last ``window`` prices up to the origin, as a ForecastModel."""

    def predict(state: None, series: Series, origins: np.ndarray) -> np.ndarray:
        return moving_average(series.full_prices, origins + series.offset, horizon, window)

    return ForecastModel("moving_average", _no_fit, predict, baseline=True)


def seasonal_naive_model(horizon: int, season: int) -> ForecastModel:
    """The value one season before each target (``season`` rows), as a ForecastModel."""

    def predict(state: None, series: Series, origins: np.ndarray) -> np.ndarray:
        return seasonal_naive(series.full_prices, origins + series.offset, horizon, season)

    return ForecastModel("seasonal_naive", _no_fit, predict, baseline=True, warmup=season - 1)


def baseline_models(
    horizon: int, ma_window: int = 5, season_length: int | None = None
) -> list[ForecastModel]:
    """Every baseline, in the order tables show them.

    Persistence, drift and the moving average always; seasonal naive when a season
    length is configured.
    """
    models = [
        persistence_model(horizon),
        drift_model(horizon),
        moving_average_model(horizon, ma_window),
    ]
    if season_length:
        models.append(seasonal_naive_model(horizon, season_length))
    return models


DEFAULT_BASELINES: tuple[str, ...] = ("persistence", "drift", "moving_average")
"""The baselines every backtest runs."""
BASELINES: tuple[str, ...] = (*DEFAULT_BASELINES, "seasonal_naive")
"""Names of every baseline (reserved: no variant may use them)."""

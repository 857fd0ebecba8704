"""Walk-forward forecasts with conformal bands, for learned models and baselines alike.

At every origin a model's band is calibrated only on residuals known at that origin
(see :mod:`pricecast.tasks.intervals`): its validation span at the fit before it, its
own backtest forecasts whose target day has passed and, for a baseline, its forecasts
at the origins before the first one. Every model is banded on the same origins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pricecast.configs.intervals import IntervalsConfig
from pricecast.tasks.forecasters import ForecastModel, Series
from pricecast.tasks.intervals import Calibration, conformal_bands, ewma_volatility


def relative_space(series: Series, target: str) -> bool:
    """Whether residuals are log ratios: prices (positive), not a generic ``value`` series."""
    return target != "value" and bool(np.all(series.full_prices > 0))


def model_calibration(
    model: ForecastModel,
    series: Series,
    origins: np.ndarray,
    segments: list[tuple[int, int]],
    states: list[object],
    forecasts: np.ndarray,
    window: int,
    relative: bool,
) -> Calibration:
    """Every out-of-sample residual of one model's walk-forward, with when it is usable.

    Args:
        model: The forecaster.
        series: Its series.
        origins: The backtest's origin rows.
        segments: ``[start, stop)`` origins that share one fitted state.
        states: The fitted state of each segment.
        forecasts: The backtest forecasts ``(n, H)`` at every origin.
        window: Residuals a band keeps (a baseline's history covers this many origins).
        relative: Log residuals (prices) or differences.
    """
    horizon = forecasts.shape[1]
    parts = []
    if model.baseline:
        first = int(origins[0])
        past = np.arange(max(model.warmup, first - window - horizon), first)
        if len(past):
            pred = model.predict(None, series, past)
            parts.append(Calibration.of_forecasts(past, pred, series.prices, relative))
    for (start, stop), state in zip(segments, states, strict=True):
        fitted = model.calibration(state)
        if fitted is not None:
            parts.append(fitted)
        cutoff = int(origins[start])
        parts.append(
            Calibration.of_forecasts(
                origins[start:stop],
                forecasts[start:stop],
                series.prices,
                relative,
                trained_until=-1 if model.baseline else cutoff - 1,
            )
        )
    return Calibration.join(parts)


def banded_forecasts(
    model: ForecastModel,
    series: Series,
    origins: np.ndarray,
    segments: list[tuple[int, int]],
    intervals: IntervalsConfig,
    relative: bool,
    on_fit: Callable[[str, int, Any], None] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A model's forecasts ``(n, H)`` at the origins and their bands per level.

    The model is fitted at the start of each segment (warm-started from the previous
    state) and forecasts the segment's origins in one batch, as in the plain backtest;
    ``on_fit(name, cutoff_row, state)`` is told of each fit of a learned model.
    """
    state = None
    states, parts = [], []
    for start, stop in segments:
        state = model.fit(series, int(origins[start]), state)
        if on_fit is not None and not model.baseline:
            on_fit(model.name, int(origins[start]), state)
        states.append(state)
        parts.append(model.predict(state, series, origins[start:stop]))
    forecasts = np.concatenate(parts, axis=0)
    calibration = model_calibration(
        model, series, origins, segments, states, forecasts, intervals.window, relative
    )
    return forecasts, _bands(calibration, series, origins, forecasts, intervals, relative)


def baseline_bands(
    model: ForecastModel,
    series: Series,
    origins: np.ndarray,
    intervals: IntervalsConfig,
    relative: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A baseline's forecasts at the origins and their bands (e.g. a night's latest row).

    The baseline learns nothing, so its forecasts at the origins before the first one
    calibrate the bands, as in the backtest.
    """
    forecasts = model.predict(None, series, origins)
    calibration = model_calibration(
        model, series, origins, [(0, len(origins))], [None], forecasts, intervals.window, relative
    )
    return forecasts, _bands(calibration, series, origins, forecasts, intervals, relative)


def _bands(
    calibration: Calibration,
    series: Series,
    origins: np.ndarray,
    forecasts: np.ndarray,
    intervals: IntervalsConfig,
    relative: bool,
) -> dict[str, np.ndarray]:
    vol = None
    if intervals.volatility_halflife is not None:
        vol = ewma_volatility(series.prices, relative, intervals.volatility_halflife)
    return conformal_bands(
        calibration,
        origins,
        forecasts,
        intervals.levels,
        relative,
        intervals.window,
        intervals.min_residuals,
        vol,
    )


def online_bands(
    series: Series,
    origins: np.ndarray,
    forecasts: np.ndarray,
    intervals: IntervalsConfig,
    relative: bool,
) -> dict[str, np.ndarray]:
    """Bands of a model fitted before the first origin, from its own matured forecasts.

    Each origin's band uses the residuals of the forecasts (at these origins) whose
    target day has passed, so the first origins, with fewer than ``min_residuals``
    behind them, get none. This bands a span such as the test span, where only the
    forecasts themselves are at hand.
    """
    calibration = Calibration.of_forecasts(
        origins, forecasts, series.prices, relative, trained_until=int(origins[0]) - 1
    )
    return _bands(calibration, series, origins, forecasts, intervals, relative)

"""The production model: a variant refitted on every session up to the night's ``as_of``.

Evaluation (the test span, the walk-forward backtest) judges a variant on the past; the
model that forecasts the future is the same variant refitted on all data up to ``as_of``
by the procedure the backtest's own refits use (``ForecastModel.fit`` with the cutoff
after the last row: a scaler of those rows, the latest share held out for early
stopping), as a direct ``horizon``-output model.
"""

from __future__ import annotations

import pandas as pd

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import FeaturesConfig, TrainingConfig, VariantConfig
from pricecast.models.forecaster import Forecaster, ForecastSpec
from pricecast.models.variant import keras_model_fns
from pricecast.tasks.forecasters import WindowSetup, series_from_prices, windowed
from pricecast.tasks.interval_backtest import relative_space
from pricecast.tasks.intervals import ewma_volatility, latest_quantiles
from pricecast.tasks.validate import stamp

PROCEDURE = "refit on all sessions up to as_of (the backtest's refit procedure, direct)"


def refit_on_all(
    variant: VariantConfig,
    training: TrainingConfig,
    features: FeaturesConfig,
    prices: pd.DataFrame,
    target: str,
    ticker: str,
    val_fraction: float = 0.1,
    calendar: str = "XNYS",
    frequency: str | None = None,
    intervals: IntervalsConfig | None = None,
) -> Forecaster:
    """Fit ``variant`` on every row of ``prices`` (already cut at ``as_of``).

    With ``intervals``, the residuals of the held-out validation span (the latest
    ``window`` of them) give the conformal quantiles the forecaster's bands keep.

    Returns:
        A :class:`Forecaster` whose spec says it was trained until the last price's date.
    """
    series = series_from_prices(prices, features, target)
    fns = keras_model_fns(
        variant,
        training,
        features.window,
        len(series.inputs),
        features.horizon,
        strategy="direct",
    )
    relative = relative_space(series, target)
    setup = WindowSetup(
        features.window,
        features.horizon,
        val_fraction=val_fraction,
        scaler=features.scaler,
        calibrate=intervals is not None,
        relative=relative,
    )
    state = windowed(fns, setup).fit(series, len(series.prices), None)
    bands, halflife = None, None
    if intervals is not None and state.calibration is not None:
        halflife = intervals.volatility_halflife
        vol = None if halflife is None else ewma_volatility(series.prices, relative, halflife)
        bands = latest_quantiles(
            state.calibration,
            len(series.prices),
            features.horizon,
            intervals.levels,
            intervals.window,
            intervals.min_residuals,
            vol,
        )
    spec = ForecastSpec(
        ticker=ticker,
        target=target,
        inputs=list(series.inputs),
        window=features.window,
        horizon=features.horizon,
        transform=features.target_transform,
        variant=variant.name,
        trained_until=stamp(prices.index[-1]),
        calendar=calendar,
        frequency=frequency,
        bands=bands,
        relative=relative,
        volatility_halflife=halflife if bands else None,
    )
    return Forecaster(state.model, state.scaler, spec)

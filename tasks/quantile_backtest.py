"""Walk-forward of a quantile-head model: its own quantiles are the bands (pure).

The model (a :class:`~pricecast.tasks.forecasters.ModelFns` whose ``predict`` returns
``(n, H * Q)`` scaled quantiles, step-major) is fitted on the rows before an origin like
every windowed model; its median is the point forecast and its outer quantiles the
bounds of each level. No residual calibrates anything: how well the pinball-trained
quantiles cover is exactly what the backtest measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.tasks.backtest import _long_frame, origin_rows, refit_segments
from pricecast.tasks.features import prices_from_targets
from pricecast.tasks.forecasters import (
    ModelFns,
    WindowSetup,
    origin_windows,
    series_from_prices,
    training_set,
)
from pricecast.tasks.intervals import level_name


def quantile_taus(levels: Sequence[float]) -> list[float]:
    """Quantiles the head forecasts: both ends of each level and the median, sorted."""
    ends = {round((1 - v) / 2, 6) for v in levels} | {round((1 + v) / 2, 6) for v in levels}
    return sorted(ends | {0.5})


def quantile_walk_forward(
    prices: pd.DataFrame,
    fns: ModelFns,
    levels: Sequence[float],
    features: FeaturesConfig,
    backtest: BacktestConfig,
    target: str = "adj_close",
) -> pd.DataFrame:
    """Backtest a quantile head on the walk-forward's origins.

    Returns:
        The long frame of ``tasks.backtest.walk_forward`` for this one model, with
        ``predicted`` the median and ``lower_<L>, upper_<L>`` its quantiles.

    Raises:
        ValueError: For a ``diff`` target, whose per-step quantiles do not add up to
            quantiles of the price.
    """
    if features.target_transform == "diff":
        raise ValueError("the quantile head needs a log_return or level target, not diff")
    series = series_from_prices(prices, features, target)
    taus = quantile_taus(levels)
    horizon = features.horizon
    origins = origin_rows(len(series.prices), backtest.n_origins, backtest.step)
    setup = WindowSetup(
        features.window,
        horizon,
        backtest.training_window_length if backtest.training_window == "sliding" else None,
        backtest.val_fraction,
        features.scaler,
    )
    state, parts = None, []
    for start, stop in refit_segments(len(origins), backtest.refit_every):
        scaler, sets = training_set(series, int(origins[start]), setup, horizon)
        state = fns.fit(*sets, state)
        seg = origins[start:stop]
        raw = np.asarray(fns.predict(state, origin_windows(series, scaler, seg, setup.window)))
        raw = raw.reshape(len(seg), horizon, len(taus))
        anchors = series.prices[seg]
        q = [
            prices_from_targets(scaler.inverse_targets(raw[:, :, i]), anchors, series.transform)
            for i in range(len(taus))
        ]
        parts.append(np.sort(np.stack(q, axis=2), axis=2))  # no crossing quantiles
    paths = np.concatenate(parts, axis=0)
    at = {t: i for i, t in enumerate(taus)}
    bands = {}
    for v in levels:
        bands[f"lower_{level_name(v)}"] = paths[:, :, at[round((1 - v) / 2, 6)]]
        bands[f"upper_{level_name(v)}"] = paths[:, :, at[round((1 + v) / 2, 6)]]
    median = paths[:, :, at[0.5]]
    return _long_frame(series, origins, {fns.name: median}, {fns.name: bands})

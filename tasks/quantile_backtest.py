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

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.tasks.backtest import (
    OnFit,
    _long_frame,
    origin_rows,
    refit_segments,
    walk_forward,
)
from pricecast.tasks.features import prices_from_targets
from pricecast.tasks.forecasters import (
    ModelFns,
    Series,
    WindowSetup,
    origin_windows,
    series_from_prices,
    training_set,
)
from pricecast.tasks.interval_backtest import relative_space
from pricecast.tasks.intervals import Calibration, bound_columns, level_name, shifted
from pricecast.tasks.scaling import SeriesScaler


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
    conformal: IntervalsConfig | None = None,
) -> pd.DataFrame:
    """Backtest a quantile head on the walk-forward's origins.

    With ``conformal``, a second model ``<name>_cqr`` follows: the same median, its
    bands widened (or narrowed) by conformalised quantile regression. Its conformity
    scores, ``max(log(lower / y), log(y / upper))``, come from the head's validation span
    at each fit and its own matured backtest forecasts, the latest ``window`` of them
    known at each origin, as for the split-conformal bands.

    Returns:
        The long frame of ``tasks.backtest.walk_forward``, with ``predicted`` the median
        and ``lower_<L>, upper_<L>`` its quantiles.

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

    def paths_at(state: object, scaler: SeriesScaler, rows: np.ndarray) -> np.ndarray:
        raw = np.asarray(fns.predict(state, origin_windows(series, scaler, rows, setup.window)))
        raw = raw.reshape(len(rows), horizon, len(taus))
        anchors = series.prices[rows]
        q = [
            prices_from_targets(scaler.inverse_targets(raw[:, :, i]), anchors, series.transform)
            for i in range(len(taus))
        ]
        return np.sort(np.stack(q, axis=2), axis=2)  # no crossing quantiles

    state, parts, warm = None, [], []
    for start, stop in refit_segments(len(origins), backtest.refit_every):
        cutoff = int(origins[start])
        scaler, sets = training_set(series, cutoff, setup, horizon)
        state = fns.fit(*sets, state)
        parts.append(paths_at(state, scaler, origins[start:stop]))
        if conformal is not None:
            # Validation samples end at rows lo + window - 1 + j (see training_set).
            lo = 0 if setup.lo_length is None else max(0, cutoff - setup.lo_length)
            n = cutoff - lo - setup.window - horizon + 1
            rows = lo + setup.window - 1 + np.arange(n - len(sets[2]), n)
            until = int(rows[0]) - 1 + horizon
            warm.append((rows, paths_at(state, scaler, rows), until, cutoff))
    paths = np.concatenate(parts, axis=0)
    at = {t: i for i, t in enumerate(taus)}
    bands = {}
    for v in levels:
        bands[f"lower_{level_name(v)}"] = paths[:, :, at[round((1 - v) / 2, 6)]]
        bands[f"upper_{level_name(v)}"] = paths[:, :, at[round((1 + v) / 2, 6)]]
    median = paths[:, :, at[0.5]]
    forecasts, banded = {fns.name: median}, {fns.name: bands}
    if conformal is not None:
        name = f"{fns.name}_cqr"
        forecasts[name] = median
        relative = relative_space(series, target)
        banded[name] = _cqr(series, origins, paths, warm, taus, levels, conformal, relative)
    return _long_frame(series, origins, forecasts, banded)


def _cqr(
    series: Series,
    origins: np.ndarray,
    paths: np.ndarray,
    warm: list[tuple[np.ndarray, np.ndarray, int, int]],
    taus: list[float],
    levels: Sequence[float],
    conformal: IntervalsConfig,
    relative: bool,
) -> dict[str, np.ndarray]:
    """Conformalised bands: each level's quantiles moved out by its conformity scores."""
    at = {t: i for i, t in enumerate(taus)}
    out = {}
    for v in levels:
        lo_i, up_i = at[round((1 - v) / 2, 6)], at[round((1 + v) / 2, 6)]
        parts = [
            _scores(rows, p[:, :, lo_i], p[:, :, up_i], series.prices[:c], relative, u, c)
            for rows, p, u, c in warm
        ]
        parts.append(
            _scores(origins, paths[:, :, lo_i], paths[:, :, up_i], series.prices, relative, -1, 0)
        )
        cal = Calibration.join(parts)
        lower, upper = paths[:, :, lo_i].copy(), paths[:, :, up_i].copy()
        for i, origin in enumerate(origins):
            for col in range(paths.shape[1]):
                idx = cal.usable(int(origin), col + 1, conformal.window)
                if len(idx) < conformal.min_residuals:
                    lower[i, col] = upper[i, col] = np.nan
                    continue
                pool = np.sort(cal.residual[idx, col])
                k = int(np.ceil((len(pool) + 1) * v - 1e-9))
                q = pool[min(k, len(pool)) - 1]
                lower[i, col] = shifted(lower[i, col], -q, relative)
                upper[i, col] = shifted(upper[i, col], q, relative)
        out[f"lower_{level_name(v)}"], out[f"upper_{level_name(v)}"] = lower, upper
    return out


def _scores(
    rows: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    prices: np.ndarray,
    relative: bool,
    trained_until: int,
    not_before: int,
) -> Calibration:
    """Conformity scores ``max(lower - y, y - upper)`` (in log or price units) as residuals."""
    below = Calibration.of_forecasts(rows, lower, prices, relative, trained_until, not_before)
    above = Calibration.of_forecasts(rows, upper, prices, relative, trained_until, not_before)
    score = np.maximum(-below.residual, above.residual)
    return Calibration(below.origin, score, below.ready, below.trained_until)


def head_banded_walk_forward(
    prices: pd.DataFrame,
    fns: ModelFns,
    head: ModelFns,
    intervals: IntervalsConfig,
    features: FeaturesConfig,
    backtest: BacktestConfig,
    target: str = "adj_close",
    on_fit: OnFit | None = None,
) -> pd.DataFrame:
    """Backtest a learned model whose bands come from a quantile head (``intervals.method``).

    The model's own point forecasts (the plain walk-forward) keep every point metric as
    it is; the head, fitted on the same rows before each origin and refitted at the same
    origins, gives the ``lower_<L>, upper_<L>`` columns: its quantiles (``quantile``) or
    those conformalised on its past misses (``cqr``).

    Args:
        prices: Validated price frame indexed by trading date.
        fns: The learned model (point forecasts).
        head: The quantile head of the same variant (see ``models/quantile.py``).
        intervals: Levels, ``method`` and, for ``cqr``, its window and fewest residuals.
        features: Window, horizon, inputs, target transform and scaler.
        backtest: Origins, training window and refits.
        target: Target price column.
        on_fit: Told of each fit of ``fns`` (see ``tasks.backtest.OnFit``).

    Returns:
        The rows of ``tasks.backtest.walk_forward`` for ``fns`` alone, with the bands.

    Raises:
        ValueError: For the ``conformal`` method, or a ``diff`` target.
    """
    if intervals.method == "conformal":
        raise ValueError("intervals.method 'conformal' bands by residuals, not a quantile head")
    point = walk_forward(
        prices,
        [fns],
        features=features,
        backtest=backtest,
        target=target,
        include_baselines=False,
        on_fit=on_fit,
    )
    cqr = intervals if intervals.method == "cqr" else None
    heads = quantile_walk_forward(
        prices, head, intervals.levels, features, backtest, target, conformal=cqr
    )
    name = f"{head.name}_cqr" if cqr is not None else head.name
    rows = heads[heads["model"] == name].reset_index(drop=True)
    keys = ["cutoff", "h"]
    if not point[keys].reset_index(drop=True).equals(rows[keys]):
        raise ValueError(f"{fns.name}: its quantile head was backtested on other origins")
    columns = bound_columns(intervals.levels)
    return point.assign(**{c: rows[c].to_numpy() for c in columns})

"""Walk-forward backtest over rolling forecast origins (pure: no orchestration, no I/O).

At each origin (cutoff) ``c`` every model forecasts the next ``H`` prices from the rows up
to ``c``. Models are fitted (and their scaler fitted) on rows strictly before an origin
only: once before the first origin (``refit_every: 0``), or again every ``refit_every``
origins, warm-started from the previous state. Between two refits every origin is
forecast in one batched call.

Learned models and baselines go through the same
:class:`~pricecast.tasks.forecasters.ForecastModel` loop; a windowed learned model
(:class:`~pricecast.tasks.forecasters.ModelFns`) is wrapped by ``windowed``. The Keras
variants' ModelFns are built in ``models/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.tasks.baselines import BASELINES, DEFAULT_BASELINES, baseline_models
from pricecast.tasks.forecasters import (
    ForecastModel,
    ModelFns,
    Series,
    WindowSetup,
    check_strategy,
    series_from_prices,
    windowed,
)
from pricecast.tasks.interval_backtest import banded_forecasts, relative_space
from pricecast.tasks.interval_scores import common_rows, interval_metrics, levels_of
from pricecast.tasks.metrics import evaluate, naive_scale

MIN_ORIGINS = 20
"""Fewest origins a backtest is shrunk to when the series is short: below it a handful
of errors would rank the models (and move the champion) by chance."""

MIN_TRAIN_SAMPLES = 50
"""Training windows kept before the first origin (on top of one window and horizon)."""

COLUMNS: tuple[str, ...] = ("cutoff", "date", "h", "actual", "predicted", "model", "anchor")
"""Columns of :func:`walk_forward`'s frame (``anchor``: the price at the cutoff)."""

OnFit = Callable[[str, int, Any], None]
"""``on_fit(model_name, cutoff_row, state)``: told of every fit a backtest makes, when it is
made (e.g. to keep the first fit's model before a warm-started refit trains it further)."""

__all__ = [
    "BASELINES",
    "COLUMNS",
    "DEFAULT_BASELINES",
    "ModelFns",
    "OnFit",
    "best_model",
    "fit_backtest",
    "insample_scale",
    "origin_rows",
    "backtest_setup",
    "refit_segments",
    "summarize",
    "walk_forward",
]


def origin_rows(n_rows: int, n_origins: int, step: int = 1) -> np.ndarray:
    """Row index of every forecast origin.

    The candidates are the last ``n_origins`` rows that have a next row (so each origin
    has at least its h=1 actual); every ``step``-th is kept, counting back from the last.

    Args:
        n_rows: Rows in the series.
        n_origins: Rows spanned by the origins.
        step: Rows between consecutive origins.

    Returns:
        Sorted row indices.

    Raises:
        ValueError: If the series is shorter than ``n_origins + 1`` rows.
    """
    if n_origins < 1 or step < 1:
        raise ValueError("n_origins and step must be >= 1")
    if n_rows < n_origins + 1:
        raise ValueError(f"{n_rows} rows cannot hold {n_origins} origins and a next day")
    candidates = np.arange(n_rows - 1 - n_origins, n_rows - 1)
    return candidates[(len(candidates) - 1) % step :: step]


def fit_backtest(
    prices: pd.DataFrame,
    ticker: str,
    features: FeaturesConfig,
    backtest: BacktestConfig,
    target: str = "adj_close",
) -> tuple[BacktestConfig, str | None]:
    """The backtest a ticker's series can hold: as configured, or with fewer origins.

    The first origin needs :data:`MIN_TRAIN_SAMPLES` training windows before it. When
    the configured ``n_origins`` leave less, they are cut to what fits, as long as that
    is at least :data:`MIN_ORIGINS` origins; a young ticker is backtested on its own
    span instead of failing.

    Args:
        prices: The validated price frame.
        ticker: The symbol, for messages.
        features: Window, horizon and inputs (they set the rows a series holds).
        backtest: The configured backtest.
        target: Target price column.

    Returns:
        The backtest to run, and a note saying what was cut (``None`` when nothing was).

    Raises:
        ValueError: Naming the ticker and the numbers, when not even
            :data:`MIN_ORIGINS` origins fit.
    """
    rows = len(series_from_prices(prices, features, target).prices)
    train_rows = features.window + features.horizon + MIN_TRAIN_SAMPLES
    room = rows - 1 - train_rows
    if backtest.n_origins <= room:
        return backtest, None
    need = MIN_ORIGINS * backtest.step
    if room < need:
        raise ValueError(
            f"{ticker}: {rows} usable rows are too few for a backtest: it needs {train_rows} "
            f"training rows (window {features.window} + horizon {features.horizon} + "
            f"{MIN_TRAIN_SAMPLES} samples) and at least {need} origin rows "
            f"({MIN_ORIGINS} origins, step {backtest.step}) plus a next day, so "
            f"{train_rows + need + 1} rows; use a longer history or switch the backtest off"
        )
    note = (
        f"{ticker}: {rows} usable rows hold {room} backtest origins, not the configured "
        f"{backtest.n_origins} (after {train_rows} training rows); backtesting on {room}"
    )
    return backtest.model_copy(update={"n_origins": room}), note


def refit_segments(n: int, refit_every: int) -> list[tuple[int, int]]:
    """Split ``n`` origins into ``[start, stop)`` runs that share one fitted model.

    ``refit_every = 0`` gives one run (train once); otherwise a new run starts every
    ``refit_every`` origins.
    """
    if refit_every < 0:
        raise ValueError("refit_every must be >= 0")
    size = n if refit_every == 0 else refit_every
    return [(i, min(i + size, n)) for i in range(0, n, max(size, 1))]


def model_forecasts(
    model: ForecastModel,
    series: Series,
    origins: np.ndarray,
    refit_every: int,
    on_fit: OnFit | None = None,
) -> np.ndarray:
    """Fit at the start of each refit run and forecast that run's origins in one batch."""
    state = None
    parts = []
    for start, stop in refit_segments(len(origins), refit_every):
        state = model.fit(series, int(origins[start]), state)
        if on_fit is not None and not model.baseline:
            on_fit(model.name, int(origins[start]), state)
        parts.append(model.predict(state, series, origins[start:stop]))
    return np.concatenate(parts, axis=0)


def _long_frame(
    series: Series,
    origins: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    bands: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Stack forecasts ``(n, H)`` per model into the long :data:`COLUMNS` frame.

    Targets past the last row of the series have no date and are left out. Bands
    (``{model: {"lower_80": (n, H), ...}}``) add their columns after :data:`COLUMNS`.
    """
    horizon = next(iter(forecasts.values())).shape[1]
    rows = origins[:, None] + np.arange(1, horizon + 1)
    keep = rows < len(series.prices)
    cut = np.broadcast_to(origins[:, None], rows.shape)[keep]
    tgt = rows[keep]
    base = {
        "cutoff": series.dates[cut].to_numpy(),
        "date": series.dates[tgt].to_numpy(),
        "h": np.broadcast_to(np.arange(1, horizon + 1), rows.shape)[keep].astype("int64"),
        "actual": series.prices[tgt],
    }
    parts = [
        pd.DataFrame(
            {
                **base,
                "predicted": np.asarray(pred, dtype="float64")[keep],
                "model": name,
                "anchor": series.prices[cut],
                **{c: v[keep] for c, v in (bands or {}).get(name, {}).items()},
            }
        )
        for name, pred in forecasts.items()
    ]
    extra = list(next(iter(bands.values()))) if bands else []
    return pd.concat(parts, ignore_index=True)[[*COLUMNS, *extra]]


def backtest_setup(
    series: Series,
    features: FeaturesConfig,
    backtest: BacktestConfig,
    target: str,
    intervals: IntervalsConfig | None,
) -> WindowSetup:
    """The :class:`WindowSetup` the walk-forward cuts a ticker's training sets with.

    One place, so that a pooled (global) model's training sets end where each ticker's
    own walk-forward would end them.
    """
    return WindowSetup(
        window=features.window,
        horizon=features.horizon,
        lo_length=(
            backtest.training_window_length if backtest.training_window == "sliding" else None
        ),
        val_fraction=backtest.val_fraction,
        scaler=features.scaler,
        calibrate=intervals is not None,
        relative=relative_space(series, target),
    )


def walk_forward(
    prices: pd.DataFrame,
    models: Sequence[ModelFns] = (),
    *,
    features: FeaturesConfig | None = None,
    backtest: BacktestConfig | None = None,
    target: str = "adj_close",
    include_baselines: bool = True,
    season_length: int | None = None,
    intervals: IntervalsConfig | None = None,
    on_fit: OnFit | None = None,
) -> pd.DataFrame:
    """Backtest forecasters and the baselines over rolling origins.

    For each model, the rows strictly before an origin make its training set (the last
    ``val_fraction`` of the samples for validation) and fit its scaler. With
    ``refit_every: 0`` one fit before the first origin serves every origin, and all
    origins are forecast in one batched call; otherwise the scaler is refitted and the
    model warm-started (its previous state is passed to ``fit``) every ``refit_every``
    origins, and each run of origins between refits is forecast in one batched call.

    Args:
        prices: Validated price frame indexed by trading date.
        models: Forecasters to backtest (none: baselines only).
        features: Window, horizon, inputs, target transform and scaler.
        backtest: Origins, training window, refits and the moving-average window.
        target: Target price column.
        include_baselines: Also backtest persistence, drift and the moving average.
        season_length: Rows per season: adds the seasonal-naive baseline.
        intervals: Also band every forecast at these levels, calibrated at each origin
            on residuals known then (``tasks/interval_backtest.py``).
        on_fit: Told of each learned model's fits (see :data:`OnFit`).

    Returns:
        A long frame with :data:`COLUMNS`: one row per model, cutoff and step ahead
        ``h`` whose target date lies in the series; prices are real (not scaled) and
        ``anchor`` is the price at the cutoff. Models come first, then the baselines.
        With ``intervals``, ``lower_<level>`` and ``upper_<level>`` columns follow.

    Raises:
        ValueError: For a model named like a baseline or named twice, a recursive model
            with unsuitable inputs, or too few rows before the first origin.
    """
    features = features or FeaturesConfig()
    backtest = backtest or BacktestConfig()
    series = series_from_prices(prices, features, target)
    names = [m.name for m in models]
    clash = sorted(set(names) & set(BASELINES)) or sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"model names must be unique and not a baseline's: {', '.join(clash)}")
    for m in models:
        check_strategy(m.strategy, series.inputs, target)
    origins = origin_rows(len(series.prices), backtest.n_origins, backtest.step)
    setup = backtest_setup(series, features, backtest, target, intervals)
    everyone = [windowed(m, setup) for m in models]
    if include_baselines:
        everyone += baseline_models(features.horizon, backtest.ma_window, season_length)
    if intervals is None:
        forecasts = {
            m.name: model_forecasts(m, series, origins, backtest.refit_every, on_fit)
            for m in everyone
        }
        return _long_frame(series, origins, forecasts)
    segments = refit_segments(len(origins), backtest.refit_every)
    banded = {
        m.name: banded_forecasts(m, series, origins, segments, intervals, setup.relative, on_fit)
        for m in everyone
    }
    forecasts = {name: pred for name, (pred, _) in banded.items()}
    return _long_frame(series, origins, forecasts, {n: b for n, (_, b) in banded.items()})


def insample_scale(prices: pd.Series, until: pd.Timestamp, lag: int = 1) -> float:
    """MASE denominator from the prices known at ``until`` (dates up to and including it).

    Args:
        prices: Target prices indexed by date.
        until: Last date used, e.g. the first cutoff of a backtest.
        lag: Persistence lag.
    """
    return naive_scale(prices.loc[prices.index <= until].to_numpy(dtype="float64"), lag)


def summarize(frame: pd.DataFrame, scale: float) -> dict[str, dict[str, list[float]]]:
    """Metrics per model and per step ahead.

    Args:
        frame: Output of :func:`walk_forward`.
        scale: MASE denominator (e.g. :func:`insample_scale` at the first cutoff).

    Returns:
        ``{model: {metric: [h=1, h=2, ...]}}`` for every metric of
        :data:`pricecast.tasks.metrics.METRICS`, and the interval metrics of
        :func:`pricecast.tasks.interval_scores.interval_metrics` when the frame has bands.
    """
    out: dict[str, dict[str, list[float]]] = {}
    levels = levels_of(frame)
    common = common_rows(frame, levels) if levels else None
    for (model, _h), part in frame.sort_values("h").groupby(["model", "h"], sort=False):
        scores = evaluate(part["actual"], part["predicted"], part["anchor"], scale)
        if common is not None:
            scores.update(interval_metrics(part[common.loc[part.index]], levels))
        per_model = out.setdefault(str(model), {})
        for metric, value in scores.items():
            per_model.setdefault(metric, []).append(value)
    order = list(dict.fromkeys(frame["model"]))
    return {name: out[name] for name in order}


def best_model(
    summary: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "mase", h: int = 1
) -> str:
    """The model (baselines included) with the best ``metric`` at step ``h``.

    Lowest wins, except for ``directional_accuracy`` where highest wins; NaN never wins.

    Raises:
        ValueError: If no model has a finite value.
    """
    values = {name: float(m[metric][h - 1]) for name, m in summary.items()}
    finite = {k: v for k, v in values.items() if np.isfinite(v)}
    if not finite:
        raise ValueError(f"no model has a finite {metric} at h={h}")
    pick = max if metric == "directional_accuracy" else min
    return pick(finite, key=finite.__getitem__)

"""One interface for every forecaster, learned or baseline, so nothing scores them differently.

A :class:`ForecastModel` is two callables over a :class:`Series`, as darts' ``fit`` and
``predict`` are for its models and its ``NaiveDrift``:

- ``fit(series, cutoff, previous_state) -> state`` learns from the rows strictly before
  row ``cutoff`` (a baseline learns nothing and returns ``None``);
- ``predict(state, series, origins) -> prices (n, H)`` forecasts the ``H`` prices after
  each origin row from the rows up to and including it.

The walk-forward backtest and the test-span evaluation both call these two, for the
recurrent variants and for the baselines alike. A learned model that works on scaled
windows is written as a :class:`ModelFns` and turned into a ForecastModel by
:func:`windowed`, which owns the scaler, the windows and the multi-step strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_integer_dtype

from pricecast.configs.schema import FeaturesConfig
from pricecast.tasks.features import default_inputs, input_frame, prices_from_targets, target_matrix
from pricecast.tasks.intervals import Calibration
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.validate import stamp
from pricecast.tasks.windows import windows

Strategy = Literal["direct", "recursive"]

FitFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any], Any]
"""``fit(x_train, y_train, x_val, y_val, warm_start_state) -> state`` of a windowed model.

Windows are scaled ``(n, window, F)`` float32, targets scaled ``(n, H_model)``;
``warm_start_state`` is ``None`` on the first fit and the previous state on a refit.
"""

PredictFn = Callable[[Any, np.ndarray], np.ndarray]
"""``predict(state, x) -> scaled predictions (n, H_model)`` of a windowed model."""


@dataclass(frozen=True)
class Series:
    """One ticker's series in the row space of the model inputs.

    ``full_prices[i + offset]`` is ``prices[i]``: deriving log-returns drops a first row.

    Attributes:
        dates: Dates of the input rows (integer steps, for a series of steps).
        raw: Unscaled inputs ``(T, F)``.
        prices: Target prices on those dates ``(T,)``.
        full_prices: Target prices of every validated row (drift looks back to the first).
        offset: Rows dropped in front of ``raw`` (1 with a log-return or diff input, else 0).
        inputs: Input names.
        transform: ``log_return``, ``level`` or ``diff``.
    """

    dates: pd.Index
    raw: np.ndarray
    prices: np.ndarray
    full_prices: np.ndarray
    offset: int
    inputs: list[str]
    transform: str


def series_from_prices(prices: pd.DataFrame, features: FeaturesConfig, target: str) -> Series:
    """Build the :class:`Series` of a validated price frame."""
    inputs = list(features.inputs or default_inputs(target, features.target_transform))
    frame = input_frame(prices, inputs, target)
    full = prices[target].to_numpy(dtype="float64")
    offset = len(prices) - len(frame)
    return Series(
        dates=frame.index if is_integer_dtype(frame.index) else pd.DatetimeIndex(frame.index),
        raw=frame.to_numpy(dtype="float64"),
        prices=full[offset:],
        full_prices=full,
        offset=offset,
        inputs=inputs,
        transform=features.target_transform,
    )


SeriesFit = Callable[[Series, int, Any], Any]
SeriesPredict = Callable[[Any, Series, np.ndarray], np.ndarray]


def _no_calibration(state: Any) -> Calibration | None:
    return None


@dataclass(frozen=True)
class ForecastModel:
    """A forecaster as ``fit`` and ``predict`` over a :class:`Series` (see the module doc).

    Attributes:
        name: Model name in tables and MLflow.
        fit: ``fit(series, cutoff_row, previous_state) -> state``.
        predict: ``predict(state, series, origin_rows) -> prices (n, H)``.
        baseline: Whether this is a baseline (never registered as a champion).
        calibration: The out-of-sample residuals a fitted state carries (a windowed
            model's validation span), or ``None``.
        warmup: Rows of history a forecast needs before its origin (a baseline's
            earliest origin is this row).
    """

    name: str
    fit: SeriesFit
    predict: SeriesPredict
    baseline: bool = False
    calibration: Callable[[Any], Calibration | None] = _no_calibration
    warmup: int = 0


@dataclass(frozen=True)
class ModelFns:
    """A learned forecaster on scaled windows, independent of any deep-learning library.

    Attributes:
        name: Model name in the output (must not be a baseline's name).
        fit: Trains (or warm-starts) and returns the model state, see :data:`FitFn`.
        predict: Scaled predictions of a state, see :data:`PredictFn`.
        strategy: ``direct``: ``predict`` returns ``H`` columns; ``recursive``: it returns
            one column and is fed its own predictions ``H`` times.
    """

    name: str
    fit: FitFn
    predict: PredictFn
    strategy: Strategy = "direct"

    def outputs(self, horizon: int) -> int:
        """Columns the model predicts for a forecast of ``horizon`` steps."""
        return 1 if self.strategy == "recursive" else horizon


@dataclass(frozen=True)
class WindowSetup:
    """How a windowed model's training sets are cut from a series.

    Attributes:
        window: Lookback length.
        horizon: Steps ahead forecast.
        lo_length: Rows of a sliding training window (``None``: expanding).
        val_fraction: Latest share of each training set held out for early stopping.
        scaler: ``minmax`` or ``standard``.
        calibrate: After each fit, keep the residuals of the validation span (the
            model did not train on it) for conformal intervals.
        relative: Those residuals are log ratios (prices), not differences.
    """

    window: int
    horizon: int
    lo_length: int | None = None
    val_fraction: float = 0.1
    scaler: str = "minmax"
    calibrate: bool = False
    relative: bool = True


@dataclass(frozen=True)
class Fitted:
    """State of a windowed model.

    Its own state, its training set's scaler and, when asked for, the residuals of its
    validation span (see :class:`WindowSetup`).
    """

    model: Any
    scaler: SeriesScaler
    calibration: Calibration | None = None


def check_strategy(strategy: str, inputs: Sequence[str], target: str) -> None:
    """Reject a recursive strategy whose inputs cannot be rebuilt from its own forecasts.

    Recursive forecasting feeds the predicted value back as the next input, which works
    for one input that is the target price itself, its log-return or its difference.

    Raises:
        ValueError: For an unknown strategy, or a recursive one with other inputs.
    """
    if strategy not in ("direct", "recursive"):
        raise ValueError(f"unknown strategy {strategy!r} (allowed: direct, recursive)")
    if strategy == "recursive" and list(inputs) not in (["log_return"], ["diff"], [target]):
        raise ValueError(
            f"the recursive strategy needs one input, the target {target!r}, 'log_return' "
            f"or 'diff' (got {list(inputs)}): a model cannot forecast the other inputs "
            f"it would be fed; use strategy 'direct' for multivariate inputs"
        )


def training_set(
    series: Series, cutoff: int, setup: WindowSetup, outputs: int
) -> tuple[SeriesScaler, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Scaler and scaled ``(x_train, y_train, x_val, y_val)`` from rows before ``cutoff``.

    Only the slice of rows ``[lo, cutoff)`` is read (``lo`` = 0 or the start of the
    sliding window), so nothing from the cutoff onwards can reach the fit.

    Raises:
        ValueError: If the rows before the cutoff hold fewer than two samples.
    """
    lo = 0 if setup.lo_length is None else max(0, cutoff - setup.lo_length)
    raw, p = series.raw[lo:cutoff], series.prices[lo:cutoff]
    w = setup.window
    n = len(raw) - w - outputs + 1
    if n < 2:
        raise ValueError(
            f"origin {stamp(series.dates[cutoff])}: {len(raw)} rows before it are too few "
            f"to train (window {w} + {outputs} target(s) + 1 needs at least "
            f"{w + outputs + 1}); use fewer origins or a longer series"
        )
    y_raw = target_matrix(p, outputs, series.transform)[w - 1 : w - 1 + n]
    scaler = SeriesScaler(setup.scaler).fit(raw, y_raw)
    x = windows(scaler.transform_inputs(raw).astype("float32"), w)[:n]
    y = scaler.transform_targets(y_raw).astype("float32")
    n_val = min(n - 1, max(1, int(round(setup.val_fraction * n))))
    return scaler, (x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:])


def origin_windows(
    series: Series, scaler: SeriesScaler, origins: np.ndarray, window: int
) -> np.ndarray:
    """Scaled lookback windows ``(n, window, F)`` ending at each origin."""
    scaled = scaler.transform_inputs(series.raw[: origins[-1] + 1]).astype("float32")
    return windows(scaled, window)[origins - window + 1]


def _checked(pred: np.ndarray, n: int, outputs: int, name: str) -> np.ndarray:
    out = np.asarray(pred, dtype="float64")
    if out.shape != (n, outputs):
        raise ValueError(f"model {name!r} predicted shape {out.shape}, expected {(n, outputs)}")
    return out


def _direct(
    fns: ModelFns, fitted: Fitted, series: Series, origins: np.ndarray, setup: WindowSetup
) -> np.ndarray:
    """Prices ``(n, H)`` at the origins from one batched predict call."""
    x = origin_windows(series, fitted.scaler, origins, setup.window)
    scaled = _checked(fns.predict(fitted.model, x), len(origins), setup.horizon, fns.name)
    values = fitted.scaler.inverse_targets(scaled)
    return prices_from_targets(values, series.prices[origins], series.transform)


def _recursive(
    fns: ModelFns, fitted: Fitted, series: Series, origins: np.ndarray, setup: WindowSetup
) -> np.ndarray:
    """Prices ``(n, H)`` from a one-step model fed its own forecasts (``H`` batched calls).

    Each step's forecast becomes a price; the next input is that price's log-return
    (``log_return`` input) or the price itself (level input), scaled by the input scaler.
    """
    scaler = fitted.scaler
    x = np.array(origin_windows(series, scaler, origins, setup.window))
    prev = series.prices[origins]
    path = []
    for _ in range(setup.horizon):
        scaled = _checked(fns.predict(fitted.model, x), len(origins), 1, fns.name)
        value = scaler.inverse_targets(scaled)
        price = prices_from_targets(value, prev, series.transform)[:, 0]
        if series.inputs == ["log_return"]:
            fed = np.log(price / prev)
        else:
            fed = price - prev if series.inputs == ["diff"] else price
        nxt = scaler.transform_inputs(fed[:, None]).astype("float32")
        x = np.concatenate([x[:, 1:], nxt[:, None, :]], axis=1)
        path.append(price)
        prev = price
    return np.stack(path, axis=1)


def windowed(fns: ModelFns, setup: WindowSetup) -> ForecastModel:
    """Turn a windowed learned model into a :class:`ForecastModel`.

    ``fit`` fits a new scaler on the rows before the cutoff, cuts the scaled training
    and validation windows and calls ``fns.fit`` (warm-started from the previous state's
    model); its state is a :class:`Fitted`. ``predict`` scales the windows ending at the
    origins with that scaler and forecasts them in one batched call (``direct``) or one
    call per step ahead (``recursive``).
    """
    outputs = fns.outputs(setup.horizon)
    forecast = _recursive if fns.strategy == "recursive" else _direct

    def fit(series: Series, cutoff: int, previous: Fitted | None) -> Fitted:
        scaler, (x_tr, y_tr, x_val, y_val) = training_set(series, cutoff, setup, outputs)
        warm = previous.model if previous is not None else None
        fitted = Fitted(fns.fit(x_tr, y_tr, x_val, y_val, warm), scaler)
        if not setup.calibrate:
            return fitted
        # Sample j's window ends at row lo + j + window - 1 (its origin); the model
        # trained on the targets of the samples before the validation span.
        lo = 0 if setup.lo_length is None else max(0, cutoff - setup.lo_length)
        n = cutoff - lo - setup.window - outputs + 1
        first_val = n - len(x_val)
        origins = lo + setup.window - 1 + np.arange(first_val, n)
        trained_until = lo + setup.window - 1 + first_val - 1 + outputs
        pred = forecast(fns, fitted, series, origins, setup)
        calibration = Calibration.of_forecasts(
            origins, pred, series.prices[:cutoff], setup.relative, trained_until, cutoff
        )
        return replace(fitted, calibration=calibration)

    def predict(state: Fitted, series: Series, origins: np.ndarray) -> np.ndarray:
        return forecast(fns, state, series, origins, setup)

    def calibration(state: Fitted) -> Calibration | None:
        return state.calibration

    return ForecastModel(fns.name, fit, predict, calibration=calibration)

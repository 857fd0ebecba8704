"""Pooled windows of several tickers for one global model, each ticker scaled on its own.

A global model sees every ticker of a run through the same windows a per-ticker model
would see: each ticker's windows are scaled by that ticker's scaler (fitted on its own
training rows only) and cut before its own test span or first backtest origin, then
stacked. Pooling changes how many windows a model trains on, never what a window holds,
so the pooled model forecasts each ticker through the shared
:class:`~pricecast.tasks.forecasters.ForecastModel` path with that ticker's scaler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricecast.configs.schema import BacktestConfig
from pricecast.tasks.backtest import origin_rows
from pricecast.tasks.dataset import Dataset
from pricecast.tasks.forecasters import (
    ModelFns,
    PredictFn,
    Series,
    Strategy,
    WindowSetup,
    training_set,
)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(x_train, y_train, x_val, y_val)`` of one ticker, already scaled."""


@dataclass(frozen=True)
class Pooled:
    """Every ticker's training and validation windows, stacked in ticker order.

    Attributes:
        x_train: Training windows ``(n, window, F)``.
        y_train: Their scaled targets ``(n, H)``.
        x_val: Validation windows (early stopping) ``(m, window, F)``.
        y_val: Their scaled targets ``(m, H)``.
        counts: ``{ticker: (training windows, validation windows)}``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    counts: dict[str, tuple[int, int]]

    @property
    def samples(self) -> int:
        """Training windows of every ticker."""
        return len(self.x_train)


def pool(parts: dict[str, Arrays]) -> Pooled:
    """Stack each ticker's scaled ``(x_train, y_train, x_val, y_val)``.

    Raises:
        ValueError: If no ticker is given, or the tickers' windows differ in shape
            (window, inputs or outputs), naming the ticker.
    """
    if not parts:
        raise ValueError("pooling needs at least one ticker's windows")
    first, (x0, y0, _, _) = next(iter(parts.items()))
    for ticker, (x, y, xv, _) in parts.items():
        if (
            x.shape[1:] != x0.shape[1:]
            or y.shape[1:] != y0.shape[1:]
            or xv.shape[1:] != x0.shape[1:]
        ):
            raise ValueError(
                f"{ticker}: windows {x.shape[1:]} → {y.shape[1:]} do not match "
                f"{first}'s {x0.shape[1:]} → {y0.shape[1:]}; every ticker needs the same inputs"
            )
    stacked = [np.concatenate([p[i] for p in parts.values()]) for i in range(4)]
    counts = {t: (len(p[0]), len(p[2])) for t, p in parts.items()}
    return Pooled(*stacked, counts=counts)


def table_arrays(data: Dataset) -> Arrays:
    """A dataset's scaled training and validation windows (its test span left out)."""
    x_tr, y_tr = data.part("train")
    x_val, y_val = data.part("val")
    return x_tr, y_tr, x_val, y_val


def first_origin(series: Series, backtest: BacktestConfig) -> int:
    """Row of a ticker's first backtest origin (its training set ends before it)."""
    return int(origin_rows(len(series.prices), backtest.n_origins, backtest.step)[0])


def backtest_arrays(series: Series, setup: WindowSetup, outputs: int, cutoff: int) -> Arrays:
    """The windows the walk-forward's first fit trains on: rows before ``cutoff`` only.

    The same cut and scaler as the per-ticker walk-forward
    (:func:`~pricecast.tasks.forecasters.training_set`), so a pooled model's windows hold
    no target on or after any ticker's first origin.
    """
    _, arrays = training_set(series, cutoff, setup, outputs)
    return arrays


def frozen(name: str, model: Any, predict: PredictFn, strategy: Strategy = "direct") -> ModelFns:
    """A :class:`ModelFns` whose first fit hands back an already trained ``model``.

    The walk-forward still fits the ticker's own scaler on the rows before the first
    origin and forecasts through it; the model itself was trained on the pooled windows
    of every ticker, cut at each ticker's own first origin. A refit would need a new
    pooled fit, so it is refused.
    """

    def fit(x_tr: np.ndarray, y_tr: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, warm: Any):
        if warm is not None:
            raise ValueError(
                f"{name}: a pooled model is fitted once; backtest.refit_every must be 0"
            )
        return model

    return ModelFns(name, fit, predict, strategy)


def pooled_names(parts: Sequence[str]) -> str:
    """``AAPL, MSFT (+3)``: the tickers of a pool, for logs."""
    shown = ", ".join(parts[:5])
    return shown + (f" (+{len(parts) - 5})" if len(parts) > 5 else "")

"""Score forecasts of a split beside the baselines, every model through one code path.

Learned models and baselines are both :class:`~pricecast.tasks.forecasters.ForecastModel`:
:func:`forecast_split` asks any of them for its prices at the split's origins, and
:func:`score` scores every forecast against the same real prices with the same MASE scale.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pricecast.configs.schema import BacktestConfig
from pricecast.tasks.backtest import origin_rows
from pricecast.tasks.baselines import persistence_model
from pricecast.tasks.dataset import Dataset
from pricecast.tasks.forecasters import ForecastModel
from pricecast.tasks.interval_scores import levels_of
from pricecast.tasks.intervals import bound_columns
from pricecast.tasks.metrics import METRICS, evaluate
from pricecast.tasks.validate import stamp


def forecast_split(
    model: ForecastModel, state: Any, data: Dataset, split: str = "test"
) -> np.ndarray:
    """Prices ``(n, H)`` a fitted model forecasts at every origin of a split.

    Args:
        model: Any forecaster, learned or baseline.
        state: What ``model.fit`` returned (``None`` for a baseline, which needs no fit).
        data: The dataset.
        split: ``train``, ``val`` or ``test``.
    """
    origins = data.origins[data.split == split]
    return model.predict(state, data.series, origins)


def backtest_gap(data: Dataset, backtest: BacktestConfig, split: str = "test") -> str | None:
    """Why a backtest's forecasts cannot stand for a split's (``None`` when they can).

    They can when every origin of the split is an origin of the backtest: the backtest's
    fits all end before its first origin or at a later refit, so each of the split's
    forecasts comes from a model fitted on rows before its origin only.
    """
    ours = data.origins[data.split == split]
    theirs = origin_rows(len(data.prices), backtest.n_origins, backtest.step)
    if ours[0] < theirs[0]:
        return (
            f"the {split} span's first origin {stamp(data.dates[ours[0]])} comes before "
            f"the backtest's first origin {stamp(data.dates[theirs[0]])}"
        )
    missing = np.setdiff1d(ours, theirs)
    if len(missing):
        return (
            f"{len(missing)} of the {split} span's origins are not backtest origins "
            f"(step {backtest.step}), the first {stamp(data.dates[missing[0]])}"
        )
    return None


def trained_span(
    dates: pd.DatetimeIndex, cutoff: int, backtest: BacktestConfig
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the rows a walk-forward fit before row ``cutoff`` trains on.

    Every row before the cutoff, or the last ``training_window_length`` of them with a
    sliding window.
    """
    length = backtest.training_window_length if backtest.training_window == "sliding" else None
    lo = 0 if length is None else max(0, cutoff - length)
    return dates[lo], dates[cutoff - 1]


def trained_on(dates: pd.DatetimeIndex, cutoff: int, backtest: BacktestConfig) -> str:
    """``first..last``: the ``trained_on`` tag of a model fitted before the first origin.

    It shows that none of the test span's target days reached the model.
    """
    first, last = trained_span(dates, cutoff, backtest)
    return f"{stamp(first)}..{stamp(last)}"


def split_from_backtest(
    frame: pd.DataFrame, data: Dataset, split: str = "test"
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A split's forecasts ``(n, H)`` and bands, read from one model's backtest rows.

    Args:
        frame: One model's walk-forward rows (``tasks.backtest.COLUMNS`` and any
            ``lower_<L>``/``upper_<L>`` columns), holding every origin of the split (see
            :func:`backtest_gap`).
        data: The dataset.
        split: Which split.

    Returns:
        The forecasts at the split's origins, in its order, and each bound column
        ``(n, H)`` (empty without bands).

    Raises:
        ValueError: If the rows lack an origin or a step ahead of the split.
    """
    origins = data.dates[data.origins[data.split == split]]
    index = pd.MultiIndex.from_product(
        [pd.Index(origins), range(1, data.horizon + 1)], names=["cutoff", "h"]
    )
    rows = frame.set_index(["cutoff", "h"]).reindex(index)
    if rows["predicted"].isna().any():
        (cutoff, h) = rows.index[rows["predicted"].isna().to_numpy()][0]
        raise ValueError(f"the backtest has no forecast from {stamp(cutoff)} at h={h}")
    shape = (len(origins), data.horizon)
    columns = bound_columns(levels_of(frame))
    bands = {c: rows[c].to_numpy(dtype="float64").reshape(shape) for c in columns}
    return rows["predicted"].to_numpy(dtype="float64").reshape(shape), bands


def baseline_forecasts(data: Dataset, split: str = "test") -> dict[str, np.ndarray]:
    """Baseline forecasts ``(n, H)`` for a split's origins (persistence: tomorrow = today)."""
    model = persistence_model(data.horizon)
    return {model.name: forecast_split(model, None, data, split)}


def score(
    data: Dataset, forecasts: Mapping[str, np.ndarray], split: str = "test"
) -> dict[str, dict[str, float]]:
    """Metrics of each forecast (prices ``(n, H)``) against the real prices of a split."""
    actual, anchors = data.actual_prices(split), data.anchors(split)
    return {
        name: evaluate(actual, pred, anchors, data.train_scale) for name, pred in forecasts.items()
    }


@dataclass(frozen=True)
class Evaluation:
    """The test-span comparison of one ticker: every model and baseline on the same days.

    Attributes:
        forecasts: Prices ``(n, H)`` per model name, variants first, then baselines.
        scores: Metrics per model name.
        predictions: Long table ``origin, date, h, actual, <model>...``.
        seconds: Time spent forecasting the baselines and scoring.
    """

    forecasts: dict[str, np.ndarray]
    scores: dict[str, dict[str, float]]
    predictions: pd.DataFrame
    seconds: float = 0.0

    def table(self) -> pd.DataFrame:
        """Metrics as a frame: one row per model, one column per metric."""
        return pd.DataFrame(self.scores).T[list(METRICS)]

    def best_by(self, metric: str = "rmse") -> str:
        """Model with the lowest ``metric`` on the test span."""
        return str(self.table()[metric].idxmin())


def evaluate_split(
    data: Dataset, forecasts: Mapping[str, np.ndarray], split: str = "test"
) -> Evaluation:
    """Add the baselines to the variants' forecasts of a split and score them all once."""
    t0 = time.perf_counter()
    everything = {**forecasts, **baseline_forecasts(data, split)}
    scores = score(data, everything, split)
    table = predictions_frame(data, everything, split)
    return Evaluation(everything, scores, table, time.perf_counter() - t0)


def predictions_frame(
    data: Dataset, forecasts: Mapping[str, np.ndarray], split: str = "test"
) -> pd.DataFrame:
    """Long table of forecasts: ``origin, date, h, actual, <model>...`` (one row per target day).

    Args:
        data: The dataset.
        forecasts: Prices ``(n, H)`` per model name.
        split: Which split the forecasts cover.
    """
    origins = data.origins[data.split == split]
    h = np.arange(1, data.horizon + 1)
    target_rows = origins[:, None] + h
    frame = pd.DataFrame(
        {
            "origin": np.repeat(data.dates[origins].to_numpy(), data.horizon),
            "date": data.dates[target_rows.ravel()].to_numpy(),
            "h": np.tile(h, len(origins)),
            "actual": data.prices[target_rows.ravel()],
        }
    )
    for name, pred in forecasts.items():
        frame[name] = np.asarray(pred, dtype="float64").ravel()
    return frame

"""Score forecasts beside the persistence baseline on the same days."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pricecast.tasks.baselines import persistence
from pricecast.tasks.dataset import PreparedData
from pricecast.tasks.metrics import evaluate


def baseline_forecasts(data: PreparedData, split: str = "test") -> dict[str, np.ndarray]:
    """Baseline forecasts ``(n, H)`` for a split's origins (persistence: tomorrow = today)."""
    return {"persistence": persistence(data.anchors(split), data.horizon)}


def score(
    data: PreparedData, forecasts: Mapping[str, np.ndarray], split: str = "test"
) -> dict[str, dict[str, float]]:
    """Metrics of each forecast (prices ``(n, H)``) against the real prices of a split."""
    actual, anchors = data.actual_prices(split), data.anchors(split)
    return {
        name: evaluate(actual, pred, anchors, data.train_scale) for name, pred in forecasts.items()
    }


def predictions_frame(
    data: PreparedData, forecasts: Mapping[str, np.ndarray], split: str = "test"
) -> pd.DataFrame:
    """Long table of forecasts: ``date, h, actual, <model>...`` (one row per target day).

    Args:
        data: The prepared data.
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

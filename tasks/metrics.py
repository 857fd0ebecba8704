"""Forecast accuracy metrics on prices (scikit-learn where it has them)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
)

METRICS: tuple[str, ...] = ("rmse", "mae", "mape", "mase", "directional_accuracy")


def naive_scale(train_prices: np.ndarray, lag: int = 1) -> float:
    """In-sample MAE of the persistence forecast ``p[t] = p[t-lag]`` (the MASE denominator)."""
    p = np.asarray(train_prices, dtype="float64")
    if len(p) <= lag:
        raise ValueError(f"{len(p)} prices are too few for a lag-{lag} naive scale")
    return float(np.mean(np.abs(p[lag:] - p[:-lag])))


def directional_accuracy(actual: np.ndarray, predicted: np.ndarray, anchor: np.ndarray) -> float:
    """Share of forecasts whose move from the origin price has the sign of the real move.

    A forecast of no move counts as right only when the price did not move. A forecast
    that never moves (persistence) says nothing about direction: its accuracy is
    undefined (NaN), not the share of days the price stood still, so it is never ranked
    beside the models that do call a direction.
    """
    a = np.sign(np.asarray(actual) - np.asarray(anchor))
    p = np.sign(np.asarray(predicted) - np.asarray(anchor))
    if not np.any(p):
        return float("nan")
    return float(np.mean(a == p))


def evaluate(
    actual: np.ndarray, predicted: np.ndarray, anchor: np.ndarray, scale: float
) -> dict[str, float]:
    """All metrics of one forecast, pooled over its horizons.

    Args:
        actual: Real prices ``(n,)`` or ``(n, H)``.
        predicted: Forecast prices, same shape.
        anchor: Price at each origin, ``(n,)``.
        scale: MASE denominator (see :func:`naive_scale`).

    Returns:
        ``rmse``, ``mae``, ``mape`` (percent), ``mase`` and ``directional_accuracy``.
    """
    a = np.asarray(actual, dtype="float64")
    p = np.asarray(predicted, dtype="float64")
    if a.shape != p.shape:
        raise ValueError(f"actual {a.shape} and predicted {p.shape} differ in shape")
    anc = np.asarray(anchor, dtype="float64")
    if a.ndim == 2:
        anc = np.broadcast_to(anc[:, None], a.shape)
    af, pf = a.ravel(), p.ravel()
    mae = float(mean_absolute_error(af, pf))
    return {
        "rmse": float(np.sqrt(mean_squared_error(af, pf))),
        "mae": mae,
        "mape": float(mean_absolute_percentage_error(af, pf) * 100.0),
        "mase": mae / scale if scale > 0 else float("nan"),
        "directional_accuracy": directional_accuracy(af, pf, anc.ravel()),
    }


def evaluate_by_horizon(
    actual: np.ndarray, predicted: np.ndarray, anchor: np.ndarray, scale: float
) -> dict[str, list[float]]:
    """Metrics per step ahead: ``{"rmse": [h=1, h=2, ...], ...}``."""
    a, p = np.atleast_2d(actual), np.atleast_2d(predicted)
    per_h = [evaluate(a[:, i], p[:, i], anchor, scale) for i in range(a.shape[1])]
    return {m: [row[m] for row in per_h] for m in METRICS}

"""Baseline forecasts computed beside every model, on the same origins."""

from __future__ import annotations

import numpy as np


def persistence(anchors: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow = today: every step ahead repeats the origin price. Shape ``(n, H)``."""
    a = np.asarray(anchors, dtype="float64")
    return np.repeat(a[:, None], horizon, axis=1)


def drift(prices: np.ndarray, origins: np.ndarray, horizon: int, start: int = 0) -> np.ndarray:
    """Random walk with drift: ``p[t] + h * (p[t] - p[start]) / (t - start)``.

    The slope uses only prices up to the origin (from row ``start``).
    """
    p = np.asarray(prices, dtype="float64")
    o = np.asarray(origins)
    span = np.maximum(o - start, 1)
    slope = (p[o] - p[start]) / span
    return p[o][:, None] + slope[:, None] * np.arange(1, horizon + 1)


def moving_average(
    prices: np.ndarray, origins: np.ndarray, horizon: int, window: int
) -> np.ndarray:
    """Mean of the last ``window`` prices up to each origin, flat over the horizon."""
    p = np.asarray(prices, dtype="float64")
    csum = np.concatenate([[0.0], np.cumsum(p)])
    o = np.asarray(origins)
    lo = np.maximum(o + 1 - window, 0)
    mean = (csum[o + 1] - csum[lo]) / (o + 1 - lo)
    return np.repeat(mean[:, None], horizon, axis=1)

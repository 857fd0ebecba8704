"""Sliding windows over a feature matrix (vectorised, no Python loop)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows(values: np.ndarray, window: int) -> np.ndarray:
    """All lookback windows of a ``(T, F)`` matrix.

    Window ``i`` holds rows ``i .. i+window-1``; its origin (last input row) is
    ``i + window - 1``.

    Args:
        values: Feature rows, shape ``(T, F)`` (a 1-D series is treated as ``F = 1``).
        window: Lookback length.

    Returns:
        A read-only view of shape ``(T - window + 1, window, F)``.

    Raises:
        ValueError: If there are fewer than ``window`` rows.
    """
    v = np.asarray(values)
    if v.ndim == 1:
        v = v[:, None]
    if len(v) < window:
        raise ValueError(f"{len(v)} rows cannot fill a window of {window}")
    # sliding_window_view puts the window axis last: (T-w+1, F, w) -> (T-w+1, w, F).
    return sliding_window_view(v, window, axis=0).transpose(0, 2, 1)


def supervised(
    values: np.ndarray, targets: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair every lookback window with the targets at its origin.

    Args:
        values: Feature rows ``(T, F)``.
        targets: Per-origin targets ``(T, H)`` (row ``t`` = what follows row ``t``).
        window: Lookback length.

    Returns:
        ``(X, y, origins)``: ``X`` of shape ``(N, window, F)``, ``y`` of shape ``(N, H)``
        and the row index of each window's origin, ``N = T - window + 1``.
    """
    x = windows(values, window)
    origins = np.arange(window - 1, len(values))
    return x, np.asarray(targets)[origins], origins

"""Input columns and forecast targets derived from a price frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view


def default_inputs(target: str, transform: str) -> list[str]:
    """Return the inputs used when the config names none: the target itself.

    With ``log_return`` targets the input is the log-return series, with ``diff``
    targets the first differences, with ``level`` targets the target column itself.
    """
    return [transform] if transform in ("log_return", "diff") else [target]


def input_frame(prices: pd.DataFrame, inputs: list[str], target: str) -> pd.DataFrame:
    """Build the model's input columns.

    Raw columns are taken as they are; ``log_return`` is ``log(p[t] / p[t-1])`` of the
    target column, ``diff`` is ``p[t] - p[t-1]`` and ``log_volume`` is ``log(1 + volume)``.
    The first row's log-return and difference are undefined, so that row is dropped
    whenever one of them is an input.

    Args:
        prices: Validated price frame.
        inputs: Input names (price columns or derived names).
        target: The target price column.

    Returns:
        A frame with one column per input, on the same dates (less the first row when
        ``log_return`` is used).
    """
    cols: dict[str, pd.Series] = {}
    for name in inputs:
        if name == "log_return":
            cols[name] = np.log(prices[target]).diff()
        elif name == "diff":
            cols[name] = prices[target].diff()
        elif name == "log_volume":
            cols[name] = np.log1p(prices["volume"])
        else:
            cols[name] = prices[name]
    out = pd.DataFrame(cols, index=prices.index)
    return out.iloc[1:] if {"log_return", "diff"} & set(inputs) else out


def target_matrix(prices: np.ndarray, horizon: int, transform: str) -> np.ndarray:
    """Targets for every origin ``t``: the next ``horizon`` values after ``t``.

    ``level``: ``Y[t, h-1] = p[t+h]``. ``log_return``: ``Y[t, h-1] = log(p[t+h] / p[t])``.
    ``diff``: ``Y[t, h-1] = p[t+h] - p[t+h-1]`` (each step's change, any sign). Rows whose
    horizon runs past the end are NaN.

    Args:
        prices: Target prices, shape ``(T,)``.
        horizon: Steps ahead ``H``.
        transform: ``level``, ``log_return`` or ``diff``.

    Returns:
        Array of shape ``(T, H)``.
    """
    p = np.asarray(prices, dtype="float64")
    ahead = np.full((len(p), horizon), np.nan)
    if len(p) > horizon:
        # Row t of the view holds p[t+1 .. t+H].
        ahead[: len(p) - horizon] = sliding_window_view(p[1:], horizon)[: len(p) - horizon]
    if transform == "level":
        return ahead
    if transform == "diff":
        return np.diff(np.concatenate([p[:, None], ahead], axis=1), axis=1)
    return np.log(ahead / p[:, None])


def prices_from_targets(values: np.ndarray, anchors: np.ndarray, transform: str) -> np.ndarray:
    """Invert :func:`target_matrix`: turn (unscaled) targets back into prices.

    Args:
        values: Targets, shape ``(N, H)``.
        anchors: The price at each origin, shape ``(N,)`` (used by ``log_return`` and
            ``diff``, whose steps are summed from it).
        transform: ``level``, ``log_return`` or ``diff``.
    """
    if transform == "level":
        return np.asarray(values, dtype="float64")
    if transform == "diff":
        steps = np.cumsum(np.asarray(values, dtype="float64"), axis=1)
        return np.asarray(anchors, dtype="float64")[:, None] + steps
    return np.asarray(anchors, dtype="float64")[:, None] * np.exp(values)

"""From a validated price frame to a :class:`Dataset`: scaled train / validation / test windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pricecast.configs.schema import FeaturesConfig, SplitConfig
from pricecast.tasks.features import target_matrix
from pricecast.tasks.forecasters import Series, series_from_prices
from pricecast.tasks.metrics import naive_scale
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.validate import PriceDataError, at
from pricecast.tasks.windows import supervised, windows

SPLITS = ("train", "val", "test")


def split_labels(dates: pd.Index, split: SplitConfig, horizon: int, ticker: str) -> np.ndarray:
    """Label every date ``train``, ``val``, ``test`` or ``""`` (outside every span).

    Args:
        dates: Sorted dates of the series.
        split: Split settings (dates or fractions).
        horizon: Steps ahead; every span must hold at least this many days.
        ticker: For messages.

    Returns:
        Array of labels, one per date.

    Raises:
        PriceDataError: If a span would be empty.
    """
    n = len(dates)
    labels = np.full(n, "", dtype=object)
    if split.test_start is not None:
        test = dates >= pd.Timestamp(split.test_start)
        if split.test_end is not None:
            test &= dates <= pd.Timestamp(split.test_end)
        pre = dates < pd.Timestamp(split.test_start)
        if split.train_end is not None:
            pre &= dates <= pd.Timestamp(split.train_end)
        labels[test] = "test"
        pre_idx = np.flatnonzero(pre)
    else:
        n_test = max(horizon, int(round(split.test_fraction * n)))
        labels[n - n_test :] = "test"
        pre_idx = np.arange(n - n_test)
    if not (labels == "test").any():
        raise PriceDataError(f"{ticker}: the test span is empty (data ends {at(dates[-1])})")
    if len(pre_idx) == 0:
        raise PriceDataError(f"{ticker}: no rows before the test span")
    n_val = max(horizon, int(round(split.val_fraction * len(pre_idx))))
    labels[pre_idx[:-n_val]] = "train"
    labels[pre_idx[-n_val:]] = "val"
    return labels


@dataclass
class Dataset:
    """Everything the models, the evaluation and the backtest need for one ticker.

    Attributes:
        ticker: The symbol.
        frame: The validated price frame the windows were cut from (the backtest and the
            champion's forecaster read it).
        series: The series in the row space of the inputs (see ``tasks.forecasters``).
        dates: Dates of the feature rows, shape ``(T,)`` (integer steps, for a series of
            steps).
        prices: Target prices on those dates, shape ``(T,)``.
        features: Input column names.
        x: Scaled lookback windows for every origin, ``(N, window, F)``, float32.
        y: Scaled targets per origin, ``(N, H)`` (NaN where the horizon runs past the end).
        origins: Row index of each window's origin, ``(N,)``.
        split: Split of each origin (``train``/``val``/``test``/``""``), ``(N,)``.
        scaler: The fitted scaler (training span only).
        transform: ``log_return``, ``level`` or ``diff``.
        horizon: Steps ahead.
        window: Lookback length.
        train_scale: In-sample persistence MAE on the training span (the MASE scale).
        frequency: Pandas offset alias of a generic series' dates, or ``steps:<interval>``
            (``None``: prices, which follow the exchange calendar).
        label: Axis label of the values: ``price``, or a series' name and unit.
    """

    ticker: str
    frame: pd.DataFrame
    series: Series
    dates: pd.Index
    prices: np.ndarray
    features: list[str]
    x: np.ndarray
    y: np.ndarray
    origins: np.ndarray
    split: np.ndarray
    scaler: SeriesScaler
    transform: str
    horizon: int
    window: int
    train_scale: float
    frequency: str | None = None
    label: str = "price"

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x, y)`` of one split."""
        mask = self.split == name
        return self.x[mask], self.y[mask]

    def anchors(self, name: str) -> np.ndarray:
        """Price at the origin of each window of a split."""
        return self.prices[self.origins[self.split == name]]

    def target_dates(self, name: str) -> pd.Index:
        """Date of the first (h=1) target of each window of a split."""
        return self.dates[self.origins[self.split == name] + 1]

    def actual_prices(self, name: str) -> np.ndarray:
        """Real prices ``(n, H)`` at the targets of each window of a split."""
        idx = self.origins[self.split == name][:, None] + np.arange(1, self.horizon + 1)
        return self.prices[idx]

    def span(self, name: str) -> tuple[Any, Any]:
        """First and last target date of a split."""
        mask = self.split == name
        o = self.origins[mask]
        return self.dates[o[0] + 1], self.dates[o[-1] + self.horizon]


def origin_splits(labels: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Assign each origin to the split that holds all of its ``horizon`` targets."""
    out = np.full(len(origins), "", dtype=object)
    n = len(labels)
    ahead = origins[:, None] + np.arange(1, horizon + 1)
    valid = ahead[:, -1] < n
    for name in SPLITS:
        inside = np.zeros(len(origins), dtype=bool)
        inside[valid] = (labels[ahead[valid]] == name).all(axis=1)
        out[inside] = name
    return out


def build_dataset(
    prices: pd.DataFrame,
    ticker: str,
    features: FeaturesConfig,
    split: SplitConfig,
    target: str,
) -> Dataset:
    """Split, scale and window one ticker's validated prices.

    The scaler is fitted on training rows only (inputs on training dates, targets of
    training origins); windows of later spans take their inputs from the days before.

    Args:
        prices: Validated price frame.
        ticker: The symbol.
        features: Window, horizon, inputs and scaling.
        split: Train / validation / test split.
        target: Target price column.

    Returns:
        The dataset.

    Raises:
        PriceDataError: If a span is too short for ``window + horizon``.
    """
    series = series_from_prices(prices, features, target)
    dates, p, raw = series.dates, series.prices, series.raw
    w, h = features.window, features.horizon
    need = w + h
    if len(dates) < need + 2 * h:
        raise PriceDataError(
            f"{ticker}: {len(dates)} rows are too few for window {w} + horizon {h} "
            f"in train, validation and test"
        )
    labels = split_labels(dates, split, h, ticker)
    targets = target_matrix(p, h, features.target_transform)
    _, y_raw, origins = supervised(raw, targets, w)
    splits = origin_splits(labels, origins, h)
    for name in SPLITS:
        rows = int((labels == name).sum())
        if not (splits == name).any():
            raise PriceDataError(
                f"{ticker}: the {name} span has {rows} row(s); it needs at least "
                f"{h if name != 'train' else need} (window {w} + horizon {h}, inputs may "
                f"come from the days before)"
            )
    train_rows = labels == "train"
    scaler = SeriesScaler(features.scaler).fit(raw[train_rows], y_raw[splits == "train"])
    x = windows(scaler.transform_inputs(raw).astype("float32"), w)
    y = scaler.transform_targets(y_raw).astype("float32")
    return Dataset(
        ticker=ticker,
        frame=prices,
        series=series,
        dates=dates,
        prices=p,
        features=list(series.inputs),
        x=x,
        y=y,
        origins=origins,
        split=splits,
        scaler=scaler,
        transform=features.target_transform,
        horizon=h,
        window=w,
        train_scale=naive_scale(p[train_rows]),
    )

"""Checks and dates of a generic series (``kind: series``): any sign, its own frequency.

A series is validated as prices are (dates sorted and unique, cells numeric, gaps dropped
or filled) but may be zero or negative, and a target transform that needs positive values
is refused with the config field named. Its forecast dates follow its own frequency,
inferred from the dates or configured; the exchange calendar is for prices only. A series
of integer steps (``frequency: steps``) is indexed by its steps: their interval is read
from the data, and its forecasts are the next steps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from pricecast.configs.schema import DataConfig, FeaturesConfig
from pricecast.configs.series import STEPS
from pricecast.tasks.validate import (
    PriceDataError,
    Validated,
    at,
    numeric_cells,
    stamp,
    validate_prices,
)

VALUE = "value"
"""The column a validated series is held in (``data.target`` of ``kind: series``)."""


def validate_series(frame: pd.DataFrame, name: str, null_rows: str = "drop") -> Validated:
    """Validate and clean one series read from a CSV (one column, named as in the CSV).

    Fixed (and reported): unsorted dates (sorted), repeated identical rows (one kept),
    missing values (rows dropped or forward-filled per ``null_rows``). Rejected: no
    rows, cells that are not numbers, infinite values, duplicate dates with different
    values. Zero and negative values are valid.

    Args:
        frame: One-column frame indexed by date.
        name: The series name, for messages.
        null_rows: ``drop`` or ``ffill`` for missing values.

    Returns:
        The frame with its one column renamed ``value`` (float64), and notes.

    Raises:
        PriceDataError: Naming the series, the date and the CSV column.
    """
    if frame is None or len(frame) == 0:
        raise PriceDataError(f"{name}: no rows")
    if frame.shape[1] != 1:
        raise PriceDataError(f"{name}: expected one value column, got {list(frame.columns)}")
    column = str(frame.columns[0])
    row = "date" if isinstance(frame.index, pd.DatetimeIndex) else "step"
    notes: list[str] = []
    df = numeric_cells(frame, name)
    if not df.index.is_monotonic_increasing:
        df = df.sort_index(kind="stable")
        notes.append(f"{name}: {row}s were not in order; sorted")
    dup = df.index.duplicated(keep=False)
    if dup.any():
        groups = df[dup].groupby(level=0)[column]
        conflicting = [d for d, g in groups if g.nunique(dropna=False) > 1]
        if conflicting:
            raise PriceDataError(
                f"{name}: duplicate {row} {stamp(conflicting[0])} with different values in "
                f"column {column}"
                + (f" (and {len(conflicting) - 1} more)" if len(conflicting) > 1 else "")
            )
        n = int(df.index.duplicated().sum())
        df = df[~df.index.duplicated()]
        notes.append(f"{name}: dropped {n} repeated row(s) with duplicate {row}s")
    empty = df[column].isna()
    if empty.any():
        days = ", ".join(at(d) for d in df.index[empty][:3])
        more = "…" if empty.sum() > 3 else ""
        if null_rows == "ffill":
            if empty.iloc[0]:
                raise PriceDataError(
                    f"{name}: first row {at(df.index[0])} has no value in column "
                    f"{column}; cannot fill"
                )
            df = df.ffill()
            notes.append(f"{name}: filled {int(empty.sum())} empty value(s) ({days}{more})")
        else:
            df = df[~empty]
            notes.append(f"{name}: dropped {int(empty.sum())} empty value(s) ({days}{more})")
    if df.empty:
        raise PriceDataError(f"{name}: no rows left after cleaning")
    return Validated(df.rename(columns={column: VALUE}), notes)


def series_frequency(dates: pd.Index, name: str, configured: str = "infer") -> str:
    """The series' frequency as a pandas offset alias, checked against every date.

    Args:
        dates: Sorted, unique dates (integer steps for ``steps``).
        name: The series name, for messages.
        configured: ``infer``, an offset alias or ``steps`` (``data.series.frequency``).

    Returns:
        The alias; for integer steps ``steps:<interval>`` (``steps:5`` for 0, 5, 10, …).

    Raises:
        PriceDataError: If no regular frequency can be inferred, or a date breaks it
            (naming the first date that is off the grid or missing).
    """
    if configured == STEPS:
        return f"{STEPS}:{step_interval(dates, name)}"
    dates = pd.DatetimeIndex(dates)
    if configured == "infer":
        freq = pd.infer_freq(dates) if len(dates) >= 3 else None
        if freq is not None:
            return freq
        # Name the first date that breaks the step of the first few dates.
        head = pd.infer_freq(dates[:5]) if len(dates) >= 5 else None
        i = _off_grid(dates, head) if head else None
        where = (
            f"{dates[i - 1]:%Y-%m-%d} → {dates[i]:%Y-%m-%d} breaks the {head} step of the "
            f"first dates"
            if i
            else f"{dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d} has no regular step"
        )
        raise PriceDataError(
            f"{name}: cannot infer a regular frequency from the dates ({where}); fill the "
            f"gap or set data.series.frequency"
        )
    i = _off_grid(dates, configured)
    if i is not None:
        expected = pd.date_range(dates[0], periods=i + 1, freq=configured)[-1]
        raise PriceDataError(
            f"{name}: date {dates[i]:%Y-%m-%d} is off the {configured} grid of "
            f"data.series.frequency (expected {expected:%Y-%m-%d})"
        )
    return configured


def step_interval(steps: pd.Index, name: str) -> int:
    """The interval of a series of integer steps, the same between every two rows.

    Raises:
        PriceDataError: Naming the first pair of steps whose interval differs from the
            first one (a gap, or a row off the grid), or a series of fewer than 2 rows.
    """
    values = steps.to_numpy()
    if len(values) < 2:
        raise PriceDataError(f"{name}: {len(values)} row(s); integer steps need at least 2")
    gaps = np.diff(values)
    step = int(gaps[0])
    off = np.flatnonzero(gaps != step)
    if len(off):
        i = int(off[0]) + 1
        raise PriceDataError(
            f"{name}: step {values[i - 1]} → {values[i]} breaks the interval {step} of the "
            f"first steps (expected {values[i - 1] + step}); fill the gap so that every "
            f"row is {step} step(s) after the one before"
        )
    return step


def step_of(frequency: str | None) -> int | None:
    """The interval of an integer-step frequency (``steps:5`` → 5); ``None`` for dates."""
    if frequency and frequency.startswith(f"{STEPS}:"):
        return int(frequency.split(":", 1)[1])
    return None


def _off_grid(dates: pd.DatetimeIndex, freq: str) -> int | None:
    """Position of the first date that is not on the ``freq`` grid from the first date."""
    grid = pd.date_range(dates[0], periods=len(dates), freq=freq)
    off = np.flatnonzero(grid != dates)
    return int(off[0]) if len(off) else None


def next_dates(last: Any, count: int, frequency: str) -> pd.Index:
    """The ``count`` dates after ``last`` at ``frequency`` (e.g. month ends for ``ME``).

    For integer steps (``steps:<interval>``) they are ``last + k * interval``.
    """
    interval = step_of(frequency)
    if interval is not None:
        return pd.Index([int(last) + interval * k for k in range(1, count + 1)], dtype="int64")
    step = to_offset(frequency)
    return pd.DatetimeIndex([pd.Timestamp(last) + step * k for k in range(1, count + 1)])


def check_transform(values: pd.Series, name: str, transform: str, inputs: list[str]) -> None:
    """Refuse a log transform on a series that is not positive throughout.

    Raises:
        PriceDataError: Naming ``features.target_transform`` (or ``features.inputs``), the
            first non-positive date and value, and what to use instead.
    """
    logs = [f for f, used in (("target_transform", transform == "log_return"),
                              ("inputs", "log_return" in inputs)) if used]  # fmt: skip
    nonpos = values.to_numpy() <= 0
    if logs and nonpos.any():
        i = int(np.flatnonzero(nonpos)[0])
        more = int(nonpos.sum()) - 1
        raise PriceDataError(
            f"{name}: features.{logs[0]} 'log_return' needs positive values, but the series "
            f"is {float(values.iloc[i])!r} on {at(values.index[i])} (and {more} more); "
            f"use target_transform 'level' or 'diff'"
        )


def validate_by_kind(
    frame: pd.DataFrame,
    name: str,
    data: DataConfig,
    features: FeaturesConfig,
    today: dt.date | None = None,
) -> tuple[Validated, str | None, str]:
    """Validate prices or a generic series as its ``data.kind`` asks.

    ``today`` is passed to the price checks (no price may be dated after it).

    Returns:
        ``(validated, frequency, axis label)``: the frequency is ``None`` for prices (they
        follow the exchange calendar); the label is the price column and currency, or the
        series' name and unit (:func:`axis_label`).

    Raises:
        PriceDataError: Naming the series or ticker, the date, the column or the field.
    """
    if data.kind == "prices" or data.series is None:
        checked = validate_prices(frame, name, data.null_rows, target=data.target, today=today)
        return checked, None, axis_label(data, name)
    checked = validate_series(frame, name, data.null_rows)
    check_transform(
        checked.frame[VALUE], name, features.target_transform, list(features.inputs or [])
    )
    freq = series_frequency(checked.frame.index, name, data.series.frequency)
    return checked, freq, axis_label(data, name)


PRICE_WORDS = {"adj_close": "adj. close"}
"""Price columns named in plain words on axes (the others read as they are)."""
PRICE_CURRENCY = "USD"
"""Currency of price axes: the prices Yahoo serves for the exchanges forecast here."""


def axis_label(data: DataConfig, name: str) -> str:
    """Label of the value axis: the price column and currency, or a series' name and unit.

    For prices, e.g. ``adj. close, USD``; for a series, e.g. ``TEMP (°C)``.
    """
    if data.kind == "prices" or data.series is None:
        return f"{PRICE_WORDS.get(data.target, data.target)}, {PRICE_CURRENCY}"
    unit = data.series.unit
    return f"{name} ({unit})" if unit else name


def steps_behind(last: Any, now: pd.Timestamp, frequency: str) -> int:
    """How many ``frequency`` steps lie after ``last`` up to ``now`` (0: the data are current).

    Integer steps have no clock to fall behind: always 0.
    """
    if step_of(frequency) is not None:
        return 0
    today = pd.Timestamp(now).tz_localize(None) if pd.Timestamp(now).tzinfo else pd.Timestamp(now)
    if pd.Timestamp(last) >= today:
        return 0
    return max(0, len(pd.date_range(last, today, freq=frequency)) - 1)

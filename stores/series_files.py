"""Generic series on disk: one column of a ``date,value`` CSV as a one-column frame.

A series CSV holds a date column and one or more numeric columns, one per series. A
series is read into a frame with a tz-naive ``DatetimeIndex`` named ``date`` (an integer
index, for ``frequency: steps``) and a single column ``value``; its cells are left as
read (text included) so that validation can name the date and the column of a cell that
is not a number.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast.configs.series import SeriesConfig
from pricecast.stores.price_format import NoPriceDataError, PriceSourceError, SourceUnavailableError
from pricecast.stores.prices import LoadedPrices


def _column(raw: pd.DataFrame, name: str, spec: SeriesConfig, where: str) -> str:
    """The CSV column of series ``name``: configured, else the one named like it."""
    wanted = spec.column_for(name)
    if wanted is not None:
        if wanted not in raw.columns:
            raise PriceSourceError(
                f"{name}: {where} has no column {wanted!r} (data.series.columns; it has "
                f"{', '.join(map(str, raw.columns))})"
            )
        return wanted
    matches = [c for c in raw.columns if str(c).strip().lower() == name.lower()]
    if not matches:
        values = [str(c) for c in raw.columns if c != spec.date_column]
        raise PriceSourceError(
            f"{name}: {where} has no column named {name!r}; map the series to one of "
            f"{', '.join(values)} in data.series.columns"
        )
    return str(matches[0])


def read_series_csv(path: str | Path, name: str, spec: SeriesConfig) -> pd.DataFrame:
    """Read series ``name`` from a CSV of dates and value columns.

    Args:
        path: The CSV file.
        name: The series name (a ``data.tickers`` entry).
        spec: Date column and format, and the series' column.

    Returns:
        A one-column frame (the CSV column's name) indexed by date, or by integer step
        for ``frequency: steps``.

    Raises:
        SourceUnavailableError: If the file does not exist.
        PriceSourceError: Naming the file, the column and the line of a bad date.
    """
    where = f"CSV {getattr(path, 'name', str(path))}"
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise SourceUnavailableError(f"{name}: CSV file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PriceSourceError(f"{name}: cannot parse {where}: {err}") from None
    if spec.date_column not in raw.columns:
        raise PriceSourceError(
            f"{name}: {where} has no date column {spec.date_column!r} (data.series.date_column; "
            f"it has {', '.join(map(str, raw.columns))})"
        )
    column = _column(raw, name, spec, where)
    text = raw[spec.date_column].str.strip()
    index = _steps(text, name, where, spec) if spec.steps else _dates(text, name, where, spec)
    cells = raw[column].str.strip().replace({"": None, "null": None, "NaN": None, "nan": None})
    frame = pd.DataFrame({column: cells.to_numpy(dtype=object)}, index=index)
    frame.index.name = "date"
    return frame


def _dates(text: pd.Series, name: str, where: str, spec: SeriesConfig) -> pd.Index:
    fmt = spec.date_format or "%Y-%m-%d"
    dates = pd.to_datetime(text, format=fmt, errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        hint = (
            "; for integer steps set data.series.frequency: steps"
            if spec.date_format is None and text.str.fullmatch(r"[+-]?\d+").all()
            else ""
        )
        raise PriceSourceError(
            f"{name}: {where} column {spec.date_column}: {text.iloc[row]!r} on line {row + 2} "
            f"is not a date of format {fmt} (data.series.date_format){hint}"
        )
    return pd.DatetimeIndex(dates)


def _steps(text: pd.Series, name: str, where: str, spec: SeriesConfig) -> pd.Index:
    """The step column as integers; a cell that is not a whole number names its line."""
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna().to_numpy() | (numbers.to_numpy() % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise PriceSourceError(
            f"{name}: {where} column {spec.date_column}: {text.iloc[row]!r} on line {row + 2} "
            f"is not an integer step (data.series.frequency: steps)"
        )
    return pd.Index(numbers.to_numpy().astype("int64"))


def load_series(
    name: str,
    spec: SeriesConfig,
    source: str,
    csv_path: Path | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> LoadedPrices:
    """Load one series from a CSV file or the bundled sample, clipped to ``start..end``.

    Returns:
        The series as a :class:`LoadedPrices` whose frame has its one CSV column.

    Raises:
        NoPriceDataError: If no rows fall in the span.
        SourceUnavailableError: If the file is missing.
        PriceSourceError: If the file is malformed.
    """
    if source == "sample":
        res = resources.files("pricecast.sample") / str(spec.sample)
        if not res.is_file():
            raise SourceUnavailableError(f"{name}: no file {spec.sample!r} in the bundled sample")
        with resources.as_file(res) as path:
            frame = read_series_csv(path, name, spec)
    elif csv_path is not None:
        frame = read_series_csv(csv_path, name, spec)
    else:
        raise SourceUnavailableError(f"{name}: kind 'series' needs source csv or sample")
    keep = np.ones(len(frame), dtype=bool)
    if start:
        keep &= frame.index >= pd.Timestamp(start)
    if end:
        keep &= frame.index <= pd.Timestamp(end)
    frame = frame[keep]
    if frame.empty:
        raise NoPriceDataError(f"no data for series {name} (source {source}) in {start}..{end}")
    return LoadedPrices(name, frame, source, [])

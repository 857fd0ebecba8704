"""The ``data.series`` section: a generic CSV of dates and numeric columns (``kind: series``).

Prices are one kind of series with extra rules (positive, OHLCV columns, an exchange
calendar). A generic series is any numeric column of a ``date,value`` CSV: it may cross
zero, it has its own regular frequency (or integer steps instead of dates) and its own
unit, and it is forecast as a level or as first differences unless it is positive
throughout.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from pricecast.configs.base import Strict

SERIES_INPUTS: frozenset[str] = frozenset({"value", "diff", "log_return"})
"""Inputs a generic series can provide (it has no OHLCV columns)."""

STEPS = "steps"
"""``data.series.frequency`` of a series indexed by integer steps (0, 1, 2, … or 0, 5, 10, …)."""

_COLUMN = re.compile(r"^[^\x00-\x1f]{1,100}$")


class SeriesConfig(Strict):
    """Where a generic series is read from and how its dates and values are read."""

    sample: Annotated[
        str | None,
        Field(
            title="Sample file",
            description="CSV in the bundled sample folder, for source 'sample' (co2_weekly.csv)",
            pattern=r"^[A-Za-z0-9_\-]+\.csv$",
        ),
    ] = None
    date_column: Annotated[
        str,
        Field(
            title="Date column",
            description="Name of the CSV column holding the dates (the integer steps, "
            "for frequency 'steps')",
        ),
    ] = "date"
    date_format: Annotated[
        str | None,
        Field(
            title="Date format",
            description="strftime format of the dates, e.g. %Y%m%d (default: ISO YYYY-MM-DD)",
        ),
    ] = None
    columns: Annotated[
        dict[str, str],
        Field(
            title="Value columns",
            description="Series name (a data.tickers entry) to CSV column; unlisted series "
            "read the column named like them, ignoring case",
        ),
    ] = {}
    unit: Annotated[
        str | None,
        Field(title="Unit", description="Unit of the values (axis labels)", max_length=40),
    ] = None
    frequency: Annotated[
        str,
        Field(
            title="Frequency",
            description="'infer' from the dates, a pandas offset alias: D (daily), "
            "B (business daily), W-SUN (weekly), MS or ME (monthly); or 'steps' when the "
            "date column holds integer steps (0, 1, 2, … or any regular step such as 5)",
        ),
    ] = "infer"
    season_length: Annotated[
        int | None,
        Field(
            ge=2,
            le=1000,
            title="Season length",
            description="Rows per season (12 for monthly data with a yearly cycle); adds "
            "the seasonal-naive baseline",
        ),
    ] = None

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        if value in ("infer", STEPS):
            return value
        from pandas.tseries.frequencies import to_offset

        try:
            to_offset(value)
        except ValueError:
            raise ValueError(
                f"not a pandas frequency: {value!r} (use 'infer', D, B, W-SUN, MS, ME or "
                f"'steps' for integer steps)"
            ) from None
        return value

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [c for c in value.values() if not _COLUMN.match(c)]
        if bad:
            raise ValueError(f"not a column name: {', '.join(map(repr, bad))}")
        return {k.strip().upper(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _steps_have_no_format(self) -> SeriesConfig:
        if self.frequency == STEPS and self.date_format is not None:
            raise ValueError(
                "data.series.date_format is for dates; with frequency 'steps' the column "
                f"{self.date_column!r} holds integers: remove date_format"
            )
        return self

    @property
    def steps(self) -> bool:
        """Whether the series is indexed by integer steps rather than dates."""
        return self.frequency == STEPS

    def column_for(self, name: str) -> str | None:
        """The CSV column configured for series ``name`` (``None``: match by name)."""
        return self.columns.get(name)


def check_data_kind(data: Any) -> None:
    """Reject a data section (a ``DataConfig``) whose kind, source and target do not fit.

    Raises:
        ValueError: Naming the field to change.
    """
    if data.kind == "prices":
        if data.series is not None:
            raise ValueError("data.series is for kind 'series'; set kind: series or remove it")
        if data.target == "value":
            raise ValueError("target 'value' is for kind 'series'; prices use a price column")
        return
    if data.series is None:
        raise ValueError("kind 'series' needs a data.series section (date_column, columns, ...)")
    if data.source not in ("csv", "sample"):
        raise ValueError(
            f"kind 'series' reads a CSV: source must be 'csv' or 'sample', got {data.source!r}"
        )
    if data.series.steps and (data.start or data.end):
        raise ValueError(
            "data.start and data.end are dates; a series of integer steps (data.series."
            "frequency: steps) is read whole: remove them"
        )
    if data.source == "sample" and not data.series.sample:
        raise ValueError("source 'sample' with kind 'series' needs data.series.sample")
    if data.target != "value":
        raise ValueError(
            f"kind 'series' forecasts its values: target must be 'value' ({data.target!r})"
        )
    unknown = sorted(set(data.series.columns) - set(data.tickers))
    if unknown:
        raise ValueError(f"data.series.columns names series not in tickers: {', '.join(unknown)}")


def series_defaults(data: Any) -> Any:
    """Before validation: a ``kind: series`` config defaults to target ``value`` and ``level``.

    The price defaults (``adj_close``, ``log_return``) cannot run on a series that may
    cross zero, so they are replaced only where the config leaves them unset.
    """
    if not isinstance(data, dict):
        return data
    section = data.get("data")
    if not isinstance(section, dict) or section.get("kind") != "series":
        return data
    out = {**data, "data": {"target": "value", **section}}
    features = out.get("features")
    if features is None:
        out["features"] = {"target_transform": "level"}
    elif isinstance(features, dict) and "target_transform" not in features:
        out["features"] = {**features, "target_transform": "level"}
    return out


def check_series_features(config: Any) -> None:
    """Reject what a generic series does not have in a ``RunConfig``.

    A series has no OHLCV columns and no volume, and one of integer steps has no dates
    to split at.

    Raises:
        ValueError: Naming ``features.inputs`` or ``split.test_start``.
    """
    inputs = set(config.features.inputs or [])
    series = config.data.series
    if config.data.kind == "series" and series is not None and series.steps:
        if config.split.test_start is not None:
            raise ValueError(
                "split.test_start is a date; a series of integer steps (data.series."
                "frequency: steps) is split by split.test_fraction: remove test_start"
            )
    if config.data.kind == "series":
        bad = sorted(inputs - SERIES_INPUTS)
        if bad:
            raise ValueError(
                f"features.inputs {bad} are price columns; a series offers "
                f"{', '.join(sorted(SERIES_INPUTS))}"
            )
    elif "value" in inputs:
        raise ValueError("features.inputs 'value' is for kind 'series'; prices name a column")

"""The ``data`` section: which tickers, which dates, and where their prices come from."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pricecast.configs.base import Strict, repeated
from pricecast.configs.choices import Source, TargetColumn
from pricecast.configs.series import SeriesConfig, check_data_kind

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
"""Columns of a normalised price frame, in order."""

DERIVED_INPUTS: tuple[str, ...] = ("log_return", "log_volume")
"""Inputs computed from the price columns (see ``tasks.features``)."""

_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,14}$")


class DataConfig(Strict):
    """Which tickers, which dates, and where their prices come from."""

    tickers: Annotated[
        list[str],
        Field(
            min_length=1,
            json_schema_extra={"uniqueItems": True},
            title="Tickers",
            description="Symbols to forecast, each once (upper case, e.g. AAPL)",
        ),
    ]
    start: Annotated[
        dt.date | None,
        Field(title="Start date", description="First date loaded (empty: all history)"),
    ] = None
    end: Annotated[
        dt.date | None,
        Field(title="End date", description="Last date loaded (empty: up to today)"),
    ] = None
    source: Annotated[
        Source,
        Field(
            title="Source",
            description="auto: Yahoo, then the local cache, then the bundled sample; "
            "the others force one source",
        ),
    ] = "auto"
    csv_path: Annotated[
        str | None,
        Field(
            title="CSV path",
            description="For source csv: a Yahoo-export CSV, or a pattern with {ticker}; "
            "relative to FORECAST_HOME",
        ),
    ] = None
    target: Annotated[
        TargetColumn,
        Field(title="Target column", description="Price column forecast (value for a series)"),
    ] = "adj_close"
    null_rows: Annotated[
        Literal["drop", "ffill"],
        Field(title="All-null rows", description="Drop rows whose prices are all missing, "
              "or forward-fill them"),
    ] = "drop"  # fmt: skip
    retries: Annotated[
        int,
        Field(ge=0, le=10, title="Retries", description="Retries of the Yahoo download"),
    ] = 2
    retry_delay_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=600,
            title="Retry delay (s)",
            description="First backoff delay; doubles on each retry",
        ),
    ] = 1.0
    rate_limit_pause_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=3600,
            title="Rate-limit pause (s)",
            description="Extra pause before retrying after Yahoo's rate-limit answer",
        ),
    ] = 30.0
    kind: Annotated[
        Literal["prices", "series"],
        Field(title="Data kind", description="prices: Yahoo-style OHLCV; series: a date,value CSV"),
    ] = "prices"
    series: Annotated[
        SeriesConfig | None,
        Field(title="Series", description="Columns, dates and frequency of a kind 'series' CSV"),
    ] = None

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, value: list[str]) -> list[str]:
        out = [t.strip().upper() for t in value]
        bad = [t for t in out if not _TICKER.match(t)]
        if bad:
            raise ValueError(f"not a ticker symbol: {', '.join(map(repr, bad))}")
        if dupes := repeated(out):
            raise ValueError(f"tickers must be unique; repeated: {', '.join(dupes)}")
        return out

    @model_validator(mode="after")
    def _span(self) -> DataConfig:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        if self.source == "csv" and not self.csv_path:
            raise ValueError("source 'csv' needs csv_path")
        check_data_kind(self)
        return self

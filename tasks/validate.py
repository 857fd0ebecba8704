"""Checks on a normalised price frame: fix what is safe, reject the rest with a clear reason."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pricecast.configs.schema import PRICE_COLUMNS

PRICE_ONLY = ("open", "high", "low", "close", "adj_close")


class PriceDataError(ValueError):
    """Prices are unusable; the message names the ticker and, where it applies, date and column."""


@dataclass(frozen=True)
class Validated:
    """A cleaned price frame and what was changed to get it.

    Attributes:
        frame: Sorted, unique dates; numeric, positive prices; no missing values.
        notes: One line per fix (rows dropped or filled, order restored).
    """

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _where(frame: pd.DataFrame, mask: pd.DataFrame) -> str:
    """Describe the first offending cell of ``mask`` as ``date, column (value)``."""
    rows, cols = np.nonzero(mask.to_numpy())
    r, c = rows[0], cols[0]
    date = frame.index[r]
    col = mask.columns[c]
    more = f" and {len(rows) - 1} more cell(s)" if len(rows) > 1 else ""
    value = frame.iloc[r][col]
    if isinstance(value, np.generic):
        value = value.item()  # 0.0, not np.float64(0.0)
    return f"{date:%Y-%m-%d} column {col} ({value!r}){more}"


def validate_prices(frame: pd.DataFrame, ticker: str, null_rows: str = "drop") -> Validated:
    """Validate and clean one ticker's prices.

    Fixed (and reported in ``notes``): unsorted dates (sorted), duplicate dates with
    identical rows (one kept), rows whose prices are all missing (dropped or
    forward-filled per ``null_rows``), a missing volume (set to 0).
    Rejected: no rows, non-numeric cells, duplicate dates with different values, rows
    with some prices missing, zero or negative prices.

    Args:
        frame: Normalised price frame (see ``tasks.sources``).
        ticker: The symbol, for messages.
        null_rows: ``drop`` or ``ffill`` for rows whose prices are all missing.

    Returns:
        The cleaned frame and notes.

    Raises:
        PriceDataError: Naming the ticker, the date and the column.
    """
    notes: list[str] = []
    if frame is None or len(frame) == 0:
        raise PriceDataError(f"{ticker}: no price rows")
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise PriceDataError(f"{ticker}: missing column(s) {', '.join(missing)}")
    df = frame[list(PRICE_COLUMNS)].copy()

    numeric = df.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & df.notna()
    if bad.to_numpy().any():
        raise PriceDataError(f"{ticker}: non-numeric value on {_where(df, bad)}")
    df = numeric.astype("float64")

    if not df.index.is_monotonic_increasing:
        df = df.sort_index(kind="stable")
        notes.append(f"{ticker}: dates were not in order; sorted")
    dup = df.index.duplicated(keep=False)
    if dup.any():
        groups = df[dup].groupby(level=0)
        conflicting = [d for d, g in groups if len(g.drop_duplicates()) > 1]
        if conflicting:
            first = df.loc[[conflicting[0]]]
            differ = [c for c in first.columns if len(first[c].drop_duplicates()) > 1]
            raise PriceDataError(
                f"{ticker}: duplicate date {conflicting[0]:%Y-%m-%d} with different values "
                f"in column(s) {', '.join(differ)}"
                + (f" (and {len(conflicting) - 1} more)" if len(conflicting) > 1 else "")
            )
        n = int(df.index.duplicated().sum())
        df = df[~df.index.duplicated()]
        notes.append(f"{ticker}: dropped {n} repeated row(s) with duplicate dates")

    prices = df[list(PRICE_ONLY)]
    all_null = prices.isna().all(axis=1)
    if all_null.any():
        days = ", ".join(f"{d:%Y-%m-%d}" for d in df.index[all_null][:3])
        more = "…" if all_null.sum() > 3 else ""
        if null_rows == "ffill":
            if all_null.iloc[0]:
                raise PriceDataError(
                    f"{ticker}: first row {df.index[0]:%Y-%m-%d} has no prices; cannot fill"
                )
            df.loc[all_null, list(PRICE_ONLY)] = np.nan
            df[list(PRICE_ONLY)] = df[list(PRICE_ONLY)].ffill()
            df.loc[all_null, "volume"] = 0.0
            notes.append(f"{ticker}: filled {int(all_null.sum())} empty row(s) ({days}{more})")
        else:
            df = df[~all_null]
            notes.append(f"{ticker}: dropped {int(all_null.sum())} empty row(s) ({days}{more})")
    partial = df[list(PRICE_ONLY)].isna()
    if partial.to_numpy().any():
        raise PriceDataError(f"{ticker}: missing price on {_where(df, partial)}")
    if df["volume"].isna().any():
        n = int(df["volume"].isna().sum())
        df["volume"] = df["volume"].fillna(0.0)
        notes.append(f"{ticker}: {n} missing volume(s) set to 0")

    nonpos = df[list(PRICE_ONLY)] <= 0
    if nonpos.to_numpy().any():
        raise PriceDataError(f"{ticker}: price must be positive, got {_where(df, nonpos)}")
    if (df["volume"] < 0).any():
        raise PriceDataError(f"{ticker}: negative volume on {_where(df, (df[['volume']] < 0))}")
    if df.empty:
        raise PriceDataError(f"{ticker}: no price rows left after cleaning")
    return Validated(df, notes)

"""Checks on a normalised price frame: fix what is safe, reject the rest with a clear reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pricecast.configs.schema import PRICE_COLUMNS

PRICE_ONLY = ("open", "high", "low", "close", "adj_close")

MAX_GAP_DAYS = 31
"""Longest calendar gap between two rows that is accepted: market closures last days
(the longest since 1933 was 6 sessions in 2001), so a month without rows means missing
data, and lags and returns would silently span it."""

MAX_DAY_RATIO = 50.0
"""Largest accepted ratio between two consecutive prices of one column. Real moves and
splits of adjusted Yahoo prices stay far below; a 1000x step is a unit or data error."""


def stamp(when: object) -> str:
    """A row's label in messages and files: its date as YYYY-MM-DD, or its integer step."""
    if isinstance(when, int | np.integer):
        return str(int(when))
    return format(when, "%Y-%m-%d")


def at(when: object) -> str:
    """A row named in a message: ``2020-01-31``, or ``step 35`` for an integer step."""
    text = stamp(when)
    return f"step {text}" if isinstance(when, int | np.integer) else text


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


def numeric_cells(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """``frame`` as float64, refusing text and infinite cells (empty cells stay NaN).

    Shared by prices and generic series, so both name the first bad cell the same way.

    Raises:
        PriceDataError: Naming ``name``, the date, the column and the value.
    """
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & frame.notna()
    if bad.to_numpy().any():
        raise PriceDataError(f"{name}: non-numeric value on {_where(frame, bad)}")
    df = numeric.astype("float64")
    infinite = pd.DataFrame(np.isinf(df.to_numpy()), index=df.index, columns=df.columns)
    if infinite.to_numpy().any():
        raise PriceDataError(f"{name}: infinite value on {_where(df, infinite)}")
    return df


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
    return f"{at(date)} column {col} ({value!r}){more}"


def validate_prices(
    frame: pd.DataFrame,
    ticker: str,
    null_rows: str = "drop",
    *,
    target: str = "adj_close",
    today: dt.date | None = None,
) -> Validated:
    """Validate and clean one ticker's prices.

    Fixed (and reported in ``notes``): unsorted dates (sorted), duplicate dates with
    identical rows (one kept), rows whose prices are all missing (dropped or
    forward-filled per ``null_rows``), a missing volume (set to 0), an empty
    ``adj_close`` column (a source without ``Adj Close``: ``close`` is used).
    Rejected: no rows, non-numeric or infinite cells, duplicate dates with different
    values, rows with some prices missing, zero or negative prices, dates after
    ``today``, gaps longer than :data:`MAX_GAP_DAYS`, high below low, a step between
    two prices larger than :data:`MAX_DAY_RATIO`, a constant ``target``.

    Args:
        frame: Normalised price frame (see ``stores.price_format``).
        ticker: The symbol, for messages.
        null_rows: ``drop`` or ``ffill`` for rows whose prices are all missing.
        target: The column that is forecast (a constant one leaves nothing to learn).
        today: Rows dated after it are rejected; ``None`` skips that check (the caller
            passes the date, so this stays pure and testable).

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

    df = numeric_cells(df, ticker)
    if df["adj_close"].isna().all() and df["close"].notna().any():
        df["adj_close"] = df["close"]
        notes.append(
            f"{ticker}: column adj_close is empty (the source has no Adj Close); using "
            f"column close from {df.index.min():%Y-%m-%d} to {df.index.max():%Y-%m-%d} "
            f"(not adjusted for dividends)"
        )

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
    _check_doubtful(df, ticker, target, today)
    return Validated(df, notes)


def _check_doubtful(df: pd.DataFrame, ticker: str, target: str, today: dt.date | None) -> None:
    """Reject prices that are numeric and positive but cannot be true or cannot be learnt.

    Raises:
        PriceDataError: Naming the ticker, the date and the column.
    """
    if today is not None and df.index[-1].date() > today:
        future = df.index[df.index.date > today]
        more = f" and {len(future) - 1} later row(s)" if len(future) > 1 else ""
        raise PriceDataError(
            f"{ticker}: row dated {future[0]:%Y-%m-%d}{more} is after today ({today}); "
            f"prices from the future cannot be real"
        )
    gaps = df.index.to_series().diff().dt.days
    if (gaps > MAX_GAP_DAYS).any():
        at = int(np.argmax(gaps.to_numpy() > MAX_GAP_DAYS))
        before, after = df.index[at - 1], df.index[at]
        raise PriceDataError(
            f"{ticker}: no rows for {int(gaps.iloc[at])} days between {before:%Y-%m-%d} and "
            f"{after:%Y-%m-%d} (more than {MAX_GAP_DAYS}); fill the gap or set data.start to "
            f"{after:%Y-%m-%d} or later"
        )
    inverted = (df["high"] < df["low"]).to_numpy()
    if inverted.any():
        r = int(np.flatnonzero(inverted)[0])
        raise PriceDataError(
            f"{ticker}: column high ({float(df['high'].iloc[r])!r}) is below column low "
            f"({float(df['low'].iloc[r])!r}) on {df.index[r]:%Y-%m-%d}"
        )
    prices = df[list(PRICE_ONLY)]
    ratio = prices / prices.shift(1)
    jump = (ratio > MAX_DAY_RATIO) | (ratio < 1 / MAX_DAY_RATIO)
    if jump.to_numpy().any():
        rows, cols = np.nonzero(jump.to_numpy())
        r, col = rows[0], prices.columns[cols[0]]
        raise PriceDataError(
            f"{ticker}: column {col} jumps {ratio[col].iloc[r]:.4g}x from "
            f"{float(prices[col].iloc[r - 1])!r} on {df.index[r - 1]:%Y-%m-%d} to "
            f"{float(prices[col].iloc[r])!r} on {df.index[r]:%Y-%m-%d} (more than "
            f"{MAX_DAY_RATIO:g}x in one row: a unit or data error)"
        )
    if df[target].nunique() == 1:
        raise PriceDataError(
            f"{ticker}: column {target} is constant ({float(df[target].iloc[0])!r} on all "
            f"{len(df)} rows, {df.index[0]:%Y-%m-%d}..{df.index[-1]:%Y-%m-%d}); "
            f"there is nothing to forecast"
        )

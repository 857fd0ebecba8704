"""Seeded synthetic price series: geometric Brownian motion whose drift and volatility change.

A watchlist benchmark needs many tickers that behave like prices (positive, trending,
calm and turbulent spells) without a network: each series is a GBM on business days
whose drift and volatility are redrawn at random regime changes. The same seed gives
the same series, so a benchmark's figures can be compared across runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

YAHOO_COLUMNS: tuple[str, ...] = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
"""Columns of a Yahoo "Historical Data" export, the layout the CSV source reads."""


@dataclass(frozen=True)
class Regime:
    """A spell of constant daily drift and volatility, starting at row ``start``."""

    start: int
    drift: float
    volatility: float


@dataclass(frozen=True)
class SyntheticSeries:
    """One synthetic ticker: its Yahoo-export rows and the regimes that drew them."""

    frame: pd.DataFrame
    regimes: list[Regime]


def regimes(n: int, rng: np.random.Generator, mean_length: float = 120.0) -> list[Regime]:
    """Random regimes covering ``n`` rows: lengths geometric, drift and volatility redrawn.

    Daily drift is normal around 3e-4 (about 8 % a year) with a spread of 1e-3;
    daily volatility is log-normal around 1.5 % (about 24 % a year), kept in
    ``[0.4 %, 6 %]``.
    """
    out, start = [], 0
    while start < n:
        drift = float(rng.normal(3e-4, 1e-3))
        vol = float(np.clip(rng.lognormal(np.log(0.015), 0.5), 0.004, 0.06))
        out.append(Regime(start, drift, vol))
        start += int(rng.geometric(1.0 / mean_length))
    return out


def gbm_prices(
    ticker: str, start: str, end: str, seed: int, mean_regime: float = 120.0
) -> SyntheticSeries:
    """A GBM price series on the business days ``start..end`` with regime changes.

    Args:
        ticker: Name only: different tickers of one seed differ through ``seed``.
        start: First business day (``YYYY-MM-DD``).
        end: Last day.
        seed: Seed of the regimes, the returns, the intraday range and the volume.
        mean_regime: Mean regime length in rows.

    Returns:
        Yahoo-export rows (:data:`YAHOO_COLUMNS`, ``Date`` as ``YYYY-MM-DD`` text) and the
        regimes.

    Raises:
        ValueError: If the span holds fewer than two business days.
    """
    dates = pd.bdate_range(start, end)
    n = len(dates)
    if n < 2:
        raise ValueError(f"{ticker}: {start}..{end} holds {n} business day(s); need two")
    rng = np.random.default_rng(seed)
    spells = regimes(n, rng, mean_regime)
    drift, vol = np.empty(n), np.empty(n)
    for i, r in enumerate(spells):
        stop = spells[i + 1].start if i + 1 < len(spells) else n
        drift[r.start : stop], vol[r.start : stop] = r.drift, r.volatility
    steps = (drift - 0.5 * vol**2) + vol * rng.standard_normal(n)
    close = float(rng.uniform(10, 300)) * np.exp(np.cumsum(steps))
    opening = close * np.exp(vol * 0.3 * rng.standard_normal(n))
    spread = np.abs(rng.normal(0, vol * 0.5, size=(2, n)))
    high = np.maximum(opening, close) * (1 + spread[0])
    low = np.minimum(opening, close) * (1 - spread[1])
    volume = np.round(rng.lognormal(14, 0.4, n) * (1 + 20 * vol)).astype("int64")
    frame = pd.DataFrame(
        {
            "Date": dates.strftime("%Y-%m-%d"),
            "Open": opening.round(4),
            "High": high.round(4),
            "Low": low.round(4),
            "Close": close.round(4),
            "Adj Close": close.round(4),
            "Volume": volume,
        },
        columns=list(YAHOO_COLUMNS),
    )
    return SyntheticSeries(frame, spells)


def synthetic_watchlist(
    n: int, start: str, end: str, seed: int = 0, prefix: str = "SYN"
) -> dict[str, SyntheticSeries]:
    """``n`` synthetic tickers ``SYN001``, ``SYN002``, …, each seeded from ``seed`` and its rank."""
    seeds = np.random.SeedSequence(seed).spawn(n)
    return {
        f"{prefix}{i + 1:03d}": gbm_prices(
            f"{prefix}{i + 1:03d}", start, end, int(s.generate_state(1)[0])
        )
        for i, s in enumerate(seeds)
    }

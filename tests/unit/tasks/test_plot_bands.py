"""Fan charts: one shaded band per level, persistence's drawn lightly, none without bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pricecast.tasks.plot_bands import live_bands, outlook_bands
from pricecast.tasks.plots import backtest_figure, live_figure, outlook_figure


def _rows(model: str, dates: pd.DatetimeIndex, bands: bool = True) -> pd.DataFrame:
    p = np.linspace(100, 110, len(dates))
    frame = pd.DataFrame(
        {"cutoff": dates, "date": dates, "h": 1, "actual": p, "predicted": p, "model": model}
    ).assign(anchor=p)
    if bands:
        frame = frame.assign(lower_80=p - 2, upper_80=p + 2, lower_95=p - 4, upper_95=p + 4)
    return frame


def _fills(ax) -> dict[str, float]:
    return {c.get_label(): c.get_alpha() or 0.0 for c in ax.collections if c.get_label()[0] != "_"}


def test_backtest_fans_of_the_learned_model_and_lightly_of_persistence():
    dates = pd.bdate_range("2024-01-01", periods=20)
    frame = pd.concat([_rows(m, dates) for m in ("gru", "persistence", "drift")])
    fills = _fills(backtest_figure("t", frame, {}, 1).axes[0])
    assert set(fills) == {f"{m} {v} %" for m in ("gru", "persistence") for v in (80, 95)}
    assert fills["persistence 80 %"] < fills["gru 80 %"]
    assert fills["gru 95 %"] < fills["gru 80 %"]
    plain = pd.concat([_rows(m, dates, bands=False) for m in ("gru", "persistence")])
    assert _fills(backtest_figure("t", plain, {}, 1).axes[0]) == {}


def test_outlook_fan_opens_from_the_last_price():
    history = pd.Series([100.0, 101.0], index=pd.bdate_range("2024-01-01", periods=2))
    forecast = _rows("x", pd.bdate_range("2024-01-03", periods=3)).drop(columns="model")
    fig = outlook_figure("t", history, forecast.set_index("date")["predicted"])
    outlook_bands(fig.axes[0], history, forecast)
    band = next(c for c in fig.axes[0].collections if c.get_label() == "interval 95 %")
    # The polygon starts at the last real price (zero width) and spans 3 days ahead.
    ys = band.get_paths()[0].vertices[:, 1]
    assert np.isclose(ys, 101.0).any()
    assert ys.min() == 96.0 and ys.max() == 114.0


def test_live_fans_of_the_served_model_and_persistence_only():
    dates = pd.bdate_range("2024-01-01", periods=10)
    rows = pd.concat([_rows(m, dates) for m in ("lstm", "persistence", "drift")])
    ledger = rows.rename(columns={"date": "target_date", "predicted": "value"})
    prices = pd.Series(np.linspace(100, 110, 10), index=dates)
    fig = live_figure("KO", prices, ledger, {})
    live_bands(fig.axes[0], ledger)
    fills = _fills(fig.axes[0])
    assert set(fills) == {f"{m} {v} %" for m in ("lstm", "persistence") for v in (80, 95)}
    assert fills["persistence 95 %"] < fills["lstm 95 %"]

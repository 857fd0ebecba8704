"""Fan charts: one shaded band per level, persistence's drawn lightly, none without bounds."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import FeaturesConfig, SplitConfig
from pricecast.stores.price_files import read_sample
from pricecast.tasks.dataset import build_dataset
from pricecast.tasks.evaluation import baseline_forecasts
from pricecast.tasks.plot_bands import evaluation_bands, live_bands, outlook_bands
from pricecast.tasks.plots import backtest_figure, live_figure, outlook_figure
from pricecast.tasks.plots import test_span_figure as span_figure
from pricecast.tasks.validate import validate_prices


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


def test_test_span_fans_start_once_enough_forecasts_matured():
    prices = validate_prices(read_sample("KO"), "KO").frame.iloc[-400:]
    split = SplitConfig(test_fraction=0.2)
    data = build_dataset(prices, "KO", FeaturesConfig(window=5), split, "adj_close")
    forecasts = baseline_forecasts(data, "test")
    forecasts = {"gru": forecasts["persistence"] * 1.001, **forecasts}
    fig = span_figure(data, forecasts, {})
    evaluation_bands(fig.axes[0], data, forecasts, IntervalsConfig(min_residuals=20))
    fills = {c.get_label(): c for c in fig.axes[0].collections if c.get_label()[0] != "_"}
    assert set(fills) == {f"{m} {v} %" for m in ("gru", "persistence") for v in (80, 95)}
    dates = mdates.date2num(data.target_dates("test"))
    first = {
        n: fills[f"{n} 80 %"].get_paths()[0].vertices[:, 0].min() for n in ("gru", "persistence")
    }
    # gru's own residuals need 20 matured test forecasts; persistence has its history.
    assert first["gru"] == dates[20] and first["persistence"] == dates[0]

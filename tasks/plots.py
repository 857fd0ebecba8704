"""Figures of forecasts against real prices.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no GUI backend,
no global state), so they are safe to draw from worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pricecast.tasks.dataset import Dataset

BASELINE_STYLE = {
    "persistence": ":",
    "drift": "-.",
    "moving_average": "--",
    "seasonal_naive": "--",
}


def _finish(
    fig: Figure,
    ax: Any,
    title: str,
    legend_size: float | None = None,
    ylabel: str = "price",
    steps: bool = False,
) -> Figure:
    """Title, value axis (``price`` or a series' name and unit), grid, x ticks, legend.

    The x axis shows dates, or integer steps (labelled ``step``) for a series of steps.
    """
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if steps:
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.legend(loc="best", fontsize=legend_size)
    fig.tight_layout()
    return fig


def _steps(index: pd.Index) -> bool:
    """Whether an x axis holds integer steps rather than dates."""
    return pd.api.types.is_integer_dtype(index.dtype)


def png_bytes(figure: Figure) -> bytes:
    """Render a figure to PNG once, so the output folder and MLflow get the same bytes.

    Drawing is the costly part of a plot; a figure saved twice is drawn twice.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def forecast_figure(
    title: str,
    context: pd.Series,
    actual: pd.Series,
    forecasts: Mapping[str, pd.Series],
    rmse: Mapping[str, float],
    ylabel: str = "price",
) -> Figure:
    """Real prices with each model's (inverse-scaled) forecast over the test span.

    Args:
        title: Figure title (ticker, target, horizon).
        context: Real prices before the test span (the tail of training), for context.
        actual: Real prices over the test span.
        forecasts: Forecast prices per model name (baselines included), indexed by date.
        rmse: RMSE per model name, shown in the legend.
        ylabel: Label of the value axis.

    Returns:
        The figure; the caller saves it.
    """
    fig = Figure(figsize=(11, 5.5), dpi=100)
    ax = fig.subplots()
    ax.plot(context.index, context.to_numpy(), color="0.6", lw=1.2, label="real (before test)")
    ax.plot(actual.index, actual.to_numpy(), color="black", lw=2.0, label="real")
    for name, series in forecasts.items():
        style = BASELINE_STYLE.get(name, "-")
        label = f"{name} (RMSE {rmse[name]:.3f})" if name in rmse else name
        ax.plot(
            series.index,
            series.to_numpy(),
            ls=style,
            lw=1.4,
            marker="." if len(series) < 60 else None,
            label=label,
        )
    if len(actual):
        ax.axvline(actual.index[0], color="0.8", lw=1, ls="--")
    return _finish(fig, ax, title, legend_size=9, ylabel=ylabel, steps=_steps(actual.index))


def outlook_figure(
    title: str, history: pd.Series, forecast: pd.Series, ylabel: str = "price"
) -> Figure:
    """Recent real prices followed by the forecast of the next days.

    Args:
        title: Figure title.
        history: Real prices of the last months, indexed by date.
        forecast: Forecast prices, indexed by the future dates.
        ylabel: Label of the value axis.
    """
    fig = Figure(figsize=(11, 5), dpi=100)
    ax = fig.subplots()
    ax.plot(history.index, history.to_numpy(), color="black", lw=1.5, label="real")
    joined = pd.concat([history.iloc[-1:], forecast])
    ax.plot(
        joined.index, joined.to_numpy(), color="tab:blue", lw=2, marker="o", ms=4, label="forecast"
    )
    ax.axvline(history.index[-1], color="0.7", lw=1, ls="--")
    return _finish(fig, ax, title, ylabel=ylabel, steps=_steps(history.index))


def test_span_figure(
    data: Dataset,
    forecasts: Mapping[str, np.ndarray],
    rmse: Mapping[str, float],
    context_days: int = 60,
) -> Figure:
    """Real prices vs the h=1 forecast of every model over a ticker's test span.

    Args:
        data: The prepared data (dates, prices, test origins).
        forecasts: Forecast prices ``(n, H)`` per model name, baselines included.
        rmse: RMSE per model name (legend).
        context_days: Rows of real prices shown before the test span.
    """
    dates = data.target_dates("test")
    actual = pd.Series(data.actual_prices("test")[:, 0], index=dates)
    first = int(np.searchsorted(data.dates, dates[0]))
    lo = max(0, first - context_days)
    context = pd.Series(data.prices[lo : first + 1], index=data.dates[lo : first + 1])
    lines = {name: pd.Series(np.asarray(p)[:, 0], index=dates) for name, p in forecasts.items()}
    title = f"{data.ticker}: real vs forecast (h=1 of {data.horizon}), test span"
    return forecast_figure(title, context, actual, lines, rmse, data.label)


def backtest_figure(
    title: str, frame: pd.DataFrame, rmse: Mapping[str, float], h: int = 1, ylabel: str = "price"
) -> Figure:
    """Real prices vs every model's step-``h`` backtest forecasts (baselines included).

    Args:
        title: Figure title.
        frame: Walk-forward table (``date, h, actual, predicted, model``).
        rmse: RMSE at step ``h`` per model (legend).
        h: Step ahead to draw.
        ylabel: Label of the value axis.
    """
    part = frame[frame["h"] == h]
    first = part["model"].iloc[0]
    actual = part[part["model"] == first].set_index("date")["actual"]
    lines = {
        str(name): g.set_index("date")["predicted"] for name, g in part.groupby("model", sort=False)
    }
    return forecast_figure(title, actual.iloc[:0], actual, lines, rmse, ylabel)


def live_figure(
    ticker: str, prices: pd.Series, forecasts: pd.DataFrame, scores: Mapping[str, float]
) -> Figure:
    """Real prices, the h=1 forecast each night made for them, and the errors.

    Args:
        ticker: The symbol.
        prices: Real target prices up to the night, by date.
        forecasts: Ledger rows at h=1 (``model, target_date, value``); matured rows have
            an ``actual`` column, the latest night's pending ones NaN there.
        scores: Live MASE per model (legend), persistence included.
    """
    fig = Figure(figsize=(11, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    first = forecasts["target_date"].min() if len(forecasts) else prices.index[-1]
    shown = prices.loc[prices.index >= first - pd.Timedelta(days=30)]
    top.plot(shown.index, shown.to_numpy(), color="black", linewidth=1.6, label="real")
    for name, part in forecasts.groupby("model", sort=True):
        label = f"{name} (live MASE {scores[name]:.3f})" if name in scores else str(name)
        style = BASELINE_STYLE.get(str(name), "-")
        top.plot(part["target_date"], part["value"], style, linewidth=1.0, label=label)
        done = part.dropna(subset=["actual"])
        bottom.plot(done["target_date"], done["value"] - done["actual"], style, label=str(name))
    bottom.axhline(0.0, color="black", linewidth=0.8)
    bottom.set_ylabel("error (forecast − real)")
    bottom.grid(alpha=0.3)
    return _finish(fig, top, f"{ticker}: nightly h=1 forecasts against real prices", 8)

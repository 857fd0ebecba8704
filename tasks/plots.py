"""Figures of forecasts against real prices, stacked from ``tasks/plot_layers.py``.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no GUI backend,
no global state), so they are safe to draw from worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pricecast.tasks.dataset import Dataset
from pricecast.tasks.plot_bands import backtest_bands
from pricecast.tasks.plot_layers import (
    BASELINE_STYLE,
    REFERENCE,
    ahead,
    date_axis,
    date_span,
    draw_forecasts,
    draw_outlook,
    draw_real,
    draw_skill,
    line_styles,
)


def _finish(
    fig: Figure,
    ax: Any,
    title: str,
    legend_size: float | None = None,
    ylabel: str = "price",
    beside: bool = False,
) -> Figure:
    """Title, value axis (``price`` or a series' name and unit), grid, date ticks, legend.

    ``beside`` puts the legend right of the chart, where it never hides a line.
    """
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    date_axis(ax)
    if beside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=legend_size)
    else:
        ax.legend(loc="best", fontsize=legend_size)
    fig.tight_layout()
    # tight_layout leaves a placeholder layout engine behind, and any engine makes
    # savefig draw the whole figure once more before it renders; the layout is done.
    fig.set_layout_engine(None)
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
    """Real values with each model's forecast, and below them the skill panel.

    Args:
        title: Figure title (ticker, steps ahead in words, date span).
        context: Real values before the span, for context (empty: none drawn, and no
            legend entry for it).
        actual: Real values over the span.
        forecasts: Forecasts per model name (baselines included), indexed by date.
        rmse: RMSE per model name, shown in the legend.
        ylabel: Label of the value axis (series and unit, e.g. ``adj. close, USD``).

    Returns:
        The figure (the skill panel only when persistence is among the forecasts); the
        caller saves it.
    """
    fig = Figure(figsize=(13, 7), dpi=100)
    skill = REFERENCE in forecasts and len(forecasts) > 1
    if skill:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        top, bottom = fig.subplots(), None
    styles = line_styles(list(forecasts))
    if len(context):
        draw_real(top, context, "real (before test)", color="0.6", lw=1.2)
    draw_real(top, actual)
    draw_forecasts(top, forecasts, rmse, styles)
    if len(context) and len(actual):
        top.axvline(actual.index[0], color="0.8", lw=1, ls="--")
    if bottom is not None:
        draw_skill(bottom, actual, forecasts, styles)
    return _finish(fig, top, title, legend_size=9, ylabel=ylabel, beside=True)


def outlook_figure(
    title: str, history: pd.Series, forecast: pd.Series, ylabel: str = "price", zoom: int = 15
) -> Figure:
    """Recent real values followed by the forecast path, and the path zoomed in beside them.

    A few steps ahead take a sliver of a chart of months, so the right-hand panel shows
    the last ``zoom`` real values and the path alone, where its shape can be read.

    Args:
        title: Figure title.
        history: Real values of the last months, indexed by date.
        forecast: Forecast values, indexed by the future dates.
        ylabel: Label of the value axis.
        zoom: Real values drawn before the path in the zoomed panel.
    """
    fig = Figure(figsize=(12, 5), dpi=100)
    ax, near = fig.subplots(1, 2, width_ratios=[3, 1])
    for axes, real in ((ax, history), (near, history.iloc[-zoom:])):
        draw_real(axes, real, lw=1.5)
        draw_outlook(axes, real, forecast)
    near.set_title(f"zoom: the last {min(zoom, len(history))} real values and the path", fontsize=9)
    near.margins(x=0.15)  # room for the last value's label
    date_axis(near)
    return _finish(fig, ax, title, ylabel=ylabel)


def test_span_figure(
    data: Dataset,
    forecasts: Mapping[str, np.ndarray],
    rmse: Mapping[str, float],
    context_days: int = 60,
) -> Figure:
    """Real prices vs the one-step-ahead forecast of every model over a ticker's test span.

    Args:
        data: The prepared data (dates, prices, test origins, axis label).
        forecasts: Forecast prices ``(n, H)`` per model name, baselines included.
        rmse: RMSE per model name (legend).
        context_days: Most days of real prices shown before the test span (no more
            than the span itself has).
    """
    dates = data.target_dates("test")
    actual = pd.Series(data.actual_prices("test")[:, 0], index=dates)
    first = int(np.searchsorted(data.dates, dates[0]))
    lo = max(0, first - min(context_days, len(dates)))  # the span keeps half the width
    context = pd.Series(data.prices[lo : first + 1], index=data.dates[lo : first + 1])
    lines = {name: pd.Series(np.asarray(p)[:, 0], index=dates) for name, p in forecasts.items()}
    unit = "day" if data.frequency is None else "step"
    title = f"{data.ticker}: forecasts {ahead(1, unit)} vs real, test span {date_span(dates)}"
    if data.horizon > 1:
        title += f" (models forecast up to {ahead(data.horizon, unit)})"
    return forecast_figure(title, context, actual, lines, rmse, data.label)


def backtest_figure(
    title: str, frame: pd.DataFrame, rmse: Mapping[str, float], h: int = 1, ylabel: str = "price"
) -> Figure:
    """Real values vs every model's step-``h`` backtest forecasts (baselines included).

    With prediction intervals, the first learned model's fan and persistence's (light)
    are shaded behind the lines (``tasks/plot_bands.py``).

    Args:
        title: Figure title.
        frame: Walk-forward table (``date, h, actual, predicted, model``, bounds).
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
    fig = forecast_figure(title, actual.iloc[:0], actual, lines, rmse, ylabel)
    backtest_bands(fig.axes[0], part)
    return fig


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

"""The layers of the forecast figures, one drawing function each (pure: frames in, axes out).

Every ``draw_*`` function draws one layer on the axes it is given, so a figure is a stack
of layers (``tasks/plots.py``) and a new layer (a band, a marker) composes with the
others without touching them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

BASELINE_STYLE = {
    "persistence": ":",
    "drift": "-.",
    "moving_average": "--",
    "seasonal_naive": "--",
}
BASELINE_COLOR = {
    "persistence": "0.25",
    "drift": "tab:brown",
    "moving_average": "tab:olive",
    "seasonal_naive": "tab:pink",
}
MODEL_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:cyan")
REFERENCE = "persistence"
"""The model the skill panel measures every other against."""


def ahead(h: int, unit: str = "day") -> str:
    """Plain words for a step ahead: ``1 day ahead``, ``3 days ahead``, ``2 steps ahead``."""
    return f"{h} {unit}{'' if h == 1 else 's'} ahead"


def date_span(index: pd.Index) -> str:
    """``2020-05-01 to 2020-06-30``: the first and last date of a series."""
    if pd.api.types.is_integer_dtype(index.dtype):
        return f"steps {index.min()} to {index.max()}"
    return f"{pd.Timestamp(index.min()):%Y-%m-%d} to {pd.Timestamp(index.max()):%Y-%m-%d}"


def line_styles(names: list[str]) -> dict[str, dict[str, Any]]:
    """One style per model: bold solid colours for learned models, thin light baselines.

    With up to six lines on one chart, the models a user compares stand out and the
    baselines stay readable behind them; each model keeps its colour in every panel.
    """
    styles, i = {}, 0
    for name in names:
        if name in BASELINE_STYLE:
            styles[name] = {
                "ls": BASELINE_STYLE[name],
                "lw": 1.0,
                "alpha": 0.8,
                "color": BASELINE_COLOR[name],
            }
        else:
            styles[name] = {"ls": "-", "lw": 1.6, "color": MODEL_COLORS[i % len(MODEL_COLORS)]}
            i += 1
    return styles


def _holds_steps(ax: Any) -> bool:
    """Whether the panel's data lines run along integer steps rather than dates.

    Reference lines (``axhline``, drawn in axes units on ``[0, 1]``) are not data.
    """
    kinds = {
        np.asarray(line.get_xdata()).dtype.kind
        for line in ax.get_lines()
        if len(line.get_xdata()) > 2
    }
    return "M" not in kinds and bool(kinds & {"i", "u"})


def date_axis(ax: Any) -> None:
    """Concise date ticks, or integer ticks labelled ``step``, and a light grid.

    Every panel of a figure reads its x axis alike; a series of integer steps has no dates.
    """
    if _holds_steps(ax):
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)


def draw_real(ax: Any, values: pd.Series, label: str = "real", **style: Any) -> None:
    """The real values as a line (black and bold unless ``style`` says otherwise)."""
    style = {"color": "black", "lw": 2.0, **style}
    ax.plot(values.index, values.to_numpy(), label=label, **style)


def draw_forecasts(
    ax: Any,
    forecasts: Mapping[str, pd.Series],
    rmse: Mapping[str, float],
    styles: Mapping[str, Mapping[str, Any]],
) -> None:
    """Each model's forecast line, its RMSE in the legend."""
    for name, series in forecasts.items():
        label = f"{name} (RMSE {rmse[name]:.3f})" if name in rmse else name
        marker = "." if len(series) < 60 and name not in BASELINE_STYLE else None
        ax.plot(series.index, series.to_numpy(), marker=marker, label=label, **styles[name])


def skill_curves(actual: pd.Series, forecasts: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Cumulative absolute error of each model minus persistence's, by date.

    Below zero a model has so far erred less than persistence over the span; the slope
    shows where it gains or loses. Persistence's own curve is 0 and is left out.

    Raises:
        KeyError: If there is no persistence forecast to compare with.
    """
    if REFERENCE not in forecasts:
        raise KeyError(f"no {REFERENCE} forecast to compare with (got {sorted(forecasts)})")
    ref = (forecasts[REFERENCE] - actual).abs()
    return pd.DataFrame(
        {
            name: ((series - actual).abs() - ref).cumsum()
            for name, series in forecasts.items()
            if name != REFERENCE
        },
        index=actual.index,
    )


def draw_skill(
    ax: Any,
    actual: pd.Series,
    forecasts: Mapping[str, pd.Series],
    styles: Mapping[str, Mapping[str, Any]],
) -> None:
    """The skill panel: :func:`skill_curves` with a zero line (persistence) to read them by.

    Models far worse than the others (reaching over four times as far above 0 as the
    others' whole range) would flatten them onto the zero line: the scale follows the
    others, and a note names the far-off models and where they end. A model far
    *better* than the others is always drawn in full.
    """
    curves = skill_curves(actual, forecasts)
    for name in curves:
        ax.plot(curves.index, curves[name].to_numpy(), **styles[name])
    ax.axhline(0.0, color=BASELINE_COLOR[REFERENCE], lw=1.0, ls=BASELINE_STYLE[REFERENCE])
    off, lo, hi = [], 0.0, 0.0
    top = curves.max().sort_values(ascending=False)  # how far above 0 each one gets
    for i in range(1, len(top)):
        kept = curves[top.index[i:]]
        lo, hi = min(0.0, kept.min().min()), max(0.0, kept.max().max())
        if top.iloc[i - 1] > 4 * (hi - lo) > 0:
            off = list(top.index[:i])
            break
    if off:
        pad = 0.1 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
        note = ", ".join(f"{n} (ends at {curves[n].iloc[-1]:+.1f})" for n in off)
        ax.text(0.99, 0.95, f"off the scale: {note}", transform=ax.transAxes, ha="right",
                va="top", fontsize=8, color="0.3")  # fmt: skip
    ax.set_title(
        "cumulative |error| minus persistence's: below 0, better than persistence so far",
        fontsize=9, loc="left",
    )  # fmt: skip
    ax.set_ylabel("difference", fontsize=9)
    date_axis(ax)


def draw_outlook(ax: Any, history: pd.Series, forecast: pd.Series) -> None:
    """The forecast path: a line from the last real value through every step ahead."""
    joined = pd.concat([history.iloc[-1:], forecast])
    ax.plot(
        joined.index, joined.to_numpy(), color="tab:blue", lw=2, marker="o", ms=4,
        label=f"forecast, {len(forecast)} step{'' if len(forecast) == 1 else 's'}",
    )  # fmt: skip
    ax.axvline(history.index[-1], color="0.7", lw=1, ls="--")
    last = forecast.iloc[-1]
    ax.annotate(
        f"{last:.2f}", (forecast.index[-1], last), textcoords="offset points", xytext=(6, 0),
        va="center", fontsize=9, color="tab:blue",
    )  # fmt: skip

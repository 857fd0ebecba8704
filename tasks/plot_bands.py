"""Fan charts: prediction intervals drawn as shaded bands, one shade per level.

The plot functions of :mod:`pricecast.tasks.plots` draw the lines; these add the bands
on the same axes. The widest level is drawn palest, so nested levels read as a fan.
Persistence's band is drawn lightly (pale, dashed edges): it is the yardstick a model's
band is compared with, not the forecast to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pricecast.configs.intervals import IntervalsConfig
from pricecast.tasks.baselines import BASELINES, persistence_model
from pricecast.tasks.dataset import Dataset
from pricecast.tasks.interval_backtest import baseline_bands, online_bands, relative_space
from pricecast.tasks.interval_scores import levels_of
from pricecast.tasks.intervals import level_name


def _refresh_legend(ax: Any, size: float | None) -> None:
    """Redraw the legend with the bands in it, where the figure had put it.

    A legend anchored right of the chart (``bbox_to_anchor`` past the axes) stays there,
    where it hides no line or band; otherwise matplotlib picks the emptiest corner.
    """
    old = ax.get_legend()
    if old is not None and old.get_bbox_to_anchor().x0 > ax.bbox.x1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=size)
    else:
        ax.legend(loc="best", fontsize=size)


def draw_fan(ax: Any, bounds: pd.DataFrame, color: Any, label: str, light: bool = False) -> None:
    """Shade one model's bands on ``ax``.

    Args:
        ax: A matplotlib axes.
        bounds: ``lower_<L>``/``upper_<L>`` columns indexed by date.
        color: The colour of the model's line.
        label: Legend text; each level adds its own percentage.
        light: Draw pale with dashed edges (persistence's band).
    """
    levels = levels_of(bounds)
    for i, level in enumerate(sorted(levels, reverse=True)):
        name = level_name(level)
        lo = bounds[f"lower_{name}"].to_numpy(dtype="float64")
        up = bounds[f"upper_{name}"].to_numpy(dtype="float64")
        alpha = (0.06 if light else 0.14) * (1 + i)
        ax.fill_between(
            bounds.index,
            lo,
            up,
            color=color,
            alpha=alpha,
            lw=0,
            label=f"{label} {name} %",
        )
        if light:
            ax.fill_between(
                bounds.index, lo, up, facecolor="none", edgecolor=color, ls="--", lw=0.6, alpha=0.45
            )


def _line_color(ax: Any, name: str) -> Any:
    for line in ax.get_lines():
        if str(line.get_label()).split(" (")[0] == name:
            return line.get_color()
    return "tab:blue"


def backtest_bands(ax: Any, part: pd.DataFrame, legend_size: float | None = 9) -> None:
    """Bands of the first learned model (or the first model) and, lightly, persistence.

    Args:
        ax: The axes of the backtest figure.
        part: Walk-forward rows of one step ahead (``date, model`` and bound columns).
        legend_size: Font size of the refreshed legend.
    """
    if not levels_of(part):
        return
    names = list(dict.fromkeys(part["model"]))
    learned = [n for n in names if n not in BASELINES]
    shown = [learned[0] if learned else names[0]]
    if "persistence" in names and "persistence" not in shown:
        shown.append("persistence")
    cols = [c for c in part.columns if c.startswith(("lower_", "upper_"))]
    for name in shown:
        bounds = part[part["model"] == name].set_index("date")[cols]
        draw_fan(ax, bounds, _line_color(ax, name), name, light=name == "persistence")
    _refresh_legend(ax, legend_size)


def outlook_bands(ax: Any, history: pd.Series, forecast: pd.DataFrame) -> None:
    """A forward forecast's bands, joined to the last real price so the fan opens from it.

    Args:
        ax: The axes of the outlook figure.
        history: Real prices (the last one anchors the fan).
        forecast: ``date`` and bound columns (nothing is drawn without them).
    """
    bounds = forecast.set_index("date")
    if not levels_of(bounds):
        return
    cols = [c for c in bounds.columns if c.startswith(("lower_", "upper_"))]
    start = pd.DataFrame(
        np.full((1, len(cols)), float(history.iloc[-1])), index=history.index[-1:], columns=cols
    )
    draw_fan(ax, pd.concat([start, bounds[cols]]), "tab:blue", "interval")
    _refresh_legend(ax, None)


def live_bands(ax: Any, forecasts: pd.DataFrame) -> None:
    """The nightly h=1 bands of the served model and, lightly, persistence's.

    Args:
        ax: The top axes of the live figure.
        forecasts: Ledger rows at h=1 (``model, target_date`` and any bound columns).
    """
    levels = levels_of(forecasts)
    if not levels:
        return
    cols = [f"{s}_{level_name(v)}" for v in levels for s in ("lower", "upper")]
    for name, part in forecasts.groupby("model", sort=True):
        if name in BASELINES and name != "persistence":
            continue
        bounds = part.dropna(subset=cols).set_index("target_date")[cols]
        if len(bounds):
            light = name == "persistence"
            draw_fan(ax, bounds, _line_color(ax, str(name)), str(name), light=light)
    _refresh_legend(ax, 8)


def evaluation_bands(
    ax: Any,
    data: Dataset,
    forecasts: Mapping[str, np.ndarray],
    intervals: IntervalsConfig,
    given: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> None:
    """h=1 bands on the test span: the first variant's and, lightly, persistence's.

    A variant whose test span was read from its backtest keeps that backtest's bands
    (``given``); otherwise it is banded by its own matured test forecasts (it trained
    before the span). Persistence is banded by its forecasts before and within the span,
    as in the backtest.

    Args:
        ax: The axes of the test-span figure.
        data: The dataset (series, test origins and their target dates).
        forecasts: Forecast prices ``(n, H)`` per model name, baselines included.
        intervals: Levels and calibration settings.
        given: Bounds ``(n, H)`` per column and model name, for the test origins.
    """
    origins = data.origins[data.split == "test"]
    relative = relative_space(data.series, "value" if data.frequency else "price")
    learned = [n for n in forecasts if n not in BASELINES]
    bands = {}
    if learned and (given or {}).get(learned[0]):
        bands[learned[0]] = dict((given or {})[learned[0]])
    elif learned:
        pred = np.asarray(forecasts[learned[0]], dtype="float64")
        bands[learned[0]] = online_bands(data.series, origins, pred, intervals, relative)
    if "persistence" in forecasts:
        model = persistence_model(data.horizon)
        bands["persistence"] = baseline_bands(model, data.series, origins, intervals, relative)[1]
    dates = data.target_dates("test")
    for name, cols in bands.items():
        bounds = pd.DataFrame({c: v[:, 0] for c, v in cols.items()}, index=dates).dropna()
        if len(bounds):
            draw_fan(ax, bounds, _line_color(ax, name), name, light=name == "persistence")
    _refresh_legend(ax, 9)

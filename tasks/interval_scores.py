"""Scores of prediction intervals: coverage, width, interval (Winkler) score, pinball loss.

Width, interval score and pinball loss are measured relative to the price at the
origin (``0.05`` = 5 % of it), so that they compare across tickers and across years
in which a price moved tenfold. Lower is better for all but coverage, which should
be near its level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pricecast.tasks.intervals import level_name

INTERVAL_METRICS: tuple[str, ...] = ("coverage", "width", "interval_score")
"""Metrics scored per level (``coverage_80``, ...), besides ``interval_score`` and ``pinball``."""

_LOWER = re.compile(r"^lower_(\d+(?:\.\d+)?)$")


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside ``[lower, upper]``."""
    a = np.asarray(actual, dtype="float64")
    return float(np.mean((a >= lower) & (a <= upper)))


def relative_width(lower: np.ndarray, upper: np.ndarray, anchor: np.ndarray) -> float:
    """Mean width of the intervals over the price at their origin."""
    return float(np.mean((np.asarray(upper) - np.asarray(lower)) / np.asarray(anchor)))


def interval_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> float:
    """Mean interval (Winkler) score of central intervals at ``level``.

    ``(u - l) + 2/a * (l - y)`` when ``y < l``, ``+ 2/a * (y - u)`` when ``y > u``, with
    ``a = 1 - level`` (Gneiting and Raftery 2007): width, plus a penalty for every miss
    that grows with its distance, so neither a too narrow nor a too wide band wins.
    """
    y = np.asarray(actual, dtype="float64")
    lo, up = np.asarray(lower, dtype="float64"), np.asarray(upper, dtype="float64")
    a = 1.0 - level
    score = (up - lo) + 2 / a * np.maximum(lo - y, 0) + 2 / a * np.maximum(y - up, 0)
    return float(np.mean(score))


def pinball(actual: np.ndarray, quantile: np.ndarray, tau: float) -> float:
    """Mean pinball (quantile) loss of a forecast of the ``tau`` quantile."""
    diff = np.asarray(actual, dtype="float64") - np.asarray(quantile, dtype="float64")
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff)))


def levels_of(frame: pd.DataFrame) -> list[float]:
    """Levels whose ``lower_<level>`` and ``upper_<level>`` columns a frame has, sorted."""
    found = [float(m.group(1)) / 100 for c in frame.columns if (m := _LOWER.match(str(c)))]
    return sorted(v for v in found if f"upper_{level_name(v)}" in frame.columns)


def interval_metrics(part: pd.DataFrame, levels: Sequence[float]) -> dict[str, float]:
    """Interval scores of the rows of one model and step ahead.

    Args:
        part: Rows with ``actual``, ``anchor`` and the bound columns of each level.
        levels: The levels to score.

    Returns:
        Per level ``coverage_<L>``, ``width_<L>``, ``interval_score_<L>``; then
        ``interval_score`` (mean over the levels) and ``pinball`` (mean loss over the
        ``2 * len(levels)`` quantiles the bounds forecast). All NaN without rows.
    """
    if part.empty:
        names = [f"{m}_{level_name(v)}" for v in levels for m in INTERVAL_METRICS]
        return dict.fromkeys([*names, "interval_score", "pinball"], float("nan"))
    anchor = part["anchor"].to_numpy(dtype="float64")
    y = part["actual"].to_numpy(dtype="float64") / anchor
    out: dict[str, float] = {}
    scores, losses = [], []
    for level in levels:
        name = level_name(level)
        lo = part[f"lower_{name}"].to_numpy(dtype="float64") / anchor
        up = part[f"upper_{name}"].to_numpy(dtype="float64") / anchor
        out[f"coverage_{name}"] = coverage(y, lo, up)
        out[f"width_{name}"] = relative_width(lo, up, np.ones_like(y))
        out[f"interval_score_{name}"] = interval_score(y, lo, up, level)
        scores.append(out[f"interval_score_{name}"])
        alpha = 1.0 - level
        losses += [pinball(y, lo, alpha / 2), pinball(y, up, 1 - alpha / 2)]
    out["interval_score"] = float(np.mean(scores))
    out["pinball"] = float(np.mean(losses))
    return out


def common_rows(frame: pd.DataFrame, levels: Sequence[float]) -> pd.Series:
    """Rows whose origin and step every model has banded, so all are scored alike.

    A model without enough calibration residuals at an origin has no band there; that
    origin and step is then left out of every model's interval scores.
    """
    cols = [f"{s}_{level_name(v)}" for v in levels for s in ("lower", "upper")]
    banded = np.isfinite(frame[cols].to_numpy(dtype="float64")).all(axis=1)
    keys = [frame["cutoff"], frame["h"]]
    return pd.Series(banded, index=frame.index).groupby(keys).transform("all").astype(bool)


def by_horizon(frame: pd.DataFrame) -> dict[str, list[float]]:
    """Interval metrics of one model's backtest rows per step ahead (``{}``: no bands).

    Returns:
        ``{metric: [h=1, h=2, ...]}`` as :func:`interval_metrics` names them, on the
        rows banded at every level.
    """
    levels = levels_of(frame)
    if not levels:
        return {}
    rows = frame[common_rows(frame, levels)]
    out: dict[str, list[float]] = {}
    for h in sorted(frame["h"].unique()):
        for metric, value in interval_metrics(rows[rows["h"] == h], levels).items():
            out.setdefault(metric, []).append(value)
    return out


def interval_columns(
    summary: Mapping[str, Mapping[str, list[float]]],
) -> dict[str, dict[str, float]]:
    """Each model's interval scores of a backtest summary, averaged over the steps ahead.

    Every step ahead has the same origins, so the mean of the per-step values is the
    score over all rows. Point metrics are left out: they are pooled elsewhere.

    Args:
        summary: ``{model: {metric: [h=1, ...]}}`` as :func:`tasks.backtest.summarize`.
    """
    out: dict[str, dict[str, float]] = {}
    for model, by_metric in summary.items():
        out[model] = {
            name: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            for name, values in by_metric.items()
            if name.startswith(INTERVAL_METRICS) or name == "pinball"
        }
    return out

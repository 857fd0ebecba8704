"""Split-conformal prediction intervals from out-of-sample residuals (pure).

A band at origin ``o`` and step ``h`` is the point forecast moved by two quantiles of
signed residuals that were known at ``o``: residuals of forecasts whose target row is at
most ``o``, made by a model that did not train on that target day. Residuals live in
the space the series moves in: ``log(actual / predicted)`` for prices (a 10 % move is
the same on a $10 and a $500 stock), ``actual - predicted`` for a generic series that
may be zero or negative.

The residuals of one model are a :class:`Calibration`. Three sources feed it, each
with the row from which it may be used (``ready``):

- a windowed model's validation span at each fit (ready from the fit's cutoff; the
  target days the model trained on are left out);
- the model's own backtest forecasts (ready once their target day has passed), so the
  band follows the latest ``window`` residuals as volatility changes;
- for a baseline, which learns nothing, its forecasts at the origins before the first
  one (with persistence these are the past ``h``-day log-returns: the random walk's
  empirical interval; with drift, the same around the drifting forecast).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def level_name(level: float) -> str:
    """Column suffix of a level: ``0.8`` → ``80``, ``0.975`` → ``97.5``."""
    return f"{100 * level:g}"


def bound_columns(levels: Sequence[float]) -> list[str]:
    """``lower_80, upper_80, lower_95, upper_95, ...`` for the levels, in order."""
    return [f"{side}_{level_name(v)}" for v in levels for side in ("lower", "upper")]


def residuals(actual: np.ndarray, predicted: np.ndarray, relative: bool) -> np.ndarray:
    """Signed residuals: ``log(actual / predicted)`` (relative) or ``actual - predicted``."""
    a = np.asarray(actual, dtype="float64")
    p = np.asarray(predicted, dtype="float64")
    if not relative:
        return a - p
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a / p)


def shifted(predicted: np.ndarray, q: np.ndarray, relative: bool) -> np.ndarray:
    """The forecast moved by residual quantile(s) ``q`` (the inverse of :func:`residuals`)."""
    p = np.asarray(predicted, dtype="float64")
    return p * np.exp(q) if relative else p + q


@dataclass(frozen=True)
class Calibration:
    """Out-of-sample residuals of one model, and from when each may be used.

    Attributes:
        origin: Origin row of each forecast ``(m,)``.
        residual: Signed residual per step ahead ``(m, H)``; NaN where unknown (a
            target past the data, or a day the model trained on).
        ready: First origin row at which each residual may calibrate a band ``(m, H)``:
            its target row, or the cutoff of the fit that produced it when later.
        trained_until: Last target row the producing model trained on ``(m,)``
            (``-1``: a baseline, which trains on nothing).
    """

    origin: np.ndarray
    residual: np.ndarray
    ready: np.ndarray
    trained_until: np.ndarray

    @classmethod
    def of_forecasts(
        cls,
        origins: np.ndarray,
        predicted: np.ndarray,
        prices: np.ndarray,
        relative: bool,
        trained_until: np.ndarray | int = -1,
        not_before: int = 0,
    ) -> Calibration:
        """Residuals of forecasts ``(n, H)`` made at ``origins`` against ``prices``.

        Args:
            origins: Origin rows.
            predicted: The forecast prices.
            prices: Every price of the series, in the rows origins index.
            relative: Log residuals (prices) or differences (a generic series).
            trained_until: Last target row the forecasting model trained on.
            not_before: Row before which none of them may be used (a fit's cutoff).
        """
        o = np.asarray(origins, dtype="int64")
        pred = np.asarray(predicted, dtype="float64")
        rows = o[:, None] + np.arange(1, pred.shape[1] + 1)
        inside = rows < len(prices)
        actual = np.where(inside, prices[np.minimum(rows, len(prices) - 1)], np.nan)
        until = np.broadcast_to(np.asarray(trained_until, dtype="int64"), o.shape).copy()
        res = residuals(actual, pred, relative)
        res[~inside | (rows <= until[:, None]) | ~np.isfinite(res)] = np.nan
        return cls(o, res, np.maximum(rows, not_before), until)

    @classmethod
    def join(cls, parts: Sequence[Calibration]) -> Calibration:
        """All residuals of several calibrations, as one."""
        return cls(
            np.concatenate([p.origin for p in parts]),
            np.concatenate([p.residual for p in parts]),
            np.concatenate([p.ready for p in parts]),
            np.concatenate([p.trained_until for p in parts]),
        )

    def usable(self, origin: int, h: int, window: int) -> np.ndarray:
        """Indices of the latest ``window`` residuals of step ``h`` usable at ``origin``.

        A residual is usable when it is known (finite) and ready at the origin; the
        latest are those with the latest target rows.
        """
        col = h - 1
        ok = np.flatnonzero((self.ready[:, col] <= origin) & np.isfinite(self.residual[:, col]))
        order = np.argsort(self.origin[ok], kind="stable")
        return ok[order][-window:]


def conformal_quantiles(pool: np.ndarray, level: float) -> tuple[float, float]:
    """Lower and upper residual quantiles of a central interval with finite-sample care.

    Split-conformal takes the ``ceil((n + 1) * (1 - a/2))``-th smallest of ``n``
    residuals as the upper end (and symmetrically the lower, ``a = 1 - level``), so
    that the band covers
    at least ``level`` of exchangeable new errors; with too few residuals for that, the
    extreme residual is used.
    """
    s = np.sort(np.asarray(pool, dtype="float64"))
    n = len(s)
    # The k-th smallest and the k-th largest, k = floor((n + 1) * a / 2) (the
    # epsilon keeps 0.2 / 2 * 20 at 2, not 1.999...).
    k = int(np.floor((n + 1) * (1.0 - level) / 2 + 1e-9))
    return float(s[max(k - 1, 0)]), float(s[min(n - k, n - 1)])


def ewma_volatility(prices: np.ndarray, relative: bool, halflife: float) -> np.ndarray:
    """Volatility of one-step moves at every row, from the moves up to that row only.

    The exponentially weighted root mean square of the log-returns (relative) or the
    differences, with the given half-life in rows (RiskMetrics' 0.94 is about 11); row
    0, which has no move, gets row 1's value.
    """
    p = np.asarray(prices, dtype="float64")
    moves = residuals(p[1:], p[:-1], relative)
    mean_sq = pd.Series(moves**2).ewm(halflife=halflife, adjust=True).mean().to_numpy()
    vol = np.sqrt(np.concatenate([mean_sq[:1], mean_sq]))
    return np.where(vol > 0, vol, np.nan)


def conformal_bands(
    calibration: Calibration,
    origins: np.ndarray,
    predicted: np.ndarray,
    levels: Sequence[float],
    relative: bool,
    window: int = 250,
    min_residuals: int = 20,
    volatility: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Bands around forecasts ``(n, H)`` made at ``origins``, per level.

    With ``volatility`` (per row, see :func:`ewma_volatility`) the conformal scores
    are the residuals over the volatility at their own origin, and a band is their
    quantiles times the volatility at its origin (normalised conformal): the band
    widens as soon as the market moves more, not once a window of misses has passed.

    Args:
        calibration: The model's out-of-sample residuals.
        origins: Origin rows of the forecasts.
        predicted: Point forecasts.
        levels: Nominal coverages.
        relative: Log residuals (prices) or differences (a generic series).
        window: Latest residuals kept per step ahead.
        min_residuals: Fewer usable residuals give no band (NaN).
        volatility: Per-row scale of the scores (``None``: plain residuals).

    Returns:
        ``{"lower_80": (n, H), "upper_80": (n, H), ...}`` (see :func:`bound_columns`).
    """
    pred = np.asarray(predicted, dtype="float64")
    q = {c: np.full(pred.shape, np.nan) for c in bound_columns(levels)}
    for i, origin in enumerate(np.asarray(origins)):
        for col in range(pred.shape[1]):
            idx = calibration.usable(int(origin), col + 1, window)
            if len(idx) < min_residuals:
                continue
            pool = calibration.residual[idx, col]
            unit = 1.0
            if volatility is not None:
                pool = pool / volatility[calibration.origin[idx]]
                unit = float(volatility[origin])
            for level in levels:
                lo, hi = (unit * v for v in conformal_quantiles(pool, level))
                q[f"lower_{level_name(level)}"][i, col] = lo
                q[f"upper_{level_name(level)}"][i, col] = hi
    return {c: shifted(pred, v, relative) for c, v in q.items()}


def latest_quantiles(
    calibration: Calibration,
    origin: int,
    horizon: int,
    levels: Sequence[float],
    window: int = 250,
    min_residuals: int = 20,
    volatility: np.ndarray | None = None,
) -> dict[str, list[float]] | None:
    """Residual quantiles per bound column and step ahead, from those usable at ``origin``.

    What a model fitted once keeps to band every later forecast (the registered
    forecaster); ``None`` when some step has fewer than ``min_residuals`` residuals.
    With ``volatility`` (per row) the quantiles are of the normalised residuals, to be
    multiplied by the volatility at a forecast's origin.
    """
    out: dict[str, list[float]] = {c: [] for c in bound_columns(levels)}
    for h in range(1, horizon + 1):
        idx = calibration.usable(origin, h, window)
        if len(idx) < min_residuals:
            return None
        pool = calibration.residual[idx, h - 1]
        if volatility is not None:
            pool = pool / volatility[calibration.origin[idx]]
        for level in levels:
            lo, hi = conformal_quantiles(pool, level)
            out[f"lower_{level_name(level)}"].append(lo)
            out[f"upper_{level_name(level)}"].append(hi)
    return out

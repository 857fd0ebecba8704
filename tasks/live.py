"""Live skill: score the forecasts the ledger holds once their target day has a real price.

A forecast *matures* when its ``target_date`` is a session up to the scoring night's
``as_of`` and the price of that day is known. Every model is scored beside persistence on
the same matured targets, per ``(ticker, model, h)``, over the last 20 and 60 matured
forecasts and since inception. MASE divides the MAE by the in-sample one-step
persistence error of the :data:`SCALE_SESSIONS` sessions up to ``as_of``, one scale per
ticker and night, the same for every model. Forecasts recorded with prediction intervals
add their coverage per level and interval score (share of the last price), over the
forecasts of the window that carry bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pricecast.tasks.interval_scores import interval_metrics, levels_of
from pricecast.tasks.intervals import bound_columns, level_name
from pricecast.tasks.metrics import METRICS, evaluate, naive_scale

WINDOWS: tuple[tuple[str, int | None], ...] = (("last_20", 20), ("last_60", 60), ("all", None))
"""Score windows: the latest N matured forecasts (``None``: since inception)."""


def windows_for(lasts: Sequence[int]) -> tuple[tuple[str, int | None], ...]:
    """Score windows ``last_N`` for each N, and ``all``."""
    return (*((f"last_{n}", n) for n in lasts), ("all", None))


SCALE_SESSIONS = 250
"""Sessions of history behind the MASE scale of a night's live scores."""
SCORE_COLUMNS = ("ticker", "model", "h", "window", "n", *METRICS, "persistence_mase")


def matured(forecasts: pd.DataFrame, prices: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """The ledger rows whose target day is known by ``as_of``, with its real price.

    Args:
        forecasts: Ledger rows (``as_of, ticker, model, h, target_date, value, last_price``)
            of one ticker.
        prices: That ticker's target prices by date (any later rows are ignored).
        as_of: The scoring night.

    Returns:
        The matured rows with an ``actual`` column, oldest target first.
    """
    known = prices.loc[prices.index <= as_of]
    rows = forecasts[forecasts["target_date"] <= as_of].copy()
    rows["actual"] = rows["target_date"].map(known)
    rows = rows.dropna(subset=["actual"])
    return rows.sort_values(["target_date", "as_of"], kind="stable")


def live_scale(prices: pd.Series, as_of: pd.Timestamp) -> float:
    """MASE denominator of a night: mean |Δprice| over the sessions up to ``as_of``."""
    known = prices.loc[prices.index <= as_of].to_numpy(dtype="float64")
    return naive_scale(known[-(SCALE_SESSIONS + 1) :])


def score_live(
    forecasts: pd.DataFrame,
    prices: pd.Series,
    as_of: pd.Timestamp,
    windows: Sequence[tuple[str, int | None]] = WINDOWS,
) -> pd.DataFrame:
    """Live metrics per ``(ticker, model, h, window)`` beside persistence.

    Args:
        forecasts: Ledger rows of one ticker.
        prices: That ticker's target prices by date.
        as_of: The scoring night; nothing after it is read.
        windows: ``(label, last N or None)`` pairs.

    Returns:
        One row per ``(ticker, model, h, window)`` with :data:`SCORE_COLUMNS`; empty when
        nothing has matured. ``persistence_mase`` is persistence's MASE on the very same
        target days (targets of the model's latest N forecasts). With bounds in the
        ledger, ``coverage_<L>`` per level and ``interval_score`` follow (NaN for a
        window without bounds).
    """
    rows = matured(forecasts, prices, as_of)
    levels = levels_of(rows)
    extra = [*(f"coverage_{level_name(v)}" for v in levels), "interval_score"] if levels else []
    columns = [*SCORE_COLUMNS, *extra]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    scale = live_scale(prices, as_of)
    pers = rows[rows["model"] == "persistence"].set_index(["as_of", "h"])["value"]
    out = []
    for (ticker, model, h), part in rows.groupby(["ticker", "model", "h"], sort=True):
        for label, last in windows:
            chunk = part if last is None else part.tail(last)
            scores = evaluate(chunk["actual"], chunk["value"], chunk["last_price"], scale)
            base = pers.reindex(pd.MultiIndex.from_arrays([chunk["as_of"], chunk["h"]]))
            ok = base.notna().to_numpy()
            pers_mase = (
                float(np.mean(np.abs(chunk["actual"].to_numpy()[ok] - base.to_numpy()[ok]))) / scale
                if ok.any()
                else float("nan")
            )
            out.append(
                {
                    "ticker": ticker,
                    "model": model,
                    "h": int(h),
                    "window": label,
                    "n": len(chunk),
                    **scores,
                    "persistence_mase": pers_mase,
                    **_interval_scores(chunk, levels, extra),
                }
            )
    return pd.DataFrame(out, columns=columns)


def _interval_scores(chunk: pd.DataFrame, levels: list[float], names: list[str]) -> dict:
    """Coverage and interval score of the rows of a window that carry every bound."""
    if not levels:
        return {}
    banded = chunk.dropna(subset=bound_columns(levels))
    scores = interval_metrics(banded.rename(columns={"last_price": "anchor"}), levels)
    return {k: scores[k] for k in names}


@dataclass(frozen=True)
class DecayCheck:
    """Whether a champion's live skill has decayed below persistence's.

    Attributes:
        decayed: Its live MASE is worse than persistence's by more than the margin.
        reason: One sentence with the figures.
    """

    decayed: bool
    reason: str


def check_decay(
    scores: pd.DataFrame, model: str, last: int, margin: float, h: int = 1
) -> DecayCheck:
    """Compare a model's live MASE with persistence's over its last ``last`` matured forecasts.

    Decay needs a full window: with fewer than ``last`` matured forecasts nothing is
    concluded.

    Args:
        scores: Output of :func:`score_live`.
        model: The model serving the forecasts (e.g. ``lstm``).
        last: Window length N; ``score_live`` must have scored a ``last_N`` window.
        margin: Relative margin, e.g. ``0.1``: decayed when MASE > 1.1 × persistence's.
        h: Step ahead compared.
    """
    pick = scores[
        (scores["model"] == model) & (scores["h"] == h) & (scores["window"] == f"last_{last}")
    ]
    if pick.empty or int(pick["n"].iloc[0]) < last:
        have = 0 if pick.empty else int(pick["n"].iloc[0])
        return DecayCheck(False, f"{model}: {have} of {last} forecasts matured; no decay check")
    mase, pers = float(pick["mase"].iloc[0]), float(pick["persistence_mase"].iloc[0])
    if mase > pers * (1.0 + margin):
        return DecayCheck(
            True,
            f"{model} live MASE {mase:.4f} over its last {last} forecasts is worse than "
            f"persistence {pers:.4f} by more than {margin:.0%}",
        )
    return DecayCheck(
        False, f"{model} live MASE {mase:.4f} vs persistence {pers:.4f} (last {last})"
    )


@dataclass(frozen=True)
class RetrainDecision:
    """Whether a night retrains a ticker's models, and why (one sentence)."""

    retrain: bool
    reason: str


def retrain_due(
    last_retrained: pd.Timestamp | None,
    sessions_since: int,
    retrain_every: int,
    decay: DecayCheck,
) -> RetrainDecision:
    """The retraining rule of a night: first night, cadence, or decay.

    Args:
        last_retrained: The ``as_of`` of the last night that retrained (``None``: never).
        sessions_since: Sessions from that night to this one.
        retrain_every: The cadence in sessions.
        decay: The champion's decay check of this night.
    """
    if last_retrained is None:
        return RetrainDecision(True, "first night: no models trained yet")
    if decay.decayed:
        return RetrainDecision(True, f"decay: {decay.reason}")
    since = f"{sessions_since} session(s) since the retraining of {last_retrained:%Y-%m-%d}"
    if sessions_since >= retrain_every:
        return RetrainDecision(True, f"cadence: {since} (retrain_every {retrain_every})")
    return RetrainDecision(False, f"reuse: {since} (retrain_every {retrain_every})")

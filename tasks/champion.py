"""The champion guard: which backtested model may become a ticker's champion, and why.

Two words are kept apart: the *best model* has the lowest backtest error (a baseline can
be it); the *champion* is what the registry's ``champion`` alias points to, and a best
model becomes it only through this guard.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pricecast.tasks.backtest import BASELINES, best_model


@dataclass(frozen=True)
class ChampionDecision:
    """Outcome of the champion guard.

    Attributes:
        best_model: The model with the best backtest metric (baselines included).
        candidate: The recurrent model to register, or ``None`` when a baseline won.
        promote: Whether the candidate takes the ``champion`` alias.
        reason: One sentence saying why.
    """

    best_model: str
    candidate: str | None
    promote: bool
    reason: str


def decide(
    summary: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str = "mase",
    h: int = 1,
    current: float | None = None,
    current_label: str = "the current champion",
    has_current: bool = False,
    min_improvement: float = 0.0,
    unloadable: str | None = None,
) -> ChampionDecision:
    """Apply the guard to a backtest summary.

    The best model by ``metric`` at step ``h`` (lower is better) wins the backtest. A
    recurrent winner is promoted only if it beats persistence and, when a champion
    exists, that champion scored on the same backtest (``current``). When a champion
    exists but could not be scored (``has_current`` with ``current=None``), nothing is
    promoted: the guard cannot show the candidate is better.

    Args:
        summary: ``{model: {metric: [per h]}}`` from ``tasks.backtest.summarize``.
        metric: Ranking metric (``mase``, ``rmse``, ``mae`` or ``mape``).
        h: Step ahead compared.
        current: The current champion's metric on the same backtest.
        current_label: How to name the current champion in the reason.
        has_current: Whether a champion exists at all.
        min_improvement: Relative margin the winner must clear, e.g. ``0.01`` = at least
            1 % lower than persistence and than the current champion.
        unloadable: Why the current champion cannot be loaded at all (its files are
            missing or unreadable). Such a champion can never be scored, so keeping it
            would block the ticker for good: the candidate is judged against persistence
            alone, and every reason starts with this one.
    """
    if unloadable:
        plain = decide(summary, metric, h, None, current_label, False, min_improvement)
        then = (
            "so it is replaced"
            if plain.promote
            else "it will be replaced by the first candidate that beats persistence"
        )
        return ChampionDecision(
            plain.best_model,
            plain.candidate,
            plain.promote,
            f"{unloadable}; {then}: {plain.reason}",
        )
    best = best_model(summary, metric, h)

    def value(name: str) -> float:
        return float(summary[name][metric][h - 1])

    if best in BASELINES:
        return ChampionDecision(
            best,
            None,
            False,
            f"the {best} baseline has the best backtest {metric} at h={h} "
            f"({value(best):.4f}); no recurrent model beats it",
        )
    cand, pers = value(best), value("persistence")
    keep = 1.0 - min_improvement
    margin = f" by {min_improvement:.1%}" if min_improvement else ""
    if not cand < pers * keep:
        return ChampionDecision(
            best,
            best,
            False,
            f"{best} {metric} {cand:.4f} does not beat persistence {pers:.4f}{margin}",
        )
    if has_current and (current is None or not np.isfinite(current)):
        return ChampionDecision(
            best,
            best,
            False,
            f"{best} beats persistence ({cand:.4f} < {pers:.4f}) but {current_label} could not "
            f"be scored on this backtest, so it is kept",
        )
    if current is not None and not cand < current * keep:
        return ChampionDecision(
            best,
            best,
            False,
            f"{best} {metric} {cand:.4f} does not beat {current_label} ({current:.4f}){margin} "
            f"on the same backtest",
        )
    against = f" and {current_label} ({current:.4f})" if current is not None else ""
    return ChampionDecision(
        best,
        best,
        True,
        f"{best} {metric} {cand:.4f} beats persistence ({pers:.4f}){against}",
    )


def fingerprint(prices: pd.DataFrame, settings: Mapping[str, Any]) -> str:
    """A content fingerprint of a candidate: its prices, configuration and seed.

    Two candidates with the same fingerprint were fitted on the same rows with the same
    settings, so registering the second would only add a duplicate version.

    Args:
        prices: The validated prices the candidate was fitted on (index and columns count).
        settings: Everything else that shapes the model (variant, training with its seed,
            features, target, backtest and refit procedure), as JSON-able data.
    """
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(prices, index=True).to_numpy().tobytes())
    meta = {"columns": [str(c) for c in prices.columns], "settings": settings}
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return digest.hexdigest()

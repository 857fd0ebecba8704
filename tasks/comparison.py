"""One table that ranks every model and baseline of a ticker (pure: frames in, frame out).

The test span and the walk-forward backtest score models on different days, and only
some baselines run in both, so each keeps its own columns; ``skill_vs_persistence``
(``1 - MASE / MASE of persistence`` on the same days) puts every model on one scale where
0 is persistence and above 0 beats it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pricecast.tasks.metrics import METRICS, evaluate

SKILL = "skill_vs_persistence"
"""Name of the skill score, as a table column and an MLflow metric."""

REFERENCE = "persistence"
"""The model skill is measured against."""


def skill_vs_persistence(mase: float, persistence_mase: float) -> float:
    """``1 - mase / persistence_mase``: above 0 beats persistence, 0 ties, below 0 loses.

    Returns:
        NaN when either MASE is undefined or persistence's is 0 (no ratio to take).
    """
    if not (np.isfinite(mase) and np.isfinite(persistence_mase)) or persistence_mase <= 0:
        return float("nan")
    return 1.0 - mase / persistence_mase


def with_skill(scores: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Each model's metrics plus its :data:`SKILL` against persistence's MASE on the same days.

    Raises:
        KeyError: If persistence was not scored (every comparison is relative to it).
    """
    if REFERENCE not in scores:
        raise KeyError(f"no {REFERENCE} scores to measure skill against (got {sorted(scores)})")
    ref = float(scores[REFERENCE]["mase"])
    return {
        name: {**m, SKILL: skill_vs_persistence(float(m["mase"]), ref)}
        for name, m in scores.items()
    }


def pooled_scores(frame: pd.DataFrame, scale: float) -> dict[str, dict[str, float]]:
    """Metrics per model over all of a backtest's rows (every origin and step ahead).

    Pooled like the test span's scores (``tasks.evaluation.score``), so the two sets of
    columns of :func:`comparison_table` mean the same thing on different days.

    Args:
        frame: Walk-forward rows (``tasks.backtest.COLUMNS``).
        scale: The backtest's MASE denominator.
    """
    return {
        str(model): evaluate(part["actual"], part["predicted"], part["anchor"], scale)
        for model, part in frame.groupby("model", sort=False)
    }


def comparison_table(
    test: Mapping[str, Mapping[str, float]],
    backtest: Mapping[str, Mapping[str, float]] | None = None,
    bands: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """One row per model and baseline; test and backtest metrics and skill side by side.

    Args:
        test: Test-span metrics per model (learned variants and persistence).
        backtest: Backtest metrics per model (variants and every baseline), e.g. from
            :func:`pooled_scores`; ``None`` when the backtest is off.
        bands: The backtest's interval scores per model (``coverage_80``,
            ``interval_score``, ...), added as ``backtest_<score>`` columns.

    Returns:
        Columns ``model``, ``test_<metric>``, ``test_skill_vs_persistence`` and, with a
        backtest, the same with ``backtest_``. A model missing from one part (a baseline
        that runs only in the backtest) or an undefined metric (persistence's directional
        accuracy) is NaN there. Rows keep the test's order, then backtest-only models.
    """
    parts = {"test": with_skill(test)}
    if backtest is not None:
        parts["backtest"] = with_skill(backtest)
    names = list(dict.fromkeys(name for scores in parts.values() for name in scores))
    columns = [f"{part}_{m}" for part in parts for m in (*METRICS, SKILL)]
    rows = [
        {
            "model": name,
            **{
                f"{part}_{m}": float(scores.get(name, {}).get(m, np.nan))
                for part, scores in parts.items()
                for m in (*METRICS, SKILL)
            },
        }
        for name in names
    ]
    table = pd.DataFrame(rows, columns=["model", *columns])
    scores = list(dict.fromkeys(k for m in (bands or {}).values() for k in m))
    for score in scores:
        table[f"backtest_{score}"] = [
            float((bands or {}).get(name, {}).get(score, np.nan)) for name in names
        ]
    return table

"""The comparison table: every model and baseline, test and backtest, skill vs persistence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pricecast.tasks.comparison import (
    comparison_table,
    pooled_scores,
    skill_vs_persistence,
    with_skill,
)
from pricecast.tasks.interval_scores import interval_columns
from pricecast.tasks.metrics import METRICS


def _scores(mase: float, da: float = 0.5) -> dict[str, float]:
    return {"rmse": 2 * mase, "mae": mase, "mape": 1.0, "mase": mase, "directional_accuracy": da}


def test_skill_is_one_minus_the_mase_ratio_and_undefined_without_a_reference():
    assert skill_vs_persistence(0.8, 1.0) == pytest.approx(0.2)
    assert skill_vs_persistence(1.25, 1.0) == pytest.approx(-0.25)
    assert math.isnan(skill_vs_persistence(0.8, 0.0))
    assert math.isnan(skill_vs_persistence(float("nan"), 1.0))
    with pytest.raises(KeyError, match="no persistence scores"):
        with_skill({"lstm": _scores(1.0)})


def test_table_rows_columns_and_models_missing_from_one_part():
    test = {"lstm": _scores(0.9), "persistence": _scores(1.0, float("nan"))}
    backtest = {
        "lstm": _scores(1.1),
        "persistence": _scores(1.0, float("nan")),
        "drift": _scores(0.95),
    }
    table = comparison_table(test, backtest).set_index("model")
    assert list(table.index) == ["lstm", "persistence", "drift"]
    names = [*METRICS, "skill_vs_persistence"]
    assert list(table.columns) == [f"{p}_{m}" for p in ("test", "backtest") for m in names]
    assert table.loc["lstm", "test_skill_vs_persistence"] == pytest.approx(0.1)
    assert table.loc["lstm", "backtest_skill_vs_persistence"] == pytest.approx(-0.1)
    assert table.loc["drift", "backtest_skill_vs_persistence"] == pytest.approx(0.05)
    assert table.loc["persistence", "test_skill_vs_persistence"] == 0.0
    assert table.loc["drift"].filter(regex="^test_").isna().all()
    assert np.isnan(table.loc["persistence", "backtest_directional_accuracy"])
    # Without a backtest: test columns only.
    assert list(comparison_table(test).columns) == ["model", *[f"test_{m}" for m in names]]


def test_pooled_scores_cover_every_row_of_a_model():
    frame = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b"],
            "h": [1, 2, 1, 2],
            "actual": [10.0, 12.0, 10.0, 12.0],
            "predicted": [11.0, 12.0, 10.0, 10.0],
            "anchor": [10.0, 10.0, 10.0, 10.0],
        }
    )
    pooled = pooled_scores(frame, scale=2.0)
    assert list(pooled) == ["a", "b"]
    assert pooled["a"]["mae"] == pytest.approx(0.5) and pooled["a"]["mase"] == pytest.approx(0.25)
    assert pooled["b"]["rmse"] == pytest.approx(math.sqrt(2.0))


def test_interval_scores_join_the_table_as_backtest_columns():
    summary = {
        "gru": {"mase": [0.9, 1.0], "coverage_80": [0.8, 0.7], "interval_score": [2.0, 4.0]},
        "persistence": {
            "mase": [1.0, 1.0],
            "coverage_80": [0.9, np.nan],
            "interval_score": [3.0, 3.0],
        },
    }
    bands = interval_columns(summary)
    assert bands == {
        "gru": {"coverage_80": pytest.approx(0.75), "interval_score": pytest.approx(3.0)},
        "persistence": {"coverage_80": pytest.approx(0.9), "interval_score": pytest.approx(3.0)},
    }
    test = {"gru": {m: 1.0 for m in METRICS}, "persistence": {m: 1.0 for m in METRICS}}
    table = comparison_table(test, None, bands).set_index("model")
    assert table.loc["gru", "backtest_coverage_80"] == pytest.approx(0.75)
    assert table.loc["persistence", "backtest_interval_score"] == pytest.approx(3.0)
    assert "backtest_mase" not in table.columns  # point metrics come from the pooled rows

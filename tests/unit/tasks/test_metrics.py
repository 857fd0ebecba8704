"""Metrics against hand-computed values, and the persistence score of the seed FB case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pricecast.tasks.baselines import persistence
from pricecast.tasks.evaluation import baseline_forecasts, score
from pricecast.tasks.metrics import (
    METRICS,
    directional_accuracy,
    evaluate,
    evaluate_by_horizon,
    naive_scale,
)

ACTUAL = np.array([100.0, 102.0, 101.0, 105.0])
PREDICTED = np.array([101.0, 101.0, 103.0, 104.0])
ANCHOR = np.array([100.0, 100.0, 102.0, 101.0])
# errors: -1, +1, -2, +1


def test_evaluate_by_hand():
    m = evaluate(ACTUAL, PREDICTED, ANCHOR, scale=2.5)
    assert set(m) == set(METRICS)
    assert m["mae"] == pytest.approx(5 / 4)
    assert m["rmse"] == pytest.approx(math.sqrt(7 / 4))
    assert m["mape"] == pytest.approx(100 * (1 / 100 + 1 / 102 + 2 / 101 + 1 / 105) / 4)
    assert m["mase"] == pytest.approx((5 / 4) / 2.5)
    # Real moves 0, +2, -1, +4; forecast moves +1, +1, +1, +3: 2 of 4 agree.
    assert m["directional_accuracy"] == 0.5


def test_evaluate_pools_horizons_and_broadcasts_anchor():
    actual = np.array([[10.0, 12.0], [9.0, 8.0]])
    predicted = np.array([[11.0, 11.0], [9.0, 10.0]])
    anchor = np.array([10.0, 10.0])
    m = evaluate(actual, predicted, anchor, scale=1.0)
    # errors -1, +1, 0, -2
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(math.sqrt(6 / 4))
    assert m["mape"] == pytest.approx(100 * (1 / 10 + 1 / 12 + 0 + 2 / 8) / 4)
    # real moves 0, +2, -1, -2; forecast moves +1, +1, -1, 0 -> agree on 2nd and 3rd
    assert m["directional_accuracy"] == 0.5


def test_evaluate_shape_mismatch_and_zero_scale():
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate(ACTUAL, PREDICTED[:3], ANCHOR, 1.0)
    assert math.isnan(evaluate(ACTUAL, PREDICTED, ANCHOR, 0.0)["mase"])


def test_perfect_forecast():
    m = evaluate(ACTUAL, ACTUAL, ANCHOR, 1.0)
    assert m["rmse"] == m["mae"] == m["mape"] == m["mase"] == 0.0
    assert m["directional_accuracy"] == 1.0


def test_directional_accuracy_flat_forecast_only_right_when_flat():
    actual = np.array([5.0, 6.0, 4.0, 5.0])
    anchor = np.array([5.0, 5.0, 5.0, 5.0])
    # A forecast that never moves calls no direction: undefined, not the still days' share.
    assert math.isnan(directional_accuracy(actual, anchor, anchor))
    assert directional_accuracy(actual, np.array([5.0, 5.5, 5.5, 5.0]), anchor) == 0.75
    assert directional_accuracy(actual, np.array([5.5, 5.5, 5.5, 5.5]), anchor) == 0.25


def test_naive_scale():
    p = np.array([10.0, 12.0, 11.0, 15.0])
    assert naive_scale(p) == pytest.approx(7 / 3)  # |2|, |-1|, |4|
    assert naive_scale(p, lag=2) == pytest.approx(2.0)  # |1|, |3|
    with pytest.raises(ValueError, match="2 prices are too few for a lag-2"):
        naive_scale(p[:2], lag=2)


def test_evaluate_by_horizon():
    actual = np.array([[10.0, 12.0], [9.0, 8.0]])
    predicted = np.array([[11.0, 11.0], [9.0, 10.0]])
    out = evaluate_by_horizon(actual, predicted, np.array([10.0, 10.0]), 1.0)
    assert set(out) == set(METRICS)
    assert out["mae"] == pytest.approx([0.5, 1.5])
    assert out["rmse"] == pytest.approx([math.sqrt(1 / 2), math.sqrt(5 / 2)])
    assert out["directional_accuracy"] == [0.5, 0.5]


def test_seed_fb_persistence_score(fb_prepared):
    """The classic case: persistence over the 21 test days of January 2020."""
    d = fb_prepared
    anchors = d.anchors("test")
    assert len(anchors) == 21
    forecast = persistence(anchors, d.horizon)
    m = evaluate(d.actual_prices("test"), forecast, anchors, d.train_scale)
    assert m["rmse"] == pytest.approx(4.248, abs=1e-3)
    assert m["mape"] == pytest.approx(1.388, abs=1e-3)
    # A flat forecast calls no direction: its directional accuracy is undefined.
    assert math.isnan(m["directional_accuracy"])
    # The flow's scoring path gives the same numbers.
    scored = score(d, baseline_forecasts(d))["persistence"]
    assert scored == pytest.approx(m, nan_ok=True)

"""Conformal bands and their scores: hand-computed values, one origin set, the config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pricecast.configs.intervals import IntervalsConfig
from pricecast.tasks.backtest import summarize
from pricecast.tasks.interval_scores import (
    common_rows,
    coverage,
    interval_metrics,
    interval_score,
    levels_of,
    pinball,
)
from pricecast.tasks.intervals import (
    Calibration,
    bound_columns,
    conformal_bands,
    conformal_quantiles,
    ewma_volatility,
    residuals,
    shifted,
)


def test_pinball_and_interval_score_equal_hand_computed_values():
    y = np.array([10.0, 12.0, 7.0])
    lo, up = np.array([9.0, 9.0, 9.0]), np.array([11.0, 11.0, 11.0])
    # Widths 2; misses: 12 is 1 above (penalty 2/0.2 * 1 = 10), 7 is 2 below (2/0.2*2 = 20).
    assert interval_score(y, lo, up, 0.8) == pytest.approx((2 + 12 + 22) / 3)
    # tau = 0.1 on the lower bound: inside -> 0.1 * (y - q); below -> 0.9 * (q - y).
    assert pinball(y, lo, 0.1) == pytest.approx((0.1 * 1 + 0.1 * 3 + 0.9 * 2) / 3)
    assert pinball(y, up, 0.9) == pytest.approx((0.1 * 1 + 0.9 * 1 + 0.1 * 4) / 3)
    assert coverage(y, lo, up) == pytest.approx(1 / 3)


def test_interval_metrics_are_relative_to_the_origin_price():
    part = pd.DataFrame(
        {"actual": [110.0, 90.0], "anchor": [100.0, 100.0]}
        | {"lower_80": [95.0, 95.0], "upper_80": [105.0, 105.0]}
    )
    got = interval_metrics(part, [0.8])
    assert got["coverage_80"] == 0.0
    assert got["width_80"] == pytest.approx(0.1)
    # Each misses by 0.05 of the price: 0.1 + 10 * 0.05.
    assert got["interval_score_80"] == pytest.approx(0.6) == got["interval_score"]
    lower = (0.1 * 0.15 + 0.9 * 0.05) / 2
    upper = (0.9 * 0.05 + 0.1 * 0.15) / 2
    assert got["pinball"] == pytest.approx((lower + upper) / 2)


def test_conformal_quantiles_take_the_finite_sample_order_statistics():
    pool = np.arange(1.0, 20.0)  # 19 residuals: (n + 1) * 0.9 = 18th smallest on top
    assert conformal_quantiles(pool, 0.8) == (2.0, 18.0)
    # Too few for the level: the extreme residuals.
    assert conformal_quantiles(pool[:5], 0.95) == (1.0, 5.0)


def test_residuals_and_shift_are_inverse_in_both_spaces():
    a, p = np.array([105.0, 90.0]), np.array([100.0, 100.0])
    for relative in (True, False):
        np.testing.assert_allclose(shifted(p, residuals(a, p, relative), relative), a)


def test_bands_use_only_ready_residuals_of_the_latest_window():
    prices = np.arange(100.0, 140.0)
    origins = np.arange(0, 30)
    # A constant forecast of 100: residual of origin o, h=1 is (101 + o) - 100.
    cal = Calibration.of_forecasts(origins, np.full((30, 1), 100.0), prices, relative=False)
    np.testing.assert_array_equal(cal.ready[:, 0], origins + 1)
    idx = cal.usable(origin=20, h=1, window=5)
    # Targets 16..20 are the latest ones known at row 20.
    np.testing.assert_array_equal(cal.origin[idx], [15, 16, 17, 18, 19])
    bands = conformal_bands(cal, np.array([20]), np.array([[0.0]]), [0.5], False, 5, 5)
    assert bands["lower_50"][0, 0] == 16.0 and bands["upper_50"][0, 0] == 20.0
    too_few = conformal_bands(cal, np.array([3]), np.array([[0.0]]), [0.5], False, 5, 5)
    assert np.isnan(too_few["lower_50"][0, 0])


def test_coverage_is_scored_on_the_same_origins_for_every_model():
    days = pd.bdate_range("2024-01-01", periods=4)
    rows = []
    for model, shift in (("a", 0.0), ("b", 2.0)):
        for i, day in enumerate(days):
            lo = np.nan if (model == "b" and i == 0) else 95.0 + shift
            rows.append(
                {"cutoff": day, "date": day, "h": 1, "actual": 100.0 + 2 * i, "predicted": 100.0}
                | {"model": model, "anchor": 100.0, "lower_80": lo, "upper_80": 105.0 + shift}
            )
    frame = pd.DataFrame(rows)
    assert levels_of(frame) == [0.8]
    keep = common_rows(frame, [0.8])
    assert keep.sum() == 6 and not keep[frame["cutoff"] == days[0]].any()
    summary = summarize(frame, scale=1.0)
    # a covers 3 of 4 days (100, 102, 104 in [95, 105]) but is scored on days 1..3
    # only, as b (no band on day 0) is.
    assert summary["a"]["coverage_80"] == [pytest.approx(2 / 3)]
    assert summary["b"]["coverage_80"] == [1.0]


def test_config_levels_are_checked():
    assert IntervalsConfig().levels == [0.8, 0.95]
    assert bound_columns([0.8, 0.975]) == ["lower_80", "upper_80", "lower_97.5", "upper_97.5"]
    for bad in ([0.95, 0.8], [0.8, 0.8], [1.0], [0.0], []):
        with pytest.raises(ValidationError, match="levels"):
            IntervalsConfig(levels=bad)
    with pytest.raises(ValidationError, match="min_residuals"):
        IntervalsConfig(window=30, min_residuals=40)


def test_ewma_volatility_reads_only_moves_up_to_its_row():
    p = 100.0 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 200)))
    vol = ewma_volatility(p, relative=True, halflife=10)
    changed = p.copy()
    changed[120:] *= 3.0
    np.testing.assert_array_equal(ewma_volatility(changed, True, 10)[:120], vol[:120])
    assert vol[-1] == pytest.approx(0.01, rel=0.5)
    diffs = ewma_volatility(np.array([0.0, 1.0, -1.0, 1.0]), relative=False, halflife=1)
    assert np.isfinite(diffs).all() and diffs[0] == diffs[1] == 1.0

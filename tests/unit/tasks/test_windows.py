"""Sliding windows and forecast targets against hand-built arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.tasks.features import (
    default_inputs,
    input_frame,
    prices_from_targets,
    target_matrix,
)
from pricecast.tasks.windows import supervised, windows


def test_windows_of_a_two_feature_matrix():
    values = np.arange(12.0).reshape(6, 2)  # row t = [2t, 2t+1]
    x = windows(values, 3)
    assert x.shape == (4, 3, 2)
    np.testing.assert_array_equal(x[0], [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(x[3], [[6, 7], [8, 9], [10, 11]])
    for i in range(4):
        np.testing.assert_array_equal(x[i], values[i : i + 3])


def test_windows_of_a_series_is_one_feature():
    x = windows(np.arange(5.0), 2)
    assert x.shape == (4, 2, 1)
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1], [1, 2], [2, 3], [3, 4]])


def test_windows_full_length_and_too_short():
    assert windows(np.arange(4.0), 4).shape == (1, 4, 1)
    with pytest.raises(ValueError, match="3 rows cannot fill a window of 4"):
        windows(np.arange(3.0), 4)


def test_windows_are_read_only_views():
    values = np.arange(10.0).reshape(5, 2)
    x = windows(values, 2)
    assert not x.flags.writeable
    assert np.shares_memory(x, values)


def test_target_matrix_level_horizon_three():
    p = np.arange(10.0, 16.0)  # 10..15
    y = target_matrix(p, 3, "level")
    expected = np.array(
        [
            [11, 12, 13],
            [12, 13, 14],
            [13, 14, 15],
            [np.nan] * 3,
            [np.nan] * 3,
            [np.nan] * 3,
        ]
    )
    np.testing.assert_array_equal(y, expected)


def test_target_matrix_log_return_horizon_two():
    p = np.array([100.0, 110.0, 99.0, 120.0])
    y = target_matrix(p, 2, "log_return")
    expected = np.array(
        [
            [np.log(110 / 100), np.log(99 / 100)],
            [np.log(99 / 110), np.log(120 / 110)],
            [np.nan, np.nan],  # the horizon runs past the end: the whole row is NaN
            [np.nan, np.nan],
        ]
    )
    assert y.shape == (4, 2)
    np.testing.assert_allclose(y, expected, rtol=1e-14)  # NaN positions must match too


def test_target_matrix_too_short_is_all_nan():
    assert np.isnan(target_matrix(np.array([1.0, 2.0]), 2, "level")).all()
    y = target_matrix(np.array([1.0, 2.0, 3.0]), 2, "level")
    np.testing.assert_array_equal(y[0], [2.0, 3.0])
    assert np.isnan(y[1:]).all()


def test_supervised_pairs_windows_with_targets_at_their_origin():
    values = np.column_stack([np.arange(7.0), 100 + np.arange(7.0)])  # F = 2
    p = 50.0 + np.arange(7.0)
    targets = target_matrix(p, 2, "level")
    x, y, origins = supervised(values, targets, 3)
    assert x.shape == (5, 3, 2)
    assert y.shape == (5, 2)
    np.testing.assert_array_equal(origins, [2, 3, 4, 5, 6])
    for i, o in enumerate(origins):
        # The window ends at its origin; the targets are the next two prices.
        np.testing.assert_array_equal(x[i, -1], values[o])
        np.testing.assert_array_equal(x[i], values[o - 2 : o + 1])
        if o + 2 < 7:
            np.testing.assert_array_equal(y[i], [p[o + 1], p[o + 2]])
    np.testing.assert_array_equal(y[:3], [[53, 54], [54, 55], [55, 56]])
    # Origin 5 lacks p[7] and origin 6 lacks both: rows running past the end are NaN.
    assert np.isnan(y[3:]).all()


@pytest.mark.parametrize("transform", ["level", "log_return"])
@pytest.mark.parametrize("horizon", [1, 3])
def test_prices_from_targets_inverts_target_matrix(transform, horizon):
    p = np.array([100.0, 101.5, 99.0, 103.2, 104.0, 102.5, 108.0])
    y = target_matrix(p, horizon, transform)
    valid = ~np.isnan(y).any(axis=1)
    rebuilt = prices_from_targets(y[valid], p[valid], transform)
    origins = np.flatnonzero(valid)
    expected = p[origins[:, None] + np.arange(1, horizon + 1)]
    np.testing.assert_allclose(rebuilt, expected, rtol=1e-12)


def _frame(close, volume):
    idx = pd.date_range("2020-01-01", periods=len(close), freq="B", name="date")
    return pd.DataFrame({"close": close, "adj_close": close, "volume": volume}, index=idx)


def test_input_frame_log_return_drops_the_first_row():
    prices = _frame([100.0, 110.0, 99.0], [1.0, 2.0, 3.0])
    out = input_frame(prices, ["log_return", "close", "log_volume"], "close")
    assert list(out.columns) == ["log_return", "close", "log_volume"]
    assert list(out.index) == list(prices.index[1:])
    np.testing.assert_allclose(out["log_return"], [np.log(1.1), np.log(0.9)])
    np.testing.assert_allclose(out["close"], [110.0, 99.0])
    np.testing.assert_allclose(out["log_volume"], np.log1p([2.0, 3.0]))


def test_input_frame_raw_columns_keep_every_row():
    prices = _frame([100.0, 110.0, 99.0], [1.0, 2.0, 3.0])
    out = input_frame(prices, ["close", "volume"], "close")
    assert len(out) == 3
    np.testing.assert_array_equal(out.to_numpy(), [[100, 1], [110, 2], [99, 3]])


def test_default_inputs_follow_the_transform():
    assert default_inputs("close", "log_return") == ["log_return"]
    assert default_inputs("adj_close", "level") == ["adj_close"]

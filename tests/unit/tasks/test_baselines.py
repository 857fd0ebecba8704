"""Baselines on tiny arrays, computed by hand."""

from __future__ import annotations

import numpy as np

from pricecast.tasks.baselines import drift, moving_average, persistence

PRICES = np.array([10.0, 12.0, 11.0, 15.0])


def test_persistence_repeats_the_origin_price():
    out = persistence(np.array([1.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(out, [[1, 1], [2, 2], [3, 3]])
    assert out.shape == (3, 2)


def test_drift_extends_the_line_from_the_first_price():
    out = drift(PRICES, np.array([0, 1, 3]), 2)
    # origin 0: no slope yet; origin 1: slope 2/1; origin 3: slope 5/3.
    np.testing.assert_allclose(out, [[10, 10], [14, 16], [15 + 5 / 3, 15 + 10 / 3]])


def test_drift_from_a_later_start():
    out = drift(PRICES, np.array([3]), 1, start=1)
    np.testing.assert_allclose(out, [[15 + 3 / 2]])  # slope (15 - 12) / 2


def test_moving_average_uses_prices_up_to_the_origin():
    out = moving_average(PRICES, np.array([0, 1, 2, 3]), 3, window=2)
    # origin 0 has one price only; the others average the last two.
    expected = np.repeat([[10.0], [11.0], [11.5], [13.0]], 3, axis=1)
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(moving_average(PRICES, np.array([3]), 1, window=10), [[12.0]])

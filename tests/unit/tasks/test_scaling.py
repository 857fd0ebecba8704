"""SeriesScaler: exact round trips and statistics of the training rows only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pricecast.tasks.scaling import SeriesScaler

METHODS = ["minmax", "standard"]

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _fitted(method: str, rng: np.random.Generator) -> SeriesScaler:
    inputs = rng.normal(100.0, 15.0, size=(60, 3)) * np.array([1.0, 0.01, 1e5])
    targets = rng.normal(0.0, 0.02, size=(55, 2))
    return SeriesScaler(method).fit(inputs, targets)


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_inputs_and_targets(method):
    rng = np.random.default_rng(7)
    scaler = _fitted(method, rng)
    x = rng.normal(120.0, 40.0, size=(25, 3)) * np.array([1.0, 0.01, 1e5])
    y = rng.normal(0.0, 0.05, size=(25, 2))
    xs, ys = scaler.transform_inputs(x), scaler.transform_targets(y)
    assert xs.shape == x.shape and ys.shape == y.shape
    assert not np.allclose(xs, x)  # it does scale
    np.testing.assert_allclose(scaler.inverse_inputs(xs), x, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(scaler.inverse_targets(ys), y, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=40, deadline=None)
@given(
    fit_x=arrays("float64", st.tuples(st.integers(2, 12), st.integers(1, 3)), elements=finite),
    data=st.data(),
)
def test_round_trip_property(method, fit_x, data):
    n_features = fit_x.shape[1]
    fit_y = data.draw(
        arrays("float64", st.tuples(st.integers(2, 12), st.integers(1, 3)), elements=finite)
    )
    x = data.draw(
        arrays("float64", st.tuples(st.integers(1, 8), st.just(n_features)), elements=finite)
    )
    y = data.draw(
        arrays("float64", st.tuples(st.integers(1, 8), st.integers(1, 4)), elements=finite)
    )
    scaler = SeriesScaler(method).fit(fit_x, fit_y)
    tol_x = 1e-9 * max(1.0, np.abs(x).max(), np.abs(fit_x).max())
    tol_y = 1e-9 * max(1.0, np.abs(y).max(), np.abs(fit_y).max())
    np.testing.assert_allclose(scaler.inverse_inputs(scaler.transform_inputs(x)), x, atol=tol_x)
    np.testing.assert_allclose(scaler.inverse_targets(scaler.transform_targets(y)), y, atol=tol_y)


def test_minmax_statistics_come_from_the_fit_rows_only():
    train_x = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]])
    train_y = np.array([[0.1, -0.2], [0.3, 0.0]])
    scaler = SeriesScaler("minmax").fit(train_x, train_y)
    assert scaler.state() == {
        "method": "minmax",
        "inputs": {"data_min_": [1.0, 10.0], "data_max_": [3.0, 30.0]},
        "targets": {"data_min_": [-0.2], "data_max_": [0.3]},
    }
    np.testing.assert_allclose(
        scaler.transform_inputs(np.array([[2.0, 40.0]])), [[0.5, 1.5]]
    )  # later values may leave [0, 1]
    np.testing.assert_allclose(scaler.transform_targets(np.array([0.05])), [0.5])


def test_standard_statistics_and_shared_target_column():
    train_x = np.array([[1.0], [3.0]])
    train_y = np.array([[1.0, 2.0], [3.0, 6.0]])  # all H columns pooled: mean 3, std sqrt(3.5)
    scaler = SeriesScaler("standard").fit(train_x, train_y)
    state = scaler.state()
    assert state["inputs"] == {"mean_": [2.0], "scale_": [1.0]}
    assert state["targets"]["mean_"] == [3.0]
    assert state["targets"]["scale_"] == pytest.approx([np.sqrt(3.5)])


def test_targets_keep_shape_and_nan():
    scaler = SeriesScaler("minmax").fit(np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]]))
    y = np.array([[1.0, np.nan], [2.0, 0.0]])
    out = scaler.transform_targets(y)
    assert out.shape == (2, 2)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(y))
    np.testing.assert_allclose(out[~np.isnan(y)], [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(np.isnan(scaler.inverse_targets(out)), np.isnan(y))


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="unknown scaler 'robust'"):
        SeriesScaler("robust")

"""pool() and the windows it stacks: each ticker scaled on its own, nothing from its test span."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.schema import BacktestConfig, FeaturesConfig, SplitConfig
from pricecast.stores.price_format import normalize_yahoo
from pricecast.tasks.backtest import backtest_setup, walk_forward
from pricecast.tasks.dataset import build_dataset
from pricecast.tasks.forecasters import series_from_prices
from pricecast.tasks.pooling import (
    backtest_arrays,
    first_origin,
    frozen,
    pool,
    table_arrays,
)
from pricecast.tasks.synthetic import gbm_prices
from pricecast.tasks.validate import validate_prices

FEATURES = FeaturesConfig(window=5, horizon=2, inputs=["adj_close"], target_transform="level")
SPLIT = SplitConfig(test_fraction=0.1, val_fraction=0.1)
BACKTEST = BacktestConfig(n_origins=30)


def _prices(seed: int, factor: float = 1.0) -> pd.DataFrame:
    raw = gbm_prices("SYN", "2019-01-01", "2019-12-31", seed).frame
    raw = raw.assign(Date=pd.to_datetime(raw["Date"]))
    for c in ("Open", "High", "Low", "Close", "Adj Close"):
        raw[c] = raw[c] * factor
    return validate_prices(normalize_yahoo(raw, "SYN"), "SYN").frame


def _table(frames: dict[str, pd.DataFrame]):
    data = {t: build_dataset(f, t, FEATURES, SPLIT, "adj_close") for t, f in frames.items()}
    return data, pool({t: table_arrays(d) for t, d in data.items()})


def _backtest(frame: pd.DataFrame):
    series = series_from_prices(frame, FEATURES, "adj_close")
    setup = backtest_setup(series, FEATURES, BACKTEST, "adj_close", None)
    cutoff = first_origin(series, BACKTEST)
    return cutoff, backtest_arrays(series, setup, FEATURES.horizon, cutoff)


def test_shapes_and_counts_follow_each_ticker():
    data, pooled = _table({"AAA": _prices(1), "BBB": _prices(2)})
    for t, d in data.items():
        assert pooled.counts[t] == (len(d.part("train")[0]), len(d.part("val")[0]))
    n = sum(c[0] for c in pooled.counts.values())
    m = sum(c[1] for c in pooled.counts.values())
    assert pooled.x_train.shape == (n, 5, 1) and pooled.y_train.shape == (n, 2)
    assert pooled.x_val.shape == (m, 5, 1) and pooled.y_val.shape == (m, 2)
    assert pooled.samples == n
    # In ticker order: the first block is AAA's own training windows.
    k = pooled.counts["AAA"][0]
    np.testing.assert_array_equal(pooled.x_train[:k], data["AAA"].part("train")[0])


def test_each_ticker_is_scaled_by_its_own_scaler():
    _, base = _table({"AAA": _prices(1), "BBB": _prices(2)})
    # BBB a hundred times dearer: its windows (min-max on its own rows) do not move, nor AAA's.
    data, scaled = _table({"AAA": _prices(1), "BBB": _prices(2, factor=100.0)})
    np.testing.assert_allclose(scaled.x_train, base.x_train, atol=1e-5)
    np.testing.assert_allclose(scaled.y_val, base.y_val, atol=1e-5)
    # Every ticker's training inputs lie in [0, 1] of its own scaler.
    k = scaled.counts["AAA"][0]
    for block in (scaled.x_train[:k], scaled.x_train[k:]):
        assert -1e-6 <= block.min() < 0.2 and 0.8 < block.max() <= 1 + 1e-6
    assert data["BBB"].scaler.inputs.data_max_[0] > 100 * data["AAA"].scaler.inputs.data_min_[0]


def test_no_target_from_the_test_span_or_the_backtest_origins():
    frame = _prices(3)
    data, pooled = _table({"AAA": frame, "BBB": _prices(4)})
    cutoff, arrays = _backtest(frame)
    # Wild prices from the test span on: the test-table windows do not change.
    test_from = data["AAA"].dates[data["AAA"].origins[data["AAA"].split == "test"][0] + 1]
    wild = frame.copy()
    wild.loc[wild.index >= test_from, ["open", "high", "low", "close", "adj_close"]] *= 7.0
    _, again = _table({"AAA": wild, "BBB": _prices(4)})
    for a, b in zip(
        (pooled.x_train, pooled.y_train, pooled.x_val, pooled.y_val),
        (again.x_train, again.y_train, again.x_val, again.y_val),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    # Wild prices from the first backtest origin on: its training windows do not change.
    wild = frame.copy()
    wild.iloc[cutoff:, :5] *= 7.0
    cut_again, arrays_again = _backtest(wild)
    assert cut_again == cutoff
    for a, b in zip(arrays, arrays_again, strict=True):
        np.testing.assert_array_equal(a, b)
    # The last training target is the row before the origin.
    x_tr, y_tr, x_val, y_val = arrays
    assert len(x_tr) + len(x_val) == cutoff - FEATURES.window - FEATURES.horizon + 1


def test_windows_of_other_shapes_name_the_ticker():
    a = (np.zeros((4, 5, 1)), np.zeros((4, 2)), np.zeros((2, 5, 1)), np.zeros((2, 2)))
    b = (np.zeros((4, 5, 2)), np.zeros((4, 2)), np.zeros((2, 5, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="BBB: windows"):
        pool({"AAA": a, "BBB": b})
    with pytest.raises(ValueError, match="at least one ticker"):
        pool({})


def test_frozen_model_serves_the_walk_forward_and_refuses_a_refit():
    frame = _prices(5)
    calls = []

    def predict(model, x):
        calls.append(len(x))
        return np.full((len(x), 2), model)

    fns = frozen("pooled", 0.5, predict)
    out = walk_forward(frame, [fns], features=FEATURES, backtest=BACKTEST, include_baselines=False)
    assert out["cutoff"].nunique() == 30 and calls == [30]
    assert fns.fit(None, None, None, None, None) == 0.5
    with pytest.raises(ValueError, match="refit_every must be 0"):
        fns.fit(None, None, None, None, 0.5)

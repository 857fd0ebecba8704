"""build_dataset(): chronological spans, windows from the days before, a scaler of training rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pricecast.configs.schema import FeaturesConfig, SplitConfig
from pricecast.tasks.dataset import build_dataset, origin_splits, split_labels
from pricecast.tasks.features import target_matrix
from pricecast.tasks.validate import PriceDataError

PRICES = ["open", "high", "low", "close", "adj_close"]


def test_seed_fb_spans(fb_prepared):
    d = fb_prepared
    assert d.features == ["log_return"]
    assert d.x.shape == (len(d.origins), 40, 1) and d.x.dtype == np.float32
    assert d.y.shape == (len(d.origins), 1)
    # Test = the 21 trading days of January 2020; validation ends the day before.
    assert (d.split == "test").sum() == 21
    assert d.span("test") == (pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-31"))
    assert d.span("val")[1] == pd.Timestamp("2019-12-31")
    assert d.span("train")[1] + pd.offsets.BDay(1) == d.span("val")[0]
    # Chronological: every train origin precedes every val origin precedes every test one.
    o = {name: d.origins[d.split == name] for name in ("train", "val", "test")}
    assert o["train"].max() < o["val"].min() and o["val"].max() < o["test"].min()
    # The last origin's target runs past the end: in no split.
    assert d.split[-1] == "" and np.isnan(d.y[-1]).all()
    assert not np.isnan(d.y[d.split != ""]).any()


def test_seed_fb_targets_and_windows_match_the_prices(fb_prepared, fb_seed_prices):
    d = fb_prepared
    close = fb_seed_prices["close"]
    np.testing.assert_array_equal(d.prices, close.loc[d.dates].to_numpy())
    assert d.dates[0] == close.index[1]  # the first log-return needs the day before
    test_y = d.scaler.inverse_targets(d.part("test")[1])
    np.testing.assert_allclose(
        test_y[:, 0],
        np.log(d.actual_prices("test")[:, 0] / d.anchors("test")),
        rtol=1e-5,
        atol=1e-7,  # float32 storage
    )
    # The first test window holds the 40 log-returns up to 2019-12-31 (from the val span).
    first = np.flatnonzero(d.split == "test")[0]
    assert d.dates[d.origins[first]] == pd.Timestamp("2019-12-31")
    returns = np.log(close).diff().loc[:"2019-12-31"].to_numpy()[-40:]
    np.testing.assert_allclose(
        d.scaler.inverse_inputs(d.x[first].astype("float64"))[:, 0], returns, rtol=1e-5, atol=1e-6
    )
    # MASE scale: in-sample persistence MAE over the training rows.
    train_rows = np.zeros(len(d.dates), bool)
    train_rows[: d.origins[d.split == "train"].max() + 2] = True
    assert d.train_scale == pytest.approx(np.mean(np.abs(np.diff(d.prices[train_rows]))), 1e-9)


def test_seed_fb_scaler_is_fitted_on_training_rows(fb_prepared):
    d = fb_prepared
    train_targets = d.scaler.inverse_targets(d.part("train")[1])
    state = d.scaler.state()
    assert state["targets"]["data_min_"] == pytest.approx([train_targets.min()], abs=1e-6)
    assert state["targets"]["data_max_"] == pytest.approx([train_targets.max()], abs=1e-6)
    assert d.part("train")[1].min() == pytest.approx(0.0, abs=1e-6)
    assert d.part("train")[1].max() == pytest.approx(1.0, abs=1e-6)


# --------------------------------------------------------------------------- no leakage

FEATURES = st.builds(
    FeaturesConfig,
    window=st.sampled_from([5, 20, 40]),
    horizon=st.integers(1, 3),
    inputs=st.sampled_from([None, ["log_return", "log_volume"], ["close", "high", "log_return"]]),
    target_transform=st.sampled_from(["log_return", "level"]),
    scaler=st.sampled_from(["minmax", "standard"]),
)
SPLITS = st.sampled_from(
    [
        SplitConfig(train_end=dt.date(2019, 12, 31), test_start=dt.date(2020, 1, 1)),
        SplitConfig(test_start=dt.date(2019, 11, 1), val_fraction=0.2),
        SplitConfig(test_fraction=0.05, val_fraction=0.1),
    ]
)
positive = st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)


# The fixture is copied before any change, so sharing it between examples is safe.
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(features=FEATURES, split=SPLITS, spans=st.sampled_from(["test", "val+test"]), data=st.data())
def test_later_prices_never_reach_the_scaler(fb_seed_prices, features, split, spans, data):
    base = build_dataset(fb_seed_prices, "FB", features, split, "close")
    first = base.span("val" if spans == "val+test" else "test")[0]
    later = fb_seed_prices.index >= first
    n = int(later.sum())
    how = data.draw(st.sampled_from(["replace", "scale"]), label="how")
    values = data.draw(arrays("float64", (n, len(PRICES)), elements=positive), label="values")
    changed = fb_seed_prices.copy()
    if how == "replace":
        changed.loc[later, PRICES] = values
    else:
        changed.loc[later, PRICES] = changed.loc[later, PRICES].to_numpy() * values / 1e3
    volume = data.draw(st.floats(0, 1e9, allow_nan=False), label="volume")
    changed.loc[later, "volume"] = volume

    after = build_dataset(changed, "FB", features, split, "close")

    assert after.scaler.state() == base.scaler.state()
    assert after.train_scale == base.train_scale
    np.testing.assert_array_equal(after.split, base.split)
    x0, y0 = base.part("train")
    x1, y1 = after.part("train")
    np.testing.assert_array_equal(x1, x0)
    np.testing.assert_array_equal(y1, y0)


# --------------------------------------------------------------------------- spans too short


def test_test_span_shorter_than_horizon(fb_seed_prices):
    features = FeaturesConfig(window=40, horizon=5)
    split = SplitConfig(test_start=dt.date(2020, 1, 29))  # 29, 30, 31 January
    with pytest.raises(PriceDataError) as info:
        build_dataset(fb_seed_prices, "FB", features, split, "close")
    msg = str(info.value)
    assert msg.startswith("FB: the test span has 3 row(s); it needs at least 5")


def test_train_span_shorter_than_window(fb_seed_prices):
    features = FeaturesConfig(window=40, horizon=1)
    split = SplitConfig(train_end=dt.date(2015, 2, 27), test_start=dt.date(2020, 1, 1))
    with pytest.raises(PriceDataError) as info:
        build_dataset(fb_seed_prices, "FB", features, split, "close")
    msg = str(info.value)
    assert msg.startswith("FB: the train span has ")
    assert "it needs at least 41 (window 40 + horizon 1" in msg


def test_too_few_rows_overall(fb_seed_prices):
    with pytest.raises(PriceDataError, match=r"^FB: 30 rows are too few for window 40"):
        build_dataset(
            fb_seed_prices.iloc[:31], "FB", FeaturesConfig(window=40), SplitConfig(), "close"
        )


def test_empty_test_span_names_ticker(fb_seed_prices):
    split = SplitConfig(test_start=dt.date(2021, 1, 4))
    with pytest.raises(PriceDataError, match=r"^FB: the test span is empty \(data ends 2020-01-31"):
        build_dataset(fb_seed_prices, "FB", FeaturesConfig(window=5), split, "close")


# --------------------------------------------------------------------------- labels


def test_split_labels_by_fraction():
    dates = pd.bdate_range("2020-01-01", periods=100)
    labels = split_labels(dates, SplitConfig(test_fraction=0.1, val_fraction=0.2), 1, "T")
    assert list(labels[:72]) == ["train"] * 72
    assert list(labels[72:90]) == ["val"] * 18
    assert list(labels[90:]) == ["test"] * 10


def test_split_labels_by_dates_leave_a_gap():
    dates = pd.bdate_range("2020-01-01", "2020-03-31")
    split = SplitConfig(
        train_end=dt.date(2020, 2, 28),
        test_start=dt.date(2020, 3, 9),
        test_end=dt.date(2020, 3, 20),
        val_fraction=0.25,
    )
    labels = pd.Series(split_labels(dates, split, 2, "T"), index=dates)
    assert (labels.loc["2020-03-02":"2020-03-06"] == "").all()  # after train_end
    assert (labels.loc["2020-03-09":"2020-03-20"] == "test").all()
    assert (labels.loc["2020-03-23":] == "").all()  # after test_end
    assert (labels.loc[:"2020-02-28"] != "").all()
    assert (labels == "val").sum() == round(0.25 * len(labels.loc[:"2020-02-28"]))


def test_origin_splits_need_all_targets_inside():
    labels = np.array(["train"] * 4 + ["val"] * 3 + ["test"] * 3, dtype=object)
    origins = np.arange(10)
    out = origin_splits(labels, origins, 2)
    # Origin 2 has targets 3 (train) and 4 (val): in no split; 8 and 9 run past the end.
    assert list(out) == ["train", "train", "", "val", "val", "", "test", "test", "", ""]


def test_targets_of_prepared_level_series():
    idx = pd.bdate_range("2020-01-01", periods=30, name="date")
    close = 100.0 + np.arange(30.0)
    frame = pd.DataFrame({c: close for c in PRICES} | {"volume": 1.0}, index=idx)
    d = build_dataset(
        frame,
        "T",
        FeaturesConfig(window=3, horizon=2, target_transform="level"),
        SplitConfig(test_fraction=0.2, val_fraction=0.2),
        "close",
    )
    y = d.scaler.inverse_targets(d.y.astype("float64"))
    expected = target_matrix(close, 2, "level")[d.origins]
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    np.testing.assert_array_equal(d.actual_prices("test"), expected[d.split == "test"])

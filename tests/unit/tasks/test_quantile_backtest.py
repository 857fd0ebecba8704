"""The quantile head's walk-forward: its quantiles become prices and bands, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.tasks.backtest import ModelFns, summarize, walk_forward
from pricecast.tasks.quantile_backtest import (
    head_banded_walk_forward,
    quantile_taus,
    quantile_walk_forward,
)

PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]


def test_taus_are_both_ends_of_each_level_and_the_median():
    assert quantile_taus([0.8, 0.95]) == [0.025, 0.1, 0.5, 0.9, 0.975]


class EmpiricalQuantiles:
    """A stand-in head: the unconditional quantiles of its training targets, crossed."""

    def __init__(self, taus: list[float]) -> None:
        self.taus, self.cutoffs = taus, []

    def fit(self, x_tr, y_tr, x_val, y_val, warm):
        self.cutoffs.append(len(x_tr) + len(x_val))
        # Reversed order: the walk-forward must sort crossing quantiles itself.
        return np.quantile(y_tr, self.taus, axis=0).T[:, ::-1].ravel()

    def predict(self, state, x):
        return np.tile(state, (len(x), 1))


def test_quantile_head_bands_follow_its_quantiles():
    rng = np.random.default_rng(4)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
    prices = pd.DataFrame(
        {c: p for c in PRICE_COLUMNS}, index=pd.bdate_range("2019-01-01", periods=500)
    )
    prices["volume"] = 1.0
    head = EmpiricalQuantiles(quantile_taus([0.8, 0.95]))
    frame = quantile_walk_forward(
        prices,
        ModelFns("q", head.fit, head.predict),
        [0.8, 0.95],
        FeaturesConfig(window=5, horizon=2, scaler="standard"),
        BacktestConfig(n_origins=200, refit_every=100),
    )
    assert len(head.cutoffs) == 2 and head.cutoffs[1] == head.cutoffs[0] + 100
    assert (frame["lower_95"] < frame["lower_80"]).all()
    assert (frame["lower_80"] < frame["predicted"]).all()
    assert (frame["upper_80"] < frame["upper_95"]).all()
    inside = (frame["actual"] >= frame["lower_80"]) & (frame["actual"] <= frame["upper_80"])
    assert inside.groupby(frame["h"]).mean().to_numpy() == pytest.approx([0.8, 0.8], abs=0.08)
    # h=2's band is wider: quantiles of two-day log-returns.
    width = (frame["upper_80"] - frame["lower_80"]) / frame["anchor"]
    by_h = width.groupby(frame["h"]).mean()
    assert by_h[2] == pytest.approx(by_h[1] * np.sqrt(2), rel=0.2)
    with pytest.raises(ValueError, match="not diff"):
        quantile_walk_forward(
            prices,
            ModelFns("q", head.fit, head.predict),
            [0.8],
            FeaturesConfig(window=5, horizon=2, target_transform="diff"),
            BacktestConfig(n_origins=20),
        )


class Narrow(EmpiricalQuantiles):
    """A head whose quantiles are three times too close to its median."""

    def fit(self, x_tr, y_tr, x_val, y_val, warm):
        q = np.quantile(y_tr, self.taus, axis=0).T
        med = q[:, [self.taus.index(0.5)]]
        return (med + 0.3 * (q - med)).ravel()


def test_conformalised_bands_repair_a_miscalibrated_head_without_look_ahead():
    rng = np.random.default_rng(9)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 700)))
    idx = pd.bdate_range("2018-01-01", periods=700)
    prices = pd.DataFrame({c: p for c in PRICE_COLUMNS}, index=idx).assign(volume=1.0)
    head = Narrow(quantile_taus([0.8]))

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        return quantile_walk_forward(
            frame,
            ModelFns("q", head.fit, head.predict),
            [0.8],
            FeaturesConfig(window=5, horizon=2, scaler="standard"),
            BacktestConfig(n_origins=300, refit_every=100),
            conformal=IntervalsConfig(window=100, min_residuals=20),
        )

    frame = run(prices)
    inside = (frame["actual"] >= frame["lower_80"]) & (frame["actual"] <= frame["upper_80"])
    cover = inside.groupby(frame["model"]).mean()
    assert cover["q"] < 0.5
    assert cover["q_cqr"] == pytest.approx(0.8, abs=0.07)
    assert frame["lower_80"].notna().all()
    # A band at an origin reads nothing after it.
    cut = frame["cutoff"].drop_duplicates().sort_values().iloc[150]
    dirty = prices.copy()
    dirty.loc[dirty.index > cut, PRICE_COLUMNS] *= 3.0
    cols = ["model", "h", "predicted", "lower_80", "upper_80"]
    clean_rows = frame[frame["cutoff"] == cut][cols].reset_index(drop=True)
    dirty_rows = run(dirty).query("cutoff == @cut")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(dirty_rows, clean_rows)


def test_a_variant_banded_by_its_quantile_head_keeps_its_own_point_forecasts():
    rng = np.random.default_rng(5)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    idx = pd.bdate_range("2019-01-01", periods=400)
    prices = pd.DataFrame({c: p for c in PRICE_COLUMNS}, index=idx).assign(volume=1.0)
    point = ModelFns(
        "v", lambda x, y, xv, yv, warm: y.mean(axis=0), lambda s, x: np.tile(s, (len(x), 1))
    )
    features = FeaturesConfig(window=5, horizon=2, scaler="standard")
    backtest = BacktestConfig(n_origins=60, refit_every=30)

    def banded(method: str) -> pd.DataFrame:
        head = EmpiricalQuantiles(quantile_taus([0.8, 0.95]))
        intervals = IntervalsConfig(method=method, window=40, min_residuals=10)
        fns = ModelFns("v_quantile", head.fit, head.predict)
        return head_banded_walk_forward(prices, point, fns, intervals, features, backtest)

    conformal = walk_forward(
        prices,
        [point],
        features=features,
        backtest=backtest,
        include_baselines=False,
        intervals=IntervalsConfig(),
    )
    head = EmpiricalQuantiles(quantile_taus([0.8, 0.95]))
    own = quantile_walk_forward(
        prices,
        ModelFns("v_quantile", head.fit, head.predict),
        [0.8, 0.95],
        features,
        backtest,
        conformal=IntervalsConfig(window=40, min_residuals=10),
    )
    bands = ["lower_80", "upper_80", "lower_95", "upper_95"]
    for method, name in (("quantile", "v_quantile"), ("cqr", "v_quantile_cqr")):
        frame = banded(method)
        assert list(frame.columns) == list(conformal.columns)
        keys = ["model", "cutoff", "h", "actual", "predicted", "anchor"]
        pd.testing.assert_frame_equal(frame[keys], conformal[keys])
        expected = own[own["model"] == name][bands].reset_index(drop=True)
        pd.testing.assert_frame_equal(frame[bands], expected)
        assert not np.allclose(frame[bands], conformal[bands], equal_nan=True)
        assert (frame["lower_80"] < frame["upper_80"]).all()
        summary = summarize(frame, 1.0)["v"]
        assert len(summary["coverage_80"]) == 2 and 0 < summary["coverage_80"][0] <= 1
    with pytest.raises(ValueError, match="not a quantile head"):
        banded("conformal")

"""Bands in the walk-forward: nominal coverage on a known random walk, and no leak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.tasks.backtest import ModelFns, insample_scale, summarize, walk_forward
from pricecast.tasks.forecasters import WindowSetup, series_from_prices, windowed
from pricecast.tasks.interval_backtest import model_calibration
from pricecast.tasks.intervals import bound_columns

PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]
SIGMA = 0.01


def random_walk(n: int, seed: int) -> pd.DataFrame:
    """Prices whose log follows a Gaussian random walk with daily sigma :data:`SIGMA`."""
    rng = np.random.default_rng(seed)
    p = 100.0 * np.exp(np.cumsum(rng.normal(0.0, SIGMA, n)))
    frame = pd.DataFrame(
        {c: p for c in PRICE_COLUMNS}, index=pd.bdate_range("2015-01-01", periods=n)
    )
    frame["volume"] = 1000.0
    return frame


class LeastSquares:
    """A learned stand-in: least squares on the flattened windows; records its fits."""

    def __init__(self) -> None:
        self.fits: list[int] = []

    @staticmethod
    def _design(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype="float64")
        return np.c_[x.reshape(len(x), -1), np.ones(len(x))]

    def fit(self, x_train, y_train, x_val, y_val, warm):
        self.fits.append(len(x_train))
        return np.linalg.lstsq(self._design(x_train), y_train.astype("float64"), rcond=None)[0]

    def predict(self, coef, x):
        return self._design(x) @ coef

    def fns(self) -> ModelFns:
        return ModelFns("lsq", self.fit, self.predict)


@pytest.mark.parametrize("halflife", [None, 10.0], ids=["plain", "volatility-scaled"])
def test_conformal_bands_reach_nominal_coverage_on_a_gaussian_random_walk(halflife):
    prices = random_walk(900, seed=11)
    n = 500
    frame = walk_forward(
        prices,
        [LeastSquares().fns()],
        features=FeaturesConfig(window=5, horizon=2),
        backtest=BacktestConfig(n_origins=n),
        intervals=IntervalsConfig(volatility_halflife=halflife),
    )
    summary = summarize(frame, insample_scale(prices["adj_close"], frame["cutoff"].min()))
    assert set(summary) == {"lsq", "persistence", "drift", "moving_average"}
    for model in ("lsq", "persistence", "drift"):
        for h in (1, 2):
            for level in (0.8, 0.95):
                got = summary[model][f"coverage_{100 * level:g}"][h - 1]
                # Four binomial standard errors of n origins (h=2 errors overlap: wider).
                tol = 4 * np.sqrt(level * (1 - level) / n) * (1 if h == 1 else 1.5)
                assert abs(got - level) < tol, (model, h, level, got)
            # The 80 % band of a random walk is 2 * 1.2816 * sigma * sqrt(h) wide.
            width = 2 * norm.ppf(0.9) * SIGMA * np.sqrt(h)
            assert summary[model]["width_80"][h - 1] == pytest.approx(width, rel=0.15)
    assert frame[bound_columns([0.8, 0.95])].notna().all().all()


def corrupt_after(prices: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    out = prices.copy()
    after = out.index > cutoff
    rng = np.random.default_rng(3)
    cols = [*PRICE_COLUMNS, "volume"]
    out.loc[after, cols] = out.loc[after, cols] * rng.uniform(0.1, 10.0, (after.sum(), 6))
    return out


@pytest.mark.parametrize("refit_every", [0, 10])
def test_values_after_an_origin_do_not_change_its_bands(refit_every):
    prices = random_walk(400, seed=5)
    kw = {
        "features": FeaturesConfig(window=5, horizon=3),
        "backtest": BacktestConfig(n_origins=40, refit_every=refit_every),
        "intervals": IntervalsConfig(window=60, min_residuals=10),
    }
    clean = walk_forward(prices, [LeastSquares().fns()], **kw)
    cols = ["model", "h", "predicted", *bound_columns([0.8, 0.95])]
    cutoffs = clean["cutoff"].drop_duplicates().sort_values().to_list()

    def at(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        part = frame[frame["cutoff"] == cutoff].sort_values(["model", "h"])
        return part[cols].reset_index(drop=True)

    for cutoff in [cutoffs[i] for i in (0, 9, 10, 25, 39)]:
        dirty = walk_forward(corrupt_after(prices, cutoff), [LeastSquares().fns()], **kw)
        assert at(clean, cutoff)[cols[2:]].notna().all().all()
        pd.testing.assert_frame_equal(at(dirty, cutoff), at(clean, cutoff), check_exact=True)


def test_no_calibration_residual_was_trained_on_or_lies_after_the_origin():
    prices = random_walk(400, seed=8)
    series = series_from_prices(prices, FeaturesConfig(window=5, horizon=3), "adj_close")
    horizon, window = 3, 60
    setup = WindowSetup(window=5, horizon=horizon, calibrate=True)
    stand_in = LeastSquares()
    model = windowed(stand_in.fns(), setup)
    origins = np.arange(len(series.prices) - 41, len(series.prices) - 1)
    segments = [(0, 15), (15, 30), (30, 40)]
    states, preds, state = [], [], None
    for start, stop in segments:
        state = model.fit(series, int(origins[start]), state)
        states.append(state)
        preds.append(model.predict(state, series, origins[start:stop]))
    cal = model_calibration(
        model, series, origins, segments, states, np.concatenate(preds), window, True
    )
    # Who produced each residual, in the order model_calibration joins them: per fit,
    # its validation span, then its backtest forecasts.
    made_at, last_trained = [], []
    for (start, stop), fitted, n_train in zip(segments, states, stand_in.fits, strict=True):
        # The last training sample ends at row window - 1 + (n_train - 1); its targets follow.
        trained = 5 - 1 + (n_train - 1) + horizon
        assert fitted.calibration is not None
        n_val = len(fitted.calibration.origin)
        made_at += [origins[start]] * (n_val + stop - start)
        last_trained += [trained] * n_val + [origins[start] - 1] * (stop - start)
    made_at, last_trained = np.array(made_at), np.array(last_trained)
    assert len(made_at) == len(cal.origin)
    used = 0
    for origin in origins:
        for h in range(1, horizon + 1):
            idx = cal.usable(int(origin), h, window)
            target = cal.origin[idx] + h
            assert (target <= origin).all()
            assert (last_trained[idx] < target).all()
            # A model fitted after the origin (on rows up to its own cutoff) is never used.
            assert (made_at[idx] <= origin).all()
            used += len(idx)
    assert used > 0


def test_volatility_scaled_bands_follow_a_volatility_jump():
    rng = np.random.default_rng(21)
    sigma = np.r_[np.full(600, 0.005), np.full(300, 0.02)]
    p = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma)))
    prices = pd.DataFrame(
        {c: p for c in PRICE_COLUMNS}, index=pd.bdate_range("2015-01-01", periods=900)
    )
    prices["volume"] = 1000.0

    def coverage_80(intervals: IntervalsConfig) -> float:
        frame = walk_forward(
            prices,
            features=FeaturesConfig(window=5, horizon=1),
            backtest=BacktestConfig(n_origins=250),
            intervals=intervals,
        )
        summary = summarize(frame, 1.0)
        return summary["persistence"]["coverage_80"][0]

    # The 250 origins lie in the calm-to-wild regime: a plain window lags behind it.
    assert coverage_80(IntervalsConfig(volatility_halflife=None)) < 0.7
    assert abs(coverage_80(IntervalsConfig(volatility_halflife=10)) - 0.8) < 0.06

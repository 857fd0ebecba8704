"""The test table read from the backtest: which origins it can stand for, and no leak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import BacktestConfig
from pricecast.tasks.backtest import walk_forward
from pricecast.tasks.evaluation import backtest_gap, split_from_backtest
from pricecast.tasks.forecasters import ModelFns


class Recorder:
    """A windowed stand-in model (mean of the training targets) that records every fit."""

    def __init__(self) -> None:
        self.fits: list[int] = []
        self.cutoffs: list[int] = []

    def fit(self, x_train, y_train, x_val, y_val, warm):
        self.fits.append(len(x_train) + len(x_val))
        return float(np.mean(np.concatenate([y_train, y_val])))

    def predict(self, state, x):
        return np.full((len(x), 1), state)

    def on_fit(self, name: str, cutoff: int, state) -> None:
        self.cutoffs.append(cutoff)


def test_seed_fb_test_span_lies_inside_the_backtest(fb_prepared, seed_fb_config):
    assert backtest_gap(fb_prepared, seed_fb_config.backtest) is None
    # 21 test days do not fit in 10 origins: the test span starts before the first one.
    short = backtest_gap(fb_prepared, BacktestConfig(n_origins=10))
    assert short is not None and "comes before the backtest's first origin" in short
    stepped = backtest_gap(fb_prepared, BacktestConfig(n_origins=250, step=5))
    assert stepped is not None and "not backtest origins (step 5)" in stepped


@pytest.mark.parametrize("refit_every", [0, 10])
def test_test_table_is_the_backtest_rows_and_fits_end_before_the_test_span(
    fb_prepared, seed_fb_config, refit_every
):
    data = fb_prepared
    backtest = BacktestConfig(n_origins=40, refit_every=refit_every)
    model = Recorder()
    intervals = IntervalsConfig(min_residuals=5)
    frame = walk_forward(
        data.frame,
        [ModelFns("rec", model.fit, model.predict)],
        features=seed_fb_config.features,
        backtest=backtest,
        target="close",
        include_baselines=False,
        intervals=intervals,
        on_fit=model.on_fit,
    )
    assert len(model.cutoffs) == len(model.fits) == (1 if refit_every == 0 else 4)
    forecasts, bands = split_from_backtest(frame, data, "test")
    test_origins = data.origins[data.split == "test"]
    assert forecasts.shape == (len(test_origins), 1)
    rows = frame.set_index("cutoff").loc[data.dates[test_origins]]
    np.testing.assert_array_equal(forecasts[:, 0], rows["predicted"].to_numpy())
    assert sorted(bands) == ["lower_80", "lower_95", "upper_80", "upper_95"]
    np.testing.assert_array_equal(bands["lower_80"][:, 0], rows["lower_80"].to_numpy())
    # No leak: the first fit ends before the test span's first target day, and a refit
    # inside the span only reads rows before its own origin (the walk-forward's rule).
    assert data.dates[model.cutoffs[0] - 1] < data.dates[test_origins[0] + 1]
    assert model.cutoffs[0] <= test_origins[0]


def test_missing_origin_is_named(fb_prepared):
    data = fb_prepared
    origins = data.dates[data.origins[data.split == "test"]]
    frame = pd.DataFrame({"cutoff": origins[1:], "h": 1, "predicted": 1.0})
    with pytest.raises(ValueError, match=f"no forecast from {origins[0]:%Y-%m-%d} at h=1"):
        split_from_backtest(frame, data, "test")

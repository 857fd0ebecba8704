"""One walk-forward per variant: its fits are counted and it gives the test table's bands."""

from __future__ import annotations

import numpy as np

from pricecast.configs.loader import load_config
from pricecast.flows.variant_run import variant_walk_forward
from pricecast.tasks.evaluation import backtest_gap, split_from_backtest


def test_quantile_head_walk_forward_counts_every_training_and_bands_the_test_span(
    fb_prepared,
):
    config = load_config(
        "seed_fb",
        {
            "intervals.method": "cqr",
            "intervals.min_residuals": 5,
            "training.epochs": 1,
            "backtest.n_origins": 30,
            "backtest.refit_every": 15,
            "backtest.refit_epochs": 1,
            "variants": [{"name": "gru", "cell": "gru", "units": 4}],
        },
    )
    assert backtest_gap(fb_prepared, config.backtest) is None
    fits = []
    frame = variant_walk_forward(fb_prepared, config.variants[0], config, False, fits)
    # Two refits of the point model, two of its quantile head: four Keras trainings.
    assert len(fits) == 4
    forecasts, bands = split_from_backtest(frame, fb_prepared, "test")
    assert forecasts.shape == (int((fb_prepared.split == "test").sum()), 1)
    assert sorted(bands) == ["lower_80", "lower_95", "upper_80", "upper_95"]
    banded = np.isfinite(bands["lower_80"][:, 0])
    assert banded.any()
    assert (bands["lower_80"][banded, 0] <= bands["upper_80"][banded, 0]).all()

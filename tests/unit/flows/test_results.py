"""TrainResult crosses processes (a dispatched ``train`` run) with its counts and bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pricecast.flows.results import TrainResult, VariantBacktest, VariantResult


def test_train_result_round_trip_keeps_fits_and_test_bands():
    bands = {"lower_80": np.array([[9.5], [9.8]]), "upper_80": np.array([[10.5], [10.9]])}
    variant = VariantResult(
        "rnn", "run1", "models:/m-1", np.array([[10.0], [10.2]]), {"fits": 1.0}, bands=bands
    )
    frame = pd.DataFrame(
        {
            "cutoff": pd.to_datetime(["2020-01-02", "2020-01-03"]),
            "date": pd.to_datetime(["2020-01-03", "2020-01-06"]),
            "h": [1, 1],
            "predicted": [10.0, 10.2],
        }
    )
    result = TrainResult(
        "KO", {"rnn": variant}, {"rnn": VariantBacktest("rnn", frame, 1.5, 3)}, device={}
    )
    back = TrainResult.from_json(result.to_json())
    got = back.variants["rnn"]
    assert got.fit == {"fits": 1.0} and got.trained is None
    assert sorted(got.bands) == ["lower_80", "upper_80"]
    np.testing.assert_array_equal(got.bands["upper_80"], bands["upper_80"])
    assert back.backtests["rnn"].fits == 3
    pd.testing.assert_frame_equal(back.backtests["rnn"].frame, frame)

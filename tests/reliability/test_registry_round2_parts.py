"""The pure parts behind a trustworthy registry: the guard, the fingerprint, the scaler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.tasks.champion import decide, fingerprint
from pricecast.tasks.scaling import SeriesScaler

SUMMARY = {
    "rnn": {"mase": [0.5]},
    "persistence": {"mase": [1.0]},
    "drift": {"mase": [1.1]},
    "moving_average": {"mase": [1.2]},
}


def test_an_unloadable_champion_is_replaced_by_a_candidate_beating_persistence():
    why = "champion v1 cannot be loaded (missing file /h/model.keras)"
    kept = decide(SUMMARY, current=None, current_label="champion v1", has_current=True)
    assert not kept.promote and "so it is kept" in kept.reason
    out = decide(
        SUMMARY, current=None, current_label="champion v1", has_current=True, unloadable=why
    )
    assert out.promote and out.candidate == "rnn"
    assert out.reason.startswith(why) and "replaced" in out.reason
    worse = {**SUMMARY, "rnn": {"mase": [1.5]}}
    out = decide(worse, has_current=True, unloadable=why)
    assert not out.promote and out.reason.startswith(why)
    assert "will be replaced by the first candidate" in out.reason
    assert "no recurrent model beats it" in out.reason


def test_fingerprint_changes_with_data_config_and_seed_only():
    prices = pd.DataFrame(
        {"adj_close": np.linspace(1, 2, 30)}, index=pd.bdate_range("2020-01-01", periods=30)
    )
    settings = {"variant": {"units": 4}, "training": {"seed": 7}}
    same = fingerprint(prices.copy(), {"training": {"seed": 7}, "variant": {"units": 4}})
    assert fingerprint(prices, settings) == same
    assert fingerprint(prices, {**settings, "training": {"seed": 8}}) != same
    moved = prices.copy()
    moved.iloc[-1, 0] += 1e-9
    assert fingerprint(moved, settings) != same
    assert fingerprint(prices.rename(columns={"adj_close": "close"}), settings) != same


@pytest.mark.parametrize("method", ["minmax", "standard"])
def test_scaler_round_trips_through_its_json_state(method):
    rng = np.random.default_rng(0)
    x, y = rng.normal(5, 2, (60, 3)), rng.normal(0, 0.01, (50, 2))
    fitted = SeriesScaler(method).fit(x, y)
    back = SeriesScaler.from_state(fitted.state())
    np.testing.assert_array_equal(back.transform_inputs(x), fitted.transform_inputs(x))
    np.testing.assert_array_equal(back.inverse_targets(y), fitted.inverse_targets(y))


def test_a_bad_scaler_state_names_the_field():
    state = SeriesScaler("minmax").fit(np.ones((4, 2)) * [[1], [2], [3], [4]], np.ones((3, 1)))
    data = state.state()
    with pytest.raises(ValueError, match="method 'pickle'"):
        SeriesScaler.from_state({**data, "method": "pickle"})
    with pytest.raises(ValueError, match="'targets' is missing"):
        SeriesScaler.from_state({"method": "minmax", "inputs": data["inputs"]})
    with pytest.raises(ValueError, match="inputs lacks valid data_min_"):
        SeriesScaler.from_state({**data, "inputs": {"mean_": [0.0]}})
    with pytest.raises(ValueError, match="not finite"):
        SeriesScaler.from_state({**data, "inputs": {"data_min_": [0.0], "data_max_": ["nan"]}})

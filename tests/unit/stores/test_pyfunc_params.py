"""The registered pyfunc passes ``horizon`` through as given: 0 is refused, not "default"."""

from __future__ import annotations

import pandas as pd

from pricecast.stores.tracking.registry import ForecasterModel


class _Seen:
    """Stands in for a Forecaster: records the horizon it was asked for."""

    def __init__(self) -> None:
        self.horizons: list[int | None] = []

    def forecast(self, prices: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        self.horizons.append(horizon)
        return pd.DataFrame({"date": [], "forecast": []})


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"Date": pd.bdate_range("2020-01-01", periods=3), "Adj Close": [1.0, 2.0, 3.0]}
    )


def test_horizon_zero_reaches_the_forecaster_and_none_means_default():
    model = ForecasterModel()
    seen = _Seen()
    model.forecaster = seen
    model.predict(None, _frame(), {"horizon": 0})
    model.predict(None, _frame(), None)
    model.predict(None, _frame(), {"horizon": 2})
    assert seen.horizons == [0, None, 2]

"""The production refit keeps conformal quantiles; the forecaster and pyfunc return bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import FeaturesConfig, TrainingConfig, VariantConfig
from pricecast.models.forecaster import ForecastSpec
from pricecast.models.production import refit_on_all
from pricecast.stores.price_files import read_sample
from pricecast.stores.tracking.registry import ForecasterModel
from pricecast.tasks.intervals import ewma_volatility
from pricecast.tasks.validate import validate_prices

BOUNDS = ["lower_80", "upper_80", "lower_95", "upper_95"]


def test_refit_keeps_bands_and_the_pyfunc_returns_them():
    prices = validate_prices(read_sample("KO"), "KO").frame.iloc[-400:]
    forecaster = refit_on_all(
        VariantConfig(name="tiny", cell="gru", units=4),
        TrainingConfig(epochs=1, batch_size=64, seed=3),
        FeaturesConfig(window=10, horizon=2),
        prices,
        "adj_close",
        "KO",
        val_fraction=0.2,
        intervals=IntervalsConfig(window=100),
    )
    spec = forecaster.spec
    assert spec.bands is not None and sorted(spec.bands) == sorted(BOUNDS)
    assert all(len(q) == 2 for q in spec.bands.values()) and spec.relative
    assert ForecastSpec.from_json(spec.to_json()) == spec

    model = ForecasterModel()
    model.forecaster = forecaster
    out = model.predict(None, prices.tail(30).reset_index(names="Date"), {"horizon": 2})
    assert list(out.columns) == ["date", "forecast", *BOUNDS]
    lo80, up80, lo95, up95 = (out[c].to_numpy() for c in BOUNDS)
    assert (lo95 <= lo80).all() and (lo80 < up80).all() and (up80 <= up95).all()
    # The h=2 band is the forecast moved by its own step's quantile of normalised
    # residuals times the volatility of the given prices up to the origin (a biased
    # one-epoch model: signed residuals move the band off-centre).
    assert spec.volatility_halflife == 10.0
    unit = ewma_volatility(prices["adj_close"].tail(30).to_numpy(), True, 10.0)[-1]
    q = spec.bands["upper_95"][1] * unit
    assert up95[1] == pytest.approx(out["forecast"].iloc[1] * np.exp(q))
    width = (up95 - lo95) / out["forecast"].to_numpy()
    assert ((width > 0.005) & (width < 0.3)).all()

    # A spec written before intervals existed still loads, and forecasts without bands.
    new_fields = ("bands", "relative", "volatility_halflife")
    old = {k: v for k, v in spec.__dict__.items() if k not in new_fields}
    forecaster.spec = ForecastSpec(**old)
    plain = forecaster.forecast(prices.tail(30))
    assert list(plain.columns) == ["date", "forecast"]
    pd.testing.assert_series_equal(plain["forecast"], out["forecast"])

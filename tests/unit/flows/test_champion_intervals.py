"""The guard scores the current champion's own bands when it decides on interval_score."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pricecast.flows import champion as flow
from pricecast.models.forecaster import Forecaster, ForecastSpec
from pricecast.tasks.interval_scores import interval_metrics


def _forecaster(bands: dict | None) -> Forecaster:
    spec = ForecastSpec("KO", "adj_close", ["log_return"], 3, 1, "log_return", "gru", "2020-01-01")
    # No Keras model: forecast_at is replaced below; the bands' arithmetic is real.
    forecaster = Forecaster(object(), None, spec)  # type: ignore[arg-type]
    forecaster.spec = ForecastSpec(**{**spec.__dict__, "bands": bands})
    return forecaster


def _setup(monkeypatch, forecaster: Forecaster) -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = pd.bdate_range("2024-01-01", periods=30)
    prices = pd.DataFrame({"adj_close": np.linspace(100, 110, 30)}, index=dates)
    anchors = prices["adj_close"].to_numpy()[10:29]
    monkeypatch.setattr(flow.registry, "champion_version", lambda *a: SimpleNamespace(version=4))
    monkeypatch.setattr(flow.registry, "load_version", lambda *a: forecaster)
    # Its point forecast is no move: the price at each origin.
    monkeypatch.setattr(
        Forecaster, "forecast_at", lambda self, p, origins: anchors[: len(origins), None]
    )
    rows = pd.DataFrame(
        {"cutoff": dates[10:29], "h": 1, "actual": prices["adj_close"].to_numpy()[11:30]}
    ).assign(anchor=anchors, scale=1.0, lower_80=0.0, upper_80=1e9)
    return prices, rows


def test_the_champion_is_scored_on_its_own_bands(monkeypatch):
    forecaster = _forecaster({"lower_80": [-0.01], "upper_80": [0.002]})
    prices, rows = _setup(monkeypatch, forecaster)
    exists, value, label, why = flow._score_current(None, "KO", prices, rows, "interval_score")
    assert (exists, label, why) == (True, "champion v4", None)
    own = rows.assign(
        lower_80=rows["anchor"] * np.exp(-0.01), upper_80=rows["anchor"] * np.exp(0.002)
    )
    assert value == pytest.approx(interval_metrics(own, [0.8])["interval_score"])


def test_a_champion_without_bands_cannot_be_scored_on_them(monkeypatch):
    prices, rows = _setup(monkeypatch, _forecaster(None))
    exists, value, _, why = flow._score_current(None, "KO", prices, rows, "interval_score")
    assert exists and value is None
    assert why is not None and "no prediction intervals" in why

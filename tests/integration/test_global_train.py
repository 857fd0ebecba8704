"""The global model's tasks in a flow: Keras trains each variant once, the test rows come from
the walk-forward, unless a ticker's test span misses the backtest's origins."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from prefect import flow

from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.schema import BacktestConfig, RunConfig
from pricecast.flows.global_train import global_ticker, train_global
from pricecast.flows.results import TickerData
from pricecast.stores import price_files
from pricecast.stores.tracking import runs, store
from pricecast.tasks.backtest import fit_backtest
from pricecast.tasks.dataset import build_dataset
from pricecast.tasks.validate import validate_prices

from .conftest import small_config

pytestmark = pytest.mark.slow


def _ready(config: RunConfig) -> list[TickerData]:
    """Each ticker prepared as the flow's ``prepare`` does it."""
    assert config.backtest is not None
    ready = []
    for ticker in config.data.tickers:
        frame = validate_prices(price_files.read_sample(ticker), ticker).frame
        frame = frame.loc[str(config.data.start) : str(config.data.end)]
        data = build_dataset(frame, ticker, config.features, config.split, config.data.target)
        backtest, _ = fit_backtest(
            frame, ticker, config.features, config.backtest, config.data.target
        )
        ready.append(TickerData(data, "sample", [], 0.0, backtest))
    return ready


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# About 31 test origins: 40 backtest origins hold them, 15 start after the first.
@pytest.mark.parametrize(("n_origins", "fits"), [(40, 1), (15, 2)])
def test_each_variant_trains_once_unless_a_test_span_misses_the_origins(
    prefect_api, home, monkeypatch, keras_fits, n_origins, fits
):
    calls = keras_fits
    warnings = _Lines()
    logging.getLogger("prefect.task_runs").addHandler(warnings)
    base = small_config(("KO", "MSFT"), epochs=1)
    config = base.model_copy(
        update={
            "experiment": f"it-global-{n_origins}",
            "variants": base.variants[:2],
            "backtest": BacktestConfig(n_origins=n_origins),
            "intervals": IntervalsConfig(min_residuals=5),
        }
    )
    ready = _ready(config)
    tracker = store.open_experiment(config.experiment, home)
    parents = {
        d.dataset.ticker: runs.start_ticker_run(tracker, d.dataset.ticker, {}, {}) for d in ready
    }

    @flow
    def pooled():
        done = {v.name: train_global(v, ready, config, tracker, {}) for v in config.variants}
        return done, {
            d.dataset.ticker: global_ticker(
                d, done, config, tracker, parents[d.dataset.ticker], d.dataset.ticker, {}
            )
            for d in ready
        }

    try:
        done, results = pooled()
    finally:
        logging.getLogger("prefect.task_runs").removeHandler(warnings)

    # Keras' own count: one pooled training per variant, two when the test span needs its own.
    assert len(calls) == fits * len(config.variants)
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    for g in done.values():
        assert g.fit["fits"] == fits and g.backtest is not None
        assert (g.table is None) == (fits == 1)
        run = client.get_run(g.run_id)
        assert run.data.metrics["fits"] == fits
        assert ("trained_on" in run.data.tags) == (fits == 1)
    missed = [line for line in warnings.lines if "cannot be read from the backtest" in line]
    assert len(missed) == (0 if fits == 1 else len(config.variants))
    for d in ready:
        result, data = results[d.dataset.ticker], d.dataset
        assert not result.failed
        origins = data.dates[data.origins[data.split == "test"]]
        for name, variant in result.variants.items():
            assert variant.fit["fits"] == 0.0 and variant.model_uri == done[name].model_uri
            frame = result.backtests[name].frame
            assert frame["cutoff"].nunique() == n_origins
            walked = frame.set_index("cutoff")["predicted"]
            if fits == 1:
                # The test table and its bands are the walk-forward's rows at the test origins.
                np.testing.assert_array_equal(variant.forecasts[:, 0], walked.loc[origins])
                assert sorted(variant.bands) == ["lower_80", "lower_95", "upper_80", "upper_95"]
                for column, band in variant.bands.items():
                    rows = frame.set_index("cutoff")[column].loc[origins]
                    np.testing.assert_array_equal(band[:, 0], rows)
                assert np.isfinite(variant.bands["lower_80"]).any()
            else:
                assert variant.forecasts.shape == (len(origins), 1)
                assert np.isfinite(variant.forecasts).all()

"""The global model (``training.scope: global``): one model per variant for every ticker.

:func:`train_global` runs once per variant after every ticker's ``prepare``: it pools
each ticker's windows (scaled by the ticker's own scaler, cut before its test span or
first backtest origin; ``tasks/pooling.py``), trains the variant's model on them and logs
it to one MLflow run. :func:`global_ticker` then stands in for a ticker's ``train`` step:
it forecasts the ticker's test span and walks its backtest with those models, in a child
run of the ticker per variant, and returns the same :class:`TrainResult` the per-ticker
path returns, so evaluation, baselines, reports and the summary are unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pricecast.configs.schema import RunConfig, VariantConfig
from pricecast.flows import stopping
from pricecast.flows.results import TickerData, TrainResult, VariantBacktest, VariantResult
from pricecast.models.pooled import PooledModel, train_pooled
from pricecast.models.recurrent import devices
from pricecast.models.training import EpochLogger, StopWhenSet, seed_process
from pricecast.models.variant import TrainedVariant, variant_forecaster
from pricecast.stores.tracking import runs, store
from pricecast.tasks.backtest import backtest_setup, walk_forward
from pricecast.tasks.evaluation import forecast_split
from pricecast.tasks.forecasters import Fitted
from pricecast.tasks.interval_scores import by_horizon
from pricecast.tasks.pooling import (
    Arrays,
    backtest_arrays,
    first_origin,
    pool,
    pooled_names,
    table_arrays,
)
from pricecast.tasks.validate import stamp


@dataclass
class GlobalFit:
    """A variant's pooled models and where the test-table model was logged.

    Attributes:
        name: The variant's name.
        run_id: The MLflow run holding the pooled model.
        model_uri: The logged test-table model.
        table: The model trained on every ticker's training span (test table).
        backtest: The model trained on every ticker's rows before its first backtest
            origin (``None`` without a backtest).
        fit: ``epochs_run``, ``best_epoch``, ``train_seconds``, ``samples_per_second``,
            ``pooled_samples``, ``tickers`` of the test-table model.
    """

    name: str
    run_id: str
    model_uri: str
    table: PooledModel
    backtest: PooledModel | None
    fit: dict[str, float]


def _backtest_parts(ready: list[TickerData], config: RunConfig, outputs: int) -> dict[str, Arrays]:
    parts = {}
    for d in ready:
        assert d.backtest is not None
        series = d.dataset.series
        setup = backtest_setup(
            series, config.features, d.backtest, config.data.target, config.intervals
        )
        cutoff = first_origin(series, d.backtest)
        parts[d.dataset.ticker] = backtest_arrays(series, setup, outputs, cutoff)
    return parts


@task(name="train-global", task_run_name="train-global-{variant.name}", cache_policy=NO_CACHE)
def train_global(
    variant: VariantConfig,
    ready: list[TickerData],
    config: RunConfig,
    tracker: store.Tracker,
    tags: dict[str, str],
) -> GlobalFit:
    """Train one variant on every prepared ticker's pooled windows: test-table and backtest models.

    ``ready`` holds the tickers that could be prepared (one that could not fails on its
    own and is left out of the pool).

    Raises:
        ValueError: If no ticker could be prepared.
    """
    logger = get_run_logger()
    seed_process(config.training.seed)
    store.use_store(tracker)
    if not ready:
        raise ValueError(f"{variant.name}: no ticker was prepared, nothing to pool")
    tickers = [d.dataset.ticker for d in ready]
    horizon = config.features.horizon
    as_of = stamp(max(d.dataset.dates[-1] for d in ready))
    table_pool = pool({d.dataset.ticker: table_arrays(d.dataset) for d in ready})
    run_tags = {**tags, "cell": variant.cell, "scope": "global"}
    with runs.global_run(tracker, variant.name, tickers, run_tags, as_of) as run_id:
        callbacks = [
            EpochLogger(logger.info, f"global/{variant.name}", config.training.epochs),
            runs.epoch_callback(),
            StopWhenSet(stopping.REQUESTED, then=stopping.hold),
        ]
        table = train_pooled(
            variant, config.training, table_pool, horizon, strategy="direct", callbacks=callbacks
        )
        fitted = table.fit
        fit = {
            "epochs_run": float(fitted.epochs_run),
            "best_epoch": float(fitted.best_epoch),
            "train_seconds": fitted.seconds,
            "samples_per_second": fitted.samples * fitted.epochs_run / max(fitted.seconds, 1e-9),
            "pooled_samples": float(table_pool.samples),
            "tickers": float(len(ready)),
        }
        params = runs.flatten(
            {"variant": variant.model_dump(mode="json"), "training": config.training.model_dump()}
        )
        model_uri = runs.log_variant(
            tracker, run_id, params, fit, None, table.model, table_pool.x_val[:32]
        )
    backtest = None
    if config.backtest is not None:
        outputs = 1 if variant.strategy == "recursive" else horizon
        bt_pool = pool(_backtest_parts(ready, config, outputs))
        backtest = train_pooled(variant, config.training, bt_pool, horizon)
        fit["backtest_train_seconds"] = backtest.fit.seconds
    logger.info(
        f"global/{variant.name}: {len(ready)} tickers ({pooled_names(tickers)}), "
        f"{table_pool.samples} pooled windows, {fitted.epochs_run} epochs, "
        f"{fitted.seconds:.1f}s"
        + (f"; backtest model {backtest.fit.seconds:.1f}s" if backtest else "")
    )
    return GlobalFit(variant.name, run_id, model_uri, table, backtest, fit)


def _use(
    ticker_data: TickerData,
    fit: GlobalFit,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    tags: dict[str, str],
) -> tuple[VariantResult, VariantBacktest | None]:
    """Forecast one ticker's test span and walk its backtest with a variant's pooled models."""
    data = ticker_data.dataset
    variant = config.variant(fit.name)
    run_tags = {**tags, "cell": variant.cell, "scope": "global", "global_run_id": fit.run_id}
    as_of = stamp(data.dates[-1])
    t0 = time.perf_counter()
    with runs.variant_run(tracker, parent_id, data.ticker, fit.name, run_tags, as_of) as run_id:
        state = Fitted(fit.table.model, data.scaler)
        forecaster = variant_forecaster(variant, config.training, data)
        forecasts = forecast_split(forecaster, state, data, "test")
        runs.log_params(tracker, run_id, {"model_uri": fit.model_uri, "scope": "global"})
        trained = TrainedVariant(fit.name, fit.table.model, fit.table.fit, forecaster, state)
    # The pooled trainings (seconds and count) are the global run's, not this ticker's.
    figures = {
        **fit.fit,
        "train_seconds": 0.0,
        "fits": 0.0,
        "log_seconds": time.perf_counter() - t0,
    }
    result = VariantResult(fit.name, run_id, fit.model_uri, forecasts, figures, trained)
    if ticker_data.backtest is None or fit.backtest is None:
        return result, None
    t0 = time.perf_counter()
    frame = walk_forward(
        data.frame,
        [fit.backtest.fns],
        features=config.features,
        backtest=ticker_data.backtest,
        target=config.data.target,
        include_baselines=False,
        intervals=config.intervals,
    )
    seconds = time.perf_counter() - t0
    runs.log_backtest(tracker, run_id, frame, seconds, by_horizon(frame))
    return result, VariantBacktest(fit.name, frame, seconds)


@task(name="global-ticker", task_run_name="global-{ticker}", cache_policy=NO_CACHE)
def global_ticker(
    ticker_data: TickerData,
    fits: dict[str, Any],
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
) -> TrainResult:
    """A ticker's ``train`` step under the global scope: the pooled models, no training.

    ``fits`` holds each variant's :class:`GlobalFit`, or the error that ended its pooled
    training (the variant is then failed for this ticker, as a per-ticker failure is).
    The flow waits for them before it submits this task, so they arrive as values on
    any runner.
    """
    store.use_store(tracker)
    result = TrainResult(ticker, device=devices())
    for v in config.variants:
        fit = fits.get(v.name)
        if not isinstance(fit, GlobalFit):
            result.failed[v.name] = f"global training: {type(fit).__name__}: {fit}"
            continue
        try:
            trained, backtest = _use(ticker_data, fit, config, tracker, parent_id, tags)
        except Exception as err:  # noqa: BLE001 - a variant that fails leaves the others
            result.failed[v.name] = f"{type(err).__name__}: {err}"
            continue
        result.variants[v.name] = trained
        if backtest is not None:
            result.backtests[v.name] = backtest
    get_run_logger().info(
        f"{ticker}: {len(result.variants)} pooled variant(s) forecast"
        + (f"; failed: {result.failed}" if result.failed else "")
    )
    return result

"""The global model (``training.scope: global``): one model per variant for every ticker.

:func:`train_global` runs once per variant after every ticker's ``prepare``: it pools
each ticker's windows (scaled by the ticker's own scaler, cut before its first backtest
origin, or before its test span without a backtest; ``tasks/pooling.py``), trains the
variant's model on them once and logs it to one MLflow run. :func:`global_ticker` then
stands in for a ticker's ``train`` step: it walks the ticker's backtest with that model
and reads the test table from the walk's rows at the test origins, as the per-ticker
path does (``flows/variant_run.py``), in a child run of the ticker per variant, and
returns the same :class:`TrainResult` the per-ticker path returns, so evaluation,
baselines, reports and the summary are unchanged. When a ticker's test span is not
among its backtest origins, the variant also trains on every ticker's train split for
the test tables, and says so.
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
from pricecast.tasks.evaluation import (
    backtest_gap,
    forecast_split,
    split_from_backtest,
    trained_on,
    trained_span,
)
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
    """A variant's pooled model(s) and where the logged one is.

    Attributes:
        name: The variant's name.
        run_id: The MLflow run holding the pooled model.
        model_uri: The logged model: the backtest's when the test tables are read from
            its walk-forward, else the test-table model.
        backtest: The model trained on every ticker's rows before its first backtest
            origin: it walks every ticker's backtest and, unless ``table`` is set, gives
            the test tables (``None`` without a backtest).
        table: The model trained on every ticker's training span for the test tables:
            without a backtest, or when a ticker's test span is not among its backtest
            origins (``None`` otherwise).
        fit: ``epochs_run``, ``best_epoch``, ``train_seconds``, ``samples_per_second``,
            ``pooled_samples``, ``tickers`` of the logged model, and ``fits`` (the
            variant's pooled trainings in this run).
    """

    name: str
    run_id: str
    model_uri: str
    backtest: PooledModel | None
    table: PooledModel | None
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


def _pooled_span(ready: list[TickerData]) -> str:
    """``first..last`` day of the rows the backtest's pooled model trains on, all tickers."""
    spans = []
    for d in ready:
        assert d.backtest is not None
        cutoff = first_origin(d.dataset.series, d.backtest)
        spans.append(trained_span(d.dataset.dates, cutoff, d.backtest))
    return f"{stamp(min(s[0] for s in spans))}..{stamp(max(s[1] for s in spans))}"


@task(name="train-global", task_run_name="train-global-{variant.name}", cache_policy=NO_CACHE)
def train_global(
    variant: VariantConfig,
    ready: list[TickerData],
    config: RunConfig,
    tracker: store.Tracker,
    tags: dict[str, str],
) -> GlobalFit:
    """Train one variant once on every prepared ticker's pooled windows.

    With a backtest, the one model trains on each ticker's rows before its first
    origin, and the tickers' test tables are read from its walk-forward. When a
    ticker's test span is not among its backtest origins (``backtest_gap``), that
    cannot be, so the variant also trains on every ticker's train split for the test
    tables (that model is logged), with a warning. Without a backtest, the one model
    trains on the train splits. ``ready`` holds the tickers that could be prepared (one
    that could not fails on its own and is left out of the pool).

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
    outputs = 1 if variant.strategy == "recursive" else horizon
    as_of = stamp(max(d.dataset.dates[-1] for d in ready))
    gaps = {
        d.dataset.ticker: gap
        for d in ready
        if d.backtest is not None and (gap := backtest_gap(d.dataset, d.backtest))
    }
    once = config.backtest is not None and not gaps
    if gaps:
        first, why = next(iter(gaps.items()))
        logger.warning(
            f"global/{variant.name}: {len(gaps)} ticker(s) ({pooled_names(list(gaps))}) "
            f"whose test span misses the backtest's origins ({first}: {why}), so the test "
            "tables cannot be read from the backtest: the variant also trains on every "
            "ticker's train split for them"
        )
    if once:
        logged_pool = pool(_backtest_parts(ready, config, outputs))
    else:
        logged_pool = pool({d.dataset.ticker: table_arrays(d.dataset) for d in ready})
    run_tags = {**tags, "cell": variant.cell, "scope": "global"}
    backtest = None
    with runs.global_run(tracker, variant.name, tickers, run_tags, as_of) as run_id:
        callbacks = [
            EpochLogger(logger.info, f"global/{variant.name}", config.training.epochs),
            runs.epoch_callback(),
            StopWhenSet(stopping.REQUESTED, then=stopping.hold),
        ]
        # The test-table model forecasts ``direct``, as the per-ticker one does.
        strategy = None if once else "direct"
        logged = train_pooled(
            variant, config.training, logged_pool, horizon, strategy=strategy, callbacks=callbacks
        )
        fitted = logged.fit
        fit = {
            "epochs_run": float(fitted.epochs_run),
            "best_epoch": float(fitted.best_epoch),
            "train_seconds": fitted.seconds,
            "samples_per_second": fitted.samples * fitted.epochs_run / max(fitted.seconds, 1e-9),
            "pooled_samples": float(logged_pool.samples),
            "tickers": float(len(ready)),
            "fits": 1.0,
        }
        if once:
            backtest = logged
            runs.tag_run(tracker, run_id, {"trained_on": _pooled_span(ready)})
        elif config.backtest is not None:
            backtest = train_pooled(
                variant, config.training, pool(_backtest_parts(ready, config, outputs)), horizon
            )
            fit["backtest_train_seconds"] = backtest.fit.seconds
            fit["fits"] = 2.0
        params = runs.flatten(
            {"variant": variant.model_dump(mode="json"), "training": config.training.model_dump()}
        )
        model_uri = runs.log_variant(
            tracker, run_id, params, fit, None, logged.model, logged_pool.x_val[:32]
        )
    logger.info(
        f"global/{variant.name}: {len(ready)} tickers ({pooled_names(tickers)}), "
        f"{logged_pool.samples} pooled windows, {fitted.epochs_run} epochs, "
        f"{fitted.seconds:.1f}s"
        + ("; the test tables read from its backtest" if once else "")
        + (f"; backtest model {backtest.fit.seconds:.1f}s" if gaps and backtest else "")
    )
    table = None if once else logged
    return GlobalFit(variant.name, run_id, model_uri, backtest, table, fit)


def _use(
    ticker_data: TickerData,
    fit: GlobalFit,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    tags: dict[str, str],
) -> tuple[VariantResult, VariantBacktest | None]:
    """Walk one ticker's backtest with a variant's pooled model and forecast its test span.

    The test span's forecasts and bands are the walk's rows at the test origins
    (``split_from_backtest``), unless the variant has a test-table model of its own.
    """
    data = ticker_data.dataset
    variant = config.variant(fit.name)
    run_tags = {**tags, "cell": variant.cell, "scope": "global", "global_run_id": fit.run_id}
    as_of = stamp(data.dates[-1])
    bt, model = ticker_data.backtest, fit.backtest
    frame, seconds = None, 0.0
    trained, bands = None, {}
    t0 = time.perf_counter()
    with runs.variant_run(tracker, parent_id, data.ticker, fit.name, run_tags, as_of) as run_id:
        runs.log_params(tracker, run_id, {"model_uri": fit.model_uri, "scope": "global"})
        if bt is not None and model is not None:
            t1 = time.perf_counter()
            frame = walk_forward(
                data.frame,
                [model.fns],
                features=config.features,
                backtest=bt,
                target=config.data.target,
                include_baselines=False,
                intervals=config.intervals,
            )
            seconds = time.perf_counter() - t1
            runs.log_backtest(tracker, run_id, frame, seconds, by_horizon(frame))
        if fit.table is None:
            assert frame is not None and bt is not None
            forecasts, bands = split_from_backtest(frame, data, "test")
            cutoff = first_origin(data.series, bt)
            runs.tag_run(tracker, run_id, {"trained_on": trained_on(data.dates, cutoff, bt)})
        else:
            state = Fitted(fit.table.model, data.scaler)
            forecaster = variant_forecaster(variant, config.training, data)
            forecasts = forecast_split(forecaster, state, data, "test")
            trained = TrainedVariant(fit.name, fit.table.model, fit.table.fit, forecaster, state)
    # The pooled trainings (seconds and count) are the global run's, not this ticker's.
    figures = {
        **fit.fit,
        "train_seconds": 0.0,
        "fits": 0.0,
        "log_seconds": time.perf_counter() - t0 - seconds,
    }
    result = VariantResult(fit.name, run_id, fit.model_uri, forecasts, figures, trained, bands)
    if frame is None:
        return result, None
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

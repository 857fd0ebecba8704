"""The ``train`` flow: train every variant of one ticker and log each to MLflow.

This is the unit that runs on GPU workers. The ``forecast`` flow calls it in-process
(default) or submits it to the ``train`` deployment on a ``gpu`` work pool
(``training.dispatch: deployment``). Its inputs travel by reference: the prices are a
``runs:/`` artifact URI in the tracking store, never a pickled frame, and its results are
the child runs it leaves in MLflow.
"""

import time
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from pricecast.configs.schema import RunConfig, VariantConfig
from pricecast.flows import tracking
from pricecast.flows.home import forecast_home
from pricecast.models.recurrent import cudnn_eligible, devices
from pricecast.models.training import EpochLogger
from pricecast.models.variant import forecast_prices, train_variant
from pricecast.tasks.backtest import keras_model_fns, walk_forward
from pricecast.tasks.dataset import PreparedData, prepare
from pricecast.tasks.evaluation import baseline_forecasts, predictions_frame, score
from pricecast.tasks.features import default_inputs
from pricecast.tasks.plots import test_span_figure


@task(name="train-variant", task_run_name="train-{ticker}-{variant.name}", cache_policy=NO_CACHE)
def train_variant_task(
    data: PreparedData,
    variant: VariantConfig,
    config: RunConfig,
    tracker: tracking.Tracker,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
    mixed_precision: bool,
) -> str:
    """Train, forecast, score and log one variant in its own MLflow child run.

    Returns:
        The child run id.
    """
    logger = get_run_logger()
    run_tags = {**tags, "cell": variant.cell, "mixed_precision": str(mixed_precision)}
    with tracking.variant_run(tracker, parent_id, ticker, variant.name, run_tags) as run_id:
        callbacks = [
            EpochLogger(logger.info, f"{ticker}/{variant.name}", config.training.epochs),
            tracking.EpochMetrics(tracker, run_id),
        ]
        model, fitted = train_variant(
            data, variant, config.training, callbacks, mixed_precision=mixed_precision
        )
        t0 = time.perf_counter()
        predicted = forecast_prices(model, data, "test")
        forecasts = {variant.name: predicted, **baseline_forecasts(data, "test")}
        scores = score(data, forecasts, "test")
        evaluate_seconds = time.perf_counter() - t0
        metrics = scores.pop(variant.name)
        t0 = time.perf_counter()
        frame = predictions_frame(data, forecasts, "test").rename(
            columns={variant.name: "predicted"}
        )
        figure = test_span_figure(
            data,
            forecasts,
            {**{k: v["rmse"] for k, v in scores.items()}, variant.name: metrics["rmse"]},
        )
        x_test, _ = data.part("test")
        rate = fitted.samples * fitted.epochs_run / max(fitted.seconds, 1e-9)
        params = tracking.flatten(
            {"variant": variant.model_dump(mode="json"), "training": config.training.model_dump()}
        )
        params["features.inputs_used"] = ",".join(data.features)
        tracking.tag_run(run_id, tracker, {"cudnn_eligible": str(cudnn_eligible(model))})
        tracking.log_variant(
            run_id,
            params,
            metrics,
            scores,
            frame,
            figure,
            data.scaler,
            model,
            x_test[: min(len(x_test), 32)],
            extra_metrics={
                "epochs_run": fitted.epochs_run,
                "best_epoch": fitted.best_epoch,
                "train_seconds": fitted.seconds,
                "samples_per_second": rate,
                "evaluate_seconds": evaluate_seconds,
            },
        )
        tracking.log_metric(tracker, run_id, "log_seconds", time.perf_counter() - t0)
    logger.info(
        f"{ticker}/{variant.name}: rmse {metrics['rmse']:.4f} "
        f"(persistence {scores['persistence']['rmse']:.4f}), {fitted.epochs_run} epochs, "
        f"{fitted.seconds:.1f}s, {rate:.0f} samples/s"
    )
    return run_id


@task(
    name="backtest-variant", task_run_name="backtest-{ticker}-{variant.name}", cache_policy=NO_CACHE
)
def backtest_variant_task(
    prices: pd.DataFrame,
    variant: VariantConfig,
    config: RunConfig,
    tracker: tracking.Tracker,
    run_id: str,
    ticker: str,
    mixed_precision: bool,
) -> str:
    """Walk-forward backtest of one variant; the table goes to its run as ``backtest.csv``.

    Returns:
        The run id the backtest was logged to.
    """
    logger = get_run_logger()
    backtest = config.backtest
    assert backtest is not None
    inputs = config.features.inputs or default_inputs(
        config.data.target, config.features.target_transform
    )
    fns = keras_model_fns(
        variant,
        config.training,
        config.features.window,
        len(inputs),
        config.features.horizon,
        refit_epochs=backtest.refit_epochs,
        mixed_precision=mixed_precision,
    )
    t0 = time.perf_counter()
    frame = walk_forward(
        prices, [fns], features=config.features, backtest=backtest, target=config.data.target
    )
    seconds = time.perf_counter() - t0
    rows = frame[frame["model"] == variant.name]
    tracking.log_backtest(tracker, run_id, rows, seconds)
    logger.info(
        f"{ticker}/{variant.name}: backtest of {rows['cutoff'].nunique()} origins in {seconds:.1f}s"
    )
    return run_id


@flow(name="train", task_runner=ThreadPoolTaskRunner(max_workers=4))
def train(
    ticker: str,
    config: RunConfig,
    prices_uri: str,
    parent_run_id: str,
    tags: dict[str, str] | None = None,
) -> Any:
    """Train every configured variant of one ticker on prices passed by MLflow URI.

    Args:
        ticker: The symbol.
        config: The run configuration (features, split, variants, training).
        prices_uri: ``runs:/<parent>/data/prices.parquet`` — the validated prices.
        parent_run_id: The ticker's MLflow parent run; variants become its children.
        tags: Extra MLflow tags for the child runs (e.g. the Prefect flow-run id).

    Returns:
        ``{"ticker", "runs", "failed", "device"}``; a Failed state when a variant failed.
    """
    logger = get_run_logger()
    tracker = tracking.open_experiment(config.experiment, forecast_home())
    frame = tracking.load_frame(tracker, prices_uri)
    data = prepare(frame, ticker, config.features, config.split, config.data.target)
    device = devices()
    mixed = config.training.mixed_precision and device["device"] == "GPU"
    if config.training.mixed_precision and not mixed:
        logger.warning("mixed precision asked for, but no GPU is visible: training in float32")
    logger.info(
        f"{ticker}: training {len(config.variants)} variant(s) on {device['device']}"
        + (f" ({device['gpu_names']})" if device["device"] == "GPU" else "")
        + (", mixed_float16" if mixed else "")
    )
    run_tags = {**(tags or {}), **{f"device.{k}": v for k, v in device.items()}}
    futures = train_variant_task.map(
        unmapped(data),
        config.variants,
        unmapped(config),
        unmapped(tracker),
        unmapped(parent_run_id),
        unmapped(ticker),
        unmapped(run_tags),
        unmapped(mixed),
    )
    backtests = []
    if config.backtest is not None:
        backtests = [
            backtest_variant_task.submit(
                frame, variant, config, tracker, future, ticker, mixed, wait_for=[future]
            )
            for variant, future in zip(config.variants, futures, strict=True)
        ]
    runs, failed = {}, {}
    for variant, future in zip(config.variants, futures, strict=True):
        result = future.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            failed[variant.name] = f"{type(result).__name__}: {result}"
        else:
            runs[variant.name] = result
    for variant, future in zip(config.variants, backtests, strict=False):
        if variant.name in failed:
            continue
        result = future.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            failed[variant.name] = f"backtest: {type(result).__name__}: {result}"
            tracking.tag_run(runs[variant.name], tracker, {"backtest_error": failed[variant.name]})
    summary = {"ticker": ticker, "runs": runs, "failed": failed, "device": device}
    if failed:
        detail = "; ".join(f"{k}: {v}" for k, v in failed.items())
        return Failed(
            message=f"{len(failed)} of {len(futures)} variant(s) failed — {detail}", data=summary
        )
    return summary

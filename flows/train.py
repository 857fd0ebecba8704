"""Train and backtest every variant of one ticker; the ``train`` flow is the GPU-pool unit.

In-process (default), the ``forecast`` flow's ticker task trains the variants itself
(:func:`train_in_process`) with the ticker's :class:`Dataset` in memory. With
``training.dispatch: deployment`` it submits the ``train`` flow to its deployment on a
``gpu`` work pool: that run gets its prices by a ``runs:/`` URI, builds its own dataset,
and leaves its :class:`TrainResult` on the ticker's parent run
(``stores/tracking/handoff.py``): that is the one place results cross processes.
"""

# pyright: reportArgumentType=false, reportCallIssue=false
# (Prefect resolves the futures passed to ``submit`` into their results; its type hints
# declare the results' types only.)

import time
from collections.abc import Callable
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from pricecast.configs.schema import RunConfig, VariantConfig
from pricecast.flows import stopping
from pricecast.flows.boot import train_run_name
from pricecast.flows.home import forecast_home
from pricecast.flows.results import TrainResult, VariantBacktest, VariantResult
from pricecast.stores.tracking import handoff, runs, store
from pricecast.tasks.dataset import Dataset, build_dataset
from pricecast.tasks.evaluation import backtest_gap, forecast_split
from pricecast.tasks.interval_scores import by_horizon
from pricecast.tasks.validate import stamp


@task(name="train-variant", task_run_name="train-{ticker}-{variant.name}", cache_policy=NO_CACHE)
def train_variant_task(
    data: Dataset,
    variant: VariantConfig,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
    mixed_precision: bool,
) -> VariantResult:
    """Train one variant in its own MLflow child run and forecast the test span with it."""
    from pricecast.flows.variant_run import log_trained
    from pricecast.models.training import EpochLogger, StopWhenSet
    from pricecast.models.variant import train_variant

    logger = get_run_logger()
    run_tags = {**tags, "cell": variant.cell, "mixed_precision": str(mixed_precision)}
    as_of = stamp(data.dates[-1])
    with runs.variant_run(tracker, parent_id, ticker, variant.name, run_tags, as_of) as run_id:
        callbacks = [
            EpochLogger(logger.info, f"{ticker}/{variant.name}", config.training.epochs),
            runs.epoch_callback(),
            StopWhenSet(stopping.REQUESTED, then=stopping.hold),
        ]
        trained = train_variant(
            data, variant, config.training, callbacks, mixed_precision=mixed_precision
        )
        forecasts = forecast_split(trained.forecaster, trained.state, data, "test")
        t0 = time.perf_counter()
        fitted = trained.fit
        model_uri, fit = log_trained(
            tracker, run_id, variant, config, data, trained.model, data.scaler, fitted, 1,
            final=config.backtest is None,
        )  # fmt: skip
        fit["log_seconds"] = time.perf_counter() - t0
    logger.info(
        f"{ticker}/{variant.name}: {fitted.epochs_run} epochs, {fitted.seconds:.1f}s, "
        f"{fit['samples_per_second']:.0f} samples/s"
    )
    return VariantResult(variant.name, run_id, model_uri, forecasts, fit, trained)


@task(
    name="backtest-variant", task_run_name="backtest-{ticker}-{variant.name}", cache_policy=NO_CACHE
)
def backtest_variant_task(
    data: Dataset,
    variant: VariantConfig,
    config: RunConfig,
    tracker: store.Tracker,
    trained: VariantResult,
    ticker: str,
    mixed_precision: bool,
) -> VariantBacktest:
    """Walk-forward backtest of a variant trained apart for the test table.

    Only when the backtest's origins miss the test span (see ``train_variants``): the
    rows go to its run as ``backtest.csv``, and its ``fits`` metric counts both trainings.
    """
    from pricecast.flows.variant_run import variant_walk_forward
    from pricecast.models.training import FitResult

    t0 = time.perf_counter()
    fits: list[FitResult] = []
    frame = variant_walk_forward(data, variant, config, mixed_precision, fits)
    seconds = time.perf_counter() - t0
    runs.log_backtest(tracker, trained.run_id, frame, seconds, by_horizon(frame))
    runs.log_metric(tracker, trained.run_id, "fits", trained.fit["fits"] + len(fits))
    get_run_logger().info(
        f"{ticker}/{variant.name}: backtest of {frame['cutoff'].nunique()} origins "
        f"in {seconds:.1f}s"
    )
    return VariantBacktest(variant.name, frame, seconds, len(fits))


def _reason(result: Any) -> str:
    return f"{type(result).__name__}: {result}"


Submit = Callable[[Task[..., Any], dict[str, Any]], PrefectFuture[Any]]
"""Submits a task with its parameters: to the ``train`` flow's runner, or a local one."""


def train_variants(
    ticker: str,
    config: RunConfig,
    tracker: store.Tracker,
    parent_run_id: str,
    dataset: Dataset,
    tags: dict[str, str],
    submit: Submit,
) -> TrainResult:
    """Train (and backtest) every configured variant of one ticker on ``submit``'s runner.

    With a backtest whose origins hold the test span's, each variant trains once: its
    walk-forward gives both the backtest and the test table (``flows/variant_run.py``).
    Without a backtest it trains on the train split; with one whose origins miss the
    test span (it starts before the first origin, or falls between origins), it trains
    on the train split for the test table and again for the backtest, and says so.

    Returns:
        The :class:`TrainResult`, whose ``failed`` names each variant that failed and why.
    """
    from pricecast.flows.variant_run import evaluate_variant_task
    from pricecast.models.recurrent import devices

    logger = get_run_logger()
    device = devices()
    mixed = config.training.mixed_precision and device["device"] == "GPU"
    if config.training.mixed_precision and not mixed:
        logger.warning("mixed precision asked for, but no GPU is visible: training in float32")
    logger.info(
        f"{ticker}: training {len(config.variants)} variant(s) on {device['device']}"
        + (f" ({device['gpu_names']})" if device["device"] == "GPU" else "")
        + (", mixed_float16" if mixed else "")
    )
    run_tags = {**tags, **{f"device.{k}": v for k, v in device.items()}}
    common = {"data": dataset, "config": config, "tracker": tracker, "ticker": ticker}
    own = {"parent_id": parent_run_id, "tags": run_tags, "mixed_precision": mixed}
    result = TrainResult(ticker, device=device)
    gap = backtest_gap(dataset, config.backtest) if config.backtest is not None else None
    if config.backtest is not None and gap is None:
        # One training per variant: the backtest's fits also give the test table.
        once = {
            v.name: submit(evaluate_variant_task, {**common, "variant": v, **own})
            for v in config.variants
        }
        for name, future in once.items():
            outcome = future.result(raise_on_failure=False)
            if isinstance(outcome, BaseException):
                result.failed[name] = _reason(outcome)
            else:
                result.variants[name], result.backtests[name] = outcome
        return result
    if gap is not None:
        logger.warning(
            f"{ticker}: {gap}, so the test table cannot be read from the backtest: each "
            f"variant also trains on the train split for it"
        )
    trained = {
        v.name: submit(train_variant_task, {**common, "variant": v, **own}) for v in config.variants
    }
    backtests = {}
    if config.backtest is not None:
        backtests = {
            v.name: submit(
                backtest_variant_task,
                {**common, "variant": v, "trained": trained[v.name], "mixed_precision": mixed},
            )
            for v in config.variants
        }
    for name, future in trained.items():
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            result.failed[name] = _reason(outcome)
        else:
            result.variants[name] = outcome
    for name, future in backtests.items():
        if name in result.failed:
            continue
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            result.failed[name] = f"backtest: {_reason(outcome)}"
            runs.tag_run(
                tracker, result.variants[name].run_id, {"backtest_error": result.failed[name]}
            )
        else:
            result.backtests[name] = outcome
            result.variants[name].fit["fits"] += outcome.fits
    return result


def failure_message(result: TrainResult, config: RunConfig) -> str | None:
    """How many variants failed and why (``None`` when every variant trained)."""
    if not result.failed:
        return None
    detail = "; ".join(f"{k}: {v}" for k, v in result.failed.items())
    return f"{len(result.failed)} of {len(config.variants)} variant(s) failed — {detail}"


def train_in_process(
    ticker: str,
    config: RunConfig,
    tracker: store.Tracker,
    parent_run_id: str,
    dataset: Dataset,
    tags: dict[str, str],
) -> TrainResult:
    """Train every variant of one ticker here, from the calling task, on a thread pool.

    The ``forecast`` flow's in-process path: the variants' tasks run on a runner of their
    own (no ``train`` flow run to create and close per ticker). Seeded and pointed at the
    store as the ``train`` flow is, since the calling task may run in a worker process.
    """
    from pricecast.models.training import seed_process

    seed_process(config.training.seed)
    store.use_store(tracker)
    with ThreadPoolTaskRunner(max_workers=config.runner.max_workers) as runner:
        return train_variants(
            ticker, config, tracker, parent_run_id, dataset, tags,
            lambda task, params: runner.submit(task, params),
        )  # fmt: skip


@flow(name="train", flow_run_name=train_run_name, task_runner=ThreadPoolTaskRunner(max_workers=4))
def train(
    ticker: str,
    config: RunConfig,
    parent_run_id: str,
    prices_uri: str,
    tags: dict[str, str] | None = None,
) -> Any:
    """Train (and backtest) every configured variant of one ticker, dispatched to a pool.

    Args:
        ticker: The symbol.
        config: The run configuration (features, split, variants, training, backtest).
        parent_run_id: The ticker's MLflow parent run; variants become its children.
        prices_uri: ``runs:/<parent>/data/prices.parquet``, the validated prices (this
            run builds its own dataset from them).
        tags: Extra MLflow tags for the child runs (e.g. the Prefect flow-run id).

    Returns:
        The :class:`TrainResult`; a Failed state (carrying it) when a variant failed.
    """
    from pricecast.models.training import seed_process

    tracker = store.open_experiment(config.experiment, forecast_home())
    # Whatever process this runs in (a work pool's) is its own entry point: seeded once,
    # and MLflow's fluent helpers pointed at the store.
    seed_process(config.training.seed)
    store.use_store(tracker)
    frame = handoff.load_frame(tracker, prices_uri)
    dataset = build_dataset(frame, ticker, config.features, config.split, config.data.target)
    result = train_variants(
        ticker, config, tracker, parent_run_id, dataset, tags or {},
        lambda task, params: task.submit(**params),
    )  # fmt: skip
    handoff.log_train_result(tracker, parent_run_id, result.to_json())
    message = failure_message(result, config)
    if message:
        return Failed(message=message, data=result)
    return result

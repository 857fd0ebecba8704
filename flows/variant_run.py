"""One variant trained once to be evaluated: its walk-forward's fits also give the test table.

With a backtest whose origins hold the test span's, :func:`evaluate_variant_task` runs the
variant's walk-forward in its MLflow child run: the first fit (before the first origin)
and the refits ``refit_every`` asks for are the only trainings, the test-span forecasts
and bands are the backtest's rows at the test origins, and the child run's model is the
first fit's, with the scaler it was fitted with. ``flows/train.py`` keeps the separate
train-split fit for a run without a backtest, or one whose origins miss the test span.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import keras
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pricecast.configs.schema import RunConfig, VariantConfig
from pricecast.flows import stopping
from pricecast.flows.results import VariantBacktest, VariantResult
from pricecast.models.quantile import quantile_model_fns
from pricecast.models.recurrent import cudnn_eligible
from pricecast.models.training import EpochLogger, FitResult, StopWhenSet
from pricecast.models.variant import copy_model, keras_model_fns
from pricecast.stores.tracking import runs, store
from pricecast.tasks.backtest import OnFit, walk_forward
from pricecast.tasks.dataset import Dataset
from pricecast.tasks.evaluation import split_from_backtest, trained_on
from pricecast.tasks.forecasters import Fitted
from pricecast.tasks.interval_scores import by_horizon
from pricecast.tasks.quantile_backtest import head_banded_walk_forward
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.validate import stamp


def variant_walk_forward(
    data: Dataset,
    variant: VariantConfig,
    config: RunConfig,
    mixed_precision: bool,
    fits: list[FitResult],
    *,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    on_fit: OnFit | None = None,
) -> pd.DataFrame:
    """The variant's walk-forward rows, banded as ``intervals.method`` asks.

    Conformal bands come from its residuals; ``quantile``/``cqr`` bands from a quantile
    head of the same configuration trained at the same refits. ``fits`` receives every
    training (the variant's and its head's); ``callbacks`` go to the variant's first fit.
    """
    backtest = config.backtest
    assert backtest is not None
    shape = (config.features.window, len(data.features), config.features.horizon)
    fns = keras_model_fns(
        variant,
        config.training,
        *shape,
        refit_epochs=backtest.refit_epochs,
        mixed_precision=mixed_precision,
        callbacks=callbacks,
        fits=fits,
    )
    intervals = config.intervals
    if intervals is not None and intervals.method != "conformal":
        head = quantile_model_fns(
            variant,
            config.training,
            *shape,
            intervals.levels,
            refit_epochs=backtest.refit_epochs,
            fits=fits,
        )
        return head_banded_walk_forward(
            data.frame, fns, head, intervals, config.features, backtest, config.data.target,
            on_fit=on_fit,
        )  # fmt: skip
    return walk_forward(
        data.frame,
        [fns],
        features=config.features,
        backtest=backtest,
        target=config.data.target,
        include_baselines=False,
        intervals=intervals,
        on_fit=on_fit,
    )


def log_trained(
    tracker: store.Tracker,
    run_id: str,
    variant: VariantConfig,
    config: RunConfig,
    data: Dataset,
    model: keras.Model,
    scaler: SeriesScaler,
    fitted: FitResult,
    fits: int,
    final: bool = True,
) -> tuple[str, dict[str, float]]:
    """Log a variant's fit (params, figures, scaler, model) to its child run.

    ``fits`` is how many times the variant trained to be evaluated so far; when that is
    ``final`` it is logged as the metric ``fits`` (else the backtest logs the total).

    Returns:
        The logged model's URI, and the fit figures the run's summary keeps.
    """
    rate = fitted.samples * fitted.epochs_run / max(fitted.seconds, 1e-9)
    fit = {
        "epochs_run": float(fitted.epochs_run),
        "best_epoch": float(fitted.best_epoch),
        "train_seconds": fitted.seconds,
        "samples_per_second": rate,
        "fits": float(fits),
    }
    params = runs.flatten(
        {"variant": variant.model_dump(mode="json"), "training": config.training.model_dump()}
    )
    params["features.inputs_used"] = ",".join(data.features)
    x_test, _ = data.part("test")
    runs.tag_run(tracker, run_id, {"cudnn_eligible": str(cudnn_eligible(model))})
    logged = {
        "epochs_run": fit["epochs_run"],
        "best_epoch": fit["best_epoch"],
        **({"fits": fit["fits"]} if final else {}),
        **runs.timing({k: fit[k] for k in ("train_seconds", "samples_per_second")}),
    }
    uri = runs.log_variant(tracker, run_id, params, logged, scaler, model, x_test[:32])
    return uri, fit


@task(
    name="evaluate-variant", task_run_name="evaluate-{ticker}-{variant.name}", cache_policy=NO_CACHE
)
def evaluate_variant_task(
    data: Dataset,
    variant: VariantConfig,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
    mixed_precision: bool,
) -> tuple[VariantResult, VariantBacktest]:
    """Train one variant once, by its walk-forward, and read its test table from it.

    The backtest's origins hold the test span's (``tasks.evaluation.backtest_gap``), so
    every test forecast comes from a fit on rows before its origin. The child run's
    ``trained_on`` tag gives the first fit's rows; its model and ``scaler.json`` are
    that fit's.
    """
    logger = get_run_logger()
    run_tags = {**tags, "cell": variant.cell, "mixed_precision": str(mixed_precision)}
    as_of = stamp(data.dates[-1])
    bt = config.backtest
    assert bt is not None
    fits: list[FitResult] = []
    first: list[tuple[int, Fitted]] = []
    refits = bt.refit_every > 0

    def keep_first(name: str, cutoff: int, state: Any) -> None:
        if not first:
            # A warm-started refit trains this model further: keep its weights as they are.
            model = copy_model(state.model) if refits else state.model
            first.append((cutoff, Fitted(model, state.scaler)))

    with runs.variant_run(tracker, parent_id, ticker, variant.name, run_tags, as_of) as run_id:
        callbacks = [
            EpochLogger(logger.info, f"{ticker}/{variant.name}", config.training.epochs),
            runs.epoch_callback(),
            StopWhenSet(stopping.REQUESTED, then=stopping.hold),
        ]
        t0 = time.perf_counter()
        frame = variant_walk_forward(
            data, variant, config, mixed_precision, fits, callbacks=callbacks, on_fit=keep_first
        )
        seconds = time.perf_counter() - t0
        forecasts, bands = split_from_backtest(frame, data, "test")
        cutoff, state = first[0]
        runs.tag_run(tracker, run_id, {"trained_on": trained_on(data.dates, cutoff, bt)})
        t1 = time.perf_counter()
        uri, fit = log_trained(
            tracker, run_id, variant, config, data, state.model, state.scaler, fits[0], len(fits)
        )
        runs.log_backtest(tracker, run_id, frame, seconds, by_horizon(frame))
        fit["log_seconds"] = time.perf_counter() - t1
    logger.info(
        f"{ticker}/{variant.name}: {fits[0].epochs_run} epochs, {fits[0].seconds:.1f}s, "
        f"{fit['samples_per_second']:.0f} samples/s"
    )
    logger.info(
        f"{ticker}/{variant.name}: trained {len(fits)} time(s), first on rows up to "
        f"{stamp(data.dates[cutoff - 1])}; backtest of {frame['cutoff'].nunique()} origins "
        f"in {seconds:.1f}s, the test span read from it"
    )
    result = VariantResult(variant.name, run_id, uri, forecasts, fit, bands=bands)
    return result, VariantBacktest(variant.name, frame, seconds, len(fits))

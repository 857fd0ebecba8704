"""Evaluate a ticker on the test span once, and report it: files, MLflow, the run's summary."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pricecast.configs.schema import RunConfig
from pricecast.flows.results import TickerData, TrainResult
from pricecast.flows.summary import MlflowRuns, TickerSummary, Timings
from pricecast.stores import outputs
from pricecast.stores.tracking import reporting, runs, store
from pricecast.tasks.comparison import comparison_table, with_skill
from pricecast.tasks.evaluation import Evaluation, evaluate_split
from pricecast.tasks.plot_bands import evaluation_bands
from pricecast.tasks.plots import png_bytes, test_span_figure
from pricecast.tasks.validate import stamp


@task(name="evaluate", task_run_name="evaluate-{ticker}", cache_policy=NO_CACHE)
def evaluate_ticker(
    ticker_data: TickerData, trained: TrainResult, config: RunConfig, ticker: str
) -> Evaluation:
    """Score every trained variant and the baselines on the test span, in one place.

    Raises:
        RuntimeError: If no variant trained, naming why each failed.
    """
    data = ticker_data.dataset
    logger = get_run_logger()
    ok = [v.name for v in config.variants if v.name in trained.variants]
    for v in config.variants:
        if v.name not in trained.variants:
            logger.error(f"{ticker}/{v.name} failed: {trained.failed.get(v.name, 'did not run')}")
    if not ok:
        why = "; ".join(trained.failed.get(v.name, "did not run") for v in config.variants)
        raise RuntimeError(f"{ticker}: every variant failed ({why})")
    return evaluate_split(data, {n: trained.variants[n].forecasts for n in ok}, "test")


@task(name="report-ticker", task_run_name="report-{ticker}", cache_policy=NO_CACHE)
def report_ticker(
    ticker_data: TickerData,
    trained: TrainResult,
    evaluation: Evaluation,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    out_dir: str,
    ticker: str,
) -> TickerSummary:
    """Write the comparison (plot, predictions, metrics), log it to MLflow, close the parent run.

    Each variant's child run gets its test-span metrics and ``skill_vs_persistence``
    beside ``persistence_*``, its ``predictions.csv`` and ``forecast.png``; the parent run
    gets the ticker's table, plot and predictions. Without a backtest the parent's
    comparison table (``comparison.json``) is logged here, with test columns only;
    with one, ``report_backtest`` logs it with both.
    """
    t0 = time.perf_counter()
    data = ticker_data.dataset
    scores, forecasts = evaluation.scores, evaluation.forecasts
    skilled = with_skill(scores)
    baselines = [n for n in forecasts if n not in trained.variants]
    for name, variant in trained.variants.items():
        if name not in scores:
            continue
        mine = {name: forecasts[name], **{b: forecasts[b] for b in baselines}}
        rmse = {m: scores[m]["rmse"] for m in mine}
        frame = evaluation.predictions[["origin", "date", "h", "actual", *mine]].rename(
            columns={name: "predicted"}
        )
        runs.log_variant_evaluation(
            tracker,
            variant.run_id,
            skilled[name],
            {b: scores[b] for b in baselines},
            frame,
            png_bytes(test_span_figure(data, mine, rmse)),
        )
    figure = test_span_figure(data, forecasts, {k: v["rmse"] for k, v in scores.items()})
    if config.intervals is not None:
        given = {n: v.bands for n, v in trained.variants.items() if v.bands}
        evaluation_bands(figure.axes[0], data, forecasts, config.intervals, given)
    figure = png_bytes(figure)
    folder = Path(out_dir) / ticker
    files = [
        outputs.write_png(folder / "forecast.png", figure),
        outputs.write_csv(folder / "predictions.csv", evaluation.predictions),
        outputs.write_csv(folder / "metrics.csv", evaluation.table().reset_index(names="model")),
    ]
    reporting.log_ticker_summary(tracker, parent_id, files, best=evaluation.best_by("rmse"))
    if config.backtest is None:
        reporting.log_comparison(tracker, parent_id, comparison_table(scores), {})
    runs.finish_run(tracker, parent_id)
    a, b = data.span("test")
    ok = trained.variants

    def fit(key: str) -> dict[str, float]:
        return {n: v.fit[key] for n, v in ok.items()}

    return TickerSummary(
        source=ticker_data.source,
        test_span=[stamp(a), stamp(b)],
        notes=ticker_data.notes,
        models=scores,
        failed_variants={
            v.name: trained.failed.get(v.name, "did not run")
            for v in config.variants
            if v.name not in ok
        },
        plot=str((folder / "forecast.png").relative_to(out_dir)),
        predictions=str((folder / "predictions.csv").relative_to(out_dir)),
        mlflow=MlflowRuns(
            parent_run_id=parent_id,
            runs={n: v.run_id for n, v in ok.items()},
            model_uris={n: v.model_uri for n, v in ok.items()},
        ),
        timings=Timings(
            prepare=ticker_data.seconds,
            train=fit("train_seconds"),
            evaluate=evaluation.seconds,
            log=fit("log_seconds"),
            report=time.perf_counter() - t0,
            samples_per_second=fit("samples_per_second"),
            epochs=fit("epochs_run"),
            fits=fit("fits"),
        ),
    )

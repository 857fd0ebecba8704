"""The ``forecast`` Prefect flow: per ticker fetch → prepare → train variants → report.

Tickers fan out and the variants of a ticker train concurrently on the flow's task
runner. A ticker that fails (no data, bad data) is marked failed in Prefect and MLflow
while the others complete; the flow's final state names the failed tickers and why.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import allow_failure, flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from pricecast.configs.schema import DataConfig, RunConfig, VariantConfig
from pricecast.flows import outputs, tracking
from pricecast.flows.home import cache_dir, confined, forecast_home, outputs_root
from pricecast.models.training import EpochLogger
from pricecast.models.variant import forecast_prices, train_variant
from pricecast.tasks import sources
from pricecast.tasks.dataset import PreparedData, prepare
from pricecast.tasks.evaluation import baseline_forecasts, predictions_frame, score
from pricecast.tasks.metrics import METRICS
from pricecast.tasks.plots import forecast_figure
from pricecast.tasks.validate import validate_prices

CONTEXT_DAYS = 60
"""Days of real prices before the test span shown in plots."""


@dataclass
class Prepared:
    """Output of the prepare task: the windows plus where the prices came from."""

    data: PreparedData
    source: str
    notes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class VariantResult:
    """What one trained variant produced (no Keras object: the model lives in MLflow)."""

    name: str
    cell: str
    metrics: dict[str, float]
    forecast: np.ndarray
    run_id: str
    model_uri: str
    epochs_run: int
    best_epoch: int
    train_seconds: float
    evaluate_seconds: float
    log_seconds: float
    samples_per_second: float


# --------------------------------------------------------------------------- fetching


def _retry_if_unavailable(task: Any, task_run: Any, state: Any) -> bool:
    """Retry the download only when Yahoo was unreachable or rate-limited."""
    try:
        state.result()
    except sources.SourceUnavailableError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is final
        return False
    return False


@task(
    name="download-yahoo",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=1.0),
    retry_condition_fn=_retry_if_unavailable,
    cache_policy=NO_CACHE,
)
def download_yahoo(
    ticker: str, start: dt.date | None, end: dt.date | None, rate_limit_pause: float = 0.0
) -> pd.DataFrame:
    """Download from Yahoo (the only network call; retried with exponential backoff).

    A rate-limit answer waits ``rate_limit_pause`` seconds more before the retry.
    """
    try:
        return sources.download_yahoo(ticker, start, end)
    except sources.RateLimitedError as err:
        get_run_logger().warning(f"{err}; pausing {rate_limit_pause:.0f}s before retrying")
        time.sleep(rate_limit_pause)
        raise


def _fetch_key(context: Any, parameters: dict[str, Any]) -> str:
    data: DataConfig = parameters["data"]
    parts = [
        parameters["ticker"],
        data.source,
        str(data.start),
        str(data.end),
        str(data.csv_path),
        parameters["home"],
        dt.date.today().isoformat(),
    ]
    return "prices-" + "-".join(parts)


@task(
    name="fetch-prices",
    task_run_name="fetch-{ticker}",
    cache_key_fn=_fetch_key,
    cache_expiration=dt.timedelta(days=1),
    persist_result=True,
)
def fetch_prices(ticker: str, data: DataConfig, home: str) -> sources.LoadedPrices:
    """Load one ticker's prices (cached per ticker, span, source and day)."""
    logger = get_run_logger()
    base = Path(home)
    downloader = download_yahoo.with_options(
        retries=data.retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=data.retry_delay_seconds)
        if data.retries
        else 0,
    )
    csv = (
        confined(sources.csv_path_for(data.csv_path, ticker, base), base, Path.cwd())
        if data.csv_path
        else None
    )
    loaded = sources.load_prices(
        ticker,
        data.start,
        data.end,
        data.source,
        cache_dir=cache_dir(base),
        csv_path=csv,
        download=lambda t, s, e: downloader(t, s, e, data.rate_limit_pause_seconds),
    )
    for note in loaded.notes:
        logger.warning(note)
    f = loaded.frame
    logger.info(
        f"{ticker}: {len(f)} rows {f.index[0]:%Y-%m-%d}..{f.index[-1]:%Y-%m-%d} "
        f"from source {loaded.source}"
    )
    return loaded


# --------------------------------------------------------------------------- preparing


@task(name="prepare-data", task_run_name="prepare-{ticker}", cache_policy=NO_CACHE)
def prepare_data(
    loaded: sources.LoadedPrices,
    config: RunConfig,
    tracker: tracking.Tracker,
    parent_id: str,
    ticker: str,
) -> Prepared:
    """Validate, split, scale and window one ticker's prices."""
    logger = get_run_logger()
    t0 = time.perf_counter()
    checked = validate_prices(loaded.frame, ticker, config.data.null_rows)
    for note in checked.notes:
        logger.warning(note)
    data = prepare(checked.frame, ticker, config.features, config.split, config.data.target)
    seconds = time.perf_counter() - t0
    first, last = data.dates[0], data.dates[-1]
    tracking.log_data_info(
        tracker,
        parent_id,
        loaded.source,
        f"{first:%Y-%m-%d}",
        f"{last:%Y-%m-%d}",
        len(data.dates),
        loaded.notes + checked.notes,
    )
    spans = {s: data.span(s) for s in ("train", "val", "test")}
    logger.info(
        f"{ticker}: "
        + ", ".join(f"{s} {a:%Y-%m-%d}..{b:%Y-%m-%d}" for s, (a, b) in spans.items())
        + f"; {len(data.features)} input(s), window {data.window}, horizon {data.horizon}"
    )
    return Prepared(data, loaded.source, loaded.notes + checked.notes, {"prepare": seconds})


# --------------------------------------------------------------------------- training


@task(name="train-variant", task_run_name="train-{ticker}-{variant.name}", cache_policy=NO_CACHE)
def train_variant_task(
    prepared: Prepared,
    variant: VariantConfig,
    config: RunConfig,
    tracker: tracking.Tracker,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
) -> VariantResult:
    """Train, forecast, score and log one variant in its own MLflow child run."""
    logger = get_run_logger()
    data = prepared.data
    run_tags = {**tags, "cell": variant.cell}
    with tracking.variant_run(tracker, parent_id, ticker, variant.name, run_tags) as run_id:
        callbacks = [
            EpochLogger(logger.info, f"{ticker}/{variant.name}", config.training.epochs),
            tracking.EpochMetrics(tracker, run_id),
        ]
        model, fitted = train_variant(data, variant, config.training, callbacks)
        t0 = time.perf_counter()
        predicted = forecast_prices(model, data, "test")
        forecasts = {variant.name: predicted, **baseline_forecasts(data, "test")}
        scores = score(data, forecasts, "test")
        evaluate_seconds = time.perf_counter() - t0
        metrics = scores.pop(variant.name)
        frame = predictions_frame(data, forecasts, "test").rename(
            columns={variant.name: "predicted"}
        )
        t0 = time.perf_counter()
        figure = _figure(data, forecasts, {**scores, variant.name: metrics})
        x_test, _ = data.part("test")
        rate = fitted.samples * fitted.epochs_run / max(fitted.seconds, 1e-9)
        params = tracking.flatten(
            {"variant": variant.model_dump(mode="json"), "training": config.training.model_dump()}
        )
        params["features.inputs_used"] = ",".join(data.features)
        model_uri = tracking.log_variant(
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
            },
        )
        log_seconds = time.perf_counter() - t0
    logger.info(
        f"{ticker}/{variant.name}: rmse {metrics['rmse']:.4f} "
        f"(persistence {scores['persistence']['rmse']:.4f}), {fitted.epochs_run} epochs, "
        f"{fitted.seconds:.1f}s"
    )
    return VariantResult(
        name=variant.name,
        cell=variant.cell,
        metrics=metrics,
        forecast=predicted,
        run_id=run_id,
        model_uri=model_uri,
        epochs_run=fitted.epochs_run,
        best_epoch=fitted.best_epoch,
        train_seconds=fitted.seconds,
        evaluate_seconds=evaluate_seconds,
        log_seconds=log_seconds,
        samples_per_second=rate,
    )


# --------------------------------------------------------------------------- reporting


def _figure(
    data: PreparedData, forecasts: dict[str, np.ndarray], scores: dict[str, dict[str, float]]
) -> Any:
    """Real prices vs the h=1 forecast of every model over the test span."""
    dates = data.target_dates("test")
    actual = pd.Series(data.actual_prices("test")[:, 0], index=dates)
    first_test_row = int(np.searchsorted(data.dates, dates[0]))
    lo = max(0, first_test_row - CONTEXT_DAYS)
    context = pd.Series(
        data.prices[lo : first_test_row + 1], index=data.dates[lo : first_test_row + 1]
    )
    lines = {name: pd.Series(pred[:, 0], index=dates) for name, pred in forecasts.items()}
    title = f"{data.ticker}: real vs forecast (h=1 of {data.horizon}), test span"
    return forecast_figure(title, context, actual, lines, {k: v["rmse"] for k, v in scores.items()})


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


@task(name="report-ticker", task_run_name="report-{ticker}", cache_policy=NO_CACHE)
def report_ticker(
    prepared: Prepared,
    results: list[Any],
    config: RunConfig,
    tracker: tracking.Tracker,
    parent_id: str,
    out_dir: str,
    ticker: str,
) -> dict[str, Any]:
    """Compare all variants with persistence: table, plot, predictions; close the parent run."""
    logger = get_run_logger()
    t0 = time.perf_counter()
    data = prepared.data
    ok = [r for r in results if isinstance(r, VariantResult)]
    failed = {
        v.name: _reason(r)
        for v, r in zip(config.variants, results, strict=True)
        if not isinstance(r, VariantResult)
    }
    for name, why in failed.items():
        logger.error(f"{ticker}/{name} failed: {why}")
    if not ok:
        raise RuntimeError(f"{ticker}: every variant failed ({'; '.join(failed.values())})")
    forecasts = {r.name: r.forecast for r in ok}
    forecasts.update(baseline_forecasts(data, "test"))
    scores = score(data, forecasts, "test")
    table = pd.DataFrame(scores).T[list(METRICS)]
    figure = _figure(data, forecasts, scores)
    frame = predictions_frame(data, forecasts, "test")
    folder = Path(out_dir) / ticker
    files = [
        outputs.write_png(folder / "forecast.png", figure),
        outputs.write_csv(folder / "predictions.csv", frame),
        outputs.write_csv(folder / "metrics.csv", table.reset_index(names="model")),
    ]
    tracking.log_ticker_summary(tracker, parent_id, files, best=str(table["rmse"].idxmin()))
    tracking.finish_run(tracker, parent_id)
    a, b = data.span("test")
    return {
        "source": prepared.source,
        "test_span": [f"{a:%Y-%m-%d}", f"{b:%Y-%m-%d}"],
        "notes": prepared.notes,
        "models": {name: scores[name] for name in forecasts},
        "failed_variants": failed,
        "plot": str((folder / "forecast.png").relative_to(out_dir)),
        "predictions": str((folder / "predictions.csv").relative_to(out_dir)),
        "mlflow": {
            "parent_run_id": parent_id,
            "runs": {r.name: r.run_id for r in ok},
            "model_uris": {r.name: r.model_uri for r in ok},
        },
        "timings": {
            "prepare": prepared.seconds["prepare"],
            "train": {r.name: r.train_seconds for r in ok},
            "evaluate": {r.name: r.evaluate_seconds for r in ok},
            "log": {r.name: r.log_seconds for r in ok},
            "report": time.perf_counter() - t0,
            "samples_per_second": {r.name: r.samples_per_second for r in ok},
            "epochs": {r.name: r.epochs_run for r in ok},
        },
    }


def _failure(future: PrefectFuture) -> str | None:
    """Why a future's task failed (``None`` if it completed)."""
    state = future.state
    if state.is_completed():
        return None
    if state.is_failed() or state.is_crashed():
        result = future.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            return _reason(result)
        return state.message or state.name
    return None


def _prefect_tags() -> dict[str, str]:
    tags = {}
    if flow_run.id:
        tags["prefect.flow_run_id"] = str(flow_run.id)
        tags["prefect.flow_run_name"] = str(flow_run.name)
    url = flow_run.ui_url
    if url:
        tags["prefect.flow_run_url"] = url
    return tags


def _artifacts(summary: dict[str, Any], tracker: tracking.Tracker) -> None:
    rows = []
    links = [f"# Forecast run — MLflow experiment `{tracker.experiment_name}`", ""]
    if tracker.local:
        links.append(f"Browse with `{tracker.ui_command()}` and open the links below there.\n")
    for ticker, info in summary["tickers"].items():
        for name, metrics in info["models"].items():
            rows.append(
                {"ticker": ticker, "model": name, **{k: round(v, 4) for k, v in metrics.items()}}
            )
        runs = info["mlflow"]
        links.append(f"- **{ticker}** ([parent run]({tracker.run_url(runs['parent_run_id'])}))")
        for name, run_id in runs["runs"].items():
            links.append(f"  - [{name}]({tracker.run_url(run_id)})")
    for ticker, why in summary["failed"].items():
        links.append(f"- **{ticker}** failed: {why}")
    create_table_artifact(
        rows,
        key="forecast-metrics",
        description="Test-span metrics per ticker and model, persistence included",
    )
    create_markdown_artifact(
        "\n".join(links), key="forecast-mlflow-runs", description="MLflow runs of this flow run"
    )


# --------------------------------------------------------------------------- the flow


@flow(name="forecast", task_runner=ThreadPoolTaskRunner(max_workers=4))
def forecast(config: RunConfig, output_dir: str | None = None) -> Any:
    """Fetch, prepare, train every variant, compare with persistence, log and plot.

    Args:
        config: The run configuration (editable in the Prefect UI).
        output_dir: Where ``summary.json``, plots and predictions go (default:
            ``FORECAST_HOME/outputs/<experiment>/<timestamp>``).

    Returns:
        The summary (also written to ``summary.json``); a Failed state naming the
        failed tickers when any ticker failed.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    home = forecast_home()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(output_dir) if output_dir else outputs_root(home) / config.experiment / stamp
    outputs.check_writable(out)
    tracker = tracking.open_experiment(config.experiment, home)
    tags = _prefect_tags()
    config_data = config.model_dump(mode="json")
    plan: dict[str, tuple[str, list[PrefectFuture], PrefectFuture]] = {}
    for ticker in config.data.tickers:
        parent = tracking.start_ticker_run(tracker, ticker, config_data, tags)
        fetched = fetch_prices.submit(ticker, config.data, str(home))
        prepared = prepare_data.submit(fetched, config, tracker, parent, ticker)
        trained = train_variant_task.map(
            unmapped(prepared),
            config.variants,
            unmapped(config),
            unmapped(tracker),
            unmapped(parent),
            unmapped(ticker),
            unmapped(tags),
        )
        report = report_ticker.submit(
            prepared, [allow_failure(f) for f in trained], config, tracker, parent, str(out), ticker
        )
        plan[ticker] = (parent, [fetched, prepared, report], report)

    summary: dict[str, Any] = {
        "experiment": config.experiment,
        "experiment_id": tracker.experiment_id,
        "tracking_uri": tracker.uri,
        "flow_run_id": tags.get("prefect.flow_run_id"),
        "output_dir": str(out),
        "tickers": {},
        "failed": {},
    }
    for ticker, (parent, chain, report) in plan.items():
        report.wait()
        if report.state.is_completed():
            summary["tickers"][ticker] = report.result()
            continue
        reason = next((r for r in map(_failure, chain) if r), report.state.message or "did not run")
        summary["failed"][ticker] = reason
        tracking.finish_run(tracker, parent, error=reason)
        logger.error(f"{ticker} failed: {reason}")
    summary["flow_seconds"] = time.perf_counter() - started
    outputs.write_json(out / "summary.json", summary)
    _artifacts(summary, tracker)
    if summary["failed"]:
        n, total = len(summary["failed"]), len(config.data.tickers)
        detail = "; ".join(f"{t}: {why}" for t, why in summary["failed"].items())
        return Failed(message=f"{n} of {total} ticker(s) failed — {detail}", data=summary)
    return summary


def with_runner(config: RunConfig) -> Any:
    """The ``forecast`` flow with the task runner the config asks for."""
    return forecast.with_options(
        task_runner=ThreadPoolTaskRunner(max_workers=config.runner.max_workers)
    )

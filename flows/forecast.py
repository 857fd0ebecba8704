"""The ``forecast`` Prefect flow: per ticker fetch → prepare → train → evaluate → report → champion.

Read :func:`forecast` as the table of contents: every step is a task that returns a
typed result (``flows/results.py``) which Prefect hands to the next in memory. MLflow and
the output folder are sinks: written to, never read back. Tickers fan out on the flow's
task runner; a ticker that fails (no data, bad data) is marked failed in Prefect and
MLflow while the others complete, and the flow's final state names the failed tickers.
"""

# pyright: reportArgumentType=false, reportCallIssue=false
# (Prefect resolves the futures passed to ``submit`` into their results; its type hints
# declare the results' types only.)

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.settings import PREFECT_UI_URL
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from pricecast.configs.schema import RunConfig
from pricecast.flows.boot import forecast_run_name, load_tensorflow, tensorflow_ready
from pricecast.flows.champion import (
    backtest_ticker,
    decide_champion,
    register_champion,
    report_backtest,
)
from pricecast.flows.dispatch import why_unserved
from pricecast.flows.fetch import fetch_prices
from pricecast.flows.home import forecast_home, run_output_dir
from pricecast.flows.report import evaluate_ticker, report_ticker
from pricecast.flows.results import TickerData, TrainResult
from pricecast.flows.summary import BacktestFailure, RunSummary
from pricecast.flows.table import publish_artifacts
from pricecast.stores import outputs
from pricecast.stores.prices import LoadedPrices
from pricecast.stores.tracking import handoff, runs, store
from pricecast.tasks.backtest import fit_backtest
from pricecast.tasks.dataset import build_dataset
from pricecast.tasks.series import validate_by_kind
from pricecast.tasks.validate import stamp


@task(name="prepare", task_run_name="prepare-{ticker}", cache_policy=NO_CACHE)
def prepare(
    loaded: LoadedPrices, config: RunConfig, tracker: store.Tracker, parent_id: str, ticker: str
) -> TickerData:
    """Validate, split, scale and window one ticker's prices; record the span on its run."""
    logger = get_run_logger()
    t0 = time.perf_counter()
    checked, frequency, label = validate_by_kind(
        loaded.frame, ticker, config.data, config.features, today=dt.date.today()
    )
    for note in checked.notes:
        logger.warning(note)
    data = build_dataset(checked.frame, ticker, config.features, config.split, config.data.target)
    data = replace(data, frequency=frequency, label=label)
    backtest, cut = config.backtest, None
    if backtest is not None:
        # Before training: a ticker too young for a meaningful backtest fails here.
        backtest, cut = fit_backtest(
            checked.frame, ticker, config.features, backtest, config.data.target
        )
        if cut:
            logger.warning(cut)
    seconds = time.perf_counter() - t0
    notes = loaded.notes + checked.notes + ([cut] if cut else [])
    first, last = data.dates[0], data.dates[-1]
    runs.name_run(tracker, parent_id, runs.run_name(ticker, stamp(last)))
    runs.log_data_info(
        tracker, parent_id, loaded.source, stamp(first), stamp(last),
        len(data.dates), notes,
    )  # fmt: skip
    spans = {s: data.span(s) for s in ("train", "val", "test")}
    logger.info(
        f"{ticker}: "
        + ", ".join(f"{s} {stamp(a)}..{stamp(b)}" for s, (a, b) in spans.items())
        + f"; {len(data.features)} input(s), window {data.window}, horizon {data.horizon}"
    )
    return TickerData(data, loaded.source, notes, seconds, backtest)


@task(name="train-ticker", task_run_name="train-{ticker}", cache_policy=NO_CACHE)
def train_ticker(
    ticker_data: TickerData,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
) -> TrainResult:
    """Train every variant of one ticker: in this task, or as a ``train`` deployment run.

    In-process, the dataset is passed in memory and the result comes back the same way.
    Dispatched, the prices go by ``runs:/`` URI and the result comes back through the
    parent run (the GPU-dispatch boundary, ``stores/tracking/handoff.py``).
    """
    logger = get_run_logger()
    config = config.model_copy(update={"backtest": ticker_data.backtest})
    if config.training.dispatch == "deployment":
        from prefect.deployments import run_deployment

        uri = handoff.log_frame(
            tracker, parent_id, ticker_data.dataset.frame, "data/prices.parquet"
        )
        params = {
            "ticker": ticker,
            "config": config.model_dump(mode="json"),
            "parent_run_id": parent_id,
            "prices_uri": uri,
            "tags": tags,
        }
        logger.info(f"{ticker}: submitting training to deployment {config.training.deployment}")
        run: Any = run_deployment(
            name=config.training.deployment,
            parameters=params,
            timeout=config.training.dispatch_timeout_seconds,
            as_subflow=True,
        )
        if run.state is None or not run.state.is_final():
            raise TimeoutError(
                f"{ticker}: training run {run.name} did not finish within "
                f"{config.training.dispatch_timeout_seconds:.0f}s"
            )
        state_name, message = run.state.name, run.state.message
        result = TrainResult.from_json(handoff.read_train_result(tracker, parent_id))
    else:
        # Variants (and their backtests) run on threads, as many at once as the config allows.
        from pricecast.flows.train import failure_message, train_in_process

        result = train_in_process(ticker, config, tracker, parent_id, ticker_data.dataset, tags)
        message = failure_message(result, config)
        state_name = "Failed" if message else "Completed"
    logger.info(f"{ticker}: training ended {state_name}" + (f": {message}" if message else ""))
    return result


def _failure(future: PrefectFuture) -> str | None:
    """Why a future's task failed (``None`` if it completed)."""
    state = future.state
    if state.is_completed():
        return None
    if state.is_failed() or state.is_crashed():
        result = future.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            return f"{type(result).__name__}: {result}"
        return state.message or state.name
    return None


def _prefect_tags() -> dict[str, str]:
    tags = {}
    if flow_run.id:
        tags["prefect.flow_run_id"] = str(flow_run.id)
        tags["prefect.flow_run_name"] = str(flow_run.name)
    # Prefect builds the link from its UI URL even when it has none ("None/flow-runs/...").
    url = flow_run.ui_url
    if url and PREFECT_UI_URL.value():
        tags["prefect.flow_run_url"] = url
    return tags


@flow(
    name="forecast",
    flow_run_name=forecast_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=4),
)
def forecast(config: RunConfig, output_dir: str | None = None) -> Any:
    """Fetch, prepare, train every variant, compare with the baselines, log and plot.

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
    out = Path(output_dir) if output_dir else run_output_dir(home, config.experiment)
    outputs.check_writable(out)
    training = config.training
    if training.dispatch == "deployment" and (why := why_unserved(training.deployment)):
        return Failed(message=f"training cannot be dispatched: {why}")
    tracker = store.open_experiment(config.experiment, home)
    store.use_store(tracker)  # the entry point: once, for MLflow's fluent helpers
    tags = _prefect_tags()
    config_data = config.model_dump(mode="json")
    plan: dict[str, tuple[str, list[PrefectFuture], list[PrefectFuture]]] = {}
    prepared = {}
    for ticker in config.data.tickers:
        parent = runs.start_ticker_run(tracker, ticker, config_data, tags)
        loaded = fetch_prices.submit(ticker, config.data, str(home))
        prepared[ticker] = (parent, loaded, prepare.submit(loaded, config, tracker, parent, ticker))
    # Fetching and preparing need no TensorFlow: it loads on a thread while they run.
    load_tensorflow()
    tensorflow_ready(training.seed)  # before the first step that trains or predicts
    fits: dict[str, Any] = {}
    if training.scope == "global":
        from pricecast.flows.global_train import train_global

        # One model per variant, once every ticker is prepared (a failed one is left out).
        done = [d.result(raise_on_failure=False) for _, _, d in prepared.values()]
        ready = [d for d in done if isinstance(d, TickerData)]
        trained_fits = {
            v.name: train_global.submit(v, ready, config, tracker, tags) for v in config.variants
        }
        fits = {n: f.result(raise_on_failure=False) for n, f in trained_fits.items()}
    for ticker, (parent, loaded, data) in prepared.items():
        if fits:
            from pricecast.flows.global_train import global_ticker

            trained = global_ticker.submit(data, fits, config, tracker, parent, ticker, tags)
        else:
            trained = train_ticker.submit(data, config, tracker, parent, ticker, tags)
        scored = evaluate_ticker.submit(data, trained, config, ticker)
        report = report_ticker.submit(
            data, trained, scored, config, tracker, parent, str(out), ticker
        )
        backtest: list[PrefectFuture] = []
        if config.backtest is not None:
            bt = backtest_ticker.submit(data, trained, config, ticker, wait_for=[scored])
            decision = decide_champion.submit(bt, data, config, tracker, ticker)
            registered = register_champion.submit(decision, trained, data, config, tracker, ticker)
            reported = report_backtest.submit(
                bt, registered, scored, trained, config, tracker, parent, str(out), ticker
            )
            backtest = [bt, decision, registered, reported]
        plan[ticker] = (parent, [loaded, data, trained, scored, report], backtest)

    summary = RunSummary(
        experiment=config.experiment,
        experiment_id=tracker.experiment_id,
        tracking_uri=tracker.shown_uri,
        flow_run_id=tags.get("prefect.flow_run_id"),
        output_dir=str(out),
    )
    for ticker, (parent, chain, backtest) in plan.items():
        report = chain[-1]
        report.wait()
        if report.state.is_completed():
            info = summary.tickers[ticker] = report.result()
            if backtest:
                reported = backtest[-1]
                reported.wait()
                if reported.state.is_completed():
                    info.backtest = reported.result()
                else:
                    why = next(
                        (r for r in map(_failure, backtest) if r),
                        reported.state.message or "did not run",
                    )
                    info.backtest = BacktestFailure(error=why)
                    # Its test-span results stand, but the run failed: the champion was
                    # not decided, and the flow state and exit code must say so.
                    summary.failed[ticker] = f"backtest failed: {why}"
                    runs.finish_run(tracker, parent, error=summary.failed[ticker])
                    logger.error(f"{ticker}: backtest/champion failed: {why}")
            continue
        reason = next((r for r in map(_failure, chain) if r), report.state.message or "did not run")
        summary.failed[ticker] = reason
        runs.finish_run(tracker, parent, error=reason)
        logger.error(f"{ticker} failed: {reason}")
    summary.flow_seconds = time.perf_counter() - started
    outputs.write_json(out / "summary.json", summary.model_dump(mode="json"))
    publish_artifacts(summary, tracker)
    if summary.failed:
        n, total = len(summary.failed), len(config.data.tickers)
        detail = "; ".join(f"{t}: {why}" for t, why in summary.failed.items())
        return Failed(message=f"{n} of {total} ticker(s) failed — {detail}", data=summary)
    return summary


def task_runner(config: RunConfig) -> Any:
    """The task runner ``config.runner`` asks for (threads, processes or Dask)."""
    runner = config.runner
    if runner.kind == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=runner.max_workers)
    if runner.kind == "dask":
        from prefect_dask.task_runners import DaskTaskRunner

        if runner.dask_address:
            return DaskTaskRunner(address=runner.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": runner.max_workers,
                "threads_per_worker": 1,
                "processes": True,
                "host": "127.0.0.1",
                "dashboard_address": None,
            }
        )
    return ThreadPoolTaskRunner(max_workers=runner.max_workers)


def with_runner(config: RunConfig) -> Any:
    """The ``forecast`` flow with the task runner the config asks for."""
    return forecast.with_options(task_runner=task_runner(config))

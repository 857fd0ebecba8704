"""The ``forecast`` Prefect flow: per ticker fetch → prepare → train → report.

Tickers fan out on the flow's task runner; each ticker's variants are trained by the
``train`` flow (``flows/train.py``), in-process or on a GPU work pool, and read back from
MLflow. A ticker that fails (no data, bad data) is marked failed in Prefect and MLflow
while the others complete; the flow's final state names the failed tickers and why.
"""

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from pricecast.configs.schema import DataConfig, RunConfig
from pricecast.flows import outputs, tracking
from pricecast.flows.home import cache_dir, confined, forecast_home, run_output_dir
from pricecast.flows.train import train
from pricecast.models.forecaster import Forecaster, ForecastSpec
from pricecast.tasks import sources
from pricecast.tasks.backtest import insample_scale, summarize, walk_forward
from pricecast.tasks.champion import decide
from pricecast.tasks.dataset import PreparedData, prepare
from pricecast.tasks.evaluation import baseline_forecasts, predictions_frame, score
from pricecast.tasks.metrics import METRICS, evaluate
from pricecast.tasks.plots import backtest_figure, test_span_figure
from pricecast.tasks.validate import validate_prices


@dataclass
class Prepared:
    """Output of the prepare task: the windows, the validated prices and their MLflow URI."""

    data: PreparedData
    prices: pd.DataFrame
    prices_uri: str
    source: str
    notes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


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


def _download_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of a download: FORECAST_HOME, ticker, span and today's date.

    The home is part of it so that each installation (and each test's home) fills its
    own price cache from its own downloads. Hashed: the home is a path, and the key
    names a file in Prefect's result storage.
    """
    parts = (forecast_home(), parameters["ticker"], parameters["start"], parameters["end"])
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f"yahoo-{parameters['ticker']}-{dt.date.today().isoformat()}-{digest}"


@task(
    name="download-yahoo",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=1.0),
    retry_condition_fn=_retry_if_unavailable,
    cache_key_fn=_download_key,
    cache_expiration=dt.timedelta(days=1),
    persist_result=True,
)
def download_yahoo(
    ticker: str, start: dt.date | None, end: dt.date | None, rate_limit_pause: float = 0.0
) -> pd.DataFrame:
    """Download from Yahoo (the only network call; retried with exponential backoff).

    A rate-limit answer waits ``rate_limit_pause`` seconds more before the retry. A
    successful download is cached by Prefect for the day (home, ticker, span); failures
    are not.
    """
    try:
        return sources.download_yahoo(ticker, start, end)
    except sources.RateLimitedError as err:
        get_run_logger().warning(f"{err}; pausing {rate_limit_pause:.0f}s before retrying")
        time.sleep(rate_limit_pause)
        raise


@task(name="fetch-prices", task_run_name="fetch-{ticker}", cache_policy=NO_CACHE)
def fetch_prices(ticker: str, data: DataConfig, home: str) -> sources.LoadedPrices:
    """Load one ticker's prices from the configured source.

    Not cached itself: local files (the parquet cache, a CSV) are read on every run, so
    a file repaired or corrupted since the last run is seen. Only the download is cached.
    """
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
    prices_uri = tracking.log_frame(tracker, parent_id, checked.frame, "data/prices.parquet")
    spans = {s: data.span(s) for s in ("train", "val", "test")}
    logger.info(
        f"{ticker}: "
        + ", ".join(f"{s} {a:%Y-%m-%d}..{b:%Y-%m-%d}" for s, (a, b) in spans.items())
        + f"; {len(data.features)} input(s), window {data.window}, horizon {data.horizon}"
    )
    return Prepared(
        data,
        checked.frame,
        prices_uri,
        loaded.source,
        loaded.notes + checked.notes,
        {"prepare": seconds},
    )


# --------------------------------------------------------------------------- training


@task(name="train-ticker", task_run_name="train-{ticker}", cache_policy=NO_CACHE)
def train_ticker(
    prepared: Prepared,
    config: RunConfig,
    parent_id: str,
    ticker: str,
    tags: dict[str, str],
) -> str:
    """Run the ``train`` flow for one ticker: in-process, or as a deployment run.

    Returns:
        The final state's name of the training run (its results are in MLflow).
    """
    logger = get_run_logger()
    params = {
        "ticker": ticker,
        "config": config,
        "prices_uri": prepared.prices_uri,
        "parent_run_id": parent_id,
        "tags": tags,
    }
    if config.training.dispatch == "deployment":
        from prefect.deployments import run_deployment

        params["config"] = config.model_dump(mode="json")
        logger.info(f"{ticker}: submitting training to deployment {config.training.deployment}")
        run = run_deployment(
            name=config.training.deployment,
            parameters=params,
            timeout=config.training.dispatch_timeout_seconds,
            as_subflow=True,
        )
        state = run.state
        if state is None or not state.is_final():
            raise TimeoutError(
                f"{ticker}: training run {run.name} did not finish within "
                f"{config.training.dispatch_timeout_seconds:.0f}s"
            )
    else:
        # Variants (and their backtests) run on threads, as many at once as the config allows.
        runner = ThreadPoolTaskRunner(max_workers=config.runner.max_workers)
        state = train.with_options(task_runner=runner)(**params, return_state=True)
    logger.info(
        f"{ticker}: training ended {state.name}" + (f": {state.message}" if state.message else "")
    )
    return state.name


# --------------------------------------------------------------------------- reporting


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _forecast_array(outcome: tracking.VariantOutcome, data: PreparedData) -> np.ndarray:
    """The variant's test forecasts ``(n, H)`` from its predictions table, checked for alignment."""
    frame = outcome.predictions
    origins = data.dates[data.origins[data.split == "test"]]
    expected = np.repeat(origins.to_numpy(), data.horizon)
    if (
        frame is None
        or len(frame) != len(expected)
        or not (frame["origin"].to_numpy() == expected).all()
    ):
        raise ValueError(f"{outcome.name}: logged predictions do not cover this run's test origins")
    return frame["predicted"].to_numpy(dtype="float64").reshape(-1, data.horizon)


@task(name="report-ticker", task_run_name="report-{ticker}", cache_policy=NO_CACHE)
def report_ticker(
    prepared: Prepared,
    training_state: str,
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
    outcomes = tracking.variant_outcomes(tracker, parent_id)
    ok = {
        v.name: outcomes[v.name]
        for v in config.variants
        if v.name in outcomes and outcomes[v.name].status == "FINISHED"
    }
    failed = {
        v.name: (outcomes[v.name].error or outcomes[v.name].status)
        if v.name in outcomes
        else f"did not run (training {training_state})"
        for v in config.variants
        if v.name not in ok
    }
    for name, why in failed.items():
        logger.error(f"{ticker}/{name} failed: {why}")
    if not ok:
        raise RuntimeError(f"{ticker}: every variant failed ({'; '.join(failed.values())})")
    forecasts = {name: _forecast_array(o, data) for name, o in ok.items()}
    forecasts.update(baseline_forecasts(data, "test"))
    scores = score(data, forecasts, "test")
    table = pd.DataFrame(scores).T[list(METRICS)]
    figure = test_span_figure(data, forecasts, {k: v["rmse"] for k, v in scores.items()})
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

    def metric(name: str) -> dict[str, float]:
        return {n: o.metrics.get(name, float("nan")) for n, o in ok.items()}

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
            "runs": {n: o.run_id for n, o in ok.items()},
            "model_uris": {n: o.model_uri for n, o in ok.items()},
        },
        "timings": {
            "prepare": prepared.seconds["prepare"],
            "train": metric("train_seconds"),
            "evaluate": metric("evaluate_seconds"),
            "log": metric("log_seconds"),
            "report": time.perf_counter() - t0,
            "samples_per_second": metric("samples_per_second"),
            "epochs": metric("epochs_run"),
        },
    }


def _score_current(
    tracker: tracking.Tracker,
    ticker: str,
    prices: pd.DataFrame,
    rows: pd.DataFrame,
    metric: str,
    h: int,
) -> tuple[bool, float | None, str]:
    """Score the registered champion on the same backtest origins (no refit).

    Returns:
        ``(exists, value or None, label)``.
    """
    version = tracking.champion_version(tracker, ticker)
    if version is None:
        return False, None, "no champion yet"
    label = f"champion v{version.version}"
    try:
        current = tracking.load_champion(tracker, ticker)
        pred = current.forecast_at(prices, pd.DatetimeIndex(rows["cutoff"]))[:, h - 1]
    except Exception as err:  # noqa: BLE001 - an unscorable champion is kept, with the reason
        return True, None, f"{label} ({type(err).__name__}: {err})"
    scores = evaluate(rows["actual"], pred, rows["anchor"], float(rows["scale"].iloc[0]))
    return True, scores[metric], label


@task(name="choose-champion", task_run_name="champion-{ticker}", cache_policy=NO_CACHE)
def choose_champion(
    prepared: Prepared,
    report: dict[str, Any],
    config: RunConfig,
    tracker: tracking.Tracker,
    parent_id: str,
    out_dir: str,
    ticker: str,
) -> dict[str, Any]:
    """Combine the variants' backtests with the baselines, pick and guard the champion."""
    logger = get_run_logger()
    t0 = time.perf_counter()
    bt, rule, target = config.backtest, config.champion, config.data.target
    assert bt is not None
    parts, seconds = [], {}
    for name, run_id in report["mlflow"]["runs"].items():
        try:
            part, seconds[name] = tracking.read_backtest(tracker, run_id)
            parts.append(part)
        except Exception as err:  # noqa: BLE001 - a variant without a backtest just drops out
            logger.warning(f"{ticker}/{name}: no backtest ({type(err).__name__}: {err})")
    baselines = walk_forward(
        prepared.prices, [], features=config.features, backtest=bt, target=target
    )
    frame = pd.concat([*parts, baselines], ignore_index=True)
    scale = insample_scale(prepared.prices[target], frame["cutoff"].min())
    summary = summarize(frame, scale)
    ref = frame[(frame["model"] == "persistence") & (frame["h"] == rule.h)].assign(scale=scale)
    exists, current, label = _score_current(
        tracker, ticker, prepared.prices, ref, rule.metric, rule.h
    )
    decision = decide(summary, rule.metric, rule.h, current, label, exists, rule.min_improvement)
    version = None
    if decision.candidate and rule.register_winner:
        data = prepared.data
        run_id = report["mlflow"]["runs"][decision.candidate]
        spec = ForecastSpec(
            ticker=ticker,
            target=target,
            inputs=list(data.features),
            window=data.window,
            horizon=data.horizon,
            transform=data.transform,
            variant=decision.candidate,
            trained_until=f"{data.span('val')[1]:%Y-%m-%d}",
        )
        model = tracking.load_keras(tracker, report["mlflow"]["model_uris"][decision.candidate])
        forecaster = Forecaster(model, data.scaler, spec)
        example = prepared.prices.tail(forecaster.min_rows + 5).reset_index()
        uri = tracking.log_forecaster(tracker, run_id, forecaster, example)
        version = tracking.register(
            tracker,
            ticker,
            uri,
            run_id,
            {
                "variant": decision.candidate,
                "decision": decision.reason,
                "promoted": decision.promote,
            },
        )
        if decision.promote:
            tracking.set_champion(tracker, ticker, version)
    champion_now = tracking.champion_version(tracker, ticker)
    tracking.note_decision(tracker, parent_id, decision.reason, decision.best)
    rmse = {name: m["rmse"][rule.h - 1] for name, m in summary.items()}
    figure = backtest_figure(
        f"{ticker}: walk-forward backtest, {frame['cutoff'].nunique()} origins (h={rule.h})",
        frame,
        rmse,
        rule.h,
    )
    tracking.log_backtest_summary(tracker, parent_id, frame, summary, figure)
    folder = Path(out_dir) / ticker
    outputs.write_png(folder / "backtest.png", figure)
    outputs.write_csv(folder / "backtest.csv", frame)
    verdict = "promoted" if decision.promote else "not promoted"
    logger.info(f"{ticker}: backtest winner {decision.best} ({verdict}): {decision.reason}")
    return {
        "n_origins": int(frame["cutoff"].nunique()),
        "horizon": config.features.horizon,
        "seconds": sum(seconds.values()) + time.perf_counter() - t0,
        "model_seconds": seconds,
        "champion": decision.best,
        "decision": decision.reason,
        "promoted": decision.promote,
        "registered_version": version,
        "champion_version": str(champion_now.version) if champion_now else None,
        "models": summary,
        "plot": str((folder / "backtest.png").relative_to(out_dir)),
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
        bt = info.get("backtest", {})
        for name, metrics in info["models"].items():
            row = {"ticker": ticker, "model": name, **{k: round(v, 4) for k, v in metrics.items()}}
            if "models" in bt and name in bt["models"]:
                row["backtest_mase_h1"] = round(bt["models"][name]["mase"][0], 4)
                row["backtest_best"] = name == bt["champion"]
                row["champion"] = name == bt["champion"] and bt["promoted"]
            rows.append(row)
        for name, metrics in bt.get("models", {}).items():
            if name not in info["models"]:  # baselines scored only in the backtest
                rows.append(
                    {
                        "ticker": ticker,
                        "model": name,
                        "backtest_mase_h1": round(metrics["mase"][0], 4),
                        "backtest_best": name == bt["champion"],
                        "champion": False,
                    }
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
    out = Path(output_dir) if output_dir else run_output_dir(home, config.experiment)
    outputs.check_writable(out)
    tracker = tracking.open_experiment(config.experiment, home)
    tags = _prefect_tags()
    config_data = config.model_dump(mode="json")
    plan: dict[str, tuple[str, list[PrefectFuture], PrefectFuture, PrefectFuture | None]] = {}
    for ticker in config.data.tickers:
        parent = tracking.start_ticker_run(tracker, ticker, config_data, tags)
        fetched = fetch_prices.submit(ticker, config.data, str(home))
        prepared = prepare_data.submit(fetched, config, tracker, parent, ticker)
        trained = train_ticker.submit(prepared, config, parent, ticker, tags)
        report = report_ticker.submit(prepared, trained, config, tracker, parent, str(out), ticker)
        chosen = (
            choose_champion.submit(prepared, report, config, tracker, parent, str(out), ticker)
            if config.backtest is not None
            else None
        )
        plan[ticker] = (parent, [fetched, prepared, trained, report], report, chosen)

    summary: dict[str, Any] = {
        "experiment": config.experiment,
        "experiment_id": tracker.experiment_id,
        "tracking_uri": tracker.uri,
        "flow_run_id": tags.get("prefect.flow_run_id"),
        "output_dir": str(out),
        "tickers": {},
        "failed": {},
    }
    for ticker, (parent, chain, report, chosen) in plan.items():
        report.wait()
        if report.state.is_completed():
            summary["tickers"][ticker] = report.result()
            if chosen is not None:
                chosen.wait()
                if chosen.state.is_completed():
                    summary["tickers"][ticker]["backtest"] = chosen.result()
                else:
                    why = _failure(chosen) or chosen.state.message
                    summary["tickers"][ticker]["backtest"] = {"error": why}
                    logger.error(f"{ticker}: backtest/champion failed: {why}")
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


def task_runner(config: RunConfig) -> Any:
    """The task runner ``config.runner`` asks for (threads, processes or Dask)."""
    runner = config.runner
    if runner.kind == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=runner.max_workers)
    if runner.kind == "dask":
        from prefect_dask import DaskTaskRunner

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

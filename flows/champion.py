"""After training: the whole backtest, the champion guard's decision, the registry, the report.

Four tasks, one purpose each: :func:`backtest_ticker` adds the baselines to the variants'
walk-forward rows and summarises them; :func:`decide_champion` scores the current
champion on the same origins and applies the guard (``tasks/champion.py``);
:func:`register_champion` registers the best model and moves the alias when the guard
says so; :func:`report_backtest` writes and logs what happened.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pricecast.configs.schema import RunConfig
from pricecast.flows.results import BacktestResult, Registration, TickerData, TrainResult
from pricecast.flows.summary import BacktestSummary
from pricecast.models.forecaster import Forecaster, ForecastSpec
from pricecast.stores import outputs
from pricecast.stores.tracking import handoff, registry, runs, store
from pricecast.tasks.backtest import insample_scale, summarize, walk_forward
from pricecast.tasks.champion import ChampionDecision, decide
from pricecast.tasks.metrics import evaluate
from pricecast.tasks.plots import backtest_figure


@task(name="backtest", task_run_name="backtest-{ticker}", cache_policy=NO_CACHE)
def backtest_ticker(
    ticker_data: TickerData, trained: TrainResult, config: RunConfig, ticker: str
) -> BacktestResult:
    """The variants' backtests beside the baselines on the same origins, summarised."""
    data = ticker_data.dataset
    bt = ticker_data.backtest  # config.backtest, or fewer origins for a short history
    assert bt is not None
    for name in trained.variants:
        if name not in trained.backtests:
            get_run_logger().warning(f"{ticker}/{name}: no backtest ({trained.failed.get(name)})")
    parts = [
        trained.backtests[v.name].frame for v in config.variants if v.name in trained.backtests
    ]
    baselines = walk_forward(
        data.frame, [], features=config.features, backtest=bt, target=config.data.target
    )
    frame = pd.concat([*parts, baselines], ignore_index=True)
    scale = insample_scale(data.frame[config.data.target], frame["cutoff"].min())
    seconds = {n: b.seconds for n, b in trained.backtests.items()}
    return BacktestResult(frame, summarize(frame, scale), scale, seconds)


def _score_current(
    tracker: store.Tracker, ticker: str, prices: pd.DataFrame, rows: pd.DataFrame, metric: str
) -> tuple[bool, float | None, str]:
    """Score the registered champion on the backtest's origins (no refit).

    Returns:
        ``(exists, value or None, label)``.
    """
    version = registry.champion_version(tracker, ticker)
    if version is None:
        return False, None, "no champion yet"
    label = f"champion v{version.version}"
    try:
        current = registry.load_champion(tracker, ticker)
        if current is None:
            raise LookupError("the alias points at no loadable version")
        pred = current.forecast_at(prices, pd.DatetimeIndex(rows["cutoff"]))
        h = int(rows["h"].iloc[0])
        pred = pred[:, h - 1]
    except Exception as err:  # noqa: BLE001 - an unscorable champion is kept, with the reason
        return True, None, f"{label} ({type(err).__name__}: {err})"
    scores = evaluate(rows["actual"], pred, rows["anchor"], float(rows["scale"].iloc[0]))
    return True, scores[metric], label


@task(name="decide-champion", task_run_name="decide-{ticker}", cache_policy=NO_CACHE)
def decide_champion(
    backtest: BacktestResult,
    ticker_data: TickerData,
    config: RunConfig,
    tracker: store.Tracker,
    ticker: str,
) -> ChampionDecision:
    """Score the current champion on the same origins and apply the guard."""
    data = ticker_data.dataset
    rule = config.champion
    frame = backtest.frame
    ref = frame[(frame["model"] == "persistence") & (frame["h"] == rule.h)].assign(
        scale=backtest.scale
    )
    exists, current, label = _score_current(tracker, ticker, data.frame, ref, rule.metric)
    return decide(
        backtest.summary, rule.metric, rule.h, current, label, exists, rule.min_improvement
    )


@task(name="register-champion", task_run_name="register-{ticker}", cache_policy=NO_CACHE)
def register_champion(
    decision: ChampionDecision,
    trained: TrainResult,
    ticker_data: TickerData,
    config: RunConfig,
    tracker: store.Tracker,
    ticker: str,
) -> Registration:
    """Register a recurrent best model as a pyfunc version; move ``@champion`` if promoted."""
    data = ticker_data.dataset
    version = None
    name = decision.candidate
    if name and config.champion.register_winner:
        variant = trained.variants[name]
        if variant.trained is not None:
            model, scaler = variant.trained.model, variant.trained.state.scaler
        else:  # trained on another worker: the dispatch boundary, by URI
            model, scaler = handoff.load_variant(tracker, variant.run_id, variant.model_uri)
        spec = ForecastSpec(
            ticker=ticker,
            target=config.data.target,
            inputs=list(data.features),
            window=data.window,
            horizon=data.horizon,
            transform=data.transform,
            variant=name,
            trained_until=f"{data.span('val')[1]:%Y-%m-%d}",
        )
        forecaster = Forecaster(model, scaler, spec)
        example = data.frame.tail(forecaster.min_rows + 5).reset_index()
        uri = registry.log_forecaster(tracker, variant.run_id, forecaster, example)
        tags = {"variant": name, "decision": decision.reason, "promoted": decision.promote}
        version = registry.register(tracker, ticker, uri, variant.run_id, tags)
        if decision.promote:
            registry.set_champion(tracker, ticker, version)
    now = registry.champion_version(tracker, ticker)
    return Registration(decision, version, str(now.version) if now else None)


@task(name="report-backtest", task_run_name="report-backtest-{ticker}", cache_policy=NO_CACHE)
def report_backtest(
    backtest: BacktestResult,
    registration: Registration,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    out_dir: str,
    ticker: str,
) -> BacktestSummary:
    """Plot and write the backtest, log it and the decision to the parent run."""
    t0 = time.perf_counter()
    h, decision, frame = config.champion.h, registration.decision, backtest.frame
    runs.note_decision(tracker, parent_id, decision.reason, decision.best_model)
    rmse = {name: m["rmse"][h - 1] for name, m in backtest.summary.items()}
    figure = backtest_figure(
        f"{ticker}: walk-forward backtest, {backtest.n_origins} origins (h={h})", frame, rmse, h
    )
    runs.log_backtest_summary(tracker, parent_id, frame, backtest.summary, figure)
    folder = Path(out_dir) / ticker
    outputs.write_png(folder / "backtest.png", figure)
    outputs.write_csv(folder / "backtest.csv", frame)
    verdict = "promoted" if decision.promote else "not promoted"
    get_run_logger().info(
        f"{ticker}: backtest winner {decision.best_model} ({verdict}): {decision.reason}"
    )
    return BacktestSummary(
        n_origins=backtest.n_origins,
        horizon=config.features.horizon,
        seconds=sum(backtest.model_seconds.values()) + time.perf_counter() - t0,
        model_seconds=backtest.model_seconds,
        best_model=decision.best_model,
        decision=decision.reason,
        promoted=decision.promote,
        registered_version=registration.registered_version,
        champion_version=registration.champion_version,
        models=backtest.summary,
        plot=str((folder / "backtest.png").relative_to(out_dir)),
    )

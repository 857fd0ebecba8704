"""After training: the whole backtest, the champion guard's decision, the registry, the report.

Four tasks, one purpose each: :func:`backtest_ticker` adds the baselines to the variants'
walk-forward rows and summarises them; :func:`decide_champion` scores the current
champion on the same origins and applies the guard (``tasks/champion.py``);
:func:`register_champion` registers the best model and moves the alias when the guard
says so; :func:`report_backtest` writes and logs what happened.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pricecast.configs.schema import RunConfig
from pricecast.flows.results import BacktestResult, Registration, TickerData, TrainResult
from pricecast.flows.summary import BacktestSummary
from pricecast.stores import outputs
from pricecast.stores.tracking import registry, reporting, runs, store
from pricecast.tasks.backtest import insample_scale, summarize, walk_forward
from pricecast.tasks.champion import ChampionDecision, decide, fingerprint
from pricecast.tasks.comparison import SKILL, comparison_table, pooled_scores, with_skill
from pricecast.tasks.evaluation import Evaluation
from pricecast.tasks.interval_scores import (
    common_rows,
    interval_columns,
    interval_metrics,
    levels_of,
)
from pricecast.tasks.intervals import bound_columns
from pricecast.tasks.metrics import METRICS, evaluate
from pricecast.tasks.plot_layers import ahead, date_span
from pricecast.tasks.plots import backtest_figure, png_bytes
from pricecast.tasks.series import axis_label
from pricecast.tasks.validate import stamp

FINGERPRINT_TAG = "fingerprint"
"""Version tag: sha256 of the candidate's prices, configuration and seed."""


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
    series = config.data.series
    baselines = walk_forward(
        data.frame,
        [],
        features=config.features,
        backtest=bt,
        target=config.data.target,
        season_length=series.season_length if series else None,
        intervals=config.intervals,
    )
    frame = pd.concat([*parts, baselines], ignore_index=True)
    scale = insample_scale(data.frame[config.data.target], frame["cutoff"].min())
    seconds = {n: b.seconds for n, b in trained.backtests.items()}
    return BacktestResult(frame, summarize(frame, scale), scale, seconds)


def _score_current(
    tracker: store.Tracker, ticker: str, prices: pd.DataFrame, rows: pd.DataFrame, metric: str
) -> tuple[bool, float | None, str, str | None]:
    """Score the registered champion on the backtest's origins (no refit).

    An interval metric scores the bands the champion keeps; a champion registered
    without them cannot be scored on it, ever, so it counts as one that cannot be loaded.

    Returns:
        ``(exists, value or None, label, why it cannot be loaded or None)``.
    """
    version = registry.champion_version(tracker, ticker)
    if version is None:
        return False, None, "no champion yet", None
    label = f"champion v{version.version}"
    try:
        current = registry.load_version(tracker, ticker, str(version.version))
    except registry.UnloadableModelError as err:
        why = f"{label} cannot be loaded ({err})"
        get_run_logger().error(f"{ticker}: {why}")
        registry.tag_version(tracker, ticker, str(version.version), "unloadable", str(err))
        return True, None, label, why
    except Exception as err:  # noqa: BLE001 - e.g. the store did not answer: kept, with the reason
        return True, None, f"{label} ({type(err).__name__}: {err})", None
    try:
        origins = pd.Index(rows["cutoff"])
        pred = current.forecast_at(prices, origins)
        h = int(rows["h"].iloc[0])
        bands = {c: v[:, h - 1] for c, v in current.bands(pred, prices, origins).items()}
        pred = pred[:, h - 1]
    except Exception as err:  # noqa: BLE001 - an unscorable champion is kept, with the reason
        return True, None, f"{label} ({type(err).__name__}: {err})", None
    if metric in METRICS:
        scores = evaluate(rows["actual"], pred, rows["anchor"], float(rows["scale"].iloc[0]))
        return True, scores[metric], label, None
    levels = levels_of(rows)
    if sorted(bands) != sorted(bound_columns(levels)):
        why = f"{label} keeps no prediction intervals at levels {levels} to score its {metric}"
        return True, None, label, why
    return True, interval_metrics(rows.assign(**bands), levels)[metric], label, None


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
    if rule.metric not in METRICS:
        # Interval scores cover the origins every model banded; the champion's too.
        # Its own bands replace persistence's in these rows when it is scored.
        ref = ref[common_rows(frame, levels_of(frame)).loc[ref.index]]
    exists, current, label, unloadable = _score_current(
        tracker, ticker, data.frame, ref, rule.metric
    )
    return decide(
        backtest.summary,
        rule.metric,
        rule.h,
        current,
        label,
        exists,
        rule.min_improvement,
        unloadable=unloadable,
    )


def _settings(config: RunConfig, name: str) -> dict:
    """What shapes a registered candidate besides its prices (for its fingerprint)."""
    from pricecast.models.production import PROCEDURE

    return {
        "procedure": PROCEDURE,
        "variant": config.variant(name).model_dump(mode="json"),
        "training": config.training.model_dump(mode="json"),
        "features": config.features.model_dump(mode="json"),
        "target": config.data.target,
        "backtest": config.backtest.model_dump(mode="json") if config.backtest else None,
        "calendar": config.live.calendar,
    }


@task(name="register-champion", task_run_name="register-{ticker}", cache_policy=NO_CACHE)
def register_champion(
    decision: ChampionDecision,
    trained: TrainResult,
    ticker_data: TickerData,
    config: RunConfig,
    tracker: store.Tracker,
    ticker: str,
) -> Registration:
    """Register the backtest's winning variant as a pyfunc version; move ``@champion`` if promoted.

    The guard judged the variant's configuration by its walk-forward, whose models are
    refitted at every origin; what is registered is that configuration refitted on every
    row by the same procedure (``models/production.py``), and the version's tags say so.
    A candidate whose prices, configuration and seed match a registered version (its
    ``fingerprint`` tag) is not registered again and does not move the alias.
    """
    from pricecast.models.production import PROCEDURE, refit_on_all

    data = ticker_data.dataset
    version, refit_seconds, holder = None, 0.0, None
    name = decision.candidate
    if name and config.champion.register_winner:
        variant = trained.variants[name]
        mark = fingerprint(data.frame, _settings(config, name))
        same = registry.find_version(tracker, ticker, FINGERPRINT_TAG, mark)
        if same is not None:
            holder = str(same.version)
            decision = replace(
                decision,
                promote=False,
                reason=f"{decision.reason}; identical to v{same.version} (same data, config "
                f"and seed): nothing registered, the champion alias is unchanged",
            )
        else:
            bt = config.backtest
            t0 = time.perf_counter()
            forecaster = refit_on_all(
                config.variant(name),
                config.training,
                config.features,
                data.frame,
                config.data.target,
                ticker,
                val_fraction=bt.val_fraction if bt else config.split.val_fraction,
                calendar=config.live.calendar,
                frequency=data.frequency,
                intervals=config.intervals,
            )
            refit_seconds = time.perf_counter() - t0
            example = data.frame.tail(forecaster.min_rows + 5).reset_index()
            uri = registry.log_forecaster(tracker, variant.run_id, forecaster, example)
            first, last = data.frame.index[0], data.frame.index[-1]
            tags = {
                "variant": name,
                "decision": decision.reason,
                "promoted": decision.promote,
                "scored": f"walk-forward backtest of {name}'s configuration "
                f"({backtest_origins(trained, name)} origins, refitted as configured)",
                "procedure": PROCEDURE,
                "trained_on": f"{stamp(first)}..{stamp(last)}",
                FINGERPRINT_TAG: mark,
            }
            version = holder = registry.register(tracker, ticker, uri, variant.run_id, tags)
            if decision.promote:
                registry.set_champion(tracker, ticker, version)
    now = registry.champion_version(tracker, ticker)
    return Registration(
        decision,
        version,
        str(now.version) if now else None,
        refit_seconds,
        refit_variant=name if holder else None,
        refit_version=holder,
    )


def backtest_origins(trained: TrainResult, name: str) -> int:
    """Origins of a variant's walk-forward (0 when it has none)."""
    bt = trained.backtests.get(name)
    return int(bt.frame["cutoff"].nunique()) if bt is not None else 0


@task(name="report-backtest", task_run_name="report-backtest-{ticker}", cache_policy=NO_CACHE)
def report_backtest(
    backtest: BacktestResult,
    registration: Registration,
    evaluation: Evaluation,
    trained: TrainResult,
    config: RunConfig,
    tracker: store.Tracker,
    parent_id: str,
    out_dir: str,
    ticker: str,
) -> BacktestSummary:
    """Plot and write the backtest, log it and the decision to the parent run.

    The parent run also gets the ticker's comparison table (test and backtest side by
    side), and every variant's child run its ``backtest_skill_vs_persistence``.
    """
    t0 = time.perf_counter()
    h, decision, frame = config.champion.h, registration.decision, backtest.frame
    label = axis_label(config.data, ticker)
    runs.note_decision(tracker, parent_id, decision.reason, decision.best_model)
    rmse = {name: m["rmse"][h - 1] for name, m in backtest.summary.items()}
    unit = "day" if config.data.series is None else "step"
    span = date_span(pd.Index(frame.loc[frame["h"] == h, "date"]))
    figure = backtest_figure(
        f"{ticker}: walk-forward backtest, {backtest.n_origins} origins, forecasts "
        f"{ahead(h, unit)}, {span}",
        frame,
        rmse,
        h,
        ylabel=label,
    )
    pooled = pooled_scores(frame, backtest.scale)
    skill = with_skill(pooled)
    reporting.log_comparison(
        tracker,
        parent_id,
        comparison_table(evaluation.scores, pooled, interval_columns(backtest.summary)),
        {
            v.run_id: {f"backtest_{SKILL}": skill[name][SKILL]}
            for name, v in trained.variants.items()
            if name in skill
        },
    )
    folder = Path(out_dir) / ticker
    plot = outputs.write_png(folder / "backtest.png", png_bytes(figure))
    reporting.log_backtest_summary(tracker, parent_id, frame, backtest.summary, plot, pooled)
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
        refit_seconds=registration.refit_seconds,
        refit_variant=registration.refit_variant,
        refit_version=registration.refit_version,
        models=backtest.summary,
        plot=str((folder / "backtest.png").relative_to(out_dir)),
    )

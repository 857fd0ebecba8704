"""The tasks of one night for one ticker: prices, live scores, retraining, forecast, record.

Prices up to ``as_of``, the live scores of what has matured, the retraining rule, the
production refit, the forecast of the next sessions, and the ledger record.

Nothing here reads a price dated after ``as_of``: the prices are cut there as they are
loaded, and every later step receives that frame.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pricecast.configs.schema import RunConfig
from pricecast.stores import outputs
from pricecast.stores.ledger import Ledger
from pricecast.stores.prices import LoadedPrices
from pricecast.stores.tracking import live, registry, store
from pricecast.tasks.baselines import drift_model, persistence_model
from pricecast.tasks.calendar import next_sessions, session_index, sessions_between
from pricecast.tasks.forecasters import series_from_prices
from pricecast.tasks.interval_backtest import baseline_bands, relative_space
from pricecast.tasks.live import (
    RetrainDecision,
    check_decay,
    matured,
    retrain_due,
    score_live,
    windows_for,
)
from pricecast.tasks.plot_bands import live_bands
from pricecast.tasks.plots import live_figure, png_bytes
from pricecast.tasks.validate import validate_prices

if TYPE_CHECKING:
    from pricecast.models.forecaster import Forecaster

_loaded: dict[tuple[str, str, str], Forecaster] = {}
"""Production forecasters loaded in this process, by (tracking URI, ticker, version)."""


@dataclass
class NightResult:
    """What one night did for one ticker.

    Attributes:
        as_of: The session closed.
        ticker: The symbol.
        retrained: Whether the night retrained (experiment, guard, production refit).
        reason: Why it retrained or reused the models.
        model: The production variant that forecast (``None``: baselines only).
        version: Its registry version.
        rows_written: Ledger rows inserted (0 when the night had been recorded).
        scores: Live scores after this night's matured forecasts.
        decision: The champion guard's decision on a retraining night.
    """

    as_of: dt.date
    ticker: str
    retrained: bool
    reason: str
    model: str | None
    version: str | None
    rows_written: int
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    decision: str | None = None


@task(name="night-prices", task_run_name="prices-{ticker}-{as_of}", cache_policy=NO_CACHE)
def night_prices(
    loaded: LoadedPrices, config: RunConfig, ticker: str, as_of: dt.date
) -> pd.DataFrame:
    """Validated prices up to ``as_of``; the night fails when that session is missing."""
    frame = loaded.frame.loc[loaded.frame.index <= pd.Timestamp(as_of)]
    checked = validate_prices(
        frame, ticker, config.data.null_rows, target=config.data.target, today=dt.date.today()
    ).frame
    if checked.index[-1] != pd.Timestamp(as_of):
        raise LookupError(
            f"{ticker}: no price for the session {as_of} yet (latest "
            f"{checked.index[-1]:%Y-%m-%d}, source {loaded.source})"
        )
    return checked


@task(name="score-live", task_run_name="score-{ticker}-{as_of}", cache_policy=NO_CACHE)
def score_night(
    prices: pd.DataFrame, ledger: Ledger, config: RunConfig, ticker: str, as_of: dt.date
) -> pd.DataFrame:
    """Live scores of every forecast that has matured by ``as_of`` (from the ledger)."""
    rows = ledger.forecasts([ticker], until=as_of)
    target = prices[config.data.target]
    return score_live(rows, target, pd.Timestamp(as_of), windows_for(config.live.score_windows))


@task(name="decide-retrain", task_run_name="retrain?-{ticker}-{as_of}", cache_policy=NO_CACHE)
def decide_retrain(
    prices: pd.DataFrame,
    ledger: Ledger,
    tracker: store.Tracker,
    config: RunConfig,
    ticker: str,
    as_of: dt.date,
) -> RetrainDecision:
    """Apply the retraining rule: first night, cadence, or the production model's decay.

    Decay is judged on the forecasts of the production version that serves now: a
    version just refitted is not blamed for its predecessor's record.
    """
    nights = ledger.nights(ticker)
    done = nights[nights["retrained"].astype(bool) & (nights["as_of"] < pd.Timestamp(as_of))]
    last = None if done.empty else pd.Timestamp(done["as_of"].max())
    since = 0 if last is None else len(sessions_between(last, as_of, config.live.calendar)) - 1
    live_cfg = config.live
    version = registry.alias_version(tracker, ticker, registry.PRODUCTION)
    model = version.tags.get("variant") if version is not None else None
    rows = ledger.forecasts([ticker], until=as_of)
    if model and version is not None:
        mine = rows[(rows["model"] == model) & (rows["model_version"] == str(version.version))]
        rows = pd.concat([mine, rows[rows["model"] == "persistence"]])
    n = live_cfg.decay_window
    scores = score_live(rows, prices[config.data.target], pd.Timestamp(as_of), ((f"last_{n}", n),))
    decay = check_decay(scores, model or "no production model", n, live_cfg.decay_margin)
    return retrain_due(last, since, live_cfg.retrain_every, decay)


@task(name="production-refit", task_run_name="refit-{ticker}-{as_of}", cache_policy=NO_CACHE)
def production_refit(
    prices: pd.DataFrame,
    live_tracker: store.Tracker,
    main_tracker: store.Tracker,
    config: RunConfig,
    ticker: str,
    as_of: dt.date,
    refitted: tuple[str, str] | None = None,
) -> str | None:
    """The champion's variant fitted on all data up to ``as_of``, as ``@production``.

    The night's experiment may have refitted a variant on the same rows already, by the
    same procedure, to register it (``refitted``: its variant and version). When that is
    the champion's variant, ``@production`` points at that version and nothing trains
    again; otherwise the champion's variant is refitted here and registered.

    Returns:
        The production version, or ``None`` when no variant holds ``@champion``.
    """
    from pricecast.models.production import PROCEDURE, refit_on_all

    champion = registry.champion_version(main_tracker, ticker)
    if champion is None:
        return None
    name = champion.tags.get("variant")
    if name not in {v.name for v in config.variants}:
        get_run_logger().warning(
            f"{ticker}: champion v{champion.version} is variant {name!r}, which this config "
            f"no longer has; no production refit"
        )
        return None
    tags = {"as_of": f"{as_of}", "champion_version": str(champion.version)}
    if refitted is not None and refitted[0] == name:
        version = refitted[1]
        for key, value in tags.items():
            registry.tag_version(live_tracker, ticker, version, key, value)
        registry.set_alias(live_tracker, ticker, registry.PRODUCTION, version)
        get_run_logger().info(
            f"{ticker}: production v{version} = {name} refitted up to {as_of} by tonight's "
            f"registration (no second training)"
        )
        return version
    variant = config.variant(name)
    val = config.backtest.val_fraction if config.backtest else config.split.val_fraction
    forecaster = refit_on_all(
        variant,
        config.training,
        config.features,
        prices,
        config.data.target,
        ticker,
        val_fraction=val,
        calendar=config.live.calendar,
        intervals=config.intervals,
    )
    run_id = live.start_production_run(live_tracker, ticker, f"{as_of}", name)
    try:
        example = prices.tail(forecaster.min_rows + 5).reset_index()
        uri = registry.log_forecaster(live_tracker, run_id, forecaster, example)
        tags = {"variant": name, **tags, "procedure": PROCEDURE}
        version = registry.register(live_tracker, ticker, uri, run_id, tags)
        registry.set_alias(live_tracker, ticker, registry.PRODUCTION, version)
    except BaseException as err:
        live.end_run(live_tracker, run_id, f"{type(err).__name__}: {err}")
        raise
    live.end_run(live_tracker, run_id)
    _loaded[(live_tracker.uri, ticker, version)] = forecaster
    get_run_logger().info(f"{ticker}: production v{version} = {name} refitted up to {as_of}")
    return version


def _production(tracker: store.Tracker, ticker: str) -> tuple[Forecaster | None, str | None]:
    """The ``@production`` forecaster (loaded once per process and version)."""
    version = registry.alias_version(tracker, ticker, registry.PRODUCTION)
    if version is None:
        return None, None
    key = (tracker.uri, ticker, str(version.version))
    if key not in _loaded:
        _loaded[key] = registry.load_version(tracker, ticker, str(version.version))
    return _loaded[key], str(version.version)


@task(name="forecast-night", task_run_name="forecast-{ticker}-{as_of}", cache_policy=NO_CACHE)
def forecast_night(
    prices: pd.DataFrame,
    tracker: store.Tracker,
    config: RunConfig,
    ticker: str,
    as_of: dt.date,
) -> pd.DataFrame:
    """Forecast the next H sessions with the production model and the baselines.

    Returns:
        Ledger rows: ``as_of, ticker, model, h, target_date, value, last_price,
        model_version, run_id``, then ``lower_<L>, upper_<L>`` when there are bands.
    """
    horizon = config.features.horizon
    targets = next_sessions(as_of, horizon, config.live.calendar)
    target = prices[config.data.target]
    last_price = float(target.iloc[-1])
    values: dict[str, tuple[np.ndarray, str | None]] = {}
    bounds: dict[str, dict[str, np.ndarray]] = {}
    forecaster, version = _production(tracker, ticker)
    if forecaster is not None:
        origin = pd.DatetimeIndex([prices.index[-1]])
        path = forecaster.forecast_at(prices, origin)
        values[forecaster.spec.variant] = (path[0], version)
        bounds[forecaster.spec.variant] = {
            c: v[0] for c, v in forecaster.bands(path, prices, origin).items()
        }
    series = series_from_prices(prices, config.features, config.data.target)
    last_row = np.array([len(series.prices) - 1])
    relative = relative_space(series, config.data.target)
    for baseline in (persistence_model(horizon), drift_model(horizon)):
        if config.intervals is None:
            values[baseline.name] = (baseline.predict(None, series, last_row)[0], None)
            continue
        pred, bands = baseline_bands(baseline, series, last_row, config.intervals, relative)
        values[baseline.name] = (pred[0], None)
        bounds[baseline.name] = {c: v[0] for c, v in bands.items()}
    rows = [
        {
            "as_of": pd.Timestamp(as_of),
            "ticker": ticker,
            "model": name,
            "h": h,
            "target_date": targets[h - 1],
            "value": float(path[h - 1]),
            "last_price": last_price,
            "model_version": version,
            "run_id": None,
            **{c: float(v[h - 1]) for c, v in bounds.get(name, {}).items()},
        }
        for name, (path, version) in values.items()
        for h in range(1, horizon + 1)
    ]
    return pd.DataFrame(rows)


@task(name="record-night", task_run_name="record-{ticker}-{as_of}", cache_policy=NO_CACHE)
def record_night(
    rows: pd.DataFrame,
    scores: pd.DataFrame,
    retrain: RetrainDecision,
    prices: pd.DataFrame,
    ledger: Ledger,
    live_tracker: store.Tracker,
    config: RunConfig,
    out_dir: str,
    ticker: str,
    as_of: dt.date,
) -> NightResult:
    """Write the night to the ledger (one transaction), then the live plot and metrics."""
    models = [m for m in rows["model"].unique() if m not in ("persistence", "drift")]
    version = rows.loc[rows["model"].isin(models), "model_version"].dropna()
    written = ledger.record_night(
        rows,
        as_of,
        ticker,
        retrain.retrain,
        retrain.reason,
        str(version.iloc[0]) if len(version) else None,
    )
    target = prices[config.data.target]
    history = ledger.forecasts([ticker], until=as_of)
    h1 = history[history["h"] == 1]
    done = matured(h1, target, pd.Timestamp(as_of))
    shown = h1.merge(done[["as_of", "model", "actual"]], on=["as_of", "model"], how="left")
    all_h1 = scores[(scores["h"] == 1) & (scores["window"] == "all")] if len(scores) else scores
    mase = {str(r.model): float(r.mase) for r in all_h1.itertuples()} if len(all_h1) else {}
    figure = live_figure(ticker, target, shown, mase)
    live_bands(figure.axes[0], shown)
    png = png_bytes(figure)
    outputs.write_png(Path(out_dir) / ticker / "live.png", png)
    if len(scores):
        outputs.write_csv(Path(out_dir) / ticker / "live_scores.csv", scores)
    experiment = live_tracker.experiment_name
    run_id = ledger.live_run(ticker, experiment)
    if run_id is None:
        run_id = live.start_live_run(live_tracker, ticker, {"calendar": config.live.calendar})
        ledger.set_live_run(ticker, experiment, run_id)
    step = session_index(as_of, config.live.calendar)
    if len(scores):
        live.log_live_scores(live_tracker, run_id, scores, step, f"{as_of}")
    live.log_live_plot(live_tracker, run_id, png)
    live.end_run(live_tracker, run_id)
    return NightResult(
        as_of,
        ticker,
        retrain.retrain,
        retrain.reason,
        models[0] if models else None,
        str(version.iloc[0]) if len(version) else None,
        written,
        scores,
    )

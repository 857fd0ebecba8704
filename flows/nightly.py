"""The ``nightly`` flow: close a session for every ticker of the watchlist.

Per night and ticker: prices up to ``as_of`` (only the missing sessions are downloaded)
→ live scores of the forecasts that matured → the retraining rule (first night, cadence
or decay) → on a retraining night the experiment (the ``forecast`` flow on data up to
``as_of``, its backtest and champion guard) and the production refit of the champion's
variant (the experiment's own refit on all rows, when it refitted that variant) → the
forecast of the next H sessions by the production model and the baselines → the ledger
(idempotent) → the live plot and the live metrics in MLflow.

``as_of`` defaults to the latest session whose close has passed at the run's scheduled
time, so a scheduled run closes its own session. Nights missed since the last recorded
one are backfilled first, in order (up to ``live.catch_up_limit``); ``start`` replays
every session from there (``forecast replay``).
"""

# pyright: reportArgumentType=false, reportCallIssue=false
# (Prefect resolves the futures passed to ``submit`` into their results.)

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from pricecast.configs.loader import require_prices
from pricecast.configs.schema import RunConfig
from pricecast.flows.boot import load_tensorflow, nightly_run_name, tensorflow_ready
from pricecast.flows.fetch import fetch_prices
from pricecast.flows.forecast import forecast
from pricecast.flows.home import forecast_home, outputs_root
from pricecast.flows.night import (
    NightResult,
    decide_retrain,
    forecast_night,
    night_prices,
    production_refit,
    record_night,
    score_night,
)
from pricecast.stores import outputs
from pricecast.stores.ledger import Ledger, resolve_url
from pricecast.stores.tracking import store
from pricecast.tasks.calendar import latest_closed_session, session_on_or_before, sessions_between
from pricecast.tasks.live import RetrainDecision


def nights_to_run(
    ledger: Ledger, tickers: list[str], end: pd.Timestamp, calendar: str, limit: int
) -> tuple[list[pd.Timestamp], str | None]:
    """The sessions a nightly run closes: missed ones since the last recorded night, then ``end``.

    Returns:
        The sessions in order, and a note when more were missed than ``limit`` allows.
    """
    nights = ledger.nights()
    nights = nights[nights["ticker"].isin(tickers)]
    if nights.empty:
        return [end], None
    last = nights.groupby("ticker")["as_of"].max().reindex(tickers).min()
    if pd.isna(last):
        return [end], None  # a ticker new to the watchlist starts tonight
    todo = [s for s in sessions_between(last, end, calendar) if s > last]
    if not todo:
        return [end], None  # this night was closed before: rerun it (nothing is duplicated)
    missed = todo[:-1]
    if len(missed) <= limit:
        return todo, None
    kept = missed[len(missed) - limit :] if limit else []
    skipped = missed[: len(missed) - limit]
    note = (
        f"{len(missed)} session(s) missed since {last:%Y-%m-%d}; backfilling the last "
        f"{len(kept)}, NOT {skipped[0]:%Y-%m-%d}..{skipped[-1]:%Y-%m-%d} "
        f"(run `forecast replay --start {skipped[0]:%Y-%m-%d}` for those)"
    )
    return [*kept, end], note


def _latest_prices(config: RunConfig, end: pd.Timestamp, home: Path) -> pd.Timestamp | None:
    """The latest session up to ``end`` for which any ticker has a price."""
    data = config.data.model_copy(update={"end": end.date()})
    futures = [fetch_prices.submit(t, data, str(home), True) for t in config.data.tickers]
    lasts = []
    for future in futures:
        loaded = future.result(raise_on_failure=False)
        if not isinstance(loaded, BaseException):
            lasts.append(pd.Timestamp(loaded.frame.index.max()))
    return max(lasts) if lasts else None


def _experiment(
    config: RunConfig, tickers: list[str], as_of: dt.date, out: Path
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Run the experiment (train, evaluate, backtest, guard) on data up to ``as_of``.

    Returns:
        The guard's decision per ticker, and the variant and registry version each
        ticker's experiment refitted on all rows up to ``as_of`` (when it did).
    """
    data = config.data.model_copy(update={"tickers": tickers, "end": as_of})
    exp = config.model_copy(update={"data": data})
    runner = ThreadPoolTaskRunner(max_workers=config.runner.max_workers)
    state = forecast.with_options(task_runner=runner)(
        config=exp, output_dir=str(out / f"{as_of}" / "experiment"), return_state=True
    )
    summary = state.result(raise_on_failure=False)
    decisions, refits = {}, {}
    tickers_info = getattr(summary, "tickers", {}) or {}
    for ticker in tickers:
        info = tickers_info.get(ticker)
        bt = getattr(info, "backtest", None) if info else None
        decisions[ticker] = getattr(bt, "decision", None) or getattr(
            bt, "error", f"experiment failed: {state.message}"
        )
        variant, version = getattr(bt, "refit_variant", None), getattr(bt, "refit_version", None)
        if variant and version:
            refits[ticker] = (variant, version)
    return decisions, refits


def _night(
    config: RunConfig,
    night: pd.Timestamp,
    ledger: Ledger,
    trackers: tuple[store.Tracker, store.Tracker],
    home: Path,
    out: Path,
) -> tuple[dict[str, NightResult], dict[str, str]]:
    """Close one session for every ticker; a failing ticker does not stop the others."""
    main, live_store = trackers
    as_of = night.date()
    data = config.data.model_copy(update={"end": as_of})
    closed = ledger.nights()
    closed = set(closed.loc[closed["as_of"] == night, "ticker"])
    results: dict[str, NightResult] = {
        t: NightResult(as_of, t, False, "already closed: left as recorded", None, None, 0)
        for t in config.data.tickers
        if t in closed
    }
    firsts = {}
    for ticker in [t for t in config.data.tickers if t not in closed]:
        loaded = fetch_prices.submit(ticker, data, str(home), True)
        prices = night_prices.submit(loaded, config, ticker, as_of)
        scores = score_night.submit(prices, ledger, config, ticker, as_of)
        retrain = decide_retrain.submit(prices, ledger, main, config, ticker, as_of)
        firsts[ticker] = (prices, scores, retrain)
    failed: dict[str, str] = {}
    due: list[str] = []
    for ticker, (_, _, retrain) in firsts.items():
        outcome = retrain.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            failed[ticker] = f"{type(outcome).__name__}: {outcome}"
        elif outcome.retrain:
            due.append(ticker)
    decisions, refits = _experiment(config, due, as_of, out) if due else ({}, {})
    pending = {}
    for ticker, (prices, scores, retrain) in firsts.items():
        if ticker in failed:
            continue
        decision = retrain.result()
        refit = None
        if ticker in due:
            refit = production_refit.submit(
                prices, live_store, main, config, ticker, as_of, refits.get(ticker)
            )
            decision = RetrainDecision(True, f"{decision.reason}; guard: {decisions[ticker]}")
        rows = forecast_night.submit(
            prices, live_store, config, ticker, as_of, wait_for=[refit] if refit else None
        )
        pending[ticker] = record_night.submit(
            rows, scores, decision, prices, ledger, live_store, config, str(out / f"{as_of}"),
            ticker, as_of,
        )  # fmt: skip
    for ticker, future in pending.items():
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            failed[ticker] = f"{type(outcome).__name__}: {outcome}"
        else:
            results[ticker] = outcome
    return results, failed


def _report(
    results: list[NightResult],
    failed: dict[str, dict[str, str]],
    seconds: dict[str, float],
    out: Path,
) -> dict:
    """summary.json, the Prefect table of the last night's live scores and the night log."""
    rows = [
        {
            "as_of": f"{r.as_of}",
            "ticker": r.ticker,
            "retrained": r.retrained,
            "reason": r.reason,
            "model": r.model,
            "version": r.version,
            "rows_written": r.rows_written,
        }
        for r in results
    ]
    summary = {"nights": rows, "failed": failed, "night_seconds": seconds, "output_dir": str(out)}
    outputs.write_json(out / "summary.json", summary)
    last = {r.ticker: r for r in results}
    table = []
    for r in last.values():
        if r.scores.empty:
            continue
        h1 = r.scores[r.scores["h"] == 1]
        for row in h1.to_dict("records"):
            table.append({"as_of": f"{r.as_of}", **{k: _round(v) for k, v in row.items()}})
    if table:
        create_table_artifact(
            table, key="live-scores", description="Live skill at h=1 beside persistence"
        )
    lines = ["# Nights closed", "", "| as_of | ticker | retrained | model | rows | reason |"]
    lines.append("|---|---|---|---|---|---|")
    lines += [
        f"| {r['as_of']} | {r['ticker']} | {r['retrained']} | {r['model'] or '-'} "
        f"(v{r['version'] or '-'}) | {r['rows_written']} | {r['reason']} |"
        for r in rows
    ]
    for night, why in failed.items():
        lines.append(f"\n**{night} failed**: " + "; ".join(f"{t}: {w}" for t, w in why.items()))
    create_markdown_artifact("\n".join(lines), key="nights", description="What each night did")
    return summary


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


@flow(
    name="nightly",
    flow_run_name=nightly_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=4),
)
def nightly(
    config: RunConfig,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    output_dir: str | None = None,
) -> Any:
    """Close the session ``as_of`` (and any missed before it) for every ticker.

    Args:
        config: The watchlist and models (``live`` holds the calendar and the cadence).
        as_of: The session to close; default: the latest session closed at the run's
            scheduled time.
        start: Replay every session from ``start`` to ``as_of``, in order.
        output_dir: Where plots and summary.json go (default under ``FORECAST_HOME``).

    Returns:
        ``{"nights": [...], "failed": {...}}``; a Failed state naming the failures.
    """
    require_prices(config, "the nightly loop")
    load_tensorflow()  # while the stores open and the sessions are worked out
    logger = get_run_logger()
    cal = config.live.calendar
    home = forecast_home()
    moment = flow_run.scheduled_start_time or pd.Timestamp.now(tz="UTC")
    if as_of:
        end = session_on_or_before(as_of, cal)
    else:
        end = latest_closed_session(moment, cal)
        available = _latest_prices(config, end, home)
        if available is not None and available < end:
            logger.warning(
                f"no prices for {end:%Y-%m-%d} yet; the latest session with prices is "
                f"{available:%Y-%m-%d} (offline, the bundled sample ends 2020-12-11): "
                f"closing that one"
            )
            end = available
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(output_dir) if output_dir else outputs_root(home) / "nightly" / stamp
    outputs.check_writable(out)
    main = store.open_experiment(config.experiment, home)
    live_store = store.open_experiment(config.experiment + config.live.experiment_suffix, home)
    store.use_store(main)  # the entry point: once, for MLflow's fluent helpers
    ledger = Ledger(resolve_url(home))
    if start is not None:
        nights = list(sessions_between(start, end, cal))
    else:
        nights, note = nights_to_run(
            ledger, config.data.tickers, end, cal, config.live.catch_up_limit
        )
        if note:
            logger.warning(note)
        if len(nights) > 1:
            logger.info(f"catching up {len(nights) - 1} missed session(s) before {end:%Y-%m-%d}")
    results: list[NightResult] = []
    failed: dict[str, dict[str, str]] = {}
    seconds: dict[str, float] = {}
    tensorflow_ready(config.training.seed)  # before the first step that trains or predicts
    for night in nights:
        t0 = time.perf_counter()
        done, bad = _night(config, night, ledger, (main, live_store), home, out)
        seconds[f"{night:%Y-%m-%d}"] = time.perf_counter() - t0
        results += done.values()
        if bad:
            failed[f"{night:%Y-%m-%d}"] = bad
            for ticker, why in bad.items():
                logger.error(f"{night:%Y-%m-%d} {ticker} failed: {why}")
        logger.info(
            f"night {night:%Y-%m-%d}: {len(done)} ticker(s) closed in "
            f"{time.perf_counter() - t0:.1f}s"
            + "".join(f"; {t}: {r.reason}" for t, r in done.items())
        )
    summary = _report(results, failed, seconds, out)
    ledger.dispose()
    if failed:
        n = sum(len(v) for v in failed.values())
        return Failed(message=f"{n} ticker-night(s) failed: {failed}", data=summary)
    return summary

"""The ``forecast`` command: run | replay | scores | predict | deploy."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import traceback
from pathlib import Path
from typing import Any, cast

from pricecast.flows.console import (
    CliError,
    format_table,
    import_tensorflow_quietly,
    one_line,
    quiet_console,
    redact,
)
from pricecast.flows.home import (
    forecast_home,
    prepare_environment,
    run_output_dir,
    writable_home,
)
from pricecast.flows.summary import RunSummary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forecast", description="Nightly price forecasting (Prefect + Keras + MLflow)."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the forecast flow on a config")
    run.add_argument(
        "--config", default="default", help="YAML file or bundled name (default, seed_fb)"
    )
    run.add_argument("--tickers", nargs="+", metavar="T", help="override data.tickers")
    run.add_argument("--output", metavar="DIR", help="output folder (default under FORECAST_HOME)")
    run.add_argument("--epochs", type=int, help="override training.epochs")
    run.add_argument("--source", help="override data.source (auto, yfinance, cache, csv, sample)")
    run.add_argument("--workers", type=int, help="override runner.max_workers")
    run.add_argument(
        "--runner", choices=["threads", "processes", "dask"], help="override runner.kind"
    )
    pred = sub.add_parser("predict", help="forecast the next days with a ticker's champion model")
    pred.add_argument("--ticker", required=True, help="symbol, e.g. AAPL")
    pred.add_argument("--horizon", type=int, help="days ahead (default: the champion's horizon)")
    pred.add_argument("--config", default="default", help="config whose data section is used")
    pred.add_argument("--source", help="override data.source (auto, yfinance, cache, csv, sample)")
    pred.add_argument("--output", metavar="DIR", help="folder for forecast.csv and forecast.png")
    nig = sub.add_parser("nightly", help="close tonight's session (and any missed) now")
    rep = sub.add_parser("replay", help="run one night per session, in order, as scheduled")
    for cmd in (nig, rep):
        cmd.add_argument("--config", default="nightly", help="YAML file or bundled name")
        cmd.add_argument("--tickers", nargs="+", metavar="T", help="override data.tickers")
        cmd.add_argument("--source", help="override data.source (offline: sample)")
        cmd.add_argument("--epochs", type=int, help="override training.epochs")
        cmd.add_argument("--output", metavar="DIR", help="output folder (default: FORECAST_HOME)")
    nig.add_argument(
        "--as-of", type=_date, help="session to close (default: the latest one with prices)"
    )
    rep.add_argument("--start", required=True, type=_date, help="first session (YYYY-MM-DD)")
    rep.add_argument("--end", required=True, type=_date, help="last session (YYYY-MM-DD)")
    sco = sub.add_parser("scores", help="live scores of the recorded forecasts (the ledger)")
    sco.add_argument("--ticker", help="one ticker (default: all in the ledger)")
    sco.add_argument("--last", type=int, help="score the last N matured forecasts (default 20)")
    sco.add_argument("--config", default="nightly", help="config whose data section is used")
    sco.add_argument("--source", help="override data.source (auto, yfinance, cache, csv, sample)")
    sco.add_argument("--as-of", type=_date, help="score as of this session (default: latest)")
    dep = sub.add_parser("deploy", help="create work pools and deployments on the Prefect API")
    dep.add_argument("--config", default="nightly", help="nightly watchlist config")
    dep.add_argument("--on-demand-config", default=None, help="defaults of the on-demand form")
    dep.add_argument("--cron", default=None, help="nightly schedule (default 30 22 * * 1-5)")
    dep.add_argument("--timezone", default=None, help="schedule timezone (America/New_York)")
    dep.add_argument(
        "--dispatch",
        choices=["inprocess", "deployment"],
        default="deployment",
        help="how deployed forecast runs train (default: the train deployment on the gpu pool)",
    )
    return parser


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.tickers:
        out["data.tickers"] = args.tickers
    if args.epochs is not None:
        out["training.epochs"] = args.epochs
    if args.source:
        out["data.source"] = args.source
    if getattr(args, "workers", None) is not None:
        out["runner.max_workers"] = args.workers
    if getattr(args, "runner", None):
        out["runner.kind"] = args.runner
    return out


def cmd_run(args: argparse.Namespace) -> int:
    """Run the flow and print where to look."""
    home = writable_home()
    from pricecast.configs.loader import load_config

    config = load_config(args.config, _overrides(args))
    out = Path(args.output).resolve() if args.output else run_output_dir(home, config.experiment)

    # Before any work: an unusable tracking URI, an unwritable home or output folder
    # ends the command here, in one line naming the URI or the path.
    from pricecast.stores import outputs
    from pricecast.stores.tracking import store

    uri = store.resolve_uri(home)
    store.check_reachable(uri)
    outputs.check_writable(out)
    store.warm_up(uri)  # overlaps TensorFlow's import and the Prefect API's start
    import_tensorflow_quietly()
    from pricecast.flows import stopping
    from pricecast.flows.forecast import with_runner

    if not args.debug:
        quiet_console()
    with stopping.on_ctrl_c(uri):
        state = with_runner(config)(config=config, output_dir=str(out), return_state=True)
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        raise CliError(f"flow ended {state.name} before writing a summary: {state.message}")
    summary = RunSummary.model_validate_json(summary_path.read_text())
    print()
    print(format_table(summary))
    print()
    print(f"summary:        {summary_path}")
    print(f"outputs:        {out}")
    print(
        f"MLflow:         experiment {summary.experiment!r} "
        f"(id {summary.experiment_id}) at {summary.tracking_uri}"
    )
    for ticker, info in summary.tickers.items():
        runs = info.mlflow
        children = ", ".join(f"{k}={v}" for k, v in runs.runs.items())
        print(f"  {ticker}: parent run {runs.parent_run_id}; {children}")
    uri = summary.tracking_uri
    if uri.startswith("sqlite:"):
        print(f"browse:         mlflow ui --backend-store-uri {uri}")
    else:
        print(f"browse:         {uri}")
    if summary.flow_run_id:
        print(f"Prefect:        flow run {summary.flow_run_id} ({state.name})")
    return _exit_code(state, args.debug)


def _exit_code(state: Any, debug: bool) -> int:
    """1 with the flow's reason on stderr when its run failed, else 0."""
    if state.is_failed():
        print(f"\nforecast: {one_line(state.message or state.name, debug)}", file=sys.stderr)
        return 1
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Forecast the next sessions with the ticker's champion."""
    # Arguments first: a bad horizon is reported as such, not as a missing champion.
    if args.horizon is not None and args.horizon < 1:
        raise CliError(f"--horizon must be 1 or more days ahead, got {args.horizon}", 2)
    home = forecast_home()
    prepare_environment(home)
    from pricecast.configs.loader import load_config

    ticker = args.ticker.strip().upper()
    overrides: dict[str, Any] = {"data.tickers": [ticker]}
    if args.source:
        overrides["data.source"] = args.source
    config = load_config(args.config, overrides)
    import_tensorflow_quietly()
    from pricecast.flows.predict import NoChampionError, predict_ahead

    try:
        outlook = predict_ahead(
            ticker, args.horizon, config.data, Path(args.output).resolve() if args.output else None
        )
    except NoChampionError as err:
        raise CliError(str(err)) from None
    print(
        f"{ticker}: champion v{outlook.model_version} ({outlook.variant}); prices from "
        f"{outlook.source} up to {outlook.last_date}"
    )
    print(f"source: {outlook.source}, because {outlook.why_source}")
    if outlook.stale:
        print(outlook.stale_warning(), file=sys.stderr)
    from pricecast.tasks.validate import stamp

    print(f"{'date':<12} {'forecast':>12}")
    for row in outlook.forecast.itertuples():
        print(f"{stamp(row.date):<10}   {row.forecast:>12.4f}")
    print(f"written: {outlook.csv}\n         {outlook.png}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Run the nightly loop: one night now (``nightly``), or every session of a span."""
    home = writable_home()
    from pricecast.configs.loader import load_config, require_prices

    config = require_prices(load_config(args.config, _overrides(args)), "the nightly loop")
    start = getattr(args, "start", None)
    end = getattr(args, "end", None) or getattr(args, "as_of", None)
    if start and end and start > end:
        raise CliError(f"--start {start} is after --end {end}", 2)
    import_tensorflow_quietly()
    from pricecast.flows import stopping
    from pricecast.flows.nightly import nightly
    from pricecast.stores.tracking import store

    uri = store.resolve_uri(home)
    store.check_reachable(uri)
    if not args.debug:
        quiet_console()
    with stopping.on_ctrl_c(uri):
        state = cast(Any, nightly)(
            config=config,
            as_of=end,
            start=start,
            output_dir=str(Path(args.output).resolve()) if args.output else None,
            return_state=True,
        )
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise CliError(f"{args.command} ended {state.name}: {summary}")
    nights = summary["nights"]
    print(f"\n{'as_of':<11} {'ticker':<8} {'model':<12} {'rows':>4}  reason")
    for n in nights:
        model = f"{n['model']} v{n['version']}" if n["model"] else "baselines"
        print(
            f"{n['as_of']:<11} {n['ticker']:<8} {model:<12} {n['rows_written']:>4}  {n['reason']}"
        )
    print(f"\n{len(nights)} ticker-night(s) closed; outputs: {summary['output_dir']}")
    return _exit_code(state, args.debug)


def cmd_scores(args: argparse.Namespace) -> int:
    """Print the live scores of the ledger's forecasts beside persistence."""
    home = forecast_home()
    from pricecast.configs.loader import load_config
    from pricecast.flows.scores import live_scores

    overrides: dict[str, Any] = {}
    if args.source:
        overrides["data.source"] = args.source
    config = load_config(args.config, overrides)
    last = args.last or 20
    table = live_scores(config, home, args.ticker, last, args.as_of)
    if table.empty:
        print("no matured forecasts in the ledger yet (run `forecast replay` or the nightly loop)")
        return 0
    cols = ["ticker", "model", "h", "n", "rmse", "mae", "mape", "mase", "directional_accuracy"]
    head = (
        f"{'ticker':<8} {'model':<12} {'h':>2} {'n':>4} "
        + " ".join(f"{c[:10]:>10}" for c in cols[4:])
        + f" {'pers.MASE':>10}"
    )
    print(f"live scores over the last {last} matured forecasts, beside persistence")
    print(head)
    print("-" * len(head))
    for r in table.itertuples(index=False):
        values = " ".join(f"{getattr(r, c):>10.4f}" for c in cols[4:])
        print(f"{r.ticker:<8} {r.model:<12} {r.h:>2} {r.n:>4} {values} {r.persistence_mase:>10.4f}")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Create the work pools and the nightly, on-demand and train deployments."""
    home = forecast_home()
    prepare_environment(home)
    from pricecast.configs.loader import load_config, require_prices

    overrides = {"training.dispatch": args.dispatch}
    nightly = require_prices(load_config(args.config, overrides), "the nightly deployment")
    on_demand = load_config(args.on_demand_config or args.config, overrides)
    import_tensorflow_quietly()
    from pricecast.flows import deploy

    if (why := deploy.missing_api()) is not None:
        raise CliError(why, 2)
    result = deploy.deploy(
        nightly,
        on_demand,
        cron=args.cron or deploy.NIGHTLY_CRON,
        timezone=args.timezone or deploy.NIGHTLY_TIMEZONE,
    )
    if result.pools:
        print(f"created work pools: {', '.join(result.pools)}")
    for name, ident in result.deployments.items():
        print(f"deployment {name}: {ident}")
    print("start workers: prefect worker start --pool cpu  |  prefect worker start --pool gpu")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``forecast`` console command."""
    args = _parser().parse_args(argv)
    if not args.debug:
        # yfinance logs every failed cookie/crumb/ticker request; the pipeline says once
        # per ticker why Yahoo was not used and what it served instead.
        logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "deploy":
            return cmd_deploy(args)
        if args.command in ("replay", "nightly"):
            return cmd_replay(args)
        if args.command == "scores":
            return cmd_scores(args)
    except KeyboardInterrupt:
        print("forecast: interrupted", file=sys.stderr)
        return 130
    except CliError as err:
        if args.debug:
            traceback.print_exc()
        print(f"forecast: {redact(one_line(str(err), args.debug))}", file=sys.stderr)
        return err.code
    except Exception as err:  # noqa: BLE001 - one readable line unless --debug
        if args.debug:
            traceback.print_exc()
        config_error = type(err).__name__ == "ConfigError"
        msg = one_line(str(err), args.debug, every_line=config_error) or type(err).__name__
        print(f"forecast: error: {redact(msg)}", file=sys.stderr)
        return 2 if config_error else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

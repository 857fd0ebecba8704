"""The ``forecast`` command: ``forecast run`` runs the Prefect flow on a config."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from pricecast.flows.home import forecast_home, prepare_environment, run_output_dir
from pricecast.flows.summary import BacktestFailure, BacktestSummary, RunSummary

METRIC_COLUMNS = ("rmse", "mae", "mape", "mase", "directional_accuracy")

# TensorFlow's native start-up lines: absl's preamble, its INFO records (oneDNN, CPU
# features) and the CPU-feature line's continuation.
_TF_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|I\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    r"|To enable the following instructions: )"
)


class CliError(Exception):
    """An error reported as one line with a non-zero exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


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
    dep = sub.add_parser("deploy", help="create work pools and deployments on the Prefect API")
    dep.add_argument("--config", default="default", help="nightly watchlist config")
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


def format_table(summary: RunSummary) -> str:
    """Render the summary's rows (variants and baselines) as a text table, with notes."""
    head = f"{'ticker':<8} {'model':<16} " + " ".join(f"{c[:10]:>10}" for c in METRIC_COLUMNS)
    lines = [head, "-" * len(head)]
    rows = summary.rows()
    for ticker, info in summary.tickers.items():
        for row in rows:
            if row["ticker"] == ticker and row["model"] in info.models:
                values = " ".join(f"{row[c]:>10.4f}" for c in METRIC_COLUMNS)
                lines.append(f"{ticker:<8} {row['model']:<16} {values}")
        lines.append(f"{'':<8} source: {info.source}; test {' .. '.join(info.test_span)}")
        bt = info.backtest
        if isinstance(bt, BacktestSummary):
            mase = ", ".join(f"{k} {v['mase'][0]:.3f}" for k, v in bt.models.items())
            lines.append(f"{'':<8} backtest {bt.n_origins} origins, MASE h=1: {mase}")
            lines.append(
                f"{'':<8} best: {bt.best_model} — "
                + ("promoted to @champion" if bt.promoted else "not promoted")
                + f": {bt.decision}"
            )
        elif isinstance(bt, BacktestFailure):
            lines.append(f"{'':<8} backtest failed: {bt.error}")
    for ticker, why in summary.failed.items():
        lines.append(f"{ticker:<8} FAILED: {why}")
    return "\n".join(lines)


class _NoTraceback(logging.Formatter):
    """Format a record as ``inner`` does, leaving out the exception's traceback."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def _quiet_console() -> None:
    """Print Prefect's log lines without tracebacks (``--debug`` keeps them).

    Only the console handlers change: the Prefect API (the UI's logs) keeps the tracebacks.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(
                handler.formatter, _NoTraceback
            ):
                handler.setFormatter(_NoTraceback(handler.formatter))


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up INFO lines kept off the terminal.

    TensorFlow 2.21 logs them through absl before absl's logging is initialised, where
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach, so every command would print a few lines of
    noise on stderr before its own. They are captured at the file-descriptor level; any
    other line TensorFlow writes while importing (a warning, an error) is passed on.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not _TF_STARTUP_NOISE.match(line):
                    sys.stderr.write(line)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.tickers:
        out["data.tickers"] = args.tickers
    if args.epochs is not None:
        out["training.epochs"] = args.epochs
    if args.source:
        out["data.source"] = args.source
    if args.workers is not None:
        out["runner.max_workers"] = args.workers
    if args.runner:
        out["runner.kind"] = args.runner
    return out


def cmd_run(args: argparse.Namespace) -> int:
    """Run the flow and print where to look."""
    home = forecast_home()
    prepare_environment(home)
    from pricecast.configs.loader import load_config

    config = load_config(args.config, _overrides(args))
    out = Path(args.output).resolve() if args.output else run_output_dir(home, config.experiment)

    # Before any work: an unwritable output folder or an unreachable MLflow server ends
    # the command here, in one line naming the path or the URI.
    _import_tensorflow_quietly()
    from pricecast.stores import outputs
    from pricecast.stores.tracking import store

    store.check_reachable(store.resolve_uri(home))
    outputs.check_writable(out)
    from pricecast.flows.forecast import with_runner

    if not args.debug:
        _quiet_console()
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
    if state.is_failed():
        print(f"\nforecast: {_one_line(state.message or state.name, args.debug)}", file=sys.stderr)
        return 1
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Forecast the next business days with the ticker's champion."""
    home = forecast_home()
    prepare_environment(home)
    from pricecast.configs.loader import load_config

    ticker = args.ticker.strip().upper()
    overrides: dict[str, Any] = {"data.tickers": [ticker]}
    if args.source:
        overrides["data.source"] = args.source
    config = load_config(args.config, overrides)
    _import_tensorflow_quietly()
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
    print(f"{'date':<12} {'forecast':>12}")
    for row in outlook.forecast.itertuples():
        print(f"{row.date:%Y-%m-%d}   {row.forecast:>12.4f}")
    print(f"written: {outlook.csv}\n         {outlook.png}")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Create the work pools and the nightly, on-demand and train deployments."""
    home = forecast_home()
    prepare_environment(home)
    from pricecast.configs.loader import load_config

    overrides = {"training.dispatch": args.dispatch}
    nightly = load_config(args.config, overrides)
    on_demand = load_config(args.on_demand_config or args.config, overrides)
    _import_tensorflow_quietly()
    from pricecast.flows import deploy

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
    except KeyboardInterrupt:
        print("forecast: interrupted", file=sys.stderr)
        return 130
    except CliError as err:
        if args.debug:
            traceback.print_exc()
        print(f"forecast: {_one_line(str(err), args.debug)}", file=sys.stderr)
        return err.code
    except Exception as err:  # noqa: BLE001 - one readable line unless --debug
        if args.debug:
            traceback.print_exc()
        config_error = type(err).__name__ == "ConfigError"
        msg = _one_line(str(err), args.debug, every_line=config_error) or type(err).__name__
        print(f"forecast: error: {msg}", file=sys.stderr)
        return 2 if config_error else 1
    return 0


def _one_line(text: str, debug: bool = False, every_line: bool = False) -> str:
    """Say a (possibly multi-line) error in one line.

    Args:
        text: The message.
        debug: Keep every line as it is (the traceback is shown too).
        every_line: Join all lines with ``; `` (one per invalid config field) instead of
            keeping the first and pointing to ``--debug``.
    """
    lines = [" ".join(line.split()) for line in text.strip().splitlines() if line.strip()]
    if debug or len(lines) <= 1:
        return text.strip()
    if every_line:
        return "; ".join(lines)
    return f"{lines[0]} (more with --debug)"


if __name__ == "__main__":
    sys.exit(main())

"""The ``forecast`` command: run | predict | nightly | replay | scores | deploy.

A Typer app. Its import path stays light (no TensorFlow, MLflow or Prefect: each command
imports what it needs), so ``forecast --help`` answers at once. ``--debug``,
``-v/--verbose`` and ``--version`` are read anywhere on the command line.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from pricecast.configs.choices import Dispatch, RunnerKind, Source
from pricecast.flows import cli_text as text
from pricecast.flows.cli_args import ArgsGroup
from pricecast.flows.console import CliError, one_line, redact
from pricecast.flows.server import app as server_app

app = typer.Typer(
    cls=ArgsGroup,
    name="forecast",
    help=text.APP,
    epilog=text.APP_EPILOG,
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


@dataclass(frozen=True)
class Options:
    """The global flags."""

    debug: bool = False
    verbose: bool = False


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"forecast (pricecast) {version('pricecast')}")
        raise typer.Exit(0)


@app.callback()
def _main(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", help="Show every log line (Prefect, TensorFlow, MLflow)."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Options(debug=debug, verbose=verbose)


ConfigOpt = Annotated[
    str, typer.Option("--config", "-c", help="YAML file or bundled name (default, nightly, ...).")
]
TickersOpt = Annotated[
    list[str] | None,
    typer.Option("--tickers", "-t", help="Override data.tickers: --tickers KO MSFT."),
]
SourceOpt = Annotated[Source | None, typer.Option(help="Override data.source.")]
EpochsOpt = Annotated[int | None, typer.Option(min=1, help="Override training.epochs.")]
OutputOpt = Annotated[
    Path | None, typer.Option(metavar="DIR", help="Output folder (default under FORECAST_HOME).")
]


def _date_option(help: str) -> Any:
    return typer.Option(metavar="YYYY-MM-DD", help=help)


def _tickers(values: list[str] | None) -> list[str] | None:
    """``--tickers A B`` and ``--tickers A --tickers B`` alike."""
    return [t for v in values for t in v.replace(",", " ").split()] if values else None


def _overrides(
    tickers: list[str] | None = None,
    epochs: int | None = None,
    source: str | None = None,
    workers: int | None = None,
    runner: str | None = None,
) -> dict[str, Any]:
    pairs = {
        "data.tickers": _tickers(tickers),
        "training.epochs": epochs,
        "data.source": source,
        "runner.max_workers": workers,
        "runner.kind": runner,
    }
    return {k: v for k, v in pairs.items() if v is not None}


@app.command(help=text.RUN, epilog=text.RUN_EPILOG)
def run(
    ctx: typer.Context,
    config: ConfigOpt = "default",
    tickers: TickersOpt = None,
    output: OutputOpt = None,
    epochs: EpochsOpt = None,
    source: SourceOpt = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Override runner.max_workers.")] = None,
    runner: Annotated[RunnerKind | None, typer.Option(help="Override runner.kind.")] = None,
) -> int:
    """Run the flow and print the comparison and where to look."""
    from pricecast.flows.commands import run_command

    overrides = _overrides(tickers, epochs, source, workers, runner)
    return run_command(config, overrides, output, ctx.obj)


@app.command(help=text.PREDICT, epilog=text.PREDICT_EPILOG)
def predict(
    ticker: Annotated[str, typer.Option(help="Symbol, e.g. AAPL.")],
    horizon: Annotated[
        int | None, typer.Option(help="Sessions ahead (default: the champion's horizon).")
    ] = None,
    config: ConfigOpt = "default",
    source: SourceOpt = None,
    output: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Folder for forecast.csv and .png.")
    ] = None,
) -> int:
    """Forecast the next sessions with the ticker's champion."""
    # Arguments first: a bad horizon is reported as such, not as a missing champion.
    if horizon is not None and horizon < 1:
        raise CliError(f"--horizon must be 1 or more days ahead, got {horizon}", 2)
    from pricecast.flows.commands import predict_command

    return predict_command(ticker, horizon, config, source, output)


@app.command(help=text.NIGHTLY, epilog=text.NIGHTLY_EPILOG)
def nightly(
    ctx: typer.Context,
    config: ConfigOpt = "nightly",
    tickers: TickersOpt = None,
    source: SourceOpt = None,
    epochs: EpochsOpt = None,
    output: OutputOpt = None,
    as_of: Annotated[
        dt.date | None, _date_option("Session to close (default: the latest with prices).")
    ] = None,
) -> int:
    """Close tonight's session (and any missed) now."""
    from pricecast.flows.commands import replay_command

    overrides = _overrides(tickers, epochs, source)
    return replay_command("nightly", config, overrides, output, None, as_of, ctx.obj)


@app.command(help=text.REPLAY, epilog=text.REPLAY_EPILOG)
def replay(
    ctx: typer.Context,
    start: Annotated[dt.date, _date_option("First session.")],
    end: Annotated[dt.date, _date_option("Last session.")],
    config: ConfigOpt = "nightly",
    tickers: TickersOpt = None,
    source: SourceOpt = None,
    epochs: EpochsOpt = None,
    output: OutputOpt = None,
) -> int:
    """Run one night per session, in order, as scheduled."""
    if start > end:
        raise CliError(f"--start {start} is after --end {end}", 2)
    from pricecast.flows.commands import replay_command

    overrides = _overrides(tickers, epochs, source)
    return replay_command("replay", config, overrides, output, start, end, ctx.obj)


@app.command(help=text.SCORES, epilog=text.SCORES_EPILOG)
def scores(
    ticker: Annotated[
        str | None, typer.Option(help="One ticker (default: all in the ledger).")
    ] = None,
    last: Annotated[int, typer.Option(min=1, help="Score the last N matured forecasts.")] = 20,
    config: ConfigOpt = "nightly",
    source: SourceOpt = None,
    as_of: Annotated[dt.date | None, _date_option("Score as of this session.")] = None,
) -> int:
    """Print the live scores of the ledger's forecasts beside persistence."""
    from pricecast.flows.commands import scores_command

    return scores_command(ticker, last, config, source, as_of)


@app.command(help=text.DEPLOY, epilog=text.DEPLOY_EPILOG)
def deploy(
    config: ConfigOpt = "nightly",
    on_demand_config: Annotated[
        str | None, typer.Option(help="Defaults of the on-demand form (default: --config).")
    ] = None,
    cron: Annotated[
        str | None, typer.Option(help="Nightly schedule (default: 30 22 * * 1-5).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA timezone of the schedule (America/New_York).")
    ] = None,
    dispatch: Annotated[
        Dispatch | None,
        typer.Option(
            help="How deployed forecast runs train (default: the config's training.dispatch, "
            "inprocess unless set): in the flow run's own process, or on the train deployment "
            "of the gpu pool (runs fail at once while no worker serves it).",
        ),
    ] = None,
) -> int:
    """Create the work pools and the nightly, on-demand and train deployments."""
    from pricecast.flows.commands import deploy_command

    return deploy_command(config, on_demand_config, cron, timezone, dispatch)


app.add_typer(server_app, name="server")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``forecast`` console command; returns its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    cut = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:cut]
    if not debug:
        # yfinance logs every failed cookie/crumb/ticker request; the pipeline says once
        # per ticker why Yahoo was not used and what it served instead.
        logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    command = typer.main.get_command(app)
    try:
        with command.make_context("forecast", args) as ctx:
            code = command.invoke(ctx)
        return code if isinstance(code, int) else 0
    except typer.Exit as done:  # --help, --version
        return done.exit_code
    except typer.TyperException as err:  # a usage error: which option, exit code 2
        from typer import rich_utils

        rich_utils.rich_format_error(cast(Any, err))
        return err.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("forecast: interrupted", file=sys.stderr)
        return 130
    except CliError as err:
        if debug:
            traceback.print_exc()
        print(f"forecast: {redact(one_line(str(err), debug))}", file=sys.stderr)
        return err.code
    except Exception as err:  # noqa: BLE001 - one readable line unless --debug
        if debug:
            traceback.print_exc()
        config_error = type(err).__name__ == "ConfigError"
        msg = one_line(str(err), debug, every_line=config_error) or type(err).__name__
        print(f"forecast: error: {redact(msg)}", file=sys.stderr)
        return 2 if config_error else 1


def script() -> None:
    """The ``forecast`` console script: :func:`main`, then a prompt end of the process.

    After a run that trained, the interpreter's teardown (TensorFlow's graphs and every
    module freed one by one) takes 1–3 s of nothing the user needs. The interpreter still
    joins the worker threads and runs every exit handler registered after this one:
    Prefect sends its last logs and events, the temporary API stops, MLflow empties its
    queues. Then this
    handler flushes the logging module and the standard streams and ends the process
    with ``main``'s code. ``main`` itself (what tests call) ends nothing.
    """
    code = [1]

    def end() -> None:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code[0])

    atexit.register(end)
    code[0] = main()
    sys.exit(code[0])


if __name__ == "__main__":
    script()

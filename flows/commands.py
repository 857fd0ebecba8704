"""What each ``forecast`` command does once its options are parsed (see ``flows/cli.py``).

Imported only when a command runs: TensorFlow, MLflow and Prefect load here, never for
``--help``. Errors are raised (:class:`CliError` and the library's own); the CLI's entry
point turns them into one line and an exit code.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pricecast.flows.console import CliError, import_tensorflow_quietly, one_line, quiet_console
from pricecast.flows.home import forecast_home, prepare_environment, run_output_dir, writable_home
from pricecast.flows.server import choose_api
from pricecast.flows.temporary_api import served, start_temporary_api

if TYPE_CHECKING:
    from pricecast.flows.cli import Options


def _console() -> Any:
    """A rich console on stdout; not a terminal: plain text, wide enough for the table."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200, no_color=True)


def run_command(
    config_ref: str, overrides: dict[str, Any], output: Path | None, opts: Options
) -> int:
    """``forecast run``: the flow on a config, then its table and where to look."""
    home = writable_home()
    api = choose_api(home)
    from pricecast.configs.loader import load_config

    config = load_config(config_ref, overrides)
    out = output.resolve() if output else run_output_dir(home, config.experiment)

    # Before any work: an unusable tracking URI, an unwritable home or output folder
    # ends the command here, in one line naming the URI or the path.
    from pricecast.stores import outputs
    from pricecast.stores.tracking import uris

    uri = uris.resolve_uri(home)
    uris.check_reachable(uri)
    outputs.check_writable(out)
    api_start = start_temporary_api(opts.verbose)  # it starts while this process imports
    from pricecast.flows import stopping
    from pricecast.flows.boot import load_tensorflow
    from pricecast.flows.forecast import with_runner
    from pricecast.flows.progress import live_output
    from pricecast.flows.summary import RunSummary
    from pricecast.flows.table import print_comparison
    from pricecast.stores.tracking import store

    if not opts.debug:
        quiet_console()
    with stopping.on_ctrl_c(uri), live_output(config.data.tickers, opts.verbose):
        store.warm_up(uri)  # opens the store beside the Prefect API's start, quietly
        if api_start is not None:
            # The flow cannot start before its API: TensorFlow's import has this process
            # to itself meanwhile (with an API already up, the flow starts the import
            # after its first steps, so that it does not slow their start).
            load_tensorflow()
        with served(api_start):
            state = with_runner(config)(config=config, output_dir=str(out), return_state=True)
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        raise CliError(f"flow ended {state.name} before writing a summary: {state.message}")
    summary = RunSummary.model_validate_json(summary_path.read_text())
    console = _console()
    console.print()
    print_comparison(summary, console)
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
        print(f"Prefect:        flow run {summary.flow_run_id} ({state.name}) on {api}")
    return _exit_code(state, opts.debug)


def _exit_code(state: Any, debug: bool) -> int:
    """1 with the flow's reason on stderr when its run failed, else 0."""
    if state.is_failed():
        print(f"\nforecast: {one_line(state.message or state.name, debug)}", file=sys.stderr)
        return 1
    return 0


def predict_command(
    ticker: str, horizon: int | None, config_ref: str, source: str | None, output: Path | None
) -> int:
    """``forecast predict``: the next sessions with the ticker's champion."""
    home = forecast_home()
    prepare_environment(home)
    from pricecast.configs.loader import load_config

    ticker = ticker.strip().upper()
    overrides: dict[str, Any] = {"data.tickers": [ticker]}
    if source:
        overrides["data.source"] = source
    config = load_config(config_ref, overrides)
    import_tensorflow_quietly()
    from pricecast.flows.predict import HorizonError, NoChampionError, predict_ahead
    from pricecast.tasks.validate import stamp

    try:
        outlook = predict_ahead(ticker, horizon, config.data, output.resolve() if output else None)
    except (NoChampionError, HorizonError) as err:
        raise CliError(str(err)) from None
    print(
        f"{ticker}: champion v{outlook.model_version} ({outlook.variant}); prices from "
        f"{outlook.source} up to {outlook.last_date}"
    )
    print(f"source: {outlook.source}, because {outlook.why_source}")
    if outlook.stale:
        print(outlook.stale_warning(), file=sys.stderr)
    print(f"{'date':<12} {'forecast':>12}")
    for row in outlook.forecast.itertuples():
        print(f"{stamp(row.date):<12} {row.forecast:>12.4f}")
    print(f"written: {outlook.csv}\n         {outlook.png}")
    return 0


def replay_command(
    name: str,
    config_ref: str,
    overrides: dict[str, Any],
    output: Path | None,
    start: dt.date | None,
    end: dt.date | None,
    opts: Options,
) -> int:
    """``forecast nightly`` (one night, ``end`` or the latest) and ``forecast replay``."""
    home = writable_home()
    api = choose_api(home)
    from pricecast.configs.loader import load_config, require_prices

    config = require_prices(load_config(config_ref, overrides), "the nightly loop")
    from pricecast.stores.tracking import uris

    uri = uris.resolve_uri(home)
    uris.check_reachable(uri)
    api_start = start_temporary_api(opts.verbose)  # it starts while this process imports
    from pricecast.flows import stopping
    from pricecast.flows.boot import load_tensorflow
    from pricecast.flows.nightly import nightly
    from pricecast.flows.progress import live_output

    load_tensorflow()  # on a thread, while the flow starts

    if not opts.debug:
        quiet_console()
    with stopping.on_ctrl_c(uri), live_output(config.data.tickers, opts.verbose):
        with served(api_start):
            state = cast(Any, nightly)(
                config=config,
                as_of=end,
                start=start,
                output_dir=str(output.resolve()) if output else None,
                return_state=True,
            )
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise CliError(f"{name} ended {state.name}: {summary}")
    nights = summary["nights"]
    print(f"\n{'as_of':<11} {'ticker':<8} {'model':<12} {'rows':>4}  reason")
    for n in nights:
        model = f"{n['model']} v{n['version']}" if n["model"] else "baselines"
        print(
            f"{n['as_of']:<11} {n['ticker']:<8} {model:<12} {n['rows_written']:>4}  {n['reason']}"
        )
    print(f"\n{len(nights)} ticker-night(s) closed; outputs: {summary['output_dir']}")
    print(f"Prefect API: {api}")
    return _exit_code(state, opts.debug)


def scores_command(
    ticker: str | None, last: int, config_ref: str, source: str | None, as_of: dt.date | None
) -> int:
    """``forecast scores``: the ledger's live scores beside persistence."""
    home = forecast_home()
    from pricecast.configs.loader import load_config
    from pricecast.flows.scores import live_scores

    config = load_config(config_ref, {"data.source": source} if source else {})
    table = live_scores(config, home, ticker, last, as_of)
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


def deploy_command(
    config_ref: str,
    on_demand_ref: str | None,
    cron: str | None,
    timezone: str | None,
    dispatch: str | None,
) -> int:
    """``forecast deploy``: pools and deployments on ``PREFECT_API_URL`` or ``forecast server``."""
    home = forecast_home()
    prepare_environment(home)
    api = choose_api(home)
    from pricecast.configs.loader import load_config, require_prices

    overrides = {"training.dispatch": dispatch} if dispatch else {}
    nightly = require_prices(load_config(config_ref, overrides), "the nightly deployment")
    on_demand = load_config(on_demand_ref or config_ref, overrides)
    from pricecast.flows import deploy

    if (why := deploy.missing_api()) is not None:
        raise CliError(why, 2)
    result = deploy.deploy(
        nightly,
        on_demand,
        cron=cron or deploy.NIGHTLY_CRON,
        timezone=timezone or deploy.NIGHTLY_TIMEZONE,
    )
    print(f"Prefect API: {api}")
    if result.pools:
        print(f"created work pools: {', '.join(result.pools)}")
    for name, ident in result.deployments.items():
        print(f"deployment {name}: {ident}")
    print("start workers: prefect worker start --pool cpu  |  prefect worker start --pool gpu")
    return 0

"""Help texts of the ``forecast`` command: what each command does, examples, environment.

Rich markup: paragraphs are separated by blank lines; in an epilog every paragraph is
one line.
"""

_HOME = "[bold]FORECAST_HOME[/bold]: all local state (default ./.forecast)"
_MLFLOW = (
    "[bold]MLFLOW_TRACKING_URI[/bold]: MLflow store or server "
    "(default: a sqlite file in FORECAST_HOME)"
)
_UI = "[bold]MLFLOW_UI_URL[/bold]: MLflow UI the Prefect artifact links to"
_PREFECT = (
    "[bold]PREFECT_API_URL[/bold]: a Prefect server (unset: the one `forecast server start` "
    "left running, else a temporary one for the command)"
)
_LEDGER = (
    "[bold]FORECAST_DB_URL[/bold]: the forecast ledger (default: a sqlite file in FORECAST_HOME)"
)


def _epilog(examples: list[str], env: list[str]) -> str:
    lines = ["[bold]Examples[/bold]", *(f"  $ {e}" for e in examples), "[bold]Environment[/bold]"]
    return "\n\n".join(lines + [f"  {v}" for v in env])


APP = (
    "Nightly price forecasting: recurrent models (Keras) scored beside persistence, run by "
    "Prefect, tracked in MLflow."
)
APP_EPILOG = _epilog(
    ["forecast run", "forecast predict --ticker AAPL", "forecast run --help"],
    [_HOME, _MLFLOW, _PREFECT, _LEDGER, "--debug, -v and --version work anywhere on the line"],
)

RUN = (
    "Run the forecast flow on a config: fetch, train every variant, score it beside the "
    "baselines, backtest, log to MLflow.\n\n"
    "Prints the comparison table (each ticker's best model highlighted) and where the "
    "outputs, the MLflow runs and the Prefect flow run are."
)
RUN_EPILOG = _epilog(
    [
        "forecast run",
        "forecast run --config seed_fb",
        "forecast run --config configs/seed_fb.yaml --tickers FB --epochs 5 --output out/fb",
        "forecast run --tickers KO MSFT --source sample --epochs 3",
        "forecast run --runner dask --workers 2",
    ],
    [_HOME, _MLFLOW, _UI, _PREFECT],
)

PREDICT = (
    "Forecast the next sessions with the ticker's @champion model (registered by "
    "forecast run or the nightly loop).\n\n"
    "A horizon past the champion's own is refused up front, naming the longest it can give."
)
PREDICT_EPILOG = _epilog(
    ["forecast predict --ticker AAPL", "forecast predict --ticker KO --source sample"],
    [_HOME, _MLFLOW],
)

NIGHTLY = (
    "Close tonight's session (and any missed) now: score the matured forecasts, retrain "
    "when due, forecast the next sessions into the ledger."
)
NIGHTLY_EPILOG = _epilog(
    ["forecast nightly", "forecast nightly --as-of 2020-12-11 --source sample"],
    [_HOME, _MLFLOW, _PREFECT, _LEDGER],
)

REPLAY = "Run the nightly loop once per session from --start to --end, in order, as scheduled."
REPLAY_EPILOG = _epilog(
    ["forecast replay --start 2020-11-02 --end 2020-12-11 --source sample"],
    [_HOME, _MLFLOW, _PREFECT, _LEDGER],
)

SCORES = "Print the live scores of the recorded forecasts (the ledger) beside persistence."
SCORES_EPILOG = _epilog(
    ["forecast scores", "forecast scores --ticker KO --last 20"],
    [_HOME, _LEDGER],
)

DEPLOY = (
    "Create the work pools (cpu, gpu) and the deployments on a Prefect server: the "
    "nightly watchlist, the on-demand form and the train deployment.\n\n"
    "On-demand runs train in their own process unless the config sets training.dispatch: "
    "deployment (or --dispatch deployment): then they send training to the gpu pool, and "
    "fail at once while no worker serves it."
)
DEPLOY_EPILOG = _epilog(
    [
        "PREFECT_API_URL=http://127.0.0.1:4200/api forecast deploy",
        "forecast deploy --cron '0 23 * * 1-5' --timezone Europe/London",
        "forecast deploy --dispatch deployment",
    ],
    [_PREFECT, _HOME],
)

"""The ``forecast`` command's surface: help, global flags anywhere, choices, a light import."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pricecast.flows.cli import app, main

COMMANDS = ["run", "predict", "nightly", "replay", "scores", "deploy"]
runner = CliRunner()


def _plain(text: str) -> str:
    """Help text without rich's colours and box drawing, one space between words."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples_and_environment(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = _plain(result.output)
    assert f"Usage: forecast {command}" in text
    assert f"$ forecast {command}" in text or f"forecast {command} " in text
    assert "Examples" in text and "Environment" in text
    assert "FORECAST_HOME" in text or "PREFECT_API_URL" in text


def test_top_level_help_lists_every_command_and_the_global_flags():
    code = main(["--help"])
    assert code == 0
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    text = _plain(result.output)
    for command in COMMANDS:
        assert command in text
    for flag in ("--debug", "--verbose", "--version"):
        assert flag in text


@pytest.mark.parametrize(
    "args",
    [["--version"], ["run", "--version"], ["deploy", "--cron", "0 1 * * *", "--version"]],
)
def test_version_works_anywhere(args, capsys):
    assert main(args) == 0
    assert re.fullmatch(r"forecast \(pricecast\) \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    "args",
    [
        ["--debug", "predict", "--ticker", "KO", "--horizon", "0"],
        ["predict", "--debug", "--ticker", "KO", "--horizon", "0"],
        ["predict", "--ticker", "KO", "--horizon", "0", "--debug"],
    ],
)
def test_debug_works_anywhere(args, capsys):
    # Refused before any store look-up: with --debug the traceback comes with the line.
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().endswith("forecast: --horizon must be 1 or more days ahead, got 0")


def test_without_debug_the_same_error_is_one_line(capsys):
    assert main(["predict", "--ticker", "KO", "--horizon", "0"]) == 2
    assert capsys.readouterr().err == "forecast: --horizon must be 1 or more days ahead, got 0\n"


@pytest.mark.parametrize(
    ("args", "option", "allowed"),
    [
        (["run", "--source", "ftp"], "--source", "'sample'"),
        (["run", "--runner", "spark"], "--runner", "'dask'"),
        (["deploy", "--dispatch", "gpu"], "--dispatch", "'inprocess'"),
        (["predict", "--ticker", "KO", "--source", "web"], "--source", "'yfinance'"),
        (["replay", "--start", "2020-13-01", "--end", "2020-12-11"], "--start", ""),
        (["run", "--epochs", "0"], "--epochs", ""),
    ],
)
def test_bad_option_values_are_usage_errors_naming_the_option(args, option, allowed):
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    text = _plain(result.output)
    assert f"Invalid value for '{option}'" in text
    assert allowed in text


def test_unknown_command_and_missing_option_exit_2(capsys):
    assert main(["forecats"]) == 2
    assert main(["predict"]) == 2
    assert "Missing option '--ticker'" in _plain(capsys.readouterr().err)


def test_importing_the_cli_loads_no_tensorflow_mlflow_or_prefect():
    probe = (
        "import sys, pricecast.flows.cli\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tensorflow', 'keras', 'mlflow', 'prefect', 'pandas'})\n"
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_tickers_take_several_values_after_one_flag():
    import typer

    from pricecast.flows.cli_args import spread

    args = ["--tickers", "KO", "MSFT", "--epochs", "3", "-t", "JPM"]
    assert spread(args) == ["--tickers", "KO", "--tickers", "MSFT", "--epochs", "3", "-t", "JPM"]
    run = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    ctx = run.make_context("run", spread(args))
    assert ctx.params["tickers"] == ["KO", "MSFT", "JPM"] and ctx.params["epochs"] == 3

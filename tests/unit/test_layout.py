"""House rules that a lint run enforces: pure steps stay free of Prefect and MLflow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> str:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed (it is part of the [test] extra)")
    return exe


def test_ruff_clean_including_banned_imports():
    proc = subprocess.run([_ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("folder", ["tasks", "models"])
def test_banned_api_rule_keeps_pure_steps_free_of_orchestration_tracking_and_io(folder):
    # The rule itself must fire: a pure module importing any of these is an error.
    source = (
        '"""Probe."""\n\nimport mlflow\nimport prefect\nimport socket\nimport sqlalchemy\n'
        "import yfinance\n\nfrom pricecast.stores import prices\n\n"
        "print(mlflow, prefect, socket, sqlalchemy, yfinance, prices)\n"
    )
    proc = subprocess.run(
        [_ruff(), "check", "--select", "TID251", "--stdin-filename", f"{folder}/probe.py", "-"],
        cwd=ROOT,
        input=source,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    for banned in ("mlflow", "prefect", "socket", "sqlalchemy", "yfinance", "pricecast.stores"):
        assert f"`{banned}` is banned" in proc.stdout, proc.stdout


def test_tasks_never_import_models():
    source = '"""Probe."""\n\nfrom pricecast.models import variant\n\nprint(variant)\n'
    proc = subprocess.run(
        [_ruff(), "check", "--select", "TID251", "--stdin-filename", "tasks/probe.py", "-"],
        cwd=ROOT,
        input=source,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "tasks/ never imports models/" in proc.stdout


def test_only_the_tracking_store_imports_mlflow():
    offenders = [
        p.relative_to(ROOT).as_posix()
        for folder in ("flows", "tasks", "models", "configs", "stores")
        for p in (ROOT / folder).rglob("*.py")
        if p.parent.name != "tracking" and "import mlflow" in p.read_text()
    ]
    assert offenders == []


def test_modules_stay_small():
    sizes = {
        p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines())
        for folder in ("flows", "tasks", "models", "configs", "stores")
        for p in (ROOT / folder).rglob("*.py")
    }
    assert max(v for k, v in sizes.items() if k.startswith("flows/")) < 350, sizes
    assert {k: v for k, v in sizes.items() if v > 400} == {}


def test_package_folders_are_the_top_level_folders():
    # pricecast/<folder> links to <folder>/, so imports resolve for every tool.
    for folder in ("flows", "tasks", "models", "configs", "stores"):
        link = ROOT / "pricecast" / folder
        assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve()

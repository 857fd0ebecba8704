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


def test_banned_api_rule_catches_prefect_in_pure_code():
    # The rule itself must fire: a pure module importing prefect or mlflow is an error.
    source = '"""Probe."""\n\nimport mlflow\nimport prefect\n\nprint(mlflow, prefect)\n'
    proc = subprocess.run(
        [_ruff(), "check", "--select", "TID251", "--stdin-filename", "tasks/probe.py", "-"],
        cwd=ROOT,
        input=source,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Prefect belongs in flows/" in proc.stdout
    assert "MLflow belongs in flows/tracking.py only" in proc.stdout


def test_only_tracking_module_imports_mlflow():
    offenders = [
        p.relative_to(ROOT).as_posix()
        for folder in ("flows", "tasks", "models", "configs")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "tracking.py" and "import mlflow" in p.read_text()
    ]
    assert offenders == []

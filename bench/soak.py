"""Soak: consecutive ``forecast run`` invocations on one FORECAST_HOME with injected faults.

Each run is a fresh ``forecast run`` process (tiny config, ``--epochs 1``) on a shared
FORECAST_HOME. Before some runs a fault is injected, drawn from a fixed seed: a corrupt or
truncated cache file, an unknown ticker, an unwritable output folder, a kill in the
middle of training (SIGKILL), a Ctrl-C in the middle of training (SIGINT to the process
group, as a terminal sends it: the run must exit 130 and leave no run RUNNING), a config
typo, Yahoo down, FORECAST_HOME moved (``mv home home-N``: the next runs use the new path,
and nothing may name or write to the old one). Every run that completes scores the same
data with the same config and seed, so the registry must hold one version per ticker and
``@champion`` must never move after it is first set. Yahoo
cannot be reached from here, so the runs import the ``yfinance`` stand-in of
``tests/reliability/standin`` (the bundled sample, shaped like yfinance 1.7;
``STANDIN_YAHOO=down`` makes it fail).

After the runs and one final clean run it prints: runs, faults injected (by kind), runs
completed, cache files that do not read back whole (must be 0), MLflow runs left
RUNNING (must be 0), values in the MLflow store that still name a moved-away home
(must be 0), registry versions (must be at most 1) and moves of ``@champion`` after it was first
set (must be 0). The soak's 1-epoch price model rarely beats persistence, so ``--identical
N`` (default 3) then runs the bundled seasonal series (``configs/seasonal.yaml``, shortened),
where a recurrent model does win, N times on the same home: one version is registered,
``@champion`` is set once and never moves.

    .venv/bin/python bench/soak.py [--runs 20] [--seed 7] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "reliability" / "standin"
KINDS = (
    "corrupt_cache",
    "bad_ticker",
    "unwritable_output",
    "kill_mid_training",
    "ctrl_c_mid_training",
    "config_typo",
    "yahoo_down",
    "moved_home",
)
CONFIG = {
    "experiment": "soak",
    "data": {
        "tickers": ["KO"],
        "source": "auto",
        "start": "2019-06-03",
        "end": "2020-03-31",
        "retries": 1,
        "retry_delay_seconds": 0.1,
        "rate_limit_pause_seconds": 0.1,
    },
    "features": {"window": 5, "horizon": 1},
    "split": {"test_fraction": 0.1, "val_fraction": 0.1},
    "variants": [{"name": "rnn", "cell": "rnn", "units": 4}],
    "training": {"epochs": 1, "batch_size": 64, "patience": 5000, "seed": 7},
    "backtest": {"n_origins": 20},
}


def _env(home: Path, yahoo: str = "ok") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(
        FORECAST_HOME=str(home),
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(STANDIN), os.environ.get("PYTHONPATH")])),
        STANDIN_YAHOO=yahoo,
    )
    return env


def _running_variants(db: Path) -> set[str]:
    """Variant runs that are RUNNING and have logged an epoch (read-only sqlite)."""
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            rows = con.execute(
                "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                "WHERE r.status = 'RUNNING' AND t.key = 'pricecast.kind' "
                "AND t.value = 'variant' AND EXISTS (SELECT 1 FROM metrics m "
                "WHERE m.run_uuid = r.run_uuid AND m.key = 'loss')"
            ).fetchall()
    except sqlite3.Error:
        return set()
    return {r[0] for r in rows}


def _run(
    exe: str,
    args: list[str],
    env: dict[str, str],
    kill_in_training: Path | None = None,
    how: signal.Signals = signal.SIGKILL,
):
    """Run ``forecast ARGS``; with ``kill_in_training`` (the MLflow db) signal it mid-training.

    ``how`` goes to the whole process group once a variant has logged an epoch: SIGKILL,
    or SIGINT as a terminal's Ctrl-C sends it.

    Returns:
        ``(exit code, stderr text)``.
    """
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [exe, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        try:
            if kill_in_training is not None:
                stale = _running_variants(kill_in_training)  # left by an earlier kill
                deadline = time.monotonic() + 300
                while proc.poll() is None and time.monotonic() < deadline:
                    if _running_variants(kill_in_training) - stale:
                        os.killpg(proc.pid, how)
                        break
                    time.sleep(0.3)
            proc.wait(timeout=600)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        err.seek(0)
        return proc.returncode, err.read()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _corrupt_cache(cache: Path, rng: random.Random) -> str:
    path = cache / "KO.parquet"
    cache.mkdir(parents=True, exist_ok=True)
    if path.is_file() and rng.random() < 0.5:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return "truncated"
    path.write_bytes(b"PAR1 garbage, not a parquet file")
    return "garbage"


def _cache_damage(cache: Path) -> list[str]:
    """Cache files that do not read back whole, and stray temporary files."""
    from pricecast.stores.price_files import read_cache
    from pricecast.stores.price_format import CorruptCacheError

    bad = []
    for path in sorted(cache.glob("*")) if cache.is_dir() else []:
        if path.suffix != ".parquet":
            bad.append(f"{path.name} (stray file)")
            continue
        try:
            read_cache(cache, path.stem)
        except CorruptCacheError as err:
            bad.append(f"{path.name} ({err})")
    return bad


def _stale_locations(db: Path, olds: list[Path]) -> int:
    """Values in the MLflow store that name a home it was moved away from."""
    prefixes = [f"{old.resolve().as_uri()}/" for old in olds]
    if not prefixes or not db.exists():
        return 0
    count = 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
        tables = con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                count += sum(1 for v in row if isinstance(v, str) and any(p in v for p in prefixes))
    return count


def _running_runs(home: Path) -> tuple[int, int]:
    """MLflow runs left RUNNING, and runs marked KILLED, over every experiment."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, max_results=5000) if ids else []
    status = Counter(r.info.status for r in runs)
    return status["RUNNING"], status["KILLED"]


def _registry(home: Path, name: str = "KO") -> tuple[int, str | None]:
    """Registered versions of ``name``'s forecaster, and its ``@champion`` version."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    model = f"price-forecaster-{name}"
    try:
        versions = len(client.search_model_versions(f"name = '{model}'"))
        champion = client.get_model_version_by_alias(model, "champion").version
    except Exception:  # no registered model, or no alias yet
        champion = None
        versions = len(client.search_model_versions(f"name = '{model}'"))
    return versions, champion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="kept (default: a temp dir)")
    parser.add_argument("--identical", type=int, default=3, help="identical seasonal reruns")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="pricecast-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    cache = home / "cache" / "prices"
    db = home / "mlflow.db"
    exe = shutil.which("forecast", path=str(Path(sys.executable).parent)) or "forecast"
    good = work / "soak.yaml"
    good.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    typo = work / "typo.yaml"
    broken = yaml.safe_load(good.read_text())
    broken["training"]["epochz"] = broken["training"].pop("epochs")
    typo.write_text(yaml.safe_dump(broken, sort_keys=False))
    blocker = work / "a-file"
    blocker.write_text("a regular file: nothing can be created below it\n")

    rng = random.Random(args.seed)
    n_faults = min(args.runs, round(args.runs * 0.6))
    schedule: list[str | None] = [KINDS[i % len(KINDS)] for i in range(n_faults)]
    schedule += [None] * (args.runs - n_faults)
    rng.shuffle(schedule)

    print(f"soak: {args.runs} runs, seed {args.seed}, FORECAST_HOME={home}")
    print(f"{'#':>3}  {'fault':<18} {'exit':>4} {'secs':>6}  outcome")
    rows = []
    moved_from: list[Path] = []
    champions: list[str] = []
    t_all = time.perf_counter()
    for i, fault in enumerate([*schedule, "final"], start=1):
        run_args = ["run", "--config", str(good), "--epochs", "1", "--output", str(work / f"o{i}")]
        if fault == "moved_home" and home.exists():
            moved_from.append(home)
            home = Path(shutil.move(home, work / f"home-{i}"))
            cache, db = home / "cache" / "prices", home / "mlflow.db"
        env, kill, how, note = _env(home), None, signal.SIGKILL, ""
        if fault == "moved_home":
            note = f"home now {home.name}; "
        elif fault == "corrupt_cache":
            note = f"cache {_corrupt_cache(cache, rng)}; "
        elif fault == "bad_ticker":
            run_args += ["--tickers", "KO", "ZZZZ"]
        elif fault == "unwritable_output":
            run_args[-1] = str(blocker / f"o{i}")
        elif fault in ("kill_mid_training", "ctrl_c_mid_training"):
            run_args[4] = "5000"
            kill = db
            how = signal.SIGINT if fault == "ctrl_c_mid_training" else signal.SIGKILL
        elif fault == "config_typo":
            run_args[2] = str(typo)
        elif fault == "yahoo_down":
            env = _env(home, yahoo="down")
        t0 = time.perf_counter()
        code, err = _run(exe, run_args, env, kill, how)
        secs = time.perf_counter() - t0
        if db.exists():
            champion = _registry(home)[1]
            if champion and (not champions or champions[-1] != champion):
                champions.append(champion)
        last = _last_line(err)
        lines = [line for line in err.splitlines() if line.strip()]
        expected = {
            None: code == 0,
            "final": code == 0,
            "corrupt_cache": code == 0,
            "yahoo_down": code == 0,
            "bad_ticker": code == 1 and "no price data for ZZZZ" in last,
            "unwritable_output": code == 1 and len(lines) == 1 and str(blocker) in last,
            "kill_mid_training": code == -signal.SIGKILL,
            "ctrl_c_mid_training": code == 130 and not _running_variants(db),
            "config_typo": code == 2 and len(lines) == 1 and "training.epochz" in last,
            "moved_home": code == 0
            and not any(old.exists() for old in moved_from)
            and _stale_locations(db, moved_from) == 0,
        }[fault]
        summary = (work / f"o{i}" / "summary.json").is_file()
        outcome = ("as expected" if expected else "UNEXPECTED") + f"; {note}"
        outcome += f"summary {'written' if summary else 'absent'}"
        if code not in (0, -signal.SIGKILL):
            outcome += f"; stderr: {last[:110]}"
        rows.append((fault, code, expected))
        label = fault or "-"
        print(f"{i:>3}  {label:<18} {code:>4} {secs:>6.1f}  {outcome}", flush=True)

    seasonal = yaml.safe_load((ROOT / "configs" / "seasonal.yaml").read_text())
    seasonal["training"]["epochs"] = 20
    seasonal["backtest"]["n_origins"] = 24
    (work / "seasonal.yaml").write_text(yaml.safe_dump(seasonal, sort_keys=False))
    same: list[tuple[int, int, str | None]] = []
    for k in range(args.identical):
        run_args = ["run", "--config", str(work / "seasonal.yaml"), "--output", str(work / f"s{k}")]
        code, _ = _run(exe, run_args, _env(home))
        same.append((code, *_registry(home, "SEASONAL")))
        print(
            f"  identical rerun {k + 1}: exit {code}, versions {same[-1][1]}, "
            f"@champion {same[-1][2]}",
            flush=True,
        )
    damaged = _cache_damage(cache)
    running, killed = _running_runs(home)
    stale = _stale_locations(db, moved_from)
    versions, _ = _registry(home)
    soak_rows = rows[:-1]
    faults = Counter(f for f, _, _ in soak_rows if f)
    print()
    print(f"runs:                          {len(soak_rows)} (+1 final clean run)")
    print(
        f"faults injected:               {sum(faults.values())} ("
        + ", ".join(f"{k} {faults[k]}" for k in KINDS if faults[k])
        + ")"
    )
    print(f"runs completed (exit 0):       {sum(1 for _, c, _ in soak_rows if c == 0)}")
    print(
        f"runs ended as expected:        {sum(1 for *_, ok in soak_rows if ok)}/{len(soak_rows)}"
        f"; final clean run {'ok' if rows[-1][2] else 'FAILED'}"
    )
    print(f"corrupted cache files after:   {len(damaged)} (must be 0) {'; '.join(damaged)}")
    print(f"MLflow runs left RUNNING:      {running} (must be 0); marked KILLED: {killed}")
    print(f"values naming a moved-away home: {stale} (must be 0); moves: {len(moved_from)}")
    print(f"registry versions:             {versions} (identical reruns add none: must be ≤ 1)")
    print(
        f"@champion moves after set:     {max(0, len(champions) - 1)} (must be 0); "
        f"champion {champions[-1] if champions else 'never set (no candidate beat persistence)'}"
    )
    if same:
        moved = len({c for *_, c in same if c}) - 1 if any(c for *_, c in same) else 0
        print(
            f"identical seasonal reruns:     {len(same)}, exit codes "
            f"{sorted({c for c, *_ in same})}, registry versions {same[-1][1]} "
            f"(must be 1), @champion v{same[-1][2]} set {'once' if same[0][2] else 'later'}, "
            f"moves {max(moved, 0)} (must be 0)"
        )
    print(f"wall time:                     {time.perf_counter() - t_all:.0f} s")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    ok = all(ok for *_, ok in rows) and not damaged and running == 0 and stale == 0
    ok = ok and versions <= 1 and len(champions) <= 1
    if same:
        ok = ok and all(c == 0 for c, *_ in same) and same[-1][1] == 1
        ok = ok and same[0][2] is not None and len({c for *_, c in same}) == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

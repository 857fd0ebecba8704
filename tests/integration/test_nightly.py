"""The nightly loop on the bundled sample: replay, catch-up, ledger, live scores, decay.

Every night runs the real flow on a real Prefect API, MLflow (SQLite) and the forecast
ledger, on SQLite and on a real PostgreSQL server. The registry starts with a champion
(as after an earlier experiment whose guard promoted ``rnn``), so every retraining night
refits ``rnn`` on all data up to its ``as_of`` and registers it ``@production``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pricecast.configs.loader import parse_config
from pricecast.flows.cli import main
from pricecast.flows.nightly import nightly
from pricecast.flows.scores import live_scores
from pricecast.stores.ledger import Ledger
from pricecast.stores.price_files import read_sample
from pricecast.stores.tracking import registry, store
from pricecast.tasks.calendar import next_sessions, sessions_between

pytestmark = pytest.mark.slow
TICKERS = ("KO", "MSFT")
MODELS = ("rnn", "persistence", "drift")


def _config(tickers=TICKERS, **live):
    return parse_config(
        {
            "experiment": "it-nightly",
            "data": {"tickers": list(tickers), "source": "sample", "start": "2019-06-03"},
            "features": {"window": 10, "horizon": 2},
            "split": {"test_fraction": 0.05, "val_fraction": 0.1},
            "variants": [{"name": "rnn", "cell": "rnn", "units": 4}],
            "training": {"epochs": 2, "batch_size": 64, "seed": 3},
            "backtest": {"n_origins": 20},
            "live": {
                "retrain_every": 40,
                "score_windows": [5, 20],
                "decay_window": 5,
                "decay_margin": 0.2,
                **live,
            },
        },
        "test",
    )


def _crown(home: Path, tickers=TICKERS) -> None:
    """Give each ticker a champion whose variant is ``rnn`` (what a promoting guard leaves)."""
    home.mkdir(parents=True, exist_ok=True)
    tracker = store.open_experiment("it-nightly", home)
    client = tracker.client
    for ticker in tickers:
        run = client.create_run(tracker.experiment_id, run_name=f"crowned-{ticker}")
        note = home / "note.txt"
        note.write_text("champion placeholder")
        client.log_artifact(run.info.run_id, str(note))
        client.set_terminated(run.info.run_id)
        uri = f"runs:/{run.info.run_id}/note.txt"
        version = registry.register(tracker, ticker, uri, run.info.run_id, {"variant": "rnn"})
        registry.set_champion(tracker, ticker, version)


@pytest.fixture
def night_home(prefect_api, home, ledger_url, monkeypatch):
    monkeypatch.setenv("FORECAST_DB_URL", ledger_url)
    _crown(home)
    return home


def _run(config, out: Path, **kw):
    state = nightly(config=config, output_dir=str(out), return_state=True, **kw)
    assert state.is_completed(), state.message
    return json.loads((out / "summary.json").read_text())


def test_replay_closes_each_session_once(night_home, ledger_url, tmp_path):
    config = _config(decay_margin=10.0)  # cadence only: decay has its own test
    # Thirty sessions on SQLite; on Postgres the week of Thanksgiving is enough to show the
    # same ledger code on the other backend (every night costs the same on both).
    first_day = dt.date(2020, 10, 16) if ledger_url.startswith("sqlite") else dt.date(2020, 11, 18)
    start, end = first_day, dt.date(2020, 11, 27)
    sessions = sessions_between(start, end)
    assert len(sessions) == (30 if ledger_url.startswith("sqlite") else 7)
    first = _run(config, tmp_path / "r1", start=start, as_of=end)
    assert len(first["nights"]) == 2 * len(sessions)

    ledger = Ledger(ledger_url)
    rows = ledger.forecasts()
    expected = {
        (s, t, m, h, next_sessions(s, 2)[h - 1])
        for s in sessions
        for t in TICKERS
        for m in MODELS
        for h in (1, 2)
    }
    got = set(
        rows[["as_of", "ticker", "model", "h", "target_date"]].itertuples(index=False, name=None)
    )
    assert got == expected and len(rows) == len(expected) == 12 * len(sessions)
    # Forecasts made the day before Thanksgiving target the Friday.
    wed = rows[(rows["as_of"] == "2020-11-25") & (rows["h"] == 1)]
    assert set(wed["target_date"]) == {pd.Timestamp("2020-11-27")}
    # One retraining (the first night); the production model served every night after.
    nights = ledger.nights()
    assert nights["retrained"].astype(bool).sum() == 2  # one per ticker
    assert all(r.startswith("reuse") for r in nights.loc[~nights["retrained"], "reason"])
    rnn = rows[rows["model"] == "rnn"]
    assert (
        rnn["model_version"].notna().all()
        and rnn.groupby("ticker")["model_version"].nunique().eq(1).all()
    )
    # Persistence repeats the last price; every row holds the last price of its night.
    for t in TICKERS:
        prices = read_sample(t)["adj_close"]
        mine = rows[rows["ticker"] == t]
        assert np.allclose(mine["last_price"], prices.loc[mine["as_of"]].to_numpy())
        pers = mine[mine["model"] == "persistence"]
        assert np.allclose(pers["value"], pers["last_price"])

    # A second replay of the same span changes nothing.
    second = _run(config, tmp_path / "r2", start=start, as_of=end)
    assert sum(n["rows_written"] for n in second["nights"]) == 0
    pd.testing.assert_frame_equal(ledger.forecasts(), rows)
    assert len(ledger.nights()) == len(nights)

    # A nightly run finds the sessions missed since its last night and closes them in order.
    caught = _run(config, tmp_path / "c", as_of=dt.date(2020, 12, 2))
    closed = sorted({n["as_of"] for n in caught["nights"]})
    assert closed == ["2020-11-30", "2020-12-01", "2020-12-02"]

    # Live scores equal a computation by hand from the ledger and the real prices.
    table = live_scores(config, night_home, "KO", last=5, as_of=dt.date(2020, 12, 2))
    mine = ledger.forecasts(["KO"])
    prices = read_sample("KO")["adj_close"]
    for model in MODELS:
        part = mine[(mine["model"] == model) & (mine["h"] == 1)]
        part = part[part["target_date"] <= "2020-12-02"].sort_values("target_date").tail(5)
        actual = prices.loc[part["target_date"]].to_numpy()
        err = part["value"].to_numpy() - actual
        hist = prices.loc[:"2020-12-02"].to_numpy()[-251:]
        scale = np.mean(np.abs(np.diff(hist)))
        row = table[(table["model"] == model) & (table["h"] == 1)].iloc[0]
        assert row["n"] == 5
        assert row["mae"] == pytest.approx(np.mean(np.abs(err)))
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
        assert row["mase"] == pytest.approx(np.mean(np.abs(err)) / scale)
    ledger.dispose()


def test_scores_command(prefect_api, home, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FORECAST_DB_URL", raising=False)
    _crown(home, ("KO",))
    config = _config(tickers=("KO",))
    _run(config, tmp_path / "r", start=dt.date(2020, 11, 16), as_of=dt.date(2020, 11, 27))
    path = tmp_path / "nightly.yaml"
    path.write_text(json.dumps(config.model_dump(mode="json")))
    assert main(["scores", "--config", str(path), "--ticker", "KO", "--last", "5"]) == 0
    out = capsys.readouterr().out
    assert "live scores over the last 5 matured forecasts" in out
    lines = [line.split() for line in out.splitlines() if line.startswith("KO ")]
    assert {(w[1], w[2]) for w in lines} == {(m, h) for m in MODELS for h in ("1", "2")}


def test_forecasts_ignore_prices_after_as_of(prefect_api, tmp_path, monkeypatch):
    as_of = dt.date(2020, 11, 25)
    forecasts = {}
    for name in ("clean", "garbage"):
        home = tmp_path / name
        monkeypatch.setenv("FORECAST_HOME", str(home))
        monkeypatch.delenv("FORECAST_DB_URL", raising=False)
        _crown(home, ("KO",))
        frame = read_sample("KO").reset_index()
        if name == "garbage":  # every row after as_of: absurd, negative or missing
            later = frame["date"] > pd.Timestamp(as_of)
            for col, value in (("open", -5.0), ("close", 1e9), ("adj_close", np.nan)):
                frame.loc[later, col] = value
        csv = home / "KO.csv"
        home.mkdir(parents=True, exist_ok=True)
        frame.rename(
            columns={
                "date": "Date",
                "open": "Open",
                "high": "High",
                "low": "Low",
                "close": "Close",
                "adj_close": "Adj Close",
                "volume": "Volume",
            }
        ).to_csv(csv, index=False, date_format="%Y-%m-%d")
        config = _config(tickers=("KO",))
        data = config.data.model_copy(update={"source": "csv", "csv_path": "KO.csv"})
        _run(config.model_copy(update={"data": data}), tmp_path / f"{name}-out", as_of=as_of)
        rows = Ledger(f"sqlite:///{home / 'ledger.db'}").forecasts()
        forecasts[name] = rows.drop(columns=["created_at", "model_version", "run_id"])
    assert set(forecasts["clean"]["model"]) == set(MODELS)
    pd.testing.assert_frame_equal(forecasts["clean"], forecasts["garbage"])


def test_reuse_trains_nothing_and_decay_retrains(prefect_api, home, tmp_path, monkeypatch):
    monkeypatch.delenv("FORECAST_DB_URL", raising=False)
    _crown(home, ("KO",))
    config = _config(tickers=("KO",))
    import pricecast.models.variant as variant_module

    trainings: list[str] = []
    real_fit = variant_module.fit

    def counted(model, *args, **kwargs):
        trainings.append(model.name)
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(variant_module, "fit", counted)
    first = _run(config, tmp_path / "n0", as_of=dt.date(2020, 11, 16))
    assert first["nights"][0]["retrained"] is True
    # A retraining night trains the variant at most twice: once to be evaluated (the
    # backtest's fit, which also gives the test table), once on all data, shared by the
    # registered version and @production.
    assert trainings.count("rnn_forecaster") <= 2 and set(trainings) == {"rnn_forecaster"}
    experiment = json.loads(
        (tmp_path / "n0" / "2020-11-16" / "experiment" / "summary.json").read_text()
    )
    bt = experiment["tickers"]["KO"]["backtest"]
    assert experiment["tickers"]["KO"]["trainings"]["rnn"] == len(trainings) - (
        0 if bt["refit_variant"] else 1
    )
    tracker = store.open_experiment("it-nightly", home)
    production = registry.alias_version(tracker, "KO", registry.PRODUCTION)
    assert production.tags["as_of"] == "2020-11-16" and production.tags["variant"] == "rnn"
    if bt["refit_variant"] == "rnn":
        assert str(production.version) == bt["refit_version"]
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments()]
    runs_before = {r.info.run_id for r in client.search_runs(exps)}

    # A night within the cadence reuses @production: no model is built or fitted.
    def refuse(*args, **kwargs):
        raise AssertionError("a night without retraining trained a model")

    monkeypatch.setattr(variant_module, "fit", refuse)
    monkeypatch.setattr(variant_module, "build_model", refuse)
    reuse = _run(config, tmp_path / "n1", as_of=dt.date(2020, 11, 17))
    assert reuse["nights"][0]["retrained"] is False
    assert reuse["nights"][0]["reason"].startswith("reuse")
    assert reuse["nights"][0]["model"] == "rnn"
    new_runs = {r.info.run_id for r in client.search_runs(exps)} - runs_before
    kinds = {client.get_run(r).data.tags.get("pricecast.kind") for r in new_runs}
    assert kinds <= {"live"}  # only the live run (created on the first scored night)
    monkeypatch.undo()
    monkeypatch.setenv("FORECAST_HOME", str(home))
    monkeypatch.delenv("FORECAST_DB_URL", raising=False)

    # Scripted decay: five nights whose forecasts by the production version were 20 % off.
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
    tracker = store.open_experiment("it-nightly", home)
    serving = str(registry.alias_version(tracker, "KO", registry.PRODUCTION).version)
    prices = read_sample("KO")["adj_close"]
    for night in sessions_between("2020-11-18", "2020-11-24"):
        last = float(prices.loc[night])
        rows = [
            {
                "as_of": night,
                "ticker": "KO",
                "model": model,
                "h": h,
                "target_date": next_sessions(night, 2)[h - 1],
                "value": last * factor,
                "last_price": last,
                "model_version": serving if model == "rnn" else None,
                "run_id": None,
            }
            for model, factor in (("rnn", 1.2), ("persistence", 1.0), ("drift", 1.0))
            for h in (1, 2)
        ]
        ledger.record_night(pd.DataFrame(rows), night.date(), "KO", False, "scripted", None)
    decayed = _run(config, tmp_path / "n2", as_of=dt.date(2020, 11, 25))
    night = decayed["nights"][-1]
    assert night["as_of"] == "2020-11-25" and night["retrained"] is True
    assert night["reason"].startswith("decay: rnn live MASE")
    recorded = ledger.nights("KO")
    assert recorded["reason"].iloc[-1].startswith("decay:")
    assert "guard:" in recorded["reason"].iloc[-1]  # the guard's decision is recorded
    ledger.dispose()


def test_nightly_command_closes_the_latest_session_with_prices(
    prefect_api, home, tmp_path, capsys, monkeypatch
):
    # The README's main job: `forecast nightly`. Offline the sample ends 2020-12-11, so
    # tonight's session has no prices and the latest one that has is closed, with a note.
    monkeypatch.delenv("FORECAST_DB_URL", raising=False)
    config = _config(tickers=("KO",))
    path = tmp_path / "nightly.yaml"
    path.write_text(json.dumps(config.model_dump(mode="json")))
    out = tmp_path / "out"
    assert main(["nightly", "--config", str(path), "--output", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [(n["as_of"], n["ticker"]) for n in summary["nights"]] == [("2020-12-11", "KO")]
    assert "1 ticker-night(s) closed" in capsys.readouterr().out
    rows = Ledger(f"sqlite:///{home / 'ledger.db'}").forecasts()
    assert set(rows["target_date"]) == {pd.Timestamp("2020-12-14"), pd.Timestamp("2020-12-15")}
    assert (out / "2020-12-11" / "KO" / "live.png").stat().st_size > 10_000

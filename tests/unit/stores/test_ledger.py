"""The forecast ledger on SQLite and on a real PostgreSQL server: the same behaviour."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from pricecast.stores.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, LedgerError


def _rows(as_of: str, models=("lstm", "persistence"), horizon=2, value=10.0) -> pd.DataFrame:
    targets = {
        "2020-11-25": ["2020-11-27", "2020-11-30"],
        "2020-11-27": ["2020-11-30", "2020-12-01"],
    }
    return pd.DataFrame(
        [
            {
                "as_of": pd.Timestamp(as_of),
                "ticker": "KO",
                "model": m,
                "h": h,
                "target_date": pd.Timestamp(targets[as_of][h - 1]),
                "value": value + h,
                "last_price": value,
                "model_version": "3" if m == "lstm" else None,
                "run_id": None,
            }
            for m in models
            for h in range(1, horizon + 1)
        ]
    )


def test_a_night_is_written_once(ledger_url):
    ledger = Ledger(ledger_url)
    night = dt.date(2020, 11, 25)
    assert ledger.record_night(_rows("2020-11-25"), night, "KO", True, "first", "3") == 4
    # A retry, a manual rerun or a replay of the same night changes nothing,
    # even with other values: the first record stands.
    again = _rows("2020-11-25", value=99.0)
    assert ledger.record_night(again, night, "KO", False, "rerun", "3") == 0
    rows = ledger.forecasts(["KO"])
    assert len(rows) == 4 and (rows["last_price"] == 10.0).all()
    nights = ledger.nights("KO")
    assert len(nights) == 1 and nights["reason"].iloc[0] == "first"
    assert bool(nights["retrained"].iloc[0]) is True
    ledger.record_night(_rows("2020-11-27"), dt.date(2020, 11, 27), "KO", False, "reuse", "3")
    assert len(ledger.forecasts(["KO"])) == 8
    assert len(ledger.forecasts(["KO"], until=night)) == 4
    assert list(ledger.forecasts(["KO"])["target_date"].iloc[:2]) == [
        pd.Timestamp("2020-11-27"),
        pd.Timestamp("2020-11-30"),
    ]
    ledger.dispose()


def test_schema_is_versioned_and_reopening_keeps_the_rows(ledger_url):
    first = Ledger(ledger_url)
    first.record_night(_rows("2020-11-25"), dt.date(2020, 11, 25), "KO", True, "first", None)
    first.dispose()
    again = Ledger(ledger_url)
    assert len(again.forecasts()) == 4
    with again.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM ledger_schema")).scalar() == SCHEMA_VERSION
    # A newer schema than this code knows is refused, not guessed at.
    with again.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_schema SET version = :v"), {"v": SCHEMA_VERSION + 1})
    again.dispose()
    with pytest.raises(LedgerError, match=f"schema v{SCHEMA_VERSION + 1}, newer"):
        Ledger(ledger_url)


def _banded(as_of: str, value: float = 10.0) -> pd.DataFrame:
    rows = _rows(as_of, value=value)
    lstm = rows["model"] == "lstm"
    return rows.assign(
        lower_80=rows["value"] - 1,
        upper_80=rows["value"] + 1,
        lower_95=rows["value"].where(lstm) - 2,
        upper_95=rows["value"].where(lstm) + 2,
    )


def test_bounds_per_level_are_recorded_once_and_read_back(ledger_url):
    ledger = Ledger(ledger_url)
    night = dt.date(2020, 11, 25)
    assert ledger.record_night(_banded("2020-11-25"), night, "KO", True, "first", "3") == 4
    ledger.record_night(_banded("2020-11-25", value=99.0), night, "KO", False, "rerun", "3")
    rows = ledger.forecasts(["KO"]).set_index(["model", "h"])
    assert list(rows.columns[-4:]) == ["lower_80", "upper_80", "lower_95", "upper_95"]
    assert rows.loc[("lstm", 2), "lower_80"] == 11.0 and rows.loc[("lstm", 2), "upper_95"] == 14.0
    # persistence has no 95 % pair: NaN there, not a made-up bound.
    assert rows.loc[("persistence", 1), "upper_80"] == 12.0
    assert pd.isna(rows.loc[("persistence", 1), "lower_95"])
    # A night without bounds reads back with NaN bounds.
    ledger.record_night(_rows("2020-11-27"), dt.date(2020, 11, 27), "KO", False, "reuse", "3")
    later = ledger.forecasts(["KO"])
    assert len(later) == 8 and later["lower_80"].isna().sum() == 4
    ledger.dispose()


def test_a_ledger_written_before_intervals_opens_and_takes_bounds(ledger_url):
    engine = sa.create_engine(ledger_url)
    with engine.begin() as conn:
        sa.Table("ledger_schema", sa.MetaData(), sa.Column("version", sa.Integer)).create(conn)
        MIGRATIONS[1](conn)
        conn.execute(sa.text("INSERT INTO ledger_schema (version) VALUES (1)"))
    engine.dispose()
    old = Ledger(ledger_url)
    with old.engine.begin() as conn:
        # Drop the bounds table again: a true v1 ledger, written by the previous version.
        conn.execute(sa.text("DROP TABLE IF EXISTS forecast_bounds"))
        conn.execute(sa.text("UPDATE ledger_schema SET version = 1"))
    old.record_night(_rows("2020-11-25"), dt.date(2020, 11, 25), "KO", True, "v1", None)
    old.dispose()
    ledger = Ledger(ledger_url)
    assert list(ledger.forecasts()["value"]) == [11.0, 12.0, 11.0, 12.0]
    ledger.record_night(_banded("2020-11-27"), dt.date(2020, 11, 27), "KO", False, "v2", "3")
    assert ledger.forecasts()["lower_80"].notna().sum() == 4
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM ledger_schema")).scalar() == 2
    ledger.dispose()


def test_live_run_is_remembered(ledger_url):
    ledger = Ledger(ledger_url)
    assert ledger.live_run("KO", "x-live") is None
    ledger.set_live_run("KO", "x-live", "abc")
    ledger.set_live_run("KO", "x-live", "def")
    assert ledger.live_run("KO", "x-live") == "def"
    ledger.dispose()


def test_unreachable_database_names_it_without_the_password():
    password = "s3cret-" + "pw"  # a made-up one: nothing listens on port 1
    url = f"postgresql+psycopg://user:{password}@127.0.0.1:1/ledger"
    with pytest.raises(LedgerError) as err:
        Ledger(url)
    assert "127.0.0.1:1/ledger" in str(err.value)
    assert password not in str(err.value)

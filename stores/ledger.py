"""The forecast ledger: every forecast a night made, kept in a real database (SQLAlchemy).

SQLite under ``FORECAST_HOME`` by default; any SQLAlchemy URL through ``FORECAST_DB_URL``
(the compose stack uses its Postgres). The record is append-only: a row is keyed by
``(as_of, ticker, model, h)`` and a second write of the same key (a retry, a manual rerun,
a replay) is ignored, so what a night forecast can never be rewritten after the fact.

The schema is versioned: ``ledger_schema`` holds the version, and :data:`MIGRATIONS`
brings an older database up to date inside one transaction when the ledger is opened.
Prediction intervals sit in their own table, one row per forecast and level, so a
ledger written before they existed opens unchanged and any set of levels fits.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pricecast.tasks.interval_scores import levels_of
from pricecast.tasks.intervals import level_name

SCHEMA_VERSION = 2

metadata = sa.MetaData()

schema_table = sa.Table(
    "ledger_schema",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

forecasts_table = sa.Table(
    "forecasts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("ticker", sa.String(32), nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("h", sa.Integer, nullable=False),
    sa.Column("target_date", sa.Date, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("last_price", sa.Float, nullable=False),
    sa.Column("model_version", sa.String(64)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("as_of", "ticker", "model", "h", name="uq_forecast"),
)

nights_table = sa.Table(
    "nights",
    metadata,
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("ticker", sa.String(32), nullable=False),
    sa.Column("retrained", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(64)),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("as_of", "ticker", name="pk_night"),
)

bounds_table = sa.Table(
    "forecast_bounds",
    metadata,
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("ticker", sa.String(32), nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("h", sa.Integer, nullable=False),
    sa.Column("level", sa.Float, nullable=False),
    sa.Column("lower", sa.Float, nullable=False),
    sa.Column("upper", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("as_of", "ticker", "model", "h", "level", name="pk_bound"),
)
"""Lower and upper bound of a forecast's central interval at each level."""

live_runs_table = sa.Table(
    "live_runs",
    metadata,
    sa.Column("ticker", sa.String(32), primary_key=True),
    sa.Column("experiment", sa.String(200), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
)

FORECAST_COLUMNS = (
    "as_of",
    "ticker",
    "model",
    "h",
    "target_date",
    "value",
    "last_price",
    "model_version",
    "run_id",
    "created_at",
)


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[forecasts_table, nights_table, live_runs_table])


def _add_bounds_v2(conn: Connection) -> None:
    bounds_table.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _create_v1, 2: _add_bounds_v2}
"""``{version: step}``: each step brings a database from ``version - 1`` to ``version``."""


class LedgerError(RuntimeError):
    """The ledger database cannot be opened or written; the message hides any password."""


def default_url(home: Path) -> str:
    """The default ledger: a SQLite file in ``FORECAST_HOME``."""
    return f"sqlite:///{home / 'ledger.db'}"


def resolve_url(home: Path) -> str:
    """``FORECAST_DB_URL`` if set, else the default SQLite ledger."""
    return os.environ.get("FORECAST_DB_URL") or default_url(home)


class Ledger:
    """An open forecast ledger.

    Args:
        url: SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = sa.create_engine(url, pool_pre_ping=True)
            self._migrate()
        except sa_exc.SQLAlchemyError as err:
            raise LedgerError(f"forecast ledger {self.safe_url}: {_short(err)}") from None

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for messages."""
        try:
            return sa.engine.make_url(self.url).render_as_string()  # the password is masked
        except sa_exc.ArgumentError:
            return "<invalid URL>"

    def _migrate(self) -> None:
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        with self.engine.begin() as conn:
            schema_table.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar()
            current = int(current or 0)
            if current > SCHEMA_VERSION:
                raise LedgerError(
                    f"forecast ledger {self.safe_url} has schema v{current}, newer than this "
                    f"pricecast's v{SCHEMA_VERSION}"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](conn)
                conn.execute(sa.delete(schema_table))
                conn.execute(sa.insert(schema_table).values(version=version))

    def _insert(self, table: sa.Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def record_night(
        self,
        forecasts: pd.DataFrame,
        as_of: dt.date,
        ticker: str,
        retrained: bool,
        reason: str,
        model_version: str | None,
    ) -> int:
        """Write a night's forecasts and mark the night done, in one transaction.

        Rows whose ``(as_of, ticker, model, h)`` is already there are left as they are.
        ``lower_<L>``/``upper_<L>`` columns go to the bounds table (a NaN pair: none).

        Returns:
            The forecast rows inserted now (0 when the night had been recorded before).
        """
        now = dt.datetime.now(dt.UTC)
        rows = [
            {**{k: row[k] for k in FORECAST_COLUMNS if k in row}, "created_at": now}
            for row in forecasts.to_dict("records")
        ]
        for row in rows:
            for key in ("as_of", "target_date"):
                row[key] = pd.Timestamp(row[key]).date()
            for key in ("model_version", "run_id"):
                row[key] = None if pd.isna(row.get(key)) else str(row[key])
        bounds = _bound_rows(forecasts)
        t = forecasts_table
        night_rows = sa.select(sa.func.count()).where(t.c.as_of == as_of, t.c.ticker == ticker)
        try:
            with self.engine.begin() as conn:
                before = conn.execute(night_rows).scalar() or 0
                if rows:
                    stmt = self._insert(forecasts_table).on_conflict_do_nothing(
                        index_elements=["as_of", "ticker", "model", "h"]
                    )
                    conn.execute(stmt, rows)
                if bounds:
                    stmt = self._insert(bounds_table).on_conflict_do_nothing(
                        index_elements=["as_of", "ticker", "model", "h", "level"]
                    )
                    conn.execute(stmt, bounds)
                inserted = (conn.execute(night_rows).scalar() or 0) - before
                night = self._insert(nights_table).on_conflict_do_nothing(
                    index_elements=["as_of", "ticker"]
                )
                conn.execute(
                    night,
                    {
                        "as_of": as_of,
                        "ticker": ticker,
                        "retrained": retrained,
                        "reason": reason,
                        "model_version": model_version,
                        "completed_at": now,
                    },
                )
        except sa_exc.SQLAlchemyError as err:
            raise LedgerError(f"forecast ledger {self.safe_url}: {_short(err)}") from None
        return max(int(inserted), 0)

    def forecasts(
        self, tickers: Sequence[str] | None = None, until: dt.date | None = None
    ) -> pd.DataFrame:
        """Forecast rows (optionally of some tickers, made up to ``until``), oldest first.

        With bounds recorded, ``lower_<L>, upper_<L>`` columns follow (NaN where a
        forecast has none).
        """
        query = sa.select(*[forecasts_table.c[k] for k in FORECAST_COLUMNS])
        if tickers:
            query = query.where(forecasts_table.c.ticker.in_(list(tickers)))
        if until is not None:
            query = query.where(forecasts_table.c.as_of <= until)
        query = query.order_by(
            forecasts_table.c.as_of,
            forecasts_table.c.ticker,
            forecasts_table.c.model,
            forecasts_table.c.h,
        )
        b = bounds_table
        keys = ["as_of", "ticker", "model", "h"]
        bq = sa.select(*[b.c[k] for k in (*keys, "level", "lower", "upper")])
        if tickers:
            bq = bq.where(b.c.ticker.in_(list(tickers)))
        if until is not None:
            bq = bq.where(b.c.as_of <= until)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=FORECAST_COLUMNS)
            bounds = pd.DataFrame(conn.execute(bq).mappings().all())
        for key in ("as_of", "target_date"):
            frame[key] = pd.to_datetime(frame[key])
        if bounds.empty:
            return frame
        bounds["as_of"] = pd.to_datetime(bounds["as_of"])
        wide = bounds.pivot_table(index=keys, columns="level", values=["lower", "upper"])
        levels = sorted(bounds["level"].unique())
        cols = {(s, v): f"{s}_{level_name(v)}" for v in levels for s in ("lower", "upper")}
        wide = wide[list(cols)].set_axis(list(cols.values()), axis=1).reset_index()
        return frame.merge(wide, on=keys, how="left")

    def nights(self, ticker: str | None = None) -> pd.DataFrame:
        """The nights recorded (``as_of, ticker, retrained, reason, model_version``)."""
        cols = ["as_of", "ticker", "retrained", "reason", "model_version", "completed_at"]
        query = sa.select(*[nights_table.c[k] for k in cols]).order_by(nights_table.c.as_of)
        if ticker:
            query = query.where(nights_table.c.ticker == ticker)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=cols)
        frame["as_of"] = pd.to_datetime(frame["as_of"])
        return frame

    def live_run(self, ticker: str, experiment: str) -> str | None:
        """The MLflow run that charts a ticker's live scores, if one was made."""
        query = sa.select(live_runs_table.c.run_id).where(
            live_runs_table.c.ticker == ticker, live_runs_table.c.experiment == experiment
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def set_live_run(self, ticker: str, experiment: str, run_id: str) -> None:
        """Remember the MLflow run that charts a ticker's live scores."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(live_runs_table).where(live_runs_table.c.ticker == ticker))
            conn.execute(
                sa.insert(live_runs_table).values(
                    ticker=ticker, experiment=experiment, run_id=run_id
                )
            )

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _bound_rows(forecasts: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the bounds table from ``lower_<L>``/``upper_<L>`` columns (finite pairs)."""
    out = []
    for level in levels_of(forecasts):
        name = level_name(level)
        part = forecasts[["as_of", "ticker", "model", "h", f"lower_{name}", f"upper_{name}"]]
        for row in part.itertuples(index=False):
            lower, upper = float(row[4]), float(row[5])
            if pd.notna(lower) and pd.notna(upper):
                out.append(
                    {
                        "as_of": pd.Timestamp(row[0]).date(),
                        "ticker": row[1],
                        "model": row[2],
                        "h": int(row[3]),
                        "level": level,
                        "lower": lower,
                        "upper": upper,
                    }
                )
    return out


def _short(err: Exception) -> str:
    """The first line of a database error, without the SQL statement and parameters."""
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__

"""Trading sessions of an exchange (``exchange_calendars``): which days forecasts target.

A forecast made at the close of session ``as_of`` for ``h`` steps ahead targets the
``h``-th session after it, so a Wednesday-before-Thanksgiving forecast for h=1 targets the
Friday. The calendars are built once per name and process (they are pure data).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import exchange_calendars as xcals
import pandas as pd

CALENDAR_START = "1990-01-01"
"""First day the calendars cover (the bundled sample's nights are from 2000 on)."""


@lru_cache(maxsize=8)
def calendar(name: str = "XNYS") -> Any:
    """The exchange calendar called ``name`` (``XNYS``, ``XLON``, ``XTKS``, ...).

    Raises:
        ValueError: For a name ``exchange_calendars`` does not know.
    """
    try:
        return xcals.get_calendar(name, start=CALENDAR_START)
    except xcals.errors.InvalidCalendarName:
        raise ValueError(
            f"unknown exchange calendar {name!r} (e.g. XNYS, XNAS, XLON, XTKS)"
        ) from None


def _day(value: dt.date | pd.Timestamp | str) -> pd.Timestamp:
    return pd.Timestamp(value).tz_localize(None).normalize()


def is_session(day: dt.date | pd.Timestamp | str, name: str = "XNYS") -> bool:
    """Whether the exchange trades on ``day``."""
    return bool(calendar(name).is_session(_day(day)))


def session_on_or_before(day: dt.date | pd.Timestamp | str, name: str = "XNYS") -> pd.Timestamp:
    """The session on ``day``, or the last one before it (a weekend or holiday)."""
    return pd.Timestamp(calendar(name).date_to_session(_day(day), direction="previous"))


def next_sessions(
    as_of: dt.date | pd.Timestamp | str, count: int, name: str = "XNYS"
) -> pd.DatetimeIndex:
    """The ``count`` sessions after ``as_of`` (which need not be a session itself)."""
    cal = calendar(name)
    first = cal.date_to_session(_day(as_of), direction="previous")
    window = cal.sessions_window(first, count + 1)
    return pd.DatetimeIndex(window[1:]).tz_localize(None)


def sessions_between(
    start: dt.date | pd.Timestamp | str, end: dt.date | pd.Timestamp | str, name: str = "XNYS"
) -> pd.DatetimeIndex:
    """Every session from ``start`` to ``end``, both included."""
    return pd.DatetimeIndex(calendar(name).sessions_in_range(_day(start), _day(end))).tz_localize(
        None
    )


def session_index(day: dt.date | pd.Timestamp | str, name: str = "XNYS") -> int:
    """Position of a session in the calendar, counted from :data:`CALENDAR_START`.

    Used as the step of live metrics in MLflow, so charts run in trading days.
    """
    cal = calendar(name)
    return int(cal.sessions.get_loc(cal.date_to_session(_day(day), direction="previous")))


def latest_closed_session(now: pd.Timestamp | dt.datetime, name: str = "XNYS") -> pd.Timestamp:
    """The latest session whose close is at or before ``now`` (a tz-aware time).

    A nightly run scheduled after the close forecasts from that day's session; one
    started before the open, or on a holiday, from the session before.
    """
    cal = calendar(name)
    moment = pd.Timestamp(now)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    local = moment.tz_convert(cal.tz).tz_localize(None).normalize()
    session = cal.date_to_session(local, direction="previous")
    if cal.session_close(session) > moment:
        session = cal.previous_session(session)
    return pd.Timestamp(session).tz_localize(None)


def sessions_behind(
    last: dt.date | pd.Timestamp | str, now: pd.Timestamp | dt.datetime, name: str = "XNYS"
) -> int:
    """How many sessions have closed after ``last`` by ``now`` (a tz-aware time).

    0 when ``last`` is the latest closed session (or later): the prices are current. A
    forecast from prices several sessions old forecasts days already past.
    """
    latest = latest_closed_session(now, name)
    if _day(last) >= latest:
        return 0
    return session_index(latest, name) - session_index(last, name)

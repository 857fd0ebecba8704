"""Trading sessions from the exchange calendar: holidays skipped, closes respected."""

from __future__ import annotations

import pandas as pd
import pytest

from pricecast.tasks.calendar import (
    is_session,
    latest_closed_session,
    next_sessions,
    session_on_or_before,
    sessions_between,
)


def test_thanksgiving_is_skipped():
    # Wednesday 2020-11-25: h=1 targets Friday the 27th (Thursday is Thanksgiving).
    assert list(next_sessions("2020-11-25", 3)) == [
        pd.Timestamp("2020-11-27"),
        pd.Timestamp("2020-11-30"),
        pd.Timestamp("2020-12-01"),
    ]
    assert not is_session("2020-11-26")


def test_new_year_and_weekends():
    assert list(next_sessions("2020-12-31", 1)) == [pd.Timestamp("2021-01-04")]
    assert session_on_or_before("2020-11-28") == pd.Timestamp("2020-11-27")  # Saturday
    assert list(sessions_between("2020-11-24", "2020-11-30")) == [
        pd.Timestamp(d) for d in ("2020-11-24", "2020-11-25", "2020-11-27", "2020-11-30")
    ]


@pytest.mark.parametrize(
    ("now", "session"),
    [
        ("2020-11-25 22:30", "2020-11-25"),  # after the close (UTC 21:00 in winter)
        ("2020-11-25 15:00", "2020-11-24"),  # before the close: yesterday's session
        ("2020-11-26 23:00", "2020-11-25"),  # Thanksgiving evening
        ("2020-11-28 12:00", "2020-11-27"),  # Saturday: Friday (an early close at 13:00)
    ],
)
def test_latest_closed_session(now, session):
    moment = pd.Timestamp(now, tz="America/New_York")
    assert latest_closed_session(moment) == pd.Timestamp(session)


def test_other_exchange_and_unknown_name():
    # London is open on US Thanksgiving.
    assert next_sessions("2020-11-25", 1, "XLON")[0] == pd.Timestamp("2020-11-26")
    with pytest.raises(ValueError, match="unknown exchange calendar 'NOPE'"):
        next_sessions("2020-11-25", 1, "NOPE")

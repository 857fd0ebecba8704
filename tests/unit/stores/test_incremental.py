"""A night downloads only the sessions its cache lacks; a restated price reloads everything."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pricecast.stores.price_files import read_cache, read_sample, write_cache
from pricecast.stores.prices import load_prices

SAMPLE = read_sample("KO")


class Yahoo:
    """Answers like ``stores.yahoo.download_yahoo`` from the real sample, and records calls."""

    def __init__(self, restate_after: dt.date | None = None) -> None:
        self.calls: list[tuple[dt.date | None, dt.date | None]] = []
        self.restate_after = restate_after

    def __call__(self, ticker, start, end):
        self.calls.append((start, end))
        frame = SAMPLE.loc[str(start or "1900-01-01") : str(end)].copy()
        if self.restate_after is not None:  # a dividend: earlier adjusted closes change
            earlier = frame.index <= pd.Timestamp(self.restate_after)
            frame.loc[earlier, "adj_close"] *= 0.99
        return frame


def _cache_until_nov_20(folder) -> None:
    write_cache(
        folder, "KO", SAMPLE.loc["2020-01-02":"2020-11-20"], dt.date(2020, 1, 2),
        dt.date(2020, 11, 20),
    )  # fmt: skip


def test_only_missing_sessions_are_downloaded_and_appended(tmp_path):
    _cache_until_nov_20(tmp_path)
    yahoo = Yahoo()
    got = load_prices(
        "KO",
        dt.date(2020, 1, 2),
        dt.date(2020, 11, 27),
        "auto",
        cache_dir=tmp_path,
        download=yahoo,
        incremental=True,
    )
    assert yahoo.calls == [(dt.date(2020, 11, 20), dt.date(2020, 11, 27))]
    assert got.source == "yfinance"
    assert any("appended 4 new session(s)" in n for n in got.notes)  # 23, 24, 25, 27
    frame, start, end = read_cache(tmp_path, "KO")
    pd.testing.assert_frame_equal(frame, SAMPLE.loc["2020-01-02":"2020-11-27"])
    assert (start, end) == (dt.date(2020, 1, 2), dt.date(2020, 11, 27))


def test_a_restated_price_reloads_the_whole_history(tmp_path):
    _cache_until_nov_20(tmp_path)
    yahoo = Yahoo(restate_after=dt.date(2020, 11, 20))
    got = load_prices(
        "KO",
        dt.date(2020, 1, 2),
        dt.date(2020, 11, 27),
        "auto",
        cache_dir=tmp_path,
        download=yahoo,
        incremental=True,
    )
    assert yahoo.calls == [
        (dt.date(2020, 11, 20), dt.date(2020, 11, 27)),
        (dt.date(2020, 1, 2), dt.date(2020, 11, 27)),
    ]
    assert any("restated" in n and "reloaded the whole history" in n for n in got.notes)
    frame, *_ = read_cache(tmp_path, "KO")
    assert frame.loc["2020-06-01", "adj_close"] == SAMPLE.loc["2020-06-01", "adj_close"] * 0.99


def test_offline_the_cache_still_serves(tmp_path):
    _cache_until_nov_20(tmp_path)
    from pricecast.stores.price_format import SourceUnavailableError

    def down(ticker, start, end):
        raise SourceUnavailableError("KO: Yahoo unreachable (test)")

    got = load_prices(
        "KO",
        dt.date(2020, 1, 2),
        dt.date(2020, 11, 27),
        "auto",
        cache_dir=tmp_path,
        download=down,
        incremental=True,
    )
    assert got.source == "cache" and got.frame.index[-1] == pd.Timestamp("2020-11-20")
    assert any("Yahoo unreachable" in n for n in got.notes)

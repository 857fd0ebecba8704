"""Price sources: yfinance stand-ins, Yahoo shapes, CSV files, the parquet cache, fallbacks."""

from __future__ import annotations

import datetime as dt
import inspect
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from yfinance.exceptions import (
    YFPricesMissingError,
    YFRateLimitError,
    YFTzMissingError,
)
from yfinance.scrapers.history import PriceHistory
from yfinance.utils import empty_df

from pricecast.configs.schema import PRICE_COLUMNS
from pricecast.stores import price_files, yahoo
from pricecast.stores.price_files import (
    cache_file,
    read_cache,
    read_sample,
    read_yahoo_csv,
    write_cache,
)
from pricecast.stores.price_format import (
    CorruptCacheError,
    NoPriceDataError,
    PriceSourceError,
    RateLimitedError,
    SourceUnavailableError,
    normalize_yahoo,
)
from pricecast.stores.prices import load_prices
from pricecast.stores.yahoo import download_yahoo

HISTORY_SIGNATURE = inspect.signature(PriceHistory.history)


def _expected(raw: pd.DataFrame) -> pd.DataFrame:
    """The normalised frame built by hand from Yahoo-named columns and naive dates."""
    out = raw.rename(
        columns={
            "Open": "open",
            "High": "high",
            "Low": "low",
            "Close": "close",
            "Adj Close": "adj_close",
            "Volume": "volume",
        }
    )[list(PRICE_COLUMNS)].astype("float64")
    out.index = pd.DatetimeIndex(out.index)
    out.index.name = "date"
    return out


def _assert_normalised(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(PRICE_COLUMNS)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.tz is None
    assert frame.index.name == "date"
    assert (frame.index == frame.index.normalize()).all()
    assert frame.index.is_monotonic_increasing


def _assert_same_prices(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame.astype("float64"), expected, check_freq=False)


class FakeYF:
    """A stand-in for the ``yfinance`` module: ``Ticker(t).history(**kwargs)``.

    Every call is checked against the real ``PriceHistory.history`` signature and
    recorded; ``respond(symbol, kwargs)`` returns the frame or raises.
    """

    def __init__(self, respond):
        self.respond = respond
        self.calls: list[tuple[str, dict]] = []

    def Ticker(self, symbol):  # noqa: N802 - mirrors yfinance's API
        fake = self

        class _Ticker:
            def history(self, *args, **kwargs):
                HISTORY_SIGNATURE.bind(None, *args, **kwargs)  # TypeError on a bad keyword
                fake.calls.append((symbol, kwargs))
                return fake.respond(symbol, kwargs)

        return _Ticker()


def _yahoo_like(frame: pd.DataFrame):
    """Respond like Yahoo: ``start`` inclusive, ``end`` exclusive, ``period="max"`` = all."""

    def respond(symbol, kwargs):
        assert kwargs["interval"] == "1d"
        assert kwargs["auto_adjust"] is False
        assert kwargs["actions"] is False
        if kwargs.get("period") == "max":
            return frame.copy()
        days = frame.index.tz_localize(None)
        keep = (days >= pd.Timestamp(kwargs["start"])) & (days < pd.Timestamp(kwargs["end"]))
        return frame[keep].copy()

    return respond


def _raiser(err: BaseException):
    def respond(symbol, kwargs):
        raise err

    return respond


# --------------------------------------------------------------------------- download_yahoo


def test_download_yahoo_normalises_ticker_history(yahoo_history, raw_sample):
    fake = FakeYF(_yahoo_like(yahoo_history("FB")))
    frame = download_yahoo("FB", dt.date(2020, 1, 2), dt.date(2020, 1, 31), yf_module=fake)

    assert len(fake.calls) == 1
    symbol, kwargs = fake.calls[0]
    assert symbol == "FB"
    assert kwargs["start"] == "2020-01-02"
    assert kwargs["end"] == "2020-02-01"  # Yahoo's end is exclusive: one day past the end
    assert kwargs["raise_errors"] is True
    assert "period" not in kwargs
    _assert_normalised(frame)
    assert frame.index[0] == pd.Timestamp("2020-01-02")
    assert frame.index[-1] == pd.Timestamp("2020-01-31")  # the end date is included
    assert len(frame) == 21
    _assert_same_prices(frame, _expected(raw_sample("FB").loc["2020-01-02":"2020-01-31"]))


def test_download_yahoo_without_start_asks_for_max(yahoo_history, raw_sample):
    fake = FakeYF(_yahoo_like(yahoo_history("KO")))
    frame = download_yahoo("KO", None, None, yf_module=fake)
    kwargs = fake.calls[0][1]
    assert kwargs["period"] == "max"
    assert "start" not in kwargs and "end" not in kwargs
    _assert_normalised(frame)
    _assert_same_prices(frame, _expected(raw_sample("KO")))
    # KO's adjusted close differs from its close: the columns are not mixed up.
    assert not np.allclose(frame["adj_close"], frame["close"])


def test_download_yahoo_clips_rows_past_the_end(yahoo_history):
    # Yahoo sometimes returns today's bar past the requested end: it is clipped.
    whole = yahoo_history("FB", "2020-01-02", "2020-02-28")
    fake = FakeYF(lambda symbol, kwargs: whole.copy())
    frame = download_yahoo("FB", dt.date(2020, 1, 2), dt.date(2020, 1, 31), yf_module=fake)
    assert frame.index[-1] == pd.Timestamp("2020-01-31")


def test_download_yahoo_empty_response_is_no_data():
    fake = FakeYF(lambda symbol, kwargs: empty_df())
    with pytest.raises(NoPriceDataError) as info:
        download_yahoo("XYZ", dt.date(2020, 1, 1), dt.date(2020, 2, 1), yf_module=fake)
    assert str(info.value).startswith("no price data for XYZ (source yfinance)")


def test_download_yahoo_rows_only_after_end_is_no_data(yahoo_history):
    late = yahoo_history("FB", "2020-03-02", "2020-03-31")
    fake = FakeYF(lambda symbol, kwargs: late.copy())
    with pytest.raises(NoPriceDataError, match=r"no price data for FB \(source yfinance\)"):
        download_yahoo("FB", dt.date(2020, 1, 1), dt.date(2020, 2, 1), yf_module=fake)


def test_download_yahoo_rate_limit_is_source_unavailable():
    err = YFRateLimitError()
    fake = FakeYF(_raiser(err))
    with pytest.raises(SourceUnavailableError) as info:
        download_yahoo("XYZ", dt.date(2020, 1, 1), None, yf_module=fake)
    assert isinstance(info.value, RateLimitedError)
    assert not isinstance(info.value, NoPriceDataError)
    assert str(info.value) == (
        "XYZ: Yahoo rate limit (Too Many Requests. Rate limited. Try after a while.)"
    )
    assert info.value.__cause__ is err


@pytest.mark.parametrize(
    "err",
    [YFPricesMissingError("XYZ", "(1d 2020-01-01 -> 2020-02-01)"), YFTzMissingError("XYZ")],
    ids=["prices-missing", "tz-missing"],
)
def test_download_yahoo_missing_prices_is_no_data(err):
    fake = FakeYF(_raiser(err))
    with pytest.raises(NoPriceDataError) as info:
        download_yahoo(
            "XYZ",
            dt.date(2020, 1, 1),
            dt.date(2020, 2, 1),
            yf_module=fake,
            reachable=lambda: True,
        )
    assert not isinstance(info.value, SourceUnavailableError)
    assert str(info.value).startswith("no price data for XYZ (source yfinance)")
    assert info.value.__cause__ is err


def test_download_yahoo_no_timezone_while_offline_is_source_unavailable():
    # What yfinance 1.7 answers for every symbol after a first DNS error in the process.
    err = YFTzMissingError("KO")
    fake = FakeYF(_raiser(err))
    asked = []
    with pytest.raises(SourceUnavailableError) as info:
        download_yahoo("KO", None, None, yf_module=fake, reachable=lambda: asked.append(1))
    assert asked == [1]
    assert str(info.value) == (
        "KO: Yahoo unreachable (query2.finance.yahoo.com:443 does not answer; "
        "yfinance said: $KO: possibly delisted; no timezone found)"
    )
    # Missing prices come with an answer from Yahoo: no need to ask.
    fake = FakeYF(_raiser(YFPricesMissingError("KO", "(1d)")))
    with pytest.raises(NoPriceDataError):
        download_yahoo("KO", None, None, yf_module=fake, reachable=lambda: asked.append(2))
    assert asked == [1]


def test_yahoo_reachable_is_false_without_a_connection(monkeypatch):
    def refuse(address, timeout):
        assert address == ("query2.finance.yahoo.com", 443) and timeout == 3.0
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(yahoo.socket, "create_connection", refuse)
    assert yahoo.yahoo_reachable() is False


def test_download_yahoo_network_error_is_source_unavailable():
    fake = FakeYF(_raiser(ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")))
    with pytest.raises(SourceUnavailableError, match="XYZ: Yahoo unreachable"):
        download_yahoo("XYZ", None, None, yf_module=fake)


def test_download_yahoo_broken_impersonation_names_the_cause():
    class ImpersonateError(Exception):  # curl_cffi's, as raised once TensorFlow came first
        pass

    fake = FakeYF(_raiser(ImpersonateError("Impersonating chrome150 is not supported")))
    with pytest.raises(SourceUnavailableError) as err:
        download_yahoo("XYZ", None, None, yf_module=fake)
    assert "XYZ: Yahoo unreachable: curl_cffi cannot impersonate a browser" in str(err.value)
    assert "import pricecast before tensorflow" in str(err.value)


# --------------------------------------------------------------------------- normalize_yahoo


def _download_shape(raw_sample, tickers, start, end, *, auto_adjust, tz, group_by="column"):
    """Build what ``yf.download(tickers, ...)`` returns from real sample rows."""
    parts = {}
    for t in tickers:
        df = raw_sample(t).loc[start:end, ["Open", "High", "Low", "Close", "Adj Close", "Volume"]]
        if auto_adjust:
            ratio = df["Adj Close"] / df["Close"]
            for col in ("Open", "High", "Low"):
                df[col] = df[col] * ratio
            df["Close"] = df["Adj Close"]
            df = df.drop(columns="Adj Close")
        df.index = pd.DatetimeIndex(df.index)
        if tz:
            df.index = df.index.tz_localize("America/New_York")
        df.index.name = "Date"
        parts[t] = df
    data = pd.concat(parts.values(), axis=1, keys=parts.keys(), names=["Ticker", "Price"])
    if group_by == "column":
        data.columns = data.columns.swaplevel(0, 1)
        data = data.sort_index(level=0, axis=1)
    return data


@pytest.mark.parametrize("tz", [True, False], ids=["tz-aware", "tz-naive"])
def test_normalize_download_multiindex_picks_the_ticker(raw_sample, tz):
    data = _download_shape(
        raw_sample, ["FB", "KO"], "2019-12-02", "2019-12-31", auto_adjust=False, tz=tz
    )
    assert data.columns.names == ["Price", "Ticker"]
    frame = normalize_yahoo(data, "KO")
    _assert_normalised(frame)
    _assert_same_prices(frame, _expected(raw_sample("KO").loc["2019-12-02":"2019-12-31"]))


def test_normalize_download_auto_adjust_uses_adjusted_close(raw_sample):
    data = _download_shape(
        raw_sample, ["FB", "KO"], "2019-12-02", "2019-12-31", auto_adjust=True, tz=True
    )
    assert "Adj Close" not in set(data.columns.get_level_values("Price"))
    frame = normalize_yahoo(data, "KO")
    _assert_normalised(frame)
    real = raw_sample("KO").loc["2019-12-02":"2019-12-31"]
    np.testing.assert_allclose(frame["close"], real["Adj Close"])
    np.testing.assert_allclose(frame["adj_close"], real["Adj Close"])
    np.testing.assert_allclose(frame["volume"], real["Volume"])


def test_normalize_download_grouped_by_ticker(raw_sample):
    data = _download_shape(
        raw_sample,
        ["FB", "KO"],
        "2019-12-02",
        "2019-12-31",
        auto_adjust=False,
        tz=True,
        group_by="ticker",
    )
    assert data.columns.names == ["Ticker", "Price"]
    frame = normalize_yahoo(data, "FB")
    _assert_same_prices(frame, _expected(raw_sample("FB").loc["2019-12-02":"2019-12-31"]))


def test_normalize_history_auto_adjust_shape(yahoo_history, raw_sample):
    hist = yahoo_history("KO", "2019-12-02", "2019-12-31").drop(columns="Adj Close")
    frame = normalize_yahoo(hist, "KO")
    _assert_normalised(frame)
    real = raw_sample("KO").loc["2019-12-02":"2019-12-31"]
    np.testing.assert_allclose(frame["adj_close"], real["Close"])
    np.testing.assert_allclose(frame["close"], real["Close"])


def test_normalize_missing_column_names_ticker_and_column(yahoo_history):
    hist = yahoo_history("KO", "2019-12-02", "2019-12-31").drop(columns=["Low", "Volume"])
    with pytest.raises(PriceSourceError, match=r"KO: .*low, volume"):
        normalize_yahoo(hist, "KO")


# --------------------------------------------------------------------------- CSV & sample


def test_read_sample_matches_the_csv(raw_sample):
    frame = read_sample("FB")
    _assert_normalised(frame)
    _assert_same_prices(frame, _expected(raw_sample("FB")))
    assert frame.index[-1] == pd.Timestamp("2020-12-11")


def test_read_sample_aapl_keeps_the_null_row_as_nan():
    frame = read_sample("AAPL")
    row = frame.loc["1981-08-10"]
    assert row.isna().all()
    assert frame.drop(index=pd.Timestamp("1981-08-10")).notna().all().all()


def test_read_sample_unknown_ticker():
    with pytest.raises(NoPriceDataError, match=r"no price data for XYZ \(source sample"):
        read_sample("XYZ")


def _write_csv(raw_sample, path, ticker="FB", start="2020-01-02", end="2020-01-31"):
    raw_sample(ticker).loc[start:end].reset_index().to_csv(path, index=False)
    return path


def test_read_yahoo_csv_round_trip(raw_sample, tmp_path):
    path = _write_csv(raw_sample, tmp_path / "fb.csv")
    frame = read_yahoo_csv(path, "FB")
    _assert_same_prices(frame, _expected(raw_sample("FB").loc["2020-01-02":"2020-01-31"]))


def test_read_yahoo_csv_missing_column_names_file_and_column(raw_sample, tmp_path):
    path = tmp_path / "fb_no_low.csv"
    raw_sample("FB").loc["2020-01"].drop(columns="Low").reset_index().to_csv(path, index=False)
    with pytest.raises(PriceSourceError) as info:
        load_prices("FB", source="csv", csv_path=path, cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "fb_no_low.csv" in msg
    assert "Low" in msg
    assert msg.startswith("FB:")


def test_read_yahoo_csv_bad_date_names_file_column_and_line(raw_sample, tmp_path):
    path = tmp_path / "fb_us_dates.csv"
    raw = raw_sample("FB").loc["2020-01"].reset_index()
    raw["Date"] = raw["Date"].dt.strftime("%m/%d/%Y")
    raw.to_csv(path, index=False)
    with pytest.raises(PriceSourceError) as info:
        load_prices("FB", source="csv", csv_path=path, cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "fb_us_dates.csv" in msg
    assert "column Date" in msg
    assert "'01/02/2020'" in msg
    assert "line 2" in msg


def test_csv_source_missing_file_and_missing_path(tmp_path):
    with pytest.raises(SourceUnavailableError, match="FB: CSV file not found"):
        load_prices("FB", source="csv", csv_path=tmp_path / "nope.csv", cache_dir=tmp_path)
    with pytest.raises(SourceUnavailableError, match="needs csv_path"):
        load_prices("FB", source="csv", cache_dir=tmp_path)


def test_csv_source_clips_to_the_span(raw_sample, tmp_path):
    path = _write_csv(raw_sample, tmp_path / "fb.csv")
    got = load_prices(
        "FB",
        dt.date(2020, 1, 6),
        dt.date(2020, 1, 10),
        "csv",
        csv_path=path,
        cache_dir=tmp_path / "cache",
    )
    assert got.source == "csv"
    assert list(got.frame.index.strftime("%Y-%m-%d")) == [
        "2020-01-06",
        "2020-01-07",
        "2020-01-08",
        "2020-01-09",
        "2020-01-10",
    ]
    assert got.notes == []


# --------------------------------------------------------------------------- cache


def _sample_slice(start, end, ticker="FB"):
    return read_sample(ticker).loc[start:end]


def test_cache_round_trip_keeps_frame_and_span(tmp_path):
    frame = _sample_slice("2019-01-02", "2019-06-28")
    write_cache(tmp_path, "FB", frame, dt.date(2019, 1, 1), dt.date(2019, 6, 30))
    got = read_cache(tmp_path, "FB")
    assert got is not None
    cached, start, end = got
    assert (start, end) == (dt.date(2019, 1, 1), dt.date(2019, 6, 30))
    pd.testing.assert_frame_equal(cached, frame, check_freq=False)


def test_write_cache_leaves_no_temporary_files(tmp_path):
    for end in ("2019-03-29", "2019-06-28"):  # a second write replaces the first
        write_cache(
            tmp_path,
            "FB",
            _sample_slice("2019-01-02", end),
            dt.date(2019, 1, 1),
            dt.date.fromisoformat(end),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FB.parquet"]
    assert read_cache(tmp_path, "FB")[2] == dt.date(2019, 6, 28)


def test_failed_cache_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    old = _sample_slice("2019-01-02", "2019-03-29")
    write_cache(tmp_path, "FB", old, dt.date(2019, 1, 1), dt.date(2019, 3, 29))

    def half_written(table, where, **kwargs):
        where.write(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(price_files.pq, "write_table", half_written)
    with pytest.raises(OSError, match="disk full"):
        write_cache(
            tmp_path,
            "FB",
            _sample_slice("2019-01-02", "2019-06-28"),
            dt.date(2019, 1, 1),
            dt.date(2019, 6, 28),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FB.parquet"]
    cached, _, end = read_cache(tmp_path, "FB")
    assert end == dt.date(2019, 3, 29)
    pd.testing.assert_frame_equal(cached, old, check_freq=False)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_cache_is_absent_and_replaced_by_next_write(tmp_path, damage):
    path = write_cache(
        tmp_path,
        "FB",
        _sample_slice("2019-01-02", "2019-06-28"),
        dt.date(2019, 1, 1),
        dt.date(2019, 6, 28),
    )
    data = path.read_bytes()
    damaged = {"garbage": b"not a parquet file", "truncated": data[: len(data) // 2], "empty": b""}
    path.write_bytes(damaged[damage])

    with pytest.raises(CorruptCacheError) as info:
        read_cache(tmp_path, "FB")
    assert "FB" in str(info.value) and str(path) in str(info.value)
    # Forcing the cache reports the damaged file instead of serving anything.
    with pytest.raises(CorruptCacheError):
        load_prices("FB", source="cache", cache_dir=tmp_path)

    # auto: the corrupt file counts as absent (with a note); the download is served
    # and replaces the file.
    fresh = _sample_slice("2019-01-02", "2019-12-31")
    download = mock.Mock(return_value=fresh)
    got = load_prices(
        "FB",
        dt.date(2019, 1, 2),
        dt.date(2019, 12, 31),
        "auto",
        cache_dir=tmp_path,
        download=download,
    )
    download.assert_called_once_with("FB", dt.date(2019, 1, 2), dt.date(2019, 12, 31))
    assert got.source == "yfinance"
    assert any("cache file" in n and "ignoring it" in n for n in got.notes)
    cached, start, end = read_cache(tmp_path, "FB")
    assert (start, end) == (dt.date(2019, 1, 2), dt.date(2019, 12, 31))
    pd.testing.assert_frame_equal(cached, fresh, check_freq=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FB.parquet"]


def test_corrupt_cache_and_no_yahoo_falls_back_to_sample(tmp_path):
    cache_file(tmp_path, "FB").write_bytes(b"PAR1 truncated")
    got = load_prices(
        "FB", dt.date(2020, 1, 1), dt.date(2020, 1, 31), cache_dir=tmp_path, download=_unavailable
    )
    assert got.source == "sample"
    assert len(got.frame) == 21
    text = "\n".join(got.notes)
    assert "ignoring it" in text and "FB: using the bundled sample" in text


def test_cache_with_foreign_columns_is_corrupt(tmp_path):
    frame = _sample_slice("2019-01-02", "2019-01-31").rename(columns={"adj_close": "adj"})
    write_cache(tmp_path, "FB", frame, dt.date(2019, 1, 1), dt.date(2019, 1, 31))
    with pytest.raises(CorruptCacheError, match="FB: .*unexpected layout"):
        read_cache(tmp_path, "FB")


# --------------------------------------------------------------------------- load_prices


def _unavailable(*args):
    raise SourceUnavailableError("FB: Yahoo unreachable (YFRateLimitError: Too Many Requests)")


def test_auto_serves_a_covering_cache_without_downloading(tmp_path):
    write_cache(
        tmp_path,
        "FB",
        _sample_slice("2018-01-02", "2019-12-31"),
        dt.date(2018, 1, 1),
        dt.date(2019, 12, 31),
    )
    download = mock.Mock(side_effect=AssertionError("must not download"))
    got = load_prices(
        "FB", dt.date(2019, 1, 1), dt.date(2019, 6, 30), cache_dir=tmp_path, download=download
    )
    download.assert_not_called()
    assert got.source == "cache"
    assert got.frame.index[0] == pd.Timestamp("2019-01-02")
    assert got.frame.index[-1] == pd.Timestamp("2019-06-28")
    assert got.notes == []


def test_auto_open_ended_request_uses_today_for_coverage(tmp_path):
    write_cache(
        tmp_path,
        "FB",
        _sample_slice("2018-01-02", "2020-12-11"),
        dt.date(2018, 1, 1),
        dt.date(2020, 12, 11),
    )
    download = mock.Mock(side_effect=AssertionError("must not download"))
    got = load_prices(
        "FB",
        dt.date(2020, 1, 1),
        None,
        cache_dir=tmp_path,
        download=download,
        today=dt.date(2020, 12, 11),
    )
    download.assert_not_called()
    assert got.source == "cache"

    # A day later the cache no longer covers "up to today": Yahoo is asked.
    fresh = _sample_slice("2020-01-02", "2020-12-11")
    download = mock.Mock(return_value=fresh)
    got = load_prices(
        "FB",
        dt.date(2020, 1, 1),
        None,
        cache_dir=tmp_path,
        download=download,
        today=dt.date(2020, 12, 12),
    )
    download.assert_called_once_with("FB", dt.date(2020, 1, 1), None)
    assert got.source == "yfinance"
    assert read_cache(tmp_path, "FB")[1:] == (dt.date(2020, 1, 1), dt.date(2020, 12, 12))


def test_auto_falls_back_to_the_cache_with_a_note(tmp_path):
    write_cache(
        tmp_path,
        "FB",
        _sample_slice("2019-01-02", "2019-06-28"),
        dt.date(2019, 1, 1),
        dt.date(2019, 6, 28),
    )
    download = mock.Mock(side_effect=_unavailable)
    got = load_prices(
        "FB", dt.date(2019, 1, 1), dt.date(2019, 12, 31), cache_dir=tmp_path, download=download
    )
    download.assert_called_once()
    assert got.source == "cache"
    assert got.frame.index[-1] == pd.Timestamp("2019-06-28")
    text = "\n".join(got.notes)
    assert "Yahoo unreachable" in text and "falling back" in text
    assert "FB: using the cache (2019-01-01..2019-06-28)" in text
    assert "FB: cache has no rows for 2019-06-29..2019-12-31" in text


def test_auto_falls_back_to_the_sample_with_a_note(tmp_path):
    download = mock.Mock(side_effect=_unavailable)
    got = load_prices(
        "FB", dt.date(2020, 1, 1), dt.date(2020, 1, 31), cache_dir=tmp_path, download=download
    )
    download.assert_called_once()
    assert got.source == "sample"
    assert len(got.frame) == 21
    text = "\n".join(got.notes)
    assert "falling back" in text
    assert "FB: using the bundled sample" in text
    assert not any(tmp_path.iterdir())  # nothing cached from a fallback


def test_auto_download_is_cached_and_then_served_offline(tmp_path):
    fresh = _sample_slice("2019-01-02", "2019-12-31")
    got = load_prices(
        "FB",
        dt.date(2019, 1, 1),
        dt.date(2019, 12, 31),
        cache_dir=tmp_path,
        download=mock.Mock(return_value=fresh),
    )
    assert got.source == "yfinance"
    assert cache_file(tmp_path, "FB").is_file()
    offline = mock.Mock(side_effect=_unavailable)
    again = load_prices(
        "FB", dt.date(2019, 1, 1), dt.date(2019, 12, 31), cache_dir=tmp_path, download=offline
    )
    offline.assert_not_called()
    assert again.source == "cache"
    pd.testing.assert_frame_equal(again.frame, got.frame, check_freq=False)


def test_forced_yfinance_reraises_even_with_a_cache(tmp_path):
    write_cache(
        tmp_path,
        "FB",
        _sample_slice("2019-01-02", "2019-12-31"),
        dt.date(2019, 1, 1),
        dt.date(2019, 12, 31),
    )
    download = mock.Mock(side_effect=_unavailable)
    with pytest.raises(SourceUnavailableError, match="Yahoo unreachable"):
        load_prices(
            "FB",
            dt.date(2019, 1, 1),
            dt.date(2019, 12, 31),
            "yfinance",
            cache_dir=tmp_path,
            download=download,
        )
    download.assert_called_once()


def test_auto_does_not_hide_an_unknown_ticker(tmp_path):
    def missing(ticker, start, end):
        raise NoPriceDataError(f"no price data for {ticker} (source yfinance): empty response")

    with pytest.raises(NoPriceDataError, match=r"no price data for ZZZZ \(source yfinance\)"):
        load_prices("ZZZZ", dt.date(2020, 1, 1), None, cache_dir=tmp_path, download=missing)


def test_auto_with_real_download_yahoo_and_stand_in(tmp_path, yahoo_history, monkeypatch):
    fake = FakeYF(_yahoo_like(yahoo_history("FB")))

    def download(ticker, start, end):
        return download_yahoo(ticker, start, end, yf_module=fake)

    got = load_prices(
        "FB", dt.date(2020, 1, 1), dt.date(2020, 1, 31), cache_dir=tmp_path, download=download
    )
    assert got.source == "yfinance"
    assert len(got.frame) == 21
    assert read_cache(tmp_path, "FB")[1:] == (dt.date(2020, 1, 1), dt.date(2020, 1, 31))


def test_cache_source_without_file_names_ticker_and_folder(tmp_path):
    with pytest.raises(SourceUnavailableError) as info:
        load_prices("FB", source="cache", cache_dir=tmp_path)
    assert "FB" in str(info.value) and str(tmp_path) in str(info.value)


def test_sample_source_span_notes_and_empty_span(tmp_path):
    got = load_prices(
        "FB", dt.date(2020, 11, 1), dt.date(2021, 1, 31), "sample", cache_dir=tmp_path
    )
    assert got.frame.index[-1] == pd.Timestamp("2020-12-11")
    assert got.notes == ["FB: sample has no rows for 2020-12-12..2021-01-31"]
    with pytest.raises(NoPriceDataError, match=r"no price data for FB \(source sample\)"):
        load_prices("FB", dt.date(2021, 1, 1), dt.date(2021, 1, 31), "sample", cache_dir=tmp_path)


def test_unknown_source_is_rejected(tmp_path):
    with pytest.raises(SourceUnavailableError, match="unknown source 'ftp'"):
        load_prices("FB", source="ftp", cache_dir=tmp_path, download=_unavailable)

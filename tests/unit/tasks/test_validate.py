"""validate_prices: each rejection names ticker, date and column; each fix leaves a note."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.schema import PRICE_COLUMNS
from pricecast.stores.price_files import read_sample
from pricecast.tasks.validate import PriceDataError, validate_prices


@pytest.fixture
def fb_jan() -> pd.DataFrame:
    """Real FB rows of 2020-01-02..2020-01-10 (7 trading days)."""
    return read_sample("FB").loc["2020-01-02":"2020-01-10"].copy()


def test_clean_frame_passes_unchanged(fb_jan):
    checked = validate_prices(fb_jan, "FB")
    assert checked.notes == []
    pd.testing.assert_frame_equal(checked.frame, fb_jan.astype("float64"))
    assert (checked.frame.dtypes == "float64").all()


def test_non_numeric_cell_names_ticker_date_column(fb_jan):
    bad = fb_jan.astype({"close": object})
    bad.loc[pd.Timestamp("2020-01-06"), "close"] = "n/a"
    with pytest.raises(PriceDataError) as info:
        validate_prices(bad, "FB")
    msg = str(info.value)
    assert msg.startswith("FB: non-numeric value")
    assert "2020-01-06" in msg
    assert "column close" in msg
    assert "'n/a'" in msg


def test_conflicting_duplicate_dates_name_ticker_date_column(fb_jan):
    again = fb_jan.loc[["2020-01-07"]].copy()
    again["high"] += 1.0
    bad = pd.concat([fb_jan, again]).sort_index(kind="stable")
    with pytest.raises(PriceDataError) as info:
        validate_prices(bad, "FB")
    msg = str(info.value)
    assert msg == "FB: duplicate date 2020-01-07 with different values in column(s) high"


def test_partially_null_row_names_ticker_date_column(fb_jan):
    bad = fb_jan.copy()
    bad.loc[pd.Timestamp("2020-01-08"), "low"] = np.nan
    with pytest.raises(PriceDataError) as info:
        validate_prices(bad, "FB")
    msg = str(info.value)
    assert msg.startswith("FB: missing price")
    assert "2020-01-08 column low" in msg


@pytest.mark.parametrize("value", [0.0, -3.5])
@pytest.mark.parametrize("column", ["open", "adj_close"])
def test_non_positive_price_names_ticker_date_column(fb_jan, column, value):
    bad = fb_jan.copy()
    bad.loc[pd.Timestamp("2020-01-09"), column] = value
    with pytest.raises(PriceDataError) as info:
        validate_prices(bad, "FB")
    msg = str(info.value)
    assert msg.startswith("FB: price must be positive")
    assert f"2020-01-09 column {column} ({value!r})" in msg


def test_negative_volume_names_ticker_date_column(fb_jan):
    bad = fb_jan.copy()
    bad.loc[pd.Timestamp("2020-01-03"), "volume"] = -1.0
    with pytest.raises(PriceDataError, match=r"FB: negative volume on 2020-01-03 column volume"):
        validate_prices(bad, "FB")


def test_empty_frame_names_ticker(fb_jan):
    with pytest.raises(PriceDataError, match=r"^FB: no price rows$"):
        validate_prices(fb_jan.iloc[:0], "FB")
    with pytest.raises(PriceDataError, match=r"^FB: no price rows$"):
        validate_prices(None, "FB")


def test_missing_column_names_ticker_and_column(fb_jan):
    with pytest.raises(PriceDataError, match=r"^FB: missing column\(s\) adj_close$"):
        validate_prices(fb_jan.drop(columns="adj_close"), "FB")


def test_all_rows_empty_is_rejected(fb_jan):
    empty = fb_jan.astype("float64")
    empty.loc[:, :] = np.nan
    with pytest.raises(PriceDataError, match="FB: no price rows left after cleaning"):
        validate_prices(empty, "FB")


# --------------------------------------------------------------------------- fixes


def test_unsorted_dates_are_sorted_with_a_note(fb_jan):
    shuffled = fb_jan.iloc[[3, 0, 6, 1, 5, 2, 4]]
    checked = validate_prices(shuffled, "FB")
    pd.testing.assert_frame_equal(checked.frame, fb_jan.astype("float64"))
    assert checked.notes == ["FB: dates were not in order; sorted"]


def test_identical_duplicate_rows_are_dropped_with_a_note(fb_jan):
    doubled = pd.concat([fb_jan, fb_jan.iloc[[2, 4]]])
    checked = validate_prices(doubled, "FB")
    pd.testing.assert_frame_equal(checked.frame, fb_jan.astype("float64"))
    assert "FB: dates were not in order; sorted" in checked.notes
    assert "FB: dropped 2 repeated row(s) with duplicate dates" in checked.notes


def test_missing_volume_becomes_zero_with_a_note(fb_jan):
    gap = fb_jan.copy()
    gap.loc[pd.Timestamp("2020-01-06"), "volume"] = np.nan
    checked = validate_prices(gap, "FB")
    assert checked.frame.loc["2020-01-06", "volume"] == 0.0
    assert checked.notes == ["FB: 1 missing volume(s) set to 0"]


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    return read_sample("AAPL")


def test_aapl_real_null_row_is_dropped_with_a_note(aapl):
    null_day = pd.Timestamp("1981-08-10")
    assert aapl.loc[null_day].isna().all()  # the real export's all-"null" row
    checked = validate_prices(aapl, "AAPL", null_rows="drop")
    assert null_day not in checked.frame.index
    assert len(checked.frame) == len(aapl) - 1
    assert checked.notes == ["AAPL: dropped 1 empty row(s) (1981-08-10)"]
    assert checked.frame.notna().all().all()
    pd.testing.assert_frame_equal(checked.frame, aapl.drop(index=null_day).astype("float64"))


def test_aapl_real_null_row_is_forward_filled_with_a_note(aapl):
    null_day = pd.Timestamp("1981-08-10")
    checked = validate_prices(aapl, "AAPL", null_rows="ffill")
    frame = checked.frame
    assert len(frame) == len(aapl)
    assert checked.notes == ["AAPL: filled 1 empty row(s) (1981-08-10)"]
    prices = ["open", "high", "low", "close", "adj_close"]
    before = aapl.loc["1981-08-07", prices].to_numpy(dtype="float64")
    np.testing.assert_array_equal(frame.loc[null_day, prices].to_numpy(), before)
    assert frame.loc[null_day, "volume"] == 0.0
    assert frame.notna().all().all()
    # Only that row changed.
    others = frame.index != null_day
    pd.testing.assert_frame_equal(frame[others], aapl[others].astype("float64"))


def test_ffill_cannot_fill_a_leading_empty_row(fb_jan):
    lead = fb_jan.copy()
    lead.iloc[0] = np.nan
    with pytest.raises(PriceDataError, match="FB: first row 2020-01-02 has no prices"):
        validate_prices(lead, "FB", null_rows="ffill")
    checked = validate_prices(lead, "FB", null_rows="drop")
    assert checked.frame.index[0] == pd.Timestamp("2020-01-03")


def test_result_has_normalised_columns(fb_jan):
    extra = fb_jan.assign(note="x")[["note", *reversed(PRICE_COLUMNS)]]
    checked = validate_prices(extra, "FB")
    assert list(checked.frame.columns) == list(PRICE_COLUMNS)

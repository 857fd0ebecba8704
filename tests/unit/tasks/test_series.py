"""Generic series: validation by kind, transforms, frequency, seasonal naive, config rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.loader import ConfigError, parse_config, require_prices
from pricecast.configs.schema import BacktestConfig, FeaturesConfig
from pricecast.configs.series import SeriesConfig
from pricecast.stores.series_files import load_series, read_series_csv
from pricecast.tasks.backtest import walk_forward
from pricecast.tasks.baselines import seasonal_naive
from pricecast.tasks.features import input_frame, prices_from_targets, target_matrix
from pricecast.tasks.plots import backtest_figure, forecast_figure
from pricecast.tasks.series import (
    axis_label,
    check_transform,
    next_dates,
    series_frequency,
    validate_by_kind,
    validate_series,
)
from pricecast.tasks.validate import PriceDataError


def _frame(values, dates=None, column="temp") -> pd.DataFrame:
    dates = (
        dates if dates is not None else pd.date_range("2020-01-31", periods=len(values), freq="ME")
    )
    return pd.DataFrame({column: list(values)}, index=pd.DatetimeIndex(dates, name="date"))


def _config(**data) -> dict:
    return {
        "data": {
            "kind": "series",
            "tickers": ["TEMP"],
            "source": "csv",
            "csv_path": "temp.csv",
            "series": {"columns": {"TEMP": "anomaly"}, "unit": "°C"},
            **data,
        },
        "variants": [{"name": "gru", "cell": "gru"}],
    }


# --------------------------------------------------------------------------- seasonal naive


def test_seasonal_naive_equals_a_hand_computation():
    p = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 100.0])
    # Season 3, origins at rows 3 and 5, four steps ahead: each step repeats the value one
    # season before its target row (two seasons before for the fourth step).
    got = seasonal_naive(p, np.array([3, 5]), horizon=4, season=3)
    hand = np.array(
        [
            [p[4 - 3], p[5 - 3], p[6 - 3], p[7 - 6]],  # targets rows 4..7
            [p[6 - 3], p[7 - 3], p[8 - 3], p[9 - 6]],  # targets rows 6..9
        ]
    )
    np.testing.assert_array_equal(got, hand)
    assert got.tolist() == [[2.0, 3.0, 10.0, 2.0], [10.0, 20.0, 30.0, 10.0]]


def test_seasonal_naive_refuses_an_origin_with_less_than_a_season_behind_it():
    with pytest.raises(ValueError, match="whole season"):
        seasonal_naive(np.arange(10.0), np.array([1]), horizon=1, season=4)


def test_the_backtest_adds_seasonal_naive_when_a_season_length_is_given():
    values = np.sin(2 * np.pi * np.arange(60) / 12) * 5 - 1
    frame = _frame(values, column="value")
    features = FeaturesConfig(window=3, horizon=2, target_transform="level")
    bt = BacktestConfig(n_origins=6)
    rows = walk_forward(frame, [], features=features, backtest=bt, target="value", season_length=12)
    sn = rows[rows["model"] == "seasonal_naive"]
    assert len(sn) == 6 * 2 - 1  # the last origin's second step runs past the end
    for r in sn.itertuples():
        target = frame.index.get_loc(r.date)
        assert r.predicted == pytest.approx(values[target - 12])
    plain = walk_forward(frame, [], features=features, backtest=bt, target="value")
    assert "seasonal_naive" not in set(plain["model"])


# --------------------------------------------------------------------------- validation


def test_a_series_may_be_zero_or_negative():
    checked = validate_series(_frame([-3.5, 0.0, 2.0, -1.0]), "TEMP")
    assert checked.frame.columns.tolist() == ["value"]
    assert checked.frame["value"].tolist() == [-3.5, 0.0, 2.0, -1.0]


def test_non_numeric_cell_names_series_date_and_column():
    with pytest.raises(PriceDataError) as err:
        validate_series(_frame(["1.0", "-2", "n/a", "4"], column="anomaly"), "TEMP")
    assert str(err.value) == "TEMP: non-numeric value on 2020-03-31 column anomaly ('n/a')"


def test_duplicate_dates_unsorted_dates_and_nulls_as_for_prices():
    d = pd.to_datetime(["2020-03-31", "2020-01-31", "2020-02-29", "2020-02-29", "2020-04-30"])
    checked = validate_series(_frame([3.0, 1.0, None, None, -4.0], d), "TEMP", "ffill")
    assert checked.frame["value"].tolist() == [1.0, 1.0, 3.0, -4.0]
    assert any("sorted" in n for n in checked.notes)
    assert any("repeated" in n for n in checked.notes)
    assert any("filled 1 empty" in n for n in checked.notes)
    clash = _frame([1.0, 2.0], pd.to_datetime(["2020-01-31", "2020-01-31"]), "anomaly")
    with pytest.raises(PriceDataError, match="TEMP: duplicate date 2020-01-31 .* column anomaly"):
        validate_series(clash, "TEMP")


def test_log_return_on_a_series_with_negative_values_names_the_field():
    values = validate_series(_frame([2.0, 1.0, -0.5, 3.0]), "TEMP").frame["value"]
    with pytest.raises(PriceDataError) as err:
        check_transform(values, "TEMP", "log_return", [])
    msg = str(err.value)
    assert "features.target_transform 'log_return' needs positive values" in msg
    assert "-0.5 on 2020-03-31" in msg and "'level' or 'diff'" in msg
    with pytest.raises(PriceDataError, match="features.inputs 'log_return'"):
        check_transform(values, "TEMP", "diff", ["log_return"])
    check_transform(values, "TEMP", "level", [])
    check_transform(values, "TEMP", "diff", ["diff"])


# --------------------------------------------------------------------------- transforms


def test_diff_targets_are_step_changes_rebuilt_by_cumulative_sum():
    p = np.array([-1.0, 2.0, 0.5, -3.0, 4.0])
    y = target_matrix(p, 2, "diff")
    np.testing.assert_allclose(y[:3], [[3.0, -1.5], [-1.5, -3.5], [-3.5, 7.0]])
    assert np.isnan(y[3:]).all()
    rebuilt = prices_from_targets(y[:3], p[:3], "diff")
    np.testing.assert_allclose(rebuilt, [[2.0, 0.5], [0.5, -3.0], [-3.0, 4.0]])
    inputs = input_frame(_frame(p, column="value"), ["diff"], "value")
    assert inputs["diff"].tolist() == [3.0, -1.5, -3.5, 7.0]


# --------------------------------------------------------------------------- frequency


def test_monthly_dates_infer_month_ends_and_forecast_dates_follow():
    dates = pd.date_range("2019-01-31", periods=24, freq="ME")
    assert series_frequency(dates, "TEMP") == "ME"
    got = next_dates(dates[-1], 3, "ME")
    assert [f"{d:%Y-%m-%d}" for d in got] == ["2021-01-31", "2021-02-28", "2021-03-31"]
    weekly = pd.date_range("2020-01-04", periods=10, freq="W-SAT")
    assert series_frequency(weekly, "CO2") == "W-SAT"


def test_irregular_dates_name_the_gap_and_the_field():
    dates = pd.DatetimeIndex(pd.date_range("2019-01-31", periods=12, freq="ME").delete(5))
    with pytest.raises(PriceDataError) as err:
        series_frequency(dates, "TEMP")
    assert "2019-05-31 → 2019-07-31" in str(err.value)
    assert "data.series.frequency" in str(err.value)
    with pytest.raises(PriceDataError, match="date 2019-07-31 is off the ME grid"):
        series_frequency(dates, "TEMP", "ME")


# --------------------------------------------------------------------------- config and CSV


def test_a_series_config_defaults_to_the_value_and_level(tmp_path):
    config = parse_config(_config())
    assert (config.data.target, config.features.target_transform) == ("value", "level")
    chosen = parse_config({**_config(), "features": {"target_transform": "diff"}})
    assert chosen.features.target_transform == "diff"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "auto"}, "source must be 'csv' or 'sample'"),
        ({"series": None}, "needs a data.series section"),
        ({"target": "close"}, "target must be 'value'"),
        ({"series": {"frequency": "fortnightly"}}, "not a pandas frequency"),
        ({"series": {"columns": {"OTHER": "x"}}}, "not in tickers: OTHER"),
    ],
)
def test_series_config_errors_name_the_field(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_config(**change))


def test_price_inputs_on_a_series_and_the_nightly_loop_are_refused():
    with pytest.raises(ConfigError, match="features.inputs"):
        parse_config({**_config(), "features": {"inputs": ["value", "log_volume"]}})
    with pytest.raises(ConfigError, match="data.kind: the nightly loop runs on prices only"):
        require_prices(parse_config(_config()), "the nightly loop")


def test_a_date_value_csv_with_its_own_date_format_and_column(tmp_path):
    path = tmp_path / "temp.csv"
    path.write_text(
        "day,anomaly,other\n20200131,-0.5,x\n20200229,0.25,y\n20200331,,z\n20200430,0,w\n"
    )
    spec = SeriesConfig(date_column="day", date_format="%Y%m%d", columns={"TEMP": "anomaly"})
    frame = read_series_csv(path, "TEMP", spec)
    assert frame.columns.tolist() == ["anomaly"]
    cfg = parse_config(_config(null_rows="ffill"))
    checked, freq, label = validate_by_kind(frame, "TEMP", cfg.data, cfg.features)
    assert checked.frame["value"].tolist() == [-0.5, 0.25, 0.25, 0.0]
    assert (freq, label) == ("ME", "TEMP (°C)")
    with pytest.raises(ValueError, match=r"'2020-01-31' on line 2 is not a date of format %Y%m%d"):
        path.write_text("day,anomaly\n2020-01-31,1\n")
        read_series_csv(path, "TEMP", spec)
    with pytest.raises(ValueError, match="has no column named 'RAIN'; map the series"):
        path.write_text("day,anomaly\n20200131,1\n")
        read_series_csv(path, "RAIN", spec)


def test_the_bundled_series_load():
    co2 = load_series(
        "CO2", SeriesConfig(sample="co2_weekly.csv", date_format="%Y%m%d"), "sample", None
    )
    assert len(co2.frame) == 2284 and co2.frame.columns.tolist() == ["co2"]
    syn = load_series(
        "SEASONAL", SeriesConfig(sample="seasonal_synthetic.csv", columns={"SEASONAL": "value"}),
        "sample", None,
    )  # fmt: skip
    values = pd.to_numeric(syn.frame["value"])
    assert (values < 0).mean() > 0.3 and series_frequency(syn.frame.index, "S") == "ME"
    steps = load_series(
        "STEPS", SeriesConfig(sample="steps_synthetic.csv", date_column="step",
                              frequency="steps", columns={"STEPS": "value"}),
        "sample", None,
    )  # fmt: skip
    assert series_frequency(steps.frame.index, "STEPS", "steps") == "steps:10"
    assert steps.frame["value"].tolist() == syn.frame["value"].tolist()  # same values


def test_plots_label_the_axis_with_the_series_name_and_unit():
    idx = pd.date_range("2020-01-31", periods=4, freq="ME")
    actual = pd.Series([-1.0, 2.0, 0.5, -3.0], index=idx)
    fig = forecast_figure("t", actual.iloc[:0], actual, {"persistence": actual}, {}, "WAVE (mm)")
    assert fig.axes[0].get_ylabel() == "WAVE (mm)"
    rows = pd.DataFrame(
        {"date": idx, "h": 1, "actual": actual.to_numpy(), "predicted": 0.0, "model": "gru"}
    )
    assert backtest_figure("t", rows, {"gru": 1.0}, ylabel="WAVE (mm)").axes[0].get_ylabel() == (
        "WAVE (mm)"
    )
    cfg = parse_config(_config())
    assert axis_label(cfg.data, "TEMP") == "TEMP (°C)"


def test_a_csv_saved_with_a_byte_order_mark_keeps_its_date_column(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("date,level\n2020-01-01,-1\n2020-01-02,0\n", encoding="utf-8-sig")
    frame = read_series_csv(path, "LEVEL", SeriesConfig())
    assert frame["level"].tolist() == ["-1", "0"]


# --------------------------------------------------------------------------- integer steps


def _steps_csv(path, body: str):
    path.write_text("step,level\n" + body)
    return read_series_csv(path, "LEVEL", SeriesConfig(date_column="step", frequency="steps"))


def test_integer_steps_are_read_validated_and_forecast_at_the_next_steps(tmp_path):
    frame = _steps_csv(tmp_path / "s.csv", "10,-1.5\n0,0.5\n5,2\n15,\n20,-3\n")
    assert frame.index.tolist() == [10, 0, 5, 15, 20]
    series = {"date_column": "step", "frequency": "steps", "columns": {}}
    cfg = parse_config(_config(series=series, tickers=["LEVEL"], null_rows="ffill"))
    checked, freq, label = validate_by_kind(frame, "LEVEL", cfg.data, cfg.features)
    assert checked.frame.index.tolist() == [0, 5, 10, 15, 20]
    assert checked.frame["value"].tolist() == [0.5, 2.0, -1.5, -1.5, -3.0]
    assert checked.notes == [
        "LEVEL: steps were not in order; sorted",
        "LEVEL: filled 1 empty value(s) (step 15)",
    ]
    assert (freq, label) == ("steps:5", "LEVEL")
    assert next_dates(20, 3, freq).tolist() == [25, 30, 35]
    assert series_frequency(pd.Index(range(4)), "LEVEL", "steps") == "steps:1"
    with pytest.raises(PriceDataError, match=r"step 10 → 20 breaks the interval 5 .*expected 15"):
        series_frequency(pd.Index([0, 5, 10, 20]), "LEVEL", "steps")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0,1\n1,x\n", "non-numeric value on step 1 column level \\('x'\\)"),
        ("0,1\n1,2\n1,3\n", "duplicate step 1 with different values in column level"),
        ("0,1\n2.5,2\n", "'2.5' on line 3 is not an integer step \\(data.series.frequency"),
        ("0,1\nten,2\n", "'ten' on line 3 is not an integer step"),
    ],
)
def test_bad_integer_steps_name_the_series_the_step_and_the_column(tmp_path, body, message):
    with pytest.raises((PriceDataError, ValueError), match=message):
        validate_series(_steps_csv(tmp_path / "s.csv", body), "LEVEL")


def test_an_integer_step_column_read_as_dates_points_to_frequency_steps(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("step,level\n0,1\n1,2\n")
    with pytest.raises(ValueError, match="for integer steps set data.series.frequency: steps"):
        read_series_csv(path, "LEVEL", SeriesConfig(date_column="step"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data": {"start": "2020-01-01"}}, "data.start and data.end are dates"),
        ({"split": {"test_start": "2020-01-01"}}, "split.test_start is a date"),
        ({"series": {"date_format": "%Y"}}, "data.series.date_format is for dates"),
    ],
)
def test_date_settings_on_integer_steps_are_refused_naming_the_field(change, message):
    config = _config(series={"frequency": "steps", **change.get("series", {})})
    config["data"].update(change.get("data", {}))
    config.update({k: v for k, v in change.items() if k == "split"})
    with pytest.raises(ConfigError, match=message):
        parse_config(config)


def test_plots_of_integer_steps_have_a_step_axis():
    actual = pd.Series([-1.0, 2.0, 0.5], index=pd.Index([10, 15, 20]))
    fig = forecast_figure("t", actual.iloc[:0], actual, {"persistence": actual}, {}, "LEVEL")
    assert fig.axes[0].get_xlabel() == "step"
    dated = actual.set_axis(pd.date_range("2020-01-31", periods=3, freq="ME"))
    assert forecast_figure("t", dated.iloc[:0], dated, {}, {}).axes[0].get_xlabel() == ""

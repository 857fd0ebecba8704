"""Config files load; every bad value is a ConfigError naming its field path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from pricecast.configs.loader import ConfigError, bundled_configs, load_config, parse_config
from pricecast.configs.schema import RunConfig

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def test_bundled_configs_are_listed():
    assert {"default", "seed_fb"} <= set(bundled_configs())


def test_default_yaml_loads():
    cfg = load_config(CONFIGS / "default.yaml")
    assert isinstance(cfg, RunConfig)
    assert cfg.data.tickers == ["AAPL", "MSFT", "KO"]
    assert cfg.data.start == dt.date(2015, 1, 1)
    assert cfg.features.window == 40 and cfg.features.horizon == 1
    assert [v.cell for v in cfg.variants] == ["rnn", "lstm", "gru"]
    assert cfg.split.test_start is None and cfg.split.test_fraction == 0.1


def test_seed_fb_yaml_loads():
    cfg = load_config(CONFIGS / "seed_fb.yaml")
    assert cfg.data.tickers == ["FB"]
    assert cfg.data.source == "sample"
    assert cfg.data.target == "close"
    assert cfg.split.train_end == dt.date(2019, 12, 31)
    assert cfg.split.test_start == dt.date(2020, 1, 1)
    assert cfg.training.seed == 42


def test_bundled_name_lookup_matches_the_file(tmp_path, monkeypatch):
    by_file = load_config(CONFIGS / "seed_fb.yaml")
    assert load_config("seed_fb") == by_file
    # A path (separator or .yaml suffix) that does not exist is never a bundled config.
    monkeypatch.chdir(tmp_path)
    for ref in ("seed_fb.yaml", "configs/seed_fb.yaml", str(tmp_path / "seed_fb.yaml")):
        with pytest.raises(ConfigError, match=r"^config file not found: "):
            load_config(ref)


def test_unknown_config_name_lists_the_bundled_ones():
    with pytest.raises(
        ConfigError, match=r"config file not found: weekly .*default, nightly, seasonal, seed_fb"
    ):
        load_config("weekly")


def test_a_local_file_wins_over_the_bundled_name(tmp_path, monkeypatch):
    data = yaml.safe_load((CONFIGS / "seed_fb.yaml").read_text())
    data["experiment"] = "local-copy"
    (tmp_path / "seed_fb.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    assert load_config("seed_fb.yaml").experiment == "local-copy"


def test_overrides_replace_dotted_keys():
    cfg = load_config("seed_fb", {"features.window": 10, "data.tickers": ["ko"]})
    assert cfg.features.window == 10
    assert cfg.data.tickers == ["KO"]


def _error(overrides: dict, ref: str = "seed_fb") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(ref, overrides)
    return str(info.value)


def test_unknown_key_names_its_path():
    assert _error({"features.windw": 3}) == "seed_fb.yaml (bundled): features.windw: unknown key"


def test_unknown_top_level_key_in_a_file(tmp_path):
    data = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    data["tracking"] = {"uri": "sqlite://"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"bad\.yaml: tracking: unknown key"):
        load_config(path)


def test_wrong_type_names_its_path():
    msg = _error({"features.window": "forty"})
    assert msg.startswith("seed_fb.yaml (bundled): features.window: ")
    assert "valid integer" in msg


@pytest.mark.parametrize("window", [0, -5])
def test_window_must_be_positive(window):
    msg = _error({"features.window": window})
    assert "features.window: Input should be greater than or equal to 1" in msg


def test_horizon_longer_than_test_span_names_the_field():
    msg = _error({"features.horizon": 30})
    assert "features.horizon (30) is longer than the test span 2020-01-01..2020-01-31" in msg
    # 21 XNYS sessions in January 2020 (New Year's Day and Martin Luther King Day are
    # holidays): horizon 21 still fits, 22 does not.
    assert load_config("seed_fb", {"features.horizon": 21}).features.horizon == 21
    assert "(21 XNYS sessions)" in _error({"features.horizon": 22})


def test_empty_tickers_names_the_field():
    assert "data.tickers: List should have at least 1 item" in _error({"data.tickers": []})


def test_bad_ticker_symbol_names_the_field():
    assert "data.tickers: Value error, not a ticker symbol: 'FB$'" in _error(
        {"data.tickers": ["FB$"]}
    )


def test_test_start_before_data_start_names_both_fields():
    msg = _error({"split.test_start": "2014-06-01"}, ref="default")
    assert "split.test_start (2014-06-01) must be after data.start (2015-01-01)" in msg


def test_test_start_after_data_end_names_both_fields():
    msg = _error({"split.test_start": "2021-01-04"}, ref="default")
    assert "split.test_start (2021-01-04) is after data.end (2020-12-11)" in msg


def test_duplicate_variant_names():
    variants = [{"name": "small", "cell": "rnn"}, {"name": "small", "cell": "gru"}]
    msg = _error({"variants": variants})
    assert "variants: Value error, variant names must be unique; repeated: small" in msg


def test_unknown_cell_names_the_variant_field():
    msg = _error({"variants": [{"name": "tx", "cell": "transformer"}]})
    assert "variants.0.cell: " in msg and "'transformer'" in msg


def test_several_errors_one_line_each():
    msg = _error({"features.window": 0, "training.epochs": 0})
    lines = msg.splitlines()
    assert len(lines) == 2
    assert any("features.window" in line for line in lines)
    assert any("training.epochs" in line for line in lines)


def test_not_a_mapping_and_not_yaml(tmp_path):
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level, got list"):
        load_config(listing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_config(broken)


def test_parse_config_minimal_mapping_gets_defaults():
    cfg = parse_config({"data": {"tickers": ["msft"]}, "variants": [{"name": "g", "cell": "gru"}]})
    assert cfg.data.tickers == ["MSFT"]
    assert cfg.features.window == 40
    assert cfg.training.seed == 42


def test_interval_method_is_refused_where_it_cannot_run():
    assert load_config("seed_fb").intervals.method == "conformal"
    for method in ("quantile", "cqr"):
        assert load_config("seed_fb", {"intervals.method": method}).intervals.method == method
    assert "intervals.method: " in _error({"intervals.method": "bootstrap"})
    no_backtest = _error({"intervals.method": "quantile", "backtest": None})
    assert "intervals.method 'quantile' bands the walk-forward backtest" in no_backtest
    diff = _error({"intervals.method": "cqr", "features.target_transform": "diff"})
    assert "intervals.method 'cqr' needs features.target_transform" in diff
    guard = _error({"intervals.method": "quantile", "champion.metric": "interval_score"})
    assert "champion.metric 'interval_score'" in guard
    assert load_config("seed_fb", {"intervals.method": "conformal", "backtest": None})


def test_global_scope_loads_for_several_tickers():
    cfg = load_config("default", {"training.scope": "global", "champion.register_winner": False})
    assert cfg.training.scope == "global"
    assert load_config("default").training.scope == "per_ticker"


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"data.tickers": ["KO"]}, "data.tickers holds one ticker"),
        ({"training.dispatch": "deployment"}, "training.dispatch 'deployment'"),
        ({"backtest.refit_every": 20}, "backtest.refit_every must be 0"),
        ({"intervals.method": "quantile"}, "intervals.method 'quantile'"),
        ({"champion.register_winner": True}, "champion.register_winner"),
    ],
)
def test_global_scope_refuses_what_it_cannot_run(overrides, names):
    base = {"training.scope": "global", "champion.register_winner": False}
    msg = _error({**base, **overrides}, ref="default")
    assert "training.scope 'global': " + names in msg

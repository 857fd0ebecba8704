"""The config model as the Prefect form: titled fields in editing order, repeats refused."""

from __future__ import annotations

import pytest

from pricecast.configs.loader import ConfigError, parse_config
from pricecast.configs.schema import RunConfig


def _base() -> dict:
    return {
        "data": {"tickers": ["KO", "MSFT"], "source": "sample"},
        "variants": [{"name": "rnn", "cell": "rnn"}],
    }


def _fields(schema: dict):
    """(model, field, property) for every property of every model in a JSON schema."""
    yield from (("RunConfig", k, v) for k, v in schema["properties"].items())
    for model, definition in schema.get("$defs", {}).items():
        yield from ((model, k, v) for k, v in definition.get("properties", {}).items())


def test_every_field_of_the_form_has_a_title_and_a_one_line_description():
    schema = RunConfig.model_json_schema()
    fields = list(_fields(schema))
    assert len(fields) > 60
    missing = [f"{m}.{k}" for m, k, p in fields if not p.get("title") or not p.get("description")]
    assert missing == []
    long = [f"{m}.{k}" for m, k, p in fields if "\n" in p["description"]]
    assert long == []


def test_the_form_starts_with_tickers_dates_window_horizon_variants_and_epochs():
    schema = RunConfig.model_json_schema()
    assert list(schema["properties"])[:4] == ["data", "features", "variants", "training"]
    defs = schema["$defs"]
    assert list(defs["DataConfig"]["properties"])[:3] == ["tickers", "start", "end"]
    assert list(defs["FeaturesConfig"]["properties"])[:2] == ["window", "horizon"]
    assert list(defs["TrainingConfig"]["properties"])[0] == "epochs"
    # The form itself refuses repeated tickers before a run is created.
    assert defs["DataConfig"]["properties"]["tickers"]["uniqueItems"] is True


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"data": {"tickers": ["KO", "MSFT", "ko"]}}, "data.tickers: Value error, tickers must "
         "be unique; repeated: KO"),
        ({"variants": [{"name": "a", "cell": "rnn"}, {"name": "a", "cell": "gru"}]},
         "variants: Value error, variant names must be unique; repeated: a"),
        ({"features": {"inputs": ["close", "log_return", "close"]}},
         "features.inputs: Value error, inputs must be unique; repeated: close"),
        ({"live": {"score_windows": [20, 20], "decay_window": 20}},
         "live: Value error, score_windows must be unique; repeated: 20"),
    ],
)  # fmt: skip
def test_repeated_entries_are_refused_naming_the_field(change, expected):
    data = _base()
    for section, values in change.items():
        data[section] = (
            {**data[section], **values} if isinstance(values, dict) and section in data else values
        )
    with pytest.raises(ConfigError) as err:
        parse_config(data, "form")
    assert expected in str(err.value)

"""TrainingConfig's speed settings: the scaled learning rate, and what the schema refuses."""

from __future__ import annotations

import pytest

from pricecast.configs.loader import ConfigError, parse_config
from pricecast.configs.schema import TrainingConfig

BASE = {"data": {"tickers": ["FB"]}, "variants": [{"name": "lstm", "cell": "lstm"}]}


def _training(**fields) -> TrainingConfig:
    return parse_config({**BASE, "training": fields}).training


@pytest.mark.parametrize(
    ("scaling", "batch", "expected"),
    [("none", 128, 1e-3), ("sqrt", 128, 2e-3), ("linear", 128, 4e-3), ("sqrt", 8, 5e-4)],
)
def test_learning_rate_scales_with_the_batch_from_32(scaling, batch, expected):
    training = _training(learning_rate=1e-3, batch_size=batch, lr_scaling=scaling)
    assert training.scaled_learning_rate == pytest.approx(expected)


def test_batch_32_keeps_the_learning_rate_whatever_the_scaling():
    for scaling in ("none", "sqrt", "linear"):
        assert _training(lr_scaling=scaling, batch_size=32).scaled_learning_rate == 1e-3


def test_a_scaled_rate_above_one_is_refused_with_its_fields():
    with pytest.raises(ConfigError, match=r"training.*learning_rate 0.5.*linear.*batch_size 128"):
        _training(learning_rate=0.5, batch_size=128, lr_scaling="linear")
    assert _training(learning_rate=0.5, batch_size=128, lr_scaling="none").batch_size == 128


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps_per_execution", 0), ("steps_per_execution", 1001), ("lr_scaling", "log"),
     ("jit_compile", "sometimes")],
)  # fmt: skip
def test_settings_the_code_cannot_run_name_their_field(field, value):
    with pytest.raises(ConfigError, match=rf"training\.{field}"):
        _training(**{field: value})


def test_defaults_are_documented():
    fields = TrainingConfig.model_fields
    for name in ("lr_scaling", "jit_compile", "steps_per_execution"):
        assert fields[name].title and fields[name].description
    assert TrainingConfig().steps_per_execution == 1 and TrainingConfig().lr_scaling == "none"

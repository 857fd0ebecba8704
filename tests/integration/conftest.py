"""Real MLflow servers and small configs on the bundled sample (Prefect API: tests/conftest.py)."""

from __future__ import annotations

import pytest

from pricecast.configs.loader import parse_config
from pricecast.configs.schema import RunConfig


def small_config(tickers=("KO", "MSFT"), epochs=2, **data) -> RunConfig:
    """Two sample tickers, three tiny variants, two epochs."""
    return parse_config(
        {
            "experiment": "it-small",
            "data": {
                "tickers": list(tickers),
                "source": "sample",
                "start": "2018-01-01",
                "end": "2020-06-30",
                "target": "adj_close",
                **data,
            },
            "features": {"window": 10, "horizon": 1},
            "split": {"test_fraction": 0.05, "val_fraction": 0.1},
            "variants": [
                {"name": "rnn", "cell": "rnn", "units": 4},
                {"name": "lstm", "cell": "lstm", "units": 4},
                {"name": "gru", "cell": "gru", "units": 4},
            ],
            "training": {"epochs": epochs, "batch_size": 64, "patience": 5, "seed": 7},
        },
        "test",
    )


@pytest.fixture
def keras_fits(monkeypatch) -> list[str]:
    """The name of every model whose Keras ``fit`` runs during the test, in order."""
    import keras

    calls: list[str] = []
    real_fit = keras.Model.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(self.name)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", counting_fit)
    return calls

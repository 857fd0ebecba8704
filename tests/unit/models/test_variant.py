"""A variant's fits are counted at the Keras level; the first fit's weights can be kept."""

from __future__ import annotations

import keras
import numpy as np

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.training import FitResult
from pricecast.models.variant import copy_model, keras_model_fns


class Seen(keras.callbacks.Callback):
    """Counts the fits it is passed to."""

    def __init__(self) -> None:
        super().__init__()
        self.begun = 0

    def on_train_begin(self, logs=None) -> None:
        self.begun += 1


def test_every_fit_is_counted_and_the_first_keeps_its_weights(monkeypatch):
    calls = []
    real_fit = keras.Model.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(self.name)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", counting_fit)
    seen, fits = Seen(), []
    fns = keras_model_fns(
        VariantConfig(name="g", cell="gru", units=3),
        TrainingConfig(epochs=2, batch_size=8, seed=1),
        window=5,
        n_features=1,
        horizon=1,
        refit_epochs=1,
        callbacks=[seen],
        fits=fits,
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(24, 5, 1)).astype("float32")
    y = rng.uniform(size=(24, 1)).astype("float32")
    model = fns.fit(x[:16], y[:16], x[16:], y[16:], None)
    first = copy_model(model)
    before = first.get_weights()
    again = fns.fit(x[:20], y[:20], x[20:], y[20:], model)
    assert again is model  # warm-started: the same model trains on
    assert calls == [model.name, model.name] and len(fits) == 2
    assert all(isinstance(f, FitResult) for f in fits)
    assert fits[0].epochs_run <= 2 and fits[1].epochs_run == 1
    assert seen.begun == 1  # the callbacks go to the first fit only
    # The copy keeps the first fit's weights while the refit moved the model's.
    for kept, now in zip(first.get_weights(), before, strict=True):
        np.testing.assert_array_equal(kept, now)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), before, strict=True))
    np.testing.assert_allclose(first.predict_on_batch(x), fns.predict(first, x), rtol=1e-6)

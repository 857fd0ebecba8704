"""The classic "LSTM predicts Facebook's January 2020 closes" tutorial, a plain Keras reference.

Trains the tutorial's model (4 stacked LSTM(45) layers, Dropout 0.2, Dense(1), adam/mse,
100 epochs, batch 32) on FB 2015-2019 closes with a 40-step window and MinMax scaling
fitted on training data, then predicts each trading day of January 2020 one step ahead
from the real previous 40 closes. Prints RMSE/MAPE for the model and for persistence.
The data are the repository's copy of the tutorial's files (``pricecast/sample``).

Usage: python seed_fb_tutorial.py [EPOCHS] [COLUMN] [TRAIN_CSV TEST_CSV]
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

SAMPLE = Path(__file__).resolve().parents[1] / "pricecast" / "sample"
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
column = sys.argv[2] if len(sys.argv) > 2 else "Close"
train_csv = sys.argv[3] if len(sys.argv) > 3 else SAMPLE / "FB_training_data.csv"
test_csv = sys.argv[4] if len(sys.argv) > 4 else SAMPLE / "FB_test_data.csv"
T = 40

import tensorflow as tf  # noqa: E402  (after the arguments: a usage error costs no import)

tf.keras.utils.set_random_seed(0)
from tensorflow.keras import layers  # noqa: E402

train = pd.read_csv(train_csv)[column].to_numpy(dtype="float64")
test = pd.read_csv(test_csv)[column].to_numpy(dtype="float64")
scaler = MinMaxScaler()
s = scaler.fit_transform(train.reshape(-1, 1))
x = np.stack([s[i - T : i, 0] for i in range(T, len(s))])[..., None]
y = s[T:, 0]

model = tf.keras.Sequential([tf.keras.Input((T, 1))])
for i in range(4):
    model.add(layers.LSTM(45, return_sequences=i < 3))
    model.add(layers.Dropout(0.2))
model.add(layers.Dense(1))
model.compile(optimizer="adam", loss="mean_squared_error")
t0 = time.perf_counter()
model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
train_s = time.perf_counter() - t0

full = np.concatenate([train[-T:], test])
fs = scaler.transform(full.reshape(-1, 1))
xt = np.stack([fs[i - T : i, 0] for i in range(T, len(fs))])[..., None]
t0 = time.perf_counter()
pred = scaler.inverse_transform(model.predict(xt, verbose=0)).ravel()
pred_s = time.perf_counter() - t0
naive = full[T - 1 : -1]


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def mape(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs((a - b) / a)) * 100)


print(
    json.dumps(
        {
            "column": column,
            "epochs": epochs,
            "n_train_windows": int(len(x)),
            "train_seconds": round(train_s, 2),
            "predict_seconds": round(pred_s, 3),
            "model_rmse": round(rmse(test, pred), 3),
            "model_mape": round(mape(test, pred), 3),
            "naive_rmse": round(rmse(test, naive), 3),
            "naive_mape": round(mape(test, naive), 3),
        }
    )
)

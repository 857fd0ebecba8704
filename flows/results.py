"""Typed results the flow's tasks hand to each other (Prefect passes them in memory).

Only :class:`TrainResult` ever crosses a process boundary: when training is dispatched to
a GPU work pool, the ``train`` flow writes it as JSON on the ticker's parent run and its
variants' models are referred to by URI (``stores/tracking/handoff.py``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pricecast.configs.schema import BacktestConfig
from pricecast.models.variant import TrainedVariant
from pricecast.tasks.champion import ChampionDecision
from pricecast.tasks.dataset import Dataset


@dataclass(frozen=True)
class TickerData:
    """A ticker's dataset and how it was obtained.

    Attributes:
        dataset: Validated prices, split, scaled and windowed.
        source: The price source that served it (``yfinance``, ``cache``, ``csv``, ``sample``).
        notes: What fetching and validation changed or fell back on.
        seconds: Time spent validating and windowing.
        backtest: The backtest this ticker's series holds (``config.backtest``, or
            fewer origins for a short history); ``None`` when the backtest is off.
    """

    dataset: Dataset
    source: str
    notes: list[str]
    seconds: float
    backtest: BacktestConfig | None = None


@dataclass
class VariantResult:
    """One trained variant as the rest of the flow sees it.

    Attributes:
        name: The variant's name.
        run_id: Its MLflow child run.
        model_uri: The Keras model logged to that run.
        forecasts: Its test-span prices ``(n, H)``.
        fit: ``epochs_run``, ``best_epoch``, ``train_seconds``, ``samples_per_second``,
            ``log_seconds``.
        trained: The model and scaler in memory; ``None`` once the result has crossed
            processes (then the model is loaded from ``model_uri``).
    """

    name: str
    run_id: str
    model_uri: str
    forecasts: np.ndarray
    fit: dict[str, float]
    trained: TrainedVariant | None = None


@dataclass
class VariantBacktest:
    """A variant's walk-forward rows (``tasks.backtest.COLUMNS``) and how long it took."""

    name: str
    frame: pd.DataFrame
    seconds: float


@dataclass
class TrainResult:
    """What the ``train`` flow returns for one ticker.

    Attributes:
        ticker: The symbol.
        variants: Trained variants by name (those that failed are absent).
        backtests: Each trained variant's backtest, when the config asks for one.
        failed: Why each failed variant (or its backtest) failed.
        device: Where it trained (``device``, ``gpu_count``, ``gpu_names``).
    """

    ticker: str
    variants: dict[str, VariantResult] = field(default_factory=dict)
    backtests: dict[str, VariantBacktest] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    device: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise everything but the in-memory models (they travel by ``model_uri``)."""
        return json.dumps(
            {
                "ticker": self.ticker,
                "variants": {
                    n: {
                        "run_id": v.run_id,
                        "model_uri": v.model_uri,
                        "forecasts": v.forecasts.tolist(),
                        "fit": v.fit,
                    }
                    for n, v in self.variants.items()
                },
                "backtests": {
                    n: {"seconds": b.seconds, "csv": b.frame.to_csv(index=False)}
                    for n, b in self.backtests.items()
                },
                "failed": self.failed,
                "device": self.device,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TrainResult:
        """Read what :meth:`to_json` wrote (models are left to be loaded by URI)."""
        raw = json.loads(text)
        return cls(
            ticker=raw["ticker"],
            variants={
                n: VariantResult(
                    n, v["run_id"], v["model_uri"], np.asarray(v["forecasts"], "float64"), v["fit"]
                )
                for n, v in raw["variants"].items()
            },
            backtests={
                n: VariantBacktest(
                    n,
                    pd.read_csv(io.StringIO(b["csv"]), parse_dates=["cutoff", "date"]),
                    b["seconds"],
                )
                for n, b in raw["backtests"].items()
            },
            failed=raw["failed"],
            device=raw["device"],
        )


@dataclass(frozen=True)
class BacktestResult:
    """The whole walk-forward of one ticker: every variant and baseline on the same origins.

    Attributes:
        frame: Long rows (``tasks.backtest.COLUMNS``), variants first, then baselines.
        summary: ``{model: {metric: [h=1, h=2, ...]}}``.
        scale: The MASE denominator (in-sample persistence error before the first origin).
        model_seconds: Backtest seconds per variant.
    """

    frame: pd.DataFrame
    summary: dict[str, dict[str, list[float]]]
    scale: float
    model_seconds: dict[str, float]

    @property
    def n_origins(self) -> int:
        """Forecast origins."""
        return int(self.frame["cutoff"].nunique())


@dataclass(frozen=True)
class Registration:
    """What the registry holds for a ticker after the guard.

    Attributes:
        decision: The guard's decision.
        registered_version: The version registered now (``None``: nothing registered).
        champion_version: The version the ``champion`` alias points at now.
        refit_seconds: Training the registered version on every row took this long
            (0 when nothing was refitted).
    """

    decision: ChampionDecision
    registered_version: str | None
    champion_version: str | None
    refit_seconds: float = 0.0

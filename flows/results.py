"""Typed results the flow's tasks hand to each other (Prefect passes them in memory).

Only :class:`TrainResult` ever crosses a process boundary: when training is dispatched to
a GPU work pool, the ``train`` flow writes it as JSON on the ticker's parent run and its
variants' models are referred to by URI (``stores/tracking/handoff.py``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pricecast.configs.schema import BacktestConfig
from pricecast.tasks.champion import ChampionDecision
from pricecast.tasks.dataset import Dataset

if TYPE_CHECKING:
    from pricecast.models.variant import TrainedVariant


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
        fit: ``epochs_run``, ``best_epoch``, ``train_seconds``, ``samples_per_second``
            (of its first fit), ``log_seconds`` and ``fits`` (how many times the variant
            trained to be evaluated: the test table's fit and the backtest's fits).
        trained: The model and scaler in memory, when it trained on the train split and
            the result has not crossed processes (then the model is loaded from
            ``model_uri``).
        bands: Its test-span bounds ``(n, H)`` per ``lower_<L>``/``upper_<L>`` column,
            when the test span is read from its banded backtest (else empty).
    """

    name: str
    run_id: str
    model_uri: str
    forecasts: np.ndarray
    fit: dict[str, float]
    trained: TrainedVariant | None = None
    bands: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class VariantBacktest:
    """A variant's walk-forward rows (``tasks.backtest.COLUMNS``) and how long it took.

    ``fits`` counts the trainings it ran: its first fit, its refits and any quantile head's.
    """

    name: str
    frame: pd.DataFrame
    seconds: float
    fits: int = 0


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
                        "bands": {c: b.tolist() for c, b in v.bands.items()},
                    }
                    for n, v in self.variants.items()
                },
                "backtests": {
                    n: {"seconds": b.seconds, "fits": b.fits, "csv": b.frame.to_csv(index=False)}
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
                    n,
                    v["run_id"],
                    v["model_uri"],
                    np.asarray(v["forecasts"], "float64"),
                    v["fit"],
                    bands={c: np.asarray(b, "float64") for c, b in v["bands"].items()},
                )
                for n, v in raw["variants"].items()
            },
            backtests={
                n: VariantBacktest(
                    n,
                    pd.read_csv(io.StringIO(b["csv"]), parse_dates=["cutoff", "date"]),
                    b["seconds"],
                    b["fits"],
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
        refit_variant: The variant whose refit on every row ``refit_version`` holds.
        refit_version: The version holding that refit: the one registered now, or an
            identical one registered before (same prices, configuration and seed).
    """

    decision: ChampionDecision
    registered_version: str | None
    champion_version: str | None
    refit_seconds: float = 0.0
    refit_variant: str | None = None
    refit_version: str | None = None

"""Run outputs on disk: summary.json, per-ticker plots and prediction tables.

Every file is written to a temporary name in the same folder and renamed, so a reader
never sees half a file; it gets the mode the umask allows, as any new file would.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pricecast.stores.atomic import temp_file

if TYPE_CHECKING:  # checking a folder before the API starts needs neither
    import pandas as pd
    from matplotlib.figure import Figure


class OutputError(OSError):
    """The output folder cannot be written; the message names the path."""


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent, path.name)
        os.close(fd)
    except OSError as err:
        raise OutputError(f"cannot write to {path.parent}: {err.strerror or err}") from None
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON ``null``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> Path:
    """Write strict JSON atomically: an undefined number (NaN, inf) is written as ``null``.

    Python's ``json`` writes bare ``NaN`` by default, which standard parsers reject.
    """
    text = json.dumps(_finite(data), indent=2, default=str, allow_nan=False)
    return _atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write a CSV table atomically (dates as YYYY-MM-DD)."""
    return _atomic(path, lambda p: frame.to_csv(p, index=False, date_format="%Y-%m-%d"))


def write_png(path: Path, figure: Figure | bytes) -> Path:
    """Save a figure, or a figure already rendered to PNG bytes, as PNG atomically."""
    if isinstance(figure, bytes):
        return _atomic(path, lambda p: p.write_bytes(figure))
    return _atomic(path, lambda p: figure.savefig(p, format="png"))


def check_writable(path: Path) -> Path:
    """Create ``path`` and prove a file can be written there, before any work starts.

    Raises:
        OutputError: Naming the path (read-only folder, disk full, not a folder).
    """
    probe = _atomic(path / ".write-check", lambda p: p.write_text("ok"))
    probe.unlink(missing_ok=True)
    return path

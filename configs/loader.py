"""Read a YAML run configuration into a validated :class:`RunConfig`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pricecast.configs.schema import RunConfig


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names the field."""


def bundled_configs() -> list[str]:
    """Return the names of the configs shipped with the package (without ``.yaml``)."""
    files = resources.files("pricecast.configs")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def _read_text(ref: str | Path) -> tuple[str, str]:
    path = Path(ref)
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    name = path.name.removesuffix(".yaml")
    if name in bundled_configs() and (path.parent == Path(".") or not path.exists()):
        # A bare name or a repo-relative path outside the repo: use the packaged copy.
        res = resources.files("pricecast.configs") / f"{name}.yaml"
        return res.read_text(encoding="utf-8"), f"{name}.yaml (bundled)"
    raise ConfigError(
        f"config file not found: {ref} (bundled configs: {', '.join(bundled_configs())})"
    )


def format_validation_error(err: ValidationError, origin: str) -> str:
    """Render a pydantic error as ``origin: field.path: message`` lines."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "literal_error" and "expected" in e.get("ctx", {}):
            msg = f"{msg} (got {e.get('input')!r})"
        lines.append(f"{origin}: {loc}: {msg}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], origin: str = "config") -> RunConfig:
    """Validate a mapping as a :class:`RunConfig`.

    Args:
        data: The configuration as plain data (from YAML or JSON).
        origin: Where it came from, for error messages.

    Raises:
        ConfigError: With one line per invalid field.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{origin}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, origin)) from None


def load_config(ref: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load a YAML config file (or a bundled config by name) and apply overrides.

    Args:
        ref: A path to a YAML file, or the name of a bundled config (``default``,
            ``seed_fb``).
        overrides: Dotted keys to replace, e.g. ``{"data.tickers": ["AAPL"]}``.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: If the file is missing, is not YAML, or a value is invalid.
    """
    text, origin = _read_text(ref)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {err}") from None
    for key, value in (overrides or {}).items():
        if not isinstance(data, dict):
            break
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return parse_config(data, origin)


def require_prices(config: RunConfig, what: str) -> RunConfig:
    """Refuse a ``kind: series`` config where only prices can run (the nightly loop).

    The nightly loop targets exchange sessions and keeps a price ledger, so a generic
    series, which has its own frequency and no exchange, is refused before any work.

    Raises:
        ConfigError: Naming ``data.kind``.
    """
    if config.data.kind != "prices":
        raise ConfigError(
            f"data.kind: {what} runs on prices only (kind 'prices'), got kind "
            f"{config.data.kind!r}; forecast a series with `forecast run`"
        )
    return config

"""Read a YAML run configuration into a validated :class:`RunConfig`."""

from __future__ import annotations

import os
import reprlib
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
    """Read a config file, or a bundled config named by a bare name.

    A bundled config is used only for a bare name (no path separator, no ``.yaml`` or
    ``.yml`` suffix): a path that does not exist is an error, never a silent fallback to
    a bundled config with other tickers and epochs.
    """
    text = str(ref)
    path = Path(ref)
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    bare = not any(sep in text for sep in ("/", "\\", os.sep)) and not text.endswith(
        (".yaml", ".yml")
    )
    if bare and text in bundled_configs():
        res = resources.files("pricecast.configs") / f"{text}.yaml"
        return res.read_text(encoding="utf-8"), f"{text}.yaml (bundled)"
    if path.is_dir():
        raise ConfigError(f"config path is a folder, not a file: {ref}")
    if bare:
        raise ConfigError(
            f"config file not found: {ref} (bundled configs: {', '.join(bundled_configs())})"
        )
    raise ConfigError(f"config file not found: {ref}")


MAX_NODES = 100_000
"""Values a config may hold once its YAML aliases are expanded (a real one holds ~100)."""

MAX_ERRORS = 20
"""Invalid values an error message lists; past that it says how many there are."""

MAX_ECHO = 120
"""Characters of a rejected value that an error message quotes."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], path: set[int]) -> int:
    """Count the values ``node`` stands for with every alias expanded, stopping early.

    Aliases share nodes, so sizes are memoised per node: a document whose expansion is
    billions of values is measured in a few steps, and refused before anything expands it
    (pydantic's validation, or the error formatter's repr, would).
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in path:
        raise ConfigError("the YAML refers to itself through an alias (a recursive anchor)")
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    path.add(key)
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, path)
        if total > MAX_NODES:
            break
    path.discard(key)
    sizes[key] = total
    return total


def _safe_load(text: str, origin: str) -> Any:
    """``yaml.safe_load`` that refuses documents whose aliases expand past :data:`MAX_NODES`.

    Raises:
        ConfigError: On invalid YAML, a recursive alias, or an alias bomb.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, set()) > MAX_NODES:
            raise ConfigError(
                f"{origin}: its YAML anchors and aliases expand to more than {MAX_NODES:,} "
                "values; refused (a config holds a few hundred at most)"
            )
        return loader.construct_document(node)
    except ConfigError as err:
        raise ConfigError(str(err) if str(err).startswith(origin) else f"{origin}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {_short(str(err), 400)}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: the YAML is nested too deeply") from None
    finally:
        loader.dispose()


def _short(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def format_validation_error(err: ValidationError, origin: str) -> str:
    """Render a pydantic error as ``origin: field.path: message`` lines."""
    lines = []
    errors = err.errors(include_url=False)
    if len(errors) > MAX_ERRORS:
        lines.append(f"{origin}: {len(errors)} invalid values; the first {MAX_ERRORS}:")
    for e in errors[:MAX_ERRORS]:
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "literal_error" and "expected" in e.get("ctx", {}):
            msg = f"{msg} (got {_short(reprlib.repr(e.get('input')))})"
        lines.append(f"{origin}: {_short(loc)}: {_short(msg, 400)}")
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
    data = _safe_load(text, origin) or {}
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

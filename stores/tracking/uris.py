"""Tracking URIs: which schemes MLflow takes, whether a server answers, and masking passwords.

Checked before any work starts (``forecast run`` refuses a bad URI before Prefect and
TensorFlow start) and used by every message that shows a URI, so that credentials in a
URI's user info are sent as basic auth and never printed.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# Schemes every MLflow handles itself (a plain path is a file store): checked without
# importing MLflow, so that a command refuses a bad URI and starts its Prefect API early.
BUILT_IN_SCHEMES = frozenset({"", "file", "sqlite", "http", "https"})


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking store cannot be reached; the message holds the URI."""


_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*)(?P<password>:[^\s/@]*)?@"
)


def redact(text: str) -> str:
    """``text`` with the password in the user info of every URI in it masked.

    Tracking URIs may carry basic-auth credentials; every message, log line and summary
    that shows a URI goes through this, so the password is never printed or stored.
    """
    return _USERINFO.sub(
        lambda m: (
            f"{m['scheme']}{m['user']}:***@" if m["password"] is not None else f"{m['scheme']}***@"
        ),
        text,
    )


def ui_base(uri: str) -> str | None:
    """Address of the MLflow UI for a tracking URI, or ``None`` when none serves it.

    ``MLFLOW_UI_URL`` wins (a UI behind a proxy, or a local store served by ``mlflow
    ui``); else an http(s) tracking server is its own UI, without its user info so that
    no password lands in a link. A local store (sqlite, a folder) has no UI running.
    """
    if explicit := os.environ.get("MLFLOW_UI_URL", "").strip():
        return explicit.rstrip("/")
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def default_uri(home: Path) -> str:
    """The default store: a sqlite file in ``FORECAST_HOME``."""
    return f"sqlite:///{home / 'mlflow.db'}"


def resolve_uri(home: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the default sqlite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri(home)


def _no_urls_with_credentials(uri: str) -> None:
    """Stop MLflow printing run links built from a URI that carries a password.

    MLflow's client prints "View run ... at: <tracking URI>/#/..." to stdout each time a
    run on a server ends, with the URI as given, user info included.
    """
    if redact(uri) != uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


def check_scheme(uri: str) -> None:
    """Refuse a tracking URI whose scheme no installed MLflow store handles.

    Asked of MLflow's own store registry (built-ins and plugins), so the answer is the
    one MLflow would give later, after Prefect and TensorFlow have started. The schemes
    of :data:`BUILT_IN_SCHEMES` are taken without importing MLflow (about a second).

    Raises:
        TrackingUnavailableError: Naming the URI (redacted) and the supported schemes.
    """
    if urllib.parse.urlsplit(uri).scheme in BUILT_IN_SCHEMES:
        return
    from mlflow.exceptions import MlflowException
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    try:
        _tracking_store_registry.get_store_builder(uri)
    except MlflowException:
        schemes = ", ".join(sorted(s for s in _tracking_store_registry._registry if s))
        raise TrackingUnavailableError(
            f"MLflow tracking URI {redact(uri)} has an unsupported scheme "
            f"{urllib.parse.urlsplit(uri).scheme!r} (MLflow accepts: {schemes})"
        ) from None


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on a tracking URI MLflow cannot use, or a server that does not answer.

    Credentials in the URI's user info (before ``@host``) are sent as basic auth, as
    MLflow's own client does, never as part of the host name.

    Raises:
        TrackingUnavailableError: Naming the URI, with its password masked.
    """
    check_scheme(uri)
    if not uri.startswith(("http://", "https://")):
        return
    parts = urllib.parse.urlsplit(uri)
    try:
        port = parts.port
    except ValueError as err:
        raise TrackingUnavailableError(f"MLflow tracking URI {redact(uri)}: {err}") from None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port else ""
    url = urllib.parse.urlunsplit(
        (parts.scheme, netloc, f"{parts.path.rstrip('/')}/health", "", "")
    )
    request = urllib.request.Request(url)
    if parts.username is not None:
        pair = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        basic = base64.b64encode(pair.encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {basic}")
    shown = redact(uri)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - configured URI
            if resp.status != 200:
                raise TrackingUnavailableError(
                    f"MLflow at {shown} answered {resp.status} on /health"
                )
    except urllib.error.HTTPError as err:
        why = " (check the user and password in the URI)" if err.code in (401, 403) else ""
        raise TrackingUnavailableError(
            f"MLflow at {shown} answered {err.code} {err.reason} on /health{why}"
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = redact(str(getattr(err, "reason", err)))
        raise TrackingUnavailableError(
            f"MLflow tracking server unreachable at {shown}: {reason}"
        ) from None

"""What the asyncio and the synchronous client share: where to connect, credentials, channel
options, counters."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import grpc

DEFAULT_TARGET = "localhost:8080"
DEFAULT_TIMEOUT = 30.0

# Reconnect quickly after the server comes back (gRPC's default waits 1 s, then up to 120 s),
# and accept the large analytics answers of a big fleet.
CHANNEL_OPTIONS: List[Tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
    ("grpc.primary_user_agent", "learning-system-client-python"),
]


def resolve_target(target: Optional[str]) -> Tuple[str, bool]:
    """``host:port`` and whether to use TLS, from ``target``, ``LEARNING_SERVER`` or ``localhost:8080``.

    A URL is accepted too, as the guide's REST examples write it: ``http://localhost:8080``
    (plain HTTP/2) or ``https://host`` (TLS, port 443 by default).
    """
    value = (target or os.environ.get("LEARNING_SERVER") or DEFAULT_TARGET).strip()
    secure = False
    if "://" in value:
        scheme, rest = value.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("http", "https", "grpc", "grpcs"):
            raise ValueError(f"target {value!r}: the scheme must be http, https, grpc or grpcs")
        secure = scheme in ("https", "grpcs")
        value = rest.split("/", 1)[0]
        if not value:
            raise ValueError(f"target {target!r} names no host")
        host_part = value.rsplit("]", 1)[-1]
        if ":" not in host_part:
            value = f"{value}:{443 if secure else 8080}"
    if not value:
        raise ValueError("target must not be empty")
    return value, secure


def auth_metadata(api_key: Optional[str]) -> Tuple[Tuple[str, str], ...]:
    """The bearer token of ``api_key`` or ``LEARNING_API_KEY``; none when neither is set."""
    key = api_key if api_key is not None else os.environ.get("LEARNING_API_KEY")
    return (("authorization", f"Bearer {key}"),) if key else ()


def channel_options(extra: Optional[Sequence[Tuple[str, Any]]]) -> List[Tuple[str, Any]]:
    """The client's channel options, ``extra`` winning over the defaults."""
    merged = dict(CHANNEL_OPTIONS)
    for key, value in extra or ():
        merged[key] = value
    return list(merged.items())


def credentials_for(secure: bool, credentials: Optional[grpc.ChannelCredentials]) -> Optional[grpc.ChannelCredentials]:
    """TLS credentials when asked for, or the default roots for an ``https://`` target."""
    if credentials is not None:
        return credentials
    return grpc.ssl_channel_credentials() if secure else None


@dataclass
class ClientStats:
    """Counters of one client: calls that succeeded, retries made, calls that failed."""

    calls: int = 0
    retries: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

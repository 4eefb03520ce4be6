"""Retries with exponential backoff that honour the server's retry delay."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, FrozenSet, Optional, Sequence, Tuple

import grpc

__all__ = ["RetryPolicy", "pushback_seconds"]

_PUSHBACK_KEY = "grpc-retry-pushback-ms"
_DETAIL_DELAY = re.compile(r"retry after ([0-9]+(?:\.[0-9]+)?) ?s")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying a call again.

    A call is retried when it fails with one of ``retry_codes`` (UNAVAILABLE: the server or its
    database could not be reached; RESOURCE_EXHAUSTED: the ingest queue was full), at most
    ``max_attempts`` tries in all and never past the call's deadline. The wait is the server's
    retry delay when it sent one (``grpc-retry-pushback-ms``), otherwise ``initial_backoff``
    doubled per try up to ``max_backoff``, with ``jitter`` (a fraction) of randomness.
    Writes are retried only when a repeat cannot store anything twice: executions carry an
    event id, registration is an upsert; ``submit_metrics`` is retried on RESOURCE_EXHAUSTED only
    (a refusal before anything was stored).
    """

    max_attempts: int = 6
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    retry_codes: FrozenSet[grpc.StatusCode] = field(
        default_factory=lambda: frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must not be negative and multiplier must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    @classmethod
    def none(cls) -> "RetryPolicy":
        """No retries: every failure is raised at once."""
        return cls(max_attempts=1)

    def delay(self, attempt: int, pushback: Optional[float]) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if pushback is not None:
            return max(0.0, pushback)
        base = min(self.max_backoff, self.initial_backoff * (self.multiplier ** (attempt - 1)))
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


def pushback_seconds(trailing: Optional[Sequence[Tuple[str, Any]]], details: Optional[str]) -> Optional[float]:
    """The server's retry delay: the ``grpc-retry-pushback-ms`` trailer, else the
    ``(retry after N s)`` the detail of an overloaded refusal ends with."""
    for key, value in trailing or ():
        if key == _PUSHBACK_KEY:
            try:
                return max(0, int(value)) / 1000.0
            except (TypeError, ValueError):
                break
    if details:
        match = _DETAIL_DELAY.search(details)
        if match:
            return float(match.group(1))
    return None

"""Exceptions raised by the client: every failed call carries the gRPC status and the server's detail."""

from __future__ import annotations

from typing import Optional

import grpc

__all__ = [
    "LearningSystemError",
    "InvalidArgument",
    "NotFound",
    "AlreadyExists",
    "Unauthenticated",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Unavailable",
    "DeadlineExceeded",
    "InternalError",
    "BufferFullError",
    "ClientClosedError",
]


class LearningSystemError(Exception):
    """A call the server (or the channel) refused.

    ``code`` is the :class:`grpc.StatusCode`, ``details`` the server's message (for example
    ``executions[3].execution_time must not be negative``), ``retry_after`` the delay in seconds the
    server asked for before a retry (``grpc-retry-pushback-ms``), when it sent one, and ``method``
    the RPC that failed. ``attempts`` counts the tries made, retries included.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        *,
        method: str = "",
        retry_after: Optional[float] = None,
        attempts: int = 1,
    ) -> None:
        self.code = code
        self.details = details
        self.method = method
        self.retry_after = retry_after
        self.attempts = attempts
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {details}")

    @property
    def status(self) -> str:
        """The status name, e.g. ``INVALID_ARGUMENT``."""
        return self.code.name


class InvalidArgument(LearningSystemError):
    """INVALID_ARGUMENT: the request was malformed; ``details`` names the field."""


class NotFound(LearningSystemError):
    """NOT_FOUND: usually an agent that is not registered."""


class AlreadyExists(LearningSystemError):
    """ALREADY_EXISTS."""


class Unauthenticated(LearningSystemError):
    """UNAUTHENTICATED: the server has API keys and the call carried none or a wrong one."""


class PermissionDenied(LearningSystemError):
    """PERMISSION_DENIED."""


class ResourceExhausted(LearningSystemError):
    """RESOURCE_EXHAUSTED: the ingest queue was full and retries ran out."""


class FailedPrecondition(LearningSystemError):
    """FAILED_PRECONDITION: e.g. a feature switched off by the server's configuration."""


class Unavailable(LearningSystemError):
    """UNAVAILABLE: the server or its database could not be reached and retries ran out."""


class DeadlineExceeded(LearningSystemError):
    """DEADLINE_EXCEEDED: the call's deadline passed."""


class InternalError(LearningSystemError):
    """INTERNAL or any other status."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def error_for(
    code: grpc.StatusCode,
    details: str,
    *,
    method: str = "",
    retry_after: Optional[float] = None,
    attempts: int = 1,
) -> LearningSystemError:
    """The exception of the right class for a status."""
    cls = _BY_CODE.get(code, InternalError)
    return cls(code, details or "", method=method, retry_after=retry_after, attempts=attempts)


class BufferFullError(Exception):
    """A batching logger's buffer is full and its policy is ``"raise"``: the execution was not
    accepted (nothing is lost silently; log it again later or flush first)."""


class ClientClosedError(RuntimeError):
    """The client or batching logger was closed before the call."""

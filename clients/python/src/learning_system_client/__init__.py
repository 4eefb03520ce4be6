"""Python client of learning-system: the integration guide's ``LearningSystemClient``.

>>> from learning_system_client import LearningSystemClient
>>> client = LearningSystemClient()          # LEARNING_SERVER or localhost:8080
>>> await client.log_performance({...})      # doctest: +SKIP
"""

from .batching import AsyncBatchLogger, BatchLogger, BatchStats, UnsentExecutionsError
from .client import LearningSystemClient
from .errors import (
    AlreadyExists,
    BufferFullError,
    ClientClosedError,
    DeadlineExceeded,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    LearningSystemError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from .retry import RetryPolicy
from .sync import SyncLearningSystemClient
from . import types

__version__ = "0.1.0"

__all__ = [
    "LearningSystemClient",
    "SyncLearningSystemClient",
    "AsyncBatchLogger",
    "BatchLogger",
    "BatchStats",
    "UnsentExecutionsError",
    "RetryPolicy",
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
    "types",
    "__version__",
]

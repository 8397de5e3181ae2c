"""groove_async: an asyncio client for the Groove Music collection API.

Add or remove any number of tracks with one call: IDs are validated, cut into 100-ID POSTs sent
concurrently under a bound, retried when the failure is transient, and merged back into one
result per input, in input order.
"""

from importlib.metadata import PackageNotFoundError, version

from ._client import DEFAULT_BASE_URL, GrooveClient
from ._errors import (
    AuthenticationError,
    BatchError,
    DecodeError,
    GrooveError,
    HTTPStatusError,
    ResultMismatchError,
    TransportError,
)
from ._events import BatchFinished, BatchStarted, ProgressEvent, RetryScheduled, Throttled
from ._models import BulkResult, ErrorInfo, Outcome, TrackResult
from ._retry import RetryPolicy

try:
    __version__ = version("groove-async")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "AuthenticationError",
    "BatchError",
    "BatchFinished",
    "BatchStarted",
    "BulkResult",
    "DecodeError",
    "ErrorInfo",
    "GrooveClient",
    "GrooveError",
    "HTTPStatusError",
    "Outcome",
    "ProgressEvent",
    "ResultMismatchError",
    "RetryPolicy",
    "RetryScheduled",
    "Throttled",
    "TrackResult",
    "TransportError",
    "__version__",
]

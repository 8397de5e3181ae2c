"""Every error the emulator sends, as the contract spells it (spec sections 2 to 5 and 9).

Errors are plain dicts with the wire's member names (spec section 4: ``ErrorCode``,
``Description``, ``Message?`` and nothing else; absent members are omitted, never null), built
once per server because the spelling of their codes is a server setting (spec section 5).
"""

from __future__ import annotations

from typing import Any, Final

from ._catalog import NAMESPACE
from ._codec import MISSING

__all__ = [
    "GATEWAY_504_PAGE",
    "MAX_PLAYLISTS",
    "MAX_PLAYLIST_ENTRIES",
    "NON_JSON_BODY",
    "PROXY_502_PAGE",
    "ErrorBodies",
]

MAX_PLAYLISTS: Final = 100
"""Playlists a collection holds *(inferred, spec sections 3 and 9.1)*."""

MAX_PLAYLIST_ENTRIES: Final = 1000
"""Entries a playlist holds *(inferred, spec section 9.1)*."""

PROXY_502_PAGE: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
"""An error page from a proxy in front of the service (spec section 5: bodies may be HTML)."""

GATEWAY_504_PAGE: Final = (
    b"<!DOCTYPE html>\n<html><head><title>504 Gateway Time-out</title></head>\n"
    b"<body><h1>Gateway Time-out</h1><p>The gateway did not receive a timely response from the "
    b"upstream server.</p></body></html>\n"
)
"""A gateway's timeout page (spec section 5: any proxy may send a 504)."""

NON_JSON_BODY: Final = b"OK"
"""A 200 body labelled JSON (or XML) that is neither."""


def error(code: str, description: str, message: str | None, *, hyphen: bool) -> dict[str, str]:
    """An Error object (spec section 4); ``hyphen`` spells the code as the docs print it (5)."""
    result = {"ErrorCode": code.replace("_", "-") if hyphen else code, "Description": description}
    if message is not None:
        result["Message"] = message
    return result


class ErrorBodies:
    """The whole-request error bodies and the per-item errors, in one spelling."""

    def refusal_of(self, problem: str | None) -> dict[str, Any]:
        """The 400 for an unusable TrackActionRequest: missing IDs, or what is wrong with it
        (``"invalid: ..."`` from the XML reader names the element or namespace at fault)."""
        if problem is None or problem == MISSING:
            return self.missing_ids
        detail = problem.partition(": ")[2]
        if not detail:
            return self.invalid_body
        return self._body(
            "INVALID_INPUT_PARAMETER",
            "An input parameter is invalid",
            f"The request body is not a TrackActionRequest: {detail}",
        )

    def __init__(self, *, hyphen: bool, capacity: int) -> None:
        self.hyphen = hyphen

        def body(code: str, description: str, message: str | None = None) -> dict[str, Any]:
            return {"Error": error(code, description, message, hyphen=hyphen)}

        # Spec section 2.
        self.unauthorized = body(
            "INVALID_AUTHORIZATION_HEADER",
            "Missing or invalid authorization header",
            "You need user authentication to use this API",
        )
        self.expired = body(
            "AUTHORIZATION_TOKEN_EXPIRED",
            "The authorization token has expired",
            "Refresh the user token and retry",
        )
        # Spec section 3.1.
        self.too_many = body(
            "COLLECTION_INVALID_OPERATION",
            "This operation is not supported",
            "Number of tracks for this operation is limited to 100",
        )
        self.missing_ids = body(
            "MISSING_INPUT_PARAMETER",
            "A required input parameter is missing",
            "TrackIds must hold at least one ID",
        )
        self.invalid_body = body(
            "INVALID_INPUT_PARAMETER",
            "An input parameter is invalid",
            "The request body is not a TrackActionRequest: TrackIds must be a list of strings",
        )
        self._body = body
        # Spec section 1: the only namespace is music.
        self.bad_namespace = body(
            "INVALID_INPUT_PARAMETER",
            "An input parameter is invalid",
            f"Unknown namespace: the only namespace is {NAMESPACE}",
        )
        # The statuses of spec section 5's table that a fault plan can send.
        self.too_many_requests = body(
            "TOO_MANY_REQUESTS", "Too many requests", "The request was throttled; retry later"
        )
        self.conflict = body(
            "COLLECTION_CONCURRENT_UPDATE",
            "The collection was updated by another operation",
            "Retry the operation",
        )
        self.internal = body("INTERNAL_SERVER_ERROR", "Internal server error")
        self.catalog_unavailable = body(
            "CATALOG_UNAVAILABLE", "The catalog service is unavailable", "Retry later"
        )
        # Per-item errors (spec sections 3.1 and 3.2).
        self.item_invalid_add = error(
            "COLLECTION_INVALID_ID",
            "Invalid collection id for this operation",
            "Collection ErrorCode=ArgumentInvalid, Details=ContentId",
            hyphen=hyphen,
        )
        self.item_invalid_delete = error(
            "COLLECTION_INVALID_ID", "Invalid collection id for this operation", None, hyphen=hyphen
        )
        self.item_full = error(
            "COLLECTION_FULL",
            "The collection is full",
            f"A collection holds at most {capacity} tracks",
            hyphen=hyphen,
        )
        self.some_failed = error(
            "COLLECTION_SOME_OPERATIONS_FAILED",
            "Some of the operations failed",
            None,
            hyphen=hyphen,
        )
        # Spec section 9.1: playlist edits.
        self.no_playlist = body(
            "COLLECTION_NO_RESULT", "No result was found", "The collection holds no such playlist"
        )
        self.stale_state = body(
            "COLLECTION_CONCURRENT_UPDATE",
            "The collection was updated by another operation",
            "The CollectionStateToken is not the collection's current one",
        )
        self.too_many_playlists = body(
            "COLLECTION_FULL",
            "The collection is full",
            f"A collection holds at most {MAX_PLAYLISTS} playlists",
        )
        self.playlist_full = body(
            "COLLECTION_PLAYLIST_FULL",
            "The playlist is full",
            f"A playlist holds at most {MAX_PLAYLIST_ENTRIES} tracks",
        )
        # Spec section 9.2: reads.
        self.bad_continuation = body(
            "CONTINUATION_TOKEN_INVALID_ERROR", "The continuation token is invalid"
        )

    def invalid_input(self, message: str) -> dict[str, Any]:
        """400 ``INVALID_INPUT_PARAMETER``: a parameter or body member the service cannot use."""
        return {
            "Error": error(
                "INVALID_INPUT_PARAMETER",
                "An input parameter is invalid",
                message,
                hyphen=self.hyphen,
            )
        }

    def invalid_playlist_info(self, message: str) -> dict[str, Any]:
        """400 ``COLLECTION_INVALID_PLAYLIST_INFO`` (spec 9.1): no ``Id``, a bad ``Name``."""
        return {
            "Error": error(
                "COLLECTION_INVALID_PLAYLIST_INFO",
                "The playlist information is invalid",
                message,
                hyphen=self.hyphen,
            )
        }

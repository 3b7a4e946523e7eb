"""Graph's wire conventions: the error envelope, request ids and JSON responses.

Every Graph-shaped error the simulator returns goes through `GraphError` so that the envelope
(`error.code`, `error.message`, `error.innerError` with `date` and `request-id`) is identical
everywhere, as Microsoft documents it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

JSON_MEDIA_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


class GraphError(Exception):
    """An error that Graph answers with its standard JSON error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def new_request_id() -> str:
    """A fresh request id, as Graph returns in `request-id` and `innerError`."""
    return str(uuid.uuid4())


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Serialise `body` with orjson, as `application/json` with Graph's OData metadata flavour."""
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=JSON_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def error_body(
    code: str, message: str, request_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The JSON error envelope, with `innerError` carrying the date and request ids."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": stamp,
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }


def error_response(exc: GraphError, request_id: str | None = None) -> Response:
    """Render `exc` as Graph does: status, envelope, request-id and client-request-id headers."""
    rid = request_id or new_request_id()
    headers = {"request-id": rid, "client-request-id": rid, **exc.headers}
    return json_response(error_body(exc.code, exc.message, rid), exc.status, headers)

"""JSON batching: `POST /{version}/$batch` with up to 20 requests, `dependsOn`, per-item status
and headers (an inner 429 carries its own Retry-After), responses correlated by id.

Each inner request is replayed through the whole simulator app (faults included), so batching
changes nothing about how a single request behaves.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seatwise.simulator.context import sim_of
from seatwise.simulator.odata import GraphError, json_response

MAX_REQUESTS = 20


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise _bad("Invalid batch payload format.")
    requests: list[dict[str, Any]] = body["requests"]
    if len(requests) > MAX_REQUESTS:
        raise _bad(f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.")
    ids: set[str] = set()
    for item in requests:
        if not isinstance(item, dict) or not all(k in item for k in ("id", "method", "url")):
            raise _bad("Each batch request must have 'id', 'method' and 'url'.")
        if str(item["id"]) in ids:
            raise _bad(f"Batch request ids must be unique. Duplicate id: {item['id']}.")
        ids.add(str(item["id"]))
        if "body" in item and not any(
            k.lower() == "content-type" for k in (item.get("headers") or {})
        ):
            raise _bad("Content-Type header is required for requests with a body.")
    for item in requests:
        for dep in item.get("dependsOn") or []:
            if str(dep) not in ids:
                raise _bad(f"Request {item['id']} depends on unknown request {dep}.")
    return requests


async def batch(request: Request) -> Response:
    """Run every inner request and answer `{"responses": [...]}`."""
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise _bad("Unable to read JSON request payload.") from None
    items = _validate(payload)
    sim = sim_of(request)
    sim.count("$batch")
    if any(str(item["method"]).upper() != "GET" for item in items):
        sim.count("$batch with writes")
    for item in items:  # what clients really send, resent items included (benchmarks)
        sim.count(f"$batch item {str(item['method']).upper()}")
    version = request.url.path.split("/")[1]
    origin = f"{request.url.scheme}://{request.url.netloc}"
    forwarded = {
        k: v
        for k, v in request.headers.items()
        if k.lower() in ("authorization", "consistencylevel", "prefer")
    }
    status_by_id: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=origin) as client:
        for item in items:
            item_id = str(item["id"])
            deps = [str(d) for d in item.get("dependsOn") or []]
            if any(not 200 <= status_by_id.get(d, 0) < 300 for d in deps):
                status_by_id[item_id] = 424
                responses.append(
                    {
                        "id": item_id,
                        "status": 424,
                        "headers": {},
                        "body": {
                            "error": {"code": "FailedDependency", "message": "A dependency failed."}
                        },
                    }
                )
                continue
            url = str(item["url"])
            if url.startswith(("https://", "http://")):
                url = "/" + url.split("/", 3)[3]
            path = url if url.startswith(f"/{version}/") else f"/{version}/{url.lstrip('/')}"
            headers = {
                **forwarded,
                **{str(k): str(v) for k, v in (item.get("headers") or {}).items()},
            }
            content = orjson.dumps(item["body"]) if "body" in item else None
            try:
                inner = await client.request(
                    str(item["method"]).upper(), path, headers=headers, content=content
                )
            except ConnectionResetError:
                inner = httpx.Response(
                    504,
                    json={"error": {"code": "UnknownError", "message": "The request timed out."}},
                )
            status_by_id[item_id] = inner.status_code
            body: Any = None
            if inner.content:
                try:
                    body = orjson.loads(inner.content)
                except orjson.JSONDecodeError:
                    body = inner.text
            keep = {
                k: v
                for k, v in inner.headers.items()
                if k.lower() in ("retry-after", "location", "content-type", "request-id")
            }
            entry: dict[str, Any] = {"id": item_id, "status": inner.status_code, "headers": keep}
            if body is not None:
                entry["body"] = body
            responses.append(entry)
    # Graph returns responses in any order; the simulator reverses independent ones so clients
    # that assume request order find out in tests, while keeping output deterministic.
    if not any(item.get("dependsOn") for item in items):
        responses.reverse()
    return json_response({"responses": responses})


def routes() -> list[Route]:
    """The batch endpoint for both API versions."""
    return [Route(f"/{v}/$batch", batch, methods=["POST"]) for v in ("v1.0", "beta")]

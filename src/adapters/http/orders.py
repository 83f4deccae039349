"""`POST /orders`, `POST /orders/{id}/cancel` and `GET /orders/{id}`."""

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Security
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse

from adapters.http.idempotency_header import OPENAPI_PARAMETER, idempotency_key
from adapters.http.links import ORDER_LINKS, links
from adapters.http.problems import ProblemError, declared
from adapters.http.schemas import CancelOrderRequest, OrderAccepted, OrderOut, PlaceOrderRequest
from adapters.http.services import Allowed, Caller
from adapters.ids import new_id
from application.idempotency import Request, Respond
from domain.commands import CancelOrder, Command, PlaceOrder
from domain.orders import Order
from domain.values import MAX_ID_LENGTH, OrderLine

router = APIRouter(tags=["orders"])

OrderId = Annotated[str, Path(max_length=MAX_ID_LENGTH, description="The order's id.")]
REPLAYED = "Idempotent-Replayed"
Writer = Annotated[Caller, Security(Allowed("orders:write"))]
Reader = Annotated[Caller, Security(Allowed("orders:read"))]


@router.post("/orders", status_code=202, response_model=OrderAccepted, operation_id="place_order",
             responses={**declared(400, 401, 403, 409, 413, 415, 422, 500, 503),
                        **links(202, **ORDER_LINKS)},
             openapi_extra={"parameters": [OPENAPI_PARAMETER]})
async def place_order(body: PlaceOrderRequest, writer: Writer, request: HttpRequest) -> Any:
    """Accept an order: it is stored with its `OrderPlaced` event in one transaction and
    settles (confirmed or rejected) asynchronously; follow it at `Location`."""
    lines = tuple(OrderLine(line.sku, line.quantity) for line in body.lines)
    command = PlaceOrder(order_id=new_id(), customer_id=body.customer_id,
                         lines=lines)
    return await _run(writer, command, _accepted, idempotency_key(request), "/orders", body)


async def _run(writer: Caller, command: Command, respond: Respond, idempotency_key: str | None,
               path: str, body: Any) -> JSONResponse:
    """The response to `command`, run in the next group commit (answered as the first
    request with the same idempotency key was, when there is one). The response is made
    here, so FastAPI does not validate and encode it again."""
    if idempotency_key is None:
        status, headers, content = respond(await writer.api.commands.handle(command))
        return JSONResponse(content, status_code=status, headers=headers)
    request = Request(writer.principal.name, idempotency_key,
                      fingerprint("POST", path, body.model_dump(mode="json")))
    stored, replayed = await writer.api.commands.handle_idempotent(command, request, respond)
    return JSONResponse(dict(stored.body), status_code=stored.status,
                        headers={**stored.headers, REPLAYED: str(replayed).lower()})


def _accepted(order: Order) -> tuple[int, dict[str, str], dict[str, Any]]:
    accepted = OrderAccepted(id=order.id, status="pending")
    return 202, {"Location": f"/orders/{order.id}"}, accepted.model_dump(mode="json")


def fingerprint(method: str, path: str, body: Any) -> str:
    """The same request, whatever the order of its JSON keys or its whitespace."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@router.post("/orders/{order_id}/cancel", status_code=202, response_model=OrderOut,
             operation_id="cancel_order",
             responses={**declared(400, 401, 403, 404, 409, 413, 415, 422, 500, 503),
                        **links(202, **ORDER_LINKS)},
             openapi_extra={"parameters": [OPENAPI_PARAMETER]})
async def cancel_order(order_id: OrderId, body: CancelOrderRequest, writer: Writer,
                       request: HttpRequest) -> Any:
    """Cancel a pending or confirmed order, as the API key's name, for `reason`. The
    inventory then gives its stock back asynchronously: `cancellation.stock_released`.
    The same cancel again is a no-op; another on a cancelled or rejected order is 409."""
    command = CancelOrder(order_id=order_id, cancelled_by=writer.principal.name,
                          reason=body.reason)
    return await _run(writer, command, _cancelled, idempotency_key(request),
                      f"/orders/{order_id}/cancel", body)


def _cancelled(order: Order) -> tuple[int, dict[str, str], dict[str, Any]]:
    return 202, {"Location": f"/orders/{order.id}"}, OrderOut.of(order).model_dump(mode="json")


@router.get("/orders/{order_id}", response_model=OrderOut, operation_id="get_order",
            responses={**declared(401, 403, 404, 422, 500, 503), **links(200, **ORDER_LINKS)})
async def get_order(order_id: OrderId, reader: Reader) -> OrderOut:
    """The order and its status: pending, confirmed, rejected with the reason per line, or
    cancelled with who, why and whether the stock came back."""
    order = await reader.api.reads.order(order_id)
    if order is None:
        raise ProblemError(404, "not-found", "Not found", f"no order {order_id!r}")
    return OrderOut.of(order)

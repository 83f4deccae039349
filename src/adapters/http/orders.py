"""`POST /orders` and `GET /orders/{id}`."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, Security

from adapters.http.auth import Principal, requires
from adapters.http.problems import ProblemError, declared
from adapters.http.schemas import OrderAccepted, OrderOut, PlaceOrderRequest
from adapters.http.services import ApiServices, services
from domain.commands import PlaceOrder
from domain.values import MAX_ID_LENGTH, OrderLine

router = APIRouter(tags=["orders"])

OrderId = Annotated[str, Path(max_length=MAX_ID_LENGTH, description="The order's id.")]


@router.post("/orders", status_code=202, response_model=OrderAccepted,
             responses=declared(400, 401, 403, 409, 413, 415, 422, 500, 503))
async def place_order(
    body: PlaceOrderRequest,
    response: Response,
    api: Annotated[ApiServices, Depends(services)],
    principal: Annotated[Principal, Security(requires("orders:write"))],
) -> OrderAccepted:
    """Accept an order: it is stored with its `OrderPlaced` event in one transaction and
    settles (confirmed or rejected) asynchronously; follow it at `Location`."""
    order_id = str(uuid.uuid4())
    lines = tuple(OrderLine(line.sku, line.quantity) for line in body.lines)
    await api.commands.handle(PlaceOrder(order_id=order_id, customer_id=body.customer_id,
                                         lines=lines))
    response.headers["Location"] = f"/orders/{order_id}"
    return OrderAccepted(id=order_id, status="pending")


@router.get("/orders/{order_id}", response_model=OrderOut,
            responses=declared(401, 403, 404, 422, 500, 503))
async def get_order(
    order_id: OrderId,
    api: Annotated[ApiServices, Depends(services)],
    principal: Annotated[Principal, Security(requires("orders:read"))],
) -> OrderOut:
    """The order and its status: pending, confirmed, or rejected with the reason per line."""
    order = await api.reads.order(order_id)
    if order is None:
        raise ProblemError(404, "not-found", "Not found", f"no order {order_id!r}")
    return OrderOut.of(order)

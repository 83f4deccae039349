"""OpenAPI links: which operation a response's values lead to. Clients and tools follow them
(schemathesis's stateful phase places an order, then reads and cancels it)."""

from typing import Any


def links(status: int, **targets: tuple[str, dict[str, str]]) -> dict[int | str, dict[str, Any]]:
    """`responses` entry of `status`: each link named by its keyword, to an operation id,
    with the runtime expressions of its parameters."""
    return {status: {"links": {name: {"operationId": operation, "parameters": parameters}
                               for name, (operation, parameters) in targets.items()}}}


ORDER_ID = {"order_id": "$response.body#/id"}
# What an accepted or cancelled order leads to.
ORDER_LINKS = {"GetOrder": ("get_order", ORDER_ID), "CancelOrder": ("cancel_order", ORDER_ID)}
SKU = {"sku": "$response.body#/sku"}
STOCK_LINKS = {"GetStockItem": ("get_stock_item", SKU), "SetStockLevel": ("set_stock_level", SKU)}

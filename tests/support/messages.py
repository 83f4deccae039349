"""Commands, events and messages as the tests build and read them."""

from application.messages import InboundMessage
from domain.commands import PlaceOrder
from domain.events import OrderPlaced
from domain.values import OrderLine


def place_order(order_id: str, *lines: tuple[str, int],
                customer_id: str = "customer-1") -> PlaceOrder:
    """`place_order("o-1", ("SKU-A", 2))`: the command that places an order of those lines."""
    return PlaceOrder(order_id=order_id, customer_id=customer_id,
                      lines=tuple(OrderLine(sku, quantity) for sku, quantity in lines))


def order_placed(order_id: str, *lines: tuple[str, int],
                 customer_id: str = "customer-1") -> OrderPlaced:
    """`order_placed("o-1", ("SKU-A", 2))`: the event of an order placed with those lines."""
    return OrderPlaced(order_id=order_id, customer_id=customer_id,
                       lines=tuple(OrderLine(sku, quantity) for sku, quantity in lines))


def ce_id(message: InboundMessage) -> str:
    """The CloudEvents id a message carries in its `ce_id` header."""
    return dict(message.headers)["ce_id"].decode()

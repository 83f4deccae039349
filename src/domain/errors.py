"""Named domain errors: every broken rule has its own exception type."""


class DomainError(Exception):
    """A request that breaks a business rule. Permanent: retrying cannot fix it."""


class InvalidOrder(DomainError):
    """The order as a whole is malformed (no lines, too many lines, duplicate SKU)."""


class InvalidIdentifier(InvalidOrder):
    """An order or customer id that is empty, too long or holds control characters."""


class InvalidQuantity(DomainError):
    """A quantity outside the allowed range."""


class InvalidSku(DomainError):
    """A SKU that is empty or not of the accepted form."""


class InvalidTransition(DomainError):
    """An order status change that the life cycle does not allow."""


class OrderNotCancellable(InvalidTransition):
    """The order is rejected, or someone cancelled it already with another who or why."""


class InvalidCancellation(DomainError):
    """A cancellation without a proper who and why, or an order loaded half cancelled."""


class InvalidStockLevel(DomainError):
    """A stock level that is negative or below what is already reserved."""


class OrderNotFound(DomainError):
    """No order with that id exists."""


class OrderAlreadyExists(DomainError):
    """Another order with that id exists: an id names one order, whatever comes later."""

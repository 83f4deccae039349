"""Line rejections as the `rejections` JSON columns of orders and reservations hold them."""

from collections.abc import Iterable, Mapping
from typing import Any

from domain.values import LineRejection, RejectionReason


def line_rejection_rows(rejections: Iterable[LineRejection]) -> list[dict[str, Any]]:
    return [{"sku": r.sku, "reason": r.reason.value, "requested": r.requested,
             "available": r.available} for r in rejections]


def line_rejection(row: Mapping[str, Any]) -> LineRejection:
    return LineRejection(row["sku"], RejectionReason(row["reason"]), int(row["requested"]),
                         int(row["available"]))

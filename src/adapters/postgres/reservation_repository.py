"""Reservations, mapped by hand to and from `inventory.reservations`."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from adapters.postgres.arrays import arrays, insert_rows, json_texts, unnest, values
from adapters.postgres.rejections import line_rejection, line_rejection_rows
from adapters.postgres.statements import Write
from adapters.postgres.tables import reservations
from adapters.postgres.tracking import TrackingRepository
from domain.events import Event
from domain.inventory import Reservation, ReservationStatus
from domain.values import LineRejection, OrderLine

ReservationState = tuple[str, tuple[OrderLine, ...], tuple[LineRejection, ...]]
RESERVATION_KEYS = "reservation_keys"
_KEYS = sa.bindparam(RESERVATION_KEYS, type_=ARRAY(sa.Text))
_RESERVATION_COLUMNS = [reservations.c.order_id, reservations.c.status, reservations.c.lines,
                        reservations.c.rejections]
_INSERT_RESERVATIONS = insert_rows(reservations, _RESERVATION_COLUMNS, "reservation")
_RESERVATIONS_CHANGED = unnest(*_RESERVATION_COLUMNS, sa.Column("old_status", sa.Text),
                               name="changed_reservation")
_UPDATE_RESERVATIONS = (
    sa.update(reservations)
    .where(reservations.c.order_id == _RESERVATIONS_CHANGED.c.order_id,
           reservations.c.status == _RESERVATIONS_CHANGED.c.old_status)
    .values({c.name: v for c, v in zip(_RESERVATION_COLUMNS[1:],
                                       values(_RESERVATIONS_CHANGED, _RESERVATION_COLUMNS[1:]),
                                       strict=True)}))
_RESERVATIONS = sa.select(*_RESERVATION_COLUMNS).where(reservations.c.order_id == sa.any_(_KEYS))


class SqlAlchemyReservationRepository(TrackingRepository[Reservation, ReservationState]):
    aggregate_type = "Reservation"
    preloading = peeking = _RESERVATIONS
    keys_param = RESERVATION_KEYS

    async def get(self, order_id: str) -> Reservation | None:
        self._hand_out(order_id)
        if not self._knows(order_id):
            await self.preload([order_id])
        return self._seen.get(order_id)

    def wanted(self, keys: Collection[str]) -> list[str]:
        return [order_id for order_id in keys if not self._knows(order_id)]

    def loaded(self, wanted: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self._track_loaded(_reservation(row))
        self._track_absent(wanted)

    def _key(self, aggregate: Reservation) -> str:
        return aggregate.order_id

    def _state(self, aggregate: Reservation) -> ReservationState:
        return aggregate.status.value, aggregate.lines, aggregate.rejections

    def _apply(self, aggregate: Reservation, state: ReservationState) -> None:
        status, aggregate.lines, aggregate.rejections = state
        aggregate.status = ReservationStatus(status)

    def _events(self, aggregate: Reservation) -> list[Event]:
        return aggregate.events

    async def _insert(self, aggregates: list[Reservation]) -> Write:
        for reservation in aggregates:
            self._written[reservation.order_id] = self._state(reservation)
        return Write(_INSERT_RESERVATIONS, arrays("reservation", _rows(aggregates)))

    def _update(self, changes: list[tuple[Reservation, ReservationState]]) -> Write:
        rows = _rows([reservation for reservation, _ in changes])
        rows["old_status"] = [old[0] for _, old in changes]
        return Write(_UPDATE_RESERVATIONS, arrays("changed_reservation", rows))


def _rows(aggregates: list[Reservation]) -> dict[str, list[Any]]:
    return {"order_id": [r.order_id for r in aggregates],
            "status": [r.status.value for r in aggregates],
            "lines": json_texts(_lines(r) for r in aggregates),
            "rejections": json_texts(line_rejection_rows(r.rejections) for r in aggregates)}


def _lines(reservation: Reservation) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity} for line in reservation.lines]


def _reservation(row: Any) -> Reservation:
    return Reservation(
        order_id=row["order_id"],
        status=ReservationStatus(row["status"]),
        lines=tuple(OrderLine(line["sku"], line["quantity"]) for line in row["lines"]),
        rejections=tuple(line_rejection(r) for r in row["rejections"]),
    )

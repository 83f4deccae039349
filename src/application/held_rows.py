"""Rows another transaction holds, as parking passes find them: a stuck row (a SKU) blocks
every key that needs it, not only the key whose batch kept failing."""

from application.errors import RowsHeld
from application.parking import ParkingPass
from application.ports.unit_of_work import Footprint, UnitOfWork


class HeldRows:
    """What the last parking pass found held, and the pass a batch that needs any of it is
    applied as at once: its messages that need those rows are parked without failing
    first (each would otherwise hold up its partition for the policy's attempts).

    Only a pass the policy asked for (its batch failed, `attempts` above 0) learns of rows
    held. A pass for rows already known forgets those it finds free, and waits, as outside
    a pass, for a row it finds held that was not known (another worker's transaction holds
    it for a moment): such a row does not make every later batch that needs it a pass.
    """

    def __init__(self) -> None:
        self._held = Footprint()
        self._pass: ParkingPass | None = None

    @property
    def known(self) -> bool:
        """Whether any row is known to be held (checked before a batch's footprint is)."""
        return self._pass is not None

    def pass_for(self, needs: Footprint) -> ParkingPass | None:
        """The pass a batch that needs `needs` is applied as, or None (as it is)."""
        return self._pass if self._pass is not None and needs.overlap(self._held) else None

    async def lock(self, uow: UnitOfWork, parking: ParkingPass, needs: Footprint) -> Footprint:
        """Lock what the pass needs without waiting; the rows another transaction holds."""
        held = await uow.preload_free(needs)
        if parking.attempts == 0:
            known = Footprint(orders=held.orders & self._held.orders,
                              stock=held.stock & self._held.stock,
                              reservations=held.reservations & self._held.reservations)
            await uow.preload(Footprint(orders=held.orders - known.orders,
                                        stock=held.stock - known.stock))
            held = known
        self._held = held
        self._pass = ParkingPass(0, "", parking.backoff) if held.overlap(held) else None
        return held


def check_free(needs: Footprint, held: Footprint) -> None:
    """Raise `RowsHeld` when `needs` names rows another transaction holds."""
    blocked = needs.overlap(held)
    if blocked:
        raise RowsHeld(f"{', '.join(sorted(blocked))} held by another transaction")

"""The idempotent inbox: one row per (consumer group, message id) ever processed."""

from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.tables import INBOX, INVENTORY
from adapters.postgres.transaction import Transaction


class SqlAlchemyInbox:
    """Rows go to `schema`'s inbox; with no schema given, to the inbox of the schema named
    like the consumer group (`orders`, `inventory`), or else to `inventory`'s."""

    def __init__(self, transaction: Transaction, schema: str | None = None) -> None:
        self._tx = transaction
        self._schema = schema

    async def record(self, consumer_group: str, message_id: str) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING: a row back means "first time".

        When two transactions record the same id at once, the second waits on the
        primary key until the first ends: if it committed, the second gets no row back
        and treats the message as done; if it rolled back, the second records it.
        """
        table = INBOX[self._schema or (consumer_group if consumer_group in INBOX else INVENTORY)]
        statement = (
            insert(table)
            .values(consumer_group=consumer_group, message_id=message_id)
            .on_conflict_do_nothing(index_elements=[table.c.consumer_group, table.c.message_id])
            .returning(table.c.message_id)
        )
        return (await self._tx.execute(statement)).first() is not None

"""PostgreSQL adapters: SQLAlchemy 2 Core on asyncpg, schema owned by Alembic migrations.

See docs/postgres.md for the schema, the outbox's gap-safe read and the lock order.
"""

from adapters.postgres.engine import create_engine
from adapters.postgres.outbox_reader import PostgresOutboxReader
from adapters.postgres.uow import SerialUnitsOfWork, SqlAlchemyUnitOfWork

__all__ = ["PostgresOutboxReader", "SerialUnitsOfWork", "SqlAlchemyUnitOfWork", "create_engine"]

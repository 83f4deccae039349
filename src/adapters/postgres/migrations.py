"""Run the Alembic migrations in `migrations/` programmatically.

Alembic's env.py drives asyncpg with `asyncio.run`, which cannot run inside an event
loop, so every command runs in a worker thread of its own. That makes these functions
callable from plain code and from a coroutine alike (they block the caller until done).
"""

import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from adapters.postgres.engine import async_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`."""
    config = alembic_config(url)
    _in_thread(lambda: command.upgrade(config, revision))


def downgrade(url: str, revision: str = "-1") -> None:
    """Migrate the database at `url` down to `revision` (default: one step)."""
    config = alembic_config(url)
    _in_thread(lambda: command.downgrade(config, revision))


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def _in_thread(run: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=target, name="alembic", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]

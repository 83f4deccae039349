"""A throwaway PostgreSQL cluster on 127.0.0.1 with a database and a password user for tests."""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from orderstream_dev.infra import postgres_server as server
from orderstream_dev.infra.process_control import InfraError, port_open, read_pid, runs, terminate
from orderstream_dev.infra.tls import Authority

HOST = "127.0.0.1"

_SETTINGS = """
# orderstream test cluster
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_preload_libraries = 'pg_stat_statements'
"""

# Logical decoding, for Debezium's connector (`orderstream infra up --connect`): measured to
# cost the flow nothing (docs/infrastructure.md). A replication slot left behind by a test
# that died may hold at most this much WAL here, where the data is thrown away anyway; a
# production server keeps the default, unlimited (docs/operations.md says why).
_LOGICAL = """
# orderstream logical decoding
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_slot_wal_keep_size = 2GB
"""
_LOGICAL_MARK = "# orderstream logical decoding"

_TLS = """
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
"""


@dataclass(frozen=True, slots=True)
class PostgresNode:
    """A cluster whose superuser is `user`; only TCP on 127.0.0.1, password authentication.

    With `tls`, the server also speaks TLS, with a certificate for 127.0.0.1 and localhost
    from a CA of its own (`authority`); clients trust it with `?ssl=verify-full` and
    PGSSLROOTCERT naming the CA's certificate.
    """

    home: Path
    port: int = 15432
    user: str = "orderstream"
    password: str = "orderstream"
    database: str = "orderstream"
    tls: bool = False

    @property
    def authority(self) -> Authority:
        return Authority(self.home / "tls")

    @property
    def database_url(self) -> str:
        return (f"postgresql+asyncpg://{self.user}:{self.password}"
                f"@{HOST}:{self.port}/{self.database}")

    @property
    def data_dir(self) -> Path:
        """`home/data`, or a directory under /var/tmp when the service user cannot reach home."""
        pointer = self.home / "data-dir"
        if pointer.is_file():
            return Path(pointer.read_text().strip())
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def pid(self) -> int | None:
        pid = read_pid(self.data_dir / "postmaster.pid")
        return pid if runs(pid, "postgres") else None

    def is_running(self) -> bool:
        return self.pid() is not None and port_open(HOST, self.port)

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster once, start it unless it runs, and make sure the database exists.

        A server of someone else's on the port (another checkout's) is left alone: no
        cluster is created beside it, and the error says so."""
        if not self.is_running():
            if port_open(HOST, self.port):
                raise InfraError(f"port {HOST}:{self.port} is taken by a server that is not "
                                 f"the one in {self.data_dir}: use it through DATABASE_URL, "
                                 "or stop it first")
            if not (self.data_dir / "PG_VERSION").is_file():
                self._initdb()
            self._logical_decoding()
            server.run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                       "-w", "-t", str(int(timeout)), "start")
        self._ensure_database()

    def wal_level(self) -> str:
        """The running server's `wal_level` (`logical` once this tooling configured it)."""
        return self._psql("SHOW wal_level").strip()

    def require_logical_decoding(self) -> None:
        """Refuse, saying what to do, a server that runs without `wal_level = logical` (one
        started before the setting was added: it takes it at its next start)."""
        level = self.wal_level()
        if level != "logical":
            raise InfraError(
                f"PostgreSQL on {HOST}:{self.port} runs with wal_level={level}; Debezium reads "
                "the outboxes by logical decoding: restart it to take wal_level=logical "
                "(orderstream infra down --no-kafka, then orderstream infra up --connect)")

    def stop(self, timeout: float = 60.0) -> bool:
        """Fast shutdown (SIGINT: roll back open sessions), wait; False when not running."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid, timeout, sig=signal.SIGINT)
        return True

    def _initdb(self) -> None:
        data = self._choose_data_dir()
        password_file = data.parent / "initdb-password"
        password_file.write_text(self.password + "\n")
        server.give_to_service_user(password_file)
        try:
            server.run("initdb", "-D", str(data), "-U", self.user, f"--pwfile={password_file}",
                       "--auth=scram-sha-256", "-E", "UTF8", "--no-locale")
        finally:
            password_file.unlink(missing_ok=True)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(_SETTINGS.format(port=self.port))
            if self.tls:
                conf.write(_TLS)
        if self.tls:
            self._certificate(data)

    def _logical_decoding(self) -> None:
        """`wal_level = logical` in the configuration, also of a cluster made before it was
        there (it takes effect at this start)."""
        conf = self.data_dir / "postgresql.conf"
        if _LOGICAL_MARK not in conf.read_text():
            with open(conf, "a") as appended:
                appended.write(_LOGICAL)

    def _certificate(self, data: Path) -> None:
        """The server's key and certificate in the data directory, owned by the server."""
        key, certificate = self.authority.create().issue("postgres",
                                                         hosts=(HOST, "localhost"))
        for source, target in ((key, data / "server.key"), (certificate, data / "server.crt")):
            shutil.copyfile(source, target)
            target.chmod(0o600)
            server.give_to_service_user(target)

    def _choose_data_dir(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        server.give_to_service_user(self.home)
        root = self.home
        if not server.service_user_can_write(root):
            root = Path(f"/var/tmp/orderstream-pg-{self.port}")
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            server.give_to_service_user(root)
        (self.home / "data-dir").write_text(f"{root / 'data'}\n")
        return root / "data"

    def _ensure_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
        if exists.strip() != "1":
            server.run("createdb", *self._connection(), self.database,
                       env={"PGPASSWORD": self.password})

    def _psql(self, sql: str) -> str:
        return server.run("psql", *self._connection(), "-d", "postgres", "-tAc", sql,
                          env={"PGPASSWORD": self.password})

    def _connection(self) -> list[str]:
        return ["-h", HOST, "-p", str(self.port), "-U", self.user]

"""PgBouncer (Debian's `pgbouncer`) on 127.0.0.1 in transaction mode, in front of the local
PostgreSQL: every database of that server through one port. Prepared, started detached,
waited for, stopped. Its settings are the production ones of deploy/pgbouncer/, with the
addresses of this machine (docs/scaling.md#pgbouncer)."""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from orderstream.cli.checkout import project_root
from orderstream_dev.infra import postgres_server as server
from orderstream_dev.infra.process_control import (
    InfraError,
    port_open,
    read_pid,
    runs,
    spawn_detached,
    terminate,
    wait_until,
)

HOST = "127.0.0.1"
# What the service's sessions get at connect when no pooler is between (engine.SessionLimits):
# through a transaction-mode pooler, each server connection gets them once, here.
CONNECT_QUERY = ("SET statement_timeout = 30000; SET lock_timeout = 10000; "
                 "SET idle_in_transaction_session_timeout = 60000")


@dataclass(frozen=True, slots=True)
class PgBouncer:
    """PgBouncer on `port`, pooling connections to the PostgreSQL on `server_port` in
    `pool_mode` (transaction: a server connection per transaction). Clients authenticate
    with SCRAM as `user`; PgBouncer logs in to the server as the same user."""

    home: Path
    port: int = 16432
    server_host: str = HOST
    server_port: int = 15432
    user: str = "orderstream"
    password: str = "orderstream"
    pool_mode: str = "transaction"
    pool_size: int = 20

    @property
    def pid_file(self) -> Path:
        return self.home / "pgbouncer.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "pgbouncer.log"

    @property
    def config_file(self) -> Path:
        return self.home / "pgbouncer.ini"

    def database_url(self, database: str = "orderstream") -> str:
        return (f"postgresql+asyncpg://{self.user}:{self.password}@{HOST}:{self.port}"
                f"/{database}")

    def url_of(self, database_url: str) -> str:
        """`database_url`'s database (on the server behind this PgBouncer) through it."""
        parsed = make_url(database_url)
        return self.database_url(str(parsed.database or "orderstream"))

    def config(self) -> str:
        """deploy/pgbouncer/pgbouncer.ini with this machine's addresses, files and sizes."""
        local = {
            "listen_addr": HOST, "listen_port": str(self.port), "unix_socket_dir": "",
            "auth_file": str(self.home / "userlist.txt"), "logfile": str(self.log_file),
            "pidfile": "", "pool_mode": self.pool_mode,
            "default_pool_size": str(self.pool_size),
        }
        lines, section = [], ""
        deployed = project_root() / "deploy" / "pgbouncer" / "pgbouncer.ini"
        for line in deployed.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped
            key = stripped.split("=", 1)[0].strip()
            if section == "[databases]" and stripped.startswith("*"):
                line = (f"* = host={self.server_host} port={self.server_port} "
                        f"connect_query='{CONNECT_QUERY}'")
            elif section == "[pgbouncer]" and key in local and not stripped.startswith(";"):
                line = f"{key} = {local.pop(key)}"
            lines.append(line)
        lines += [f"{key} = {value}" for key, value in local.items()]
        return "\n".join(lines) + "\n"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if runs(pid, "pgbouncer") else None

    def is_running(self) -> bool:
        return self.pid() is not None and port_open(HOST, self.port)

    def start(self, timeout: float = 30.0) -> None:
        """Start PgBouncer unless it runs; return once it accepts connections."""
        if self.is_running():
            return
        if self.pid() is None:
            if port_open(HOST, self.port):
                raise InfraError(f"port {HOST}:{self.port} is taken by another process")
            pgbouncer = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
            if not Path(pgbouncer).exists():
                raise InfraError("pgbouncer not found: apt-get install -y pgbouncer")
            self._prepare()
            # PgBouncer refuses to run as root: as root, it runs as the service user.
            prefix = (["setpriv", f"--reuid={server.SERVICE_USER}",
                       f"--regid={server.SERVICE_USER}", "--init-groups", "--"]
                      if server.as_root() else [])
            pid = spawn_detached([*prefix, pgbouncer, str(self.config_file)],
                                 self.home / "console.log")
            self.pid_file.write_text(f"{pid}\n")
        wait_until(lambda: port_open(HOST, self.port), timeout,
                   f"PgBouncer on {HOST}:{self.port} (log: {self.log_file})",
                   failed=lambda: self.pid() is None)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGINT: PgBouncer's safe shutdown (waits for the transactions in flight)."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout, sig=signal.SIGINT)
        return True

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        userlist = self.home / "userlist.txt"
        userlist.write_text(f'"{self.user}" "{self.password}"\n')
        userlist.chmod(0o600)
        self.config_file.write_text(self.config())
        for path in (self.home, userlist, self.config_file):
            server.give_to_service_user(path)
        self.log_file.touch()
        server.give_to_service_user(self.log_file)

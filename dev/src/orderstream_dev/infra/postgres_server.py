"""Where PostgreSQL's programs are and how to run them as a user that initdb accepts.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` OS user, and the
data directory must be one that user can reach and own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from orderstream_dev.infra.process_control import InfraError

SERVICE_USER = "postgres"


def bin_dir() -> Path:
    """`$ORDERSTREAM_PG_BIN`, else the newest Debian cluster, else whatever is on PATH."""
    configured = os.environ.get("ORDERSTREAM_PG_BIN")
    if configured:
        return Path(configured)
    debian = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if debian:
        return max(debian, key=_major_version)
    found = shutil.which("initdb")
    if found is None:
        raise InfraError("PostgreSQL server programs not found: apt-get install -y postgresql")
    return Path(found).parent


def _major_version(bin_path: Path) -> int:
    name = bin_path.parent.name
    return int(name) if name.isdigit() else 0


def as_root() -> bool:
    return os.geteuid() == 0


def run(program: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL program, as the service user when we are root; return its stdout."""
    command = [str(bin_dir() / program), *args]
    if as_root():
        command = ["runuser", "-u", SERVICE_USER, "--", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                env={**os.environ, **(env or {})}, cwd="/")
    except FileNotFoundError as error:
        raise InfraError(f"{command[0]} not found: apt-get install -y postgresql") from error
    if result.returncode != 0:
        raise InfraError(f"{program} failed: {result.stdout}{result.stderr}")
    return result.stdout


def give_to_service_user(path: Path) -> None:
    if as_root():
        shutil.chown(path, SERVICE_USER, SERVICE_USER)


def service_user_can_write(path: Path) -> bool:
    if not as_root():
        return os.access(path, os.W_OK | os.X_OK)
    try:
        check = subprocess.run(["runuser", "-u", SERVICE_USER, "--", "test", "-w", str(path)],
                               capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return check.returncode == 0

"""HTTP servers of a bench run: `orderstream serve` with a key of the run, the bare
endpoint, and the load generator pointed at either."""

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.http.auth import hash_key
from orderstream_dev.bench import processes
from orderstream_dev.bench.http_client import get_status
from orderstream_dev.infra.process_control import free_port

HOST = processes.HOST
START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str

    @classmethod
    def new(cls) -> "ApiKey":
        return cls(secrets.token_urlsafe(32))

    def setting(self) -> str:
        return json.dumps([{"name": "bench", "sha256": hash_key(self.key),
                            "scopes": ["orders:write", "orders:read"]}])


async def start_api(workdir: Path, name: str, key: ApiKey,
                    **settings: str) -> tuple[processes.Process, int]:
    port = free_port()
    api = await processes.start(name, processes.orderstream_command(
        "serve", "--port", str(port)), processes.service_env(
        **{"store": "postgres", **settings, "api_keys": key.setting()}), workdir)
    await serving(api, port)
    return api, port


async def start_bare(workdir: Path) -> tuple[processes.Process, int]:
    port = free_port()
    bare = await processes.start("bare-api", processes.python_module(
        "orderstream_dev.bench.bare_api", str(port)), processes.service_env(), workdir)
    await serving(bare, port)
    return bare, port


async def serving(process: processes.Process, port: int) -> None:
    """Until `process` answers on `port`; stopped, and the error raised, if it never does."""
    try:
        await _answering(process, port)
    except BaseException:
        await process.stop()
        raise


async def _answering(process: processes.Process, port: int) -> None:
    async with asyncio.timeout(START_TIMEOUT_S):
        while True:
            process.check_running()
            try:
                if await get_status(HOST, port, "/openapi.json") == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)


async def load(workdir: Path, port: int, key: ApiKey, *args: str) -> dict[str, Any]:
    """Run the load generator against `port` with `args`; its result."""
    result_path = workdir / "loadgen.json"
    generator = await processes.start("loadgen", processes.python_module(
        "orderstream_dev.bench.loadgen", HOST, str(port), str(result_path),
        f"--api-key={key.key}", *args), processes.service_env(), workdir)
    await generator.finished(600.0)
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result

"""Where a process spends its time, sampled with py-spy while it works (when py-spy is
installed: it is in the dev dependencies).

py-spy reads the process's memory from outside without stopping it (`--nonblocking`), so
the profiled round is timed like the others. Each sample is put down to the library its
innermost Python frame belongs to, and to that function.
"""

import asyncio
import contextlib
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

RATE_HZ = 100
TOP = 8
STOP_TIMEOUT_S = 30.0
PLACES = (
    ("/asyncpg/", "asyncpg"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/aiokafka/", "aiokafka"),
    ("/kafka/", "aiokafka"),
    ("/opentelemetry/", "OpenTelemetry"),
    ("/prometheus_client/", "prometheus_client"),
    ("/fastapi/", "FastAPI, Starlette, uvicorn, pydantic"),
    ("/starlette/", "FastAPI, Starlette, uvicorn, pydantic"),
    ("/uvicorn/", "FastAPI, Starlette, uvicorn, pydantic"),
    ("/h11/", "FastAPI, Starlette, uvicorn, pydantic"),
    ("/pydantic", "FastAPI, Starlette, uvicorn, pydantic"),
    ("/uvloop/", "event loop (uvloop, asyncio)"),
    ("/asyncio/", "event loop (uvloop, asyncio)"),
    ("/src/domain/", "orderstream domain and application"),
    ("/src/application/", "orderstream domain and application"),
    ("/src/adapters/", "orderstream adapters"),
    ("/src/orderstream/", "orderstream processes"),
    ("/json/", "json, logging and the rest of the standard library"),
    ("/logging/", "json, logging and the rest of the standard library"),
    ("/lib/python3", "json, logging and the rest of the standard library"),
)


def py_spy() -> str | None:
    """The py-spy next to this interpreter, or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.asynccontextmanager
async def profiled(pid: int, output: Path, into: dict[str, Any]) -> AsyncIterator[None]:
    """Samples `pid` while the block runs; `into` gets `summary` of them (nothing when
    py-spy is missing or cannot attach)."""
    spy = py_spy()
    if spy is None:
        yield
        return
    recorder = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--nonblocking",
        "--function", "--full-filenames", "--format", "raw", "--output", str(output),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        yield
    finally:
        if recorder.returncode is None:
            recorder.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.wait(), STOP_TIMEOUT_S)
        with contextlib.suppress(FileNotFoundError):
            into.update(summary(await asyncio.to_thread(output.read_text)))


def summary(collapsed: str) -> dict[str, Any]:
    """Of py-spy's collapsed stacks (`frame;frame;... count` per line): the share of
    samples per library and per function, by innermost frame."""
    places: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        places[place(leaf)] += int(count)
        functions[function(leaf)] += int(count)
    total = sum(places.values())
    if not total:
        return {}
    return {"samples": total,
            "by_library": {name: round(n / total, 3) for name, n in places.most_common()},
            "top_functions": {name: round(n / total, 3) for name, n in functions.most_common(TOP)}}


def place(frame: str) -> str:
    path = frame[frame.rfind("(") + 1:]
    for marker, name in PLACES:
        if marker in path:
            return name
    return "other"


def function(frame: str) -> str:
    """`name (path/to/package/module.py:12)` as `name (package/module.py)`."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    for root in ("site-packages/", "/src/", "/lib/python3"):
        if root in path:
            path = path.split(root, 1)[1]
            break
    path = re.sub(r"^\.\d+/", "", path)
    return f"{name} ({path.lstrip('/')})" if path else name

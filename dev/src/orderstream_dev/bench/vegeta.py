"""vegeta (github.com/tsenart/vegeta), the live flow's load generator: Go, open loop, a
fraction of the API's CPU per request.

Its version and every module it is built from are pinned by `dev/tools/vegeta` (go.mod,
go.sum); it is built from the Go module proxy with the machine's Go, once per version of
those files, into the orderstream cache (`go build -mod=readonly`: go.sum is never
rewritten). An attack sends one target of a file per request at a constant rate, a
request whenever it is due whether or not earlier ones were answered (a worker and a
connection more when all are busy), and records each answer: when it was sent, its
status and its latency.
"""

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from orderstream_dev.infra import layout

SOURCE = Path(__file__).resolve().parents[3] / "tools" / "vegeta"
PACKAGE = "github.com/tsenart/vegeta/v12"
GO_FALLBACK = Path("/usr/local/go/bin/go")
BUILD_TIMEOUT_S = 600


class VegetaUnavailable(RuntimeError):
    """vegeta could not be built: no Go, or the module proxy could not be reached."""


def binary() -> Path:
    """The pinned vegeta, built the first time."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "tools.go"):
        digest.update((SOURCE / name).read_bytes())
    target = layout.cache_dir() / "bench" / f"vegeta-{digest.hexdigest()[:16]}"
    if target.is_file():
        return target
    go = shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.is_file() else None)
    if go is None:
        raise VegetaUnavailable("Go is needed to build vegeta, the flow's load generator: "
                                "apt-get install golang-go (1.23 or newer)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        built = Path(work) / "vegeta"
        env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"}
        result = subprocess.run([go, "build", "-trimpath", "-o", str(built), PACKAGE],
                                cwd=SOURCE, env=env, capture_output=True, text=True,
                                timeout=BUILD_TIMEOUT_S, check=False)
        if result.returncode != 0:
            raise VegetaUnavailable(f"go build of vegeta ({SOURCE}) failed:\n{result.stderr}")
        os.replace(built, target)
    return target


async def attack(vegeta: Path, targets: Path, rate: int, count: int, timeout_s: float,
                 connections: int, results: Path) -> None:
    """Send the `count` targets of `targets` at `rate` a second, each once, in order;
    wait for every answer (or `timeout_s`). Its results are written to `results`.
    `connections`: at most this many at once (0: no limit, a new one whenever none is
    idle, so that no request waits in the generator)."""
    # Request k goes out (k + 1) / rate after the start, while the time passed is at most
    # the duration: half an interval past the last one, so that there are `count`.
    duration_us = int((count - 0.5) / rate * 1e6)
    process = await asyncio.create_subprocess_exec(
        str(vegeta), "attack", "-format=json", f"-targets={targets}", f"-rate={rate}/1s",
        f"-duration={duration_us}us", "-max-body=0", f"-timeout={timeout_s:g}s",
        f"-max-connections={connections}", "-http2=false", f"-output={results}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, error = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"vegeta attack failed ({process.returncode}): {error.decode()}")


async def as_csv(vegeta: Path, results: Path) -> str:
    """The results as vegeta's CSV: timestamp (ns), code, latency (ns), bytes out, bytes
    in, error, body, attack, seq, method, url, headers."""
    process = await asyncio.create_subprocess_exec(
        str(vegeta), "encode", "-to=csv", str(results),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, error = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"vegeta encode failed: {error.decode()}")
    return out.decode()

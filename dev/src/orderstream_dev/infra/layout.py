"""Where the local services keep their state and caches."""

from __future__ import annotations

import os
from pathlib import Path

from orderstream.cli.checkout import project_root


def state_dir() -> Path:
    """Data, pid files and logs: `$ORDERSTREAM_INFRA_DIR` or `<project>/.infra`."""
    configured = os.environ.get("ORDERSTREAM_INFRA_DIR")
    return Path(configured).resolve() if configured else project_root() / ".infra"


def cache_dir() -> Path:
    """Downloads kept between runs: `$XDG_CACHE_HOME/orderstream` or `~/.cache/orderstream`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "orderstream"

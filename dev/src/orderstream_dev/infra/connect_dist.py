"""Kafka Connect with Debezium's PostgreSQL connector, from Maven Central, cached between runs.

Three directories under the cache, each fetched or built once:
- `connect-<kafka>/libs`: Kafka Connect's worker (`connect-runtime`, the same Kafka version
  as the broker) with log4j2 behind SLF4J 1.7, as the broker has it;
- `connect-<kafka>/debezium-postgres-<debezium>`: the connector's plugin directory, its
  runtime jars without Kafka's and SLF4J's own (the worker provides those);
- `connect-<kafka>/outbox-headers-<digest>`: orderstream's single-message transform
  (`deploy/debezium/outbox-headers`), built with its tests by Maven and kept under the
  digest of its sources, beside its runtime jars (Jackson): a plugin directory of its own.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orderstream.cli.checkout import project_root
from orderstream_dev.infra.kafka_dist import KAFKA_VERSION, LOG4J_VERSION
from orderstream_dev.infra.maven import copy_dependencies, run_maven

DEBEZIUM_VERSION = "3.7.1.Final"
TRANSFORM_MODULE = Path("deploy/debezium/outbox-headers")
TRANSFORM_CLASS = "orderstream.connect.OutboxHeaders"

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>orderstream.local</groupId>
  <artifactId>{artifact}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
_DEPENDENCY = """    <dependency>
      <groupId>{0}</groupId><artifactId>{1}</artifactId><version>{2}</version>
    </dependency>"""

WORKER = (
    ("org.apache.kafka", "connect-runtime", KAFKA_VERSION),
    ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
    ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
    ("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION),
)
CONNECTOR = (("io.debezium", "debezium-connector-postgres", DEBEZIUM_VERSION),)
# What the worker's class loader gives every plugin: a plugin's own copy would be ignored.
PROVIDED_GROUPS = "org.apache.kafka,org.slf4j"


@dataclass(frozen=True, slots=True)
class ConnectInstall:
    """The worker's classpath and the plugin directories it loads."""

    libs: Path
    plugins: tuple[Path, ...]


def pom(artifact: str, dependencies: tuple[tuple[str, str, str], ...]) -> str:
    listed = "\n".join(_DEPENDENCY.format(*coordinates) for coordinates in dependencies)
    return _POM.format(artifact=artifact, dependencies=listed)


def distribution_dir(cache: Path) -> Path:
    return cache / f"connect-{KAFKA_VERSION}"


def libs_dir(cache: Path) -> Path:
    return distribution_dir(cache) / "libs"


def connector_dir(cache: Path) -> Path:
    return distribution_dir(cache) / f"debezium-postgres-{DEBEZIUM_VERSION}"


def transform_dir(cache: Path, module: Path | None = None) -> Path:
    return distribution_dir(cache) / f"outbox-headers-{sources_digest(module)}"


def sources_digest(module: Path | None = None) -> str:
    """A digest of the transform's pom and sources: a changed source is built again."""
    root = module or project_root() / TRANSFORM_MODULE
    digest = hashlib.sha256()
    for path in sorted([root / "pom.xml", *(root / "src").rglob("*")]):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def is_installed(cache: Path) -> bool:
    return all(_done(path).is_file() for path in (libs_dir(cache), connector_dir(cache),
                                                  transform_dir(cache)))


def install(cache: Path) -> ConnectInstall:
    """Fetch the worker and the connector, build the transform; each only once."""
    _fetched(libs_dir(cache), pom("connect-worker", WORKER), "fetching Kafka Connect")
    _fetched(connector_dir(cache), pom("debezium-postgres", CONNECTOR),
             f"fetching Debezium {DEBEZIUM_VERSION}", f"-DexcludeGroupIds={PROVIDED_GROUPS}")
    return ConnectInstall(libs_dir(cache), (connector_dir(cache), build_transform(cache)))


def build_transform(cache: Path, module: Path | None = None) -> Path:
    """`mvn package` (its tests included) of the transform in a copy of its module, and the
    jar with its runtime dependencies in a plugin directory named by its sources' digest."""
    root = module or project_root() / TRANSFORM_MODULE
    target = transform_dir(cache, root)
    if _done(target).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        copy = Path(work) / "module"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("target"))
        staging = Path(work) / "plugin"
        what = "building the outbox-headers transform (deploy/debezium/outbox-headers)"
        run_maven(what, "package", cwd=copy)
        run_maven(what, "dependency:copy-dependencies", "-DincludeScope=runtime",
                  f"-DoutputDirectory={staging}", cwd=copy)
        shutil.copy2(next((copy / "target").glob("outbox-headers-*.jar")), staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    _done(target).write_text(sources_digest(root) + "\n")
    return target


def _fetched(output: Path, pom_text: str, what: str, *options: str) -> None:
    if _done(output).is_file():
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent) as work:
        staging = Path(work) / "jars"
        copy_dependencies(Path(work), staging, pom_text, what, *options)
        shutil.rmtree(output, ignore_errors=True)
        staging.rename(output)
    _done(output).write_text(pom_text)


def _done(directory: Path) -> Path:
    """The marker of a directory completely fetched or built, beside it (a plugin
    directory holds jars only)."""
    return directory.with_name(directory.name + ".complete")

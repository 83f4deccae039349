"""Assemble an Apache Kafka broker classpath from Maven Central and cache it between runs.

The `kafka_2.13` artifact brings the whole broker at runtime scope except a logging backend, so
log4j2 with its SLF4J 1.7 binding (what Kafka 4.1 still uses) is added beside it.

The command-line tools (`kafka-console-consumer`'s `ConsoleConsumer`, which the interop tests
run as the Java client) are in `kafka-tools`, fetched alone into `tools/` beside `libs/`: the
broker's jars hold everything else it needs, and a broker running from `libs/` is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from orderstream_dev.infra.maven import DEPENDENCY_PLUGIN_VERSION, copy_dependencies

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"

_DEPENDENCIES = (
    ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
    ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
    ("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION),
)

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>orderstream.local</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""

_WHAT = f"fetching Kafka {KAFKA_VERSION}"
TOOLS_ARTIFACT = ("org.apache.kafka", "kafka-tools", KAFKA_VERSION)
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"

_DEPENDENCY = """    <dependency>
      <groupId>{0}</groupId><artifactId>{1}</artifactId><version>{2}</version>
    </dependency>"""


def broker_pom() -> str:
    return _pom(_DEPENDENCIES)


def tools_pom() -> str:
    return _pom((TOOLS_ARTIFACT,))


def _pom(dependencies: tuple[tuple[str, str, str], ...]) -> str:
    listed = "\n".join(_DEPENDENCY.format(*coordinates) for coordinates in dependencies)
    return _POM.format(kafka=KAFKA_VERSION, dependencies=listed,
                       plugin=DEPENDENCY_PLUGIN_VERSION)


def distribution_dir(cache: Path) -> Path:
    return cache / f"kafka-{KAFKA_VERSION}"


def libs_dir(cache: Path) -> Path:
    return distribution_dir(cache) / "libs"


def tools_dir(cache: Path) -> Path:
    return distribution_dir(cache) / "tools"


def is_installed(cache: Path) -> bool:
    return (distribution_dir(cache) / "COMPLETE").is_file()


def tools_installed(cache: Path) -> bool:
    return (tools_dir(cache) / "COMPLETE").is_file()


def tools_classpath(cache: Path) -> str:
    """The Java classpath of the command-line tools: the broker's jars and `kafka-tools`."""
    return f"{libs_dir(cache)}/*:{tools_dir(cache)}/*"


def install(cache: Path) -> Path:
    """Download the broker's jars once; later calls return the cached `libs` directory."""
    if is_installed(cache):
        return libs_dir(cache)
    target = distribution_dir(cache)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as work:
        staging = Path(work) / "libs"
        copy_dependencies(Path(work), staging, broker_pom(), _WHAT)
        shutil.rmtree(libs_dir(cache), ignore_errors=True)
        staging.rename(libs_dir(cache))
    (target / "COMPLETE").write_text(broker_pom())
    return libs_dir(cache)


def install_tools(cache: Path) -> Path:
    """Download `kafka-tools` (without its dependencies, which the broker's jars hold) once,
    after the broker's jars; later calls return the cached `tools` directory."""
    install(cache)
    target = tools_dir(cache)
    if tools_installed(cache):
        return target
    with tempfile.TemporaryDirectory(dir=distribution_dir(cache)) as work:
        staging = Path(work) / "tools"
        copy_dependencies(Path(work), staging, tools_pom(), _WHAT,
                          "-DexcludeTransitive=true")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    (target / "COMPLETE").write_text(tools_pom())
    return target


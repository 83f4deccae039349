"""The broker's request metrics over HTTP: Prometheus' JMX exporter, a Java agent the local
broker loads when it is started with a `metrics_port` (`KafkaNode`), and never otherwise.

It serves Kafka's `kafka.network:type=RequestMetrics,name=RequestsPerSec` meters, one per
request kind and version (Produce, Fetch, OffsetCommit, Heartbeat, Metadata ...), as the
counter `kafka_network_requests_total{request, version}`, and nothing else of the broker's
thousands of MBeans, so that reading them costs the broker little. The agent's jar comes
from Maven Central once and is cached beside the broker's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from orderstream_dev.infra.process_control import InfraError

VERSION = "1.0.1"
ARTIFACT = f"io.prometheus.jmx:jmx_prometheus_javaagent:{VERSION}"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
REQUESTS = "kafka_network_requests_total"

METER = r"kafka.network<type=RequestMetrics, name=RequestsPerSec, request=(\w+), version=(\d+)>"
CONFIG = f"""\
# Kafka's request meters only (orderstream_dev.infra.jmx_exporter).
includeObjectNames:
  - "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"
rules:
  - pattern: '{METER}<>Count'
    name: {REQUESTS}
    type: COUNTER
    labels:
      request: "$1"
      version: "$2"
"""


def jar_path(cache: Path) -> Path:
    return cache / "jmx-exporter" / f"jmx_prometheus_javaagent-{VERSION}.jar"


def install(cache: Path) -> Path:
    """The agent's jar, fetched from Maven Central with `mvn` the first time."""
    target = jar_path(cache)
    if target.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven (mvn) is needed to fetch the JMX exporter: "
                         "apt-get install -y maven")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        result = subprocess.run(
            [mvn, "-B", "-q", f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={ARTIFACT}",
             f"-DoutputDirectory={work}"], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"fetching {ARTIFACT} failed:\n{result.stdout[-4000:]}"
                             f"{result.stderr[-2000:]}")
        (Path(work) / target.name).rename(target)
    return target


def agent_option(cache: Path, config: Path, host: str, port: int) -> str:
    """The JVM option that loads the agent, serving on `host:port` (its configuration
    written to `config`)."""
    config.write_text(CONFIG)
    return f"-javaagent:{install(cache)}={host}:{port}:{config}"

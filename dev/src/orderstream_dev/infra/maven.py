"""Maven as the local tooling runs it: the runtime classpath of a pom copied into a
directory (how the broker's and Kafka Connect's jars come from Maven Central), and a project
of the repository built with its tests. Maven's own repository (`~/.m2`) keeps what it
downloaded, so a second run needs no network."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from orderstream_dev.infra.process_control import InfraError

DEPENDENCY_PLUGIN_VERSION = "3.8.1"


def copy_dependencies(work: Path, output: Path, pom: str, what: str, *options: str) -> None:
    """Write `pom` to `work` and copy its runtime dependencies into `output`; `what` names
    them in the error when Maven fails."""
    (work / "pom.xml").write_text(pom)
    run_maven(what, "-f", str(work / "pom.xml"),
              f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}"
              ":copy-dependencies",
              "-DincludeScope=runtime", f"-DoutputDirectory={output}", *options)


def run_maven(what: str, *args: str, cwd: Path | None = None) -> None:
    """`mvn -B -q args`; an `InfraError` with the end of its output when it fails."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(f"Maven (mvn) is needed for {what}: apt-get install -y maven")
    result = subprocess.run([mvn, "-B", "-q", *args], capture_output=True, text=True,
                            check=False, cwd=cwd)
    if result.returncode != 0:
        raise InfraError(f"{what} failed:\n{result.stdout[-4000:]}{result.stderr[-2000:]}")

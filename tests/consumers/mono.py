"""Mono (Debian ``mono-runtime``, ``mono-mcs``), the stand-in for .NET on Windows.

``tests/mono/Probe.cs``, compiled once per session with ``mcs``: ``X509Certificate2`` and
``X509Certificate2Collection.Import`` of a PFX or PKCS#7, and an ``SslStream`` client.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.consumers.probes import run_line_probe

SOURCE = Path(__file__).resolve().parent.parent / "mono" / "Probe.cs"


def mono_version() -> str:
    """``mono --version``'s first line, or an AssertionError when Mono is missing."""
    if shutil.which("mono") is None or shutil.which("mcs") is None:
        msg = "mono or mcs is missing: apt-get install mono-runtime mono-mcs"
        raise AssertionError(msg)
    done = subprocess.run(["mono", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[0]


@functools.cache
def _compiled_probe() -> Path:
    """Compile the probe once per process into a temporary directory."""
    mono_version()
    directory = Path(tempfile.mkdtemp(prefix="tsb-mono-probe-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    program = directory / "Probe.exe"
    done = subprocess.run(
        [
            "mcs",
            f"-out:{program}",
            "-r:System.dll",
            "-r:System.Core.dll",
            "-r:Mono.Security.dll",
            str(SOURCE),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        msg = f"mcs failed: {done.stdout}{done.stderr}"
        raise AssertionError(msg)
    return program


def run_mono_probe(requests: list[list[str]]) -> list[list[str]]:
    """Run the requests in one Mono process; the answer to each, in order."""
    return run_line_probe(["mono", str(_compiled_probe())], requests, "Mono")

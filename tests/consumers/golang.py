"""Go: ``tests/go/probe.go`` (crypto/tls, and go-pkcs12's DecodeChain and DecodeTrustStore).

Built once per session, offline, against Debian's packages: ``golang-go`` and
``golang-sslmate-src-go-pkcs12-dev`` (go-pkcs12 of 2021-04-15, with its golang.org/x/crypto
dependency under /usr/share/gocode), in GOPATH mode (``GO111MODULE=off``): no module proxy, no
network.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.consumers.probes import run_line_probe

PROBE_SOURCE = Path(__file__).resolve().parent.parent / "go"
#: Debian's Go library tree (golang-sslmate-src-go-pkcs12-dev installs go-pkcs12 there).
GOPATH = Path("/usr/share/gocode")
GO_PKCS12 = GOPATH / "src" / "software.sslmate.com" / "src" / "go-pkcs12"
_TIMEOUT = 120.0


def go_version() -> str:
    """``go version``'s version (``go1.19.8``), or an AssertionError when Go is missing."""
    go = shutil.which("go")
    if go is None or not GO_PKCS12.is_dir():
        msg = (
            "Go or go-pkcs12 is missing: apt-get install golang-go golang-sslmate-src-go-pkcs12-dev"
        )
        raise AssertionError(msg)
    return subprocess.run(
        [go, "version"], capture_output=True, text=True, check=True
    ).stdout.split()[2]


@functools.cache
def _built_probe() -> Path:
    """Build the probe once per process into a temporary directory, offline."""
    go_version()
    directory = Path(tempfile.mkdtemp(prefix="tsb-go-probe-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    environment = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(directory / "cache"),
        "GOFLAGS": "",
        "GOPROXY": "off",
    }
    done = subprocess.run(
        ["go", "build", "-o", str(directory / "probe"), "."],
        cwd=PROBE_SOURCE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        msg = f"go build of tests/go failed: {done.stderr}"
        raise AssertionError(msg)
    return directory / "probe"


def run_go_probe(requests: list[list[str]]) -> list[list[str]]:
    """Run the requests in one process; the probe's answer (its fields) to each, in order."""
    return run_line_probe([str(_built_probe())], requests, "Go")

"""Python 3.13's default TLS context refuses a CA whose basicConstraints is not critical.

Python 3.13 added ``ssl.VERIFY_X509_STRICT`` to ``ssl.create_default_context()``. The real PTL
G1 CAs (NHS PTL Root Authority, NHS INT/DEP/DEV/TRA Level 1C, INT Level 1D) carry
basicConstraints *not marked critical*, which OpenSSL's strict mode refuses; the G2 CAs mark
it critical. docs/troubleshooting.md says so and gives the client-side remedy; these tests
prove each sentence: a Python 3.13 client against ``openssl s_server`` serving a G1-like chain
(basicConstraints not critical, as the real ones) and a G2-like one, with the remedy, with
Python 3.11 as the control, and OpenSSL's strict verify on the real NHS certificates.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization

from tests.commands import run
from tests.servers import openssl_s_server

if TYPE_CHECKING:
    from tests.pki import GeneratedPki, Hierarchy

pytestmark = pytest.mark.slow

#: What a Python client runs: connect, verify the chain against the CA file, report.
_CLIENT = """
import socket, ssl, sys
port, cafile, relaxed = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "relaxed"
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # the chain is the question here, not the name
if relaxed:
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
try:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            print("verified", tls.version())
except ssl.SSLCertVerificationError as exc:
    print("refused:", exc.verify_message)
"""


def _python(minor: str) -> str:
    """The interpreter of Python ``minor`` (``3.13``): on PATH, or pyenv's newest of it."""
    found = shutil.which(f"python{minor}")
    if found and subprocess.run([found, "-c", "pass"], check=False).returncode == 0:
        return found
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = run(pyenv, "versions", "--bare", "--skip-aliases").stdout.split()
        matching = sorted(
            (v for v in versions if v.startswith(f"{minor}.") and v.count(".") == 2),
            key=lambda v: int(v.rsplit(".", 1)[1]),
        )
        if matching:
            prefix = run(pyenv, "prefix", matching[-1]).stdout.strip()
            return str(Path(prefix) / "bin" / f"python{minor}")
    pytest.fail(f"Python {minor} is needed (the package claims it; .ci/run offers it)")


def _serve(hierarchy: Hierarchy, directory: Path) -> tuple[Path, Path, Path]:
    """The hierarchy's certificate (serverAuth too) as a server's, its chain, and the CA file."""
    directory.mkdir()
    cert, key, ca = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    pem = serialization.Encoding.PEM
    cert.write_bytes(hierarchy.client.certificate.public_bytes(pem))
    key.write_bytes(hierarchy.client.key_pem())
    key.chmod(0o600)
    ca.write_bytes(
        hierarchy.root.certificate.public_bytes(pem)
        + hierarchy.intermediate.certificate.public_bytes(pem)
    )
    return cert, key, ca


def _connect(python: str, port: int, ca: Path, *, relaxed: bool = False) -> str:
    done = subprocess.run(
        [python, "-c", _CLIENT, str(port), str(ca), "relaxed" if relaxed else "default"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("generation", "refused_by_313"), [("g1", True), ("g2", False)])
def test_python_313_refuses_a_ca_whose_basic_constraints_is_not_critical(
    pki: GeneratedPki, tmp_path: Path, generation: str, *, refused_by_313: bool
) -> None:
    """3.13's default context refuses the G1-like chain, accepts G2; the remedy and 3.11 accept."""
    hierarchy = pki.g1 if generation == "g1" else pki.g2
    cert, key, ca = _serve(hierarchy, tmp_path / "files")
    python313 = _python("3.13")
    with openssl_s_server(tmp_path, cert=cert, key=key, verify_return_error=False) as server:
        default = _connect(python313, server.port, ca)
        relaxed = _connect(python313, server.port, ca, relaxed=True)
        older = _connect(sys.executable, server.port, ca)
    if refused_by_313:
        assert default == "refused: Basic Constraints of CA cert not marked critical", default
    else:
        assert default.startswith("verified"), default
    assert relaxed.startswith("verified"), relaxed
    # The suite's own Python (3.11 in CI's full run) sets no strict flag by default.
    if sys.version_info < (3, 13):
        assert older.startswith("verified"), older


def test_the_real_ptl_g1_cas_are_refused_by_strict_verification(shared_nhs_pki: Path) -> None:
    """The real PTL G1 chain fails OpenSSL's -x509_strict on its non-critical basicConstraints."""
    nhs = shared_nhs_pki
    root = nhs / "nhs-ptl-root-authority.pem"
    for intermediate in ("nhs-int-level-1c.pem", "nhs-dep-level-1c.pem"):
        plain = run("openssl", "verify", "-CAfile", root, nhs / intermediate)
        strict = run("openssl", "verify", "-x509_strict", "-CAfile", root, nhs / intermediate)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert strict.returncode != 0
        assert "Basic Constraints of CA cert not marked critical" in strict.stdout + strict.stderr
    # G2, the control: its constraints are critical, and strict verification passes.
    g2 = run(
        "openssl",
        "verify",
        "-x509_strict",
        "-CAfile",
        nhs / "nhs-ptl-root-authority-g2.pem",
        nhs / "nhs-int-authentication-g2.pem",
    )
    assert g2.returncode == 0, g2.stdout + g2.stderr

# ruff: noqa: INP001  (docs/_ext holds Sphinx extensions and doc helpers, not a package)
"""Files and a loopback TLS server for the hidden ``testsetup`` of the docs' examples.

The examples name files a deployment engineer has (``client.pem``, ``client-key.pem``, an old
JKS, ...). No real NHS certificate comes with its private key, so these are generated when the
doctests run, from test CAs shaped like the NHS hierarchies (a root and an intermediate,
O=nhs, OU=CA; endpoint certificates ``OU=Devices, CN=<FQDN>``). Nothing here is committed key
material. The certificates are made by the tests' builder, ``tests/pki.py`` (conf.py puts the
repository root on the path after the installed package).

Each page's setup calls :func:`enter_workdir` (a fresh temporary directory, made the working
directory) and :func:`leave_workdir` in its cleanup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import shutil
import socket
import ssl
import tempfile
import threading
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.pki import Issued, make_certificate

# Fixed dates, so that what the examples print does not change from one build to the next.
# The certificates are valid from the day NHS G2 went live; the examples stop working in 2034.
NOT_BEFORE = dt.datetime(2024, 6, 4, tzinfo=dt.UTC)
_TIMEOUT = 10.0


def _name(common_name: str, *, ou: str = "CA", org: str = "Test PKI") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    subject: x509.Name,
    *,
    issuer: Issued | None,
    ca: bool,
    not_after: dt.datetime,
    eku: tuple[x509.ObjectIdentifier, ...] = (),
    ip_address: str | None = None,
) -> Issued:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return make_certificate(
        subject,
        key,
        issuer=issuer,
        ca=ca,
        not_before=NOT_BEFORE,
        not_after=not_after,
        eku=eku,
        ip_address=ip_address,
    )


@attrs.frozen
class DocCa:
    """A test root and the intermediate it issues, like NHS Root Authority G2 -> Authentication G2."""

    root: Issued
    intermediate: Issued

    def pem(self) -> bytes:
        """Root and intermediate as one PEM bundle (what a trust store adds)."""
        return self.root.cert_pem() + self.intermediate.cert_pem()

    def client(self, common_name: str, *, not_after: dt.date = dt.date(2036, 6, 4)) -> Issued:
        """A client certificate for ``common_name`` (clientAuth, like an NHS endpoint certificate)."""
        return _issue(
            _name(common_name, ou="Devices"),
            issuer=self.intermediate,
            ca=False,
            not_after=dt.datetime.combine(not_after, dt.time(), tzinfo=dt.UTC),
            eku=(ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH),
        )

    def server(self, address: str) -> Issued:
        """A server certificate for an IP address (serverAuth, the address as CN and SAN)."""
        return _issue(
            _name(address, ou="Devices"),
            issuer=self.intermediate,
            ca=False,
            not_after=dt.datetime(2036, 6, 4, tzinfo=dt.UTC),
            eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
            ip_address=address,
        )


@functools.cache
def make_ca(label: str = "Test") -> DocCa:
    """A test CA pair named after ``label``; one per label per build (keys take time)."""
    root = _issue(
        _name(f"{label} Root Authority"),
        issuer=None,
        ca=True,
        not_after=dt.datetime(2044, 6, 4, tzinfo=dt.UTC),
    )
    intermediate = _issue(
        _name(f"{label} Authentication"),
        issuer=root,
        ca=True,
        not_after=dt.datetime(2039, 6, 4, tzinfo=dt.UTC),
    )
    return DocCa(root, intermediate)


def write_identity(issued: Issued, certificate: str, key: str) -> None:
    """Write a client certificate and its unencrypted key (mode 0600) as PEM files."""
    Path(certificate).parent.mkdir(parents=True, exist_ok=True)
    Path(certificate).write_bytes(issued.cert_pem())
    Path(key).write_bytes(issued.key_pem())
    Path(key).chmod(0o600)


_saved: list[tuple[str, str]] = []


def enter_workdir() -> Path:
    """Make a fresh temporary directory the working directory; return it."""
    directory = Path(tempfile.mkdtemp(prefix="tsb-docs-"))
    _saved.append((os.getcwd(), str(directory)))  # noqa: PTH109
    os.chdir(directory)
    return directory


def leave_workdir() -> None:
    """Go back to the previous working directory and remove the temporary one."""
    previous, directory = _saved.pop()
    os.chdir(previous)
    shutil.rmtree(directory, ignore_errors=True)


@attrs.define
class LoopbackTlsServer:
    """A TLS server on 127.0.0.1 that asks for a client certificate and trusts ``client_cas``.

    Each connection is handled on its own thread; the server answers an HTTP GET with 200 and
    b"ok" to any other line.
    """

    certificate: Issued
    chain: tuple[x509.Certificate, ...]
    client_cas: bytes
    port: int = 0
    _listener: socket.socket | None = None
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen on a free loopback port; return it."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        directory = Path(tempfile.mkdtemp(prefix="tsb-docs-server-"))
        try:
            chain = directory / "chain.pem"
            chain.write_bytes(
                self.certificate.cert_pem()
                + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)
            )
            key = directory / "key.pem"
            key.write_bytes(self.certificate.key_pem())
            context.load_cert_chain(chain, key)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self.client_cas.decode("ascii"))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(context,), daemon=True)
        self._thread.start()
        return self.port

    def _serve(self, context: ssl.SSLContext) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(context, raw), daemon=True).start()

    @staticmethod
    def _handle(context: ssl.SSLContext, raw: socket.socket) -> None:
        with raw, contextlib.suppress(ssl.SSLError, OSError):
            raw.settimeout(_TIMEOUT)
            with context.wrap_socket(raw, server_side=True) as tls:
                request = tls.recv(1024)
                if request.startswith(b"GET "):
                    # The endpoint check's HTTP request.
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
                    )
                elif request:
                    tls.sendall(b"ok")

    def stop(self) -> None:
        """Stop listening and wait for the accept loop to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

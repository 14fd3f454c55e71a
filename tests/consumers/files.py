"""Every file kind the library writes, built once per session for the consumer matrix.

Two sets, each built by the library from the generated PKI (tests/pki.py): ``nhs`` trusts the
G1-like and G2-like CAs and holds the G2-like client; ``foreign`` trusts only the foreign CAs
and holds the foreign client. A positive check uses an ``nhs`` file, its negative control the
``foreign`` file of the same kind (a store without the test CAs, or an identity the servers do
not trust). The servers' own files (the G1-like and G2-like ``localhost`` certificates and the
CA file that verifies clients) are written from the PKI directly, not by the library.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography.hazmat.primitives import serialization

from tests.pki import GeneratedPki, Hierarchy, Issued, make_certificate, rsa_key
from truststore_builder import KeyStoreBuilder, TrustStoreBuilder

if TYPE_CHECKING:
    from cryptography import x509

#: The password of every password-protected store in the matrix (a test value, made here).
PASSWORD = "Matrix-store-pass-4127"


class Kind(enum.StrEnum):
    """A kind of file the library writes."""

    PEM = "PEM trust store"
    P12_TRUST = "PKCS#12 trust store (password)"
    P12_TRUST_NO_PASSWORD = "PKCS#12 trust store (no password)"
    JKS = "JKS trust store"
    JCEKS = "JCEKS trust store"
    PKCS7 = "PKCS#7 bundle"
    CAPATH = "capath directory"
    P12_KEY_MODERN = "PKCS#12 key store (modern)"
    P12_KEY_LEGACY = "PKCS#12 key store (legacy)"
    JKS_KEY = "JKS key store"
    CLIENT_PEM = "client chain + key PEM"


#: Kinds that hold a client identity; the others are trust stores.
IDENTITY_KINDS = (Kind.P12_KEY_MODERN, Kind.P12_KEY_LEGACY, Kind.JKS_KEY, Kind.CLIENT_PEM)
_FILE_NAMES = {
    Kind.PEM: "truststore.pem",
    Kind.P12_TRUST: "truststore.p12",
    Kind.P12_TRUST_NO_PASSWORD: "truststore-nopass.p12",
    Kind.JKS: "truststore.jks",
    Kind.JCEKS: "truststore.jceks",
    Kind.PKCS7: "truststore.p7b",
    Kind.CAPATH: "capath",
    Kind.P12_KEY_MODERN: "keystore-modern.p12",
    Kind.P12_KEY_LEGACY: "keystore-legacy.p12",
    Kind.JKS_KEY: "keystore.jks",
    Kind.CLIENT_PEM: "client-chain.pem",
}


@attrs.frozen
class StoreSet:
    """One set of files, every kind, in one directory."""

    directory: Path

    def path(self, kind: Kind) -> Path:
        """The file (or capath directory) of ``kind``."""
        return self.directory / _FILE_NAMES[kind]

    @property
    def client_key(self) -> Path:
        """The client's private key (unencrypted PKCS#8 PEM, 0600), beside ``client-chain.pem``."""
        return self.directory / "client-key.pem"

    def password(self, kind: Kind) -> str | None:
        """The store's password; None for the kinds that have none."""
        if kind in {Kind.PEM, Kind.PKCS7, Kind.CAPATH, Kind.CLIENT_PEM}:
            return None
        return None if kind is Kind.P12_TRUST_NO_PASSWORD else PASSWORD


@attrs.frozen
class ServerFiles:
    """One server's PEM files, written from the PKI (not by the library)."""

    cert: Path
    issuer: Path
    chain: Path
    key: Path


@attrs.frozen
class ServerIdentities:
    """The servers' own files: G2-like and G1-like ``localhost``, and the CAs to verify clients."""

    g2: ServerFiles
    g1: ServerFiles
    #: The G1-like and G2-like CAs, to verify client certificates (not made by the library).
    client_cas: Path
    #: The G1-like and G2-like clients' certificates alone, and the foreign one's.
    g1_client: Path
    g2_client: Path
    foreign_client: Path


@attrs.frozen
class MatrixFiles:
    """Everything the matrix reads: the ``nhs`` and ``foreign`` sets and the servers' files."""

    nhs: StoreSet
    foreign: StoreSet
    #: Every kind again with the G2-like ``localhost`` server as the identity (for Tomcat).
    server_stores: StoreSet
    servers: ServerIdentities
    pki: GeneratedPki


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _cas(hierarchy: Hierarchy) -> list[x509.Certificate]:
    return [hierarchy.root.certificate, hierarchy.intermediate.certificate]


def _write_set(directory: Path, cas: list[x509.Certificate], client: Hierarchy) -> StoreSet:
    """Write every kind with the library: trust stores of ``cas``, key stores of ``client``."""
    directory.mkdir(mode=0o755, parents=True)
    files = StoreSet(directory)
    trust = TrustStoreBuilder().add_certificates(cas).build()
    for kind, password in (
        (Kind.PEM, None),
        (Kind.P12_TRUST, PASSWORD),
        (Kind.P12_TRUST_NO_PASSWORD, None),
        (Kind.JKS, PASSWORD),
        (Kind.JCEKS, PASSWORD),
        (Kind.PKCS7, None),
        (Kind.CAPATH, None),
    ):
        store_format = {Kind.P12_TRUST_NO_PASSWORD: "p12", Kind.CAPATH: "capath"}.get(kind)
        trust.write(files.path(kind), store_format, password=password)
    key_store = (
        KeyStoreBuilder()
        .add_trusted_certificates(cas)
        .with_identity(client.client.certificate, client.client.key)
        .build()
    )
    files.path(Kind.P12_KEY_MODERN).write_bytes(key_store.to_pkcs12(PASSWORD, profile="modern"))
    files.path(Kind.P12_KEY_LEGACY).write_bytes(key_store.to_pkcs12(PASSWORD, profile="legacy"))
    # Its truststore.pem holds the same CAs as the trust store's, written above.
    key_store.write(directory, password=PASSWORD, formats=("jks", "pem"), overwrite=True)
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for kind in (Kind.P12_KEY_MODERN, Kind.P12_KEY_LEGACY, Kind.JKS_KEY):
        files.path(kind).chmod(0o600)
    files.client_key.chmod(0o600)
    return files


def _write_server(directory: Path, stem: str, server: Issued, issuer: Issued) -> ServerFiles:
    files = ServerFiles(
        cert=directory / f"{stem}-cert.pem",
        issuer=directory / f"{stem}-issuer.pem",
        chain=directory / f"{stem}-chain.pem",
        key=directory / f"{stem}-key.pem",
    )
    files.cert.write_bytes(_pem(server.certificate))
    files.issuer.write_bytes(_pem(issuer.certificate))
    files.chain.write_bytes(_pem(server.certificate, issuer.certificate))
    files.key.write_bytes(server.key_pem())
    for path in (files.cert, files.issuer, files.chain):
        path.chmod(0o644)
    files.key.chmod(0o600)
    return files


def build_matrix_files(pki: GeneratedPki, directory: Path) -> MatrixFiles:
    """Build both sets and the servers' files under ``directory`` (made 0755 for www-data)."""
    directory.chmod(0o755)
    nhs = _write_set(directory / "nhs", [*_cas(pki.g1), *_cas(pki.g2)], pki.g2)
    foreign = _write_set(directory / "foreign", _cas(pki.foreign), pki.foreign)
    server = Hierarchy(pki.g2.root, pki.g2.intermediate, pki.server)
    server_stores = _write_set(directory / "server", [*_cas(pki.g1), *_cas(pki.g2)], server)
    servers = directory / "servers"
    servers.mkdir(mode=0o755)
    g1_server = make_certificate(
        pki.server.certificate.subject,
        rsa_key(),
        issuer=pki.g1.intermediate,
        ca=False,
        dns_name="localhost",
    )
    client_cas = servers / "client-cas.pem"
    client_cas.write_bytes(_pem(*_cas(pki.g1), *_cas(pki.g2)))
    clients = {}
    for name, hierarchy in (("g1", pki.g1), ("g2", pki.g2), ("foreign", pki.foreign)):
        clients[name] = servers / f"{name}-client.pem"
        clients[name].write_bytes(hierarchy.client.cert_pem())
    for path in (client_cas, *clients.values()):
        path.chmod(0o644)
    return MatrixFiles(
        nhs=nhs,
        foreign=foreign,
        server_stores=server_stores,
        servers=ServerIdentities(
            g2=_write_server(servers, "g2-server", pki.server, pki.g2.intermediate),
            g1=_write_server(servers, "g1-server", g1_server, pki.g1.intermediate),
            client_cas=client_cas,
            g1_client=clients["g1"],
            g2_client=clients["g2"],
            foreign_client=clients["foreign"],
        ),
        pki=pki,
    )

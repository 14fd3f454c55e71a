"""The consumer matrix: every file kind we write, read or used by every program suppliers run.

Parametrised by consumer x file kind from tests/consumers/matrix.py (which also renders
docs/compatibility.md's table). The files are built once per session by the library
(tests/consumers/files.py) for the G1-like + G2-like CAs and client (``nhs``) and for the
foreign ones (``foreign``); each positive is asserted beside its negative control: the foreign
trust store refusing our servers, the foreign identity refused by a server that trusts our CAs.
Where a consumer cannot read a kind, the test shows the same refusal of a file made by OpenSSL.
Servers start once per session; each JVM and the Go probe check many files per start.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.commands import PASSWORD_VARIABLE, openssl_with_password, run
from tests.consumers import matrix
from tests.consumers.files import (
    IDENTITY_KINDS,
    PASSWORD,
    Kind,
    MatrixFiles,
    StoreSet,
    build_matrix_files,
)
from tests.consumers.golang import go_version, run_go_probe
from tests.consumers.java import (
    BCPROV,
    JavaRuntime,
    LoadRequest,
    https_get,
    java_runtimes,
    load_stores,
)
from tests.consumers.mono import mono_version, run_mono_probe
from tests.consumers.node import node_version, run_node_probe
from tests.servers import (
    CurlResult,
    RunningServer,
    TomcatTls,
    apache_server,
    curl,
    nginx_server,
    openssl_s_server,
    tomcat_server,
)
from tests.tls import client_is_accepted, configurable_tls_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.pki import GeneratedPki

pytestmark = pytest.mark.slow

_STORE_TYPES = {
    Kind.P12_TRUST: "PKCS12",
    Kind.P12_TRUST_NO_PASSWORD: "PKCS12",
    Kind.JKS: "JKS",
    Kind.JCEKS: "JCEKS",
    Kind.P12_KEY_MODERN: "PKCS12",
    Kind.P12_KEY_LEGACY: "PKCS12",
    Kind.JKS_KEY: "JKS",
}
_SIDES = ("nhs", "foreign")


def _sha256(certificates: list[x509.Certificate]) -> set[str]:
    return {c.fingerprint(hashes.SHA256()).hex() for c in certificates}


def _fingerprints_of_pem(text: str) -> set[str]:
    return _sha256(x509.load_pem_x509_certificates(text.encode())) if "BEGIN" in text else set()


def _trusted_cas(pki: GeneratedPki, side: str) -> set[str]:
    """The CAs each side's trust stores hold."""
    hierarchies = [pki.g1, pki.g2] if side == "nhs" else [pki.foreign]
    return _sha256(
        [c for h in hierarchies for c in (h.root.certificate, h.intermediate.certificate)]
    )


@pytest.fixture(scope="session")
def matrix_files(pki: GeneratedPki) -> Iterator[MatrixFiles]:
    """Every kind, built once by the library, for our CAs and client and the foreign ones.

    Outside pytest's 0700 temporary tree: Apache's workers (www-data) read a capath's files
    during each handshake, not at start-up as root.
    """
    with tempfile.TemporaryDirectory(prefix="tsb-matrix-") as directory:
        yield build_matrix_files(pki, Path(directory))


@attrs.frozen
class TlsServers:
    """OpenSSL servers the clients connect to: G1-like and G2-like TLS, and G2-like mutual TLS."""

    g1_tls: RunningServer
    g2_tls: RunningServer
    g2_mutual: RunningServer

    @property
    def all(self) -> tuple[RunningServer, ...]:
        """Every server: a trust store must accept each one."""
        return (self.g1_tls, self.g2_tls, self.g2_mutual)


@pytest.fixture(scope="session")
def tls_servers(
    matrix_files: MatrixFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsServers]:
    """Three ``openssl s_server -www``, once per session; the mutual one requires a G1/G2 client."""
    directory = tmp_path_factory.mktemp("matrix-servers")
    files = matrix_files.servers
    with contextlib.ExitStack() as stack:

        def start(server: str, options: tuple[str, ...] = ()) -> RunningServer:
            identity = files.g1 if server == "g1" else files.g2
            return stack.enter_context(
                openssl_s_server(
                    directory,
                    cert=identity.cert,
                    key=identity.key,
                    cert_chain=identity.issuer,
                    ca_file=files.client_cas if options else None,
                    options=options,
                )
            )

        yield TlsServers(start("g1"), start("g2"), start("g2", ("-Verify", "2")))


@pytest.fixture(scope="session")
def openssl_nomac_p12(matrix_files: MatrixFiles) -> Path:
    """A password-less PKCS#12 of our CAs made by OpenSSL (no MAC, no encryption): the limits' control."""
    path = matrix_files.nhs.directory.parent / "openssl-nomac.p12"
    done = run(
        "openssl", "pkcs12", "-export", "-nokeys", "-nomac", "-certpbe", "NONE",
        "-in", matrix_files.nhs.path(Kind.PEM), "-out", path, "-passout", "pass:",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


# --- Java 11, 17, 21, 25: an HTTPS client configured by javax.net.ssl.* alone ----------------


def _java_properties(files: MatrixFiles, kind: Kind, side: str) -> dict[str, str]:
    """The system properties for one cell: a trust store with our JKS key store, or a key store as both."""
    chosen: StoreSet = getattr(files, side)
    if kind in IDENTITY_KINDS:
        # Ours is its own trust store (MESH's way); the foreign identity is tried with our trust.
        trust_kind, trust = (kind, chosen) if side == "nhs" else (Kind.JKS, files.nhs)
        key_kind, key = kind, chosen
    else:
        trust_kind, trust, key_kind, key = kind, chosen, Kind.JKS_KEY, files.nhs
    properties = {
        "javax.net.ssl.keyStore": str(key.path(key_kind)),
        "javax.net.ssl.keyStoreType": _STORE_TYPES[key_kind],
        "javax.net.ssl.keyStorePassword": PASSWORD,
        "javax.net.ssl.trustStore": str(trust.path(trust_kind)),
        "javax.net.ssl.trustStoreType": _STORE_TYPES[trust_kind],
    }
    password = trust.password(trust_kind)
    if password is not None:
        properties["javax.net.ssl.trustStorePassword"] = password
    return properties


@pytest.fixture(scope="session")
def java_https_results(
    matrix_files: MatrixFiles, tls_servers: TlsServers
) -> dict[tuple[str, Kind, str], dict[str, list[str]]]:
    """Every Java cell's verdicts, URL by URL: one JVM per runtime, kind and side, three at a time."""
    urls = [server.url() for server in tls_servers.all]
    jobs: dict[tuple[str, Kind, str], tuple[JavaRuntime, dict[str, str]]] = {}
    for runtime in java_runtimes():
        for kind in matrix.consumer(f"java{runtime.release}").cells:
            for side in _SIDES:
                jobs[runtime.release, kind, side] = (
                    runtime,
                    _java_properties(matrix_files, kind, side),
                )
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            key: pool.submit(https_get, runtime, properties, urls)
            for key, (runtime, properties) in jobs.items()
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(("key", "kind"), matrix.cells("java11", "java17", "java21", "java25"))
def test_java_https_client(
    key: str,
    kind: Kind,
    java_https_results: dict[tuple[str, Kind, str], dict[str, list[str]]],
    tls_servers: TlsServers,
) -> None:
    """Java configured by javax.net.ssl.* reaches every server with our store; the foreign store or identity fails."""
    release = key.removeprefix("java")
    ours = java_https_results[release, kind, "nhs"]
    foreign = java_https_results[release, kind, "foreign"]
    verdicts = {url: fields[0] for url, fields in ours.items()}
    assert set(verdicts.values()) == {"ACCEPTED"}, ours
    g1, g2, mutual = (server.url() for server in tls_servers.all)
    if kind in IDENTITY_KINDS:
        expected = {g1: "ACCEPTED", g2: "ACCEPTED", mutual: "REFUSED"}
    else:
        expected = dict.fromkeys((g1, g2, mutual), "UNTRUSTED-SERVER")
    assert {url: fields[0] for url, fields in foreign.items()} == expected, foreign


# --- BouncyCastle's PKCS#12 provider -----------------------------------------------------------


@pytest.fixture(scope="session")
def bouncycastle_results(
    matrix_files: MatrixFiles, openssl_nomac_p12: Path
) -> dict[tuple[Path, str | None], list[str]]:
    """BC's view of every PKCS#12, with and without a password, in one JVM (Debian's Java 17)."""
    assert BCPROV.is_file(), f"{BCPROV} is missing: apt-get install libbcprov-java"
    (java17,) = (r for r in java_runtimes() if r.release == "17")
    requests_ = [
        LoadRequest("PKCS12", files.path(kind), files.password(kind))
        for files in (matrix_files.nhs, matrix_files.foreign)
        for kind in matrix.consumer("bouncycastle").cells
    ]
    requests_ += [
        LoadRequest("PKCS12", matrix_files.nhs.path(Kind.P12_TRUST_NO_PASSWORD), PASSWORD),
        LoadRequest("PKCS12", openssl_nomac_p12, PASSWORD),
        LoadRequest("PKCS12", openssl_nomac_p12, None),
    ]
    results = {}
    # One JVM per password mode: the probe reports by path, and a path is asked both ways.
    for with_password in (True, False):
        batch = [r for r in requests_ if (r.password is not None) is with_password]
        for path, fields in load_stores(java17, batch, provider="BC").items():
            results[path, PASSWORD if with_password else None] = fields
    return results


@pytest.mark.parametrize(("key", "kind"), matrix.cells("bouncycastle"))
def test_bouncycastle_reads_pkcs12(
    key: str,
    kind: Kind,
    bouncycastle_results: dict[tuple[Path, str | None], list[str]],
    matrix_files: MatrixFiles,
    openssl_nomac_p12: Path,
) -> None:
    """BouncyCastle loads each PKCS#12 with exactly our CAs trusted (and our key); the foreign one holds others."""
    for side in _SIDES:
        files: StoreSet = getattr(matrix_files, side)
        fields = bouncycastle_results[files.path(kind), files.password(kind)]
        assert fields[0] == "LOADED", fields
        trusted = set(fields[2].removeprefix("trusted=").split(","))
        assert trusted == _trusted_cas(matrix_files.pki, side), (side, fields)
        if kind in IDENTITY_KINDS:
            assert fields[3].endswith(":RSA"), fields  # the key entry, decrypted
    if matrix.consumer(key).cells[kind] != matrix.WORKS:
        # BC's limit: a password given for a password-less PKCS#12, ours or OpenSSL's.
        for path in (matrix_files.nhs.path(kind), openssl_nomac_p12):
            fields = bouncycastle_results[path, PASSWORD]
            assert fields[0] == "FAILED", fields
            assert "does not require one" in fields[2], fields


# --- OpenSSL's command line --------------------------------------------------------------------


def _openssl_reads(files: StoreSet, kind: Kind) -> set[str]:
    """The certificates OpenSSL reads from one file (for a key store: also checks the key)."""
    path = files.path(kind)
    if kind is Kind.PKCS7:
        done = openssl_with_password("pkcs7", "-inform", "DER", "-print_certs", "-in", path)
    elif kind is Kind.P12_TRUST_NO_PASSWORD:
        done = openssl_with_password("pkcs12", "-info", "-nokeys", "-in", path, password="")
    else:
        done = openssl_with_password("pkcs12", "-info", "-nodes", "-in", path, password=PASSWORD)
    assert done.returncode == 0, done.stderr
    if kind in IDENTITY_KINDS:
        key = serialization.load_pem_private_key(
            done.stdout[done.stdout.index("-----BEGIN PRIVATE KEY") :].encode(), None
        )
        (leaf,) = x509.load_pem_x509_certificates(files.path(Kind.CLIENT_PEM).read_bytes())[:1]
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        assert key.public_key().public_bytes(der, spki) == leaf.public_key().public_bytes(der, spki)
    return _fingerprints_of_pem(done.stdout)


def _openssl_verifies(files: StoreSet, kind: Kind, client: Path, matrix_files: MatrixFiles) -> bool:
    """Whether ``openssl verify`` takes ``client`` up to a CA of the file."""
    path = files.path(kind)
    if kind is Kind.CLIENT_PEM:
        # Our chain verified against the CAs (not from the library); the key: _openssl_key_matches.
        flags: tuple[str | Path, ...] = (
            "-CAfile",
            matrix_files.servers.client_cas,
            "-untrusted",
            path,
        )
        client = path
    elif kind is Kind.CAPATH:
        flags = ("-no-CAfile", "-CApath", path)
    else:
        flags = ("-no-CApath", "-CAfile", path)
    done = openssl_with_password("verify", *flags, client)
    return done.returncode == 0 and done.stdout.strip().endswith("OK")


def _openssl_key_matches(chain: Path, key: Path) -> bool:
    """Whether OpenSSL reads the same public key from ``key`` as from ``chain``'s first certificate."""
    leaf = openssl_with_password("x509", "-noout", "-pubkey", "-in", chain)
    public = openssl_with_password("pkey", "-pubout", "-in", key)
    assert leaf.returncode == public.returncode == 0, leaf.stderr + public.stderr
    return leaf.stdout == public.stdout


@pytest.mark.parametrize(("key", "kind"), matrix.cells("openssl"))
def test_openssl(key: str, kind: Kind, matrix_files: MatrixFiles) -> None:
    """OpenSSL verifies G1/G2 clients with our PEM/capath, reads our PKCS#12/PKCS#7 CAs; not the foreign ones."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    pki, servers = matrix_files.pki, matrix_files.servers
    if kind in {Kind.PEM, Kind.CAPATH}:
        for client in (servers.g1_client, servers.g2_client):
            assert _openssl_verifies(matrix_files.nhs, kind, client, matrix_files)
            assert not _openssl_verifies(matrix_files.foreign, kind, client, matrix_files)
        assert not _openssl_verifies(matrix_files.nhs, kind, servers.foreign_client, matrix_files)
    elif kind is Kind.CLIENT_PEM:
        assert _openssl_verifies(matrix_files.nhs, kind, servers.g2_client, matrix_files)
        assert not _openssl_verifies(matrix_files.foreign, kind, servers.g2_client, matrix_files)
        chain = matrix_files.nhs.path(kind)
        assert _openssl_key_matches(chain, matrix_files.nhs.client_key)
        assert not _openssl_key_matches(chain, matrix_files.foreign.client_key)
    else:
        for side in _SIDES:
            read = _openssl_reads(getattr(matrix_files, side), kind)
            cas = _trusted_cas(pki, side)
            assert cas <= read, (side, kind)
            assert not (_trusted_cas(pki, "foreign" if side == "nhs" else "nhs") & read)


# --- keytool (Java 17) -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def keytool_listings(matrix_files: MatrixFiles) -> dict[tuple[str, Kind], str]:
    """``keytool -list -rfc`` of every Java store, ours and the foreign ones (one JVM each)."""
    listings = {}
    for side in _SIDES:
        files: StoreSet = getattr(matrix_files, side)
        for kind in matrix.consumer("keytool").cells:
            # Java 17 opens the password-less PKCS#12 with any password: changeit, as users do.
            password = files.password(kind) or "changeit"
            done = run(
                "keytool", "-list", "-rfc", "-keystore", files.path(kind),
                "-storetype", _STORE_TYPES[kind], "-storepass:env", PASSWORD_VARIABLE,
                password=password,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            listings[side, kind] = done.stdout
    return listings


@pytest.mark.parametrize(("key", "kind"), matrix.cells("keytool"))
def test_keytool(
    key: str, kind: Kind, keytool_listings: dict[tuple[str, Kind], str], matrix_files: MatrixFiles
) -> None:
    """Keytool lists our CAs as trustedCertEntry (and our key entry); the foreign store lists only its own."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    pki = matrix_files.pki
    for side in _SIDES:
        listing = keytool_listings[side, kind]
        trusted = listing.count("Entry type: trustedCertEntry")
        assert trusted == len(_trusted_cas(pki, side)), listing
        read = _fingerprints_of_pem(listing)
        assert _trusted_cas(pki, side) <= read
        assert not (_trusted_cas(pki, "foreign" if side == "nhs" else "nhs") & read)
        if kind in IDENTITY_KINDS:
            assert listing.count("Entry type: PrivateKeyEntry") == 1, listing
            hierarchy = pki.g2 if side == "nhs" else pki.foreign
            assert _sha256([hierarchy.client.certificate]) <= read


# --- Python ssl, requests, httpx ---------------------------------------------------------------


def _python_get(server: RunningServer, context: ssl.SSLContext) -> bool:
    """GET / over Python's ssl with ``context``: True on an HTTP 200, False on a TLS failure."""
    try:
        with (
            socket.create_connection(server.address, timeout=15) as raw,
            context.wrap_socket(raw, server_hostname=server.server_name) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return tls.recv(64).startswith(b"HTTP/1.0 200")
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return False


def _client_context(
    *,
    cafile: Path | None = None,
    capath: Path | None = None,
    chain: Path | None = None,
    key: Path | None = None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=cafile, capath=capath)
    if chain is not None:
        context.load_cert_chain(chain, key)
    return context


def _trust_context(files: StoreSet, kind: Kind) -> ssl.SSLContext:
    if kind is Kind.CAPATH:
        return _client_context(capath=files.path(kind))
    return _client_context(cafile=files.path(kind))


@pytest.mark.parametrize(("key", "kind"), matrix.cells("python-ssl"))
def test_python_ssl(
    key: str, kind: Kind, matrix_files: MatrixFiles, tls_servers: TlsServers
) -> None:
    """Python's ssl trusts our servers by our PEM/capath, presents our client, serves with our PEM; not foreign."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    nhs, foreign = matrix_files.nhs, matrix_files.foreign
    if kind is Kind.CLIENT_PEM:
        for files, accepted in ((nhs, True), (foreign, False)):
            context = _client_context(
                cafile=matrix_files.servers.client_cas,
                chain=files.path(kind),
                key=files.client_key,
            )
            assert _python_get(tls_servers.g2_mutual, context) is accepted
        return
    for server in (tls_servers.g1_tls, tls_servers.g2_tls):
        assert _python_get(server, _trust_context(nhs, kind))
        assert not _python_get(server, _trust_context(foreign, kind))
    if kind is Kind.PEM:
        # A Python server verifying clients with our PEM: G1 and G2 clients in, the foreign out.
        pki, identity = matrix_files.pki, matrix_files.servers.g2
        for files, clients in (
            (nhs, {"g1": True, "g2": True, "foreign": False}),
            (foreign, {"g2": False}),
        ):
            with (
                configurable_tls_server(
                    cert_chain=identity.chain,
                    key=identity.key,
                    client_ca_file=files.path(kind),
                    verify_mode=ssl.CERT_REQUIRED,
                ) as address,
                tempfile.TemporaryDirectory() as scratch,
            ):
                for name, accepted in clients.items():
                    chain, client_key = getattr(pki, name).write_client(Path(scratch), name)
                    assert (
                        client_is_accepted(
                            address,
                            server_ca=matrix_files.servers.client_cas,
                            cert_chain=chain,
                            key=client_key,
                        )
                        is accepted
                    ), (name, files.directory)


@pytest.mark.parametrize(("key", "kind"), matrix.cells("requests", "httpx"))
def test_requests_and_httpx(
    key: str, kind: Kind, matrix_files: MatrixFiles, tls_servers: TlsServers
) -> None:
    """The requests and httpx clients verify our servers with our PEM and present our client files; not foreign ones."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS

    def get(server: RunningServer, cafile: Path, client: StoreSet | None = None) -> bool:
        cert = (
            None if client is None else (str(client.path(Kind.CLIENT_PEM)), str(client.client_key))
        )
        url = server.url()
        try:
            if key == "requests":
                return (
                    requests.get(url, verify=str(cafile), cert=cert, timeout=15).status_code == 200
                )
            context = _client_context(
                cafile=cafile, chain=cert and Path(cert[0]), key=cert and Path(cert[1])
            )
            return httpx.get(url, verify=context, timeout=15).status_code == 200
        except (
            requests.exceptions.SSLError,
            requests.exceptions.ConnectionError,
            httpx.ConnectError,
            httpx.ReadError,
        ):
            return False

    if kind is Kind.PEM:
        for server in (tls_servers.g1_tls, tls_servers.g2_tls):
            assert get(server, matrix_files.nhs.path(kind))
            assert not get(server, matrix_files.foreign.path(kind))
    else:
        cas = matrix_files.servers.client_cas
        assert get(tls_servers.g2_mutual, cas, matrix_files.nhs)
        assert not get(tls_servers.g2_mutual, cas, matrix_files.foreign)
        # The foreign files load (a server that asks for no certificate takes them): the
        # refusal above is the upstream's, not a broken file's.
        assert get(tls_servers.g2_tls, cas, matrix_files.foreign)


# --- curl -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "kind"), matrix.cells("curl"))
def test_curl(
    key: str, kind: Kind, matrix_files: MatrixFiles, tls_servers: TlsServers, tmp_path: Path
) -> None:
    """Curl verifies our servers with --cacert/--capath and presents our PEM or PKCS#12 client; not foreign ones."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    nhs, foreign, cas = matrix_files.nhs, matrix_files.foreign, matrix_files.servers.client_cas
    if kind in {Kind.PEM, Kind.CAPATH}:
        for server in (tls_servers.g1_tls, tls_servers.g2_tls):
            for files, ok in ((nhs, True), (foreign, False)):
                if kind is Kind.PEM:
                    got = curl(server, cacert=files.path(kind))
                else:  # --cacert is always given: the foreign PEM, which trusts neither server.
                    got = curl(
                        server,
                        cacert=foreign.path(Kind.PEM),
                        options=("--capath", str(files.path(kind))),
                    )
                assert (got.returncode == 0 and got.status == 200) is ok, got.describe
        return

    def present(server: RunningServer, files: StoreSet) -> CurlResult:
        if kind is Kind.CLIENT_PEM:
            return curl(server, cacert=cas, cert=files.path(kind), key=files.client_key)
        # The PKCS#12 password goes in a 0600 config file, not on the command line.
        config = tmp_path / f"{files.directory.name}.curlrc"
        config.touch(mode=0o600)
        config.write_text(
            f'cert-type = "P12"\ncert = "{files.path(kind)}:{PASSWORD}"\n', encoding="utf-8"
        )
        return curl(server, cacert=cas, options=("-K", str(config)))

    for files, ok in ((nhs, True), (foreign, False)):
        got = present(tls_servers.g2_mutual, files)
        assert (got.returncode == 0 and got.status == 200) is ok, got.describe
    # curl loads the foreign identity (exit 58 otherwise) where no certificate is asked for:
    # the refusal above is the server's, not a broken file's.
    got = present(tls_servers.g2_tls, foreign)
    assert got.returncode == 0, got.describe
    assert got.status == 200, got.describe


# --- Go: crypto/tls and go-pkcs12 ----------------------------------------------------------------


@pytest.fixture(scope="session")
def go_results(
    matrix_files: MatrixFiles, tls_servers: TlsServers, openssl_nomac_p12: Path
) -> dict[tuple[str, ...], list[str]]:
    """Every Go check in one process: the request's fields to the probe's answer."""
    requests_: list[tuple[str, ...]] = []
    for side in _SIDES:
        files: StoreSet = getattr(matrix_files, side)
        requests_ += [
            ("https", server.url(), str(files.path(Kind.PEM)))
            for server in (tls_servers.g1_tls, tls_servers.g2_tls)
        ]
        requests_ += [
            (
                "https", server.url(), str(matrix_files.servers.client_cas),
                str(files.path(Kind.CLIENT_PEM)), str(files.client_key),
            )
            for server in (tls_servers.g2_mutual, tls_servers.g2_tls)
        ]  # fmt: skip
        requests_ += [
            ("chain", str(files.path(kind)), PASSWORD)
            for kind in (Kind.P12_KEY_MODERN, Kind.P12_KEY_LEGACY)
        ]
        requests_.append(("truststore", str(files.path(Kind.P12_TRUST)), PASSWORD))
        requests_.append(("truststore", str(files.path(Kind.P12_TRUST_NO_PASSWORD)), ""))
    requests_.append(("truststore", str(openssl_nomac_p12), ""))
    results = run_go_probe([list(request) for request in requests_])
    return dict(zip(requests_, results, strict=True))


@pytest.mark.parametrize(("key", "kind"), matrix.cells("go"))
def test_go(
    key: str,
    kind: Kind,
    go_results: dict[tuple[str, ...], list[str]],
    matrix_files: MatrixFiles,
    tls_servers: TlsServers,
    openssl_nomac_p12: Path,
) -> None:
    """Go's crypto/tls uses our PEM files and go-pkcs12 decodes our PKCS#12; the foreign files fail or differ."""
    pki = matrix_files.pki
    for side in _SIDES:
        files: StoreSet = getattr(matrix_files, side)
        ours = side == "nhs"
        if kind is Kind.PEM:
            for server in (tls_servers.g1_tls, tls_servers.g2_tls):
                answer = go_results["https", server.url(), str(files.path(kind))]
                assert (answer[0] == "OK") is ours, answer
        elif kind is Kind.CLIENT_PEM:
            request = (
                "https", tls_servers.g2_mutual.url(), str(matrix_files.servers.client_cas),
                str(files.path(kind)), str(files.client_key),
            )  # fmt: skip
            assert (go_results[request][0] == "OK") is ours, go_results[request]
            # Either pair loads (a server that asks for no certificate takes it): the foreign
            # one is refused by the server above, not by tls.LoadX509KeyPair.
            loads = go_results[("https", tls_servers.g2_tls.url(), *request[2:])]
            assert loads[0] == "OK", loads
        elif kind in IDENTITY_KINDS:
            answer = go_results["chain", str(files.path(kind)), PASSWORD]
            assert answer[0] == "OK", answer
            hierarchy = pki.g2 if ours else pki.foreign
            assert (
                answer[2]
                == f"leaf={hierarchy.client.certificate.fingerprint(hashes.SHA256()).hex()}"
            )
            assert set(answer[3].removeprefix("cas=").split(",")) == _trusted_cas(pki, side)
        elif kind is Kind.P12_TRUST:
            answer = go_results["truststore", str(files.path(kind)), PASSWORD]
            assert answer[0] == "OK", answer
            assert set(answer[2].removeprefix("certs=").split(",")) == _trusted_cas(pki, side)
        else:  # go-pkcs12's limit: no MAC, no DecodeTrustStore; OpenSSL's -nomac file alike.
            assert matrix.consumer(key).cells[kind] != matrix.WORKS
            for path in (files.path(kind), openssl_nomac_p12):
                answer = go_results["truststore", str(path), ""]
                assert answer[0] == "FAIL", answer
                assert "no MAC" in answer[2], answer


# --- Node.js ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def node_results(
    matrix_files: MatrixFiles, tls_servers: TlsServers
) -> dict[tuple[str, ...], list[str]]:
    """Every Node.js check in one process: the request's fields to the probe's answer."""
    cas = str(matrix_files.servers.client_cas)
    mutual = tls_servers.g2_mutual.url()
    requests_: list[tuple[str, ...]] = []
    for files in (matrix_files.nhs, matrix_files.foreign):
        requests_ += [
            ("ca", server.url(), str(files.path(Kind.PEM)))
            for server in (tls_servers.g1_tls, tls_servers.g2_tls)
        ]
        # Each identity at the mutual server, and where no certificate is asked for.
        for url in (mutual, tls_servers.g2_tls.url()):
            requests_.append(
                ("pem", url, cas, str(files.path(Kind.CLIENT_PEM)), str(files.client_key))
            )
            requests_ += [
                ("pfx", url, cas, str(files.path(kind)), PASSWORD)
                for kind in (Kind.P12_KEY_MODERN, Kind.P12_KEY_LEGACY)
            ]
    answers = run_node_probe([list(request) for request in requests_])
    return dict(zip(requests_, answers, strict=True))


@pytest.mark.parametrize(("key", "kind"), matrix.cells("node"))
def test_node(
    key: str,
    kind: Kind,
    node_results: dict[tuple[str, ...], list[str]],
    matrix_files: MatrixFiles,
    tls_servers: TlsServers,
) -> None:
    """Node.js trusts our servers by our PEM (ca) and presents our PEM or PFX client; not foreign ones."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    cas = str(matrix_files.servers.client_cas)
    mutual = tls_servers.g2_mutual.url()
    for files, ok in ((matrix_files.nhs, True), (matrix_files.foreign, False)):
        if kind is Kind.PEM:
            answers = [
                node_results["ca", server.url(), str(files.path(kind))]
                for server in (tls_servers.g1_tls, tls_servers.g2_tls)
            ]
        else:
            mode, *secrets = (
                ("pem", str(files.path(kind)), str(files.client_key))
                if kind is Kind.CLIENT_PEM
                else ("pfx", str(files.path(kind)), PASSWORD)
            )
            answers = [node_results[(mode, mutual, cas, *secrets)]]
            # Node loads either identity where no certificate is asked for: the foreign one
            # is refused by the mutual server, not by createSecureContext.
            loads = node_results[(mode, tls_servers.g2_tls.url(), cas, *secrets)]
            assert loads[0] == "OK", loads
        for answer in answers:
            assert (answer[0] == "OK") is ok, answer


# --- Mono ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def openssl_made_for_mono(matrix_files: MatrixFiles) -> dict[str, Path]:
    """OpenSSL's own AES-256 and 3DES PFX of our client, and its PKCS#7 of our CAs: the limits' controls."""
    nhs = matrix_files.nhs
    directory = nhs.directory.parent / "openssl-made"
    directory.mkdir(exist_ok=True)
    made = {name: directory / name for name in ("aes.p12", "3des.p12", "cas.p7b")}
    for name, algorithm, mac in (
        ("aes.p12", "AES-256-CBC", "sha256"),
        ("3des.p12", "PBE-SHA1-3DES", "sha1"),
    ):
        done = openssl_with_password(
            "pkcs12", "-export", "-in", nhs.path(Kind.CLIENT_PEM), "-inkey", nhs.client_key,
            "-certpbe", algorithm, "-keypbe", algorithm, "-macalg", mac, "-out", made[name],
            "-passout", f"env:{PASSWORD_VARIABLE}", password=PASSWORD,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    done = openssl_with_password(
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        nhs.path(Kind.PEM),
        "-outform",
        "DER",
        "-out",
        made["cas.p7b"],
    )
    assert done.returncode == 0, done.stderr
    return made


@pytest.fixture(scope="session")
def mono_results(
    matrix_files: MatrixFiles, tls_servers: TlsServers, openssl_made_for_mono: dict[str, Path]
) -> dict[tuple[str, ...], list[str]]:
    """Every Mono check in one process: the request's fields to the probe's answer."""
    nhs, foreign = matrix_files.nhs, matrix_files.foreign
    made = openssl_made_for_mono
    pfx = [nhs.path(Kind.P12_KEY_LEGACY), foreign.path(Kind.P12_KEY_LEGACY)]
    pfx += [nhs.path(Kind.P12_KEY_MODERN), made["aes.p12"], made["3des.p12"]]
    requests_: list[tuple[str, ...]] = [("pfx", str(path), PASSWORD) for path in pfx]
    requests_ += [("p7b", str(path)) for path in (nhs.path(Kind.PKCS7), made["cas.p7b"])]
    for server in tls_servers.all:
        address = f"{server.host}:{server.port}"
        for trust, identity in ((nhs, nhs), (foreign, nhs), (nhs, foreign)):
            requests_.append((
                "tls", address, str(trust.path(Kind.PEM)),
                str(identity.path(Kind.P12_KEY_LEGACY)), PASSWORD,
            ))  # fmt: skip
    answers = run_mono_probe([list(request) for request in requests_])
    return dict(zip(requests_, answers, strict=True))


@pytest.mark.parametrize(("key", "kind"), matrix.cells("mono"))
def test_mono(
    key: str,
    kind: Kind,
    mono_results: dict[tuple[str, ...], list[str]],
    matrix_files: MatrixFiles,
    tls_servers: TlsServers,
    openssl_made_for_mono: dict[str, Path],
) -> None:
    """Mono loads the legacy PFX and its SslStream uses it with our PEM; AES PFX and PKCS#7 fail, OpenSSL's too."""
    nhs, foreign, made = matrix_files.nhs, matrix_files.foreign, openssl_made_for_mono
    if kind is Kind.P12_KEY_LEGACY:
        for files in (nhs, foreign):
            answer = mono_results["pfx", str(files.path(kind)), PASSWORD]
            leaf = x509.load_pem_x509_certificates(files.path(Kind.CLIENT_PEM).read_bytes())[0]
            assert answer[2:] == [
                "key=True",
                f"leaf={leaf.fingerprint(hashes.SHA256()).hex()}",
                "collection=1",
            ]
        # One certificate from a PFX is Mono's way: OpenSSL's 3DES PFX of the same chain alike.
        assert mono_results["pfx", str(made["3des.p12"]), PASSWORD][2:][::2] == [
            "key=True",
            "collection=1",
        ]
    if kind in {Kind.P12_KEY_LEGACY, Kind.PEM}:
        for server in tls_servers.all:
            address = f"{server.host}:{server.port}"

            def tls(trust: StoreSet, identity: StoreSet, address: str = address) -> list[str]:
                request = (
                    "tls",
                    address,
                    str(trust.path(Kind.PEM)),
                    str(identity.path(Kind.P12_KEY_LEGACY)),
                    PASSWORD,
                )
                return mono_results[request]

            assert tls(nhs, nhs)[0] == "OK", tls(nhs, nhs)
            assert tls(foreign, nhs)[0] == "FAIL", tls(foreign, nhs)  # our server untrusted
            mutual = server is tls_servers.g2_mutual
            assert (tls(nhs, foreign)[0] == "FAIL") is mutual, tls(nhs, foreign)
        return
    assert matrix.consumer(key).cells[kind] != matrix.WORKS
    theirs = made["aes.p12"] if kind is Kind.P12_KEY_MODERN else made["cas.p7b"]
    for path in (nhs.path(kind), theirs):
        request = (
            ("pfx", str(path), PASSWORD) if kind is Kind.P12_KEY_MODERN else ("p7b", str(path))
        )
        answer = mono_results[request]
        assert answer[0] == "FAIL", answer
        assert "MonoBtlsPkcs12.Import" in answer[2], answer


# --- nginx, Apache httpd and Tomcat as servers (and nginx and Apache as proxy clients) -------


@pytest.fixture(scope="session")
def pki_clients(matrix_files: MatrixFiles) -> dict[str, tuple[Path, Path]]:
    """The G1-like, G2-like and foreign clients' chain and key, written from the PKI (not the library)."""
    directory = matrix_files.nhs.directory.parent / "pki-clients"
    directory.mkdir(mode=0o755, exist_ok=True)
    pki = matrix_files.pki
    return {
        name: getattr(pki, name).write_client(directory, name) for name in ("g1", "g2", "foreign")
    }


def _accepts(
    server: RunningServer, clients: dict[str, tuple[Path, Path]], name: str, cas: Path
) -> bool:
    """Whether ``server`` answers curl's GET with 200 when ``name``'s client certificate is presented."""
    chain, key = clients[name]
    got = curl(server, cacert=cas, cert=chain, key=key)
    return got.returncode == 0 and got.status == 200


_REFUSAL = {"g1": True, "g2": True, "foreign": False}


@pytest.fixture(scope="session")
def web_servers(
    matrix_files: MatrixFiles, tls_servers: TlsServers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, Kind, str], RunningServer]]:
    """Nginx and Apache, each configuration once per session: (consumer, kind, side) to the server."""
    directory = tmp_path_factory.mktemp("matrix-web")
    directory.chmod(0o755)
    identity = matrix_files.servers.g2
    upstream = tls_servers.g2_mutual
    servers: dict[tuple[str, Kind, str], RunningServer] = {}
    with contextlib.ExitStack() as stack:
        for side in _SIDES:
            files: StoreSet = getattr(matrix_files, side)
            nginx_tls = f"ssl_certificate {identity.chain};\nssl_certificate_key {identity.key};"
            servers["nginx", Kind.PEM, side] = stack.enter_context(
                nginx_server(
                    directory,
                    f"""{nginx_tls}
ssl_client_certificate {files.path(Kind.PEM)};
ssl_verify_client on;
ssl_verify_depth 2;""",
                )
            )
            servers["nginx", Kind.CLIENT_PEM, side] = stack.enter_context(
                nginx_server(
                    directory,
                    f"""{nginx_tls}
location / {{
    proxy_pass https://{upstream.host}:{upstream.port};
    proxy_ssl_certificate {files.path(Kind.CLIENT_PEM)};
    proxy_ssl_certificate_key {files.client_key};
    proxy_ssl_trusted_certificate {matrix_files.nhs.path(Kind.PEM)};
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 2;
    proxy_ssl_name localhost;
}}""",
                )
            )
            apache_tls = (
                f"SSLCertificateFile {identity.chain}\nSSLCertificateKeyFile {identity.key}"
            )
            for kind, directive in (
                (Kind.PEM, "SSLCACertificateFile"),
                (Kind.CAPATH, "SSLCACertificatePath"),
            ):
                servers["apache", kind, side] = stack.enter_context(
                    apache_server(
                        directory,
                        f"""{apache_tls}
{directive} {files.path(kind)}
SSLVerifyClient require
SSLVerifyDepth 2""",
                    )
                )
            # Apache pairs every certificate of SSLProxyMachineCertificateFile with a key: the
            # leaf (the first of client-chain.pem) and client-key.pem; the chain file completes it.
            machine = directory / f"{side}-proxy-client.pem"
            leaf = x509.load_pem_x509_certificates(files.path(Kind.CLIENT_PEM).read_bytes())[0]
            machine.write_bytes(
                leaf.public_bytes(serialization.Encoding.PEM) + files.client_key.read_bytes()
            )
            machine.chmod(0o600)
            modules = "\n".join(
                f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so"
                for name in ("proxy", "proxy_http")
            )
            servers["apache", Kind.CLIENT_PEM, side] = stack.enter_context(
                apache_server(
                    directory,
                    f"""{apache_tls}
SSLProxyEngine on
SSLProxyMachineCertificateFile {machine}
SSLProxyMachineCertificateChainFile {files.path(Kind.CLIENT_PEM)}
SSLProxyCACertificateFile {matrix_files.nhs.path(Kind.PEM)}
SSLProxyVerify require
SSLProxyVerifyDepth 2
ProxyPass / https://localhost:{upstream.port}/
""",
                    server_directives=modules,
                )
            )
        yield servers


@pytest.mark.parametrize(("key", "kind"), matrix.cells("nginx", "apache"))
def test_nginx_and_apache(
    key: str,
    kind: Kind,
    web_servers: dict[tuple[str, Kind, str], RunningServer],
    pki_clients: dict[str, tuple[Path, Path]],
    matrix_files: MatrixFiles,
) -> None:
    """Nginx and Apache let G1/G2 clients in by our PEM/capath, and proxy with our client files; not foreign ones."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    cas = matrix_files.servers.client_cas
    ours, foreign = web_servers[key, kind, "nhs"], web_servers[key, kind, "foreign"]
    if kind is Kind.CLIENT_PEM:
        # The proxy presents our client to the mutual-TLS upstream, which refuses the foreign one.
        for server, accepted in ((ours, True), (foreign, False)):
            got = curl(server, cacert=cas)
            assert (got.returncode == 0 and got.status == 200) is accepted, (
                got.describe + server.read_logs()
            )
        return
    for name, accepted in _REFUSAL.items():
        assert _accepts(ours, pki_clients, name, cas) is accepted, (name, ours.read_logs())
    assert not _accepts(foreign, pki_clients, "g2", cas), foreign.read_logs()


@pytest.fixture(scope="session")
def tomcat_servers(
    matrix_files: MatrixFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningServer]]:
    """Tomcat from our stores: the server's key store and a trust store of each kind, and the foreign pair."""
    directory = tmp_path_factory.mktemp("matrix-tomcat")
    server, nhs, foreign = matrix_files.server_stores, matrix_files.nhs, matrix_files.foreign
    configurations = {
        "jks": (server, Kind.JKS_KEY, nhs, Kind.JKS),
        "p12": (server, Kind.P12_KEY_MODERN, nhs, Kind.P12_TRUST),
        "p12-legacy-nopass": (server, Kind.P12_KEY_LEGACY, nhs, Kind.P12_TRUST_NO_PASSWORD),
        # The foreign client's key store and the foreign CAs: both controls at once.
        "foreign": (foreign, Kind.JKS_KEY, foreign, Kind.JKS),
    }
    with contextlib.ExitStack() as stack:
        started = {}
        for name, (keys, key_kind, trust, trust_kind) in configurations.items():
            tls = TomcatTls(
                keystore=keys.path(key_kind),
                keystore_password=PASSWORD,
                keystore_type="JKS" if key_kind is Kind.JKS_KEY else "PKCS12",
                truststore=trust.path(trust_kind),
                truststore_password=trust.password(trust_kind),
                truststore_type="JKS" if trust_kind is Kind.JKS else "PKCS12",
            )
            started[name] = stack.enter_context(tomcat_server(directory, tls))
        yield started


@pytest.mark.parametrize(("key", "kind"), matrix.cells("tomcat"))
def test_tomcat(
    key: str,
    kind: Kind,
    tomcat_servers: dict[str, RunningServer],
    pki_clients: dict[str, tuple[Path, Path]],
    matrix_files: MatrixFiles,
) -> None:
    """Tomcat serves our key store and lets G1/G2 clients in by our trust store; the foreign pair does neither."""
    assert matrix.consumer(key).cells[kind] == matrix.WORKS
    name = {
        Kind.JKS: "jks",
        Kind.JKS_KEY: "jks",
        Kind.P12_TRUST: "p12",
        Kind.P12_KEY_MODERN: "p12",
        Kind.P12_TRUST_NO_PASSWORD: "p12-legacy-nopass",
        Kind.P12_KEY_LEGACY: "p12-legacy-nopass",
    }[kind]
    cas = matrix_files.servers.client_cas
    server = tomcat_servers[name]
    for client, accepted in _REFUSAL.items():
        assert _accepts(server, pki_clients, client, cas) is accepted, (client, server.read_logs())
    foreign = tomcat_servers["foreign"]
    chain, client_key = pki_clients["g2"]
    # The foreign identity is refused by curl; the foreign trust store refuses our client.
    untrusted = curl(foreign, cacert=cas, cert=chain, key=client_key)
    assert untrusted.returncode != 0, untrusted.describe
    assert "certificate" in untrusted.stderr, untrusted.describe
    refused = curl(foreign, cacert=cas, cert=chain, key=client_key, options=("--insecure",))
    assert refused.returncode != 0, refused.describe


# --- The probes can fail: a flipped byte, a wrong password --------------------------------


def test_store_readers_refuse_a_flipped_byte_and_a_wrong_password(
    matrix_files: MatrixFiles, tls_servers: TlsServers, tmp_path: Path
) -> None:
    """Java, BouncyCastle, Go, Node.js and Mono report a failure, not OK, for a broken or wrongly unlocked store."""
    nhs = matrix_files.nhs
    key_store = nhs.path(Kind.P12_KEY_LEGACY)
    data = bytearray(key_store.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped = tmp_path / "flipped.p12"
    flipped.write_bytes(bytes(data))
    wrong = f"wrong-{PASSWORD}"
    broken = [(flipped, PASSWORD), (key_store, wrong)]

    (java17,) = (r for r in java_runtimes() if r.release == "17")
    java_requests = [LoadRequest("PKCS12", path, password) for path, password in broken]
    java_requests.append(LoadRequest("JKS", nhs.path(Kind.JKS_KEY), wrong))
    for provider in (None, "BC"):
        loaded = load_stores(
            java17, java_requests[: 3 if provider is None else 2], provider=provider
        )
        assert {fields[0] for fields in loaded.values()} == {"FAILED"}, (provider, loaded)

    go = run_go_probe([
        *(["chain", str(path), password] for path, password in broken),
        ["truststore", str(nhs.path(Kind.P12_TRUST)), wrong],
    ])  # fmt: skip
    cas = str(matrix_files.servers.client_cas)
    url = tls_servers.g2_tls.url()
    node = run_node_probe([["pfx", url, cas, str(path), password] for path, password in broken])
    mono = run_mono_probe([["pfx", str(path), password] for path, password in broken])
    for name, answers in (("Go", go), ("Node.js", node), ("Mono", mono)):
        assert {answer[0] for answer in answers} == {"FAIL"}, (name, answers)


# --- The versions ---------------------------------------------------------------------


def _bouncycastle_version() -> str:
    with zipfile.ZipFile(BCPROV) as jar:
        return jar.read("META-INF/MANIFEST.MF").decode()


def _java_version(release: str) -> str:
    (runtime,) = (r for r in java_runtimes() if r.release == release)
    return runtime.version()


_INSTALLED_VERSIONS: dict[str, Callable[[], str]] = {
    **{
        f"java{release}": functools.partial(_java_version, release)
        for release in ("11", "17", "21", "25")
    },
    "bouncycastle": _bouncycastle_version,
    "go": go_version,
    # Debian bookworm's nodejs is 18.20; a NodeSource build may be newer: 18 or later is claimed.
    "node": lambda: (
        "18+" if int(node_version().lstrip("v").split(".")[0]) >= 18 else node_version()
    ),
    "mono": mono_version,
    "requests": lambda: requests.__version__,
    "httpx": lambda: httpx.__version__,
    "python-ssl": lambda: f"{sys.version_info.major}.{sys.version_info.minor}",
    "openssl": lambda: run("openssl", "version").stdout,
    "curl": lambda: run("curl", "--version").stdout,
    "keytool": functools.partial(_java_version, "17"),
    "nginx": lambda: run("/usr/sbin/nginx", "-v").stderr,
    "apache": lambda: run("/usr/sbin/apache2", "-v").stdout,
    "tomcat": lambda: (
        run(
            "java",
            "-cp",
            "/usr/share/tomcat10/lib/catalina.jar",
            "org.apache.catalina.util.ServerInfo",
        ).stdout
    ),
}


@pytest.mark.parametrize("key", [c.key for c in matrix.CONSUMERS])
def test_consumer_version_is_the_one_documented(key: str) -> None:
    """Each consumer is installed, at the version the doc names (a missing one fails, not skips)."""
    declared = matrix.consumer(key).version.split()[0]
    assert declared in _INSTALLED_VERSIONS[key]()

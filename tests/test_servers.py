"""The real-server launchers in tests/servers.py: each serves a trusted client and refuses a foreign one."""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs
import pytest

from tests import servers
from tests.servers import (
    RunningServer,
    ServerFiles,
    ServerStartError,
    TomcatTls,
    apache_server,
    curl,
    haproxy_server,
    nginx_server,
    openssl_s_server,
    port_is_free,
    tomcat_server,
    write_server_files,
)
from truststore_builder import KeyStoreBuilder, TrustStoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.pki import GeneratedPki

pytestmark = pytest.mark.slow


@attrs.frozen
class Clients:
    """The server's files, the CA file it trusts for clients, and two clients' chain and key."""

    server: ServerFiles
    trust: Path
    g2: tuple[Path, Path]
    foreign: tuple[Path, Path]


@pytest.fixture(scope="module")
def clients(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    """The test PKI written out: a G2-like client the servers trust and a foreign one."""
    directory = tmp_path_factory.mktemp("servers")
    # The library's own PEM bundle (commented headers and all), as docs/migration.md deploys it.
    trust = directory / "truststore.pem"
    TrustStoreBuilder().add_certificates(
        [pki.g2.root.certificate, pki.g2.intermediate.certificate]
    ).build().write(trust)
    return Clients(
        server=write_server_files(pki, directory),
        trust=trust,
        g2=pki.g2.write_client(directory, "g2"),
        foreign=pki.foreign.write_client(directory, "foreign"),
    )


def _nginx_mutual_tls(clients: Clients) -> str:
    # docs/migration.md's nginx block, with the server's own certificate added.
    return f"""
        ssl_certificate        {clients.server.chain};
        ssl_certificate_key    {clients.server.key};
        ssl_verify_client      on;
        ssl_client_certificate {clients.trust};
        ssl_verify_depth       2;
    """


def test_nginx_serves_a_trusted_client_and_answers_400_to_a_foreign_one(
    clients: Clients, tmp_path: Path
) -> None:
    """With ssl_verify_client on, nginx completes a foreign client's handshake and answers HTTP 400."""
    with nginx_server(tmp_path, _nginx_mutual_tls(clients)) as server:
        trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
        anonymous = curl(server, cacert=clients.server.ca)
        log = server.read_logs()
    assert (trusted.returncode, trusted.status, trusted.body) == (0, 200, "ok\n"), trusted.describe
    # The refusal is at the HTTP layer, not a TLS alert: the endpoint check relies on this.
    assert (foreign.returncode, foreign.status) == (0, 400), foreign.describe
    assert "The SSL certificate error" in foreign.body
    assert "client SSL certificate verify error" in log
    assert (anonymous.returncode, anonymous.status) == (0, 400), anonymous.describe
    assert "No required SSL certificate was sent" in anonymous.body


def test_nginx_start_failure_raises_with_its_error_log(clients: Clients, tmp_path: Path) -> None:
    """An nginx that refuses its configuration raises ServerStartError quoting nginx's own complaint."""
    directives = _nginx_mutual_tls(clients) + "ssl_verify_client sometimes;"
    with (
        pytest.raises(ServerStartError, match=r"(?s)nginx did not start.*ssl_verify_client"),
        nginx_server(tmp_path, directives),
    ):
        pytest.fail("nginx started with an invalid ssl_verify_client")


def test_teardown_frees_the_port_when_the_test_fails(clients: Clients, tmp_path: Path) -> None:
    """The launcher stops the server's whole process group even when the block raises."""
    started: list[int] = []
    with (  # noqa: PT012 - the failing block is the point
        pytest.raises(RuntimeError, match="the test failed"),
        nginx_server(tmp_path, _nginx_mutual_tls(clients)) as server,
    ):
        started.append(server.port)
        assert not port_is_free(server.port)
        msg = "the test failed"
        raise RuntimeError(msg)
    assert started
    assert port_is_free(started[0])


def test_a_port_taken_before_the_server_binds_it_is_retried(
    clients: Clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free port another process takes first (EADDRINUSE) makes the launcher start again on a new port."""
    real_free_port = servers.free_port
    with socket.create_server((servers.HOST, 0)) as squatter:
        taken = squatter.getsockname()[1]
        offered = iter([taken])
        monkeypatch.setattr(servers, "free_port", lambda: next(offered, None) or real_free_port())
        with nginx_server(tmp_path, _nginx_mutual_tls(clients)) as server:
            trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
    assert server.port != taken
    assert trusted.status == 200, trusted.describe


def test_s_server_serves_a_trusted_client_and_alerts_a_foreign_one(
    clients: Clients, tmp_path: Path
) -> None:
    """The s_server launcher (-Verify 2 -verify_return_error) serves the G2 client and alerts a foreign one."""
    with openssl_s_server(
        tmp_path,
        cert=clients.server.cert,
        key=clients.server.key,
        cert_chain=clients.server.chain,
        ca_file=clients.trust,
        options=("-Verify", "2"),
    ) as server:
        trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
        anonymous = curl(server, cacert=clients.server.ca)
        log = server.read_logs()
    assert (trusted.returncode, trusted.status) == (0, 200), trusted.describe
    assert "client.test-g2.test" in trusted.body
    # TLS 1.3: the alert arrives after curl's handshake, on its first read (exit 56).
    assert foreign.returncode != 0, foreign.describe
    assert foreign.status == 0
    assert "alert unknown ca" in foreign.stderr, foreign.describe
    assert "unable to get local issuer certificate" in log
    assert anonymous.returncode != 0, anonymous.describe
    assert "alert certificate required" in anonymous.stderr, anonymous.describe


def test_s_server_without_verify_return_error_accepts_a_foreign_client(
    clients: Clients, tmp_path: Path
) -> None:
    """Without -verify_return_error, s_server -Verify 2 logs a foreign chain's error and serves it anyway."""
    with openssl_s_server(
        tmp_path,
        cert=clients.server.cert,
        key=clients.server.key,
        cert_chain=clients.server.chain,
        ca_file=clients.trust,
        options=("-Verify", "2"),
        verify_return_error=False,
    ) as server:
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
    assert (foreign.returncode, foreign.status) == (0, 200), foreign.describe
    assert "Verify return code: 20 (unable to get local issuer certificate)" in foreign.body


def test_s_server_start_failure_raises_with_its_output(clients: Clients, tmp_path: Path) -> None:
    """An s_server given a key that does not exist raises ServerStartError with s_server's complaint."""
    with (
        pytest.raises(ServerStartError, match=r"(?s)s_server did not start.*missing-key\.pem"),
        openssl_s_server(tmp_path, cert=clients.server.cert, key=tmp_path / "missing-key.pem"),
    ):
        pytest.fail("s_server started without its key")


def _apache_mutual_tls(clients: Clients, verify: str) -> str:
    # docs/migration.md's Apache block, with the server's own certificate added.
    return f"""
        SSLCertificateFile    {clients.server.chain}
        SSLCertificateKeyFile {clients.server.key}
        SSLCACertificateFile  {clients.trust}
        SSLVerifyDepth        2
        {verify}
    """


_APACHE_PER_LOCATION = "<Location />\n    SSLVerifyClient require\n</Location>"


def test_apache_server_level_require_alerts_a_foreign_client(
    clients: Clients, tmp_path: Path
) -> None:
    """Apache with SSLVerifyClient require in the virtual host serves the G2 client and ends a foreign one's TLS."""
    directives = _apache_mutual_tls(clients, "SSLVerifyClient require")
    with apache_server(tmp_path, directives) as server:
        trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
        anonymous = curl(server, cacert=clients.server.ca)
        log = server.read_logs()
    assert (trusted.returncode, trusted.status, trusted.body) == (0, 200, "ok\n"), trusted.describe
    assert (foreign.returncode, foreign.status) == (56, 0), foreign.describe
    assert "alert unknown ca" in foreign.stderr
    assert "AH02276: Certificate Verification: Error (20)" in log
    assert (anonymous.returncode, anonymous.status) == (56, 0), anonymous.describe
    assert "alert certificate required" in anonymous.stderr


def test_apache_per_location_require_uses_post_handshake_auth_on_tls13(
    clients: Clients, tmp_path: Path
) -> None:
    """SSLVerifyClient require in a <Location> asks TLS 1.3 clients after the request (post-handshake auth)."""
    directives = _apache_mutual_tls(clients, _APACHE_PER_LOCATION)
    with apache_server(tmp_path, directives) as server:
        trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
        without_pha = _https_get_status(server, clients, post_handshake_auth=False)
        with_pha = _https_get_status(server, clients, post_handshake_auth=True)
        log = server.read_logs()
    assert (trusted.returncode, trusted.status) == (0, 200), trusted.describe
    assert '"GET / HTTP/1.1" 200 3 TLSv1.3' in log
    # The client sees an alert, though Apache's access log records a 403 for the request.
    assert (foreign.returncode, foreign.status) == (56, 0), foreign.describe
    assert "alert unknown ca" in foreign.stderr
    assert "AH02262: Re-negotiation handshake failed: Client verification failed" in log
    # A trusted client that does not offer post-handshake auth gets an HTTP 403, no alert.
    assert (without_pha, with_pha) == (403, 200)
    assert "AH10158: cannot perform post-handshake authentication" in log


def test_apache_per_location_require_renegotiates_on_tls12(
    clients: Clients, tmp_path: Path
) -> None:
    """SSLVerifyClient require in a <Location> renegotiates TLS 1.2 after the request, alerting a foreign client."""
    directives = _apache_mutual_tls(clients, _APACHE_PER_LOCATION)
    tls12 = ("--tls-max", "1.2")
    with apache_server(tmp_path, directives) as server:
        trusted = curl(
            server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1], options=tls12
        )
        foreign = curl(
            server,
            cacert=clients.server.ca,
            cert=clients.foreign[0],
            key=clients.foreign[1],
            options=tls12,
        )
        log = server.read_logs()
    assert (trusted.returncode, trusted.status) == (0, 200), trusted.describe
    assert '"GET / HTTP/1.1" 200 3 TLSv1.2' in log
    assert "AH02221: Requesting connection re-negotiation" in log
    assert (foreign.returncode, foreign.status) == (56, 0), foreign.describe
    assert "alert unknown ca" in foreign.stderr
    assert "AH02261: Re-negotiation handshake failed" in log


def test_apache_start_failures_raise_with_apache_own_words(
    pki: GeneratedPki, clients: Clients, tmp_path: Path
) -> None:
    """Apache's refusals (a bad directive on stderr, a key that does not match in error.log) reach ServerStartError."""
    bad_directive = _apache_mutual_tls(clients, "SSLVerifyClient sometimes")
    with (
        pytest.raises(
            ServerStartError, match=r"(?s)apache2 did not start.*Invalid argument 'sometimes'"
        ),
        apache_server(tmp_path, bad_directive),
    ):
        pytest.fail("apache2 started with SSLVerifyClient sometimes")
    wrong_key = tmp_path / "wrong-key.pem"
    wrong_key.write_bytes(pki.foreign.client.key_pem())
    wrong_key.chmod(0o600)
    mismatched = _apache_mutual_tls(clients, "SSLVerifyClient require").replace(
        str(clients.server.key), str(wrong_key)
    )
    with (
        pytest.raises(ServerStartError, match=r"(?s)--- error\.log ---.*AH02565"),
        apache_server(tmp_path, mismatched),
    ):
        pytest.fail("apache2 started with a key that does not match its certificate")


def _https_get_status(server: RunningServer, clients: Clients, *, post_handshake_auth: bool) -> int:
    """GET / over Python's ssl as the G2 client, offering post-handshake auth or not; the HTTP status."""
    context = ssl.create_default_context(cafile=clients.server.ca)
    context.load_cert_chain(*clients.g2)
    context.post_handshake_auth = post_handshake_auth
    with (
        socket.create_connection(server.address, timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server.server_name) as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        status_line = tls.recv(64).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


TOMCAT_PASSWORD = "Tomcat-store-7719"


@attrs.frozen
class TomcatStores:
    """The library's key store (the localhost server) and trust store (G2-like CAs), per type."""

    keystore: dict[str, Path]
    truststore: dict[str, Path]


@pytest.fixture(scope="module")
def tomcat_stores(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> TomcatStores:
    """The server's key store and the client trust store, written by the library as PKCS12 and JKS."""
    directory = tmp_path_factory.mktemp("tomcat-stores")
    g2_cas = [pki.g2.root.certificate, pki.g2.intermediate.certificate]
    keystore = (
        KeyStoreBuilder()
        .add_trusted_certificates(g2_cas)
        .with_identity(pki.server.certificate, pki.server.key)
        .build()
    )
    truststore = TrustStoreBuilder().add_certificates(g2_cas).build()
    stores = TomcatStores(
        keystore={
            "PKCS12": directory / "server.p12",
            "JKS": directory / "server.jks",
        },
        truststore={
            "PKCS12": directory / "truststore.p12",
            "JKS": directory / "truststore.jks",
        },
    )
    stores.keystore["PKCS12"].write_bytes(keystore.to_pkcs12(TOMCAT_PASSWORD))
    stores.keystore["JKS"].write_bytes(keystore.to_jks(TOMCAT_PASSWORD))
    stores.truststore["PKCS12"].write_bytes(truststore.to_pkcs12(TOMCAT_PASSWORD))
    stores.truststore["JKS"].write_bytes(truststore.to_jks(TOMCAT_PASSWORD))
    return stores


def _tomcat_tls(
    stores: TomcatStores, store_type: Literal["PKCS12", "JKS"], verification: str
) -> TomcatTls:
    return TomcatTls(
        keystore=stores.keystore[store_type],
        keystore_password=TOMCAT_PASSWORD,
        keystore_type=store_type,
        truststore=stores.truststore[store_type],
        truststore_password=TOMCAT_PASSWORD,
        truststore_type=store_type,
        certificate_verification=verification,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def tomcat_required(
    tomcat_stores: TomcatStores, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One Tomcat (PKCS12 stores, certificateVerification="required") for the module's checks."""
    tls = _tomcat_tls(tomcat_stores, "PKCS12", "required")
    with tomcat_server(tmp_path_factory.mktemp("tomcat"), tls) as server:
        yield server


def test_tomcat_required_serves_a_trusted_client_and_alerts_a_foreign_one(
    clients: Clients, tomcat_required: RunningServer
) -> None:
    """Tomcat 10 (JSSE) requiring client certificates serves the G2 client and alerts a foreign or absent one."""
    server = tomcat_required
    trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
    foreign = curl(
        server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
    )
    anonymous = curl(server, cacert=clients.server.ca)
    assert (trusted.returncode, trusted.status, trusted.body) == (0, 200, "ok\n"), trusted.describe
    # JSSE's alerts differ from OpenSSL's: certificate_unknown for a foreign client; for none,
    # bad_certificate up to JDK 17.0.20 and TLS 1.3's own certificate_required from 17.0.21.
    assert (foreign.returncode, foreign.status) == (56, 0), foreign.describe
    assert "alert certificate unknown" in foreign.stderr
    assert (anonymous.returncode, anonymous.status) == (56, 0), anonymous.describe
    assert re.search(r"alert (bad certificate|certificate required)", anonymous.stderr), (
        anonymous.describe
    )
    assert TOMCAT_PASSWORD not in server.read_logs() + repr(server)


def test_tomcat_optional_with_jks_stores_serves_anonymous_but_refuses_foreign(
    clients: Clients, tomcat_stores: TomcatStores, tmp_path: Path
) -> None:
    """Tomcat with JKS stores and certificateVerification="optional" serves no certificate and G2, not a foreign one."""
    with tomcat_server(tmp_path, _tomcat_tls(tomcat_stores, "JKS", "optional")) as server:
        trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
        anonymous = curl(server, cacert=clients.server.ca)
    assert (trusted.returncode, trusted.status) == (0, 200), trusted.describe
    assert (anonymous.returncode, anonymous.status) == (0, 200), anonymous.describe
    assert (foreign.returncode, foreign.status) == (56, 0), foreign.describe
    assert "alert certificate unknown" in foreign.stderr


def test_tomcat_start_failure_shows_its_log_without_the_password(
    tomcat_stores: TomcatStores, tmp_path: Path
) -> None:
    """A misspelt password attribute, which Tomcat logs with its value, fails start-up with the value blanked out."""
    tls = _tomcat_tls(tomcat_stores, "PKCS12", "required")
    connector = tls.connector_xml().replace(
        "certificateKeystorePassword=", "certificateKeystorePasword="
    )
    with (
        pytest.raises(ServerStartError) as failure,
        tomcat_server(tmp_path, connector, secrets=[TOMCAT_PASSWORD]),
    ):
        pytest.fail("Tomcat started without its key store password")
    message = str(failure.value)
    assert "tomcat did not start" in message
    assert "certificateKeystorePasword" in message
    assert TOMCAT_PASSWORD not in message
    assert TOMCAT_PASSWORD not in repr(tls)


def test_haproxy_verify_required_alerts_a_foreign_client(clients: Clients, tmp_path: Path) -> None:
    """HAProxy with verify required serves the G2 client and ends a foreign or absent one's TLS with an alert."""
    bind = f"ssl crt {clients.server.chain_and_key} ca-file {clients.trust} verify required"
    with haproxy_server(tmp_path, bind) as server:
        trusted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        foreign = curl(
            server, cacert=clients.server.ca, cert=clients.foreign[0], key=clients.foreign[1]
        )
        anonymous = curl(server, cacert=clients.server.ca)
        log = server.read_logs()
    assert (trusted.returncode, trusted.status, trusted.body) == (0, 200, "ok\n"), trusted.describe
    assert (foreign.returncode, foreign.status) == (56, 0), foreign.describe
    assert "alert unknown ca" in foreign.stderr
    assert "SSL client CA chain cannot be verified" in log
    assert (anonymous.returncode, anonymous.status) == (56, 0), anonymous.describe
    assert "alert certificate required" in anonymous.stderr


def test_haproxy_start_failure_raises_with_its_output(clients: Clients, tmp_path: Path) -> None:
    """An HAProxy given a bind keyword it does not know raises ServerStartError with its complaint."""
    bind = f"ssl crt {clients.server.chain_and_key} verify sometimes"
    with (
        pytest.raises(
            ServerStartError, match=r"(?s)haproxy did not start.*unknown verify method 'sometimes'"
        ),
        haproxy_server(tmp_path, bind),
    ):
        pytest.fail("haproxy started with verify sometimes")


def test_nginx_default_verify_depth_accepts_a_leaf_intermediate_root_chain(
    clients: Clients, tmp_path: Path
) -> None:
    """The default nginx ssl_verify_depth (1) accepts leaf, intermediate, root; depth 0 is what refuses it."""
    base = _nginx_mutual_tls(clients).replace("ssl_verify_depth       2;", "")
    assert "ssl_verify_depth" not in base
    statuses = {}
    for depth in ("", "ssl_verify_depth 0;"):
        with nginx_server(tmp_path, base + depth) as server:
            answer = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
            statuses[depth] = answer.status
            log = server.read_logs()
    assert statuses == {"": 200, "ssl_verify_depth 0;": 400}
    assert "client SSL certificate verify error: (2:unable to get issuer certificate)" in log


def test_apache_default_verify_depth_refuses_a_leaf_intermediate_root_chain(
    clients: Clients, tmp_path: Path
) -> None:
    """Apache's default SSLVerifyDepth (1) refuses leaf, intermediate, root (an internal_error alert); 2 accepts it."""
    base = _apache_mutual_tls(clients, "SSLVerifyClient require")
    shallow = base.replace("SSLVerifyDepth        2", "")
    assert "SSLVerifyDepth" not in shallow
    with apache_server(tmp_path, shallow) as server:
        refused = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
        log = server.read_logs()
    with apache_server(tmp_path, base) as server:
        accepted = curl(server, cacert=clients.server.ca, cert=clients.g2[0], key=clients.g2[1])
    assert (refused.returncode, refused.status) == (56, 0), refused.describe
    assert "alert internal error" in refused.stderr
    assert "Certificate Chain too long" in log
    assert accepted.status == 200, accepted.describe

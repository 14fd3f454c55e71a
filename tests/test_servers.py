"""The real-server launchers in tests/servers.py: each serves a trusted client and refuses a foreign one."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest

from tests import servers
from tests.servers import (
    ServerFiles,
    ServerStartError,
    curl,
    nginx_server,
    openssl_s_server,
    port_is_free,
    write_server_files,
)

if TYPE_CHECKING:
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
    trust = directory / "client-trust.pem"
    trust.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
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
